"""The Mosquitto deployment: login required, each user writes only its own topics (the ACL matrix: every user
tries every topic class), client ids bound to users, retained messages survive a restart, the setup script.

Against a real Mosquitto started with the repository's mosquitto.conf (paths and ports moved), ACL, and the
password files written by mosquitto/setup.sh. A denied publish is dropped silently (MQTT 3.1.1), so what got
through is what an admin subscribed to ``#`` receives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
import yaml

from tests.deploy.broker import (
    OPERATOR_USERS,
    PASSWORD_VARIABLES,
    SECOND_CONNECTIONS,
    SETUP_SCRIPT,
    USERS,
    Observer,
    SecuredBroker,
    password_of,
    run_setup,
)
from tests.deploy.conftest import secured_broker
from tests.helpers import REPO

pytestmark = pytest.mark.integration

PREFIX, DTU, AHOY, HA = "zeropower", "solar", "inverter", "homeassistant"  # the prefixes the ACL assumes
SERIAL = "114182912345"
#: Actuator instances: the user of each default one, and an instance nobody has set up (its topics: no one's).
ACTUATORS = {"opendtu": "actuator-opendtu", "heater": "actuator-pwm", "battery": "actuator-battery", "garage": None}
DEVICES = {"opendtu": SERIAL, "heater": "heater", "battery": "solarflow", "garage": "x"}
#: Placeholders of docs/mqtt.md (other than <id> and <device>) filled with example values.
PLACEHOLDERS = {
    "<p>": PREFIX,
    "<dtu>": DTU,
    "<ahoy>": AHOY,
    "<serial>": SERIAL,
    "<name>": "roof",
    "<index>": "0",
    "<n>": "1",
    "<output>": "heater",
}
#: Who publishes, as docs/mqtt.md names them, and the users that play that part ("actuator": per instance).
PUBLISHERS = {
    "meter": {"meter"},
    "controller": {"controller"},
    "OpenDTU actuator": {"actuator-opendtu"},
    "PWM actuator": {"actuator-pwm"},
    "battery actuator": {"actuator-battery"},
    "simulator": {"sim"},
    "recorder": {"recorder"},
    "API": {"api"},
    "user": {"admin"},
    "tests": {"admin"},
    "Home Assistant": {"homeassistant"},
    "OpenDTU": {"opendtu", "sim"},  # the simulator emulates an OpenDTU
    "AhoyDTU": set(),  # no user for it: docs/deployment.md says how to add one
}
DTUS = {"opendtu", "sim"}
#: Each service's availability (``<p>/<service>/availability``): written by that service only.
AVAILABILITY = {
    f"{PREFIX}/meter/availability": {"meter"},
    f"{PREFIX}/controller/availability": {"controller"},
    f"{PREFIX}/recorder/availability": {"recorder"},
    f"{PREFIX}/sim/availability": {"sim"},
    f"{PREFIX}/api/availability": {"api"},
    **{f"{PREFIX}/actuator/{key}/availability": {user} - {None} for key, user in ACTUATORS.items()},
}
#: Writes the catalogue does not list, and who may make them (mostly no one).
UNLISTED = {
    # The DTUs' other commands: persistent limits wear the inverter's flash; restart is not zeropower's (power is the
    # battery actuator's, for a battery-powered inverter: listed).
    **{
        topic: set()
        for topic in [
            f"{DTU}/{SERIAL}/cmd/{command}"
            for command in (
                "limit_persistent_absolute",
                "limit_persistent_relative",
                "limit_nonpersistent_relative",
                "restart",
                "reset_rf_stats",
            )
        ]
        + [f"{AHOY}/ctrl/{command}" for command in ("restart/0", "power/0", "restart_ahoy")]
        + [f"{AHOY}/setup/set_time"]
    },
    # OpenDTU's other telemetry (firmware b6f0353): the DTU, real or simulated, and no one else.
    **dict.fromkeys(
        [
            f"{DTU}/dtu/status",
            f"{DTU}/dtu/heap/free",
            f"{DTU}/ac/yieldtotal",
            f"{DTU}/dc/irradiation",
            f"{DTU}/{SERIAL}/name",
            f"{DTU}/{SERIAL}/device/fwbuildversion",
            f"{DTU}/{SERIAL}/radio/rssi",
            f"{DTU}/{SERIAL}/6/power",
        ],
        DTUS,
    ),
    f"{PREFIX}/sim/pwm/other/duty": set(),  # another simulated output than actuator-pwm's
    f"{HA}/status": {"homeassistant"},
    f"{HA}/sensor/other/power/config": set(),  # not zeropower's discovery
    f"{PREFIX}/test/undocumented": set(),
}


def documented_publications() -> dict[str, set[str]]:
    """{example topic: users that publish it} for every row of docs/mqtt.md's tables; ``<id>`` for each
    instance of ACTUATORS."""
    rows: dict[str, set[str]] = {}
    for line in (REPO / "docs/mqtt.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`") or "→" not in cells[1]:
            continue
        publishers = {name.strip() for name in cells[1].split("→")[0].split(",")}
        if publishers == {"each service"}:
            continue  # availability: AVAILABILITY
        patterns = re.findall(r"`([^`]+)`", cells[0])
        device_base = "/".join(patterns[0].split("/")[:2])  # `<dtu>/<serial>/a`, `b`: b is below the device
        for written in patterns:
            pattern = (written if written.startswith(("<", HA)) else f"{device_base}/{written}").rstrip(".")
            for key, actuator in ACTUATORS.items() if "<id>" in pattern else [("", None)]:
                topic = pattern.replace("<id>", key).replace("<device>", DEVICES.get(key, ""))
                for placeholder, value in PLACEHOLDERS.items():
                    topic = topic.replace(placeholder, value)
                assert "<" not in topic, f"unknown placeholder in {pattern}"
                rows[topic] = _users(publishers, actuator)
    return rows


def _users(publishers: set[str], actuator: str | None) -> set[str]:
    unknown = publishers - set(PUBLISHERS) - {"actuator"}
    assert not unknown, f"docs/mqtt.md names publishers this test does not know: {unknown}"
    users = set().union(*(PUBLISHERS.get(name, set()) for name in publishers))
    return users | ({actuator} if "actuator" in publishers and actuator else set())


def matrix() -> dict[str, set[str]]:
    """Every topic class (an example topic) and the users that may write it; every other user may not."""
    return {**documented_publications(), **AVAILABILITY, **UNLISTED}


@pytest.fixture
async def observer(broker: SecuredBroker) -> AsyncIterator[Observer]:
    async with Observer(broker).running() as watching:
        yield watching


def test_docs_table_is_parsed():
    rows = documented_publications()
    assert rows[f"{PREFIX}/meter/grid"] == {"meter"}
    assert rows[f"{PREFIX}/actuator/opendtu/set"] == {"controller"}
    assert rows[f"{PREFIX}/actuator/heater/announce"] == {"actuator-pwm"}
    assert rows[f"{PREFIX}/actuator/garage/device/x/state"] == set()
    assert rows[f"{DTU}/{SERIAL}/cmd/limit_nonpersistent_absolute"] == {"actuator-opendtu", "actuator-battery"}
    assert rows[f"{DTU}/{SERIAL}/cmd/power"] == {"actuator-battery"}  # a battery-powered inverter only
    assert rows[f"{DTU}/{SERIAL}/1/power"] == DTUS
    assert rows[f"{PREFIX}/set/enabled"] == {"admin", "api", "homeassistant"}
    assert rows[f"{HA}/sensor/zeropower/zeropower_grid_power/config"] == {"api"}
    assert rows[f"{HA}/status"] == {"homeassistant"}
    assert len(rows) >= 30


async def test_acl_matrix_each_user_writes_exactly_its_own_topics(broker, observer):
    """Every user publishes on every topic class; exactly the allowed ones get through."""
    topics = matrix()
    for user in USERS:
        async with broker.client(user) as publisher:
            for topic in topics:
                await publisher.publish(topic, user.encode(), qos=1)  # returns once the broker has routed it
    await observer.fence()
    arrived = set(observer.messages)
    attempts = {(topic, user.encode()) for topic in topics for user in USERS}
    allowed = {(topic, user.encode()) for topic, writers in topics.items() for user in writers}
    forbidden = attempts - allowed
    print(
        f"ACL matrix: {len(USERS)} users x {len(topics)} topic classes: {len(forbidden)} forbidden writes tried, "
        f"{len(forbidden & arrived)} got through; {len(allowed)} allowed, {len(allowed - arrived)} dropped"
    )
    assert sorted(forbidden & arrived) == [], "forbidden writes that got through"
    assert sorted(allowed - arrived) == [], "allowed writes that were dropped"
    assert len(forbidden) > 10 * len(allowed)


def test_every_user_can_write_something_or_is_a_reader():
    writers = set().union(*matrix().values())
    readers = {"healthcheck", *SECOND_CONNECTIONS}
    assert writers | readers == set(USERS)
    assert not writers & readers


async def test_meter_may_publish_grid_power_but_not_switch_control(broker, observer):
    async with broker.client("meter") as meter:
        await meter.publish(f"{PREFIX}/set/enabled", b"off", qos=1)
        await meter.publish(f"{PREFIX}/meter/grid", b"{}", qos=1)
    await observer.fence()
    assert f"{PREFIX}/meter/grid" in observer.topics
    assert f"{PREFIX}/set/enabled" not in observer.topics


#: What the users that may not read everything receive (the others read every topic but $SYS).
READS = {
    **{
        user: {f"{PREFIX}/{service}/availability"}
        for user, service in (
            ("meter-health", "meter"),
            ("controller-health", "controller"),
            ("recorder-health", "recorder"),
            ("api-health", "api"),
            ("actuator-opendtu-health", "actuator/opendtu"),
            ("actuator-pwm-health", "actuator/heater"),
            ("actuator-battery-health", "actuator/battery"),
        )
    },
    "opendtu": {f"{DTU}/{SERIAL}/cmd/limit_nonpersistent_absolute"},
}
#: Messages to read and who may write them.
PROBES = {
    **{topic: sorted(writers)[0] for topic, writers in AVAILABILITY.items() if writers},
    f"{PREFIX}/meter/grid": "meter",
    f"{PREFIX}/controller/state": "controller",
    f"{DTU}/{SERIAL}/cmd/limit_nonpersistent_absolute": "actuator-opendtu",
    f"{DTU}/{SERIAL}/0/power": "opendtu",
    **{f"{PREFIX}/setup/{section}": "api" for section in ("meter", "actuator_opendtu", "actuator_pwm")},
}
#: The setups in the browser hold the meter's secrets: only the API, the service each is for and admin read one.
SETUP_READERS = {
    f"{PREFIX}/setup/meter": {"api", "meter", "admin"},
    f"{PREFIX}/setup/actuator_opendtu": {"api", "actuator-opendtu", "admin"},
    f"{PREFIX}/setup/actuator_pwm": {"api", "actuator-pwm", "admin"},
}


@pytest.mark.parametrize("reader", sorted(set(USERS) - {"healthcheck"}))
async def test_each_user_reads_what_it_needs_and_health_checks_and_dtu_little_else(broker, reader):
    hidden = {topic for topic, readers in SETUP_READERS.items() if reader not in readers}
    expected = READS.get(reader, set(PROBES) - hidden)
    fence = sorted(expected)[-1]  # a probe it reads, sent again last
    received: list[str] = []
    async with broker.client(reader) as subscriber:
        await subscriber.subscribe("#", qos=1)
        for topic, writer in [*PROBES.items(), (fence, PROBES[fence])]:
            if writer == reader:  # a second connection of the same user would replace the subscriber's
                await subscriber.publish(topic, b"probe", qos=1)
                continue
            async with broker.client(writer) as publisher:
                await publisher.publish(topic, b"probe", qos=1)
        async with asyncio.timeout(10):
            async for message in subscriber.messages:
                received.append(str(message.topic))
                if received.count(fence) == 2:
                    break
    assert set(received) == expected


async def test_health_check_user_reads_only_broker_status(tmp_path):
    with secured_broker(tmp_path, extra_config=("sys_interval 1",)) as broker:
        await _reads_only_broker_status(broker)


async def _reads_only_broker_status(broker: SecuredBroker) -> None:
    async with broker.client("healthcheck") as reader, broker.client("meter") as meter:
        await reader.subscribe("#", qos=1)
        await reader.subscribe("$SYS/broker/uptime", qos=1)
        async with asyncio.timeout(10):
            uptime = await anext(aiter(reader.messages))  # retained: at once
            await meter.publish(f"{PREFIX}/meter/grid", b"data", qos=1)
            later = await anext(aiter(reader.messages))  # the next $SYS update, after the grid reading
    assert (str(uptime.topic), str(later.topic)) == ("$SYS/broker/uptime", "$SYS/broker/uptime")


async def test_anonymous_and_wrong_passwords_are_refused(broker):
    for port in {broker.port, broker.operator_port}:
        with pytest.raises(aiomqtt.MqttCodeError):
            async with aiomqtt.Client("127.0.0.1", port):
                pass
    with pytest.raises(aiomqtt.MqttCodeError):
        async with broker.client("meter", "wrong"):
            pass
    with pytest.raises(aiomqtt.MqttCodeError):
        async with broker.client("nobody", "x"):
            pass


async def test_each_user_logs_in_on_its_own_listener_only(broker):
    for user in USERS:
        wrong = broker.port if user in OPERATOR_USERS else broker.operator_port
        async with broker.client(user):
            pass
        with pytest.raises(aiomqtt.MqttCodeError):
            async with aiomqtt.Client("127.0.0.1", wrong, username=user, password=password_of(user)):
                pass


TAKEOVER_LINE = "already connected, closing old connection"


async def test_no_service_user_can_disconnect_another_users_connection(broker):
    """On 1883 the client id is the user name: asking for another's client id gets one's own."""
    services = sorted(set(USERS) - OPERATOR_USERS)
    for victim in services:
        sent_id = f"zeropower-{victim}-host"
        async with broker.client(victim, identifier=sent_id):
            for attacker in services:
                if attacker != victim:
                    for identifier in (victim, sent_id):
                        async with broker.client(attacker, identifier=identifier):
                            pass
    assert TAKEOVER_LINE not in broker.log()
    async with broker.client("meter", identifier="one"), broker.client("meter", identifier="two"):
        pass  # the same user twice: the second connection replaces the first
    assert f"Client meter {TAKEOVER_LINE}" in broker.log()


async def test_operator_users_choose_their_client_ids(broker):
    """admin and sim, on 1884, may have several connections at once, and could take over a service's client id."""
    async with broker.client("admin", identifier="explorer"), broker.client("admin", identifier="terminal") as admin:
        await admin.publish(f"{PREFIX}/set/enabled", b"on", qos=1)
    assert TAKEOVER_LINE not in broker.log()
    async with broker.client("controller"), broker.client("admin", identifier="controller"):
        pass
    assert f"Client controller {TAKEOVER_LINE}" in broker.log()


