"""``python -m zeropower.actuator_pwm`` as a real process: duty 0 and offline on SIGTERM, exit 2 on bad config."""

from pathlib import Path

import pytest

from tests.helpers import MqttProbe, exit_status, service_process, start_service, terminate_timed
from zeropower.shared.messages import SetpointCommand
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

pytestmark = pytest.mark.integration

CONFIG = """\
mqtt:
  port: {port}
  topic_prefix: zp-proc
actuator_pwm:
  rated_w: 1650
  output: {{type: sim, output_id: boiler}}
  energy_file: {energy}
"""


async def test_sigterm_sets_duty_zero_and_publishes_offline(broker: Broker, probe: MqttProbe, tmp_path: Path):
    config = tmp_path / "zeropower.yaml"
    config.write_text(CONFIG.format(port=broker.port, energy=tmp_path / "energy.json"), encoding="utf-8")
    topics = Topics("zp-proc")
    availability = topics.availability("actuator/heater")
    duty_topic = topics.sim_pwm_duty("boiler")
    with service_process("actuator_pwm", {"ZEROPOWER_CONFIG": str(config)}, tmp_path / "service.log") as process:
        await probe.wait_for(availability, lambda m: m.text == "online", timeout=20)
        command = SetpointCommand(setpoints_w={"heater": 1650})
        await probe.publish(topics.actuator_setpoints("heater"), command.model_dump_json())
        await probe.wait_for(duty_topic, lambda m: m.text == "1")
        returncode, elapsed = await terminate_timed(process)
    assert returncode == 0, (tmp_path / "service.log").read_text()
    assert elapsed < 2.0
    assert (tmp_path / "energy.json").exists()
    async with MqttProbe(broker.port) as fresh:
        offline = await fresh.wait_for(availability)
        duty = await fresh.wait_for(duty_topic)
    assert (offline.text, offline.retain) == ("offline", True)
    assert (duty.text, duty.retain) == ("0", True)


def test_invalid_config_exits_with_status_2_naming_the_field(tmp_path: Path):
    env = {"ZEROPOWER_ACTUATOR_PWM__RATED_W": "-5", "ZEROPOWER_ACTUATOR_PWM__OUTPUT": '{"type": "sim"}'}
    process = start_service("actuator_pwm", env, tmp_path / "service.log")
    returncode = exit_status(process)
    output = (tmp_path / "service.log").read_text()
    assert returncode == 2, output
    assert "actuator_pwm.rated_w" in output


def test_an_output_that_cannot_open_exits_with_status_1_and_says_why(tmp_path: Path):
    env = {
        "ZEROPOWER_ACTUATOR_PWM__RATED_W": "1650",
        "ZEROPOWER_ACTUATOR_PWM__OUTPUT": f'{{"type": "sysfs", "root": "{tmp_path}"}}',
        "ZEROPOWER_ACTUATOR_PWM__ENERGY_FILE": str(tmp_path / "energy.json"),
    }
    process = start_service("actuator_pwm", env, tmp_path / "service.log")
    returncode = exit_status(process)
    output = (tmp_path / "service.log").read_text()
    assert returncode == 1, output
    assert "cannot start: no PWM chip at" in output
