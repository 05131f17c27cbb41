"""Home Assistant MQTT discovery: zeropower's entities appear in Home Assistant without any YAML.

``discovery_messages`` is a pure builder (settings, topic catalogue, announced actuators → retained config
payloads by discovery topic), entities on the devices of ``ha_devices``; ``ha_publisher`` keeps them published.
See docs/home-assistant.md.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import AnyHttpUrl, Field

from zeropower.api.ha_devices import DeviceCatalogue, HaDevice, slug
from zeropower.controller.settings import ControllerSettings, DiverterOrder, SurplusOrder
from zeropower.shared.messages import ActuatorAnnouncement, ActuatorMode, ControllerMode, DeviceInfo
from zeropower.shared.mqtt import OFFLINE, ONLINE
from zeropower.shared.settings import StrictModel
from zeropower.shared.topics import HomeAssistantTopics, Topics, actuator_service_id

Payload = dict[str, Any]

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
    web_ui_url: AnyHttpUrl | None = Field(
        None,
        description="The web UI's address as Home Assistant's users reach it (e.g. http://raspberrypi.local:8000/): "
        "the 'Visit' link on zeropower's devices. Unset: no link (the API cannot know how others reach it).",
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
    """Every discovery config payload by its topic: controller, meter, API, each actuator and announced device."""
    builder = _Builder(settings, topics)
    builder.controller_entities()
    builder.meter_entities()
    builder.api_entities()
    for _, announcement in sorted(actuators.items()):
        builder.actuator_entities(announcement)
    return builder.messages


def tunable_bounds(field: str, step: float) -> tuple[float, float]:
    """The inclusive bounds of a number setting one tunable: ControllerSettings' ge/le (gt: one step above it)."""
    low = high = None
    for constraint in ControllerSettings.model_fields[field].metadata:
        low = getattr(constraint, "ge", low)
        if getattr(constraint, "gt", None) is not None:
            low = constraint.gt + step
        high = getattr(constraint, "le", high)
    if low is None or high is None:
        raise ValueError(f"ControllerSettings.{field} has no lower or upper bound")
    return float(low), float(high)


#: The numbers setting controller tunables: field → (entity key, name, step, unit, device class). ``target_w``
#: is shown from the controller's state, the others from its config, as configuration entities.
NUMBERS: dict[str, tuple[str, str, float, str | None, str | None]] = {
    "target_w": ("target", "Grid power target", 1.0, "W", "power"),
    "deadband_w": ("deadband", "Deadband", 1.0, "W", "power"),
    "raise_gain": ("raise_gain", "Raise gain", 0.05, None, None),
    "cut_gain": ("cut_gain", "Cut gain", 0.05, None, None),
    "divert_gain": ("divert_gain", "Divert gain", 0.05, None, None),
    "stale_after_s": ("stale_after", "Stale after", 1.0, "s", "duration"),
    "dead_time_s": ("dead_time", "Dead time", 0.5, "s", "duration"),
    "forecast_quantile": ("forecast_quantile", "Forecast quantile", 0.05, None, None),
    "battery_reserve_soc_pct": ("battery_reserve", "Battery reserve", 1.0, "%", "battery"),
}
#: The selects setting tunables of a few values: field (also the entity key) → (name, options).
SELECTS: dict[str, tuple[str, list[str]]] = {
    "diverter_order": ("Diverter order", list(get_args(DiverterOrder))),
    "surplus_order": ("Surplus order", list(get_args(SurplusOrder))),
}
#: The switches setting boolean tunables: field → (entity key, name).
SWITCHES = {
    "divert": ("divert", "Diverters"),
    "dry_run": ("dry_run", "Dry run"),
    "forecast_load": ("forecast_load", "Forecast load"),
}
POWER: Payload = {
    "device_class": "power",
    "unit_of_measurement": "W",
    "state_class": "measurement",
    "suggested_display_precision": 0,
}
DIAGNOSTIC: Payload = {"entity_category": "diagnostic"}
CONFIG: Payload = {"entity_category": "config"}


def _value(field: str) -> str:
    return f"{{{{ value_json.{field} }}}}"


def _flag(field: str) -> str:
    """A value template giving HA's default binary sensor payloads ``ON``/``OFF`` from a JSON boolean."""
    return f"{{{{ 'ON' if value_json.{field} else 'OFF' }}}}"


