"""Meter settings: defaults, the driver chosen by type, environment variables, and errors naming the field."""

import os

import pytest
from pydantic import ValidationError

from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config
from zeropower.meter.drivers.sim import SimConfig
from zeropower.meter.settings import MeterServiceSettings, MeterSettings
from zeropower.shared.service import describe_validation_error
from zeropower.shared.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in [n for n in os.environ if n.startswith("ZEROPOWER_")]:
        monkeypatch.delenv(name)


def test_defaults():
    settings = MeterSettings()
    assert (settings.poll_interval_s, settings.timeout_s, settings.stale_after_s) == (1.0, 2.0, 10.0)
    assert (settings.max_power_w, settings.energy_max_gap_s) == (50_000, 10.0)
    assert isinstance(settings.driver, SimConfig)


def test_environment_variables_choose_and_configure_the_driver(monkeypatch):
    monkeypatch.setenv("ZEROPOWER_METER__DRIVER__TYPE", "shelly_gen2")
    monkeypatch.setenv("ZEROPOWER_METER__DRIVER__URL", "http://192.168.1.50")
    monkeypatch.setenv("ZEROPOWER_METER__DRIVER__PASSWORD", "pw")
    monkeypatch.setenv("ZEROPOWER_METER__POLL_INTERVAL_S", "0.5")
    settings = load_settings(MeterServiceSettings, None)
    assert isinstance(settings.meter.driver, ShellyGen2Config)
    assert str(settings.meter.driver.url) == "http://192.168.1.50/"
    assert settings.meter.driver.password.get_secret_value() == "pw"
    assert settings.meter.poll_interval_s == 0.5


def test_yaml_with_environment_override(monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "meter:\n  timeout_s: 0.8\n  driver:\n    type: tasmota\n    url: http://tasmota\n    power_key: curr_w\n"
    )
    monkeypatch.setenv("ZEROPOWER_METER__DRIVER__PREFIX", "MT631")
    settings = load_settings(MeterServiceSettings, config)
    assert settings.meter.timeout_s == 0.8
    assert (settings.meter.driver.prefix, settings.meter.driver.power_key) == ("MT631", "curr_w")


@pytest.mark.parametrize(
    ("meter", "expected"),
    [
        ({"poll_interval_s": "abc"}, "meter.poll_interval_s: Input should be a valid number"),
        ({"max_power_w": 2e6}, "meter.max_power_w: Input should be less than or equal to 1000000"),
        ({"max_power_w": 0}, "meter.max_power_w: Input should be greater than 0"),
        ({"driver": {"type": "shelly_gen2"}}, "meter.driver.shelly_gen2.url: Field required"),
        ({"driver": {"type": "shelly_gen2", "url": "http://x", "pasword": "p"}}, "meter.driver.shelly_gen2.pasword"),
        ({"driver": {"type": "fronius"}}, "meter.driver: Input tag 'fronius' found using 'type' does not match"),
        ({"driver": {"type": "sim", "seed": 1, "colour": "red"}}, "meter.driver.sim.colour: Extra inputs"),
        ({"poll_interval_s": 30}, "meter: Value error, energy_max_gap_s (10 s) must exceed poll_interval_s (30 s)"),
        ({"energy_max_gap_s": 0}, "meter.energy_max_gap_s: Input should be greater than 0"),
    ],
)
def test_invalid_settings_name_the_field(meter, expected):
    with pytest.raises(ValidationError) as caught:
        MeterServiceSettings(meter=meter)
    assert any(line.startswith(expected) for line in describe_validation_error(caught.value)), caught.value
