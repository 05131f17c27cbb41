"""InfluxDB 1.x before 1.8 (e.g. Debian's 1.6): the ``/write`` endpoint, database and retention policy."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, SecretStr

from zeropower.recorder.writers.base import TransientWriteError, classify_http_error
from zeropower.shared.settings import StrictModel

if TYPE_CHECKING:
    import aiohttp


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
        self._session: aiohttp.ClientSession | None = None

    async def write(self, body: bytes) -> None:
        """Write one batch; raises TransientWriteError or RejectedWriteError."""
        if self._session is None:
            raise RuntimeError("InfluxDb1Writer used outside 'async with'")
        import aiohttp  # noqa: PLC0415  (loaded by __aenter__)

        try:
            async with self._session.post(
                f"{self._config.url.rstrip('/')}/write", params=self._params, data=body
            ) as response:
                if response.status == 204:
                    return
                text = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TransientWriteError(f"{type(error).__name__}: {error}") from None
        raise classify_http_error(response.status, text)

    async def __aenter__(self) -> Self:
        import aiohttp  # noqa: PLC0415  (lazy: ~9 MiB RSS the other writers do not need)

        config = self._config
        auth = None
        if config.username:
            password = config.password.get_secret_value() if config.password else ""
            auth = aiohttp.BasicAuth(config.username, password)
        self._session = aiohttp.ClientSession(auth=auth, timeout=aiohttp.ClientTimeout(total=config.timeout_s))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
