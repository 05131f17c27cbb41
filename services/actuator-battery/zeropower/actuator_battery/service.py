"""The battery actuator service: setpoints in, a charge/discharge power out; SoC and power reported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from zeropower.actuator_battery.drivers import BatteryDriver, BatteryError, BatteryReading, describe_driver, open_driver
from zeropower.actuator_battery.drivers.base import MAX_VOLTAGE_V
from zeropower.actuator_battery.policy import BatteryPolicy, Clock, write_due_at
from zeropower.actuator_battery.settings import (
    ActuatorBatteryServiceSettings,
    ActuatorBatterySettings,
    BatteryConfig,
    device_info,
)
from zeropower.shared.actuator import ActuatorStateReporter, live_setpoints
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    MAX_POWER_W,
    ActuatorAnnouncement,
    ActuatorMode,
    DeviceState,
    Pacing,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.actuator_battery")

SERVICE_NAME = "actuator_battery"
DRIVER = "battery"
#: A setpoint read back from the device that differs from the last write by more than this (after the write
#: had time to show, two polls) means the device lost it (a reboot restores its flash values): written again.
READBACK_TOLERANCE_W = 2.0
#: On stop the final 0 W waits for the driver's pacing interval at most this long, in s: a service stops
#: within ~2 s (docs/architecture.md), and the zenSDK documents no pacing at all.
STOP_PACING_S = 1.0
#: A device with a watchdog (Marstek's Passive countdown) gets the power it holds re-sent this many times per
#: countdown (never faster than the driver's pacing): a lost datagram and its retry still land before it runs out.
KEEPALIVES_PER_COUNTDOWN = 3
#: The modes of several batteries, worst first: the actuator reports the worst one.
MODE_ORDER: tuple[ActuatorMode, ...] = ("fail-safe", "waiting", "dry-run", "following")


def reading_problem(reading: BatteryReading) -> str | None:
    """What makes a driver's reading unusable; None if fine.

    Not finite, SoC beyond 0-100 %, a power beyond ±1 MW, a voltage beyond 0-1000 V.
    """
    if not math.isfinite(reading.measured_at):
        return f"reading time {reading.measured_at!r} is not a number"
    if reading.soc_pct is not None and not 0 <= reading.soc_pct <= 100:  # NaN fails this too
        return f"state of charge {reading.soc_pct!r} is not within 0-100 %"
    for name, value in (("power", reading.power_w), ("setpoint", reading.setpoint_w), ("solar", reading.solar_w)):
        if value is not None and not -MAX_POWER_W <= value <= MAX_POWER_W:
            return f"{name} {value!r} W is not within ±{MAX_POWER_W:g} W"
    if reading.voltage_v is not None and not 0 <= reading.voltage_v <= MAX_VOLTAGE_V:
        return f"voltage {reading.voltage_v!r} V is not within 0-{MAX_VOLTAGE_V:g} V"
    return None


class BatteryLoop:
    """One battery: reads it every poll, asks its policy, writes the power (paced), publishes its state."""

    def __init__(
        self,
        battery: BatteryConfig,
        settings: ActuatorBatterySettings,
        driver: BatteryDriver,
        bus: MqttBus,
        topics: Topics,
        *,
        clock: Clock,
    ) -> None:
        self.battery = battery
        self._settings = settings
        self._driver = driver
        self._bus = bus
        self._topics = topics
        self._clock = clock
        self.policy = BatteryPolicy(battery, settings, clock, min_discharge_w=driver.min_discharge_w)
        self.wake = asyncio.Event()
        self.writes = 0
        self._written_w: float | None = None  # the last power written and answered; None: not known
        self._written_standby = False  # whether that write was a standby (a stop state), for a device with a floor
        self._written_at = -math.inf
        self._last_command: tuple[float, float] | None = None  # the last write taken (W, wall time), for the state
        self._poll_at = -math.inf
        self._problems = ChangeLogger(log, f"battery {battery.device_id}")
        self._readback = ChangeLogger(log, f"battery {battery.device_id} read-back")

    @property
    def min_write_interval_s(self) -> float:
        """The driver's pacing: shortest time between two writes, in s."""
        return self._driver.min_write_interval_s

    def refresh_interval_s(self, power_w: float) -> float:
        """How soon a write of ``power_w`` is sent again although nothing changed (inf: the device keeps it)."""
        holds_s = self._driver.holds_for_s(power_w)
        if holds_s is None:
            return math.inf
        return max(self._driver.min_write_interval_s, holds_s / KEEPALIVES_PER_COUNTDOWN)

    async def run(self) -> None:
        """Poll, decide and write until cancelled."""
        while True:
            self.wake.clear()
            due_at = await self._apply()  # first: a new setpoint (a discharge cut) never waits behind a poll
            now = self._clock()
            if now >= self._poll_at:
                self._poll_at = now + self._settings.poll_interval_s
                reading = await self._read()
                await self._publish_device_state(reading)
                due_at = await self._apply()
            wake_at = min(self._poll_at, self.policy.wake_at() or math.inf, due_at)
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that coincides with a wake-up
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake_at - self._clock())):
                    await self.wake.wait()

    async def _read(self) -> BatteryReading | None:
        try:
            reading = await self._driver.read()
            problem = reading_problem(reading)
            if problem is not None:  # a driver that broke its contract: as garbage from the device
                raise BatteryError(problem)
        except BatteryError as error:
            self.policy.on_error(str(error))
            self._written_w = None  # what is in force is not known any more
            self._problems.report(f"unreachable: {error}")
            return None
        self.policy.on_reading(reading)
        self._problems.report(None)
        if self._lost_setpoint(reading):
            holds = "no setpoint of ours" if reading.setpoint_w is None else f"{reading.setpoint_w:g} W"
            self._readback.report(f"the device holds {holds}, not the {self._written_w:g} W written")
            self._written_w = None  # written again (a reboot restores the flash values)
        else:
            self._readback.report(None)
        return reading

    def _lost_setpoint(self, reading: BatteryReading) -> bool:
        """Whether the device's read-back differs from the last write that had time to show.

        A device with a watchdog reports no setpoint once it dropped ours (a Marstek that left Passive): lost too.
        """
        if self._written_w is None:
            return False
        settled = self._clock() - self._written_at > 2 * self._settings.poll_interval_s
        if reading.setpoint_w is None:
            return settled and self._driver.holds_for_s(self._written_w) is not None
        return settled and abs(reading.setpoint_w - self._written_w) > READBACK_TOLERANCE_W

    async def _apply(self) -> float:
        """Write the decided power when it differs enough and the pacing allows; when a held-back write is due."""
        decision = self.policy.decide()
        target = decision.target_w
        if target is None or not self.policy.reachable:
            return math.inf
        target = float(round(target))
        standby = self._standby(decision.standby)
        due_at = write_due_at(
            target,
            self._written_w if standby == self._written_standby else None,  # off or on: a change of its own
            self._written_at,
            min_change_w=self._settings.min_change_w,
            min_interval_s=self._driver.min_write_interval_s,
            refresh_interval_s=math.inf if self._written_w is None else self.refresh_interval_s(self._written_w),
        )
        if self._clock() < due_at:
            return due_at
        await self.write(target, standby=standby)
        return math.inf

    def _standby(self, stop_state: bool) -> bool:
        """Whether a stop state is written as a standby: for a device whose 0 W is not a true 0 (it has a floor)."""
        return stop_state and self._driver.min_discharge_w > 0

    async def write(self, power_w: float, *, standby: bool = False) -> bool:
        """Write ``power_w`` now (``standby``: switched off); False (the battery unreachable) when not taken."""
        try:
            await self._driver.set_power(power_w, standby=standby)
        except BatteryError as error:
            self.policy.on_error(str(error))
            self._written_w = None
            self._problems.report(f"write of {power_w:g} W failed: {error}")
            return False
        self._written_w, self._written_at, self._written_standby = power_w, self._clock(), standby
        self._last_command = (power_w, time.time())
        self.writes += 1
        log.debug("battery %s: %g W written", self.battery.device_id, power_w)
        return True

    async def stop(self) -> None:
        """0 W (after the pacing interval, at most ``STOP_PACING_S``, if a write was just made), then close."""
        try:
            # unreachable: tried all the same; a 0 W a device's watchdog would drop gets its full countdown again
            standby = self._standby(stop_state=True)
            kept = self._written_w == 0 and self._written_standby == standby
            kept = kept and math.isinf(self.refresh_interval_s(0.0))
            if not (self.policy.reachable and kept):
                wait_s = self._written_at + self._driver.min_write_interval_s - self._clock()
                if wait_s > 0:
                    await asyncio.sleep(min(wait_s, STOP_PACING_S))
                if await self.write(0.0, standby=standby):
                    log.info("battery %s: 0 W on stop", self.battery.device_id)
        finally:
            await self._driver.close()
        await self._publish_device_state(None)

    def mode(self) -> tuple[ActuatorMode, str]:
        """The battery's mode and reason."""
        decision = self.policy.decide()
        return decision.mode, decision.reason

    async def _publish_device_state(self, reading: BatteryReading | None) -> None:
        """The battery's state (retained): reachable, SoC, power at the terminals, setpoint in force, last write."""
        policy = self.policy
        power_w = reading.power_w if reading is not None and policy.reachable else None
        updated_at = None
        if reading is not None:
            updated_at = time.time() - max(0.0, self._clock() - reading.measured_at)
        soc = policy.soc_pct() if policy.reachable else None
        charge_limit_w, discharge_limit_w = policy.limits()
        state = DeviceState(
            actuator_id=self._settings.actuator_id,
            device_id=self.battery.device_id,
            reachable=policy.reachable,
            producing=power_w is not None and power_w < 0,
            power_w=power_w,
            limit_w=reading.setpoint_w if reading is not None and policy.reachable else None,
            soc_pct=None if soc is None else round(soc, 1),
            charge_limit_w=charge_limit_w,
            discharge_limit_w=discharge_limit_w,
            updated_at=updated_at,
            last_command_w=None if self._last_command is None else self._last_command[0],
            last_command_at=None if self._last_command is None else self._last_command[1],
        )
        topic = self._topics.device_state(self._settings.actuator_id, self.battery.device_id)
        await self._bus.publish(topic, state, retain=True)


