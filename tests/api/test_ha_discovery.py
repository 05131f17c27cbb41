"""Home Assistant discovery: payloads against HA's rules and our real topics; the publisher on Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any, get_args

import jinja2
import pytest
from pydantic import ValidationError

from tests.api.payloads import (
    BATTERY,
    HEATER,
    PWM,
    SOLARFLOW,
    battery_announcement,
    consumer_state,
    pwm_announcement,
    storage_state,
)
from tests.helpers import REPO, MqttProbe
from zeropower.api.ha_discovery import HaDiscoverySettings, discovery_messages, safe_id
from zeropower.api.ha_publisher import HaDiscoveryPublisher
from zeropower.controller.settings import (
    TUNABLE_FIELDS,
    ControllerSettings,
    ControllerTunables,
    ControllerTunablesUpdate,
    tunables_of,
)
from zeropower.shared.messages import (
    ActuatorAnnouncement,
    ActuatorMode,
    ActuatorState,
    ControllerMode,
    ControllerState,
    DeviceInfo,
    DeviceState,
    EnergyToday,
    GridReading,
    parse_message,
    parse_on_off,
)
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics, actuator_service_id

SERIAL = "114182912345"

# Keys Home Assistant requires per component (its MQTT switch/sensor/number docs), plus the ones we always set.
REQUIRED = {
    "switch": {"command_topic"},
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "number": {"command_topic", "min", "max"},
    "select": {"command_topic", "options"},
}
OURS = {"name", "unique_id", "default_entity_id", "device", "origin", "availability", "state_topic", "value_template"}
#: A service's connectivity reads its availability topic itself: no value template, always available.
CONNECTIVITY = {"name", "unique_id", "default_entity_id", "device", "origin", "state_topic"}
# device_class → allowed units and state classes (HA's sensor docs; energy must be total(_increasing) for the
# Energy dashboard).
UNITS = {"power": {"W", "kW"}, "energy": {"Wh", "kWh"}, "enum": {None}, "duration": {"s"}, "battery": {"%"}}
STATE_CLASSES = {
    "power": {None, "measurement"},
    "energy": {"total", "total_increasing"},
    "enum": {None},
    "battery": {None, "measurement"},
}
#: Binary sensors' device classes carry no unit.
BINARY_CLASSES = {"connectivity", "running"}


def announcement(actuator_id: str = "roof", *serials: str) -> ActuatorAnnouncement:
    names = ("roof", "balcony", "garage")
    serials = serials or (SERIAL,)
    devices = [DeviceInfo(device_id=s, name=name, min_w=40, max_w=800) for s, name in zip(serials, names, strict=False)]
    return ActuatorAnnouncement(actuator_id=actuator_id, driver="opendtu", devices=devices)


def by_unique_id(messages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {payload["unique_id"]: payload for payload in messages.values()}


def render(template: str, payload: str) -> str:
    """Render like HA's MQTT value templates: ``value`` is the text, ``value_json`` the parsed JSON."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return environment.from_string(template).render(value=payload, value_json=json.loads(payload))


def render_command(template: str, value: object) -> str:
    """Render like HA's MQTT command templates: ``value`` is what the user chose."""
    return (
        jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(template).render(value=value)
    )


def controller_state(**overrides: Any) -> ControllerState:
    values: dict[str, Any] = {
        "enabled": True,
        "mode": "regulating",
        "reason": "export: cut limits by 310 W",
        "grid_power_w": -290.0,
        "grid_age_s": 0.01,
        "target_w": 20.0,
        "output_w": 610.0,
        "limit_w": 300.0,
        "setpoints_w": {SERIAL: 300.0},
    }
    return ControllerState(**(values | overrides))


GRID = GridReading(power_w=-312.4, energy_import_wh=5312000.0, energy_export_wh=1201000.0)
DEVICE = DeviceState(
    actuator_id="roof",
    device_id=SERIAL,
    reachable=True,
    producing=True,
    power_w=305.2,
    limit_w=300.0,
    energy_wh=1234567.0,
)
HEATER_STATE = consumer_state(880.0, duty=0.44, energy_wh=7004.5)
TODAY = EnergyToday(date="2026-11-23", imported_wh=812.5, exported_wh=95.0, produced_wh=3120.0, diverted_wh=2210.0)
BATTERY_STATE = storage_state(-450.0, 62.5)
BATTERY_MODE = ActuatorState(actuator_id=BATTERY, mode="fail-safe", reason="solarflow unreachable: timeout")
ACTUATORS = {"roof": announcement(), PWM: pwm_announcement(), BATTERY: battery_announcement()}


