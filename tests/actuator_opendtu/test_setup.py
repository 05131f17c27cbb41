"""actuator-opendtu set up from the broker: waiting, taking a setup, replacing it cleanly, refusing another id."""

import json

from tests.helpers import service_running
from zeropower.actuator_opendtu.service import run
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuServiceSettings
from zeropower.shared.messages import ActuatorAnnouncement, DeviceState, SetpointCommand, SetupStatus
from zeropower.shared.topics import OpenDtuTopics, Topics

ROOF, GARAGE = "114182912345", "114182967890"
DTU = OpenDtuTopics("solar")
SERVICE = "actuator/opendtu"


def setup(*serials: str, **extra) -> str:
    inverters = [{"serial": serial, "max_w": 800, "min_w": 40} for serial in serials]
    return json.dumps({"driver": {"type": "opendtu", "prefix": "solar"}, "inverters": inverters, **extra})


def status(message) -> SetupStatus:
    return SetupStatus.model_validate_json(message.payload)


def devices(message) -> list[str]:
    return [device.device_id for device in ActuatorAnnouncement.model_validate_json(message.payload).devices]


async def test_waits_then_controls_the_inverters_set_up_and_replaces_them(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with service_running(run, ActuatorOpenDtuServiceSettings(mqtt=mqtt_settings)):
        await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).source == "waiting")
        assert not probe.on(topics.actuator_announce("opendtu"))  # nothing announced: the controller stays idle

        await probe.publish(topics.setup("actuator_opendtu"), setup(ROOF), retain=True)
        announced = await probe.wait_for(topics.actuator_announce("opendtu"))
        assert devices(announced) == [ROOF]
        set_up = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).source == "setup")
        assert status(set_up).running == f"opendtu at prefix 'solar' with {ROOF} 40-800 W"
        await probe.publish(DTU.inverter(ROOF, "0/power"), "305.2")
        roof = await probe.wait_for(topics.device_state("opendtu", ROOF))
        assert DeviceState.model_validate_json(roof.payload).power_w == 305.2
        await probe.publish(
            topics.actuator_setpoints("opendtu"), SetpointCommand(setpoints_w={ROOF: 300}).model_dump_json()
        )
        await probe.wait_for(DTU.limit_command(ROOF), lambda m: m.text == "300")

        mark = probe.mark()
        await probe.publish(topics.setup("actuator_opendtu"), setup(GARAGE), retain=True)
        replaced = await probe.wait_for(
            topics.actuator_announce("opendtu"), lambda m: devices(m) == [GARAGE], since=mark
        )
        assert replaced.retain is False  # live
        await probe.wait_for(topics.device_state("opendtu", ROOF), lambda m: m.payload == b"", since=mark)
        await probe.publish(DTU.inverter(GARAGE, "0/power"), "111")
        await probe.wait_for(topics.device_state("opendtu", GARAGE), since=mark)
        await probe.publish(
            topics.actuator_setpoints("opendtu"), SetpointCommand(setpoints_w={GARAGE: 500}).model_dump_json()
        )
        await probe.wait_for(DTU.limit_command(GARAGE), lambda m: m.text == "500", since=mark)
    assert probe.on(topics.device_state("opendtu", ROOF))[-1].payload == b""


async def test_a_setup_for_another_actuator_id_is_refused(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with service_running(run, ActuatorOpenDtuServiceSettings(mqtt=mqtt_settings)):
        await probe.publish(topics.setup("actuator_opendtu"), setup(ROOF, actuator_id="garage"), retain=True)
        refused = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).error is not None)
        assert status(refused).source == "waiting"
        assert (
            status(refused).error == "refused: actuator_opendtu.actuator_id: Input should be 'opendtu' (got 'garage')"
        )
    assert not probe.on(topics.actuator_announce("opendtu"))
    assert not probe.on(topics.actuator_announce("garage"))
