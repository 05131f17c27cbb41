"""The actuator service: setpoints in, limit commands out; DTU telemetry in, normalised device states out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from zeropower.actuator_opendtu.policy import Clock, Command, CommandPolicy
from zeropower.actuator_opendtu.settings import (
    SETUP_ACTUATOR_ID,
    ActuatorOpenDtuServiceSettings,
    ActuatorOpenDtuSettings,
    ActuatorOpenDtuSetup,
)
from zeropower.actuator_opendtu.telemetry import InverterTelemetry
from zeropower.shared.actuator import ActuatorStateReporter, live_setpoints
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    ActuatorAnnouncement,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.setup import SetupSection
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.actuator_opendtu")

SERVICE_NAME = "actuator_opendtu"


class ActuatorService:
    """Feeds setpoints into the command policy, sends what it decides, and publishes state and telemetry."""

    def __init__(
        self, settings: ActuatorOpenDtuSettings, bus: MqttBus, topics: Topics, clock: Clock = time.monotonic
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._topics = topics
        self._clock = clock
        self._inverters = settings.inverters_by_id
        self._driver = settings.driver.create(settings.inverters)
        self._policy = CommandPolicy(settings, clock)
        self._state = ActuatorStateReporter(bus, topics, settings.actuator_id, log)
        self._telemetry = {device_id: InverterTelemetry(inv.nameplate_w) for device_id, inv in self._inverters.items()}
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._bad_setpoints = ChangeLogger(log, "setpoints")
        self._bad_telemetry: dict[str, ChangeLogger] = {}
        self._ignored_ids: set[str] = set()
        self._subscriptions = [(topics.actuator_setpoints(settings.actuator_id), self._on_setpoints)]
        self._subscriptions += [(topic_filter, self._on_telemetry) for topic_filter in self._driver.subscriptions()]
        for topic_filter, handler in self._subscriptions:
            bus.subscribe(topic_filter, handler)
        bus.on_connect(self._on_connect)

    async def run(self, stop: asyncio.Event) -> None:
        """Announce the inverters, then command them and report on them until ``stop`` is set; then unsubscribe."""
        try:
            await self._bus.publish(
                self._topics.actuator_announce(self._settings.actuator_id), self._announcement(), retain=True
            )
            await self._publish_state()
            async with asyncio.TaskGroup() as group:
                loops = [group.create_task(self._command_loop()), group.create_task(self._device_state_loop())]
                await stop.wait()
                for loop in loops:
                    loop.cancel()
        finally:  # a new setup replaces this one: its topics are no longer read
            for topic_filter, handler in self._subscriptions:
                self._bus.unsubscribe(topic_filter, handler)
            self._bus.remove_on_connect(self._on_connect)

    def _announcement(self) -> ActuatorAnnouncement:
        pacing = self._settings.pacing
        return ActuatorAnnouncement(
            actuator_id=self._settings.actuator_id,
            driver=self._settings.driver.type,
            devices=[inverter.device_info(device_id, pacing) for device_id, inverter in self._inverters.items()],
        )

    # ---- inputs ---------------------------------------------------------------------------------

    async def _on_setpoints(self, message: IncomingMessage) -> None:
        command = live_setpoints(message, self._bad_setpoints)
        if command is None:
            return
        for device_id in self._policy.on_setpoints(command.setpoints_w, dry_run=command.dry_run):
            self._note_ignored(device_id)
        self._wake.set()

    def _note_ignored(self, device_id: str) -> None:
        """Log once per device id that its setpoints are ignored, and why."""
        if device_id in self._ignored_ids:
            return
        self._ignored_ids.add(device_id)
        if device_id in self._inverters:
            log.info("ignoring setpoints for inverter %s: it is disabled in the settings", device_id)
        else:
            log.warning(
                "ignoring setpoints for unknown device %r: actuator %s has no such inverter",
                device_id,
                self._settings.actuator_id,
            )

    async def _on_telemetry(self, message: IncomingMessage) -> None:
        try:
            update = self._driver.parse(message.topic, message.text)
        except ValueError as error:
            self._bad_telemetry.setdefault(message.topic, ChangeLogger(log, message.topic)).report(f"ignored: {error}")
            return
        if message.topic in self._bad_telemetry:  # kept: a topic that alternates stays one line a minute
            self._bad_telemetry[message.topic].report(None)
        if update is None:
            return
        if self._telemetry[update.device_id].apply(update, time.time()):
            self._policy.resend(update.device_id)  # back after a restart: its non-persistent limit is gone
            self._wake.set()
        self._mark_dirty(update.device_id)

    async def _on_connect(self) -> None:
        """Commands published while the connection was down are lost: send every limit again."""
        self._policy.resend()
        self._wake.set()

    # ---- commands -------------------------------------------------------------------------------

    async def _command_loop(self) -> None:
        """Send whatever the policy says is due, whenever an input arrives or a timer expires."""
        while True:
            self._wake.clear()
            commands = self._policy.next_commands()
            if commands:
                await asyncio.gather(*(self._send(command) for command in commands))
            await self._publish_state()
            wake_at = self._policy.wake_at()
            timeout = None if wake_at is None else max(0.0, wake_at - self._clock())
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that coincides with a wake-up
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _send(self, command: Command) -> None:
        """Publish one limit command, never retained (OpenDTU ignores retained commands)."""
        message = self._driver.limit_command(command.device_id, command.limit_w)
        if not await self._bus.publish(message.topic, message.payload, retain=False):
            log.debug("not connected: limit %s for %s not sent", message.payload, command.device_id)
            return
        log.debug("limit %s W -> %s", message.payload, command.device_id)
        self._state.commands_sent += 1
        telemetry = self._telemetry[command.device_id]
        telemetry.record_command(command.limit_w, time.time())
        if telemetry.seen:
            self._mark_dirty(command.device_id)

    async def _publish_state(self) -> None:
        """Publish the actuator's state when its mode, reason or command count changed."""
        await self._state.report(*self._policy.mode())

    # ---- device states --------------------------------------------------------------------------

    def _mark_dirty(self, device_id: str) -> None:
        self._dirty.add(device_id)
        self._dirty_event.set()

    async def _device_state_loop(self) -> None:
        """Publish changed device states, coalescing the burst of topics a DTU sends each cycle."""
        actuator_id = self._settings.actuator_id
        while True:
            await self._dirty_event.wait()
            await asyncio.sleep(self._settings.telemetry_debounce_s)
            self._dirty_event.clear()
            dirty, self._dirty = self._dirty, set()
            for device_id in (device_id for device_id in self._inverters if device_id in dirty):
                commands_left = self._policy.commands_left(device_id)
                state = self._telemetry[device_id].state(actuator_id, device_id, commands_left)
                await self._bus.publish(self._topics.device_state(actuator_id, device_id), state, retain=True)