async def test_retained_messages_survive_a_broker_restart(broker):
    topic = f"{PREFIX}/controller/state"
    async with broker.client("controller") as controller:
        await controller.publish(topic, b'{"mode": "regulating"}', qos=1, retain=True)
    broker.stop()
    broker.start()
    async with broker.client("recorder") as reader:
        await reader.subscribe(topic, qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(reader.messages))
    assert message.retain
    assert message.payload == b'{"mode": "regulating"}'


def _compose_healthcheck() -> str:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    test = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    return test[1].replace("$$", "$")  # compose's escape for a literal $


@pytest.mark.parametrize(("password", "healthy"), [(password_of("healthcheck"), True), ("wrong", False)])
def test_compose_health_check_command(broker, password, healthy):
    command = _compose_healthcheck()
    assert "-p 1883" in command
    command = command.replace("-p 1883", f"-p {broker.port}")
    env = {**os.environ, "MQTT_HEALTHCHECK_PASSWORD": password}
    result = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert (result.returncode == 0) is healthy, result.stderr


# --- mosquitto/setup.sh ---------------------------------------------------------------------------------------

REQUIRED = ["meter", "controller", "actuator-opendtu", "recorder", "api", "healthcheck"]


def _users_in(passwords: Path) -> list[str]:
    return sorted(line.split(":")[0] for line in passwords.read_text().splitlines())


