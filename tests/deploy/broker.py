"""A real Mosquitto with the repository's mosquitto.conf, ACL and a password file written by setup.sh."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from tests.helpers import REPO
from zeropower.sim.broker import free_port, wait_for_port

MOSQUITTO_DIR = REPO / "mosquitto"
SETUP_SCRIPT = MOSQUITTO_DIR / "setup.sh"
#: Every user setup.sh knows, with the variable holding its password.
USERS = {
    "meter": "MQTT_METER_PASSWORD",
    "controller": "MQTT_CONTROLLER_PASSWORD",
    "actuator-opendtu": "MQTT_ACTUATOR_OPENDTU_PASSWORD",
    "recorder": "MQTT_RECORDER_PASSWORD",
    "healthcheck": "MQTT_HEALTHCHECK_PASSWORD",
    "sim": "MQTT_SIM_PASSWORD",
    "actuator-pwm": "MQTT_ACTUATOR_PWM_PASSWORD",
    "api": "MQTT_API_PASSWORD",
    "opendtu": "MQTT_OPENDTU_PASSWORD",
    "admin": "MQTT_ADMIN_PASSWORD",
}


def password_of(user: str) -> str:
    """The test password of a user."""
    return f"pw-{user}-0123456789"


def run_setup(
    output_dir: Path, env_file: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run mosquitto/setup.sh with a clean environment plus ``env``."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("MQTT_")}
    arguments = ["--env-file", str(env_file)] if env_file else []
    return subprocess.run(
        ["sh", str(SETUP_SCRIPT), *arguments, str(output_dir)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def broker_config(port: int, auth_dir: Path, data_dir: Path) -> str:
    """mosquitto.conf with the listener on ``port`` at 127.0.0.1 and the container paths moved to tmp dirs."""
    replacements = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {auth_dir / 'passwords'}",
        "acl_file": f"acl_file {auth_dir / 'acl'}",
        "persistence_location": f"persistence_location {data_dir}/",
    }
    lines, seen = [], set()
    for line in (MOSQUITTO_DIR / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in replacements:
            seen.add(key)
        lines.append(replacements.get(key, line))
    assert seen == set(replacements), f"mosquitto.conf lacks {set(replacements) - seen}"
    if os.geteuid() == 0:
        lines.insert(0, "user root")  # else Mosquitto drops to its own user, who cannot read pytest's tmp_path
    return "\n".join(lines) + "\n"


@dataclass
class SecuredBroker:
    """Mosquitto configured like the compose broker, on a free port; can be restarted on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def auth_dir(self) -> Path:
        """Where setup.sh wrote the password file and the ACL."""
        return self.workdir / "auth"

    def prepare(self) -> None:
        """Write the password file (every user) with setup.sh, and the config."""
        env_file = self.workdir / ".env"
        env_file.write_text("".join(f"{variable}={password_of(user)}\n" for user, variable in USERS.items()))
        result = run_setup(self.auth_dir, env_file=env_file)
        assert result.returncode == 0, result.stderr
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        (self.workdir / "mosquitto.conf").write_text(broker_config(self.port, self.auth_dir, data))

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError((self.workdir / "mosquitto.log").read_text()) from None

    def stop(self) -> None:
        """Stop Mosquitto (SIGTERM: it saves its persistence file)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        """Mosquitto's log so far."""
        return (self.workdir / "mosquitto.log").read_text()


def client(port: int, user: str | None, password: str | None = None, identifier: str | None = None) -> aiomqtt.Client:
    """A client logging in as ``user`` (with its test password unless given)."""
    if user is not None and password is None:
        password = password_of(user)
    return aiomqtt.Client(
        "127.0.0.1", port, username=user, password=password, identifier=identifier or f"test-{user}-{id(object())}"
    )


class Observer:
    """An admin client that records every message on the broker, to see which publishes got through."""

    def __init__(self, port: int) -> None:
        self._client = client(port, "admin", identifier="test-observer")
        self.topics: list[str] = []
        self._new = asyncio.Condition()

    async def _collect(self) -> None:
        async for message in self._client.messages:
            async with self._new:
                self.topics.append(str(message.topic))
                self._new.notify_all()

    async def wait_for(self, topic: str, timeout: float = 10.0) -> None:
        """Wait until a message on ``topic`` has arrived."""
        async with self._new, asyncio.timeout(timeout):
            await self._new.wait_for(lambda: topic in self.topics)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Observer]:
        """Connected and subscribed to every topic (``#``) while the block runs."""
        async with self._client:
            await self._client.subscribe("#", qos=1)
            task = asyncio.create_task(self._collect())
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