@pytest.fixture
def topics() -> Topics:
    return Topics("zp")


def test_every_payload_has_the_required_keys_and_valid_classes(topics):
    components = {topic.split("/")[1] for topic in discovery_messages(HaDiscoverySettings(), topics, {})}
    assert components == {"switch", "sensor", "binary_sensor", "number", "select"}
    messages = discovery_messages(HaDiscoverySettings(), topics, ACTUATORS)
    assert messages
    for topic, payload in messages.items():
        prefix, component, node_id, object_id, tail = topic.split("/")
        assert (prefix, node_id, tail) == ("homeassistant", "zeropower", "config")
        assert object_id == payload["unique_id"] == safe_id(object_id)
        assert re.fullmatch(rf"{component}\.zeropower(_[a-z0-9]+)+", payload["default_entity_id"]), topic
        connectivity = payload.get("device_class") == "connectivity" and payload["state_topic"].endswith(
            "/availability"
        )
        missing = (REQUIRED[component] | (CONNECTIVITY if connectivity else OURS)) - set(payload)
        assert not missing, f"{topic} lacks {missing}"
        assert {"identifiers", "name", "model"} <= set(payload["device"])
        assert payload["origin"]["name"] == "zeropower"
        if not connectivity:
            assert payload["availability_mode"] == "all"
            assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
        device_class = payload.get("device_class")
        if component == "binary_sensor":
            assert device_class in BINARY_CLASSES, topic
            assert "unit_of_measurement" not in payload
        elif device_class is not None:
            assert payload.get("unit_of_measurement") in UNITS[device_class], topic
            if component == "sensor":
                assert payload.get("state_class") in STATE_CLASSES[device_class], topic
        json.dumps(payload)  # plain JSON
    unique_ids = [payload["unique_id"] for payload in messages.values()]
    assert len(unique_ids) == len(set(unique_ids))


def test_devices_inverters_diverters_and_services_hang_on_the_main_device(topics):
    """A device per inverter, diverter and service, each linked to the main one, named by name, not serial."""
    actuators = {"roof": announcement("roof", SERIAL, "114182967890"), PWM: pwm_announcement()}
    messages = discovery_messages(HaDiscoverySettings(), topics, actuators)
    devices = {payload["device"]["identifiers"][0]: payload["device"] for payload in messages.values()}
    main = devices.pop("zeropower")
    assert (main["name"], main["sw_version"]) == ("zeropower", version("zeropower-api"))
    assert "via_device" not in main
    assert "configuration_url" not in main  # unset: the API cannot know how Home Assistant's users reach it
    assert sorted(devices) == sorted(
        [
            "zeropower_meter",
            "zeropower_api",
            "zeropower_actuator_roof",
            "zeropower_actuator_pwm",
            f"zeropower_roof_{SERIAL}",
            "zeropower_roof_114182967890",
            f"zeropower_{PWM}_{HEATER}",
        ]
    )
    assert all(device["via_device"] == "zeropower" for device in devices.values())
    inverter = devices[f"zeropower_roof_{SERIAL}"]
    assert (inverter["name"], inverter["serial_number"]) == ("roof", SERIAL)
    assert devices["zeropower_roof_114182967890"]["name"] == "balcony"
    assert all(device["sw_version"] == main["sw_version"] for key, device in devices.items() if "actuator" in key)
    for topic, payload in messages.items():
        device, object_id = payload["device"], payload["default_entity_id"].split(".")[1]
        assert SERIAL not in object_id, topic
        assert "114182967890" not in object_id, topic
        device_slug = re.sub(r"[^a-z0-9]+", "_", device["name"].lower()).strip("_")
        assert object_id.count(device_slug) <= 1, topic  # never sensor.zeropower_heater_heater_power
        assert not payload["name"].lower().startswith(device["name"].lower()), topic  # HA composes "<device> <name>"
    entity_ids = [payload["default_entity_id"] for payload in messages.values()]
    assert len(entity_ids) == len(set(entity_ids))


