"""Settings: defaults, the output and mapping unions, and errors naming the field."""

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tests.helpers import REPO
from zeropower.actuator_pwm.mapping import LinearMapping, PhaseFiredMapping, TableMapping
from zeropower.actuator_pwm.outputs import RpiGpioConfig, SimOutputConfig, SysfsConfig
from zeropower.actuator_pwm.settings import ActuatorPwmServiceSettings, ActuatorPwmSettings


def settings(**values) -> ActuatorPwmSettings:
    values.setdefault("rated_w", 1650)
    values.setdefault("output", {"type": "sim"})
    return ActuatorPwmSettings.model_validate(values)


def test_defaults():
    actuator = settings()
    assert (actuator.actuator_id, actuator.device_id, actuator.setpoint_timeout_s) == ("heater", "heater", 45)
    assert isinstance(actuator.mapping, LinearMapping)
    assert isinstance(actuator.output, SimOutputConfig)
    assert actuator.jitter_warning_percent == 20
    assert actuator.energy_path == Path("var/actuator-pwm/heater-energy.json")
    assert settings(energy_file="/tmp/e.json").energy_path == Path("/tmp/e.json")


def test_every_field_is_described():
    models = (ActuatorPwmSettings, RpiGpioConfig, SysfsConfig, SimOutputConfig)
    for model in (*models, LinearMapping, PhaseFiredMapping, TableMapping):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_output_backends_by_type():
    assert isinstance(settings(output={"type": "rpi_gpio", "pin": 12}).output, RpiGpioConfig)
    sysfs = settings(output={"type": "sysfs", "chip": 2, "channel": 1}).output
    assert isinstance(sysfs, SysfsConfig)
    assert (sysfs.root, sysfs.frequency_hz) == (Path("/sys/class/pwm"), 5)


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"rated_w": 0}, "rated_w"),
        ({"output": {"type": "pigpio"}}, "output"),
        ({"output": {"type": "rpi_gpio"}}, "output.rpi_gpio.pin"),
        ({"output": {"type": "rpi_gpio", "pin": 40}}, "output.rpi_gpio.pin"),
        ({"output": {"type": "sysfs", "frequency_hz": 0}}, "output.sysfs.frequency_hz"),
        ({"mapping": {"type": "table", "points": [[0, 0], [0.5, 1]]}}, "mapping.table"),
        ({"setpoint_timeout_s": 0}, "setpoint_timeout_s"),
        ({"actuator_id": "a/b"}, "actuator_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_settings_name_the_field(values, location):
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    locations = [".".join(str(part) for part in error["loc"]) for error in caught.value.errors()]
    assert any(found.startswith(location) for found in locations), locations


def test_without_the_actuator_section_it_is_set_up_in_the_browser():
    assert ActuatorPwmServiceSettings().actuator_pwm is None


def test_the_documented_examples_are_valid():
    doc = (REPO / "docs" / "services" / "actuator-pwm.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)
    assert len(examples) >= 3
    for example in examples:
        ActuatorPwmSettings.model_validate(yaml.safe_load(example)["actuator_pwm"])