class BatteryActuatorService:
    """Takes setpoints for its batteries in, runs a loop per battery, and reports the actuator's state."""

    def __init__(
        self,
        settings: ActuatorBatterySettings,
        bus: MqttBus,
        topics: Topics,
        drivers: dict[str, BatteryDriver],
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._topics = topics
        self.loops = {
            battery.device_id: BatteryLoop(battery, settings, drivers[battery.device_id], bus, topics, clock=clock)
            for battery in settings.batteries
        }
        self._state = ActuatorStateReporter(bus, topics, settings.actuator_id, log)
        self._bad_setpoints = ChangeLogger(log, "setpoints")
        self._ignored_ids: set[str] = set()
        bus.subscribe(topics.actuator_setpoints(settings.actuator_id), self._on_setpoints)

    async def run(self, stop: asyncio.Event) -> None:
        """Announce the batteries, run their loops until ``stop``; then 0 W for each and stop reading setpoints."""
        settings = self._settings
        try:
            await self._bus.publish(
                self._topics.actuator_announce(settings.actuator_id), self._announcement(), retain=True
            )
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(loop.run()) for loop in self.loops.values()]
                reporter = group.create_task(self._report_state(stop))
                await stop.wait()
                for task in [*tasks, reporter]:
                    task.cancel()
        finally:
            self._bus.unsubscribe(self._topics.actuator_setpoints(settings.actuator_id), self._on_setpoints)
            for loop in self.loops.values():
                try:
                    await loop.stop()
                except Exception:  # one battery's failure must not keep the others from their 0 W
                    log.exception("battery %s: stop failed", loop.battery.device_id)

    def _announcement(self) -> ActuatorAnnouncement:
        settings = self._settings
        return ActuatorAnnouncement(
            actuator_id=settings.actuator_id,
            driver=DRIVER,
            devices=[
                device_info(
                    battery,
                    Pacing(
                        min_change_w=settings.min_change_w,
                        raise_interval_s=self.loops[battery.device_id].min_write_interval_s,
                        reduce_interval_s=self.loops[battery.device_id].min_write_interval_s,
                        refresh_interval_s=min(
                            86400.0,
                            self.loops[battery.device_id].refresh_interval_s(-battery.max_discharge_w),
                            self.loops[battery.device_id].refresh_interval_s(0.0),
                        ),
                    ),
                )
                for battery in settings.batteries
            ],
        )

    async def _on_setpoints(self, message: IncomingMessage) -> None:
        command = live_setpoints(message, self._bad_setpoints)
        if command is None:
            return
        for device_id, setpoint_w in command.setpoints_w.items():
            loop = self.loops.get(device_id)
            if loop is None:
                if device_id not in self._ignored_ids:
                    self._ignored_ids.add(device_id)
                    log.warning(
                        "ignoring setpoints for device %r: actuator %s has no such battery",
                        device_id,
                        self._settings.actuator_id,
                    )
                continue
            loop.policy.on_setpoint(setpoint_w, dry_run=command.dry_run)
            loop.wake.set()

    async def _report_state(self, stop: asyncio.Event) -> None:
        """Publish the actuator's state (the worst battery's mode) on changes, checked every 0.2 s."""
        while not stop.is_set():
            modes = [loop.mode() for loop in self.loops.values()]
            mode = min((m for m, _ in modes), key=MODE_ORDER.index)
            reason = "; ".join(
                f"{device_id}: {why}" if len(modes) > 1 else why
                for device_id, (_, why) in zip(self.loops, modes, strict=True)
            )
            self._state.commands_sent = sum(loop.writes for loop in self.loops.values())
            await self._state.report(mode, reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)


