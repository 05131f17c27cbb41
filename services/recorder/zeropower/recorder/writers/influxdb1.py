"""InfluxDB 1.x before 1.8 (e.g. Debian's 1.6): the ``/write`` endpoint, database and retention policy."""

from __future__ import annotations

from types import TracebackType
from typing import Literal, Self

import httpx
from pydantic import Field, SecretStr

from zeropower.recorder.writers.base import TransientWriteError, classify_http_error
from zeropower.shared.settings import StrictModel


class InfluxDb1Config(StrictModel):
    """An InfluxDB 1.x database written through the v1 ``/write`` endpoint."""

    type: Literal["influxdb1"] = Field(description="InfluxDB v1 write API.")
    url: str = Field("http://127.0.0.1:8086", description="Base URL of InfluxDB.")
    database: str = Field("zeropower", min_length=1, description="Database (create it first: CREATE DATABASE ...).")
    retention_policy: str | None = Field(None, description="Retention policy; the database's default when unset.")
    username: str | None = Field(None, description="User name, if authentication is enabled.")
    password: SecretStr | None = Field(None, description="That user's password (keep it in .env).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Longest wait for one write in s.")


class InfluxDb1Writer:
    """Writes batches with one HTTP POST each to ``/write?db=...&precision=ns``."""

    def __init__(self, config: InfluxDb1Config) -> None:
        self._config = config
        self.description = f"InfluxDB v1 {config.url} database {config.database}"
        self._params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            self._params["rp"] = config.retention_policy
        self._client: httpx.AsyncClient | None = None

    async def write(self, body: bytes) -> None:
        """Write one batch; raises TransientWriteError or RejectedWriteError."""
        if self._client is None:
            raise RuntimeError("InfluxDb1Writer used outside 'async with'")
        try:
            response = await self._client.post("/write", params=self._params, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, OSError) as error:
            raise TransientWriteError(f"{type(error).__name__}: {error}", unreachable=True) from None
        except httpx.HTTPError as error:
            raise TransientWriteError(f"{type(error).__name__}: {error}") from None
        if response.status_code != 204:
            raise classify_http_error(response.status_code, response.text)

    async def __aenter__(self) -> Self:
        config = self._config
        auth = None
        if config.username:
            auth = httpx.BasicAuth(config.username, config.password.get_secret_value() if config.password else "")
        self._client = httpx.AsyncClient(base_url=config.url, auth=auth, timeout=config.timeout_s)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
