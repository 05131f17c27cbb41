"""The actuator service against a real Mosquitto, with the sim output: announce, duty, fail-safe, energy."""

import contextlib
import json
from collections.abc import Callable

import pytest

from tests.helpers import MqttProbe, service_running
from zeropower.actuator_pwm.outputs import OutputError
from zeropower.actuator_pwm.outputs.sim import SimOutput
from zeropower.actuator_pwm.service import run
from zeropower.actuator_pwm.settings import ActuatorPwmServiceSettings
from zeropower.shared.messages import ActuatorAnnouncement, ActuatorState, DeviceState, SetpointCommand
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker


def make_settings(mqtt_settings: MqttSettings, tmp_path, **actuator) -> ActuatorPwmServiceSettings:
    actuator.setdefault("rated_w", 1650)
    actuator.setdefault("output", {"type": "sim", "output_id": "boiler"})
    actuator.setdefault("energy_file", str(tmp_path / "energy.json"))
    actuator.setdefault("state_interval_s", 0.2)
    return ActuatorPwmServiceSettings(mqtt=mqtt_settings, actuator_pwm=actuator)


@contextlib.asynccontextmanager
async def running(settings: ActuatorPwmServiceSettings, probe: MqttProbe):
    """Run the service until the block ends; enter once it is subscribed (availability online)."""
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await probe.wait_for(topics.availability("actuator/heater"), lambda m: m.text == "online")
        yield topics


async def send(probe: MqttProbe, topics: Topics, setpoints: dict[str, float], **extra) -> None:
    command = SetpointCommand(setpoints_w=setpoints, **extra)
    await probe.publish(topics.actuator_setpoints("heater"), command.model_dump_json())


async def retained(broker: Broker) -> dict[str, IncomingMessage]:
    """The broker's retained messages, as a client connecting now receives them."""
    async with MqttProbe(broker.port) as fresh:
        await fresh.publish("zp-test/marker", "done")  # handled after the subscription's retained messages
        await fresh.wait_for("zp-test/marker")
        return {message.topic: message for message in fresh.messages if message.retain}