def test_setup_writes_private_files_and_skips_optional_users(tmp_path):
    env = {PASSWORD_VARIABLES[user]: password_of(user) for user in REQUIRED}
    result = run_setup(tmp_path / "auth", env=env)
    assert result.returncode == 0, result.stderr
    second = [user for user, owner in SECOND_CONNECTIONS.items() if owner in REQUIRED]
    assert _users_in(tmp_path / "auth/passwords") == sorted(REQUIRED + second)
    assert (tmp_path / "auth/operator-passwords").read_text() == ""  # no admin, no sim: no one logs in on 1884
    passwords = (tmp_path / "auth/passwords").read_text()
    assert all(password_of(user) not in passwords for user in REQUIRED), "passwords must be hashed"
    assert (tmp_path / "auth/acl").read_text() == (REPO / "mosquitto/acl").read_text()
    for name in ("passwords", "operator-passwords", "acl"):
        assert stat.S_IMODE((tmp_path / "auth" / name).stat().st_mode) == 0o600
    assert sorted(path.name for path in (tmp_path / "auth").iterdir()) == ["acl", "operator-passwords", "passwords"]


def test_setup_puts_admin_and_sim_on_the_operator_listener(tmp_path):
    env = {variable: password_of(user) for user, variable in PASSWORD_VARIABLES.items()}
    result = run_setup(tmp_path / "auth", env=env)
    assert result.returncode == 0, result.stderr
    assert _users_in(tmp_path / "auth/operator-passwords") == sorted(OPERATOR_USERS)
    assert _users_in(tmp_path / "auth/passwords") == sorted(set(USERS) - OPERATOR_USERS)
    for user in USERS:  # a second connection has its owner's password
        listener = "operator-passwords" if user in OPERATOR_USERS else "passwords"
        assert password_matches(tmp_path / "auth" / listener, user, password_of(user)), user


