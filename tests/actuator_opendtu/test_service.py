"""The actuator service against a real Mosquitto: commands, timing, fail-safe, telemetry, both DTU layouts."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import pytest

from tests.helpers import MqttProbe, service_running
from zeropower.actuator_opendtu.service import run
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuServiceSettings
from zeropower.shared.messages import ActuatorAnnouncement, ActuatorState, DeviceState, Pacing, SetpointCommand
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import OpenDtuTopics, Topics, actuator_service_id
from zeropower.sim.broker import Broker

ROOF = "114182912345"
GARAGE = "114182967890"
DTU = OpenDtuTopics("solar")


def make_settings(mqtt_settings: MqttSettings, **actuator) -> ActuatorOpenDtuServiceSettings:
    actuator.setdefault("inverters", [{"serial": ROOF, "name": "roof", "max_w": 800, "min_w": 40}])
    actuator.setdefault("min_interval_s", 0)
    actuator.setdefault("min_interval_reduce_s", 0)
    return ActuatorOpenDtuServiceSettings(mqtt=mqtt_settings, actuator_opendtu=actuator)


@contextlib.asynccontextmanager
async def running(settings: ActuatorOpenDtuServiceSettings, probe: MqttProbe):
    """Run the service until the block ends; enter the block once it has subscribed (its announcement is out)."""
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await probe.wait_for(topics.actuator_announce(settings.actuator_opendtu.actuator_id))
        yield topics


async def send(probe: MqttProbe, topics: Topics, setpoints: dict[str, float], actuator_id: str = "opendtu", **extra):
    command = SetpointCommand(setpoints_w=setpoints, **extra)
    await probe.publish(topics.actuator_setpoints(actuator_id), command.model_dump_json())


def payload(text: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: message.text == text


def mode(name: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: ActuatorState.model_validate_json(message.payload).mode == name


def payloads(probe: MqttProbe, topic: str) -> list[str]:
    return [message.text for message in probe.on(topic)]


async def retained(broker: Broker) -> dict[str, IncomingMessage]:
    """The broker's retained messages, as a client connecting now receives them."""
    async with MqttProbe(broker.port) as fresh:
        await fresh.publish("zp-test/marker", "done")  # handled after the subscription's retained messages
        await fresh.wait_for("zp-test/marker")
        return {message.topic: message for message in fresh.messages if message.retain}


async def test_announcement_and_state_are_retained(broker, mqtt_settings, probe):
    settings = make_settings(
        mqtt_settings,
        inverters=[
            {"serial": ROOF, "name": "roof", "max_w": 800, "min_w": 40, "priority": 1, "commands_per_hour": 120},
            {"serial": GARAGE, "max_w": 600, "nameplate_w": 800, "enabled": False},
        ],
    )
    async with running(settings, probe) as topics:
        await probe.wait_for(topics.availability(actuator_service_id("opendtu")), payload("online"))
        stored = await retained(broker)
    announcement = ActuatorAnnouncement.model_validate_json(stored[topics.actuator_announce("opendtu")].payload)
    assert announcement.actuator_id == "opendtu"
    assert announcement.driver == "opendtu"
    assert [d.model_dump(exclude={"kind", "commands_per_hour", "pacing"}) for d in announcement.devices] == [
        {"device_id": ROOF, "name": "roof", "min_w": 40, "max_w": 800, "enabled": True, "priority": 1},
        {"device_id": GARAGE, "name": GARAGE, "min_w": 40, "max_w": 600, "enabled": False, "priority": 0},
    ]
    assert [d.commands_per_hour for d in announcement.devices] == [120, 240]  # the budgets, default 240
    pacing = Pacing(min_change_w=10, raise_interval_s=0, reduce_interval_s=0, refresh_interval_s=60)
    assert [d.pacing for d in announcement.devices] == [pacing, pacing]  # as configured (intervals 0 here)
    state = ActuatorState.model_validate_json(stored[topics.actuator_state("opendtu")].payload)
    assert (state.mode, state.commands_sent) == ("waiting", 0)


