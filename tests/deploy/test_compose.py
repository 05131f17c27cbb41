"""docker-compose.yml: valid, its variables documented, each zeropower service configured as its settings expect."""

from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.broker import OPERATOR_LISTENER, OPERATOR_USERS, PASSWORD_VARIABLES, SERVICES_LISTENER, USERS
from tests.deploy.deployment import (
    COMPOSE_FILE,
    CONFIG_IN_CONTAINER,
    ENV_PREFIX,
    PROCESS_VARIABLES,
    RUNNER_VARIABLES,
    ZeropowerService,
    compose_variables,
    docker_compose,
    env_as_tree,
    env_example,
    env_setting_problem,
    filled_env_file,
    merge,
    required_fields,
    resolved_compose,
    zeropower_services,
)
from tests.helpers import REPO
from zeropower.shared.settings import load_settings, read_config_file

#: Services of the application; the rest (broker, database, dashboards, one-shot setup) are infrastructure.
EXPECTED_ZEROPOWER = {
    "meter",
    "controller",
    "actuator-opendtu",
    "actuator-pwm",
    "actuator-battery",
    "recorder",
    "api",
    "sim",
}
#: Services that run only with a compose profile.
PROFILES = {"sim": ["sim"], "actuator-pwm": ["pwm"], "actuator-battery": ["battery"]}
#: Secrets that may stay empty: the users they create are optional (see mosquitto/setup.sh).
OPTIONAL_SECRETS = {
    "MQTT_OPENDTU_PASSWORD",
    "MQTT_ADMIN_PASSWORD",
    "MQTT_HOMEASSISTANT_PASSWORD",
    "MQTT_SIM_PASSWORD",
    "MQTT_ACTUATOR_BATTERY_PASSWORD",
}
#: The health check's command after the user it logs in as: ``python -m zeropower.shared.health <service id>``.
HEALTH_COMMAND = ["python", "-m", "zeropower.shared.health"]


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_env_file(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def compose(env_file: Path) -> dict[str, Any]:
    return resolved_compose(env_file)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, ZeropowerService]:
    return {service.name: service for service in zeropower_services(compose)}


def test_compose_file_is_valid(env_file):
    result = docker_compose("config", "--quiet", env_file=env_file)
    assert result.returncode == 0, result.stderr


def test_missing_secret_stops_compose_with_a_hint(tmp_path):
    env_file = filled_env_file(tmp_path)
    text = "\n".join(line for line in env_file.read_text().splitlines() if not line.startswith("INFLUXDB_TOKEN="))
    env_file.write_text(text + "\n")
    result = docker_compose("config", "--quiet", env_file=env_file)
    assert result.returncode != 0
    assert "set INFLUXDB_TOKEN in .env" in result.stderr


def test_every_variable_is_listed_in_env_example():
    used = compose_variables(COMPOSE_FILE.read_text())
    listed = env_example()
    assert sorted(set(used) - set(listed)) == [], "add these to .env.example with a comment"
    assert sorted(set(listed) - set(used)) == [], ".env.example lists variables the compose file does not use"


