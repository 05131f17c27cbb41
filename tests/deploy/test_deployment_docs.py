"""docs/deployment.md's broker instructions, done as written: its user table is the ACL's, a second actuator
instance added as described writes only its own topics, and the host broker's conf.d file works."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess

import aiomqtt
import pytest

from tests.deploy.broker import (
    MOSQUITTO_DIR,
    OPERATOR_USERS,
    SECOND_CONNECTIONS,
    USERS,
    Observer,
    password_of,
    run_setup,
)
from tests.deploy.conftest import secured_broker
from tests.deploy.test_mosquitto import TAKEOVER_LINE
from tests.helpers import REPO
from zeropower.sim.broker import free_port, wait_for_port

pytestmark = pytest.mark.integration

DOCS = (REPO / "docs/deployment.md").read_text()


def section(title: str) -> str:
    """The text of one ``###`` section."""
    start = DOCS.index(f"### {title}\n")
    end = DOCS.find("\n### ", start + 1)
    return DOCS[start : end if end >= 0 else None]


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text`` (indentation removed)."""
    blocks = re.findall(r"^( *)```[a-z]*\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL)
    return ["\n".join(line.removeprefix(indent) for line in body.splitlines()) for indent, body in blocks]


def test_user_table_lists_every_user_and_its_listener():
    rows = {}
    for line in section("The broker: users, what each may write, client ids").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].split("`")[1]] = int(cells[1])
    health = {user for user in SECOND_CONNECTIONS if user.endswith("-health")}
    assert set(rows) == (set(USERS) - health) | {"<service>-health"}
    assert {user for user, listener in rows.items() if listener == 1884} == OPERATOR_USERS


async def test_a_second_actuator_instance_added_as_described_writes_only_its_own_topics(tmp_path):
    mosquitto = tmp_path / "mosquitto"
    shutil.copytree(MOSQUITTO_DIR, mosquitto)
    block = next(block for block in code_blocks(section("A second actuator instance")) if "user " in block)
    (mosquitto / "acl").write_text((mosquitto / "acl").read_text() + "\n" + block + "\n")
    garage = {"MQTT_ACTUATOR_GARAGE_PASSWORD": password_of("actuator-garage")}
    (tmp_path / "run").mkdir()
    with secured_broker(tmp_path / "run", mosquitto_dir=mosquitto, extra_passwords=garage) as broker:
        own = [
            f"zeropower/actuator/garage/{topic}" for topic in ("announce", "state", "availability", "device/1/state")
        ]
        own.append("solar2/1/cmd/limit_nonpersistent_absolute")
        other = ["zeropower/actuator/opendtu/announce", "solar/1/cmd/limit_nonpersistent_absolute"]
        async with Observer(broker).running() as observer:
            for user, topics in (("actuator-garage", own + other), ("actuator-opendtu", own)):
                async with broker.client(user, password_of(user)) as actuator:
                    for topic in topics:
                        await actuator.publish(topic, user.encode(), qos=1)
            async with broker.client("actuator-garage-health", password_of("actuator-garage")):
                pass  # its health check's user exists, with the instance's password
            await observer.fence()
        assert {(topic, payload.decode()) for topic, payload in observer.messages if "fence" not in topic} == {
            (topic, "actuator-garage") for topic in own
        }
        assert TAKEOVER_LINE not in broker.log()


def test_host_broker_conf_d_file_works_with_debians_main_config(tmp_path):
    """The conf.d file of "A broker on the host", included at the end of a mosquitto.conf like Debian's."""
    script = next(block for block in code_blocks(section("A broker on the host (Debian's `mosquitto` package)")))
    conf_d = re.search(r"<<'EOF'\n(.*?)\nEOF\n", script, re.DOTALL)
    assert conf_d is not None
    auth = tmp_path / "auth"
    assert "mosquitto/setup.sh --env-file .env /etc/mosquitto/zeropower" in script
    env = {"MQTT_METER_PASSWORD": "m", "MQTT_CONTROLLER_PASSWORD": "c", "MQTT_ACTUATOR_OPENDTU_PASSWORD": "a"}
    env |= {"MQTT_RECORDER_PASSWORD": "r", "MQTT_API_PASSWORD": "p", "MQTT_HEALTHCHECK_PASSWORD": "h"}
    env |= {"MQTT_ADMIN_PASSWORD": "admin"}
    assert run_setup(auth, env=env).returncode == 0
    ports = {1883: free_port(), 1884: free_port()}
    text = conf_d.group(1).replace("/etc/mosquitto/zeropower", str(auth))
    for listener, port in ports.items():
        text = text.replace(f"listener {listener}\n", f"listener {port} 127.0.0.1\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/zeropower.conf").write_text(text + "\n")
    main = f"persistence true\npersistence_location {tmp_path}/\nlog_dest file {tmp_path}/mosquitto.log\n"
    main += f"include_dir {tmp_path}/conf.d\n"
    (tmp_path / "mosquitto.conf").write_text(("user root\n" if os.geteuid() == 0 else "") + main)
    process = subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c", str(tmp_path / "mosquitto.conf")])
    try:
        for port in ports.values():
            wait_for_port(port)
        assert _logs_in(ports[1883], "meter", "m", "zeropower-meter-x")
        assert _logs_in(ports[1884], "admin", "admin", "explorer")
        assert not _logs_in(ports[1884], "meter", "m", "zeropower-meter-x")
        assert not _logs_in(ports[1883], "admin", "admin", "explorer")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "as meter (" in (tmp_path / "mosquitto.log").read_text()  # the client id is the user name


def _logs_in(port: int, user: str, password: str, identifier: str) -> bool:
    async def attempt() -> bool:
        try:
            async with aiomqtt.Client("127.0.0.1", port, username=user, password=password, identifier=identifier):
                return True
        except aiomqtt.MqttCodeError:
            return False

    return asyncio.run(attempt())
