"""The API as a real process (``python -m zeropower.api``) on a free port."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.helpers import service_process
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import free_port


def healthy(url: str) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def api_process(mqtt: MqttSettings, tmp_path: Path, **api: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The API process and its base URL for the block; keyword args are ``api.*`` settings."""
    port = free_port()
    env = {
        "ZEROPOWER_MQTT__PORT": str(mqtt.port),
        "ZEROPOWER_MQTT__TOPIC_PREFIX": mqtt.topic_prefix,
        "ZEROPOWER_API__HOST": "127.0.0.1",
        "ZEROPOWER_API__PORT": str(port),
        **{f"ZEROPOWER_API__{name.upper()}": value for name, value in api.items()},
    }
    with service_process("api", env, tmp_path / "api.log") as process:
        yield process, f"http://127.0.0.1:{port}"
