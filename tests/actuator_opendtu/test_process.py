"""``python -m zeropower.actuator_opendtu`` as a real process: clean stop on SIGTERM, exit 2 on bad config."""

from pathlib import Path

import pytest

from tests.helpers import MqttProbe, exit_status, service_process, start_service, terminate_timed
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

pytestmark = pytest.mark.integration

CONFIG = """\
mqtt:
  port: {port}
  topic_prefix: {prefix}
actuator_opendtu:
  actuator_id: balcony
  driver: {{type: opendtu, prefix: solar}}
  inverters:
    - {{serial: "114182912345", name: roof, max_w: 800, nameplate_w: 800}}
"""


async def test_sigterm_publishes_offline_and_exits_quickly(broker: Broker, probe: MqttProbe, tmp_path: Path):
    config = tmp_path / "zeropower.yaml"
    config.write_text(CONFIG.format(port=broker.port, prefix="zp-proc"), encoding="utf-8")
    availability = Topics("zp-proc").availability("actuator/balcony")
    with service_process("actuator_opendtu", {"ZEROPOWER_CONFIG": str(config)}, tmp_path / "service.log") as process:
        await probe.wait_for(availability, lambda m: m.text == "online", timeout=20)
        await probe.wait_for(Topics("zp-proc").actuator_announce("balcony"))
        returncode, elapsed = await terminate_timed(process)
    assert returncode == 0, (tmp_path / "service.log").read_text()
    assert elapsed < 2.0
    async with MqttProbe(broker.port) as fresh:
        offline = await fresh.wait_for(availability)
    assert (offline.text, offline.retain) == ("offline", True)


def test_invalid_config_exits_with_status_2_naming_the_field(tmp_path: Path):
    env = {"ZEROPOWER_ACTUATOR_OPENDTU__INVERTERS": '[{"serial": "114182912345", "max_w": -800}]'}
    process = start_service("actuator_opendtu", env, tmp_path / "service.log")
    returncode = exit_status(process)
    output = (tmp_path / "service.log").read_text()
    assert returncode == 2, output
    assert "actuator_opendtu.inverters.0.max_w" in output
