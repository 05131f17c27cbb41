"""zeropower with a battery: the real controller, actuator-opendtu's CommandPolicy and actuator-battery's policy.

As bench/controller/product.py for the inverter (the same settings, announcements and command mirror), and
the battery as actuator-battery serves it: announced as ``kind: storage`` with the service's DeviceInfo (its
pacing, capacity, reserve and response time), read every 2 s (its state with SoC published to the
controller), its setpoints passed to the real ``BatteryPolicy``; the power it decides is written as
``BatteryLoop._apply`` does: not when it moved by less than ``min_change_w`` (10 W), at most one write per
4 s (the Zendure driver's ``min_write_interval_s``). The async service loop itself is not run: its write
rule is restated here in a few lines (simplification: decisions at whole seconds).
"""

from __future__ import annotations

import math

from bench.battery.plant import BATTERY_ID, BatteryReading, BatterySpec
from bench.controller.plant import Telemetry
from bench.controller.product import OPENDTU, actuator_settings, announced, controller_settings
from bench.controller.protocol import Setup
from zeropower.actuator_battery.drivers import ZendureConfig
from zeropower.actuator_battery.drivers.base import BatteryReading as DriverReading
from zeropower.actuator_battery.policy import BatteryPolicy
from zeropower.actuator_battery.settings import ActuatorBatterySettings, BatteryConfig
from zeropower.actuator_opendtu.policy import CommandPolicy
from zeropower.controller.logic import Decision, ZeroExportController
from zeropower.controller.service import REGULATING_MODES
from zeropower.shared.messages import DeviceInfo, DeviceState, GridReading, Pacing, StorageInfo

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
    battery = settings.batteries[0]
    return DeviceInfo(
        device_id=battery.device_id,
        name=battery.name,
        kind="storage",
        min_w=-battery.max_discharge_w,
        max_w=battery.max_charge_w,
        enabled=battery.enabled,
        priority=battery.priority,
        pacing=Pacing(
            min_change_w=settings.min_change_w,
            raise_interval_s=WRITE_INTERVAL_S,
            reduce_interval_s=WRITE_INTERVAL_S,
            refresh_interval_s=86400.0,
        ),
        storage=StorageInfo(
            capacity_wh=battery.capacity_wh,
            min_soc_pct=battery.reserve_soc_pct,
            max_soc_pct=battery.max_soc_pct,
            response_time_s=battery.response_time_s,
        ),
    )


class ZeropowerBattery:
    """ZeroExportController + CommandPolicy (inverter) + BatteryPolicy (battery), as the services run them."""

    def __init__(
        self, setup: Setup, spec: BatterySpec, *, with_battery: bool = True, target_w: float | None = None
    ) -> None:
        self._now = 0.0
        settings = controller_settings(setup)
        if target_w is not None:  # a variant: another grid target than the product's 20 W
            settings = settings.model_copy(update={"target_w": target_w})
        self._logic = ZeroExportController(settings, self._clock)
        self.target_w = self._logic.settings.target_w
        inverters = actuator_settings(setup)
        self._inverters = CommandPolicy(inverters, self._clock)
        self._debounce_s = inverters.telemetry_debounce_s
        self._logic.set_actuator(OPENDTU, announced(inverters))
        self._states: dict[str, DeviceState] = {}
        self._battery: BatteryPolicy | None = None
        self._battery_settings = battery_settings(spec)
        if with_battery:
            self._battery = BatteryPolicy(self._battery_settings.batteries[0], self._battery_settings, self._clock)
            self._logic.set_actuator(BATTERY_ACTUATOR, [battery_info(self._battery_settings)])
        self._written_w: float | None = None
        self._written_at = -math.inf
        self.battery_writes = 0

    def _clock(self) -> float:
        return self._now

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """The inverter's state as actuator-opendtu publishes it."""
        self._now = now_s
        for state in states:
            published = DeviceState(
                timestamp=now_s,
                actuator_id=OPENDTU,
                device_id=state.device_id,
                reachable=state.reachable,
                producing=state.power_w > 0,
                power_w=state.power_w,
                limit_w=state.limit_w,
                updated_at=now_s,
                commands_left=self._inverters.commands_left(state.device_id),
            )
            self._states[state.device_id] = published
            self._logic.on_device_state(published)

    def on_battery(self, now_s: float, reading: BatteryReading) -> None:
        """A read of the battery: to its policy, and its state (with SoC) to the controller."""
        self._now = now_s
        if self._battery is None:
            return
        self._battery.on_reading(DriverReading(now_s, reading.soc_pct, reading.power_w, reading.setpoint_w))
        soc = self._battery.soc_pct()
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
                updated_at=now_s,
                last_command_w=self._written_w,
                last_command_at=None if self._written_w is None else self._written_at,
            )
        )

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        """A meter reading: the controller's decision through both actuators; returns what they send now."""
        self._now = now_s
        self._publish(self._logic.on_grid(GridReading(timestamp=now_s, power_w=grid_w)))
        tick = self._logic.tick()
        if tick.state.mode not in REGULATING_MODES:
            self._publish(tick)
        sent = {command.device_id: command.limit_w for command in self._inverters.next_commands()}
        self._republish(now_s, sent)
        write = self._battery_write(now_s)
        if write is not None:
            sent[BATTERY_ID] = write
        return sent

    def _battery_write(self, now_s: float) -> float | None:
        """actuator-battery's write rule (BatteryLoop._apply): the policy's power, min change, 4 s pacing."""
        if self._battery is None:
            return None
        target = self._battery.decide().target_w
        if target is None or not self._battery.reachable:
            return None
        target = float(round(target))
        written = self._written_w
        if written is not None:
            change = abs(target - written)
            min_change = self._battery_settings.min_change_w
            if change == 0 or (change < min_change and target != 0 and (written > 0) == (target > 0)):
                return None
        if now_s < self._written_at + WRITE_INTERVAL_S:
            return None
        self._written_w, self._written_at = target, now_s
        self.battery_writes += 1
        return target

    def _republish(self, now_s: float, sent: dict[str, float]) -> None:
        """The inverter's state after a command, published again after the actuator's debounce."""
        self._now = now_s + self._debounce_s
        for device_id, limit_w in sent.items():
            known = self._states.get(device_id)
            if known is None:
                continue
            self._states[device_id] = known.model_copy(
                update={
                    "timestamp": self._now,
                    "last_command_w": limit_w,
                    "last_command_at": now_s,
                    "commands_left": self._inverters.commands_left(device_id),
                }
            )
            self._logic.on_device_state(self._states[device_id])
        self._now = now_s

    def _publish(self, decision: Decision) -> None:
        if OPENDTU in decision.setpoints:
            self._inverters.on_setpoints(decision.setpoints[OPENDTU], dry_run=decision.dry_run)
        if self._battery is not None and BATTERY_ID in decision.setpoints.get(BATTERY_ACTUATOR, {}):
            self._battery.on_setpoint(decision.setpoints[BATTERY_ACTUATOR][BATTERY_ID], dry_run=decision.dry_run)
