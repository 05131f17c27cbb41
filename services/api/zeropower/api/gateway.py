"""The gateway's MQTT side: keeps the newest state of every service in memory and publishes commands."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from zeropower.controller.settings import ControllerTunables
from zeropower.shared.messages import (
    ControllerState,
    DeviceState,
    GridReading,
    InvalidMessageError,
    on_off,
    parse_message,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.settings import MqttSettings, StrictModel
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.api")

SERVICE_ID = "api"


@dataclass
class Counters:
    """Messages seen since start (exported as Prometheus counters)."""

    received: int = 0
    invalid: int = 0


@dataclass
class Snapshot:
    """The newest known state of the system, as received over MQTT."""

    controller: ControllerState | None = None
    controller_config: dict[str, Any] | None = None
    grid: GridReading | None = None
    grid_received_at: float | None = None  # time.monotonic() when the newest grid reading arrived
    availability: dict[str, str] = field(default_factory=dict)  # service id -> online/offline
    devices: dict[tuple[str, str], DeviceState] = field(default_factory=dict)  # (actuator, device) -> state


class Gateway:
    """One MQTT connection: subscribes to the system's state and publishes the API's commands."""

    def __init__(self, settings: MqttSettings, bus: MqttBus | None = None) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.bus = bus or MqttBus.for_service(settings, SERVICE_ID)
        self.snapshot = Snapshot()
        self.counters = Counters()
        self._commanded_enabled: bool | None = None
        self._changed = asyncio.Event()
        self.bus.subscribe(self.topics.controller_state(), self._on_controller_state)
        self.bus.subscribe(self.topics.controller_config(), self._on_controller_config)
        self.bus.subscribe(self.topics.availability("+"), self._on_availability)
        self.bus.subscribe(self.topics.availability(actuator_service_id("+")), self._on_availability)
        self.bus.subscribe(self.topics.all_device_states(), self._on_device_state)
        self.bus.subscribe(self.topics.grid_power(), self._on_grid)
        self.bus.subscribe(self.topics.set_enabled(), self._on_set_enabled)

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set."""
        await self.bus.run(stop)

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self.bus.connected.is_set()

    @property
    def enabled(self) -> bool | None:
        """Whether zero export is on: the controller's state, else the last command seen; None if unknown."""
        if self.snapshot.controller is not None:
            return self.snapshot.controller.enabled
        return self._commanded_enabled

    async def wait_changed(self) -> None:
        """Return after the next message has updated the snapshot."""
        await self._changed.wait()

    async def set_enabled(self, enabled: bool) -> bool:
        """Publish the on/off command retained; False when not connected."""
        self._commanded_enabled = enabled
        return await self.bus.publish(self.topics.set_enabled(), on_off(enabled), retain=True)

    async def set_controller_config(self, config: StrictModel) -> bool:
        """Publish the controller's complete tunables retained; False when not connected."""
        return await self.bus.publish(self.topics.controller_config_set(), config, retain=True)

    # ---- subscriptions ----------------------------------------------------------------------

    def _count(self) -> None:
        """Count a message and wake wait_changed(); the waiters run after the handler (it never awaits)."""
        self.counters.received += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _invalid(self, message: IncomingMessage, error: Exception) -> None:
        self.counters.invalid += 1
        log.debug("ignoring %s: %s", message.topic, error)

    async def _on_controller_state(self, message: IncomingMessage) -> None:
        self._count()
        try:
            self.snapshot.controller = parse_message(ControllerState, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)

    async def _on_controller_config(self, message: IncomingMessage) -> None:
        self._count()
        try:
            config = parse_message(ControllerTunables, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        self.snapshot.controller_config = config.model_dump()

    async def _on_availability(self, message: IncomingMessage) -> None:
        self._count()
        head = f"{self.topics.prefix}/"
        service_id = message.topic[len(head) : -len("/availability")]
        if message.text in {"online", "offline"}:
            self.snapshot.availability[service_id] = message.text
        elif not message.payload:  # retained availability cleared: the service is gone
            self.snapshot.availability.pop(service_id, None)
        else:
            self._invalid(message, ValueError(f"unexpected availability {message.text[:40]!r}"))

    async def _on_device_state(self, message: IncomingMessage) -> None:
        self._count()
        parts = message.topic.split("/")
        key = (parts[-4], parts[-2])
        if not message.payload:
            self.snapshot.devices.pop(key, None)
            return
        try:
            self.snapshot.devices[key] = parse_message(DeviceState, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)

    async def _on_grid(self, message: IncomingMessage) -> None:
        self._count()
        try:
            reading = parse_message(GridReading, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        self.snapshot.grid = reading
        self.snapshot.grid_received_at = time.monotonic()

    async def _on_set_enabled(self, message: IncomingMessage) -> None:
        self._count()
        text = message.text.strip().strip('"').lower()
        if text in {"on", "off"}:
            self._commanded_enabled = text == "on"
