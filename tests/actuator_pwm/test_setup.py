"""actuator-pwm set up from the broker: waiting, driving a setup, swapping outputs safely, refusing junk, YAML wins."""

import importlib.util
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, service_running
from zeropower.actuator_pwm.service import run
from zeropower.actuator_pwm.settings import ActuatorPwmServiceSettings
from zeropower.shared.messages import ActuatorAnnouncement, ActuatorState, SetpointCommand, SetupStatus
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.setup import MAX_SETUP_BYTES
from zeropower.shared.topics import Topics

SERVICE = "actuator/heater"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A setup keeps its energy counter in the default file, relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def setup(output_id: str = "boiler", **extra: object) -> str:
    return json.dumps({"rated_w": 1000, "output": {"type": "sim", "output_id": output_id}, **extra})


def status(message: IncomingMessage) -> SetupStatus:
    return SetupStatus.model_validate_json(message.payload)


def text(value: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: message.text == value


async def send(probe: MqttProbe, topics: Topics, watts: float, device_id: str = "heater") -> None:
    command = SetpointCommand(setpoints_w={device_id: watts})
    await probe.publish(topics.actuator_setpoints("heater"), command.model_dump_json())


def index(probe: MqttProbe, message: IncomingMessage) -> int:
    return next(i for i, seen in enumerate(probe.messages) if seen is message)


async def test_waits_then_drives_the_output_set_up(mqtt_settings, probe, workdir):
    topics = Topics(mqtt_settings.topic_prefix)
    async with service_running(run, ActuatorPwmServiceSettings(mqtt=mqtt_settings)):
        waiting = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).source == "waiting")
        assert (status(waiting).section, status(waiting).running) == ("actuator_pwm", None)
        await probe.wait_for(topics.availability(SERVICE), text("online"))
        assert not probe.on(topics.actuator_announce("heater"))  # nothing announced: the controller leaves it be

        await probe.publish(topics.setup("actuator_pwm"), setup(name="Boiler"), retain=True)
        set_up = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).source == "setup")
        assert status(set_up).running == "Boiler (1000 W) on sim output boiler, linear mapping"
        announced = await probe.wait_for(topics.actuator_announce("heater"))
        assert [d.name for d in ActuatorAnnouncement.model_validate_json(announced.payload).devices] == ["Boiler"]
        await send(probe, topics, 500)
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0.5"))
    assert probe.on(topics.sim_pwm_duty("boiler"))[-1].text == "0"  # stopped: duty 0
    assert (workdir / "var" / "actuator-pwm" / "heater-energy.json").exists()


async def test_a_new_setup_drives_the_old_output_to_zero_before_the_new_one_starts(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    boiler, tank = topics.sim_pwm_duty("boiler"), topics.sim_pwm_duty("tank")
    async with service_running(run, ActuatorPwmServiceSettings(mqtt=mqtt_settings)):
        await probe.publish(topics.setup("actuator_pwm"), setup("boiler"), retain=True)
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload)
        await send(probe, topics, 1000)
        await probe.wait_for(boiler, text("1"))  # the heater is on at full power

        mark = probe.mark()
        await probe.publish(
            topics.setup("actuator_pwm"), setup("tank", device_id="tank", setpoint_timeout_s=1), retain=True
        )
        off = await probe.wait_for(boiler, text("0"), since=mark)
        announced = await probe.wait_for(
            topics.actuator_announce("heater"), lambda m: b'"tank"' in m.payload, since=mark
        )
        await probe.wait_for(topics.device_state("heater", "heater"), lambda m: m.payload == b"", since=mark)
        await send(probe, topics, 500, "tank")
        on = await probe.wait_for(tank, text("0.5"), since=mark)
        assert index(probe, off) < index(probe, announced) < index(probe, on)  # never two outputs driving
        assert not [m for m in probe.on(tank) if index(probe, m) < index(probe, off)]

        failsafe = await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"fail-safe"' in m.payload)
        assert "for more than 1 s" in ActuatorState.model_validate_json(failsafe.payload).reason
        assert (await probe.wait_for(tank, since=index(probe, on) + 1)).text == "0"  # its own fail-safe holds
        await send(probe, topics, 1000)  # the old device id moves nothing any more
        await send(probe, topics, 100, "tank")
        await probe.wait_for(tank, text("0.1"), since=mark)
    assert [m.text for m in probe.on(boiler) if index(probe, m) > index(probe, off)] == []
    assert probe.on(tank)[-1].text == "0"