def test_diagnostic_and_configuration_categories(topics):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, ACTUATORS))
    categories = {key: entity.get("entity_category") for key, entity in entities.items()}
    diagnostic = {key for key, category in categories.items() if category == "diagnostic"}
    assert diagnostic == {
        "zeropower_limit",
        f"zeropower_roof_{SERIAL}_limit",
        f"zeropower_roof_{SERIAL}_reachable",
        f"zeropower_{BATTERY}_{SOLARFLOW}_reachable",
        f"zeropower_{BATTERY}_{SOLARFLOW}_reserve",
        "zeropower_controller_connectivity",
        "zeropower_meter_connectivity",
        "zeropower_api_connectivity",
        "zeropower_actuator_roof_connectivity",
        f"zeropower_actuator_{PWM}_connectivity",
        f"zeropower_actuator_{BATTERY}_connectivity",
    }
    config = {key for key, category in categories.items() if category == "config"}
    assert config == {key for key, entity in entities.items() if "command_topic" in entity} - {
        "zeropower_zero_export",
        "zeropower_target",
    }
    assert set(categories.values()) == {None, "diagnostic", "config"}


def test_connectivity_per_service_reads_its_availability(topics):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, ACTUATORS))
    for service, key in (
        ("controller", "controller"),
        ("meter", "meter"),
        ("api", "api"),
        (actuator_service_id("roof"), "actuator_roof"),
        (actuator_service_id(PWM), f"actuator_{PWM}"),
    ):
        entity = entities[f"zeropower_{key}_connectivity"]
        assert entity["state_topic"] == topics.availability(service)
        assert (entity["payload_on"], entity["payload_off"]) == ("online", "offline")
        assert "availability" not in entity  # it shows the service offline, rather than becoming unavailable


def test_tunable_entities_send_what_the_controller_accepts(topics):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, {}))
    config = tunables_of(ControllerSettings()).model_dump()
    for entity in entities.values():
        if entity.get("command_topic") != topics.controller_config_set():
            continue
        assert entity["state_topic"] in {topics.controller_config(), topics.controller_state()}
        if "command_template" in entity and "options" in entity:  # the select
            commands = [render_command(entity["command_template"], option) for option in entity["options"]]
        elif "command_template" in entity:  # a number: its bounds
            commands = [render_command(entity["command_template"], entity[bound]) for bound in ("min", "max")]
        else:  # a switch
            commands = [entity["payload_on"], entity["payload_off"]]
        for command in commands:
            changes = parse_message(ControllerTunablesUpdate, command).changes()
            ControllerTunables.model_validate(config | changes)
            (field,) = changes
            rendered = render(entity["value_template"], json.dumps(config | changes))
            assert rendered in {str(changes[field]), "on" if changes[field] is True else "off"}, entity["unique_id"]


def test_energy_sensors_suit_the_energy_dashboard():
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), Topics("zp"), ACTUATORS))
    energy = [key for key, entity in entities.items() if entity.get("device_class") == "energy"]
    assert sorted(energy) == [
        "zeropower_diverted_today",
        "zeropower_exported_today",
        "zeropower_grid_energy_export",
        "zeropower_grid_energy_import",
        "zeropower_imported_today",
        "zeropower_produced_today",  # all inverters together: Energy dashboard → Solar panels, one total
        f"zeropower_{PWM}_{HEATER}_energy",
        f"zeropower_roof_{SERIAL}_energy",  # the inverter's yield: Energy dashboard → Solar panels
    ]
    for key in energy:  # lifetime counters and daily totals alike: they only grow, and restart from 0 at times
        assert entities[key]["device_class"] == "energy"
        assert entities[key]["unit_of_measurement"] == "Wh"
        assert entities[key]["state_class"] == "total_increasing"
    assert entities["zeropower_grid_power"]["state_class"] == "measurement"


