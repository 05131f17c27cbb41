"""Helpers for the deployment tests: the compose file as docker compose resolves it, and settings models walked."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from tests.helpers import REPO
from zeropower.shared.settings import ServiceSettings

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
ENV_PREFIX = "ZEROPOWER_"
#: Read by the process runner (shared/service.py), not a settings field.
RUNNER_VARIABLES = frozenset({"ZEROPOWER_CONFIG"})
#: Read by the C library and Python, not by zeropower: the local timezone (the API's "today", log times).
PROCESS_VARIABLES = frozenset({"TZ"})
#: Where the compose file mounts the YAML configuration in every zeropower container.
CONFIG_IN_CONTAINER = "/etc/zeropower/config.yaml"

_VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-?][^}]*)?\}")


def compose_variables(text: str) -> dict[str, str]:
    """Each ``${VAR...}`` the compose text interpolates, with its modifier (``:?msg``, ``:-default`` or '')."""
    return {match["name"]: match["modifier"] or "" for match in _VARIABLE.finditer(text)}


def env_example() -> dict[str, str]:
    """The variables .env.example lists, with their example values."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def filled_env_file(directory: Path) -> Path:
    """.env.example with a value for every empty (secret) variable, as a user would write .env."""
    lines = []
    for name, value in env_example().items():
        secret = "test-" + name.lower().replace("_", "-")
        lines.append(f"{name}={value or secret}")
    path = directory / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def docker_compose(*arguments: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    """Run docker-compose (v1, works without an engine) on the repository's compose file."""
    command = shutil.which("docker-compose")
    assert command, "docker-compose is missing: run scripts/system-deps"
    return subprocess.run(
        [command, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def resolved_compose(env_file: Path) -> dict[str, Any]:
    """The compose file as docker compose sees it: anchors merged, variables filled in from ``env_file``."""
    result = docker_compose("config", env_file=env_file)
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert isinstance(document, dict)
    return document


@dataclass(frozen=True)
class ZeropowerService:
    """A compose service built from the zeropower Dockerfile."""

    name: str
    package_dir: str
    module: str
    definition: dict[str, Any]

    @property
    def environment(self) -> dict[str, str]:
        """Its environment, every value a string."""
        environment = self.definition.get("environment", {})
        assert isinstance(environment, dict), f"{self.name}: write environment as a mapping"
        return {str(key): str(value) for key, value in environment.items()}

    @property
    def settings_class(self) -> type[ServiceSettings]:
        """The ServiceSettings subclass of its module (``zeropower.<module>.settings``)."""
        module = importlib.import_module(f"zeropower.{self.module}.settings")
        classes = [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, ServiceSettings)
            and value is not ServiceSettings
            and value.__module__ == module.__name__
        ]
        assert len(classes) == 1, f"zeropower.{self.module}.settings should define one ServiceSettings: {classes}"
        return classes[0]

    def mounted_config(self) -> Path:
        """The host file mounted as the container's config file."""
        for volume in self.definition.get("volumes", []):
            source, target = (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
            if target == CONFIG_IN_CONTAINER:
                return Path(source)
        raise AssertionError(f"{self.name} mounts no {CONFIG_IN_CONTAINER}")


def zeropower_services(compose: dict[str, Any]) -> list[ZeropowerService]:
    """The compose services built from the zeropower Dockerfile (build args SERVICE and MODULE)."""
    services = []
    for name, definition in compose["services"].items():
        build = definition.get("build")
        if build is None:
            continue
        arguments = build.get("args", {})
        services.append(ZeropowerService(name, arguments["SERVICE"], arguments["MODULE"], definition))
    return services


# --- walking a settings model -------------------------------------------------------------------------------


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (unions and Optional unpacked, lists not entered)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [model for argument in get_args(annotation) for model in _models(argument)]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _literal_values(annotation: Any) -> set[str]:
    return {str(value) for value in get_args(annotation)} if get_origin(annotation) is Literal else set()


def _select_by_discriminator(models: list[type[BaseModel]], chosen: dict[str, str]) -> list[type[BaseModel]]:
    """Members of a discriminated union whose ``type``/``kind`` literal matches the value given, if any."""
    if len(models) < 2:
        return models
    for field_name, value in chosen.items():
        literals = {
            model: _literal_values(model.model_fields[field_name].annotation)
            for model in models
            if field_name in model.model_fields
        }
        if literals and all(literals.values()):  # a discriminator: every member fixes its value
            return [model for model, values in literals.items() if value in values]
    return models


def env_setting_problem(settings_cls: type[BaseModel], variable: str, environment: dict[str, str]) -> str | None:
    """Why ``ZEROPOWER_A__B__C`` is not a field of the settings (None when it is).

    Nested models are entered; in a union (e.g. a driver chosen by ``type``) the member named by the sibling
    variable ``..._TYPE`` is used when the environment gives it, else any member.
    """
    parts = variable.removeprefix(ENV_PREFIX).lower().split("__")
    candidates: list[type[BaseModel]] = [settings_cls]
    for depth, part in enumerate(parts):
        owners = [model for model in candidates if part in model.model_fields]
        if not owners:
            known = sorted({name for model in candidates for name in model.model_fields})
            where = ".".join(parts[:depth]) or "(top level)"
            return f"{variable}: {where} has no field {part!r} (known: {', '.join(known)})"
        if depth == len(parts) - 1:
            return None
        inner = [model for owner in owners for model in _models(owner.model_fields[part].annotation)]
        if not inner:
            return f"{variable}: {'.'.join(parts[: depth + 1])} is not a group of settings"
        prefix = ENV_PREFIX + "__".join(parts[: depth + 1]).upper() + "__"
        chosen = {
            key.removeprefix(prefix).lower(): value
            for key, value in environment.items()
            if key.startswith(prefix) and "__" not in key.removeprefix(prefix)
        }
        candidates = _select_by_discriminator(inner, chosen)
        if not candidates:
            return f"{variable}: no member of {'.'.join(parts[: depth + 1])} matches {chosen}"
    return None


def required_fields(model: type[BaseModel], provided: dict[str, Any], path: str = "") -> list[str]:
    """Dotted paths of required fields (no default) missing from ``provided`` (nested dicts of given values).

    A required group that is given is entered to check its own required fields; for a union the member
    picked by the given ``type``/``kind`` is used.
    """
    missing = []
    for name, field in model.model_fields.items():
        dotted = f"{path}{name}"
        if name not in provided:
            if field.is_required():
                missing.append(dotted)
            continue
        value = provided[name]
        members = _models(field.annotation)
        if members and isinstance(value, dict):
            chosen = {key: str(item) for key, item in value.items() if not isinstance(item, dict | list)}
            selected = _select_by_discriminator(members, chosen)
            if len(selected) == 1:
                missing += required_fields(selected[0], value, f"{dotted}.")
    return missing


def env_as_tree(environment: dict[str, str]) -> dict[str, Any]:
    """``ZEROPOWER_A__B=1`` as ``{"a": {"b": "1"}}`` (runner variables left out)."""
    tree: dict[str, Any] = {}
    for key, value in environment.items():
        if not key.startswith(ENV_PREFIX) or key in RUNNER_VARIABLES:
            continue
        *groups, leaf = key.removeprefix(ENV_PREFIX).lower().split("__")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    return tree


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of two trees of settings (override wins), as pydantic-settings merges its sources."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