def password_matches(passwords: Path, user: str, password: str) -> bool:
    """Whether the password file holds ``password`` for ``user`` (Mosquitto's $7$: PBKDF2-SHA512)."""
    for line in passwords.read_text().splitlines():
        name, _, hashed = line.partition(":")
        if name == user:
            _, kind, iterations, salt, digest = hashed.split("$")
            assert kind == "7"
            derived = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
            return base64.b64encode(derived).decode() == digest
    return False


def test_setup_environment_wins_over_env_file_and_quotes_are_removed(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        + "".join(f"{variable}='from-file-{user}'\n" for user, variable in PASSWORD_VARIABLES.items())
        + 'export MQTT_SIM_PASSWORD="quoted sim"\n'
    )
    result = run_setup(tmp_path / "auth", env_file=env_file, env={"MQTT_METER_PASSWORD": "from-env"})
    assert result.returncode == 0, result.stderr
    passwords, operators = tmp_path / "auth/passwords", tmp_path / "auth/operator-passwords"
    assert password_matches(passwords, "meter", "from-env")
    assert password_matches(passwords, "meter-health", "from-env")
    assert password_matches(passwords, "controller", "from-file-controller")
    assert password_matches(operators, "sim", "quoted sim")
    assert not password_matches(operators, "sim", "from-file-sim")


