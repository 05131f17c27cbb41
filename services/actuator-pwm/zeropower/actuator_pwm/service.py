"""The PWM actuator service: setpoints in, a duty cycle out; estimated power and diverted energy reported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from zeropower.actuator_pwm.cadence import CadenceMonitor
from zeropower.actuator_pwm.energy import EnergyCounter, EnergyFileError
from zeropower.actuator_pwm.outputs import (
    OutputError,
    Publish,
    PwmOutput,
    RpiGpioConfig,
    SimOutputConfig,
    SysfsConfig,
    open_output,
)
from zeropower.actuator_pwm.policy import Clock, DutyPolicy
from zeropower.actuator_pwm.settings import (
    SETUP_ACTUATOR_ID,
    ActuatorPwmServiceSettings,
    ActuatorPwmSettings,
    ActuatorPwmSetup,
)
from zeropower.shared.actuator import ActuatorStateReporter, live_setpoints
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    DeviceInfo,
    DeviceState,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.setup import SetupSection
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.actuator_pwm")

SERVICE_NAME = "actuator_pwm"
DRIVER = "pwm"
#: Exit status when the output or the energy file cannot be used at start.
EXIT_START_ERROR = 1


class PwmActuatorService:
    """Feeds setpoints into the duty policy, drives the output, and publishes state, power and energy."""

    def __init__(
        self,
        settings: ActuatorPwmSettings,
        bus: MqttBus,
        topics: Topics,
        output: PwmOutput,
        energy: EnergyCounter,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._topics = topics
        self._output = output
        self._energy = energy
        self._clock = clock
        self._policy = DutyPolicy(settings, clock)
        self._state = ActuatorStateReporter(bus, topics, settings.actuator_id, log)
        self._cadence = CadenceMonitor(settings.jitter_warning_percent, settings.setpoint_timeout_s)
        self._wake = asyncio.Event()
        self._duty = output.found_duty  # None: not known until the first setpoint sets it
        self._last_command_w: float | None = None
        self._last_command_at: float | None = None
        self._state_at = -math.inf
        self._save_at = clock() + settings.energy_save_interval_s
        self._bad_setpoints = ChangeLogger(log, "setpoints")
        self._bad_energy_file = ChangeLogger(log, f"energy counter {energy.path}")
        self._ignored_ids: set[str] = set()
        energy.update(clock(), 0.0)
        bus.subscribe(topics.actuator_setpoints(settings.actuator_id), self._on_setpoints)

    async def run(self, stop: asyncio.Event) -> None:
        """Announce the load, then drive the output and report until ``stop`` is set; then stop reading setpoints."""
        try:
            await self._bus.publish(
                self._topics.actuator_announce(self._settings.actuator_id), self._announcement(), retain=True
            )
            async with asyncio.TaskGroup() as group:
                loop = group.create_task(self._loop())
                await stop.wait()
                loop.cancel()
        finally:  # a new setup replaces this one: its setpoints no longer move this output
            self._bus.unsubscribe(self._topics.actuator_setpoints(self._settings.actuator_id), self._on_setpoints)

    async def close(self) -> None:
        """Duty 0 and release the output, then save the energy counter and publish the final device state."""
        try:
            await self._output.close()
        finally:
            self._set_duty_in_force(0.0)
            self._save_energy()
            await self._publish_device_state()

    def _announcement(self) -> ActuatorAnnouncement:
        settings = self._settings
        return ActuatorAnnouncement(
            actuator_id=settings.actuator_id,
            driver=DRIVER,
            devices=[
                DeviceInfo(
                    device_id=settings.device_id,
                    name=settings.name,
                    kind="consumer",
                    min_w=0,
                    max_w=settings.rated_w,
                    enabled=settings.enabled,
                    priority=settings.priority,
                )
            ],
        )

    # ---- inputs ---------------------------------------------------------------------------------

    async def _on_setpoints(self, message: IncomingMessage) -> None:
        command = live_setpoints(message, self._bad_setpoints)
        if command is None:
            return
        device_id = self._settings.device_id
        for other_id in command.setpoints_w.keys() - {device_id}:
            self._note_ignored(other_id, f"actuator {self._settings.actuator_id} has no such device")
        setpoint_w = command.setpoints_w.get(device_id)
        if setpoint_w is not None and not self._settings.enabled:
            self._note_ignored(device_id, "it is disabled in the settings")
        self._policy.on_setpoint(setpoint_w, dry_run=command.dry_run)
        if setpoint_w is not None:
            self._last_command_w, self._last_command_at = setpoint_w, time.time()
            if command.dry_run:
                log.debug("dry run: %g W would be duty %.4f", setpoint_w, self._policy.requested_duty())
        if self._cadence.observe(self._clock(), command.mode):
            if self._cadence.problem is None:
                log.info("setpoint cadence: regular again")
            else:
                log.warning("setpoint cadence: %s", self._cadence.problem)
        self._wake.set()

    def _note_ignored(self, device_id: str, why: str) -> None:
        """Log once per device id that its setpoints are ignored, and why."""
        if device_id not in self._ignored_ids:
            self._ignored_ids.add(device_id)
            log.warning("ignoring setpoints for device %r: %s", device_id, why)

    # ---- output and reports ---------------------------------------------------------------------

    async def _loop(self) -> None:
        """Drive the output on every input or timer; publish the device state and save energy when due."""
        while True:
            self._wake.clear()
            duty = self._policy.duty()
            if duty is not None and duty != self._duty:
                await self._output.set_duty(duty)
                self._set_duty_in_force(duty)
                self._state.commands_sent += 1
                self._state_at = -math.inf
            await self._publish_state()
            now = self._clock()
            if now >= self._state_at:
                await self._publish_device_state()
                self._state_at = now + self._settings.state_interval_s
            if now >= self._save_at:
                self._save_energy()
                self._save_at = now + self._settings.energy_save_interval_s
            wake_at = min(self._policy.wake_at() or math.inf, self._state_at, self._save_at)
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that coincides with a wake-up
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake_at - self._clock())):
                    await self._wake.wait()

    def _set_duty_in_force(self, duty: float) -> None:
        self._duty = duty
        self._energy.update(self._clock(), self._power_w() or 0.0)

    def _power_w(self) -> float | None:
        """The estimated power draw at the duty in force, in W; None while that duty is not known."""
        if self._duty is None:
            return None
        return round(self._settings.rated_w * self._settings.mapping.fraction(self._duty), 1)

    def _save_energy(self) -> None:
        self._energy.update(self._clock(), self._power_w() or 0.0)
        try:
            self._energy.save()
        except OSError as error:
            self._bad_energy_file.report(f"cannot save: {error}")
        else:
            self._bad_energy_file.report(None)

    async def _publish_state(self) -> None:
        """Publish the actuator's state when its mode, reason or command count changed."""
        await self._state.report(*self._policy.mode())

    async def _publish_device_state(self) -> None:
        """Publish the duty in force, the estimated power and the energy counter (retained)."""
        self._energy.update(self._clock(), self._power_w() or 0.0)
        settings = self._settings
        state = DeviceState(
            actuator_id=settings.actuator_id,
            device_id=settings.device_id,
            reachable=True,
            producing=False,
            power_w=self._power_w(),
            duty=None if self._duty is None else round(self._duty, 4),
            energy_wh=round(self._energy.energy_wh, 3),
            updated_at=time.time(),
            last_command_w=self._last_command_w,
            last_command_at=self._last_command_at,
        )
        await self._bus.publish(self._topics.device_state(settings.actuator_id, settings.device_id), state, retain=True)