def test_topics_are_the_ones_the_services_use(topics):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, ACTUATORS))
    switch = entities["zeropower_zero_export"]
    assert switch["state_topic"] == topics.controller_state()
    assert switch["command_topic"] == topics.set_enabled()
    assert switch["retain"] is False
    assert parse_on_off(switch["payload_on"]) is True
    assert parse_on_off(switch["payload_off"]) is False
    assert entities["zeropower_controller_mode"]["state_topic"] == topics.controller_state()
    assert entities["zeropower_target"]["state_topic"] == topics.controller_state()
    for key in ("grid_power", "grid_energy_import", "grid_energy_export"):
        assert entities[f"zeropower_{key}"]["state_topic"] == topics.grid_power()
    for key in ("power", "limit", "energy", "reachable", "producing"):
        assert entities[f"zeropower_roof_{SERIAL}_{key}"]["state_topic"] == topics.device_state("roof", SERIAL)
    for key in ("imported", "exported", "produced", "diverted"):
        assert entities[f"zeropower_{key}_today"]["state_topic"] == topics.energy_today()
    availability = {
        "zeropower_zero_export": [topics.availability("controller")],
        "zeropower_grid_power": [topics.availability("meter")],
        f"zeropower_roof_{SERIAL}_power": [topics.availability(actuator_service_id("roof"))],
        "zeropower_diverted_today": [topics.availability("api")],
    }
    for key, expected in availability.items():
        assert [entry["topic"] for entry in entities[key]["availability"]] == expected


def test_every_command_is_sent_to_a_command_topic_and_never_retained(topics):
    """Commands are never retained: the controller ignores retained ones and keeps its own state (issue 11)."""
    entities = discovery_messages(HaDiscoverySettings(), topics, ACTUATORS).values()
    commanding = {entity["unique_id"]: entity for entity in entities if "command_topic" in entity}
    tunables = {
        "target_w": "target",
        "deadband_w": "deadband",
        "stale_after_s": "stale_after",
        "dead_time_s": "dead_time",
        "battery_reserve_soc_pct": "battery_reserve",
    }
    expected = {"zeropower_zero_export"} | {f"zeropower_{tunables.get(field, field)}" for field in TUNABLE_FIELDS}
    assert sorted(commanding) == sorted(expected)  # every tunable the API exposes, and the switch
    for entity in commanding.values():
        assert entity["command_topic"] in {topics.set_enabled(), topics.controller_config_set()}
        assert entity["retain"] is False  # HA's default; said outright so nobody flips it back
        assert entity["qos"] == 1


def test_target_and_deadband_numbers_use_the_controller_config_topics(topics):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, {}))
    target, deadband = entities["zeropower_target"], entities["zeropower_deadband"]
    assert target["command_topic"] == deadband["command_topic"] == topics.controller_config_set()
    assert target["state_topic"] == topics.controller_state()
    assert deadband["state_topic"] == topics.controller_config()
    assert target["retain"] is deadband["retain"] is False  # commands are never retained
    config = tunables_of(ControllerSettings(deadband_w=12.5))
    assert render(deadband["value_template"], config.model_dump_json()) == "12.5"
    assert render(target["value_template"], controller_state(target_w=-35.5).model_dump_json()) == "-35.5"
    for number, field in ((target, "target_w"), (deadband, "deadband_w")):
        update = parse_message(ControllerTunablesUpdate, render(number["command_template"], "25.0"))
        assert update.changes() == {field: 25.0}
        ControllerTunables.model_validate(config.model_dump() | {field: number["min"]})
        ControllerTunables.model_validate(config.model_dump() | {field: number["max"]})
        for outside in (number["min"] - 1, number["max"] + 1):
            with pytest.raises(ValidationError):
                ControllerTunables.model_validate(config.model_dump() | {field: outside})