def test_every_env_example_variable_has_a_comment():
    lines = (REPO / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            above = lines[:index]
            block = above[len(above) - next((i for i, text in enumerate(reversed(above)) if not text), len(above)) :]
            assert any(text.startswith("#") for text in block), f"no comment above {line.split('=')[0]}"


def test_secrets_are_required_unless_optional():
    for name, modifier in compose_variables(COMPOSE_FILE.read_text()).items():
        if name.endswith(("PASSWORD", "TOKEN")) and name not in OPTIONAL_SECRETS:
            assert modifier == f":?set {name} in .env", f"{name}: write ${{{name}:?set {name} in .env}}"
    secrets_in_example = {name for name, value in env_example().items() if name.endswith(("PASSWORD", "TOKEN"))}
    assert all(env_example()[name] == "" for name in secrets_in_example), ".env.example must not carry secrets"


def test_env_example_says_which_secrets_are_required():
    """.env.example's "Required" and "Optional" notes are what the compose file enforces (a user reads them)."""
    text = (REPO / ".env.example").read_text()

    def listed(kind: str) -> set[str]:
        users = re.search(rf"^# {kind} passwords \(([^)]*)\)", text, re.MULTILINE)
        assert users, f".env.example has no '# {kind} passwords (...)' line"
        return {f"MQTT_{user.strip().upper().replace('-', '_')}_PASSWORD" for user in users.group(1).split(",")}

    modifiers = compose_variables(COMPOSE_FILE.read_text())
    passwords = {name: modifier for name, modifier in modifiers.items() if re.fullmatch(r"MQTT_\w+_PASSWORD", name)}
    assert listed("Required") == {name for name, modifier in passwords.items() if modifier.startswith(":?")}
    assert listed("Optional") == set(OPTIONAL_SECRETS) == {n for n, m in passwords.items() if not m.startswith(":?")}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        name = line.partition("=")[0]
        if name.endswith(("PASSWORD", "TOKEN")) and name not in passwords:  # InfluxDB, Grafana, the API token
            comments = list(itertools.takewhile(lambda above: above.startswith("#"), reversed(lines[:index])))
            assert any("Required" in comment for comment in comments), f"say above {name} that it is required"


def test_zeropower_services_are_the_expected_ones(services):
    assert set(services) == EXPECTED_ZEROPOWER
    for name in EXPECTED_ZEROPOWER:
        assert services[name].definition.get("profiles") == PROFILES.get(name), name


def test_build_arguments_name_a_package_and_its_module(services):
    for service in services.values():
        package = REPO / "services" / service.package_dir
        assert (package / "pyproject.toml").is_file(), f"{service.name}: no package services/{service.package_dir}"
        assert (package / "zeropower" / service.module / "__main__.py").is_file(), service.name
        assert importlib.util.find_spec(f"zeropower.{service.module}.__main__") is not None
        assert service.definition["build"]["context"] == str(REPO)


def test_every_service_restarts_and_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name == "mosquitto-setup":  # one-shot: runs to completion before the broker starts
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency == "mosquitto-setup" else "service_healthy"
            assert condition == {"condition": wanted}, f"{name} -> {dependency}"


def health_check(service: ZeropowerService) -> tuple[str, str]:
    """The user a service's health check logs in as, and the service id it checks."""
    test = service.definition["healthcheck"]["test"]
    if test[:2] == ["CMD", "env"]:
        variable, _, user = test[2].partition("=")
        assert variable == "ZEROPOWER_MQTT__USERNAME", service.name
        command = test[3:]
    else:
        user, command = service.environment["ZEROPOWER_MQTT__USERNAME"], test[1:]
    assert test[0] == "CMD", service.name
    assert command[:3] == HEALTH_COMMAND, service.name
    assert len(command) == 4, service.name
    return user, command[3]


def test_zeropower_services_wait_for_the_broker_and_check_their_availability(services):
    for service in services.values():
        assert service.definition["depends_on"]["mosquitto"] == {"condition": "service_healthy"}
        health_check(service)
    assert services["recorder"].definition["depends_on"]["influxdb"] == {"condition": "service_healthy"}


def test_health_checks_name_each_services_availability(services, monkeypatch, tmp_path):
    for service in services.values():
        settings = _load(service, monkeypatch, tmp_path)
        section = getattr(settings, service.module)
        actuator = service.module.startswith("actuator_")
        expected = f"actuator/{section.actuator_id}" if actuator else service.module
        assert health_check(service)[1] == expected


def test_health_checks_log_in_beside_the_service_not_instead_of_it(services):
    """The broker takes the user name as client id on 1883: a health check as the service would replace it."""
    for service in services.values():
        user = service.environment["ZEROPOWER_MQTT__USERNAME"]
        expected = user if user in OPERATOR_USERS else f"{user}-health"  # 1884: own client ids
        assert health_check(service)[0] == expected, service.name
        assert expected in USERS, f"{expected} is not a user of mosquitto/acl"


def test_each_user_logs_in_on_its_listener(services, compose):
    published = {int(port["target"]) for port in compose["services"]["mosquitto"]["ports"]}
    assert published == {SERVICES_LISTENER, OPERATOR_LISTENER}
    for service in services.values():
        user = service.environment["ZEROPOWER_MQTT__USERNAME"]
        expected = OPERATOR_LISTENER if user in OPERATOR_USERS else SERVICES_LISTENER
        assert service.environment["ZEROPOWER_MQTT__PORT"] == str(expected), service.name


def test_setup_gets_every_users_password(compose):
    environment = compose["services"]["mosquitto-setup"]["environment"]
    assert set(environment) == set(PASSWORD_VARIABLES.values())


@pytest.mark.parametrize("name", sorted(EXPECTED_ZEROPOWER))
def test_environment_variables_are_settings_fields(services, name):
    service = services[name]
    for variable in service.environment:
        if variable in PROCESS_VARIABLES:
            continue
        assert variable.startswith(ENV_PREFIX), f"{name}: {variable} is not a zeropower setting"
        if variable in RUNNER_VARIABLES:
            continue
        assert env_setting_problem(service.settings_class, variable, service.environment) is None


def test_env_check_catches_typos_and_wrong_driver_fields(services):
    meter = services["meter"].settings_class
    assert env_setting_problem(meter, "ZEROPOWER_MQTT__HOST", {}) is None
    assert "no field 'hots'" in str(env_setting_problem(meter, "ZEROPOWER_MQTT__HOTS", {}))
    shelly = {"ZEROPOWER_METER__DRIVER__TYPE": "shelly_gen2"}
    assert env_setting_problem(meter, "ZEROPOWER_METER__DRIVER__URL", shelly) is None
    assert env_setting_problem(meter, "ZEROPOWER_METER__DRIVER__TOPIC", shelly) is not None  # an mqtt field
    assert env_setting_problem(meter, "ZEROPOWER_METER__DRIVER__TOPIC", {}) is None  # some driver has it


def test_runner_variable_is_read_by_the_runner():
    assert "ZEROPOWER_CONFIG" in (REPO / "shared/zeropower/shared/service.py").read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED_ZEROPOWER))
