"""The Dockerfile (slim base, non-root, pinned installs) and the systemd units (one per compose service)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deployment import filled_env_file, resolved_compose, zeropower_services
from tests.helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
UNITS = REPO / "deploy/systemd"
INSTALL_DIR = "/opt/zeropower"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages as (instruction, arguments) lists, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


@pytest.fixture(scope="module")
def zeropower_compose_services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Compose service name -> python module, for the zeropower services."""
    compose = resolved_compose(filled_env_file(tmp_path_factory.mktemp("compose")))
    return {service.name: service.module for service in zeropower_services(compose)}


def test_final_stage_runs_as_a_non_root_user():
    final = dockerfile_stages()[-1]
    users = [arguments for instruction, arguments in final if instruction == "USER"]
    assert users, "the final stage must set USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    entry = [index for index, (instruction, _) in enumerate(final) if instruction in {"ENTRYPOINT", "CMD"}]
    user_index = max(index for index, (instruction, _) in enumerate(final) if instruction == "USER")
    assert all(index > user_index for index in entry), "USER comes before the command"


def test_base_image_is_slim_python_311_or_newer():
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert default, "ARG PYTHON_IMAGE=<image> sets the base of every stage"
    match = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", default.group(1))
    assert match, default.group(1)
    assert int(match.group(1)) >= 11
    assert all(stage[0] == ("FROM", "${PYTHON_IMAGE}") or stage[0][1].startswith("${PYTHON_IMAGE} ")
               for stage in dockerfile_stages())  # fmt: skip


def test_installs_one_service_with_the_install_script():
    """scripts/install-service, which tests/deploy/test_install_service.py runs, and not a pip line of its own."""
    build = " ".join(arguments for instruction, arguments in dockerfile_stages()[0] if instruction == "RUN")
    assert re.search(r'sh \S*/scripts/install-service \S+/python "\$\{?SERVICE\}?" "\$\{?EXTRAS\}?"', build)
    assert "pip install" not in build
    copies = [arguments for stage in dockerfile_stages() for instruction, arguments in stage if instruction == "COPY"]
    assert not any(copy.split()[0] == "." for copy in copies), "copy only what the image needs"
    assert {"constraints.txt", "scripts/install-service", "shared", "services"} <= {copy.split()[0] for copy in copies}


def test_build_context_leaves_out_the_checkouts_clutter():
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*", "ignore everything first"
    assert {"!constraints.txt", "!shared/", "!services/", "!scripts/install-service"} <= set(ignore)


def test_one_unit_per_zeropower_service(zeropower_compose_services):
    units = {path.name for path in UNITS.glob("*.service")}
    assert units == {f"zeropower-{name}.service" for name in zeropower_compose_services}


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values (systemd keys may repeat, e.g. EnvironmentFile)."""
    unit: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in (text.strip() for text in path.read_text().splitlines()):
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = unit.setdefault(line.strip("[]"), {})
            continue
        assert section is not None, f"{path.name}: {line!r} before any section"
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


@pytest.mark.parametrize("path", sorted(UNITS.glob("*.service")), ids=lambda path: path.stem)
def test_unit_runs_its_module_from_the_checkout(path, zeropower_compose_services):
    unit = read_unit(path)
    service = unit["Service"]
    module = zeropower_compose_services[path.stem.removeprefix("zeropower-")]
    assert service["ExecStart"] == [
        f"{INSTALL_DIR}/.venv/bin/python -m zeropower.{module} --config /etc/zeropower/config.yaml"
    ]
    assert service["Restart"] == ["always"]
    assert service["User"] == ["zeropower"]
    assert service["EnvironmentFile"] == ["-/etc/zeropower/zeropower.env", "-/etc/zeropower/%N.env"]
    assert service["WorkingDirectory"] == [INSTALL_DIR]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]


@pytest.mark.parametrize("path", sorted(UNITS.glob("*.service")), ids=lambda path: path.stem)
def test_systemd_accepts_the_unit(path, tmp_path):
    """systemd-analyze verify, with the checkout at this repository (ExecStart must exist)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run scripts/system-deps"
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace(INSTALL_DIR, str(REPO)))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if str(copy) in line]
    assert problems == []
