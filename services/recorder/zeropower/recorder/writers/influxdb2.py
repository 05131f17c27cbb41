"""InfluxDB 2.x/3.x (and 1.8+ compatibility, VictoriaMetrics): ``/api/v2/write`` through influxdb-client."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Literal, Self

from pydantic import Field, SecretStr

from zeropower.recorder.writers.base import TransientWriteError, classify_http_error
from zeropower.shared.settings import StrictModel


class InfluxDb2Config(StrictModel):
    """An InfluxDB 2.x/3.x bucket, or a 1.8+ database through its v2 compatibility API."""

    type: Literal["influxdb2"] = Field(description="InfluxDB v2 write API.")
    url: str = Field("http://127.0.0.1:8086", description="Base URL of InfluxDB.")
    org: str = Field("zeropower", min_length=1, description="Organisation (ignored by InfluxDB 1.8: use '-').")
    bucket: str = Field(
        "zeropower", min_length=1, description="Bucket; for InfluxDB 1.8 'database/retention_policy' or 'database'."
    )
    token: SecretStr | None = Field(
        None, description="API token (InfluxDB 1.8: 'user:password'); unset for servers without authentication."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="Longest wait for one write in s.")


class InfluxDb2Writer:
    """Writes batches with influxdb-client's synchronous write API, one at a time in a worker thread.

    The client's own retries are off: a failed batch is the recorder's to spool and replay.
    """

    def __init__(self, config: InfluxDb2Config) -> None:
        # influxdb-client loads only when this writer is used: it costs ~20 MB of RSS in every recorder otherwise.
        from influxdb_client import InfluxDBClient  # noqa: PLC0415
        from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415

        self._config = config
        self.description = f"InfluxDB v2 {config.url} bucket {config.bucket}"
        self._client = InfluxDBClient(
            url=config.url,
            token=config.token.get_secret_value() if config.token else None,
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            retries=False,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    async def write(self, body: bytes) -> None:
        """Write one batch; raises TransientWriteError or RejectedWriteError."""
        await asyncio.to_thread(self._write, body)

    def _write(self, body: bytes) -> None:
        from influxdb_client import WritePrecision  # noqa: PLC0415  (loaded by __init__)
        from influxdb_client.rest import ApiException  # noqa: PLC0415
        from urllib3.exceptions import ConnectTimeoutError, HTTPError  # noqa: PLC0415  (influxdb-client's transport)

        try:
            self._api.write(self._config.bucket, self._config.org, body, write_precision=WritePrecision.NS)
        except ApiException as error:
            if not error.status:
                raise TransientWriteError(str(error.reason)) from None
            text = error.body.decode(errors="replace") if isinstance(error.body, bytes) else str(error.body or "")
            raise classify_http_error(error.status, text) from None
        except (ConnectTimeoutError, OSError) as error:  # urllib3's NewConnectionError is a ConnectTimeoutError
            raise TransientWriteError(f"{type(error).__name__}: {error}", unreachable=True) from None
        except HTTPError as error:
            raise TransientWriteError(f"{type(error).__name__}: {error}") from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._api.close()
        self._client.close()