async def test_setpoint_becomes_a_clamped_unretained_limit_command(broker, mqtt_settings, probe):
    async with running(make_settings(mqtt_settings), probe) as topics:
        await send(probe, topics, {ROOF: 5000})
        command = await probe.wait_for(DTU.limit_command(ROOF), payload("800"))
        assert command.retain is False
        await probe.wait_for(topics.actuator_state("opendtu"), mode("following"))
        await send(probe, topics, {ROOF: 0})
        await probe.wait_for(DTU.limit_command(ROOF), payload("40"))
        await probe.wait_for(
            topics.actuator_state("opendtu"),
            lambda m: ActuatorState.model_validate_json(m.payload).commands_sent == 2,
        )
        stored = await retained(broker)
    assert DTU.limit_command(ROOF) not in stored
    assert topics.actuator_state("opendtu") in stored
    assert {m.topic for m in probe.messages if m.topic.startswith("solar/")} == {DTU.limit_command(ROOF)}


async def test_changes_below_the_threshold_are_skipped(mqtt_settings, probe):
    async with running(make_settings(mqtt_settings, min_change_w=20), probe) as topics:
        await send(probe, topics, {ROOF: 300})
        await probe.wait_for(DTU.limit_command(ROOF), payload("300"))
        await send(probe, topics, {ROOF: 310})
        await send(probe, topics, {ROOF: 350})
        await probe.wait_for(DTU.limit_command(ROOF), payload("350"))
    assert payloads(probe, DTU.limit_command(ROOF)) == ["300", "350"]


async def test_a_deferred_raise_is_delivered_with_the_newest_value(mqtt_settings, probe):
    async with running(make_settings(mqtt_settings, min_interval_s=1.5), probe) as topics:
        await send(probe, topics, {ROOF: 300})
        await probe.wait_for(DTU.limit_command(ROOF), payload("300"))
        first_seen = time.monotonic()
        await send(probe, topics, {ROOF: 400})
        await send(probe, topics, {ROOF: 450})
        await probe.wait_for(DTU.limit_command(ROOF), payload("450"))
        waited = time.monotonic() - first_seen
    assert payloads(probe, DTU.limit_command(ROOF)) == ["300", "450"]
    assert waited > 1.0


async def test_a_reduction_does_not_wait_for_the_raise_interval(mqtt_settings, probe):
    settings = make_settings(mqtt_settings, min_interval_s=30, min_interval_reduce_s=0, refresh_interval_s=60)
    async with running(settings, probe) as topics:
        await send(probe, topics, {ROOF: 500})
        await probe.wait_for(DTU.limit_command(ROOF), payload("500"))
        await send(probe, topics, {ROOF: 200})
        await probe.wait_for(DTU.limit_command(ROOF), payload("200"), timeout=5)


async def test_two_inverters_are_commanded_without_waiting_for_each_other(mqtt_settings, probe):
    inverters = [{"serial": ROOF, "max_w": 800}, {"serial": GARAGE, "max_w": 600}]
    async with running(make_settings(mqtt_settings, inverters=inverters), probe) as topics:
        await send(probe, topics, {ROOF: 300, GARAGE: 200})  # no DTU answers: nothing may wait for an ack
        await asyncio.gather(
            probe.wait_for(DTU.limit_command(ROOF), payload("300"), timeout=3),
            probe.wait_for(DTU.limit_command(GARAGE), payload("200"), timeout=3),
        )


async def test_dry_run_sends_nothing(mqtt_settings, probe):
    async with running(make_settings(mqtt_settings), probe) as topics:
        await send(probe, topics, {ROOF: 300}, dry_run=True)
        await probe.wait_for(topics.actuator_state("opendtu"), mode("dry-run"))
        await send(probe, topics, {ROOF: 320})
        await probe.wait_for(DTU.limit_command(ROOF), payload("320"))
    assert payloads(probe, DTU.limit_command(ROOF)) == ["320"]


