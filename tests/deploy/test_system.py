"""The whole system on the shipped broker, each service as its own user (the recorder with its second connection):
it regulates, no service's publish is denied by the ACL, the health checks log in beside the services, and no
connection is taken over. Two instances with one user are told apart in their logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.broker import Observer, SecuredBroker, password_of
from tests.deploy.conftest import secured_broker
from tests.deploy.test_mosquitto import TAKEOVER_LINE
from tests.helpers import start_service, stop_services, wait_until
from tests.integration.conftest import TARGET_W, system_config, with_heater
from zeropower.shared.messages import SimState
from zeropower.sim.broker import free_port

pytestmark = pytest.mark.integration

#: Each service (module) of the system, its user and its service id (what its health check asks for).
SYSTEM = {
    "sim": ("sim", "sim"),
    "meter": ("meter", "meter"),
    "controller": ("controller", "controller"),
    "actuator_opendtu": ("actuator-opendtu", "actuator/opendtu"),
    "actuator_pwm": ("actuator-pwm", "actuator/heater"),
    "api": ("api", "api"),
    "recorder": ("recorder", "recorder"),  # and its firehose as recorder-firehose
}
#: Mosquitto logs each publish it drops for the ACL (log_type debug) with this.
DENIED = "Denied PUBLISH"
TAKEOVER_WARNING = "closed our connection"


def login(broker: SecuredBroker, user: str) -> dict[str, str]:
    """The environment that makes a service or its health check log in as ``user``."""
    return {
        "ZEROPOWER_MQTT__PORT": str(broker.port_of(user)),
        "ZEROPOWER_MQTT__USERNAME": user,
        "ZEROPOWER_MQTT__PASSWORD": password_of(user),
    }


@contextlib.contextmanager
def services(
    broker: SecuredBroker, config: dict[str, Any], workdir: Path, modules: dict[str, str]
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Run each module (name: user) as a real process, logging to ``<name>.log`` (a module may repeat: name#n)."""
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    environment = {"ZEROPOWER_CONFIG": str(config_file)}
    processes = {
        name: start_service(name.split("#")[0], environment | login(broker, user), workdir / f"{name}.log")
        for name, user in modules.items()
    }
    try:
        yield processes
    finally:
        stop_services(processes.values())


async def health(broker: SecuredBroker, user: str, service_id: str) -> int:
    """``python -m zeropower.shared.health`` as the compose health check runs it, logged in as ``user``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZEROPOWER_")}
    env |= {"ZEROPOWER_MQTT__HOST": "127.0.0.1", **login(broker, user)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zeropower.shared.health", service_id, "--timeout", "5", env=env
    )
    return await asyncio.wait_for(process.wait(), 30)


async def test_the_system_regulates_with_each_service_as_its_own_user(tmp_path):
    with secured_broker(tmp_path, extra_config=("log_type all",)) as broker:
        config = system_config(broker.port, free_port())
        with_heater(config, tmp_path)
        config["api"] = {"host": "127.0.0.1", "port": free_port()}
        influxdb = {
            "type": "influxdb2",
            "url": f"http://127.0.0.1:{free_port()}",
            "org": "o",
            "bucket": "b",
            "token": "t",
        }
        config["recorder"] = {"influxdb": influxdb, "spool": {"directory": str(tmp_path / "spool")}}  # spools
        async with Observer(broker).running() as observer:
            with services(broker, config, tmp_path, {module: user for module, (user, _) in SYSTEM.items()}):
                await settled(observer)
                for user, service_id in SYSTEM.values():
                    checker = user if user == "sim" else f"{user}-health"  # as docker-compose.yml runs it
                    assert await health(broker, checker, service_id) == 0, service_id
                await settled(observer)  # still regulating after the health checks
        log = broker.log()
    assert log.count("New client connected") >= len(SYSTEM) + 1  # the debug log is on
    assert "as recorder-firehose (" in log  # the recorder's second connection, beside its first
    assert [line for line in log.splitlines() if DENIED in line] == []
    assert TAKEOVER_LINE not in log
    for module in SYSTEM:
        service_log = (tmp_path / f"{module}.log").read_text()
        assert TAKEOVER_WARNING not in service_log, module
        assert "Traceback" not in service_log, module


async def settled(observer: Observer, states: int = 4, band_w: float = 60.0) -> None:
    """Wait until the simulated grid stays within ``band_w`` of the target for ``states`` states in a row, while
    the controller regulates."""
    streak = 0

    def steady(payload: bytes) -> bool:
        nonlocal streak
        streak = streak + 1 if abs(SimState.model_validate_json(payload).grid_w - TARGET_W) <= band_w else 0
        return streak >= states

    await observer.wait_for("zeropower/controller/state", lambda p: json.loads(p)["mode"] == "regulating", 90)
    await observer.wait_for("zeropower/sim/state", steady, timeout=90, since=len(observer.messages))


async def test_two_instances_with_one_user_say_so_once_each(tmp_path):
    """The broker takes the user name as client id: a second meter as user meter takes over the first, again and
    again; each logs it once, naming its client id and what to do, and that it is over once the other has gone."""
    with secured_broker(tmp_path) as broker:
        config = {"meter": {"driver": {"type": "sim"}}, "mqtt": {"host": "127.0.0.1", "reconnect_max_s": 0.5}}
        logs = {name: tmp_path / f"{name}.log" for name in ("meter#1", "meter#2")}
        with services(broker, config, tmp_path, dict.fromkeys(logs, "meter")) as processes:
            await wait_until(lambda: all(TAKEOVER_WARNING in text(path) for path in logs.values()), timeout=60)
            taken_over = broker.log().count(TAKEOVER_LINE)
            await wait_until(lambda: broker.log().count(TAKEOVER_LINE) >= taken_over + 6, timeout=60)  # it goes on
            processes["meter#2"].send_signal(signal.SIGTERM)
            await wait_until(lambda: "the takeover is over" in text(logs["meter#1"]), timeout=60)
    for path in logs.values():
        assert text(path).count(TAKEOVER_WARNING) == 1, path.name
        assert "user 'meter'" in text(path)
        assert "give it its own MQTT user" in text(path)


def text(path: Path) -> str:
    """A log file so far."""
    return path.read_text(errors="replace") if path.exists() else ""
