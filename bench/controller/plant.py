"""The plant: Hoymiles inverters (the simulator's InverterModel) behind one OpenDTU radio, a household load, an
optional heater, a meter.

Numbers from /work/shared/reference/opendtu.md ("Inverter dynamics"): output follows a new limit after
~3 s (HM-600) to ~10 s, an HM-1500 after ~18 s and settled after ~25 s; limit floor 2 % of nameplate;
OpenDTU publishes inverter data every 5 s and serves limit commands on one radio, one inverter after
another, ~2 s each until acknowledged; Shelly/SML meters give a reading every ~1 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.controller.layouts import LAYOUTS, InverterSpec, Layout
from zeropower.sim.inverter import EFFICIENCY, InverterModel
from zeropower.sim.radio import Radio, Transfer
from zeropower.sim.settings import InverterSettings

HEATER_ID = "heater"
HEATER_RATED_W = 2000.0
TELEMETRY_EVERY_S = 5
METER_NOISE_W = 5.0
#: A limit command holds the radio ~2 s until acknowledged (and read back by the DTU).
ACK_S = 2.0
#: The presets' ramps are an HM-800's; other inverters move the same share of their nameplate per second.
RAMP_NAMEPLATE_W = 800.0
SINGLE = LAYOUTS["single"]


@dataclass(frozen=True)
class Preset:
    """How quickly the inverters follow a new limit (dead time from when the radio sends it)."""

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
    """What OpenDTU publishes about an inverter (every 5 s), or the heater's state."""

    device_id: str
    reachable: bool
    power_w: float
    limit_w: float


def inverter_model(spec: InverterSpec, preset: Preset) -> InverterModel:
    """One of the plant's inverters: the preset's dead time, its ramp scaled to the nameplate."""
    return InverterModel(
        InverterSettings(
            serial=spec.device_id,
            name=spec.name,
            max_w=spec.nameplate_w,
            dead_time_s=preset.dead_time_s,
            ramp_w_per_s=preset.ramp_w_per_s * spec.nameplate_w / RAMP_NAMEPLATE_W,
        )
    )


class Plant:
    """Steps the physics at 1 s; ``grid_w`` is positive for import.

    A limit command goes on the radio's queue; when the radio sends it the inverter takes it (its dead time
    runs from then) and the DTU reads it back ``ACK_S`` later, when the radio is free for the next one.
    """

    def __init__(
        self,
        preset: Preset,
        *,
        heater: bool,
        seed: int,
        layout: Layout = SINGLE,
        start_s: int = 0,
        instant: bool = False,
    ) -> None:
        self.layout = layout
        self.start_s = start_s
        self.inverters = {spec.device_id: inverter_model(spec, preset) for spec in layout.inverters}
        self.instant = instant  # a perfect actuator: limits in force and followed at once (the oracle)
        self.radio = Radio(ACK_S)
        self.acked_limit_w = {device_id: inverter.settings.max_w for device_id, inverter in self.inverters.items()}
        self._taken: dict[Transfer, float | None] = {}  # the clamped limit each inverter took from a transfer
        self.has_heater = heater
        self.heater_w = 0.0
        self._heater_setpoint_w = 0.0
        self._noise = random.Random(seed)
        self.grid_w = 0.0

    @property
    def output_w(self) -> float:
        """All inverters' output."""
        return sum(inverter.output_w for inverter in self.inverters.values())

    @property
    def limit_w(self) -> float:
        """The limits in force, summed."""
        return sum(inverter.limit_w for inverter in self.inverters.values())

    def _pv_w(self, pv_avail_w: float, now_s: float) -> dict[str, float]:
        time_of_day_s = (self.start_s + now_s) % 86400
        return {spec.device_id: spec.pv_w(pv_avail_w, time_of_day_s) for spec in self.layout.inverters}

    def settle(self, pv_avail_w: float) -> None:
        """Start as if it had been running: producing what the sun allows."""
        for device_id, pv_w in self._pv_w(pv_avail_w, 0).items():
            self.inverters[device_id].settle(pv_w / EFFICIENCY)

    def step(self, now_s: float, load_w: float, pv_avail_w: float) -> None:
        """Advance one second; ``pv_avail_w`` is the AC power 1.0 kWp of panels allow (before any nameplate)."""
        for device_id, pv_w in self._pv_w(pv_avail_w, now_s).items():
            inverter = self.inverters[device_id]
            inverter.step(now_s, 1.0, pv_w / EFFICIENCY)
            if self.instant:
                inverter.output_w = min(inverter.limit_w, pv_w, inverter.settings.max_w) if inverter.powered else 0.0
        self._serve(now_s)
        for device_id, inverter in self.inverters.items():
            if not inverter.powered:  # restarts with its limit at 100 %; a command on the air is lost
                self.acked_limit_w[device_id] = inverter.settings.max_w
                if self.radio.current is not None and self.radio.current.device_id == device_id:
                    self._taken[self.radio.current] = None
        self.heater_w = self._heater_setpoint_w  # a heater follows its setpoint within ~1 s
        self.grid_w = load_w + self.heater_w - self.output_w

    def _serve(self, now_s: float) -> None:
        """The radio's sends and acknowledgements up to ``now_s``."""
        done, started = self.radio.poll(now_s)
        for transfer in started:  # the inverter takes it (None: unreachable, lost)
            self._taken[transfer] = self.inverters[transfer.device_id].command_limit(transfer.limit_w, transfer.start_s)
        for transfer in done:
            taken_w = self._taken.pop(transfer)
            if taken_w is not None:
                self.acked_limit_w[transfer.device_id] = taken_w

    def meter_w(self) -> float:
        """A meter reading: grid power with ±5 W gaussian noise."""
        return self.grid_w + self._noise.gauss(0.0, METER_NOISE_W)

    def command(self, device_id: str, setpoint_w: float, now_s: float) -> None:
        """Send a limit to an inverter (through the radio's queue) or a power to the heater."""
        if device_id == HEATER_ID:
            self._heater_setpoint_w = min(max(setpoint_w, 0.0), HEATER_RATED_W)
        elif self.instant:
            inverter = self.inverters[device_id]
            inverter.limit_w = min(max(setpoint_w, inverter.min_limit_w), inverter.settings.max_w)
            self.acked_limit_w[device_id] = inverter.limit_w
        else:
            self.radio.send(device_id, setpoint_w, now_s)
            self._serve(now_s)

    def telemetry(self) -> list[Telemetry]:
        """The devices' state as the DTU (and the heater's actuator) report it."""
        states = [
            Telemetry(device_id, inverter.reachable, round(inverter.output_w, 1), self.acked_limit_w[device_id])
            for device_id, inverter in self.inverters.items()
        ]
        if self.has_heater:
            states.append(Telemetry(HEATER_ID, True, self.heater_w, self._heater_setpoint_w))
        return states
