"""What OpenDTU and AhoyDTU say over MQTT: numbers as plain decimals read strictly, their limits, OpenDTU's prefix.

Shared by actuator-opendtu (inverters) and actuator-battery (a battery-powered inverter behind OpenDTU).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from zeropower.shared.messages import MAX_POWER_W, MAX_TIMESTAMP

#: Both firmwares send a limit to the inverter as tenths of a W in 16 bits (OpenDTU
#: ``ActivePowerControlCommand::setActivePowerLimit``, AhoyDTU ``RestApi::setCtrl``): 6553.5 W at most.
MAX_LIMIT_W = 6553.5

#: OpenDTU's MQTT base topic as a setting: no wildcards, a trailing slash dropped.
OpenDtuPrefix = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"^[^#+]+$",
        description="OpenDTU's MQTT base topic (its Settings -> MQTT page), a trailing slash is ignored.",
    ),
    AfterValidator(lambda prefix: prefix.rstrip("/") or prefix),
]

#: A DTU number as both firmwares print it (OpenDTU ``String(value, digits)``, AhoyDTU ``%g`` and ``%d``): an
#: optional minus, ASCII digits, an optional fraction. No exponent, ``_``, ``nan``, ``inf`` or hex, which
#: Python's float() would accept; at most 12 digits before the point, so 1 MB of digits is rejected at once.
_DECIMAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,9})?")


def parse_number(text: str) -> float:
    """A plain decimal number such as ``305.2`` or ``-0``; ValueError otherwise."""
    word = text.strip()
    if _DECIMAL.fullmatch(word) is None:
        raise ValueError(f"not a number: {text[:40]!r}")
    return float(word)


def parse_power(text: str) -> float:
    """A power in W within ±MAX_POWER_W; ValueError otherwise."""
    value = parse_number(text)
    if abs(value) > MAX_POWER_W:
        raise ValueError(f"not a power within ±{MAX_POWER_W:.0f} W: {text[:40]!r}")
    return value


def parse_limit(text: str) -> float:
    """A limit in W between 0 and MAX_POWER_W; ValueError otherwise."""
    value = parse_number(text)
    if not 0 <= value <= MAX_POWER_W:
        raise ValueError(f"not a limit between 0 and {MAX_POWER_W:.0f} W: {text[:40]!r}")
    return value


def parse_percent(text: str) -> float:
    """A percentage between 0 and 100; ValueError otherwise."""
    value = parse_number(text)
    if not 0 <= value <= 100:
        raise ValueError(f"not a percentage between 0 and 100: {text[:40]!r}")
    return value


def parse_flag(text: str) -> bool:
    """A ``0``/``1`` flag; ValueError otherwise."""
    word = text.strip()
    if word not in {"0", "1"}:
        raise ValueError(f"expected 0 or 1, got {text[:40]!r}")
    return word == "1"


def parse_unix_time(text: str) -> float | None:
    """A Unix time in s; None for ``0`` or a time before 2001 (a DTU without a synchronised clock)."""
    value = parse_number(text)
    if not 0 <= value <= MAX_TIMESTAMP:
        raise ValueError(f"not a Unix time: {text[:40]!r}")
    return value if value >= 1_000_000_000 else None
