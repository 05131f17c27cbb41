"""``python -m zeropower.actuator_battery`` as a real process: exit 2 naming the field on a bad or missing config."""

from pathlib import Path

import pytest

from tests.helpers import exit_status, start_service

pytestmark = pytest.mark.integration

CONFIG = """\
actuator_battery:
  batteries:
    - device_id: solarflow
      capacity_wh: 2000
      max_charge_w: 1000
      max_discharge_w: 800
      driver: {driver}
"""


def run_with(tmp_path: Path, text: str | None) -> tuple[int, str]:
    env = {}
    if text is not None:
        config = tmp_path / "zeropower.yaml"
        config.write_text(text, encoding="utf-8")
        env["ZEROPOWER_CONFIG"] = str(config)
    returncode = exit_status(start_service("actuator_battery", env, tmp_path / "service.log"))
    return returncode, (tmp_path / "service.log").read_text()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (None, "actuator_battery"),  # no section: nothing to drive
        (CONFIG.format(driver="{type: tesla}"), "actuator_battery.batteries.0.driver"),
        (
            CONFIG.format(driver="{type: zendure, url: 'http://x'}"),
            "actuator_battery.batteries.0.driver.zendure.serial",
        ),
        (CONFIG.format(driver="{type: zendure, url: 'http://x', serial: A1, extra: 1}"), "extra"),
    ],
)
def test_invalid_config_exits_with_status_2_naming_the_field(tmp_path: Path, text, field):
    returncode, output = run_with(tmp_path, text)
    assert returncode == 2, output
    assert field in output
