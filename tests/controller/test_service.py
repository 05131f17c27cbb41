"""The controller service against a real Mosquitto."""

import contextlib
import json
import tempfile
import time
from pathlib import Path

from tests.helpers import MqttProbe, service_running
from zeropower.controller.service import run
from zeropower.controller.settings import ControllerServiceSettings, ControllerSettings
from zeropower.shared.messages import ActuatorAnnouncement, DeviceInfo, DeviceState, GridReading
from zeropower.shared.topics import Topics

SERIAL = "114182912345"


@contextlib.asynccontextmanager
async def controller(mqtt_settings, state_file: Path | None = None, **overrides):
    if state_file is None:
        state_file = Path(tempfile.mkdtemp(prefix="zeropower-controller-")) / "state.json"
    settings = ControllerServiceSettings(
        mqtt=mqtt_settings, controller=ControllerSettings(state_file=state_file, **overrides)
    )
    async with service_running(run, settings):
        yield


async def announce(probe: MqttProbe, topics: Topics) -> None:
    device = DeviceInfo(device_id=SERIAL, name="roof", min_w=40, max_w=800)
    announcement = ActuatorAnnouncement(actuator_id="roof", driver="opendtu", devices=[device])
    await probe.publish(topics.actuator_announce("roof"), announcement.model_dump_json(), retain=True)
    state = DeviceState(
        actuator_id="roof",
        device_id=SERIAL,
        reachable=True,
        producing=True,
        power_w=600,
        limit_w=800,
        updated_at=time.time(),
    )
    await probe.publish(topics.device_state("roof", SERIAL), state.model_dump_json(), retain=True)


def setpoint(message) -> float:
    return json.loads(message.payload)["setpoints_w"][SERIAL]


def regulating(message) -> bool:
    return json.loads(message.payload)["mode"] == "regulating"


async def test_cuts_export_and_publishes_state(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    async with controller(mqtt_settings, target_w=0):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "idle")
        await probe.publish(topics.grid_power(), GridReading(power_w=-300).model_dump_json())
        command = await probe.wait_for_new(topics.actuator_setpoints("roof"))
        assert setpoint(command) == 300
        assert command.retain is False
        assert json.loads(command.payload)["mode"] == "regulating"
        state = await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "regulating")
        assert state.retain is False  # live delivery; retained flag is only set for late subscribers
        assert json.loads(state.payload)["grid_power_w"] == -300
    await probe.wait_for(topics.availability("controller"), lambda m: m.text == "offline")


async def test_switch_off_and_on_persists_and_ignores_retained_commands(mqtt_settings, probe, tmp_path):
    topics = Topics(mqtt_settings.topic_prefix)
    state_file = tmp_path / "state.json"
    await announce(probe, topics)
    await probe.publish(topics.set_enabled(), "off", retain=True)  # an old retained command: never replayed
    async with controller(mqtt_settings, state_file=state_file):
        await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "idle")
        await probe.publish(topics.grid_power(), GridReading(power_w=-300).model_dump_json())
        regulating = await probe.wait_for(
            topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "regulating"
        )
        assert json.loads(regulating.payload)["enabled"] is True
        await probe.publish(topics.set_enabled(), "off")  # a live command
        paused = await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "paused")
        assert json.loads(paused.payload)["enabled"] is False
        command = await probe.wait_for(
            topics.actuator_setpoints("roof"), lambda m: json.loads(m.payload)["mode"] == "paused"
        )
        assert setpoint(command) == 800
        assert json.loads(command.payload)["reason"].startswith("paused")
        await probe.publish(topics.set_enabled(), "garbage")
    assert json.loads(state_file.read_text())["enabled"] is False
    async with controller(mqtt_settings, state_file=state_file):  # a restart keeps the switch
        await probe.wait_for_new(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "paused")
        await probe.publish(topics.set_enabled(), "on")
        await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["enabled"] is True)
        await probe.publish(topics.grid_power(), GridReading(power_w=-300).model_dump_json())
        await probe.wait_for_new(topics.actuator_setpoints("roof"), lambda m: setpoint(m) < 800)


