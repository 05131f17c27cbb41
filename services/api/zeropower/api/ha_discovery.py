"""Home Assistant MQTT discovery: zeropower's entities appear in Home Assistant without any YAML.

``discovery_messages`` is a pure builder (settings, topic catalogue, announced actuators → retained config
payloads by discovery topic); ``HaDiscoveryPublisher`` keeps them published on the bus: on every connect,
whenever an actuator announces itself or goes away, and when Home Assistant restarts (``<prefix>/status``
``online``). See docs/home-assistant.md.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, get_args

from pydantic import Field

from zeropower.controller.settings import ControllerSettings
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    ControllerMode,
    DeviceInfo,
    InvalidMessageError,
    parse_message,
)
from zeropower.shared.mqtt import OFFLINE, ONLINE, IncomingMessage, MqttBus
from zeropower.shared.settings import StrictModel
from zeropower.shared.topics import HomeAssistantTopics, Topics, actuator_service_id

log = logging.getLogger(__name__)

Payload = dict[str, Any]

#: Home Assistant's own birth message on ``<prefix>/status`` after it (re)starts.
HA_ONLINE = "online"

#: Service ids of the services whose last will makes the entities unavailable.
CONTROLLER = "controller"
METER = "meter"
API = "api"

#: Energy sensors: Home Assistant's Energy dashboard needs total or total_increasing. Every energy value here
#: only grows and at times restarts from 0 (a lifetime counter after a device reset, a "today" total at
#: midnight), which is what total_increasing means; ``total`` would need last_reset and would count a restart
#: of the API without its retained totals as negative energy.
ENERGY: Payload = {
    "device_class": "energy",
    "unit_of_measurement": "Wh",
    "state_class": "total_increasing",
    "suggested_display_precision": 0,
}


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class HaDiscoverySettings(StrictModel):
    """Home Assistant MQTT discovery."""

    enabled: bool = Field(True, description="Publish Home Assistant discovery configs (entities appear by themselves).")
    prefix: str = Field(
        "homeassistant",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="Home Assistant's discovery prefix (its MQTT integration setting, 'homeassistant' by default).",
    )
    node_id: str = Field(
        "zeropower",
        min_length=1,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Id of this installation in discovery topics and unique ids; change it when two share one HA.",
    )


def safe_id(text: str) -> str:
    """An id made of the characters Home Assistant allows in discovery topics (letters, digits, _ and -)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def discovery_topic(settings: HaDiscoverySettings, component: str, object_id: str) -> str:
    """The retained config topic of one entity: ``<prefix>/<component>/<node_id>/<object_id>/config``."""
    return HomeAssistantTopics(settings.prefix).config(component, settings.node_id, object_id)


def discovery_messages(
    settings: HaDiscoverySettings, topics: Topics, actuators: dict[str, ActuatorAnnouncement]
) -> dict[str, Payload]:
    """Every discovery config payload by its topic: controller, meter, today's energy, each announced device."""
    builder = _Builder(settings, topics)
    builder.controller_entities()
    builder.meter_entities()
    builder.energy_today_entities()
    for actuator_id, announcement in sorted(actuators.items()):
        for device in announcement.devices:
            if device.kind == "consumer":
                builder.consumer_entities(actuator_id, device)
            else:
                builder.inverter_entities(actuator_id, device)
    return builder.messages


def tunable_bounds(field: str) -> tuple[float, float]:
    """The inclusive bounds ControllerSettings validates one tunable with (the number's min and max)."""
    low = high = None
    for constraint in ControllerSettings.model_fields[field].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if low is None or high is None:
        raise ValueError(f"ControllerSettings.{field} has no ge/le bounds")
    return float(low), float(high)


