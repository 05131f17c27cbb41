"""The controller service: feeds MQTT messages into the decision logic and publishes its decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from zeropower.controller.logic import Decision, ZeroExportController
from zeropower.controller.model import Dynamics
from zeropower.controller.settings import ControllerServiceSettings, ControllerTunablesUpdate, tunables_of
from zeropower.controller.state_file import StateFile, StoredState
from zeropower.shared.change_log import ChangeLogger, EventLogger
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    DeviceState,
    GridReading,
    InvalidMessageError,
    SetpointCommand,
    parse_message,
    parse_on_off,
)
from zeropower.shared.mqtt import OFFLINE, ONLINE, IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.controller")

Payload = TypeVar("Payload", GridReading, ActuatorAnnouncement, DeviceState)

SERVICE_ID = "controller"
REGULATING_MODES = ("regulating", "dry-run")
#: While regulating, setpoints go out with each grid reading; without readings, at least this often (s), so
#: the actuators' watchdogs stay fed until the controller's own fail-safe takes over.
KEEPALIVE_S = 5.0


class ControllerService:
    """Subscribes to grid power, actuators and the commands; publishes setpoints and state."""

    def __init__(
        self,
        controller: ZeroExportController,
        bus: MqttBus,
        topics: Topics,
        state_file: StateFile,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._controller = controller
        self._bus = bus
        self._topics = topics
        self._state_file = state_file
        self._clock = clock
        self._stored = StoredState()
        self._bad_input = ChangeLogger(log, "input")
        self._refused = EventLogger(log, "command refused")
        self._step_problem = ChangeLogger(log, "control step")
        self._save_problem = ChangeLogger(log, f"state file {state_file.path}")
        self._last_mode: str | None = None
        self._setpoints_sent_at = -float("inf")
        self._learned: dict[str, Dynamics] = {}  # the dynamics last logged per inverter
        self._unreachable: dict[str, ChangeLogger] = {}  # per device ever unreachable: why, logged once a change
        bus.subscribe(topics.grid_power(), self._on_grid)
        bus.subscribe(topics.all_actuator_announcements(), self._on_announcement)
        bus.subscribe(topics.availability(actuator_service_id("+")), self._on_actuator_availability)
        bus.subscribe(topics.all_device_states(), self._on_device_state)
        bus.subscribe(topics.set_enabled(), self._on_enabled)
        bus.subscribe(topics.controller_config_set(), self._on_config)

    def restore(self) -> None:
        """Apply the switch and tunables saved by an earlier run (they override the configuration file)."""
        self._stored = self._state_file.load()
        controller = self._controller
        if self._stored.tunables:
            controller.settings = controller.settings.model_copy(update=self._stored.tunables)
            changed = ", ".join(f"{name}={value}" for name, value in self._stored.tunables.items())
            log.info("tunables changed at run time, restored from %s: %s", self._state_file.path, changed)
        if self._stored.enabled is not None:
            controller.set_enabled(self._stored.enabled)
            log.info(
                "zero export %s, as last switched (%s)", "on" if self._stored.enabled else "off", self._state_file.path
            )

    async def publish_config(self) -> None:
        """Publish the effective tunables, retained (sent again after every reconnect)."""
        await self._bus.publish(self._topics.controller_config(), tunables_of(self._controller.settings), retain=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick for staleness until ``stop`` is set; a failing step is logged and the next one tried."""
        interval = self._controller.settings.tick_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if not stop.is_set():
                await self._step(self._controller.tick, from_reading=False)

    async def _step(self, step: Callable[[], Decision], *, from_reading: bool) -> None:
        """Run one step of the logic and publish its decision; an exception costs this step only."""
        try:
            decision = step()
        except Exception as error:  # no input may stop the controller: the actuators' watchdogs take over
            log.debug("control step failed", exc_info=True)
            self._step_problem.report(f"failed: {type(error).__name__}: {error}")
            return
        self._step_problem.report(None)
        await self._publish(decision, from_reading=from_reading)

    # ---- inputs ---------------------------------------------------------------------------------

    async def _on_grid(self, message: IncomingMessage) -> None:
        reading = self._parse(GridReading, message)
        if reading is not None:
            await self._step(lambda: self._controller.on_grid(reading), from_reading=True)

    async def _on_announcement(self, message: IncomingMessage) -> None:
        actuator_id = message.topic.split("/")[-2]
        if not message.payload:
            self._on_removal(actuator_id)
            return
        announcement = self._parse(ActuatorAnnouncement, message)
        if announcement is None:
            return
        if announcement.actuator_id != actuator_id:
            self._bad_input.report(
                f"ignoring {message.topic}: it announces actuator {announcement.actuator_id!r}, not {actuator_id!r}"
            )
            return
        self._controller.set_actuator(actuator_id, announcement.devices)
        log.info(
            "actuator %s (%s) with %s",
            actuator_id,
            announcement.driver,
            ", ".join(f"{d.device_id} {d.min_w:g}-{d.max_w:g} W" for d in announcement.devices) or "no devices",
        )

    def _on_removal(self, actuator_id: str) -> None:
        """An empty announcement removes an actuator's devices only once that actuator is offline."""
        if self._controller.is_online(actuator_id):
            self._bad_input.report(
                f"ignoring an empty announcement of actuator {actuator_id}: it is online "
                "(an actuator is removed by clearing its retained announcement once it is offline)"
            )
            return
        self._controller.set_actuator(actuator_id, [])
        log.info("actuator %s removed (its retained announcement was cleared)", actuator_id)

    async def _on_actuator_availability(self, message: IncomingMessage) -> None:
        actuator_id = message.topic.split("/")[-2]
        if message.text not in {ONLINE, OFFLINE}:
            if message.payload:
                self._bad_input.report(
                    f"ignoring {message.topic}: expected online or offline, got {message.text[:40]!r}"
                )
            return
        online = message.text == ONLINE
        if online != self._controller.is_online(actuator_id):
            log.info("actuator %s is %s", actuator_id, message.text)
        self._controller.set_actuator_online(actuator_id, online)

    async def _on_device_state(self, message: IncomingMessage) -> None:
        state = self._parse(DeviceState, message)
        if state is None:
            return
        parts = message.topic.split("/")
        if (state.actuator_id, state.device_id) != (parts[-4], parts[-2]):
            self._bad_input.report(
                f"ignoring {message.topic}: it carries the state of {state.actuator_id}/{state.device_id}"
            )
            return
        self._controller.on_device_state(state)
        self._log_learned(state.device_id)

    def _log_learned(self, device_id: str) -> None:
        """Say when what the controller learned of an inverter's dead time and ramp changed."""
        learned = self._controller.learned_dynamics().get(device_id)
        if learned is None or self._learned.get(device_id) == learned[0]:
            return
        dynamics, episodes = learned
        self._learned[device_id] = dynamics
        settings = self._controller.settings
        log.info(
            "inverter %s follows a new limit after %.1f s at %.0f W/s (learned from %d limit changes; configured "
            "dead_time_s %g, ramp_w_per_s %g)",
            device_id,
            dynamics.dead_time_s,
            dynamics.ramp_w_per_s,
            episodes,
            settings.dead_time_s,
            settings.ramp_w_per_s,
        )

    def _live_command(self, message: IncomingMessage) -> bool:
        """Commands act when sent: a retained one the broker hands over at (re)subscription is ignored."""
        if message.retain and message.payload:
            self._refused.report(
                f"ignoring a retained command on {message.topic}: commands apply when sent, the controller keeps "
                f"its own state in {self._state_file.path} (clear it: mosquitto_pub -r -n -t {message.topic})"
            )
            return False
        return bool(message.payload)

    async def _on_enabled(self, message: IncomingMessage) -> None:
        if not self._live_command(message):
            return
        try:
            enabled = parse_on_off(message.payload)
        except ValueError as error:
            self._refused.report(f"ignoring {message.topic}: {error}")
            return
        if enabled != self._controller.enabled:
            log.info("zero export switched %s", "on" if enabled else "off")
        self._controller.set_enabled(enabled)
        if self._stored.enabled != enabled:
            self._stored.enabled = enabled
            self._save()
        await self._step(self._controller.tick, from_reading=False)

    async def _on_config(self, message: IncomingMessage) -> None:
        if not self._live_command(message):
            return
        try:
            update = parse_message(ControllerTunablesUpdate, message.payload)
        except InvalidMessageError as error:
            self._refused.report(f"ignoring {message.topic}: {error}")
            return
        changes = {
            name: value for name, value in update.changes().items() if getattr(self._controller.settings, name) != value
        }
        if changes:
            self._controller.settings = self._controller.settings.model_copy(update=changes)
            log.info("settings changed: %s", ", ".join(f"{name}={value}" for name, value in changes.items()))
            self._stored.tunables.update(changes)
            self._save()
        await self.publish_config()

    def _save(self) -> None:
        try:
            self._state_file.save(self._stored)
        except OSError as error:
            self._save_problem.report(f"cannot save, the change holds until a restart only: {error}")
        else:
            self._save_problem.report(None)

    def _parse(self, model: type[Payload], message: IncomingMessage) -> Payload | None:
        try:
            parsed = parse_message(model, message.payload)
        except InvalidMessageError as error:
            self._bad_input.report(f"ignoring {message.topic}: {error}")
            return None
        self._bad_input.report(None)
        return parsed

    # ---- output ---------------------------------------------------------------------------------

    async def _publish(self, decision: Decision, *, from_reading: bool) -> None:
        """Publish the state, and the setpoints at one steady cadence.

        While regulating, setpoints go out with each grid reading (the actuators' cadence is the meter's),
        and at least every KEEPALIVE_S without readings; in every other mode (paused, fail-safe, idle) with
        each tick. Every online actuator with an enabled device gets them, an empty set too: they are its
        watchdog's heartbeat.
        """
        state = decision.state
        if state.mode != self._last_mode:
            log.info("mode %s: %s", state.mode, state.reason)
            self._last_mode = state.mode
        for device in decision.unreachable.keys() - self._unreachable.keys():
            self._unreachable[device] = ChangeLogger(log, device, clock=self._clock)
        for device, logger in self._unreachable.items():
            logger.report(decision.unreachable.get(device))
        regulating = state.mode in REGULATING_MODES
        now = self._clock()
        keepalive = regulating and not from_reading and now - self._setpoints_sent_at >= KEEPALIVE_S
        if from_reading == regulating or keepalive:
            self._setpoints_sent_at = now
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
    config = settings.controller
    controller = ZeroExportController(config, time.monotonic)
    service = ControllerService(controller, bus, topics, StateFile(config.state_file))
    service.restore()
    await service.publish_config()  # not connected yet: remembered and sent once connected
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stop))
        group.create_task(service.run(stop))


def main() -> None:
    """Entry point of ``python -m zeropower.controller``."""
    run_service(SERVICE_ID, ControllerServiceSettings, run)