async def run(settings: ActuatorBatteryServiceSettings, stop: asyncio.Event) -> None:
    """Run the actuator until ``stop`` is set; every battery is at 0 W (or unreachable) when this returns."""
    config = settings.actuator_battery
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO: every poll
    topics = Topics(settings.mqtt.topic_prefix)
    bus = MqttBus.for_service(settings.mqtt, actuator_service_id(config.actuator_id))
    drivers = {battery.device_id: open_driver(battery.driver, bus) for battery in config.batteries}
    for battery in config.batteries:
        log.info(
            "actuator %s: %s (%s), -%g..%g W, SoC window %g-%g %%",
            config.actuator_id,
            battery.name,
            describe_driver(battery.driver),
            battery.max_discharge_w,
            battery.max_charge_w,
            battery.reserve_soc_pct,
            battery.max_soc_pct,
        )
    service = BatteryActuatorService(config, bus, topics, drivers)
    bus_stop = asyncio.Event()  # the bus outlives the batteries: their final state still goes out
    async with asyncio.TaskGroup() as group:
        bus_task = group.create_task(bus.run(bus_stop))
        try:
            await service.run(stop)
        finally:
            bus_stop.set()
            await bus_task


def main() -> None:
    """Entry point of ``python -m zeropower.actuator_battery``."""
    run_service(SERVICE_NAME, ActuatorBatteryServiceSettings, run)