async def test_junk_is_refused_once_and_the_heater_keeps_following(mqtt_settings, probe, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.actuator_pwm")
    topics = Topics(mqtt_settings.topic_prefix)
    boiler = topics.sim_pwm_duty("boiler")
    async with service_running(run, ActuatorPwmServiceSettings(mqtt=mqtt_settings)):
        await probe.publish(topics.setup("actuator_pwm"), setup(), retain=True)
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload)
        await send(probe, topics, 300)
        await probe.wait_for(boiler, text("0.3"))
        mark = probe.mark()
        junk = {
            b'{"rated_w": 1000,': "not JSON (JSONDecodeError at position 17)",
            b"[1000]": "not a JSON object of the actuator_pwm section",
            b'{"rated_w": 1000}': "actuator_pwm.output: Field required",
            setup(rated_w=-5).encode(): "actuator_pwm.rated_w: Input should be greater than 0",
            setup(actuator_id="garage").encode(): "the instance set up in the browser is 'heater'",
            setup(energy_file="/etc/passwd").encode(): "energy_file: set up in the browser, the counter stays",
            json.dumps({"rated_w": 1000, "output": {"type": "sysfs", "root": "/tmp"}}).encode(): (
                "output.root: set up in the browser, a sysfs output is under /sys/class/pwm"
            ),
            b"9" * (MAX_SETUP_BYTES + 1): f"{MAX_SETUP_BYTES + 1} bytes, more than {MAX_SETUP_BYTES}",
        }
        for payload, expected in junk.items():
            await probe.publish(topics.setup("actuator_pwm"), payload, retain=True)
            refused = await probe.wait_for_new(topics.setup_status(SERVICE), lambda m: status(m).error is not None)
            assert status(refused).error.startswith("refused, the current one stays")
            assert expected in status(refused).error
            assert status(refused).running == "Heater (1000 W) on sim output boiler, linear mapping"
            await send(probe, topics, 300)  # still following: a live setpoint keeps the duty, no swap
        await send(probe, topics, 200)
        await probe.wait_for(boiler, text("0.2"), since=mark)
        assert [m.text for m in probe.on(boiler)[-2:]] == ["0.3", "0.2"]  # never dropped to 0 by the junk
        assert not [m for m in probe.on(topics.actuator_announce("heater")) if index(probe, m) >= mark]
    refusals = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 1  # one line a minute for a flood of changing junk


@pytest.mark.skipif(importlib.util.find_spec("RPi") is not None, reason="RPi.GPIO is installed: its pins would move")
async def test_an_output_that_cannot_open_says_why_and_leaves_the_heater_off(mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with service_running(run, ActuatorPwmServiceSettings(mqtt=mqtt_settings)):
        await probe.publish(topics.setup("actuator_pwm"), setup(), retain=True)
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload)
        await send(probe, topics, 1000)
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("1"))

        mark = probe.mark()
        gpio = json.dumps({"rated_w": 1000, "output": {"type": "rpi_gpio", "pin": 12}})
        await probe.publish(topics.setup("actuator_pwm"), gpio, retain=True)
        failed = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).error is not None, since=mark)
        assert status(failed).error.startswith("failed to run: OutputError: RPi.GPIO is not installed")
        assert (status(failed).source, status(failed).running) == ("waiting", None)  # nothing runs
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0"), since=mark)  # the old output was closed

        await probe.publish(topics.setup("actuator_pwm"), setup("tank"), retain=True)  # a good one runs again
        await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).running is not None, since=mark)
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload, since=mark)
        await send(probe, topics, 250)
        await probe.wait_for(topics.sim_pwm_duty("tank"), text("0.25"))


async def test_a_heater_in_the_config_file_ignores_the_setup_and_says_so(mqtt_settings, probe, workdir):
    topics = Topics(mqtt_settings.topic_prefix)
    await probe.publish(topics.setup("actuator_pwm"), setup("tank"), retain=True)
    configured = {"rated_w": 1650, "output": {"type": "sim", "output_id": "boiler"}}
    async with service_running(run, ActuatorPwmServiceSettings(mqtt=mqtt_settings, actuator_pwm=configured)):
        yaml = await probe.wait_for(topics.setup_status(SERVICE), lambda m: status(m).source == "yaml")
        assert status(yaml).running == "Heater (1650 W) on sim output boiler, linear mapping"
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload)
        await send(probe, topics, 825)
        await probe.wait_for(topics.sim_pwm_duty("boiler"), text("0.5"))
    assert not probe.on(topics.sim_pwm_duty("tank"))
    assert all(status(m).source == "yaml" for m in probe.on(topics.setup_status(SERVICE)))
