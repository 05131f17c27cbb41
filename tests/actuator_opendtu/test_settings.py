"""Settings: defaults, the driver union, and the cross-field rules naming what is wrong."""

import re

import pytest
import yaml
from pydantic import ValidationError

from tests.helpers import REPO
from zeropower.actuator_opendtu.drivers import AhoyDtuConfig, OpenDtuConfig
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuServiceSettings, ActuatorOpenDtuSettings


def settings(**values) -> ActuatorOpenDtuSettings:
    values.setdefault("inverters", [{"serial": "114182912345", "max_w": 800}])
    return ActuatorOpenDtuSettings.model_validate(values)


def test_defaults():
    actuator = settings()
    assert actuator.actuator_id == "opendtu"
    assert isinstance(actuator.driver, OpenDtuConfig)
    assert actuator.driver.prefix == "solar"
    assert list(actuator.inverters_by_id) == ["114182912345"]
    inverter = actuator.inverters[0]
    assert (inverter.min_limit_w, inverter.failsafe_w, inverter.label) == (40, 40, "114182912345")
    assert inverter.commands_per_hour == 240


def test_every_field_is_described():
    for model in (ActuatorOpenDtuSettings, InverterSettings, OpenDtuConfig, AhoyDtuConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_min_percent_relates_to_the_nameplate():
    inverter = InverterSettings(serial="1", max_w=600, nameplate_w=800, min_percent=10)
    assert inverter.min_limit_w == 80
    assert InverterSettings(serial="1", max_w=600).min_limit_w == 30


def test_ahoydtu_uses_names_and_needs_indexes():
    actuator = settings(
        driver={"type": "ahoydtu"},
        inverters=[{"name": "roof", "index": 0, "max_w": 800}, {"name": "garage", "index": 1, "max_w": 600}],
    )
    assert isinstance(actuator.driver, AhoyDtuConfig)
    assert actuator.driver.prefix == "inverter"
    assert list(actuator.inverters_by_id) == ["roof", "garage"]


def test_trailing_slash_of_a_prefix_is_dropped():
    assert settings(driver={"type": "opendtu", "prefix": "solar/"}).driver.prefix == "solar"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"inverters": []}, "inverters"),
        ({"inverters": [{"max_w": 800}]}, "inverters[0].serial is required"),
        ({"inverters": [{"serial": "1", "max_w": 800, "index": 0}]}, "inverters[0].index is used only by"),
        (
            {"inverters": [{"serial": "1", "max_w": 800}, {"serial": "1", "max_w": 600}]},
            "1 configured more than once",
        ),
        ({"driver": {"type": "ahoydtu"}, "inverters": [{"name": "a", "max_w": 800}]}, "inverters[0].index"),
        (
            {"driver": {"type": "ahoydtu"}, "inverters": [{"serial": "1", "index": 0, "max_w": 800}]},
            "inverters[0].name is required",
        ),
        (
            {
                "driver": {"type": "ahoydtu"},
                "inverters": [{"name": "a", "index": 0, "max_w": 800}, {"name": "b", "index": 0, "max_w": 800}],
            },
            "inverters[1].index 0 is used twice",
        ),
        ({"driver": {"type": "hoymiles-wifi"}}, "driver"),
        ({"min_interval_s": 1, "min_interval_reduce_s": 2}, "min_interval_reduce_s"),
        ({"refresh_interval_s": 1}, "refresh_interval_s"),
        ({"actuator_id": "a/b"}, "actuator_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_actuator_settings_name_the_problem(values, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings(**values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"max_w": 0}, "max_w"),
        ({"max_w": 800, "min_w": 40, "min_percent": 10}, "not both"),
        ({"max_w": 800, "min_w": 800}, "must be below max_w"),
        ({"max_w": 800, "min_w": 10}, "below 2 %"),
        ({"max_w": 800, "min_percent": 1}, "min_percent"),
        ({"max_w": 800, "nameplate_w": 600}, "must not exceed nameplate_w"),
        ({"max_w": 800, "failsafe_limit_w": 900}, "failsafe_limit_w"),
        ({"max_w": 800, "failsafe_limit_w": 10}, "failsafe_limit_w"),
        ({"max_w": 800, "serial": "11/4"}, "serial"),
        ({"max_w": 800, "commands_per_hour": 11}, "commands_per_hour"),
        ({"max_w": 800, "commands_per_hour": 3601}, "commands_per_hour"),
    ],
)
def test_invalid_inverters_name_the_problem(values, message):
    values.setdefault("serial", "114182912345")
    with pytest.raises(ValidationError, match=message):
        InverterSettings.model_validate(values)


def test_without_the_actuator_section_it_is_set_up_in_the_browser():
    assert ActuatorOpenDtuServiceSettings().actuator_opendtu is None


def test_an_unquoted_serial_from_yaml_is_accepted():
    assert InverterSettings.model_validate({"serial": 114182912345, "max_w": 800}).serial == "114182912345"


def test_the_documented_examples_are_valid():
    doc = (REPO / "docs" / "services" / "actuator-opendtu.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)
    assert len(examples) == 2
    for example in examples:
        ActuatorOpenDtuSettings.model_validate(yaml.safe_load(example)["actuator_opendtu"])