async def run(settings: ActuatorOpenDtuServiceSettings, stop: asyncio.Event) -> None:
    """Run one actuator instance until ``stop`` is set: as configured, or as each setup from the browser."""
    configured = settings.actuator_opendtu
    actuator_id = configured.actuator_id if configured is not None else SETUP_ACTUATOR_ID
    topics = Topics(settings.mqtt.topic_prefix)
    service_id = actuator_service_id(actuator_id)
    bus = MqttBus.for_service(settings.mqtt, service_id)
    devices: set[str] = set()

    async def control(config: ActuatorOpenDtuSettings, control_stop: asyncio.Event) -> None:
        service = ActuatorService(config, bus, topics)
        log.info("actuator %s: %s", config.actuator_id, describe(config))
        for gone in sorted(devices - set(config.inverters_by_id)):  # not in the new setup: its state is cleared
            await bus.publish(topics.device_state(config.actuator_id, gone), b"", retain=True)
        devices.clear()
        devices.update(config.inverters_by_id)
        await service.run(control_stop)

    section = SetupSection(
        bus,
        topics,
        service_id=service_id,
        section=SERVICE_NAME,
        model=ActuatorOpenDtuSetup,
        configured=configured,
        describe=describe,
        log=log,
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stop))
        group.create_task(section.serve(stop, control))


def describe(config: ActuatorOpenDtuSettings) -> str:
    """The DTU and the inverters with their limit ranges, e.g. ``opendtu at prefix 'solar' with 1141... 40-800 W``."""
    inverters = ", ".join(
        f"{device_id} {inv.min_limit_w:g}-{inv.max_w:g} W{'' if inv.enabled else ' (disabled)'}"
        for device_id, inv in config.inverters_by_id.items()
    )
    return f"{config.driver.type} at prefix {config.driver.prefix!r} with {inverters}"


def main() -> None:
    """Entry point of ``python -m zeropower.actuator_opendtu``."""
    run_service(SERVICE_NAME, ActuatorOpenDtuServiceSettings, run)
