"""``python -m zeropower.api`` as a real process: HTTP on a free port, SIGTERM stops it quickly."""

from __future__ import annotations

import signal
import time

import httpx

from tests.helpers import service_process, wait_until
from zeropower.shared.topics import Topics
from zeropower.sim.broker import free_port


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


async def test_serves_healthz_and_stops_on_sigterm(mqtt_settings, probe, tmp_path):
    topics = Topics(mqtt_settings.topic_prefix)
    port = free_port()
    env = {
        "ZEROPOWER_MQTT__PORT": str(mqtt_settings.port),
        "ZEROPOWER_MQTT__TOPIC_PREFIX": mqtt_settings.topic_prefix,
        "ZEROPOWER_API__HOST": "127.0.0.1",
        "ZEROPOWER_API__PORT": str(port),
    }
    with service_process("api", env, tmp_path / "api.log") as process:
        await probe.wait_for(topics.availability("api"), lambda m: m.text == "online", timeout=20)
        await wait_until(lambda: healthy(f"http://127.0.0.1:{port}/healthz"), timeout=20, interval=0.1)
        mark = probe.mark()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
        await probe.wait_for(topics.availability("api"), lambda m: m.text == "offline", since=mark)
    log = (tmp_path / "api.log").read_text()
    assert "Traceback" not in log, log