class _Builder:
    """Collects the config payloads; the common keys (device, origin, availability) are added here."""

    def __init__(self, settings: HaDiscoverySettings, topics: Topics) -> None:
        self.settings = settings
        self.topics = topics
        url = None if settings.web_ui_url is None else str(settings.web_ui_url)
        self.devices = DeviceCatalogue(settings.node_id, url)
        self.messages: dict[str, Payload] = {}

    def add(
        self,
        component: str,
        device: HaDevice,
        key: str,
        name: str,
        config: Payload,
        *,
        services: list[str],
        unique_key: str | None = None,
    ) -> None:
        """One entity of ``device``: unique id ``<node_id>_<device key>_<key>`` unless ``unique_key`` is given.

        The entity id Home Assistant picks first is ``<component>.<node_id>_<device slug>_<key>``; its name is
        short (``Power``): Home Assistant shows it after the device's name. Without ``services`` the entity is
        always available (a connectivity sensor, which reads the availability topic itself).
        """
        unique = unique_key or "_".join(part for part in (device.key, key) if part)
        object_id = safe_id(f"{self.settings.node_id}_{unique}")
        entity = slug("_".join(part for part in (self.settings.node_id, device.slug, key) if part))
        availability: Payload = {
            "availability": [{"topic": self.topics.availability(service)} for service in services],
            "availability_mode": "all",
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
        }
        self.messages[discovery_topic(self.settings, component, object_id)] = {
            "name": name,
            "unique_id": object_id,
            "default_entity_id": f"{component}.{entity}",  # replaces object_id (removed in HA 2026.4)
            "device": device.block,
            "origin": {"name": "zeropower"},
            **(availability if services else {}),
            **config,
        }

    def connectivity(self, device: HaDevice, service: str, name: str = "Connectivity") -> None:
        """A service's connectivity, from its availability topic (its last will makes it ``offline``)."""
        self.add(
            "binary_sensor",
            device,
            slug(name),
            name,
            {
                "state_topic": self.topics.availability(service),
                "payload_on": ONLINE,
                "payload_off": OFFLINE,
                "device_class": "connectivity",
                **DIAGNOSTIC,
            },
            services=[],
        )

    def controller_entities(self) -> None:
        """The controller's entities, on the main device: the switch, its mode, totals, every tunable."""
        main, state = self.devices.main, self.topics.controller_state()
        self.connectivity(main, CONTROLLER, "Controller connectivity")
        self.add(
            "switch",
            main,
            "zero_export",
            "Zero export",
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
            services=[CONTROLLER],
        )
        self.add(
            "sensor",
            main,
            "controller_mode",
            "Controller mode",
            {
                "icon": "mdi:state-machine",
                "state_topic": state,
                "value_template": "{{ value_json.mode }}",
                "device_class": "enum",
                "options": list(get_args(ControllerMode)),
                "json_attributes_topic": state,
                "json_attributes_template": "{{ {'reason': value_json.reason} | tojson }}",
            },
            services=[CONTROLLER],
        )
        output = {"state_topic": state, **_power("output_w")}
        self.add("sensor", main, "output", "Inverter output", output, services=[CONTROLLER])
        limit = {"state_topic": state, **_power("limit_w"), "icon": "mdi:speedometer", **DIAGNOSTIC}
        self.add("sensor", main, "limit", "Inverter limit", limit, services=[CONTROLLER])
        self.tunable_entities(main)

    def tunable_entities(self, main: HaDevice) -> None:
        """A number, switch or select per run-time tunable, each sending a partial update (never retained)."""
        config = self.topics.controller_config()
        command: Payload = {
            "command_topic": self.topics.controller_config_set(),
            "retain": False,  # a command: the controller keeps its tunables itself and ignores retained ones
            "qos": 1,
        }
        for field, (key, name, step, unit, device_class) in NUMBERS.items():
            low, high = tunable_bounds(field, step)
            shown: Payload = {"state_topic": self.topics.controller_state()} if field == "target_w" else CONFIG
            number: Payload = {"command_template": '{"' + field + '": {{ value }}}', "min": low, "max": high}
            if unit is not None:
                number |= {"unit_of_measurement": unit, "device_class": device_class}
            self.add(
                "number",
                main,
                key,
                name,
                {
                    "state_topic": config,
                    "value_template": _value(field),
                    **command,
                    **number,
                    "step": step,
                    "mode": "box",
                    **shown,
                },
                services=[CONTROLLER],
            )
        for field, (key, name) in SWITCHES.items():
            switch = {
                "state_topic": config,
                "value_template": f"{{{{ 'on' if value_json.{field} else 'off' }}}}",
                "state_on": "on",
                "state_off": "off",
                "payload_on": f'{{"{field}": true}}',
                "payload_off": f'{{"{field}": false}}',
            }
            self.add("switch", main, key, name, {**switch, **command, **CONFIG}, services=[CONTROLLER])
        for field, (name, options) in SELECTS.items():
            select = {
                "state_topic": config,
                "value_template": _value(field),
                "options": options,
                "command_template": '{"' + field + '": "{{ value }}"}',
            }
            self.add("select", main, field, name, {**select, **command, **CONFIG}, services=[CONTROLLER])

    def meter_entities(self) -> None:
        """The meter's device: grid power (with the meter's error as an attribute), its energy counters."""
        meter, grid = self.devices.service(METER, "Grid meter", "Meter service"), self.topics.grid_power()
        self.connectivity(meter, METER)
        error = {
            "json_attributes_topic": grid,
            "json_attributes_template": "{{ {'error': value_json.error} | tojson }}",
        }
        power = {"state_topic": grid, **_power("power_w"), **error}
        self.add("sensor", meter, "power", "Power", power, unique_key="grid_power", services=[METER])
        for direction in ("import", "export"):
            self.add(
                "sensor",
                meter,
                f"energy_{direction}",
                f"Energy {direction}ed",
                {"state_topic": grid, "value_template": _value(f"energy_{direction}_wh"), **ENERGY},
                unique_key=f"grid_energy_{direction}",
                services=[METER],
            )

    def api_entities(self) -> None:
        """The API's device: today's energy totals it counts."""
        api, energy_today = self.devices.service(API, "zeropower API", "API service"), self.topics.energy_today()
        self.connectivity(api, API)
        for direction in ("imported", "exported", "produced", "diverted"):
            key = f"{direction}_today"
            config = {"state_topic": energy_today, "value_template": _value(f"{direction}_wh"), **ENERGY}
            self.add("sensor", api, key, f"Energy {direction} today", config, unique_key=key, services=[API])

    def actuator_entities(self, announcement: ActuatorAnnouncement) -> None:
        """An actuator's device and one device per inverter, diverter or battery it announces."""
        service = actuator_service_id(announcement.actuator_id)
        self.connectivity(self.devices.actuator(announcement), service)
        for device in announcement.devices:
            ha_device = self.devices.device(announcement, device)
            state = self.topics.device_state(announcement.actuator_id, device.device_id)
            if device.kind == "consumer":
                self.consumer_entities(ha_device, state, service)
            elif device.kind == "storage":
                self.storage_entities(ha_device, state, service, announcement.actuator_id, device)
            else:
                self.inverter_entities(ha_device, state, service, device)

    def inverter_entities(self, ha_device: HaDevice, state: str, service: str, device: DeviceInfo) -> None:
        """An inverter: output, yield, limit in force, reachable and producing."""
        limit = {**_power("limit_w"), "icon": "mdi:speedometer", **DIAGNOSTIC}
        for key, name, config in (
            ("power", "Power", _power("power_w")),
            ("limit", "Limit", limit),
            ("energy", "Energy", {"value_template": _value("energy_wh"), **ENERGY}),
        ):
            self.add("sensor", ha_device, key, name, {"state_topic": state, **config}, services=[service])
        for key, name, config in (
            ("reachable", "Reachable", {"device_class": "connectivity", **DIAGNOSTIC}),
            ("producing", "Producing", {"device_class": "running"}),
        ):
            flag = {"state_topic": state, "value_template": _flag(key), **config}
            self.add("binary_sensor", ha_device, key, name, flag, services=[service])

    def consumer_entities(self, ha_device: HaDevice, state: str, service: str) -> None:
        """A diverter: its (estimated) draw and its energy counter."""
        self.add("sensor", ha_device, "power", "Power", {"state_topic": state, **_power("power_w")}, services=[service])
        energy = {"state_topic": state, "value_template": _value("energy_wh"), **ENERGY}
        self.add("sensor", ha_device, "energy", "Energy", energy, services=[service])

    def storage_entities(
        self, ha_device: HaDevice, state: str, service: str, actuator_id: str, device: DeviceInfo
    ) -> None:
        """A battery: its SoC, its power (positive = charging), its actuator's mode, its reserve, reachable.

        The reserve is read-only, from the announcement (actuator-battery's ``reserve_soc_pct`` setting, the
        battery's floor); the reserve a user keeps for the night is the controller's number "Battery reserve".
        """
        soc = {
            "value_template": "{{ value_json.soc_pct | default(None) }}",  # absent while unknown: HA's unknown
            "device_class": "battery",
            "unit_of_measurement": "%",
            "state_class": "measurement",
            "suggested_display_precision": 0,
        }
        self.add("sensor", ha_device, "soc", "State of charge", {"state_topic": state, **soc}, services=[service])
        power = {"state_topic": state, **_power("power_w"), "icon": "mdi:battery-charging"}
        self.add("sensor", ha_device, "power", "Charge power", power, services=[service])  # negative: discharging
        actuator_state = self.topics.actuator_state(actuator_id)
        mode = {
            "icon": "mdi:state-machine",
            "state_topic": actuator_state,
            "value_template": "{{ value_json.mode }}",
            "device_class": "enum",
            "options": list(get_args(ActuatorMode)),
            "json_attributes_topic": actuator_state,
            "json_attributes_template": "{{ {'reason': value_json.reason} | tojson }}",
        }
        self.add("sensor", ha_device, "mode", "Mode", mode, services=[service])
        this = json.dumps(device.device_id)  # a JSON string is a Jinja string literal
        reserve = {
            "icon": "mdi:battery-lock",
            "state_topic": self.topics.actuator_announce(actuator_id),
            "value_template": f"{{% for d in value_json.devices if d.device_id == {this} %}}"
            "{{ d.storage.min_soc_pct }}{% else %}None{% endfor %}",
            "unit_of_measurement": "%",
            "suggested_display_precision": 0,
            **DIAGNOSTIC,
        }
        self.add("sensor", ha_device, "reserve", "Reserve", reserve, services=[service])
        reachable = {"state_topic": state, "value_template": _flag("reachable"), "device_class": "connectivity"}
        self.add("binary_sensor", ha_device, "reachable", "Reachable", {**reachable, **DIAGNOSTIC}, services=[service])


def _power(field: str) -> Payload:
    """A power sensor's keys reading ``field`` in W."""
    return {"value_template": _value(field), **POWER}
