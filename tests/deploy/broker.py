"""A real Mosquitto with the repository's mosquitto.conf, ACL and the password files written by setup.sh."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from tests.helpers import REPO
from zeropower.sim.broker import free_port, wait_for_port

MOSQUITTO_DIR = REPO / "mosquitto"
SETUP_SCRIPT = MOSQUITTO_DIR / "setup.sh"
#: The users with a password of their own, and its variable (setup.sh: MQTT_<NAME>_PASSWORD).
PASSWORD_VARIABLES = {
    user: f"MQTT_{user.upper().replace('-', '_')}_PASSWORD"
    for user in (
        "meter",
        "controller",
        "actuator-opendtu",
        "actuator-pwm",
        "actuator-battery",
        "recorder",
        "api",
        "homeassistant",
        "opendtu",
        "healthcheck",
        "admin",
        "sim",
    )
}
#: A service's second connection (its health check, the recorder's firehose) and the user whose password it has.
SECOND_CONNECTIONS = {
    "recorder-firehose": "recorder",
    **{
        f"{service}-health": service
        for service in (
            "meter",
            "controller",
            "actuator-opendtu",
            "actuator-pwm",
            "actuator-battery",
            "recorder",
            "api",
        )
    },
}
#: Every user setup.sh creates when each variable is set.
USERS = sorted(PASSWORD_VARIABLES.keys() | SECOND_CONNECTIONS.keys())
#: The users of the operator listener (1884, own client ids); every other user logs in on 1883.
OPERATOR_USERS = frozenset({"admin", "sim"})
#: The listeners of mosquitto.conf (container ports).
SERVICES_LISTENER, OPERATOR_LISTENER = 1883, 1884


def password_of(user: str) -> str:
    """The test password of a user (a second connection has its owner's)."""
    return f"pw-{SECOND_CONNECTIONS.get(user, user)}-0123456789"


def run_setup(
    output_dir: Path, env_file: Path | None = None, env: dict[str, str] | None = None, script: Path = SETUP_SCRIPT
) -> subprocess.CompletedProcess[str]:
    """Run mosquitto/setup.sh (or ``script``) with a clean environment plus ``env``."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("MQTT_")}
    arguments = ["--env-file", str(env_file)] if env_file else []
    return subprocess.run(
        ["sh", str(script), *arguments, str(output_dir)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def broker_config(
    ports: dict[int, int], workdir: Path, extra: tuple[str, ...] = (), mosquitto_dir: Path = MOSQUITTO_DIR
) -> str:
    """mosquitto.conf with each listener moved to 127.0.0.1 (``ports``: container port to host port), the
    container's paths below ``workdir`` (auth/, data/, the log in mosquitto.log), and ``extra`` lines appended."""
    lines = [_moved(line, ports, workdir) for line in (mosquitto_dir / "mosquitto.conf").read_text().splitlines()]
    if os.geteuid() == 0:
        lines.insert(0, "user root")  # else Mosquitto drops to its own user, who cannot read pytest's tmp_path
    return "\n".join([*lines, *extra]) + "\n"


def _moved(line: str, ports: dict[int, int], workdir: Path) -> str:
    key, _, value = line.partition(" ")
    if key == "listener":
        return f"listener {ports[int(value)]} 127.0.0.1"
    if key in {"password_file", "acl_file"}:
        assert value.startswith("/mosquitto/auth/"), line
        return f"{key} {workdir / 'auth' / value.removeprefix('/mosquitto/auth/')}"
    if key == "persistence_location":
        return f"persistence_location {workdir / 'data'}/"
    if key == "log_dest":
        return f"log_dest file {workdir / 'mosquitto.log'}"  # flushed per line, unlike stdout
    return line


def listeners(mosquitto_dir: Path = MOSQUITTO_DIR) -> set[int]:
    """The container ports mosquitto.conf listens on."""
    text = (mosquitto_dir / "mosquitto.conf").read_text()
    return {int(line.split()[1]) for line in text.splitlines() if line.startswith("listener ")}


@dataclass
class SecuredBroker:
    """Mosquitto configured like the compose broker, on free ports; can be restarted on the same ports."""

    workdir: Path
    #: Extra lines for mosquitto.conf, e.g. ``log_type all`` to see denied publishes in the log.
    extra_config: tuple[str, ...] = ()
    #: Where mosquitto.conf, the ACL and setup.sh are: the repository's, or an edited copy.
    mosquitto_dir: Path = MOSQUITTO_DIR
    #: Passwords beyond PASSWORD_VARIABLES' (variable: password), for users an edited ACL adds.
    extra_passwords: dict[str, str] = field(default_factory=dict)
    ports: dict[int, int] = field(init=False)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.ports = {listener: free_port() for listener in listeners(self.mosquitto_dir)}

    @property
    def port(self) -> int:
        """The services listener (1883 in the container)."""
        return self.ports[SERVICES_LISTENER]

    @property
    def operator_port(self) -> int:
        """The operator listener (1884; the services listener in a config without one)."""
        return self.ports.get(OPERATOR_LISTENER, self.port)

    def port_of(self, user: str) -> int:
        """Where ``user`` logs in."""
        return self.operator_port if user in OPERATOR_USERS else self.port

    @property
    def auth_dir(self) -> Path:
        """Where setup.sh wrote the password files and the ACL."""
        return self.workdir / "auth"

    def prepare(self) -> None:
        """Write the password files (every user) with setup.sh, and the config."""
        passwords = {variable: password_of(user) for user, variable in PASSWORD_VARIABLES.items()}
        env_file = self.workdir / ".env"
        env_file.write_text("".join(f"{name}={value}\n" for name, value in (passwords | self.extra_passwords).items()))
        result = run_setup(self.auth_dir, env_file=env_file, script=self.mosquitto_dir / "setup.sh")
        assert result.returncode == 0, result.stderr
        (self.workdir / "data").mkdir(exist_ok=True)
        config = broker_config(self.ports, self.workdir, self.extra_config, self.mosquitto_dir)
        (self.workdir / "mosquitto.conf").write_text(config)

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        with (self.workdir / "mosquitto.out").open("ab") as output:  # what it says before its log is open
            self.process = subprocess.Popen(
                [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            for port in self.ports.values():
                wait_for_port(port)
        except TimeoutError:
            self.stop()
            raise RuntimeError((self.workdir / "mosquitto.out").read_text() + self.log()) from None

    def stop(self) -> None:
        """Stop Mosquitto (SIGTERM: it saves its persistence file)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        """Mosquitto's log so far."""
        path = self.workdir / "mosquitto.log"
        return path.read_text() if path.exists() else ""

    def client(self, user: str | None, password: str | None = None, identifier: str | None = None) -> aiomqtt.Client:
        """A client logging in as ``user`` (with its test password unless given) on its listener."""
        if user is not None and password is None:
            password = password_of(user)
        port = self.port if user is None else self.port_of(user)
        identifier = identifier or f"test-{user}-{id(object())}"
        return aiomqtt.Client("127.0.0.1", port, username=user, password=password, identifier=identifier)


class Observer:
    """An admin client that records every message on the broker, to see which publishes got through."""

    def __init__(self, broker: SecuredBroker) -> None:
        self._broker = broker
        self._client = broker.client("admin", identifier="test-observer")
        self.messages: list[tuple[str, bytes]] = []
        self._new = asyncio.Condition()
        self._fences = 0

    @property
    def topics(self) -> list[str]:
        """The topic of each message so far."""
        return [topic for topic, _ in self.messages]

    async def _collect(self) -> None:
        async for message in self._client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            async with self._new:
                self.messages.append((str(message.topic), payload))
                self._new.notify_all()

    async def wait_for(
        self, topic: str, predicate: Callable[[bytes], bool] = lambda _: True, timeout: float = 10.0, since: int = 0
    ) -> bytes:
        """The payload of the first message on ``topic`` from position ``since`` on that satisfies ``predicate``."""
        async with self._new, asyncio.timeout(timeout):
            while True:
                for seen, payload in self.messages[since:]:
                    if seen == topic and predicate(payload):
                        return payload
                since = len(self.messages)
                await self._new.wait()

    async def fence(self) -> None:
        """Wait until everything the broker accepted before has arrived here: a later message of admin's arrives.

        The broker routes a QoS 1 message before it acknowledges it, and delivers to one subscriber in order.
        """
        self._fences += 1
        fence = f"zeropower/sim/set/test-fence-{self._fences}"  # a topic admin may write
        async with self._broker.client("admin") as admin:
            await admin.publish(fence, b"fence", qos=1)
        await self.wait_for(fence)

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
