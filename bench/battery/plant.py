"""The plants: the bench's inverter plant (bench.controller.plant) plus the simulator's BatteryModel.

Two ways to connect a battery, as the products do:

- ``AcPlant`` (zeropower): the HM-800 on its panels as in bench.controller, and an AC-coupled battery beside
  it (a Zendure SolarFlow-like device: a power setpoint at its AC terminals, + charge, - discharge). A write
  is followed after the model's dead time at its ramp; the 4 s write pacing is the actuator's (zenSDK
  integration), not the device's. The battery reports SoC, power and the setpoint in force at every read.
- ``DcPlant`` (OpenDTU-OnBattery's own topology): the panels feed a solar charge controller (MPPT) on the
  battery's DC bus, and the HM-800 is fed from that bus ("battery-powered inverter"). Nobody commands the
  battery: it takes what the panels give and the inverter does not draw. Powers are counted AC-equivalent
  (the scenario's PV is already AC after the inverter's efficiency), the charger gives at most the HM-800's
  nameplate (so both plants have the same sun), and the cells lose the same round trip as the AC battery's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.controller.plant import PRESETS, SINGLE, Plant, Preset, Telemetry
from zeropower.sim.battery import BatteryModel
from zeropower.sim.inverter import InverterModel
from zeropower.sim.settings import BatterySettings

BATTERY_ID = "battery"
INVERTER_ID = SINGLE.inverters[0].device_id
NAMEPLATE_W = SINGLE.inverters[0].nameplate_w
METER_NOISE_W = 5.0
#: actuator-battery reads each battery this often (its poll_interval_s default), s.
BATTERY_POLL_S = 2


@dataclass(frozen=True)
class BatterySpec:
    """A typical balcony battery (Zendure SolarFlow 800 Pro / Marstek Venus class: 2 kWh, 800 W out, 1200 W in)."""

    capacity_wh: float = 2000.0
    max_charge_w: float = 1200.0
    max_discharge_w: float = 800.0
    reserve_pct: float = 10.0
    start_soc_pct: float = 10.0
    round_trip_efficiency: float = 0.9
    dead_time_s: float = 1.0
    ramp_w_per_s: float = 400.0
    #: Its BMS stops discharging here (below the reserve every controller keeps).
    empty_pct: float = 5.0

    def settings(self, *, instant: bool = False) -> BatterySettings:
        """The simulator's model settings; ``instant``: no dead time, no ramp limit (a power flow, not a command)."""
        return BatterySettings(
            capacity_wh=self.capacity_wh,
            soc_pct=self.start_soc_pct,
            max_charge_w=self.max_charge_w,
            max_discharge_w=self.max_discharge_w,
            round_trip_efficiency=self.round_trip_efficiency,
            dead_time_s=0.0 if instant else self.dead_time_s,
            ramp_w_per_s=1e6 if instant else self.ramp_w_per_s,
            empty_pct=self.empty_pct,
        )


BALCONY = BatterySpec()


@dataclass(frozen=True)
class BatteryReading:
    """What a battery (AC: its own API; DC: the BMS and the charge controller) reports.

    ``power_w`` at its terminals (+ charge, - discharge); ``setpoint_w`` the setpoint in force (AC only);
    ``solar_w`` what the charge controller delivers to the bus (DC only).
    """

    soc_pct: float
    power_w: float
    setpoint_w: float | None = None
    solar_w: float | None = None


class AcPlant:
    """bench.controller's single-HM-800 plant (radio, dynamics, telemetry) plus an AC-coupled battery."""

    def __init__(self, preset: Preset, battery: BatterySpec, *, seed: int, start_s: int) -> None:
        self.inverters = Plant(preset, heater=False, seed=seed, start_s=start_s)
        self.battery = BatteryModel(battery.settings())
        self._noise = random.Random(seed + 7)
        self.grid_w = 0.0
        self.pv_used_w = 0.0

    def settle(self, pv_avail_w: float) -> None:
        """Start as if it had been running."""
        self.inverters.settle(pv_avail_w)

    def step(self, now_s: float, load_w: float, pv_avail_w: float) -> None:
        """Advance one second."""
        self.inverters.step(now_s, load_w, pv_avail_w)
        self.battery.step(now_s, 1.0)
        self.pv_used_w = self.inverters.output_w
        self.grid_w = self.inverters.grid_w + self.battery.power_w

    @property
    def output_w(self) -> float:
        """The PV inverter's output."""
        return self.inverters.output_w

    def meter_w(self) -> float:
        """A meter reading with ±5 W gaussian noise."""
        return self.grid_w + self._noise.gauss(0.0, METER_NOISE_W)

    def command(self, device_id: str, setpoint_w: float, now_s: float) -> None:
        """A battery write (followed after its dead time) or an inverter limit (through the radio)."""
        if device_id == BATTERY_ID:
            self.battery.command(setpoint_w, now_s)
        else:
            self.inverters.command(device_id, setpoint_w, now_s)

    def telemetry(self) -> list[Telemetry]:
        """The inverter's state as OpenDTU publishes it."""
        return self.inverters.telemetry()

    def reading(self) -> BatteryReading:
        """The battery's own report."""
        return BatteryReading(self.battery.soc_pct, round(self.battery.power_w), self.battery.setpoint_w)