@pytest.mark.parametrize(
    ("unique_id", "payload", "expected"),
    [
        ("zeropower_zero_export", controller_state(enabled=True), "on"),
        ("zeropower_zero_export", controller_state(enabled=False, mode="paused"), "off"),
        ("zeropower_controller_mode", controller_state(mode="fail-safe"), "fail-safe"),
        ("zeropower_target", controller_state(target_w=20.0), "20.0"),
        ("zeropower_grid_power", GRID, "-312.4"),
        ("zeropower_grid_energy_import", GRID, "5312000.0"),
        ("zeropower_grid_energy_export", GRID, "1201000.0"),
        # A missing reading renders "None", which HA's MQTT sensor shows as unknown (never a wrong number).
        ("zeropower_grid_power", GridReading(power_w=None, error="meter offline"), "None"),
        ("zeropower_grid_energy_import", GridReading(power_w=1.0), "None"),
        (f"zeropower_roof_{SERIAL}_power", DEVICE, "305.2"),
        (f"zeropower_roof_{SERIAL}_limit", DEVICE, "300.0"),
        (f"zeropower_roof_{SERIAL}_power", DEVICE.model_copy(update={"power_w": None}), "None"),
        (f"zeropower_roof_{SERIAL}_energy", DEVICE, "1234567.0"),
        (f"zeropower_roof_{SERIAL}_energy", DEVICE.model_copy(update={"energy_wh": None}), "None"),
        (f"zeropower_roof_{SERIAL}_reachable", DEVICE, "ON"),
        (f"zeropower_roof_{SERIAL}_producing", DEVICE.model_copy(update={"producing": False}), "OFF"),
        ("zeropower_output", controller_state(output_w=610.0), "610.0"),
        ("zeropower_limit", controller_state(limit_w=300.0), "300.0"),
        (f"zeropower_{PWM}_{HEATER}_power", HEATER_STATE, "880.0"),
        (f"zeropower_{PWM}_{HEATER}_energy", HEATER_STATE, "7004.5"),
        (f"zeropower_{PWM}_{HEATER}_energy", consumer_state(0.0), "None"),
        ("zeropower_imported_today", TODAY, "812.5"),
        ("zeropower_exported_today", TODAY, "95.0"),
        ("zeropower_produced_today", TODAY, "3120.0"),
        ("zeropower_diverted_today", TODAY, "2210.0"),
        (f"zeropower_{BATTERY}_{SOLARFLOW}_soc", BATTERY_STATE, "62.5"),
        (f"zeropower_{BATTERY}_{SOLARFLOW}_soc", storage_state(0.0, None), "None"),  # absent: HA's unknown
        (f"zeropower_{BATTERY}_{SOLARFLOW}_power", BATTERY_STATE, "-450.0"),  # discharging
        (f"zeropower_{BATTERY}_{SOLARFLOW}_power", storage_state(300.0, 50.0), "300.0"),  # charging
        (f"zeropower_{BATTERY}_{SOLARFLOW}_reachable", storage_state(None, None, reachable=False), "OFF"),
        (f"zeropower_{BATTERY}_{SOLARFLOW}_mode", BATTERY_MODE, "fail-safe"),
        (f"zeropower_{BATTERY}_{SOLARFLOW}_reserve", battery_announcement(reserve_pct=15.0), "15.0"),
    ],
)
def test_value_templates_render_real_payloads(topics, unique_id, payload, expected):
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), topics, ACTUATORS))
    entity = entities[unique_id]
    assert render(entity["value_template"], payload.model_dump_json()) == expected
    if "state_on" in entity:
        assert expected in {entity["state_on"], entity["state_off"]}
    if entity["unique_id"].endswith(("_reachable", "_producing")):
        assert expected in {"ON", "OFF"}  # Home Assistant's default binary sensor payloads


def test_mode_sensor_lists_every_controller_mode_and_the_reason():
    mode = by_unique_id(discovery_messages(HaDiscoverySettings(), Topics("zp"), {}))["zeropower_controller_mode"]
    assert mode["options"] == list(get_args(ControllerMode))
    state = controller_state(reason="export: cut limits by 310 W").model_dump_json()
    assert json.loads(render(mode["json_attributes_template"], state)) == {"reason": "export: cut limits by 310 W"}


def test_consumers_get_diverter_entities_not_inverter_ones(topics):
    messages = discovery_messages(HaDiscoverySettings(), topics, {PWM: pwm_announcement()})
    heater = {p["unique_id"]: p for p in messages.values() if p["state_topic"] == topics.device_state(PWM, HEATER)}
    assert sorted(heater) == [f"zeropower_{PWM}_{HEATER}_energy", f"zeropower_{PWM}_{HEATER}_power"]
    power = heater[f"zeropower_{PWM}_{HEATER}_power"]
    assert (power["name"], power["device_class"], power["state_class"]) == ("Power", "power", "measurement")
    assert power["device"]["name"] == "heating rod"  # Home Assistant shows "heating rod Power"
    assert power["default_entity_id"] == "sensor.zeropower_heating_rod_power"
    assert "serial_number" not in power["device"]  # a diverter's device id is no serial
    assert all(p["availability"] == [{"topic": topics.availability(actuator_service_id(PWM))}] for p in heater.values())


