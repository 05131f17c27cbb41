"""The simulated household: load, PV, inverters and the grid connection, stepped with dt (no I/O, no clock)."""

from __future__ import annotations

import random

from zeropower.sim.battery import BatteryModel
from zeropower.sim.dcbattery import DcBatteryInverter
from zeropower.sim.heater import HeaterModel
from zeropower.sim.inverter import InverterModel
from zeropower.sim.profiles import PHASES, LoadModel, PhaseValues, PvModel, split_over_phases
from zeropower.sim.radio import Radio, Transfer
from zeropower.sim.settings import SimSettings


class Plant:
    """Household load, an optional heater and battery, PV feeding Hoymiles inverters; the grid takes the difference.

    Limit commands go through the DTU's one radio (``Radio``): the inverter takes a limit when the radio
    sends it (its dead time runs from then) and the DTU reads it back (``readback_w``) when acknowledged.

    Time is seconds since the start (``now_s``), advanced only by ``step``. Sign convention of the grid:
    positive = import, negative = export. Energy counters integrate the grid power per phase (as a
    Shelly Pro 3EM does) and in total (as a bidirectional utility meter does).
    """

    def __init__(self, settings: SimSettings) -> None:
        rng = random.Random(settings.seed)
        self._load = LoadModel(settings.load, rng)
        self._pv = PvModel(settings.pv, rng)
        self.inverters = {inverter.serial: InverterModel(inverter) for inverter in settings.inverters}
        self.radio = Radio(settings.opendtu.command_s)
        self.readback_w = {inverter.serial: inverter.max_w for inverter in settings.inverters}
        self._taken: dict[Transfer, float | None] = {}  # the clamped limit an inverter took from a transfer
        self.heater = HeaterModel(settings.heater) if settings.heater is not None else None
        self.battery = BatteryModel(settings.battery) if settings.battery is not None else None
        #: The battery's own inverter when it is DC-coupled (battery.protocol opendtu): it moves the battery's charge.
        self.battery_inverter = (
            DcBatteryInverter(settings.battery_inverter, self.battery)
            if self.battery is not None and settings.battery is not None and settings.battery.protocol == "opendtu"
            else None
        )
        self._total_max_w = sum(inverter.max_w for inverter in settings.inverters)
        self._load_override_w: float | None = None
        self._pv_override_w: float | None = None
        self.now_s = 0.0
        self.phase_load_w: PhaseValues = self._load.step(0.0, 0.0)
        self.pv_available_w = self._pv.available_w(0.0)
        self.imported_wh = 0.0
        self.exported_wh = 0.0
        self.phase_imported_wh = [0.0, 0.0, 0.0]
        self.phase_exported_wh = [0.0, 0.0, 0.0]
        for inverter in self.inverters.values():
            inverter.settle(self.pv_share_w(inverter.serial))

    def set_load_w(self, load_w: float | None) -> None:
        """Force the household load to ``load_w`` (spread over the phases like the base load); None = profile."""
        self._load_override_w = load_w
        if load_w is not None:
            self.phase_load_w = split_over_phases(load_w)

    def set_pv_w(self, pv_w: float | None) -> None:
        """Force the PV power available to all inverters together to ``pv_w``; None = profile."""
        self._pv_override_w = pv_w
        if pv_w is not None:
            self.pv_available_w = pv_w

    def command_limit(self, serial: str, limit_w: float) -> None:
        """Queue a limit for one inverter at the DTU (lost if the inverter is unreachable when it is sent)."""
        self.radio.send(serial, limit_w, self.now_s)
        self._serve()

    def _serve(self) -> None:
        """The radio's sends and acknowledgements up to now."""
        done, started = self.radio.poll(self.now_s)
        for transfer in started:
            self._taken[transfer] = self.inverters[transfer.device_id].command_limit(transfer.limit_w, transfer.start_s)
        for transfer in done:
            taken_w = self._taken.pop(transfer)
            if taken_w is not None:
                self.readback_w[transfer.device_id] = taken_w

    def step(self, dt_s: float) -> None:
        """Advance the plant by ``dt_s`` seconds."""
        self.now_s += dt_s
        profile_load = self._load.step(self.now_s, dt_s)
        forced_load = self._load_override_w
        self.phase_load_w = profile_load if forced_load is None else split_over_phases(forced_load)
        forced_pv = self._pv_override_w
        self.pv_available_w = self._pv.available_w(self.now_s) if forced_pv is None else forced_pv
        for inverter in self.inverters.values():
            inverter.step(self.now_s, dt_s, self.pv_share_w(inverter.serial))
        if self.battery_inverter is not None:
            self.battery_inverter.step(self.now_s, dt_s)
        elif self.battery is not None:
            self.battery.step(self.now_s, dt_s)
        self._serve()
        for serial, inverter in self.inverters.items():
            if not inverter.powered:  # restarts at 100 %; a command on the air is lost
                self.readback_w[serial] = inverter.settings.max_w
                if self.radio.current is not None and self.radio.current.device_id == serial:
                    self._taken[self.radio.current] = None
        for index, power_w in enumerate(self.phase_grid_w):
            self.phase_imported_wh[index] += max(power_w, 0.0) * dt_s / 3600.0
            self.phase_exported_wh[index] += max(-power_w, 0.0) * dt_s / 3600.0
        grid_w = self.grid_w
        self.imported_wh += max(grid_w, 0.0) * dt_s / 3600.0
        self.exported_wh += max(-grid_w, 0.0) * dt_s / 3600.0

    def pv_share_w(self, serial: str) -> float:
        """The PV power available to one inverter in W (the total split by nameplate power)."""
        return self.pv_available_w * self.inverters[serial].settings.max_w / self._total_max_w

    @property
    def load_w(self) -> float:
        """Household load in W (without the heater)."""
        return sum(self.phase_load_w)

    @property
    def heater_w(self) -> float:
        """The heater's draw in W (0 without a heater)."""
        return self.heater.power_w if self.heater is not None else 0.0

    @property
    def battery_w(self) -> float:
        """The battery's power in W at its AC terminals, + = charging, - = discharging (0 without one).

        A DC-coupled one's is its inverter's output, negative.
        """
        if self.battery_inverter is not None:
            return -self.battery_inverter.output_w
        return self.battery.power_w if self.battery is not None else 0.0

    @property
    def output_w(self) -> float:
        """AC output of all inverters in W."""
        return sum(inverter.output_w for inverter in self.inverters.values())

    @property
    def limit_w(self) -> float:
        """Sum of the limits in force in W."""
        return sum(inverter.limit_w for inverter in self.inverters.values())

    @property
    def phase_grid_w(self) -> PhaseValues:
        """Grid power of each phase in W (positive = import)."""
        grid = list(self.phase_load_w)
        if self.heater is not None:
            grid[PHASES.index(self.heater.settings.phase)] += self.heater.power_w
        if self.battery_inverter is not None:
            grid[PHASES.index(self.battery_inverter.settings.phase)] += self.battery_w
        elif self.battery is not None:
            grid[PHASES.index(self.battery.settings.phase)] += self.battery.power_w
        for inverter in self.inverters.values():
            grid[PHASES.index(inverter.settings.phase)] -= inverter.output_w
        a, b, c = grid
        return a, b, c

    @property
    def grid_w(self) -> float:
        """Grid power in W, all phases together (positive = import)."""
        return self.load_w + self.heater_w + self.battery_w - self.output_w