def test_required_settings_are_provided(services, name):
    service = services[name]
    provided = merge(_config_sections(service), env_as_tree(service.environment))
    assert required_fields(service.settings_class, provided) == []


@pytest.mark.parametrize("name", sorted(EXPECTED_ZEROPOWER))
def test_settings_load_as_in_the_container(services, name, monkeypatch, tmp_path):
    service = services[name]
    settings = _load(service, monkeypatch, tmp_path)
    assert settings.mqtt.host == "mosquitto"
    assert settings.mqtt.username == service.name
    assert settings.mqtt.password is not None


def test_simulated_system_is_wired_together(services, monkeypatch, tmp_path):
    """With --profile sim: the meter reads the sim's Shelly, the actuator drives the sim's inverters."""
    sim = _load(services["sim"], monkeypatch, tmp_path).sim
    meter = _load(services["meter"], monkeypatch, tmp_path).meter
    actuator = _load(services["actuator-opendtu"], monkeypatch, tmp_path).actuator_opendtu
    assert sim.shelly.host == "0.0.0.0"  # reachable from the other containers
    url = urlsplit(str(meter.driver.url))
    assert meter.driver.type == "shelly_gen2"
    assert (url.hostname, url.port or 80) == ("sim", sim.shelly.port)
    assert actuator.driver.type == "opendtu"
    assert actuator.driver.prefix == sim.opendtu.prefix
    simulated = {inverter.serial: inverter for inverter in sim.inverters}
    for inverter in actuator.inverters:
        assert inverter.serial in simulated
        assert inverter.max_w <= simulated[inverter.serial].max_w


def test_simulated_battery_is_wired_to_the_battery_actuator(services, monkeypatch, tmp_path):
    """With --profile sim --profile battery: the actuator reaches the sim's Zendure with its serial and limits."""
    sim = _load(services["sim"], monkeypatch, tmp_path).sim
    actuator = _load(services["actuator-battery"], monkeypatch, tmp_path).actuator_battery
    assert sim.battery is not None
    assert sim.zendure.host == "0.0.0.0"
    assert sim.marstek.host == "0.0.0.0"  # for battery.protocol marstek_venus
    (battery,) = actuator.batteries
    url = urlsplit(str(battery.driver.url))
    assert (url.hostname, url.port or 80) == ("sim", sim.zendure.port)
    assert battery.driver.serial == sim.zendure.serial
    assert battery.max_charge_w <= sim.battery.max_charge_w
    assert battery.max_discharge_w <= sim.battery.max_discharge_w