def test_a_battery_gets_battery_entities_not_inverter_ones(topics):
    """SoC, charge power (positive = charging), its actuator's mode and its reserve, on a device of its own."""
    messages = discovery_messages(HaDiscoverySettings(), topics, {BATTERY: battery_announcement()})
    battery = {p["unique_id"]: p for p in messages.values() if p["device"]["name"] == "SolarFlow"}
    prefix = f"zeropower_{BATTERY}_{SOLARFLOW}"
    assert sorted(battery) == [f"{prefix}_{key}" for key in ("mode", "power", "reachable", "reserve", "soc")]
    device = battery[f"{prefix}_soc"]["device"]
    assert device == {
        "identifiers": [prefix],
        "name": "SolarFlow",
        "model": "Battery (battery)",
        "via_device": "zeropower",
    }
    soc, power = battery[f"{prefix}_soc"], battery[f"{prefix}_power"]
    assert (soc["name"], soc["device_class"], soc["unit_of_measurement"]) == ("State of charge", "battery", "%")
    assert (power["name"], power["device_class"], power["unit_of_measurement"]) == ("Charge power", "power", "W")
    assert (soc["default_entity_id"], power["default_entity_id"]) == (
        "sensor.zeropower_solarflow_soc",
        "sensor.zeropower_solarflow_power",
    )
    assert power["state_topic"] == soc["state_topic"] == topics.device_state(BATTERY, SOLARFLOW)
    mode = battery[f"{prefix}_mode"]
    assert mode["state_topic"] == topics.actuator_state(BATTERY)  # the actuator's state says the mode
    assert mode["options"] == list(get_args(ActuatorMode))
    assert json.loads(render(mode["json_attributes_template"], BATTERY_MODE.model_dump_json())) == {
        "reason": "solarflow unreachable: timeout"
    }
    reserve = battery[f"{prefix}_reserve"]
    assert reserve["state_topic"] == topics.actuator_announce(BATTERY)  # read-only: no service takes a new one
    assert not any("command_topic" in p for p in battery.values())
    assert all(p["availability"] == [{"topic": topics.availability(f"actuator/{BATTERY}")}] for p in battery.values())
    # nothing of an inverter's or a diverter's: no limit, no producing, no energy counted as yield
    assert not any(p.get("device_class") == "energy" for p in battery.values())


def test_a_batterys_reserve_is_its_own_among_several():
    """Two batteries under one actuator: each reserve sensor picks its own device from the announcement."""
    two = battery_announcement()
    second = two.devices[0].model_copy(
        update={
            "device_id": 'b"2',
            "name": "Venus",
            "storage": two.devices[0].storage.model_copy(update={"min_soc_pct": 30.0}),
        }
    )
    two = two.model_copy(update={"devices": [two.devices[0], second]})
    entities = by_unique_id(discovery_messages(HaDiscoverySettings(), Topics("zp"), {BATTERY: two}))
    payload = two.model_dump_json()
    assert render(entities[f"zeropower_{BATTERY}_{SOLARFLOW}_reserve"]["value_template"], payload) == "10.0"
    assert render(entities[f"zeropower_{BATTERY}_b_2_reserve"]["value_template"], payload) == "30.0"
    alone = battery_announcement().model_dump_json()  # the device left the announcement: unknown, no number
    assert render(entities[f"zeropower_{BATTERY}_b_2_reserve"]["value_template"], alone) == "None"


def test_inverters_ids_prefix_and_node_id():
    settings = HaDiscoverySettings(prefix="ha", node_id="garage")
    actuators = {"roof": announcement("roof", SERIAL, "1161.x y"), "shed": announcement("shed", "99")}
    messages = discovery_messages(settings, Topics("zp"), actuators)
    assert all(topic.startswith("ha/") and topic.split("/")[2] == "garage" for topic in messages)
    sensors = {p["unique_id"] for t, p in messages.items() if p["state_topic"].endswith("/device/1161.x y/state")}
    keys = ("power", "limit", "energy", "reachable", "producing")
    assert sensors == {f"garage_roof_1161_x_y_{key}" for key in keys}
    assert len([t for t in messages if "_shed_99_" in t]) == len(keys)
    assert all(p["default_entity_id"].split(".")[1].startswith("garage_") for p in messages.values())


def test_settings():
    settings = HaDiscoverySettings()
    assert (settings.enabled, settings.prefix, settings.node_id) == (True, "homeassistant", "zeropower")
    assert all(field.description for field in HaDiscoverySettings.model_fields.values())
    with pytest.raises(ValidationError, match="unknown"):
        HaDiscoverySettings(unknown=1)
    with pytest.raises(ValidationError, match="node_id"):
        HaDiscoverySettings(node_id="a/b")


