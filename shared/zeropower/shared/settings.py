"""Settings: environment (``ZEROPOWER_<SECTION>__<FIELD>``), ``.env``, then an optional YAML file.

The YAML file holds one section per service plus ``mqtt``; ``${VAR}`` and ``${VAR:-default}`` in its
string values are replaced from the environment and ``.env``. Each service reads ``mqtt`` and its own
section; an unknown section or key is an error naming it.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

#: Every top-level section a zeropower YAML file may have (each service ignores the others').
KNOWN_SECTIONS = frozenset(
    {
        "mqtt",
        "log_level",
        "meter",
        "controller",
        "actuator_opendtu",
        "actuator_pwm",
        "actuator_battery",
        "recorder",
        "api",
        "sim",
    }
)

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_config_file: ContextVar[Path | None] = ContextVar("zeropower_config_file", default=None)


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the place."""


class StrictModel(BaseModel):
    """A settings group: unknown keys are errors, numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MqttSettings(StrictModel):
    """Connection to the MQTT broker every service talks through."""

    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(None, description="User name, if the broker requires login.")
    password: SecretStr | None = Field(None, description="Password for that user (keep it in .env).")
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: Path | None = Field(None, description="CA certificate file for TLS; system CAs when unset.")
    cert_file: Path | None = Field(None, description="Client certificate for TLS client authentication.")
    key_file: Path | None = Field(None, description="Private key of the client certificate.")
    tls_insecure: bool = Field(False, description="Skip the server host name check (self-signed setups).")
    topic_prefix: str = Field(
        "zeropower", min_length=1, pattern=r"^[^#+]+$", description="Prefix of all zeropower topics."
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in s; the last will fires after ~1.5x.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First delay before reconnecting in s.")
    reconnect_max_s: float = Field(15.0, gt=0, description="Longest delay between reconnect attempts in s.")


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ServiceSettings(BaseSettings):
    """Base of each service's settings: the MQTT connection and the log level."""

    model_config = SettingsConfigDict(
        env_prefix="ZEROPOWER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        validate_default=True,
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker connection.")
    log_level: LogLevel = Field("INFO", description="Log level.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments win, then environment, .env, the YAML file, and secret files."""
        yaml_source = YamlConfigSource(settings_cls, _config_file.get())
        dotenv_known = _KnownFieldsOnly(settings_cls, dotenv_settings)
        return init_settings, env_settings, dotenv_known, yaml_source, file_secret_settings


class _KnownFieldsOnly(PydanticBaseSettingsSource):
    """A .env file is shared with docker compose: its other variables are not this service's concern."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Delegate to the wrapped source."""
        return self._source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        """Return the wrapped source's values for this service's fields only."""
        return {key: value for key, value in self._source().items() if key in self.settings_cls.model_fields}


class YamlConfigSource(PydanticBaseSettingsSource):
    """Reads this service's sections from the YAML configuration file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data = read_config_file(path, set(settings_cls.model_fields)) if path else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Return the value of one top-level field."""
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return this service's sections of the file."""
        return dict(self._data)


def read_config_file(path: Path, sections: set[str]) -> dict[str, Any]:
    """Read the YAML file, substitute variables, and keep the given top-level sections."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of sections")
    unknown = sorted(set(document) - KNOWN_SECTIONS)
    if unknown:
        raise ConfigError(f"config file {path}: unknown section(s) {', '.join(unknown)}")
    variables = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    wanted = {key: value for key, value in document.items() if key in sections}
    return substitute_variables(wanted, variables, path.name)


def substitute_variables(value: Any, variables: dict[str, str], where: str) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {key: substitute_variables(item, variables, f"{where}:{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_variables(item, variables, f"{where}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in variables and (variables[name] != "" or default is None):
            return variables[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set (write ${{{name}:-default}} for a default)")

    return _VARIABLE.sub(replace, value)


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_cls: type[SettingsT], config_file: Path | None) -> SettingsT:
    """Build a service's settings from the environment, .env and the optional YAML file."""
    token = _config_file.set(config_file)
    try:
        return settings_cls()
    finally:
        _config_file.reset(token)
