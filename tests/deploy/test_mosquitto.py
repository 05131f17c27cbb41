"""The Mosquitto deployment: login required, the ACL lets each service publish its own topics (per docs/mqtt.md)
and no one else's, retained messages survive a restart, and the compose health check works.

Against a real Mosquitto started with the repository's mosquitto.conf (paths and port moved), ACL, and a password
file written by mosquitto/setup.sh.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
import yaml

from tests.deploy.broker import USERS, Observer, SecuredBroker, client, password_of, run_setup
from tests.helpers import REPO

pytestmark = pytest.mark.integration

PREFIX, DTU, AHOY = "zeropower", "solar", "inverter"  # the prefixes the ACL assumes
#: Placeholders of docs/mqtt.md filled with example values.
PLACEHOLDERS = {
    "<p>": PREFIX,
    "<dtu>": DTU,
    "<ahoy>": AHOY,
    "<id>": "opendtu",
    "<device>": "114182912345",
    "<serial>": "114182912345",
    "<name>": "roof",
    "<index>": "0",
    "<n>": "1",
    "<output>": "heater",
}
#: Who publishes, as docs/mqtt.md names them, and the broker users that play that part.
PUBLISHERS = {
    "meter": {"meter"},
    "controller": {"controller"},
    "actuator": {"actuator-opendtu", "actuator-pwm"},
    "OpenDTU actuator": {"actuator-opendtu"},
    "PWM actuator": {"actuator-pwm"},
    "simulator": {"sim"},
    "recorder": {"recorder"},
    "API": {"api"},
    "user": {"admin"},
    "tests": {"admin"},
    "Home Assistant": {"admin"},
    "OpenDTU": {"opendtu", "sim"},  # the simulator emulates an OpenDTU
    "AhoyDTU": set(),  # no user for it: add one like opendtu (prefix inverter) when you use AhoyDTU
}
#: Users that may write a whole device namespace: the DTU (real or simulated) owns its topics.
NAMESPACE_OWNERS = {f"{DTU}/": {"opendtu", "sim"}}
#: Each service's availability topic (``<p>/<service>/availability``), written by that service only. An
#: actuator's id is configurable, so both actuator users may write every ``<p>/actuator/<id>/`` topic.
ACTUATORS = {"actuator-opendtu", "actuator-pwm"}
AVAILABILITY = {
    f"{PREFIX}/meter/availability": {"meter"},
    f"{PREFIX}/controller/availability": {"controller"},
    f"{PREFIX}/actuator/opendtu/availability": ACTUATORS,
    f"{PREFIX}/actuator/heater/availability": ACTUATORS,
    f"{PREFIX}/recorder/availability": {"recorder"},
    f"{PREFIX}/sim/availability": {"sim"},
    f"{PREFIX}/api/availability": {"api"},
}
SERVICE_USERS = sorted(set(USERS) - {"admin"})


def documented_publications() -> list[tuple[str, set[str]]]:
    """(example topic, users that publish it) for every row of docs/mqtt.md's tables, plus availability."""
    text = (REPO / "docs/mqtt.md").read_text()
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`") or "→" not in cells[1]:
            continue
        publishers = {name.strip() for name in cells[1].split("→")[0].split(",")}
        if publishers == {"each service"}:
            continue  # availability: checked per service below
        unknown = publishers - set(PUBLISHERS)
        assert not unknown, f"docs/mqtt.md names publishers this test does not know: {unknown}"
        users = set().union(*(PUBLISHERS[name] for name in publishers))
        patterns = re.findall(r"`([^`]+)`", cells[0])
        device_base = "/".join(patterns[0].split("/")[:2])  # `<dtu>/<serial>/a`, `b`: b is below the device
        for written in patterns:
            pattern = written if written.startswith("<") else f"{device_base}/{written}"
            topic = pattern
            for placeholder, value in PLACEHOLDERS.items():
                topic = topic.replace(placeholder, value)
            assert "<" not in topic, f"unknown placeholder in {pattern}"
            for topic_variant in _expand_alternatives(topic):
                rows.append((topic_variant, users))
    rows += list(AVAILABILITY.items())
    return rows


def _expand_alternatives(topic: str) -> list[str]:
    """``solar/1/status/reachable``; a trailing ``...`` example (``1/power...``) as written."""
    return [topic.rstrip(".")] if topic.endswith("...") else [topic]


def may_publish(user: str, topic: str, publishers: set[str]) -> bool:
    """Whether the ACL should let ``user`` publish ``topic``."""
    if user == "admin" or user in publishers:
        return True
    return any(topic.startswith(namespace) and user in owners for namespace, owners in NAMESPACE_OWNERS.items())


@pytest.fixture
async def observer(broker: SecuredBroker) -> AsyncIterator[Observer]:
    async with Observer(broker.port).running() as watching:
        yield watching


def test_docs_table_is_parsed():
    rows = dict(documented_publications())
    assert rows[f"{PREFIX}/meter/grid"] == {"meter"}
    assert rows[f"{PREFIX}/actuator/opendtu/set"] == {"controller"}
    assert rows[f"{DTU}/114182912345/cmd/limit_nonpersistent_absolute"] == {"actuator-opendtu"}
    assert rows[f"{PREFIX}/set/enabled"] == {"admin", "api"}
    assert len(rows) >= 20


@pytest.mark.parametrize("user", [*SERVICE_USERS, "admin"])
async def test_each_user_publishes_exactly_its_own_topics(broker, observer, user):
    allowed, denied = [], []
    for topic, publishers in documented_publications():
        (allowed if may_publish(user, topic, publishers) else denied).append(topic)
    outside = f"{PREFIX}/test/undocumented/{user}"  # only admin may write outside the documented topics
    async with client(broker.port, user) as publisher:
        for topic in [*denied, *allowed, outside]:
            await publisher.publish(topic, b"x", qos=1)  # QoS 1: returns once the broker has routed it
    await _fence(broker, observer)
    assert sorted(set(allowed) - set(observer.topics)) == []
    assert sorted(set(denied) & set(observer.topics)) == []
    assert (outside in observer.topics) is (user == "admin")


async def _fence(broker: SecuredBroker, observer: Observer) -> None:
    """Wait until everything published before has reached the observer (a later admin message arrives)."""
    fence = f"{PREFIX}/test/fence/{len(observer.topics)}"
    async with client(broker.port, "admin") as admin:
        await admin.publish(fence, b"fence", qos=1)
    await observer.wait_for(fence)


async def test_meter_may_publish_grid_power_but_not_switch_control(broker, observer):
    async with client(broker.port, "meter") as meter:
        await meter.publish(f"{PREFIX}/set/enabled", b"off", qos=1)
        await meter.publish(f"{PREFIX}/meter/grid", b"{}", qos=1)
    await _fence(broker, observer)
    assert f"{PREFIX}/meter/grid" in observer.topics
    assert f"{PREFIX}/set/enabled" not in observer.topics


async def test_services_read_what_they_need(broker):
    consumes = {
        "controller": f"{PREFIX}/meter/grid",
        "actuator-opendtu": f"{DTU}/114182912345/0/power",
        "recorder": f"{PREFIX}/controller/state",
        "sim": f"{DTU}/114182912345/cmd/limit_nonpersistent_absolute",
        "opendtu": f"{DTU}/114182912345/cmd/limit_nonpersistent_absolute",
        "meter": f"{PREFIX}/meter/availability",
    }
    fence = f"{DTU}/test/fence"  # every one of them may read the DTU's topics
    for user, topic in consumes.items():
        received = []
        async with client(broker.port, user) as reader, client(broker.port, "admin") as admin:
            await reader.subscribe(topic, qos=1)
            await reader.subscribe(fence, qos=1)
            await admin.publish(topic, b"data", qos=1)
            await admin.publish(fence, b"fence", qos=1)
            async with asyncio.timeout(10):
                async for message in reader.messages:
                    received.append(str(message.topic))
                    if str(message.topic) == fence:
                        break
        assert topic in received, f"{user} cannot read {topic}"


async def test_health_check_user_reads_only_broker_status(broker):
    async with client(broker.port, "healthcheck") as reader, client(broker.port, "admin") as admin:
        await reader.subscribe(f"{PREFIX}/#", qos=1)
        await reader.subscribe("$SYS/broker/version", qos=1)
        await admin.publish(f"{PREFIX}/meter/grid", b"data", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(reader.messages))
    assert str(message.topic) == "$SYS/broker/version"  # retained, so it comes at once; the grid never


async def test_anonymous_and_wrong_passwords_are_refused(broker):
    with pytest.raises(aiomqtt.MqttCodeError):
        async with client(broker.port, None):
            pass
    with pytest.raises(aiomqtt.MqttCodeError):
        async with client(broker.port, "meter", "wrong"):
            pass
    with pytest.raises(aiomqtt.MqttCodeError):
        async with client(broker.port, "nobody", "x"):
            pass


async def test_retained_messages_survive_a_broker_restart(broker):
    topic = f"{PREFIX}/controller/state"
    async with client(broker.port, "controller") as controller:
        await controller.publish(topic, b'{"mode": "regulating"}', qos=1, retain=True)
    broker.stop()
    broker.start()
    async with client(broker.port, "recorder") as reader:
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


def test_setup_writes_private_files_and_skips_optional_users(tmp_path):
    required = ["meter", "controller", "actuator-opendtu", "recorder", "api", "healthcheck"]
    env = {USERS[user]: password_of(user) for user in required}
    result = run_setup(tmp_path / "auth", env=env)
    assert result.returncode == 0, result.stderr
    passwords = (tmp_path / "auth/passwords").read_text()
    assert sorted(line.split(":")[0] for line in passwords.splitlines()) == sorted(required)
    assert all(password_of(user) not in passwords for user in required), "passwords must be hashed"
    assert (tmp_path / "auth/acl").read_text() == (REPO / "mosquitto/acl").read_text()
    for name in ("passwords", "acl"):
        assert stat.S_IMODE((tmp_path / "auth" / name).stat().st_mode) == 0o600
    assert sorted(path.name for path in (tmp_path / "auth").iterdir()) == ["acl", "passwords"]


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
        + "".join(f"{variable}='from-file-{user}'\n" for user, variable in USERS.items())
        + 'export MQTT_SIM_PASSWORD="quoted sim"\n'
    )
    result = run_setup(tmp_path / "auth", env_file=env_file, env={"MQTT_METER_PASSWORD": "from-env"})
    assert result.returncode == 0, result.stderr
    passwords = tmp_path / "auth/passwords"
    assert password_matches(passwords, "meter", "from-env")
    assert password_matches(passwords, "controller", "from-file-controller")
    assert password_matches(passwords, "sim", "quoted sim")
    assert not password_matches(passwords, "sim", "from-file-sim")


def test_setup_names_missing_required_passwords(tmp_path):
    result = run_setup(tmp_path / "auth", env={"MQTT_METER_PASSWORD": "x"})
    assert result.returncode == 1
    assert "MQTT_CONTROLLER_PASSWORD" in result.stderr
    assert "MQTT_HEALTHCHECK_PASSWORD" in result.stderr
    assert "MQTT_METER_PASSWORD" not in result.stderr
    assert not (tmp_path / "auth/passwords").exists()


def test_setup_rejects_a_colon_in_a_password(tmp_path):
    env = dict.fromkeys(USERS.values(), "ok") | {"MQTT_ADMIN_PASSWORD": "a:b"}
    result = run_setup(tmp_path / "auth", env=env)
    assert result.returncode == 1
    assert "MQTT_ADMIN_PASSWORD must not contain ':'" in result.stderr