# --- The publisher against a real Mosquitto ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def publisher(mqtt_settings: MqttSettings, settings: HaDiscoverySettings | None = None) -> AsyncIterator[MqttBus]:
    """Run a bus with the publisher installed; yields once the publisher's connect hook has run."""
    bus = MqttBus.for_service(mqtt_settings, "api")
    HaDiscoveryPublisher(bus, settings or HaDiscoverySettings(), Topics(mqtt_settings.topic_prefix)).install()
    hooks_done = asyncio.Event()

    async def after_publisher() -> None:  # hooks run in order: this one after the publisher's
        hooks_done.set()

    bus.on_connect(after_publisher)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    try:
        await asyncio.wait_for(hooks_done.wait(), 10)
        yield bus
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def expected_topics(mqtt_settings: MqttSettings, actuators: dict[str, ActuatorAnnouncement]) -> set[str]:
    return set(discovery_messages(HaDiscoverySettings(), Topics(mqtt_settings.topic_prefix), actuators))


async def test_publishes_retained_discovery_on_connect(mqtt_settings, probe, broker):
    topics = expected_topics(mqtt_settings, {})
    async with publisher(mqtt_settings):
        for topic in topics:
            message = await probe.wait_for(topic)
            assert json.loads(message.payload)["state_topic"].startswith(mqtt_settings.topic_prefix + "/")
        async with MqttProbe(broker.port) as late:  # a late subscriber (HA starting later) gets them retained
            for topic in topics:
                assert (await late.wait_for(topic)).retain is True


async def test_publishes_again_when_home_assistant_comes_online(mqtt_settings, probe):
    topics = expected_topics(mqtt_settings, {})
    async with publisher(mqtt_settings):
        for topic in topics:
            await probe.wait_for(topic)
        mark = probe.mark()
        await probe.publish("homeassistant/status", "offline")
        await probe.publish("homeassistant/status", "online")
        for topic in topics:  # all of them (stopping the bus amid a burst of publishes is slow)
            await probe.wait_for(topic, since=mark)


