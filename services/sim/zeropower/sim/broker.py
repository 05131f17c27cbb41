"""Starting a private MQTT broker on a free port: Mosquitto when installed, else amqtt (pure Python)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class Broker:
    """A broker process on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | None = None,
        prefer: str = "mosquitto",
        *,
        persistence: bool = False,
        max_queued_messages: int = 10_000,
        max_queued_bytes: int = 0,
        queue_qos0_messages: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.persistence = persistence  # Mosquitto only: retained messages saved as the shipped config does
        # Mosquitto only: what it queues per client beyond the messages in flight (0 bytes: no byte limit), and
        # whether a persistent session's queue also takes QoS 0 messages while its client is away
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.queue_qos0_messages = queue_qos0_messages
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="zeropower-broker-"))
        self._log = self._workdir / "broker.log"
        use_mosquitto = prefer == "mosquitto" and shutil.which("mosquitto") is not None
        self.implementation = "mosquitto" if use_mosquitto else "amqtt"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Broker:
        """Start the broker and wait until it accepts connections."""
        command = self._mosquitto_command() if self.implementation == "mosquitto" else self._amqtt_command()
        with self._log.open("ab") as log:
            # Own session: a Ctrl-C in the terminal reaches whoever started it, who stops it last.
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.implementation} did not start: {self._log.read_text()[-2000:]}") from None
        return self

    def stop(self) -> None:
        """Stop the broker (clients see the connection drop)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Kill the broker with SIGKILL, as a crash would: nothing is saved on the way out."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait()
        self._process = None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _mosquitto_command(self) -> list[str]:
        config = self._workdir / "mosquitto.conf"
        persistence = (
            f"persistence true\npersistence_location {self._workdir}/\nautosave_interval 60\n"
            if self.persistence
            else "persistence false\n"
        )
        queue = (
            f"max_queued_messages {self.max_queued_messages}\nmax_queued_bytes {self.max_queued_bytes}\n"
            f"queue_qos0_messages {str(self.queue_qos0_messages).lower()}\n"
        )
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{persistence}{queue}set_tcp_nodelay true\n"
        )
        return [shutil.which("mosquitto") or "mosquitto", "-c", str(config)]

    def _amqtt_command(self) -> list[str]:
        config = self._workdir / "amqtt.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                    "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
                }
            )
        )
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]