class DcPlant:
    """OpenDTU-OnBattery's topology: panels on an MPPT charging the battery, the HM-800 fed from the battery bus.

    The inverter is bench.controller's (radio, dead time, ramp, 2 % floor), stepped with the bus power it may
    draw: the sun plus, while the BMS allows a discharge, the battery's discharge limit. A power-off command
    (standby) takes effect after the inverter's dead time, as a limit does; a limit command powers it on again.
    """

    def __init__(self, preset: Preset, battery: BatterySpec, *, seed: int, start_s: int) -> None:
        self.preset = preset
        self.inverters = Plant(preset, heater=False, seed=seed, start_s=start_s)
        self.spec = battery
        self.battery = BatteryModel(battery.settings(instant=True))
        self._noise = random.Random(seed + 7)
        self.grid_w = 0.0
        self.pv_used_w = 0.0
        self.solar_w = 0.0
        self.standby = False
        self._standby_at: tuple[float, bool] | None = None  # (when, standby) of the last power command

    @property
    def inverter(self) -> InverterModel:
        """The battery-powered HM-800."""
        return self.inverters.inverters[INVERTER_ID]

    @property
    def output_w(self) -> float:
        """The inverter's output."""
        return self.inverters.output_w

    def settle(self, pv_avail_w: float) -> None:
        """Start in standby with the limit at the floor (the battery at its reserve, nothing to give)."""
        self.standby = True
        self.inverter.output_w = 0.0

    def step(self, now_s: float, load_w: float, pv_avail_w: float) -> None:
        """Advance one second: the inverter draws from the bus, the battery takes or gives the difference."""
        if self._standby_at is not None and self._standby_at[0] <= now_s:
            self.standby = self._standby_at[1]
            self._standby_at = None
        sun_w = min(pv_avail_w, NAMEPLATE_W)
        can_discharge = self.battery.soc_pct > self.spec.empty_pct
        bus_w = sun_w + (self.spec.max_discharge_w if can_discharge else 0.0)
        self.inverters.step(now_s, load_w, bus_w)
        if self.standby:
            self.inverter.output_w = 0.0
        output = self.inverters.output_w
        flow = sun_w - output  # + into the battery
        full = self.battery.soc_pct >= 100.0
        if flow > 0 and full:  # the charger curtails: it gives only what the inverter draws
            flow = 0.0
        self.battery.command(flow, now_s)
        self.battery.step(now_s, 1.0)
        self.pv_used_w = output + max(self.battery.power_w, 0.0) if flow >= 0 else sun_w
        self.solar_w = self.pv_used_w
        self.grid_w = load_w - output

    def meter_w(self) -> float:
        """A meter reading with ±5 W gaussian noise."""
        return self.grid_w + self._noise.gauss(0.0, METER_NOISE_W)

    def command(self, device_id: str, setpoint_w: float, now_s: float) -> None:
        """0: power off (standby); otherwise a limit (through the radio) and power on."""
        dead_time = self.preset.dead_time_s
        if setpoint_w <= 0:
            self._standby_at = (now_s + dead_time, True)
            return
        self.inverters.command(device_id, setpoint_w, now_s)
        if self.standby or (self._standby_at is not None and self._standby_at[1]):
            self._standby_at = (now_s + dead_time, False)

    def telemetry(self) -> list[Telemetry]:
        """The inverter's state as OpenDTU publishes it."""
        return self.inverters.telemetry()

    def reading(self) -> BatteryReading:
        """The BMS's SoC and the charge controller's output."""
        return BatteryReading(self.battery.soc_pct, round(self.battery.power_w), solar_w=round(self.solar_w))


__all__ = ["BALCONY", "PRESETS", "AcPlant", "BatteryReading", "BatterySpec", "DcPlant"]