class _Builder:
    """Collects the config payloads; the common keys (device, origin, availability) are added here."""

    def __init__(self, settings: HaDiscoverySettings, topics: Topics) -> None:
        self.settings = settings
        self.topics = topics
        self.messages: dict[str, Payload] = {}
        self.device = {
            "identifiers": [settings.node_id],
            "name": "zeropower",
            "manufacturer": "zeropower",
            "model": "Zero-export controller",
        }

    def add(self, component: str, key: str, name: str, services: list[str], config: Payload) -> None:
        object_id = safe_id(f"{self.settings.node_id}_{key}")
        self.messages[discovery_topic(self.settings, component, object_id)] = {
            "name": name,
            "unique_id": object_id,
            "default_entity_id": f"{component}.{object_id}",  # replaces object_id (removed in HA 2026.4)
            "device": self.device,
            "origin": {"name": "zeropower"},
            "availability": [{"topic": self.topics.availability(service)} for service in services],
            "availability_mode": "all",
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            **config,
        }

    def controller_entities(self) -> None:
        state = self.topics.controller_state()
        self.add(
            "switch",
            "zero_export",
            "Zero export",
            [CONTROLLER],
            {
                "icon": "mdi:transmission-tower-off",
                "state_topic": state,
                "value_template": "{{ 'on' if value_json.enabled else 'off' }}",
                "state_on": "on",
                "state_off": "off",
                "command_topic": self.topics.set_enabled(),
                "payload_on": "on",
                "payload_off": "off",
                "retain": False,  # a command: the controller keeps the switch itself and ignores retained ones
                "qos": 1,
            },
        )
        self.add(
            "sensor",
            "controller_mode",
            "Controller mode",
            [CONTROLLER],
            {
                "icon": "mdi:state-machine",
                "state_topic": state,
                "value_template": "{{ value_json.mode }}",
                "device_class": "enum",
                "options": list(get_args(ControllerMode)),
                "json_attributes_topic": state,
                "json_attributes_template": "{{ {'reason': value_json.reason} | tojson }}",
            },
        )
        config, config_set = self.topics.controller_config(), self.topics.controller_config_set()
        self.add(
            "number",
            "target",
            "Grid power target",
            [CONTROLLER],
            {
                **self._number("target_w", config_set),
                "state_topic": state,
                "value_template": "{{ value_json.target_w }}",
            },
        )
        self.add(
            "number",
            "deadband",
            "Deadband",
            [CONTROLLER],
            {
                **self._number("deadband_w", config_set),
                "state_topic": config,
                "value_template": "{{ value_json.deadband_w }}",
                "entity_category": "config",
            },
        )

    @staticmethod
    def _number(field: str, command_topic: str) -> Payload:
        """Common keys of a number that sets one controller tunable in W (a partial update, not retained)."""
        low, high = tunable_bounds(field)
        return {
            "command_topic": command_topic,
            "command_template": '{"' + field + '": {{ value }}}',
            "retain": False,  # a command: the controller keeps its tunables itself and ignores retained ones
            "min": low,
            "max": high,
            "step": 1.0,
            "mode": "box",
            "unit_of_measurement": "W",
            "device_class": "power",
            "qos": 1,
        }

    def meter_entities(self) -> None:
        grid = self.topics.grid_power()
        self.add(
            "sensor",
            "grid_power",
            "Grid power",
            [METER],
            {
                "state_topic": grid,
                "value_template": "{{ value_json.power_w }}",
                "device_class": "power",
                "unit_of_measurement": "W",
                "state_class": "measurement",
                "suggested_display_precision": 0,
            },
        )
        for direction in ("import", "export"):
            self.add(
                "sensor",
                f"grid_energy_{direction}",
                f"Grid energy {direction}ed",
                [METER],
                {"state_topic": grid, "value_template": f"{{{{ value_json.energy_{direction}_wh }}}}", **ENERGY},
            )

    def energy_today_entities(self) -> None:
        energy_today = self.topics.energy_today()
        for field, name in (
            ("imported_wh", "Energy imported today"),
            ("exported_wh", "Energy exported today"),
            ("diverted_wh", "Energy diverted today"),
        ):
            self.add(
                "sensor",
                f"{field.removesuffix('_wh')}_today",
                name,
                [API],
                {"state_topic": energy_today, "value_template": f"{{{{ value_json.{field} }}}}", **ENERGY},
            )

    def inverter_entities(self, actuator_id: str, device: DeviceInfo) -> None:
        state = self.topics.device_state(actuator_id, device.device_id)
        services = [actuator_service_id(actuator_id)]
        key = f"{actuator_id}_{device.device_id}"
        for field, label, extra in (
            ("power_w", "output", {"state_class": "measurement"}),
            ("limit_w", "limit", {"icon": "mdi:speedometer"}),
        ):
            self.add(
                "sensor",
                f"{key}_{field.removesuffix('_w')}",
                f"Inverter {device.name} {label}",
                services,
                {
                    "state_topic": state,
                    "value_template": f"{{{{ value_json.{field} }}}}",
                    "device_class": "power",
                    "unit_of_measurement": "W",
                    "suggested_display_precision": 0,
                    **extra,
                },
            )

    def consumer_entities(self, actuator_id: str, device: DeviceInfo) -> None:
        state = self.topics.device_state(actuator_id, device.device_id)
        services = [actuator_service_id(actuator_id)]
        key = f"{actuator_id}_{device.device_id}"
        self.add(
            "sensor",
            f"{key}_power",
            f"Diverter {device.name} power",
            services,
            {
                "state_topic": state,
                "value_template": "{{ value_json.power_w }}",
                "device_class": "power",
                "unit_of_measurement": "W",
                "state_class": "measurement",
                "suggested_display_precision": 0,
            },
        )
        self.add(
            "sensor",
            f"{key}_energy",
            f"Diverter {device.name} energy",
            services,
            {"state_topic": state, "value_template": "{{ value_json.energy_wh }}", **ENERGY},
        )


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