def test_setup_names_missing_required_passwords(tmp_path):
    result = run_setup(tmp_path / "auth", env={"MQTT_METER_PASSWORD": "x"})
    assert result.returncode == 1
    assert "MQTT_CONTROLLER_PASSWORD" in result.stderr
    assert "MQTT_HEALTHCHECK_PASSWORD" in result.stderr
    assert "MQTT_METER_PASSWORD" not in result.stderr
    assert not (tmp_path / "auth/passwords").exists()


def test_setup_rejects_a_colon_in_a_password(tmp_path):
    env = dict.fromkeys(PASSWORD_VARIABLES.values(), "ok") | {"MQTT_ADMIN_PASSWORD": "a:b"}
    result = run_setup(tmp_path / "auth", env=env)
    assert result.returncode == 1
    assert "MQTT_ADMIN_PASSWORD must not contain ':'" in result.stderr


BUSYBOX_TOOLS = ("cat", "chmod", "chown", "cp", "dirname", "id", "mkdir", "mktemp", "mv", "rm", "sed", "tail", "tr")


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox is not installed")
def test_setup_runs_on_busybox_as_in_the_eclipse_mosquitto_image(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in BUSYBOX_TOOLS:
        (tools / tool).symlink_to(shutil.which("busybox"))
    (tools / "mosquitto_passwd").symlink_to(shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd")
    env = {"PATH": str(tools)} | {variable: password_of(user) for user, variable in PASSWORD_VARIABLES.items()}
    result = subprocess.run(
        [shutil.which("busybox"), "sh", str(SETUP_SCRIPT), str(tmp_path / "auth")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _users_in(tmp_path / "auth/passwords") == sorted(set(USERS) - OPERATOR_USERS)
    assert password_matches(tmp_path / "auth/passwords", "actuator-opendtu-health", password_of("actuator-opendtu"))
