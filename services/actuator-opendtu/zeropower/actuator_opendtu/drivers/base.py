"""What every DTU driver provides, and the telemetry values it hands back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


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
        """Read one telemetry message; None for topics it does not use, ValueError for a garbage value."""
        ...

    def limit_command(self, device_id: str, limit_w: float) -> LimitCommand:
        """The message that sets the inverter's non-persistent limit to ``limit_w`` W (absolute)."""
        ...


def parse_number(text: str) -> float:
    """A finite number from a DTU payload such as ``305.2``; ValueError otherwise."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text[:40]!r}")
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
    if value < 0:
        raise ValueError(f"not a Unix time: {text[:40]!r}")
    return value if value >= 1_000_000_000 else None
