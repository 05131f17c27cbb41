"""A battery-powered Hoymiles (DC-coupled battery) and its BMS bridge and charge controller on MQTT.

The inverter takes OpenDTU's ``cmd/limit_nonpersistent_*`` and ``cmd/power`` (through ``OpenDtuEmulator``),
follows a limit after its dead time at its ramp, clamped to the Hoymiles protocol floor (2 %), and soft-starts
slowly after being switched on. Its DC side is the ``BatteryModel`` plus optional DC solar from a charge
controller: what the inverter does not take of the solar charges the battery (nothing once full: the charge
controller curtails), what it takes beyond comes from the battery (nothing once the BMS cut off: the output is
then the solar's). The BMS bridge publishes like dreadnought/python-daly-bms ``bin/daly-bms-cli --soc --mqtt``
(retained JSON ``{"total_voltage", "current", "soc_percent"}`` on ``daly_bms``); the charge controller its output
power as a plain number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque

from zeropower.shared.mqtt import MqttBus
from zeropower.sim.battery import BatteryModel
from zeropower.sim.inverter import EFFICIENCY, MIN_LIMIT_SHARE
from zeropower.sim.settings import BatteryInverterSettings


class DcBatteryInverter:
    """A Hoymiles on a battery: a limit and on/off after the dead time, ramped output, the battery's charge moved."""

    def __init__(self, settings: BatteryInverterSettings, battery: BatteryModel) -> None:
        self.settings = settings
        self.battery = battery
        self.limit_w = min(max(settings.persistent_limit_w, settings.max_w * MIN_LIMIT_SHARE), settings.max_w)
        self.on = True
        self.output_w = 0.0
        self.link_ok = True
        self.solar_w = settings.solar_w or 0.0
        self.solar_used_w = 0.0  # what the charge controller delivers (curtailed when nothing takes it)
        self.yield_total_wh = 0.0
        self._starting = False  # soft start since the last switch-on, until the output reached its target
        self._pending: deque[tuple[float, str, float]] = deque()  # (time it takes effect, "limit"/"power", value)

    @property
    def serial(self) -> str:
        """The inverter's serial number."""
        return self.settings.serial

    @property
    def reachable(self) -> bool:
        """Whether the DTU can talk to it (its DC side is the battery: powered day and night)."""
        return self.link_ok

    @property
    def producing(self) -> bool:
        """Whether it feeds power into the grid."""
        return self.output_w > 0

    @property
    def voltage_v(self) -> float:
        """The battery's voltage in V (linear in the state of charge)."""
        s = self.settings
        return s.empty_voltage_v + (s.full_voltage_v - s.empty_voltage_v) * self.battery.soc_pct / 100.0

    @property
    def dc_power_w(self) -> float:
        """DC input power in W."""
        return self.output_w / EFFICIENCY

    def command_limit(self, limit_w: float, now_s: float) -> float | None:
        """A limit in W, clamped to [2 %, nameplate], followed after the dead time; None when unreachable (lost)."""
        if not self.reachable:
            return None
        clamped = min(max(limit_w, self.settings.max_w * MIN_LIMIT_SHARE), self.settings.max_w)
        self._pending.append((now_s + self.settings.dead_time_s, "limit", clamped))
        return clamped

    def command_power(self, on: bool, now_s: float) -> bool:
        """Switch on or off after the dead time; False when unreachable (lost)."""
        if not self.reachable:
            return False
        self._pending.append((now_s + self.settings.dead_time_s, "power", 1.0 if on else 0.0))
        return True

    def step(self, now_s: float, dt_s: float) -> None:
        """Advance to ``now_s`` by ``dt_s``: commands in force, output ramped, the battery's charge moved."""
        while self._pending and self._pending[0][0] <= now_s:
            _, kind, value = self._pending.popleft()
            if kind == "limit":
                self.limit_w = value
            elif (value > 0) != self.on:
                self.on = value > 0
                self._starting = self.on
        battery = self.battery
        dc_available_w = self.solar_w + (2 * self.settings.max_w if battery.can_discharge else 0.0)
        target_w = min(self.limit_w, dc_available_w * EFFICIENCY, self.settings.max_w) if self.on else 0.0
        up_w = (self.settings.start_ramp_w_per_s if self._starting else self.settings.ramp_w_per_s) * dt_s
        down_w = self.settings.ramp_w_per_s * dt_s if self.on else self.output_w  # off: at once
        self.output_w = max(0.0, self.output_w + min(max(target_w - self.output_w, -down_w), up_w))
        if self._starting and self.output_w >= target_w:
            self._starting = False
        into_battery_w = self.solar_w - self.dc_power_w
        if into_battery_w > 0 and not battery.can_charge:
            into_battery_w = 0.0  # full: the charge controller curtails
        if into_battery_w < 0 and not battery.can_discharge:
            into_battery_w = 0.0
        self.solar_used_w = into_battery_w + self.dc_power_w
        battery.flow(into_battery_w, dt_s)
        self.yield_total_wh += self.output_w * dt_s / 3600.0


class BmsPublisher:
    """The battery's BMS bridge (and the charge controller, when there is DC solar) publishing every interval."""

    def __init__(self, inverter: DcBatteryInverter, bus: MqttBus) -> None:
        self._inverter = inverter
        self._bus = bus
        self.publishing = True  # off: the bridge fell silent (a fault to test against)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish every ``bms_interval_s`` until ``stop`` is set (the bus is run by its owner)."""
        while not stop.is_set():
            await self.publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._inverter.settings.bms_interval_s)

    async def publish(self) -> None:
        """One round: the BMS's JSON, retained as daly-bms-cli does, and the charge controller's power."""
        if not self.publishing:
            return
        inverter = self._inverter
        settings = inverter.settings
        voltage_v = inverter.voltage_v
        state = {
            "total_voltage": round(voltage_v, 1),
            "current": round(inverter.battery.power_w / voltage_v, 1),  # + = charging here; zeropower reads no current
            "soc_percent": round(inverter.battery.soc_pct, 1),
        }
        await self._bus.publish(settings.bms_topic, json.dumps(state), retain=True)
        if settings.solar_w is not None:
            await self._bus.publish(settings.charger_topic, f"{inverter.solar_used_w:.1f}")
