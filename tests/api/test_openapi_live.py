"""schemathesis against the live API (a real uvicorn process, a real Mosquitto): every check, no failure.

The seed is printed and fixed (``ZEROPOWER_SCHEMATHESIS_SEED`` picks another); a failure shows how to replay it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.payloads import controller_state
from tests.api.process import api_process, healthy
from tests.helpers import wait_until
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.topics import Topics

SEED = int(os.environ.get("ZEROPOWER_SCHEMATHESIS_SEED", "20261206"))
EXAMPLES = 200  # per operation and phase: ~1,100 requests, ~20 s on an idle machine
TOKEN = "s3cret"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def controller_online(url: str) -> bool:
    state = httpx.get(f"{url}/api/state", timeout=1).json()
    return state["availability"].get("controller") == "online" and state["enabled"] == "on"


@pytest.mark.timeout(300)
async def test_schemathesis_finds_no_failure(mqtt_settings, probe, tmp_path):
    topics = Topics(mqtt_settings.topic_prefix)
    # a controller as the API sees it: commands are acknowledged by the broker and answered 200
    await probe.publish(topics.controller_state(), controller_state(enabled=True), retain=True)
    await probe.publish(topics.controller_config(), ControllerTunables().model_dump_json(), retain=True)
    await probe.publish(topics.availability("controller"), "online", retain=True)
    with api_process(mqtt_settings, tmp_path, token=TOKEN) as (_process, url):
        await wait_until(lambda: healthy(f"{url}/healthz") and controller_online(url), timeout=20, interval=0.1)
        command = [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color"),
            *("run", f"{url}/openapi.json", "--checks", "all", "--seed", str(SEED)),
            *("--max-examples", str(EXAMPLES), "--header", f"Authorization: Bearer {TOKEN}"),
        ]
        print(f"schemathesis seed {SEED}: {' '.join(command)}")
        run = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, cwd=tmp_path)
    print(run.stdout[-3000:])
    assert run.returncode == 0, f"schemathesis (seed {SEED}) failed:\n{run.stdout}\n{run.stderr}"
    assert "No issues found" in run.stdout
