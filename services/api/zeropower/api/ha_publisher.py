"""Keeps Home Assistant's discovery configs published (retained) as actuators come and go.

Published on every connect, whenever an actuator announces itself or goes away, and when Home Assistant restarts
(``<prefix>/status`` ``online``). See docs/home-assistant.md.
"""

from __future__ import annotations

import json
import logging

from zeropower.api.ha_discovery import HaDiscoverySettings, Payload, discovery_messages
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import ActuatorAnnouncement, InvalidMessageError, parse_message
from zeropower.shared.mqtt import ONLINE, IncomingMessage, MqttBus
from zeropower.shared.topics import HomeAssistantTopics, Topics, actuator_service_id

log = logging.getLogger(__name__)

#: Home Assistant's own birth message on ``<prefix>/status`` after it (re)starts.
HA_ONLINE = "online"


class HaDiscoveryPublisher:
    """Keeps the discovery configs published on one bus (retained), tracking announced actuators."""

    def __init__(self, bus: MqttBus, settings: HaDiscoverySettings, topics: Topics) -> None:
        self._bus = bus
        self._settings = settings
        self._topics = topics
        self._actuators: dict[str, ActuatorAnnouncement] = {}
        self._online: set[str] = set()  # actuators whose availability says online
        self._published: dict[str, Payload] = {}
        self._bad_announcement = ChangeLogger(log, "announcements")

    def install(self) -> None:
        """Register the subscriptions and the connect hook; call before ``bus.run``. Does nothing when disabled."""
        if not self._settings.enabled:
            log.info("Home Assistant discovery is switched off")
            return
        self._bus.subscribe(self._topics.all_actuator_announcements(), self._on_announcement)
        self._bus.subscribe(self._topics.availability(actuator_service_id("+")), self._on_actuator_availability)
        self._bus.subscribe(HomeAssistantTopics(self._settings.prefix).status(), self._on_ha_status)
        self._bus.on_connect(self.publish_all)

    async def publish_all(self) -> None:
        """Publish every current config, and clear the ones no longer wanted (retained)."""
        await self._sync(republish=True)

    async def _on_ha_status(self, message: IncomingMessage) -> None:
        if message.text.strip() == HA_ONLINE:
            log.info("Home Assistant is online: publishing discovery again")
            await self._sync(republish=True)

    async def _on_actuator_availability(self, message: IncomingMessage) -> None:
        actuator_id = message.topic.split("/")[-2]
        if message.text == ONLINE:
            self._online.add(actuator_id)
        else:
            self._online.discard(actuator_id)

    async def _on_announcement(self, message: IncomingMessage) -> None:
        actuator_id = message.topic.split("/")[-2]
        if not message.payload:  # a removal counts only once the actuator is offline (as in the controller)
            if actuator_id in self._online:
                self._bad_announcement.report(f"ignoring an empty announcement of actuator {actuator_id}: it is online")
            elif self._actuators.pop(actuator_id, None) is not None:
                log.info("actuator %s removed: clearing its Home Assistant entities", actuator_id)
                await self._sync(republish=False)
            return
        try:
            announcement = parse_message(ActuatorAnnouncement, message.payload)
        except InvalidMessageError as error:
            self._bad_announcement.report(f"ignoring {message.topic}: {error}")
            return
        if announcement.actuator_id != actuator_id:
            self._bad_announcement.report(f"ignoring {message.topic}: it announces {announcement.actuator_id!r}")
            return
        self._bad_announcement.report(None)
        self._actuators[actuator_id] = announcement
        await self._sync(republish=False)

    async def _sync(self, *, republish: bool) -> None:
        """Publish new and changed configs (all of them with ``republish``), and empty payloads for stale ones."""
        wanted = discovery_messages(self._settings, self._topics, self._actuators)
        for topic in sorted(set(self._published) - set(wanted)):
            await self._bus.publish(topic, b"", retain=True)
            del self._published[topic]
        for topic, payload in wanted.items():
            if republish or self._published.get(topic) != payload:
                await self._bus.publish(topic, json.dumps(payload, separators=(",", ":")), retain=True)
                self._published[topic] = payload
