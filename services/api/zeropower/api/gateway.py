"""The gateway's MQTT side: keeps the newest state of every service in memory and publishes commands.

Commands (``set/enabled``, ``controller/config/set``) are published once and never retained, so nothing
sends them again after a reconnect; what is in force is the controller's retained state and config.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from zeropower.api.energy import DayEnergy
from zeropower.api.history import PowerHistory
from zeropower.controller.settings import ControllerTunables, TunablesUpdateBase
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    ControllerState,
    DeviceInfo,
    DeviceKind,
    DeviceState,
    EnergyToday,
    GridReading,
    InvalidMessageError,
    on_off,
    parse_message,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics, actuator_service_id

log = logging.getLogger("zeropower.api")

SERVICE_ID = "api"
CONTROLLER = "controller"  # the service id whose availability says whether a command reaches anyone
ENERGY_PUBLISH_S = 10.0  # today's energy totals are published (retained) at most this often

DeviceKey = tuple[str, str]  # (actuator id, device id)


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
    devices: dict[DeviceKey, DeviceState] = field(default_factory=dict)
    announced: dict[DeviceKey, DeviceInfo] = field(default_factory=dict)  # from the actuators' announcements

    def kind(self, key: DeviceKey) -> DeviceKind:
        """What a device is, as its actuator announced it (an inverter until announced otherwise)."""
        info = self.announced.get(key)
        return "inverter" if info is None else info.kind

    def name(self, key: DeviceKey) -> str:
        """A device's name, as its actuator announced it (its id until announced)."""
        info = self.announced.get(key)
        return key[1] if info is None else info.name

    def of_kind(self, kind: DeviceKind) -> dict[DeviceKey, DeviceState]:
        """The states of the devices of one kind, sorted by key."""
        return {key: state for key, state in sorted(self.devices.items()) if self.kind(key) == kind}

    def consumers(self) -> dict[DeviceKey, DeviceState]:
        """The states of the consumer devices (diverters), sorted by key."""
        return self.of_kind("consumer")

    def storages(self) -> dict[DeviceKey, DeviceState]:
        """The states of the storage devices (batteries), sorted by key."""
        return self.of_kind("storage")

    def live(self, devices: dict[DeviceKey, DeviceState]) -> dict[DeviceKey, DeviceState]:
        """The devices whose actuator is not offline: a killed actuator's retained state keeps its last figures."""
        return {
            key: state
            for key, state in devices.items()
            if self.availability.get(actuator_service_id(key[0])) != "offline"
        }

    def diverter_power_w(self) -> float | None:
        """The diverters' draw now, None when none reports one (only those whose actuator is not offline)."""
        powers = [state.power_w for state in self.live(self.consumers()).values() if state.power_w is not None]
        return sum(powers) if powers else None

    def storage_power_w(self) -> float | None:
        """The batteries' power at their terminals now (positive = charging), None when none reports one.

        Only those whose actuator is not offline count, as for the diverters.
        """
        powers = [state.power_w for state in self.live(self.storages()).values() if state.power_w is not None]
        return sum(powers) if powers else None

    def storage_soc_pct(self) -> float | None:
        """The batteries' state of charge together in %: their SoCs weighted by capacity; None when none is known.

        Only batteries whose actuator is not offline and that report a SoC count.
        """
        held = capacity = 0.0
        for key, state in self.live(self.storages()).items():
            info = self.announced[key].storage  # a storage device is announced (else its kind is unknown)
            if state.soc_pct is not None and info is not None:
                held += state.soc_pct * info.capacity_wh
                capacity += info.capacity_wh
        return held / capacity if capacity else None


