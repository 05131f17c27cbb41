"""zeropower with a battery: the real controller, actuator-opendtu's CommandPolicy and actuator-battery's policy.

As bench/controller/product.py for the inverter (the same settings, announcements and command mirror), and
the battery as actuator-battery serves it: announced as ``kind: storage`` with the service's DeviceInfo (its
pacing, capacity, reserve and response time), read every 2 s (its state with SoC published to the
controller), its setpoints passed to the real ``BatteryPolicy`` and written by the service's own rule
(``write_due_at``: not when it moved by less than ``min_change_w`` (10 W), at most one write per 4 s, the
Zendure driver's ``min_write_interval_s``). The async service loop itself is not run (decisions at whole
seconds).
"""

from __future__ import annotations

import math

from bench.battery.plant import BATTERY_ID, BatteryReading, BatterySpec
from bench.controller.product import Zeropower
from bench.controller.protocol import Setup
from zeropower.actuator_battery.drivers import ZendureConfig
from zeropower.actuator_battery.drivers.base import BatteryReading as DriverReading
from zeropower.actuator_battery.policy import BatteryPolicy, write_due_at
from zeropower.actuator_battery.settings import ActuatorBatterySettings, BatteryConfig, device_info
from zeropower.controller.logic import Decision
from zeropower.shared.messages import DeviceInfo, DeviceState, Pacing

BATTERY_ACTUATOR = "battery"
#: The Zendure driver's default pacing (zenSDK integration), s.
WRITE_INTERVAL_S = 4.0


def battery_settings(spec: BatterySpec) -> ActuatorBatterySettings:
    """actuator-battery's settings for the bench's battery (a Zendure; the address is never used)."""
    config = BatteryConfig(
        device_id=BATTERY_ID,
        name="balcony battery",
        driver=ZendureConfig(
            type="zendure", url="http://192.0.2.60", serial="BENCH1", min_write_interval_s=WRITE_INTERVAL_S
        ),
        capacity_wh=spec.capacity_wh,
        max_charge_w=spec.max_charge_w,
        max_discharge_w=spec.max_discharge_w,
        reserve_soc_pct=spec.reserve_pct,
    )
    return ActuatorBatterySettings(actuator_id=BATTERY_ACTUATOR, batteries=[config])


def battery_info(settings: ActuatorBatterySettings) -> DeviceInfo:
    """The battery as the service announces it (a Zendure holds a write for ever: refresh at most daily)."""
    pacing = Pacing(
        min_change_w=settings.min_change_w,
        raise_interval_s=WRITE_INTERVAL_S,
        reduce_interval_s=WRITE_INTERVAL_S,
        refresh_interval_s=86400.0,
    )
    return device_info(settings.batteries[0], pacing)


class ZeropowerBattery(Zeropower):
    """ZeroExportController + CommandPolicy (inverter) + BatteryPolicy (battery), as the services run them."""

    def __init__(
        self, setup: Setup, spec: BatterySpec, *, with_battery: bool = True, target_w: float | None = None
    ) -> None:
        super().__init__(setup)
        if target_w is not None:  # a variant: another grid target than the product's 20 W
            self._logic.settings = self._logic.settings.model_copy(update={"target_w": target_w})
            self.target_w = target_w
        self._battery: BatteryPolicy | None = None
        self._battery_settings = battery_settings(spec)
        if with_battery:
            self._battery = BatteryPolicy(self._battery_settings.batteries[0], self._battery_settings, self._clock)
            self._logic.set_actuator(BATTERY_ACTUATOR, [battery_info(self._battery_settings)])
        self._written_w: float | None = None
        self._written_at = -math.inf
        self.battery_writes = 0

    def on_battery(self, now_s: float, reading: BatteryReading) -> None:
        """A read of the battery: to its policy, and its state (with SoC) to the controller."""
        self._now = now_s
        if self._battery is None:
            return
        self._battery.on_reading(DriverReading(now_s, reading.soc_pct, reading.power_w, reading.setpoint_w))
        soc = self._battery.soc_pct()
        charge_limit_w, discharge_limit_w = self._battery.limits()
        self._logic.on_device_state(
            DeviceState(
                timestamp=now_s,
                actuator_id=BATTERY_ACTUATOR,
                device_id=BATTERY_ID,
                reachable=True,
                producing=reading.power_w < 0,
                power_w=reading.power_w,
                limit_w=reading.setpoint_w,
                soc_pct=None if soc is None else round(soc, 1),
                charge_limit_w=charge_limit_w,
                discharge_limit_w=discharge_limit_w,
                updated_at=now_s,
                last_command_w=self._written_w,
                last_command_at=None if self._written_w is None else self._written_at,
            )
        )

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        """A meter reading: the controller's decision through both actuators; returns what they send now."""
        sent = super().on_meter(now_s, grid_w)
        write = self._battery_write(now_s)
        if write is not None:
            sent[BATTERY_ID] = write
        return sent

    def _battery_write(self, now_s: float) -> float | None:
        """actuator-battery's write rule (``write_due_at``): the policy's power, min change, 4 s pacing."""
        if self._battery is None:
            return None
        target = self._battery.decide().target_w
        if target is None or not self._battery.reachable:
            return None
        target = float(round(target))
        due_at = write_due_at(
            target,
            self._written_w,
            self._written_at,
            min_change_w=self._battery_settings.min_change_w,
            min_interval_s=WRITE_INTERVAL_S,
            refresh_interval_s=math.inf,  # a Zendure holds a write
        )
        if now_s < due_at:
            return None
        self._written_w, self._written_at = target, now_s
        self.battery_writes += 1
        return target

    def _publish(self, decision: Decision) -> dict[str, float]:
        commands = super()._publish(decision)
        wanted = decision.setpoints.get(BATTERY_ACTUATOR, {})
        if self._battery is not None and BATTERY_ID in wanted:
            self._battery.on_setpoint(wanted[BATTERY_ID], dry_run=decision.dry_run)
        return commands
