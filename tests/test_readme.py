"""The README's example configuration is valid for every service it configures."""

import re
from pathlib import Path

import pytest

from tests.helpers import REPO
from zeropower.actuator_battery.settings import ActuatorBatteryServiceSettings
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuServiceSettings
from zeropower.controller.settings import ControllerServiceSettings
from zeropower.meter.settings import MeterServiceSettings
from zeropower.shared.service import settings_or_exit
from zeropower.shared.settings import load_settings


@pytest.fixture
def readme_config(tmp_path: Path, monkeypatch) -> Path:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n# config.yaml\n(.*?)```", text, re.DOTALL)
    assert block, "README has no '# config.yaml' example"
    path = tmp_path / "config.yaml"
    path.write_text(block.group(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MQTT_PASSWORD", "secret")
    return path


@pytest.mark.parametrize(
    "settings_cls", [MeterServiceSettings, ControllerServiceSettings, ActuatorOpenDtuServiceSettings]
)
def test_readme_config_is_valid(readme_config, settings_cls):
    settings = load_settings(settings_cls, readme_config)
    assert settings.mqtt.host == "192.168.1.10"
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "secret"


def battery_sections() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```yaml\n(actuator_battery:\n.*?)```", text, re.DOTALL)


def test_readme_battery_examples_are_valid(tmp_path, monkeypatch):
    sections = battery_sections()
    assert len(sections) == 2  # Zendure, and the battery-powered Hoymiles behind OpenDTU
    monkeypatch.chdir(tmp_path)
    drivers = []
    for section in sections:
        path = tmp_path / "config.yaml"
        path.write_text(section)
        settings = load_settings(ActuatorBatteryServiceSettings, path)
        drivers += [battery.driver.type for battery in settings.actuator_battery.batteries]
    assert drivers == ["zendure", "opendtu"]


def troubleshooting() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("## Troubleshooting") : text.index("## Development")]


@pytest.mark.parametrize(
    ("driver", "quoted"),
    [
        ("{type: shelly_gen2}", "meter.driver.shelly_gen2.url: Field required"),
        (
            "{type: shelly_gen2, url: 'http://192.168.1.50', pasword: x}",
            "meter.driver.shelly_gen2.pasword: Extra inputs are not permitted",
        ),
    ],
)
def test_readme_quotes_the_real_configuration_errors(tmp_path, monkeypatch, capsys, driver, quoted):
    """What the meter service prints for an invalid config, as the README's troubleshooting quotes it."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(f"meter:\n  driver: {driver}\n")
    with pytest.raises(SystemExit) as exited:
        settings_or_exit("meter", MeterServiceSettings, config)
    assert exited.value.code == 2
    printed = capsys.readouterr().err.splitlines()
    assert printed[0] == "zeropower.meter: invalid configuration:"
    assert [line.strip() for line in printed[1:]] == [quoted]
    assert f"`{quoted}`" in troubleshooting()
    assert f"`{printed[0]}`" in troubleshooting()
