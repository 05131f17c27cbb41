"""The README's example configuration is valid for every service it configures."""

import re
from pathlib import Path

import pytest

from tests.helpers import REPO
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuServiceSettings
from zeropower.controller.settings import ControllerServiceSettings
from zeropower.meter.settings import MeterServiceSettings
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
