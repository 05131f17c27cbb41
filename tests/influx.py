"""Real time-series databases for tests: InfluxDB 1.x (``influxd``) and VictoriaMetrics, on free ports.

``InfluxServer`` starts Debian's ``influxd`` (1.6) with a private config and data directory, can be stopped
and started again on the same port and data, and answers InfluxQL queries. ``VictoriaMetricsServer`` is a
real server that accepts the InfluxDB v2 write API (``/api/v2/write``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from zeropower.sim.broker import free_port

_INFLUXD_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {auth_enabled}
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"

[ifql]
  enabled = false
"""


class _ServerProcess:
    """A database server process on 127.0.0.1:port: start() waits until its health URL answers."""

    port: int
    url: str
    _log: Path
    _process: subprocess.Popen[bytes] | None = None
    _health_path: str

    def _command(self) -> list[str]:
        """The server's command line (each subclass has its own)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start the server and wait until it is healthy."""
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_healthy()
        return self

    def stop(self) -> None:
        """Stop the server (writers see connection refused); port and data stay for the next start()."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_until_healthy(self, timeout_s: float = 20.0) -> None:
        assert self._process is not None
        url = f"{self.url}{self._health_path}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self._process.args[0]} exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=1).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{url} did not answer within {timeout_s} s")


class InfluxServer(_ServerProcess):
    """A private ``influxd`` (InfluxDB 1.x); stop() and start() keep its port and data."""

    _health_path = "/ping"

    def __init__(self, workdir: Path, admin: tuple[str, str] | None = None) -> None:
        """``admin``: (user, password) of an admin user; authentication is enabled when given."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._admin = admin
        self._admin_created = False
        self._root = workdir
        self._root.mkdir(parents=True, exist_ok=True)
        self._config = self._root / "influxdb.conf"
        self._config.write_text(
            _INFLUXD_CONFIG.format(
                root=self._root,
                http_port=self.port,
                rpc_port=free_port(),
                auth_enabled=str(admin is not None).lower(),
            )
        )
        self._log = self._root / "influxd.log"

    def start(self) -> Self:
        """Start influxd; with ``admin``, create that user on the first start (allowed while no admin exists)."""
        super().start()
        if self._admin is not None and not self._admin_created:
            user, password = self._admin
            self.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES", method="POST")
            self._admin_created = True
        return self

    @staticmethod
    def available() -> bool:
        """True when ``influxd`` is installed."""
        return shutil.which("influxd") is not None

    def _command(self) -> list[str]:
        return ["influxd", "run", "-config", str(self._config)]

    def create_database(self, name: str) -> None:
        """CREATE DATABASE (idempotent)."""
        self.query(f'CREATE DATABASE "{name}"', method="POST")

    def query(self, influxql: str, database: str | None = None, *, method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL; returns the series of the first statement (name, columns, values, tags)."""
        params = {"q": influxql, "epoch": "ns", **({"db": database} if database else {})}
        response = httpx.request(method, f"{self.url}/query", params=params, auth=self._admin, timeout=30)
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise RuntimeError(f"InfluxQL error: {result['error']}")
        return list(result.get("series", []))

    def rows(self, influxql: str, database: str) -> list[dict[str, Any]]:
        """The rows of a SELECT as dicts (column name to value), tags of GROUP BY included."""
        return [
            {**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))}
            for series in self.query(influxql, database)
            for values in series["values"]
        ]


class VictoriaMetricsServer(_ServerProcess):
    """A private VictoriaMetrics: accepts ``/api/v2/write`` and exports series as JSON lines."""

    _health_path = "/health"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._data = workdir / "victoria-metrics"
        self._log = workdir / "victoria-metrics.log"

    @staticmethod
    def available() -> bool:
        """True when ``victoria-metrics`` is installed."""
        return shutil.which("victoria-metrics") is not None

    def _command(self) -> list[str]:
        return [
            "victoria-metrics",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self._data}",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every series matching a PromQL selector, e.g. ``{__name__=~"grid_.*"}`` (metric, values, timestamps)."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()
        response = httpx.get(f"{self.url}/api/v1/export", params={"match[]": selector}, timeout=30)
        response.raise_for_status()
        return [json.loads(line) for line in response.content.splitlines() if line]
