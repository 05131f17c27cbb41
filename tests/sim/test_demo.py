"""``make demo``'s program runs the whole system, shows the status line and stops cleanly."""

import subprocess
import sys

import pytest

from zeropower.sim.broker import free_port
from zeropower.sim.demo import SERVICES

pytestmark = pytest.mark.integration


def test_demo_runs_and_stops_cleanly(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zeropower.sim.demo",
            "--duration",
            "20",
            "--workdir",
            str(tmp_path),
            "--mqtt-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MQTT broker" in result.stdout
    assert "grid" in result.stdout
    assert "exported" in result.stdout
    assert result.stdout.rstrip().endswith("stopped")
    assert "web UI and REST API: http://127.0.0.1:" in result.stdout
    for service in SERVICES:
        log = (tmp_path / f"{service}.log").read_text()
        assert "Traceback" not in log, f"{service}:\n{log}"
        assert " ERROR " not in log, f"{service}:\n{log}"
        assert " WARNING " not in log, f"{service}:\n{log}"
