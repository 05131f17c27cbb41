"""scripts/install-service, which the Dockerfile runs per image: a fresh venv gets one service and nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

INSTALL_SCRIPT = REPO / "scripts/install-service"
#: Test and lint tools (requirements-dev.txt) that no image needs.
DEV_ONLY = {"pytest", "pytest-asyncio", "pytest-timeout", "ruff", "playwright"}


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions() -> dict[str, str]:
    """Distribution -> version, from constraints.txt."""
    lines = (line.split("#")[0].strip() for line in (REPO / "constraints.txt").read_text().splitlines())
    return {normalised(name): version for name, _, version in (line.partition("==") for line in lines if line)}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``cwd`` (not the checkout, so its packages cannot be imported) without PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.mark.timeout(600)
def test_api_installs_with_its_controller_dependency_into_a_fresh_venv(tmp_path: Path) -> None:
    """The API depends on zeropower-controller, which no index has; real installs from the registry (~30 s)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin/python")
    installed = run(["sh", str(INSTALL_SCRIPT), python, "api"], tmp_path)
    assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-4000:]
    imported = run([python, "-c", "import zeropower.api.service"], tmp_path)
    assert imported.returncode == 0, imported.stderr
    listed = run([python, "-m", "pip", "list", "--format=json"], tmp_path)
    versions = {normalised(package["name"]): package["version"] for package in json.loads(listed.stdout)}
    assert {"zeropower-shared", "zeropower-controller", "zeropower-api"} <= versions.keys()
    assert DEV_ONLY & versions.keys() == set()
    pins = pinned_versions()
    assert {name: version for name, version in versions.items() if pins.get(name, version) != version} == {}