async def run(settings: ActuatorPwmServiceSettings, stop: asyncio.Event) -> None:
    """Run one actuator instance until ``stop`` is set: as configured, or as each setup from the browser.

    The output is at duty 0 whenever this returns, and a setup's output is at duty 0 and closed before the
    next setup's output is opened.
    """
    configured = settings.actuator_pwm
    topics = Topics(settings.mqtt.topic_prefix)
    service_id = actuator_service_id(configured.actuator_id if configured is not None else SETUP_ACTUATOR_ID)
    bus = MqttBus.for_service(settings.mqtt, service_id)

    async def publish(topic: str, text: str) -> bool:
        return await bus.publish(topic, text, retain=True)

    opened: tuple[EnergyCounter, PwmOutput] | None = None
    if configured is not None:  # the config file's output must open, or the service does not start
        try:
            opened = await open_load(configured, topics, publish)
        except (OutputError, EnergyFileError) as error:
            log.error("cannot start: %s", error)
            raise SystemExit(EXIT_START_ERROR) from None
    device_ids: set[str] = set()

    async def drive(config: ActuatorPwmSettings, drive_stop: asyncio.Event) -> None:
        nonlocal opened
        for gone in sorted(device_ids - {config.device_id}):  # not in the new setup: its state is cleared
            await bus.publish(topics.device_state(config.actuator_id, gone), b"", retain=True)
        device_ids.clear()
        device_ids.add(config.device_id)
        energy, output = opened if opened is not None else await open_load(config, topics, publish)
        opened = None
        service = PwmActuatorService(config, bus, topics, output, energy)
        try:
            log.info(
                "actuator %s: %s (%g W) on %s, %s mapping, %.1f Wh diverted so far",
                config.actuator_id,
                config.name,
                config.rated_w,
                output.description,
                config.mapping.type,
                energy.energy_wh,
            )
            await service.run(drive_stop)
        finally:  # duty 0 and the output released before the next setup opens its own
            await service.close()

    section = SetupSection(
        bus,
        topics,
        service_id=service_id,
        section=SERVICE_NAME,
        model=ActuatorPwmSetup,
        configured=configured,
        describe=describe,
        log=log,
    )
    bus_stop = asyncio.Event()  # the bus outlives the output: the final duty 0 still goes out
    async with asyncio.TaskGroup() as group:
        bus_task = group.create_task(bus.run(bus_stop))
        try:
            await section.serve(stop, drive)
        finally:
            bus_stop.set()
            await bus_task  # offline goes out even when the service failed


async def open_load(config: ActuatorPwmSettings, topics: Topics, publish: Publish) -> tuple[EnergyCounter, PwmOutput]:
    """The energy counter and the output of ``config``; OutputError or EnergyFileError when one cannot be used."""
    energy = EnergyCounter.load(config.energy_path)
    return energy, await open_output(config.output, topics=topics, publish=publish)


def describe(config: ActuatorPwmSettings) -> str:
    """The load, its output and mapping, e.g. ``Heater (2000 W) on sim output heater, linear mapping``."""
    match config.output:
        case RpiGpioConfig(pin=pin, frequency_hz=hz):
            where = f"RPi.GPIO GPIO{pin} at {hz:g} Hz"
        case SysfsConfig(chip=chip, channel=channel, frequency_hz=hz):
            where = f"sysfs pwmchip{chip}/pwm{channel} at {hz:g} Hz"
        case SimOutputConfig(output_id=output_id):
            where = f"sim output {output_id}"
    disabled = "" if config.enabled else " (disabled)"
    return f"{config.name} ({config.rated_w:g} W){disabled} on {where}, {config.mapping.type} mapping"


def main() -> None:
    """Entry point of ``python -m zeropower.actuator_pwm``."""
    run_service(SERVICE_NAME, ActuatorPwmServiceSettings, run)
