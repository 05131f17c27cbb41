"""What every DTU driver provides, and the telemetry values it hands back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.messages import MAX_ENERGY_WH, MAX_POWER_W, MAX_TIMESTAMP


@dataclass(frozen=True)
class TelemetryUpdate:
    """The values one DTU message carries for one inverter; None means "not in this message"."""

    device_id: str
    reachable: bool | None = None
    producing: bool | None = None
    power_w: float | None = None
    dc_power_w: float | None = None
    dc_channel_w: tuple[int, float] | None = None
    limit_w: float | None = None
    limit_percent: float | None = None
    updated_at: float | None = None
    energy_wh: float | None = None


@dataclass(frozen=True)
class LimitCommand:
    """One MQTT message that sets an inverter's non-persistent limit; always published unretained."""

    topic: str
    payload: str


class DtuDriver(Protocol):
    """A DTU's MQTT layout: what to subscribe to, how to read its telemetry, how to set a limit."""

    def subscriptions(self) -> list[str]:
        """Topic filters covering the telemetry of every configured inverter."""
        ...

    def parse(self, topic: str, payload: str) -> TelemetryUpdate | None:
        """Read one telemetry message; None for topics it does not use, ValueError for a garbage value.

        Only a fixed set of topics per inverter can raise, so a per-topic log of garbage stays bounded.
        """
        ...

    def limit_command(self, device_id: str, limit_w: float) -> LimitCommand:
        """The message that sets the inverter's non-persistent limit to ``limit_w`` W (absolute)."""
        ...


#: A DTU number as both firmwares print it (OpenDTU ``String(value, digits)``, AhoyDTU ``%g`` and ``%d``): an
#: optional minus, ASCII digits, an optional fraction. No exponent, ``_``, ``nan``, ``inf`` or hex, which
#: Python's float() would accept; at most 12 digits before the point, so 1 MB of digits is rejected at once.
_DECIMAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,9})?")

#: Both firmwares send a limit to the inverter as tenths of a W in 16 bits (OpenDTU
#: ``ActivePowerControlCommand::setActivePowerLimit``, AhoyDTU ``RestApi::setCtrl``): 6553.5 W at most.
MAX_LIMIT_W = 6553.5


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


def parse_energy_kwh(text: str) -> float | None:
    """A lifetime yield in kWh as Wh, up to MAX_ENERGY_WH; None for ``0``; ValueError otherwise.

    A DTU reports 0 until it has the inverter's counter (after its own restart, at night): taken as a value,
    that drop to 0 and back would count the inverter's whole lifetime again in Home Assistant's statistics.
    """
    value = parse_number(text)
    if not 0 <= value * 1000 <= MAX_ENERGY_WH:
        raise ValueError(f"not an energy between 0 and {MAX_ENERGY_WH / 1000:.0f} kWh: {text[:40]!r}")
    return round(value * 1000, 3) if value > 0 else None


def yield_total(device_id: str, text: str) -> TelemetryUpdate | None:
    """An inverter's lifetime yield in kWh (both DTUs publish it so); None for ``0`` (see parse_energy_kwh)."""
    energy_wh = parse_energy_kwh(text)
    return None if energy_wh is None else TelemetryUpdate(device_id, energy_wh=energy_wh)


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


def check_max_limits(inverters: Sequence[InverterSettings]) -> None:
    """ValueError naming the first inverter whose ``max_w`` is above what a DTU can send (MAX_LIMIT_W)."""
    for position, inverter in enumerate(inverters):
        if inverter.max_w > MAX_LIMIT_W:
            raise ValueError(
                f"inverters[{position}].max_w ({inverter.max_w:g} W) is above {MAX_LIMIT_W:g} W, "
                "the highest limit a DTU can send to a Hoymiles inverter"
            )