async def test_garbage_does_not_stop_the_loop(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    async with controller(mqtt_settings, target_w=0):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        for garbage in [b"not json", b'{"power_w": "NaN"}', b'{"power_w": 5, "extra": 1}', b"\xff"]:
            await probe.publish(topics.grid_power(), garbage)
        await probe.publish(topics.actuator_announce("broken"), b"[1,2]")
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        command = await probe.wait_for(topics.actuator_setpoints("roof"), regulating)
        assert setpoint(command) == 500


async def test_dry_run_marks_setpoints(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    async with controller(mqtt_settings, dry_run=True):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        command = await probe.wait_for(topics.actuator_setpoints("roof"))
        assert json.loads(command.payload)["dry_run"] is True


async def test_hostile_but_valid_json_never_stops_the_controller(mqtt_settings, probe):
    # Before: device states with power_w 1e308 for two inverters, or max_w 1e308, made tick() raise: exit 1.
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    huge = {"device_id": "b", "name": "b", "min_w": 0, "max_w": 1e308}
    await probe.publish(
        topics.actuator_announce("huge"),
        json.dumps({"actuator_id": "huge", "driver": "x", "devices": [huge]}),
        retain=True,
    )
    for device_id in (SERIAL, "b"):
        state = {"actuator_id": "roof", "device_id": device_id, "reachable": True, "producing": True, "power_w": 1e308}
        await probe.publish(topics.device_state("roof", device_id), json.dumps(state), retain=True)
    async with controller(mqtt_settings, target_w=0):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        command = await probe.wait_for(topics.actuator_setpoints("roof"), regulating)
        assert setpoint(command) == 700  # the absurd telemetry was ignored: cut from the maximum
        assert probe.on(topics.actuator_setpoints("huge")) == []


async def test_an_empty_announcement_of_an_online_actuator_is_ignored(mqtt_settings, probe):
    # Before: an empty message on the announce topic unregistered the inverter ("within deadband").
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    await probe.publish(topics.availability("actuator/roof"), "online", retain=True)
    async with controller(mqtt_settings, target_w=0):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.actuator_announce("roof"), b"")  # not a removal: the actuator is online
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        assert setpoint(await probe.wait_for(topics.actuator_setpoints("roof"), regulating)) == 500
        await probe.publish(topics.availability("actuator/roof"), "offline", retain=True)
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        state = await probe.wait_for_new(
            topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "idle", timeout=5
        )
        assert json.loads(state.payload)["reason"] == "nothing is controlled: actuator roof offline"
        await probe.publish(topics.actuator_announce("roof"), b"", retain=True)  # a deliberate removal
        await probe.publish(topics.availability("actuator/roof"), "online", retain=True)
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        state = await probe.wait_for_new(
            topics.controller_state(),
            lambda m: json.loads(m.payload)["reason"] == "no device announced by any actuator yet",
            timeout=5,
        )


async def test_setpoints_keep_coming_without_readings_until_the_fail_safe(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    async with controller(mqtt_settings, target_w=0, stale_after_s=30):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.grid_power(), GridReading(power_w=3).model_dump_json())  # inside the deadband
        first = await probe.wait_for(topics.actuator_setpoints("roof"), regulating)
        later = await probe.wait_for_new(topics.actuator_setpoints("roof"), regulating, timeout=8)
        assert json.loads(later.payload)["timestamp"] - json.loads(first.payload)["timestamp"] >= 4


async def test_tuning_from_any_source_survives_a_restart(mqtt_settings, probe, tmp_path):
    # Before: a target set in Home Assistant (a partial, non-retained command) came back as the file's 20 W.
    topics = Topics(mqtt_settings.topic_prefix)
    state_file = tmp_path / "state.json"
    async with controller(mqtt_settings, state_file=state_file):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.controller_config_set(), json.dumps({"target_w": 35}))
        await probe.wait_for(topics.controller_config(), lambda m: json.loads(m.payload)["target_w"] == 35)
    mark = probe.mark()
    async with controller(mqtt_settings, state_file=state_file):
        config = await probe.wait_for(topics.controller_config(), since=mark)
        assert json.loads(config.payload)["target_w"] == 35
        assert json.loads(config.payload)["deadband_w"] == 15


async def test_every_refused_command_is_logged_with_its_cause(mqtt_settings, probe, caplog):
    # Before: a refusal within a minute of another input problem was only counted in a later line, so a user
    # correcting a command by hand never saw why the second attempt failed.
    topics = Topics(mqtt_settings.topic_prefix)
    async with controller(mqtt_settings):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.grid_power(), "not json")
        await probe.publish(topics.controller_config_set(), json.dumps({"target_w": "high"}))
        await probe.publish(topics.controller_config_set(), json.dumps({"deadband_w": -5}))
        await probe.publish(topics.controller_config_set(), json.dumps({"target_w": 35}))
        await probe.wait_for(topics.controller_config(), lambda m: json.loads(m.payload)["target_w"] == 35)
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command refused:")]
    assert len(refused) == 2
    assert "target_w" in refused[0]
    assert "deadband_w" in refused[1]
    assert any(r.getMessage().startswith("input: ignoring") for r in caplog.records)