def test_recorder_writes_to_the_compose_influxdb(services, compose, monkeypatch, tmp_path):
    influx = _load(services["recorder"], monkeypatch, tmp_path).recorder.influxdb
    init = compose["services"]["influxdb"]["environment"]
    assert influx.type == "influxdb2"
    assert urlsplit(influx.url).hostname == "influxdb"
    assert influx.org == init["DOCKER_INFLUXDB_INIT_ORG"]
    assert influx.bucket == init["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert influx.token.get_secret_value() == init["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]


def test_infrastructure_images_and_mounts(compose):
    services = compose["services"]
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["influxdb"]["image"] == "influxdb:2"
    assert services["grafana"]["image"].startswith("grafana/grafana-oss")
    assert services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    grafana_mounts = {_target(volume): _source(volume) for volume in services["grafana"]["volumes"]}
    assert grafana_mounts["/etc/grafana/provisioning"] == str(REPO / "grafana/provisioning")
    assert grafana_mounts["/var/lib/grafana/dashboards"] == str(REPO / "grafana/dashboards")
    mosquitto_mounts = {_target(volume): _source(volume) for volume in services["mosquitto"]["volumes"]}
    assert mosquitto_mounts["/mosquitto/config/mosquitto.conf"] == str(REPO / "mosquitto/mosquitto.conf")
    setup_mounts = {_target(volume): _source(volume) for volume in services["mosquitto-setup"]["volumes"]}
    assert setup_mounts["/mosquitto/auth"] == mosquitto_mounts["/mosquitto/auth"]  # the same named volume
    assert services["mosquitto-setup"]["command"] == ["sh", "/setup/setup.sh", "/mosquitto/auth"]
    assert setup_mounts["/setup"] == str(REPO / "mosquitto")


def _source(volume: str | dict[str, Any]) -> str:
    return volume["source"] if isinstance(volume, dict) else volume.split(":")[0]


def _target(volume: str | dict[str, Any]) -> str:
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def _config_sections(service: ZeropowerService) -> dict[str, Any]:
    return read_config_file(service.mounted_config(), set(service.settings_class.model_fields))


def _load(service: ZeropowerService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The service's settings from its compose environment and mounted config file (host path)."""
    import os  # noqa: PLC0415 - only to clear the variables of the developer's shell

    for variable in list(os.environ):
        if variable.startswith(ENV_PREFIX):
            monkeypatch.delenv(variable)
    for variable, value in service.environment.items():
        monkeypatch.setenv(variable, value)
    config = service.mounted_config()
    assert service.environment["ZEROPOWER_CONFIG"] == CONFIG_IN_CONTAINER
    assert yaml.safe_load(config.read_text()) is not None
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return load_settings(service.settings_class, config)


def test_readme_points_to_the_deployment_docs():
    readme = (REPO / "README.md").read_text()
    assert "## Docker compose" in readme
    assert readme.count("docs/deployment.md") >= 2
    assert "docker compose --profile sim up -d" in readme
    assert (REPO / "docs/deployment.md").is_file()


def test_grafana_provisioning_matches_the_compose_service(compose):
    """The provisioning's dashboard path is where compose mounts them; its ${VARS} are in Grafana's environment."""
    grafana = compose["services"]["grafana"]
    mounts = {_target(volume) for volume in grafana["volumes"]}
    provisioning = REPO / "grafana/provisioning"
    for path in sorted((provisioning / "dashboards").glob("*.y*ml")):
        for provider in yaml.safe_load(path.read_text())["providers"]:
            assert provider["options"]["path"] in mounts, path.name
    for path in sorted(provisioning.rglob("*.y*ml")):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        for name in compose_variables(text):
            assert name in grafana["environment"], f"{path.name} uses ${{{name}}}"
