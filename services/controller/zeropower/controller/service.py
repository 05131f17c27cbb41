"""The controller service: feeds MQTT messages into the decision logic and publishes its decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TypeVar

from zeropower.controller.logic import Decision, ZeroExportController
from zeropower.controller.settings import ControllerServiceSettings, ControllerTunablesUpdate, tunables_of
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    DeviceState,
    GridReading,
    InvalidMessageError,
    SetpointCommand,
    parse_message,
    parse_on_off,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import Topics

log = logging.getLogger("zeropower.controller")

Payload = TypeVar("Payload", GridReading, ActuatorAnnouncement, DeviceState)

SERVICE_ID = "controller"
REGULATING_MODES = ("regulating", "dry-run")


class ControllerService:
    """Subscribes to grid power, actuators and the on/off command; publishes setpoints and state."""

    def __init__(self, controller: ZeroExportController, bus: MqttBus, topics: Topics) -> None:
        self._controller = controller
        self._bus = bus
        self._topics = topics
        self._bad_input = ChangeLogger(log, "input")
        self._last_mode: str | None = None
        bus.subscribe(topics.grid_power(), self._on_grid)
        bus.subscribe(topics.all_actuator_announcements(), self._on_announcement)
        bus.subscribe(topics.all_device_states(), self._on_device_state)
        bus.subscribe(topics.set_enabled(), self._on_enabled)
        bus.subscribe(topics.controller_config_set(), self._on_config)

    async def publish_config(self) -> None:
        """Publish the effective tunables, retained (sent again after every reconnect)."""
        await self._bus.publish(self._topics.controller_config(), tunables_of(self._controller.settings), retain=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick for staleness until ``stop`` is set."""
        interval = self._controller.settings.tick_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if not stop.is_set():
                await self._publish(self._controller.tick(), from_reading=False)

    async def _on_grid(self, message: IncomingMessage) -> None:
        reading = self._parse(GridReading, message)
        if reading is not None:
            await self._publish(self._controller.on_grid(reading), from_reading=True)

    async def _on_announcement(self, message: IncomingMessage) -> None:
        actuator_id = message.topic.split("/")[-2]
        if not message.payload:  # retained announcement cleared: the actuator is gone
            self._controller.set_actuator(actuator_id, [])
            return
        announcement = self._parse(ActuatorAnnouncement, message)
        if announcement is not None:
            self._controller.set_actuator(announcement.actuator_id, announcement.devices)
            log.info(
                "actuator %s (%s) with %s",
                announcement.actuator_id,
                announcement.driver,
                ", ".join(f"{d.device_id} {d.min_w:g}-{d.max_w:g} W" for d in announcement.devices) or "no devices",
            )

    async def _on_device_state(self, message: IncomingMessage) -> None:
        state = self._parse(DeviceState, message)
        if state is not None:
            self._controller.on_device_state(state)

    async def _on_enabled(self, message: IncomingMessage) -> None:
        try:
            enabled = parse_on_off(message.payload)
        except ValueError as error:
            log.warning("ignoring %s: %s", message.topic, error)
            return
        if enabled != self._controller.enabled:
            log.info("zero export switched %s", "on" if enabled else "off")
        self._controller.set_enabled(enabled)
        await self._publish(self._controller.tick(), from_reading=False)

    async def _on_config(self, message: IncomingMessage) -> None:
        if not message.payload:  # retained command cleared: keep what is in force
            return
        try:
            update = parse_message(ControllerTunablesUpdate, message.payload)
        except InvalidMessageError as error:
            log.warning("ignoring %s: %s", message.topic, error)
            return
        changes = {
            name: value for name, value in update.changes().items() if getattr(self._controller.settings, name) != value
        }
        if changes:
            self._controller.settings = self._controller.settings.model_copy(update=changes)
            log.info("settings changed: %s", ", ".join(f"{name}={value}" for name, value in changes.items()))
        await self.publish_config()

    def _parse(self, model: type[Payload], message: IncomingMessage) -> Payload | None:
        try:
            parsed = parse_message(model, message.payload)
        except InvalidMessageError as error:
            self._bad_input.report(f"ignoring {message.topic}: {error}")
            return None
        self._bad_input.report(None)
        return parsed

    async def _publish(self, decision: Decision, *, from_reading: bool) -> None:
        """Publish the state, and the setpoints at one steady cadence.

        While regulating, setpoints go out with each grid reading (the actuators' cadence is the meter's);
        in every other mode (paused, fail-safe, idle) with each tick, which keeps the actuators' timeouts fed.
        """
        state = decision.state
        if state.mode != self._last_mode:
            log.info("mode %s: %s", state.mode, state.reason)
            self._last_mode = state.mode
        if from_reading != (state.mode in REGULATING_MODES):
            await self._bus.publish(self._topics.controller_state(), state, retain=True)
            return
        for actuator_id, setpoints in decision.setpoints.items():
            command = SetpointCommand(
                timestamp=state.timestamp,
                setpoints_w=setpoints,
                dry_run=decision.dry_run,
                reason=f"{state.mode}: {state.reason}",
                mode=state.mode,
            )
            await self._bus.publish(self._topics.actuator_setpoints(actuator_id), command)
        await self._bus.publish(self._topics.controller_state(), state, retain=True)


async def run(settings: ControllerServiceSettings, stop: asyncio.Event) -> None:
    """Run the controller until ``stop`` is set."""
    topics = Topics(settings.mqtt.topic_prefix)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    service = ControllerService(ZeroExportController(settings.controller, time.time), bus, topics)
    await service.publish_config()  # not connected yet: remembered and sent once connected
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stop))
        group.create_task(service.run(stop))


def main() -> None:
    """Entry point of ``python -m zeropower.controller``."""
    run_service(SERVICE_ID, ControllerServiceSettings, run)