async def test_new_actuator_adds_and_removal_clears_its_entities(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    inverter = {
        f"homeassistant/{component}/zeropower/zeropower_roof_{SERIAL}_{key}/config"
        for component, keys in (("sensor", ("power", "limit", "energy")), ("binary_sensor", ("reachable", "producing")))
        for key in keys
    }
    actuator = "homeassistant/binary_sensor/zeropower/zeropower_actuator_roof_connectivity/config"
    added = expected_topics(mqtt_settings, {"roof": announcement()}) - expected_topics(mqtt_settings, {})
    assert added == inverter | {actuator}
    async with publisher(mqtt_settings):
        await probe.publish(topics.actuator_announce("roof"), announcement().model_dump_json(), retain=True)
        for topic in inverter:
            message = await probe.wait_for(topic, lambda m: bool(m.payload))
            assert json.loads(message.payload)["state_topic"] == topics.device_state("roof", SERIAL)
        await probe.publish(topics.actuator_announce("roof"), b"", retain=True)
        for topic in inverter | {actuator}:
            await probe.wait_for(topic, lambda m: m.payload == b"")
    # the controller's own entities stay
    assert all(m.payload for m in probe.on("homeassistant/switch/zeropower/zeropower_zero_export/config"))


async def test_an_empty_announcement_of_an_online_actuator_keeps_its_entities(mqtt_settings, probe, caplog):
    topics = Topics(mqtt_settings.topic_prefix)
    inverter = f"homeassistant/sensor/zeropower/zeropower_roof_{SERIAL}_power/config"
    async with publisher(mqtt_settings):
        await probe.publish(topics.availability("actuator/roof"), "online", retain=True)
        await probe.publish(topics.actuator_announce("roof"), announcement().model_dump_json(), retain=True)
        await probe.wait_for(inverter, lambda m: bool(m.payload))
        for garbage in (b"", b"{not json", b"[1]", b""):
            await probe.publish(topics.actuator_announce("roof"), garbage)
        await probe.publish(topics.availability("actuator/roof"), "offline", retain=True)
        await probe.publish(topics.actuator_announce("roof"), b"", retain=True)  # removed once offline
        await probe.wait_for(inverter, lambda m: m.payload == b"")
    assert [m.payload for m in probe.on(inverter)].count(b"") == 1
    assert caplog.text.count("announcements: ") == 1  # one line a minute, however much garbage


async def test_an_actuator_announced_before_start_appears(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await probe.publish(topics.actuator_announce("shed"), announcement("shed", "77").model_dump_json(), retain=True)
    await probe.publish(topics.actuator_announce("bad"), "{not json", retain=True)
    async with publisher(mqtt_settings):
        for topic in expected_topics(mqtt_settings, {"shed": announcement("shed", "77")}):
            await probe.wait_for(topic)


async def test_disabled_publishes_nothing(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with publisher(mqtt_settings, HaDiscoverySettings(enabled=False)) as bus:
        await probe.publish("homeassistant/status", "online")
        await probe.publish(topics.actuator_announce("roof"), announcement().model_dump_json(), retain=True)
        sentinel = f"{mqtt_settings.topic_prefix}/test/sentinel"
        await bus.publish(sentinel, "done", retain=True)  # after the connect hooks, on the same connection
        await probe.wait_for(sentinel)
    assert [m.topic for m in probe.messages if m.topic.startswith("homeassistant/")] == ["homeassistant/status"]


def documented_discovery_topics() -> tuple[set[str], set[str]]:
    """The discovery topics docs/mqtt.md lists (braces expanded, bare sensor keys), and its example entity ids."""
    text = (REPO / "docs/mqtt.md").read_text()
    paragraph = text[text.index("The discovery topics") : text.index("### Payloads by example")]
    topics, examples = set(), set()
    for token in re.findall(r"`([^`]+)`", paragraph):
        if token.startswith("homeassistant/") and "<" not in token:
            head, _, rest = token.partition("{")
            choices, _, tail = rest.partition("}")
            topics |= {f"{head}{choice}{tail}" for choice in choices.split(",")} if rest else {token}
        elif token.startswith("zeropower_"):
            examples.add(token)
        elif re.fullmatch(r"[a-z]+(_[a-z]+)+", token):
            topics.add(f"homeassistant/sensor/zeropower/zeropower_{token}/config")
    table_row = re.search(r"^\| `(homeassistant/[^`]+/config)`", text, re.MULTILINE)
    assert table_row, "docs/mqtt.md's table has no discovery row"
    topics.add(table_row.group(1))
    return topics, examples


def test_docs_list_the_discovery_topics_the_api_publishes():
    """docs/mqtt.md names every entity's topic that does not depend on announced devices, and only real ones."""
    actuators = {
        "opendtu": announcement("opendtu"),
        "heater": ActuatorAnnouncement(
            actuator_id="heater",
            driver="pwm",
            devices=[DeviceInfo(device_id="heater", name="Heater", kind="consumer", min_w=0, max_w=2000)],
        ),
        BATTERY: battery_announcement(),
    }
    published = discovery_messages(HaDiscoverySettings(), Topics("zeropower"), actuators)
    documented, examples = documented_discovery_topics()
    assert sorted(documented - set(published)) == []
    fixed = set(discovery_messages(HaDiscoverySettings(), Topics("zeropower"), {}))
    assert sorted(fixed - documented) == []
    assert examples, "docs/mqtt.md gives no example entity id of a device"
    assert sorted(examples - {payload["unique_id"] for payload in published.values()}) == []


def test_zeropowers_own_devices_link_to_the_web_ui_when_its_address_is_set(topics):
    actuators = {"roof": announcement("roof", SERIAL), PWM: pwm_announcement()}
    settings = HaDiscoverySettings(web_ui_url="http://raspberrypi.local:8000/")
    devices = {
        p["device"]["identifiers"][0]: p["device"] for p in discovery_messages(settings, topics, actuators).values()
    }
    linked = {
        key for key, device in devices.items() if device.get("configuration_url") == "http://raspberrypi.local:8000/"
    }
    assert linked == {
        "zeropower",
        "zeropower_meter",
        "zeropower_api",
        "zeropower_actuator_roof",
        "zeropower_actuator_pwm",
    }
    with pytest.raises(ValidationError):
        HaDiscoverySettings(web_ui_url="raspberrypi.local:8000")  # Home Assistant rejects a link without a scheme