def text(value: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: message.text == value


def mode(name: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: ActuatorState.model_validate_json(message.payload).mode == name


def device(predicate: Callable[[DeviceState], bool]) -> Callable[[IncomingMessage], bool]:
    return lambda message: predicate(DeviceState.model_validate_json(message.payload))


async def test_announcement_describes_a_consumer(broker, mqtt_settings, probe, tmp_path):
    settings = make_settings(mqtt_settings, tmp_path, name="Boiler", priority=2)
    async with running(settings, probe) as topics:
        await probe.wait_for(topics.actuator_announce("heater"))
        await probe.wait_for(topics.actuator_state("heater"))
        stored = await retained(broker)
    message = stored[topics.actuator_announce("heater")]
    state = stored[topics.actuator_state("heater")]
    announcement = ActuatorAnnouncement.model_validate_json(message.payload)
    assert (announcement.actuator_id, announcement.driver) == ("heater", "pwm")
    assert [d.model_dump() for d in announcement.devices] == [
        {
            "device_id": "heater",
            "name": "Boiler",
            "kind": "consumer",
            "min_w": 0,
            "max_w": 1650,
            "enabled": True,
            "priority": 2,
            "commands_per_hour": None,  # a heater's setpoint is no radio command: no budget
            "pacing": None,  # ... and no pacing: every change is applied at once
        }
    ]
    assert ActuatorState.model_validate_json(state.payload).mode == "waiting"


async def test_setpoint_drives_the_duty_and_reports_the_power(broker, mqtt_settings, probe, tmp_path):
    async with running(make_settings(mqtt_settings, tmp_path), probe) as topics:
        duty_topic = topics.sim_pwm_duty("boiler")
        await send(probe, topics, {"heater": 825})
        await probe.wait_for(duty_topic, text("0.5"))
        assert (await retained(broker))[duty_topic].text == "0.5"
        await probe.wait_for(topics.actuator_state("heater"), mode("following"))
        state = await probe.wait_for(
            topics.device_state("heater", "heater"), device(lambda s: s.duty == 0.5), timeout=5
        )
        await send(probe, topics, {"heater": 99999})
        await probe.wait_for(duty_topic, text("1"))
    reported = DeviceState.model_validate_json(state.payload)
    assert (reported.power_w, reported.last_command_w, reported.reachable, reported.producing) == (
        825,
        825,
        True,
        False,
    )


async def test_dry_run_reports_but_keeps_the_output_off(mqtt_settings, probe, tmp_path):
    async with running(make_settings(mqtt_settings, tmp_path), probe) as topics:
        await send(probe, topics, {"heater": 825}, dry_run=True)
        await probe.wait_for(topics.actuator_state("heater"), mode("dry-run"))
        await probe.wait_for(topics.device_state("heater", "heater"), device(lambda s: s.last_command_w == 825))
    assert {m.text for m in probe.on(Topics(mqtt_settings.topic_prefix).sim_pwm_duty("boiler"))} == {"0"}


async def test_timeout_sets_duty_zero_and_fail_safe(mqtt_settings, probe, tmp_path):
    settings = make_settings(mqtt_settings, tmp_path, setpoint_timeout_s=0.5)
    async with running(settings, probe) as topics:
        await send(probe, topics, {"heater": 1650})
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("1"))
        mark = probe.mark()
        state = await probe.wait_for(topics.actuator_state("heater"), mode("fail-safe"), since=mark)
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0"), since=mark)
    assert "for more than 0.5 s" in ActuatorState.model_validate_json(state.payload).reason


async def test_garbage_is_logged_and_ignored(mqtt_settings, probe, tmp_path, caplog):
    async with running(make_settings(mqtt_settings, tmp_path), probe) as topics:
        for payload in ("not json", '{"setpoints_w": {"heater": "lots"}}', '{"setpoints_w": {"heater": NaN}}'):
            await probe.publish(topics.actuator_setpoints("heater"), payload)
        await send(probe, topics, {"heater": 330, "other": 5})
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0.2"))
    assert "invalid SetpointCommand: payload: Invalid JSON" in caplog.text
    assert caplog.text.count("setpoints: ignoring") == 1  # one line a minute, however much garbage
    assert "ignoring setpoints for device 'other'" in caplog.text


async def test_energy_counter_persists_across_a_restart(mqtt_settings, probe, tmp_path):
    settings = make_settings(mqtt_settings, tmp_path)
    async with running(settings, probe) as topics:
        state_topic = topics.device_state("heater", "heater")
        await send(probe, topics, {"heater": 1650})
        await probe.wait_for(state_topic, device(lambda s: (s.energy_wh or 0) > 0.01), timeout=10)
    saved = json.loads((tmp_path / "energy.json").read_text())["energy_wh"]
    assert saved > 0.01
    final = DeviceState.model_validate_json(probe.on(state_topic)[-1].payload)
    assert final.duty == 0
    assert final.energy_wh == pytest.approx(saved, abs=1e-3)
    mark = probe.mark()
    async with running(settings, probe):
        first = await probe.wait_for(state_topic, since=mark)
    assert DeviceState.model_validate_json(first.payload).energy_wh >= saved - 1e-3


async def test_an_unhandled_error_still_leaves_duty_zero(mqtt_settings, probe, tmp_path, monkeypatch):
    original = SimOutput.set_duty

    async def fail_above_zero(self: SimOutput, duty: float) -> None:
        if duty > 0:
            raise OutputError("the output broke")
        await original(self, duty)

    monkeypatch.setattr(SimOutput, "set_duty", fail_above_zero)
    settings = make_settings(mqtt_settings, tmp_path)
    topics = Topics(settings.mqtt.topic_prefix)
    mark = probe.mark()

    async def fail_on_a_setpoint() -> None:
        async with running(settings, probe):
            await send(probe, topics, {"heater": 825})
            await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0"), since=mark)
            await probe.wait_for(topics.availability("actuator/heater"), text("offline"), since=mark)

    with pytest.raises(ExceptionGroup) as caught:
        await fail_on_a_setpoint()
    assert caught.group_contains(OutputError, match="the output broke")
