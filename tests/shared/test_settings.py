from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from zeropower.shared.service import describe_validation_error, settings_or_exit
from zeropower.shared.settings import ConfigError, ServiceSettings, StrictModel, load_settings, substitute_variables


class Section(StrictModel):
    url: str = Field("http://default", description="A URL.")
    interval_s: float = Field(1.0, gt=0, description="An interval.")


class ExampleSettings(ServiceSettings):
    meter: Section = Field(default_factory=Section, description="A section.")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key in [k for k in __import__("os").environ if k.startswith("ZEROPOWER_")]:
        monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_without_file():
    settings = load_settings(ExampleSettings, None)
    assert settings.mqtt.host == "127.0.0.1"
    assert settings.mqtt.topic_prefix == "zeropower"


def test_yaml_with_variables_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("METER_HOST", "192.168.1.50")
    path = write(
        tmp_path,
        "mqtt:\n  port: ${MQTT_PORT:-1884}\n  password: ${MQTT_PASSWORD:-}\n"
        "meter:\n  url: http://${METER_HOST}/rpc\n"
        "controller:\n  target_w: 5\n",  # another service's section is ignored
    )
    settings = load_settings(ExampleSettings, path)
    assert settings.mqtt.port == 1884
    assert settings.meter.url == "http://192.168.1.50/rpc"


def test_dotenv_values_are_substituted(tmp_path):
    (tmp_path / ".env").write_text("METER_HOST=10.0.0.7\n")
    settings = load_settings(ExampleSettings, write(tmp_path, "meter:\n  url: http://${METER_HOST}\n"))
    assert settings.meter.url == "http://10.0.0.7"


def test_environment_overrides_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROPOWER_METER__INTERVAL_S", "2.5")
    settings = load_settings(ExampleSettings, write(tmp_path, "meter:\n  interval_s: 1.5\n"))
    assert settings.meter.interval_s == 2.5


def test_missing_variable_is_named(tmp_path):
    with pytest.raises(ConfigError, match="METER_HOST is not set"):
        load_settings(ExampleSettings, write(tmp_path, "meter:\n  url: http://${METER_HOST}\n"))


def test_unknown_section_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section.*metre"):
        load_settings(ExampleSettings, write(tmp_path, "metre:\n  url: x\n"))


def test_unknown_key_and_wrong_type_are_named(tmp_path):
    path = write(tmp_path, "meter:\n  urll: x\n  interval_s: soon\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(ExampleSettings, path)
    problems = describe_validation_error(caught.value)
    assert any(p.startswith("meter.urll: Extra inputs are not permitted") for p in problems)
    assert any(p.startswith("meter.interval_s:") and "'soon'" in p for p in problems)


def test_invalid_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(ExampleSettings, write(tmp_path, "meter: [unclosed\n"))


def test_settings_or_exit_exits_2_naming_the_field(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        settings_or_exit("meter", ExampleSettings, write(tmp_path, "meter:\n  interval_s: -1\n"))
    assert caught.value.code == 2
    assert "meter.interval_s" in capsys.readouterr().err


def test_substitution_leaves_non_strings_alone():
    tree = {"a": [1, "${X:-two}", {"b": True}]}
    assert substitute_variables(tree, {}, "f") == {"a": [1, "two", {"b": True}]}


def test_no_secret_is_printed_in_a_configuration_error(tmp_path):
    path = write(tmp_path, "meter:\n  url: x\n  pasword: hunter2\n  interval_s: soon\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(ExampleSettings, path)
    problems = describe_validation_error(caught.value)
    assert "meter.pasword: Extra inputs are not permitted" in problems  # a misspelled key: named, no value
    assert not any("hunter2" in problem for problem in problems)
    assert any("'soon'" in problem for problem in problems)  # other values still help
