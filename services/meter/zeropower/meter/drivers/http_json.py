"""Any HTTP endpoint answering JSON: a key path to the power, optionally import minus export."""

from __future__ import annotations

from typing import Any, Literal, Self

import httpx
from pydantic import Field, HttpUrl, SecretStr, model_validator

from zeropower.meter.http import HttpAuthKind, JsonHttp, make_auth, secret_value, shown_url
from zeropower.meter.key_path import KeyPath, resolve
from zeropower.meter.reading import MeterValues, PowerUnit, finite_number, watts
from zeropower.shared.settings import StrictModel


class HttpJsonConfig(StrictModel):
    """A JSON document with grid power at a key path (like OpenDTU-OnBattery's HTTP JSON meter)."""

    type: Literal["http_json"] = Field(description="Driver for any JSON-over-HTTP source.")
    url: HttpUrl = Field(description="Full URL of the JSON document, e.g. http://192.168.1.70/rest.")
    path: KeyPath = Field(
        description="Key path of the power: 'emeters/0/power' or 'a.b.0.c' (import power when export_path is set)."
    )
    export_path: KeyPath | None = Field(None, description="Key path of the export power; grid = path - export_path.")
    unit: PowerUnit = Field("W", description="Unit of the values: W, kW or mW.")
    invert: bool = Field(False, description="Flip the sign, for a source that counts export as positive.")
    auth: HttpAuthKind = Field("none", description="HTTP authentication: none, basic, digest or bearer.")
    username: str | None = Field(None, description="User name for basic or digest auth.")
    password: SecretStr | None = Field(None, description="Password for basic or digest auth.")
    token: SecretStr | None = Field(None, description="Token for bearer auth.")

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> Self:
        if self.auth in {"basic", "digest"} and (not self.username or secret_value(self.password) is None):
            raise ValueError(f"auth {self.auth} needs username and password")
        if self.auth == "bearer" and secret_value(self.token) is None:
            raise ValueError("auth bearer needs token")
        return self


class HttpJsonMeter:
    """GETs the document once per poll and takes the value(s) at the configured key path(s)."""

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(self, config: HttpJsonConfig, client: httpx.AsyncClient, timeout_s: float) -> None:
        self._config = config
        self._url = str(config.url)
        token = secret_value(config.token)
        headers = {"Authorization": f"Bearer {token}"} if config.auth == "bearer" and token else None
        self._http = JsonHttp(client, timeout_s, make_auth(config.auth, config.username, config.password), headers)
        self.description = f"HTTP JSON {shown_url(self._url)} ({config.path})"

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import (after unit conversion and ``invert``)."""
        config = self._config
        document = await self._http.get_json(self._url)
        power = _value(document, config.path)
        if config.export_path is not None:
            power -= _value(document, config.export_path)
        return MeterValues(power_w=watts(power, config.unit, invert=config.invert))


def _value(document: Any, path: str) -> float:
    return finite_number(resolve(document, path), path)