class Gateway:
    """One MQTT connection: subscribes to the system's state and publishes the API's commands."""

    def __init__(
        self,
        settings: MqttSettings,
        bus: MqttBus | None = None,
        energy: DayEnergy | None = None,
        history: PowerHistory | None = None,
    ) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.bus = bus or MqttBus.for_service(settings, SERVICE_ID)
        self.snapshot = Snapshot()
        self.counters = Counters()
        self.energy = energy or DayEnergy()
        self.history = history or PowerHistory()
        self.energy_publish_s = ENERGY_PUBLISH_S
        self._connected_at: float | None = None  # time.monotonic() of the first connect
        self._energy_published_at: float | None = None  # time.monotonic() of the last publish; None: not yet
        self._changed = asyncio.Event()
        self.bus.subscribe(self.topics.controller_state(), self._on_controller_state)
        self.bus.subscribe(self.topics.controller_config(), self._on_controller_config)
        self.bus.subscribe(self.topics.availability("+"), self._on_availability)
        self.bus.subscribe(self.topics.availability(actuator_service_id("+")), self._on_availability)
        self.bus.subscribe(self.topics.all_device_states(), self._on_device_state)
        self.bus.subscribe(self.topics.grid_power(), self._on_grid)
        self.bus.subscribe(self.topics.all_actuator_announcements(), self._on_announcement)
        self.bus.subscribe(self.topics.energy_today(), self._on_energy_today)
        self.bus.on_connect(self._on_connect)

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set."""
        await self.bus.run(stop)

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self.bus.connected.is_set()

    @property
    def enabled(self) -> bool | None:
        """Whether zero export is on, as the controller reports it; None while unknown."""
        controller = self.snapshot.controller
        return None if controller is None else controller.enabled

    @property
    def controller_online(self) -> bool:
        """True while the controller's availability is ``online``: a command sent now reaches it."""
        return self.snapshot.availability.get(CONTROLLER) == "online"

    async def wait_changed(self) -> None:
        """Return after the next message has updated the snapshot."""
        await self._changed.wait()

    async def set_enabled(self, enabled: bool) -> bool:
        """Publish the on/off command (not retained); False when not connected."""
        return await self.bus.publish(self.topics.set_enabled(), on_off(enabled), acknowledged=True)

    async def change_controller_config(self, update: TunablesUpdateBase) -> bool:
        """Publish the given fields of a tunables change (not retained); False when not connected."""
        return await self.bus.publish(
            self.topics.controller_config_set(), update.model_dump_json(exclude_unset=True), acknowledged=True
        )

    async def _on_connect(self) -> None:
        """Note the first connect: today's totals are first published ENERGY_PUBLISH_S after it."""
        if self._connected_at is None:
            self._connected_at = time.monotonic()

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
            return
        self.history.record(self.snapshot)

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
            state = parse_message(DeviceState, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        self.snapshot.devices[key] = state
        announced = self.snapshot.announced.get(key)
        if announced is None:  # what it is (inverter or diverter) is not known yet: count from its next state on
            return
        if announced.kind == "consumer":
            self.energy.add_diverter(key, state)
        elif announced.kind == "inverter":
            self.energy.add_inverter(key, state)
        else:  # storage: its charge is neither produced nor diverted, its discharge no production
            return
        await self._publish_energy()

    async def _on_grid(self, message: IncomingMessage) -> None:
        self._count()
        try:
            reading = parse_message(GridReading, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        self.snapshot.grid = reading
        self.snapshot.grid_received_at = time.monotonic()
        self.energy.add_grid(reading)
        self.history.record(self.snapshot)
        await self._publish_energy()

    async def _on_announcement(self, message: IncomingMessage) -> None:
        self._count()
        actuator_id = message.topic.split("/")[-2]
        announced = self.snapshot.announced
        for key in [key for key in announced if key[0] == actuator_id]:
            del announced[key]
        if not message.payload:  # the actuator was removed
            return
        try:
            announcement = parse_message(ActuatorAnnouncement, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        announced.update({(actuator_id, device.device_id): device for device in announcement.devices})

    async def _on_energy_today(self, message: IncomingMessage) -> None:
        """Continue the day from the totals a previous run left retained (only before publishing any)."""
        if not message.retain or self._energy_published_at is not None:
            return  # our own publishes coming back, or our retained totals after a reconnect
        self._count()
        try:
            saved = parse_message(EnergyToday, message.payload)
        except InvalidMessageError as error:
            self._invalid(message, error)
            return
        if self.energy.restore(saved):
            log.info("continuing today's energy totals from %s", message.topic)

    async def _publish_energy(self) -> None:
        """Publish today's totals retained, at most every ``energy_publish_s``."""
        now = time.monotonic()
        if self._energy_published_at is not None and now - self._energy_published_at < self.energy_publish_s:
            return
        if self._energy_published_at is None and now - (self._connected_at or now) < self.energy_publish_s:
            return  # give the retained totals of a previous run time to arrive first
        self._energy_published_at = now
        await self.bus.publish(self.topics.energy_today(), self.energy.message(), retain=True)
