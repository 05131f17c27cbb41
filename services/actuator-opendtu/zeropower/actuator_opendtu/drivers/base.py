"""What every DTU driver provides, and the telemetry values it hands back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.dtu_values import MAX_LIMIT_W, parse_number
from zeropower.shared.messages import MAX_ENERGY_WH


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


def check_max_limits(inverters: Sequence[InverterSettings]) -> None:
    """ValueError naming the first inverter whose ``max_w`` is above what a DTU can send (MAX_LIMIT_W)."""
    for position, inverter in enumerate(inverters):
        if inverter.max_w > MAX_LIMIT_W:
            raise ValueError(
                f"inverters[{position}].max_w ({inverter.max_w:g} W) is above {MAX_LIMIT_W:g} W, "
                "the highest limit a DTU can send to a Hoymiles inverter"
            )