async def test_fail_safe_after_the_setpoint_timeout_and_recovery(mqtt_settings, probe):
    inverters = [{"serial": ROOF, "max_w": 800, "failsafe_limit_w": 100}]
    settings = make_settings(mqtt_settings, inverters=inverters, setpoint_timeout_s=2.0)
    async with running(settings, probe) as topics:
        await send(probe, topics, {ROOF: 600})
        await probe.wait_for(DTU.limit_command(ROOF), payload("600"))
        mark = probe.mark()
        await probe.wait_for(DTU.limit_command(ROOF), payload("100"), timeout=6, since=mark)
        state = await probe.wait_for(topics.actuator_state("opendtu"), mode("fail-safe"), since=mark)
        assert "no setpoint" in ActuatorState.model_validate_json(state.payload).reason
        mark = probe.mark()
        await send(probe, topics, {ROOF: 500})
        await probe.wait_for(DTU.limit_command(ROOF), payload("500"), since=mark)
        await probe.wait_for(topics.actuator_state("opendtu"), mode("following"), since=mark)


async def test_a_telemetry_burst_becomes_one_normalised_device_state(broker, mqtt_settings, probe):
    inverters = [{"serial": ROOF, "max_w": 800, "nameplate_w": 800}]
    settings = make_settings(mqtt_settings, inverters=inverters, telemetry_debounce_s=0.5)
    burst = {
        "name": "roof",
        "status/reachable": "1",
        "status/producing": "1",
        "status/last_update": "1763900001",
        "status/limit_relative": "75.00",
        "status/limit_absolute": "1125.00",  # wrong after boot: OpenDTU does not know the maximum yet
        "0/power": "305.2",
        "0/powerdc": "321.0",
        "0/voltage": "231.2",
        "0/yieldtotal": "1234.567",
        "0/yieldday": "812",
        "1/power": "160.0",
        "2/power": "161.0",
        "radio/rssi": "-61",
    }
    async with running(settings, probe) as topics:
        state_topic = topics.device_state("opendtu", ROOF)
        for subtopic, value in burst.items():
            await probe.publish(DTU.inverter(ROOF, subtopic), value)
        first = await probe.wait_for(state_topic)
        await probe.publish(DTU.inverter(ROOF, "0/power"), "310")
        await probe.wait_for(state_topic, lambda m: DeviceState.model_validate_json(m.payload).power_w == 310)
        stored = await retained(broker)
    assert len(probe.on(state_topic)) == 2
    state = DeviceState.model_validate_json(first.payload)
    assert state.model_dump(exclude={"timestamp"}) == {
        "actuator_id": "opendtu",
        "device_id": ROOF,
        "reachable": True,
        "producing": True,
        "power_w": 305.2,
        "dc_power_w": 321.0,
        "limit_w": 600.0,
        "duty": None,
        "energy_wh": 1234567.0,  # the inverter's lifetime yield, read in kWh
        "updated_at": 1763900001,
        "last_command_w": None,
        "last_command_at": None,
        "commands_left": 6.0,  # a full command budget: the controller's mirror of it is held to this
    }
    assert DeviceState.model_validate_json(stored[state_topic].payload).power_w == 310


