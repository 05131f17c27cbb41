"""The controller service against a real Mosquitto."""

import contextlib
import json
import time

from tests.helpers import MqttProbe, service_running
from zeropower.controller.service import run
from zeropower.controller.settings import ControllerServiceSettings, ControllerSettings
from zeropower.shared.messages import ActuatorAnnouncement, DeviceInfo, DeviceState, GridReading
from zeropower.shared.topics import Topics

SERIAL = "114182912345"


@contextlib.asynccontextmanager
async def controller(mqtt_settings, **overrides):
    settings = ControllerServiceSettings(mqtt=mqtt_settings, controller=ControllerSettings(**overrides))
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


async def test_switch_off_and_on_also_retained(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    await probe.publish(topics.set_enabled(), "off", retain=True)  # set before the controller starts
    async with controller(mqtt_settings):
        paused = await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "paused")
        assert json.loads(paused.payload)["enabled"] is False
        await probe.publish(topics.grid_power(), GridReading(power_w=-300).model_dump_json())
        command = await probe.wait_for(topics.actuator_setpoints("roof"), lambda m: setpoint(m) == 800)
        assert json.loads(command.payload)["reason"].startswith("paused")
        assert json.loads(command.payload)["mode"] == "paused"
        await probe.publish(topics.set_enabled(), "garbage")
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
        command = await probe.wait_for(topics.actuator_setpoints("roof"))
        assert setpoint(command) == 500


async def test_dry_run_marks_setpoints(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    await announce(probe, topics)
    async with controller(mqtt_settings, dry_run=True):
        await probe.wait_for(topics.availability("controller"), lambda m: m.text == "online")
        await probe.publish(topics.grid_power(), GridReading(power_w=-100).model_dump_json())
        command = await probe.wait_for(topics.actuator_setpoints("roof"))
        assert json.loads(command.payload)["dry_run"] is True
