"""The plant: one Hoymiles inverter (the simulator's InverterModel), a household load, an optional heater, a meter.

Numbers from /work/shared/reference/opendtu.md ("Inverter dynamics"): output follows a new limit after
~3 s (HM-600) to ~10 s, an HM-1500 after ~18 s and settled after ~25 s; limit floor 2 % of nameplate;
OpenDTU publishes inverter data every 5 s; Shelly/SML meters give a reading every ~1 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from zeropower.sim.inverter import EFFICIENCY, InverterModel
from zeropower.sim.settings import InverterSettings

INVERTER_ID = "114182912345"
HEATER_ID = "heater"
NAMEPLATE_W = 800.0
HEATER_RATED_W = 2000.0
TELEMETRY_EVERY_S = 5
METER_NOISE_W = 5.0
#: A limit command is acknowledged (and read back by the DTU) after ~2 s; the output follows after the dead time.
ACK_S = 2.0


@dataclass(frozen=True)
class Preset:
    """How quickly the inverter follows a new limit."""

    name: str
    dead_time_s: float
    ramp_w_per_s: float


PRESETS = {
    preset.name: preset
    for preset in (
        Preset("fast", 3.0, 400.0),  # HM-600: follows after ~3 s
        Preset("typical", 8.0, 100.0),  # "~10 s typically"; 100 W/s as the simulator's default
        Preset("slow", 18.0, 100.0),  # HM-1500: reacts after ~18 s, settled after ~25 s
    )
}


@dataclass(frozen=True)
class Telemetry:
    """What OpenDTU publishes about the inverter (every 5 s), or the heater's state."""

    device_id: str
    reachable: bool
    power_w: float
    limit_w: float


class Plant:
    """Steps the physics at 1 s; ``grid_w`` is positive for import."""

    def __init__(self, preset: Preset, *, heater: bool, seed: int, instant: bool = False) -> None:
        settings = InverterSettings(
            serial=INVERTER_ID,
            name="roof",
            max_w=NAMEPLATE_W,
            dead_time_s=preset.dead_time_s,
            ramp_w_per_s=preset.ramp_w_per_s,
        )
        self.inverter = InverterModel(settings)
        self.instant = instant  # a perfect actuator: limits in force and followed at once (the oracle)
        self.acked_limit_w = NAMEPLATE_W
        self._acks: list[tuple[float, float]] = []
        self.has_heater = heater
        self.heater_w = 0.0
        self._heater_setpoint_w = 0.0
        self._noise = random.Random(seed)
        self.grid_w = 0.0

    def settle(self, pv_avail_w: float) -> None:
        """Start as if it had been running: producing what the sun allows."""
        self.inverter.settle(pv_avail_w / EFFICIENCY)

    def step(self, now_s: float, load_w: float, pv_avail_w: float) -> None:
        """Advance one second; ``pv_avail_w`` is the AC power the sun allows (before the nameplate)."""
        self.inverter.step(now_s, 1.0, pv_avail_w / EFFICIENCY)
        if self.instant:
            self.inverter.output_w = (
                min(self.inverter.limit_w, pv_avail_w, NAMEPLATE_W) if self.inverter.powered else 0.0
            )
        while self._acks and self._acks[0][0] <= now_s:
            self.acked_limit_w = self._acks.pop(0)[1]
        if not self.inverter.powered:
            self.acked_limit_w, self._acks = NAMEPLATE_W, []  # restarts with its limit at 100 %
        self.heater_w = self._heater_setpoint_w  # a heater follows its setpoint within ~1 s
        self.grid_w = load_w + self.heater_w - self.inverter.output_w

    def meter_w(self) -> float:
        """A meter reading: grid power with ±5 W gaussian noise."""
        return self.grid_w + self._noise.gauss(0.0, METER_NOISE_W)

    def command(self, device_id: str, setpoint_w: float, now_s: float) -> None:
        """Send a limit to the inverter (followed after the dead time) or a power to the heater."""
        if device_id == HEATER_ID:
            self._heater_setpoint_w = min(max(setpoint_w, 0.0), HEATER_RATED_W)
        elif self.instant:
            self.inverter.limit_w = min(max(setpoint_w, self.inverter.min_limit_w), NAMEPLATE_W)
            self.acked_limit_w = self.inverter.limit_w
        else:
            clamped = self.inverter.command_limit(setpoint_w, now_s)
            if clamped is not None:
                self._acks.append((now_s + min(ACK_S, self.inverter.settings.dead_time_s), clamped))

    def telemetry(self) -> list[Telemetry]:
        """The devices' state as the DTU (and the heater's actuator) report it."""
        inverter = Telemetry(INVERTER_ID, self.inverter.reachable, round(self.inverter.output_w, 1), self.acked_limit_w)
        states = [inverter]
        if self.has_heater:
            states.append(Telemetry(HEATER_ID, True, self.heater_w, self._heater_setpoint_w))
        return states