async def test_garbage_is_logged_and_ignored(mqtt_settings, probe, caplog):
    caplog.set_level(logging.INFO, logger="zeropower")
    setpoints = Topics(mqtt_settings.topic_prefix).actuator_setpoints("opendtu")
    stale = SetpointCommand(setpoints_w={ROOF: 700}).model_dump_json()
    await probe.publish(setpoints, stale, retain=True)  # left over on the broker: delivered retained on subscribe
    async with running(make_settings(mqtt_settings), probe) as topics:
        for garbage in ["not json", '{"setpoints_w": {"x": "abc"}}', '{"setpoints_w": {}, "surprise": 1}', ""]:
            await probe.publish(setpoints, garbage)
        await send(probe, topics, {ROOF: 300, "999": 100})
        await send(probe, topics, {ROOF: 300, "999": 100})
        await probe.wait_for(DTU.limit_command(ROOF), payload("300"))
        await probe.publish(DTU.inverter(ROOF, "0/power"), "lots")
        await probe.publish(DTU.inverter(ROOF, "status/reachable"), "maybe")
        await probe.publish(DTU.inverter(ROOF, "0/power"), "250")
        state = await probe.wait_for(topics.device_state("opendtu", ROOF))
    assert payloads(probe, DTU.limit_command(ROOF)) == ["300"]
    assert DeviceState.model_validate_json(state.payload).power_w == 250
    messages = [record.getMessage() for record in caplog.records]
    assert any("retained" in m for m in messages)  # the first problem; the garbage after it in the same minute
    assert sum(m.startswith("setpoints: ") for m in messages) == 1  # is counted, not logged line by line
    assert sum("unknown device '999'" in m for m in messages) == 1
    assert any("0/power: ignored: not a number: 'lots'" in m for m in messages)
    assert any("status/reachable: ignored: expected 0 or 1" in m for m in messages)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_ahoydtu_layout(mqtt_settings, probe):
    settings = make_settings(
        mqtt_settings,
        driver={"type": "ahoydtu"},
        inverters=[{"name": "roof", "index": 2, "max_w": 800, "nameplate_w": 800}],
    )
    async with running(settings, probe) as topics:
        await send(probe, topics, {"roof": 600.4})
        command = await probe.wait_for("inverter/ctrl/limit/2")
        assert (command.text, command.retain) == ("600W", False)
        for subtopic, value in {
            "available": "2",
            "last_success": "1763900001",
            "ch0/P_AC": "300.000",
            "ch0/active_PowerLimit": "75",
            "ch1/P_DC": "150.000",
            "ch2/P_DC": "160.000",
        }.items():
            await probe.publish(f"inverter/roof/{subtopic}", value)
        received = await probe.wait_for(
            topics.device_state("opendtu", "roof"),
            lambda m: DeviceState.model_validate_json(m.payload).dc_power_w == 310,
        )
    state = DeviceState.model_validate_json(received.payload)
    assert (state.reachable, state.producing, state.power_w, state.limit_w) == (True, True, 300, 600)
    assert (state.updated_at, state.last_command_w) == (1763900001, 600.4)
    # Two tokens of the budget (refilling at 234 an hour) went: the limit, and its resend once the inverter
    # was seen reachable, which the controller cannot foresee: this tells it.
    assert 4 <= state.commands_left < 4.5


async def test_two_instances_side_by_side(mqtt_settings, probe):
    east = make_settings(mqtt_settings, actuator_id="east", inverters=[{"serial": ROOF, "max_w": 800}])
    west = make_settings(mqtt_settings, actuator_id="west", inverters=[{"serial": GARAGE, "max_w": 600}])
    async with running(east, probe) as topics, running(west, probe):
        await send(probe, topics, {ROOF: 300, GARAGE: 250}, actuator_id="east")
        await send(probe, topics, {GARAGE: 200}, actuator_id="west")
        await probe.wait_for(DTU.limit_command(ROOF), payload("300"))
        await probe.wait_for(DTU.limit_command(GARAGE), payload("200"))
        for actuator_id in ("east", "west"):
            await probe.wait_for(topics.availability(actuator_service_id(actuator_id)), payload("online"))
            await probe.wait_for(topics.actuator_state(actuator_id), mode("following"))
    assert payloads(probe, DTU.limit_command(GARAGE)) == ["200"]
    assert payloads(probe, DTU.limit_command(ROOF)) == ["300"]


@pytest.mark.parametrize("actuator_id", ["opendtu", "second"])
async def test_availability_goes_offline_on_a_clean_stop(mqtt_settings, probe, actuator_id):
    async with running(make_settings(mqtt_settings, actuator_id=actuator_id), probe) as topics:
        await probe.wait_for(topics.availability(actuator_service_id(actuator_id)), payload("online"))
    await probe.wait_for(topics.availability(actuator_service_id(actuator_id)), payload("offline"))
