"""Longer history from the recorder's InfluxDB, read with InfluxQL (``/query``), averaged into buckets.

It reads what the recorder's default mapping writes (docs/services/recorder.md): ``grid.power_w``,
``controller.output_w`` and ``controller.limit_w``, and each diverter's and each battery's ``device.power_w``.
Whatever InfluxDB answers is checked: a value that is not a finite power within the wire bounds is a gap, never a
number shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field, SecretStr

from zeropower.shared.settings import StrictModel

MAX_POINTS = 720  # buckets per series: more than a chart's width in pixels on a phone, few enough to send
MAX_ANSWER_BYTES = 10_000_000  # a larger answer is no history this API asked for
MAX_POWER_W = 1_000_000.0  # as the wire messages' bounds


class InfluxHistorySettings(StrictModel):
    """The InfluxDB the recorder writes to, read through its InfluxQL endpoint ``/query``."""

    url: str = Field("http://127.0.0.1:8086", description="Base URL of InfluxDB.")
    database: str = Field(
        "zeropower",
        min_length=1,
        description="Database the recorder writes to (InfluxDB 2/3: the bucket's v1 database name, DBRP mapping).",
    )
    retention_policy: str | None = Field(None, description="Retention policy; the database's default when unset.")
    username: str | None = Field(None, description="User name, if authentication is enabled (InfluxDB 2: any).")
    password: SecretStr | None = Field(None, description="That user's password (InfluxDB 2: a token; keep it in .env).")
    timeout_s: float = Field(5.0, gt=0, le=60, description="Longest wait for InfluxDB's answer in s.")


class InfluxHistoryError(Exception):
    """InfluxDB did not answer with a history (unreachable, an error, or an answer that is not one)."""


@dataclass(frozen=True)
class Columns:
    """Averaged power per bucket: times (Unix s, the bucket's start) and one value list per series."""

    t: list[float]
    grid_w: list[float | None]
    output_w: list[float | None]
    limit_w: list[float | None]
    heater_w: list[float | None]
    battery_w: list[float | None]


#: Series summed over their devices per bucket: the diverters' power, the batteries'.
SUMMED = ("heater_w", "battery_w")


def bucket_s(minutes: int, interval_s: float) -> int:
    """Whole seconds per bucket so that ``minutes`` fit in MAX_POINTS buckets, at least ``interval_s``."""
    return max(math.ceil(interval_s), math.ceil(minutes * 60 / MAX_POINTS))


def _string(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    """An InfluxQL quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _power(value: Any) -> float | None:
    """A finite power within the wire bounds, else None (a gap)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) <= MAX_POWER_W else None


class InfluxHistory:
    """Reads averaged power series from InfluxDB 1.x (or any server with its ``/query`` API)."""

    def __init__(self, settings: InfluxHistorySettings) -> None:
        self._settings = settings
        self._auth = None
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            self._auth = httpx.BasicAuth(settings.username, password)

    def _from(self, measurement: str) -> str:
        policy = self._settings.retention_policy
        return f"{_identifier(policy)}.{_identifier(measurement)}" if policy else _identifier(measurement)

    def queries(
        self,
        minutes: int,
        step_s: int,
        diverters: Iterable[tuple[str, str]],
        storages: Iterable[tuple[str, str]] = (),
    ) -> list[str]:
        """The InfluxQL statements: grid, controller and (when there are any) diverters' and batteries' power."""
        where = f"WHERE time > now() - {minutes}m"
        group = f"GROUP BY time({step_s}s) fill(none)"
        statements = [
            f'SELECT mean("power_w") AS grid_w FROM {self._from("grid")} {where} {group}',
            f'SELECT mean("output_w") AS output_w, mean("limit_w") AS limit_w FROM {self._from("controller")} '
            f"{where} {group}",
        ]
        for name, keys in (("heater_w", diverters), ("battery_w", storages)):
            devices = " OR ".join(
                f'("actuator_id" = {_string(actuator)} AND "device_id" = {_string(device)})'
                for actuator, device in sorted(keys)
            )
            if devices:
                statements.append(
                    f'SELECT mean("power_w") AS {name} FROM {self._from("device")} {where} AND ({devices}) '
                    f'GROUP BY time({step_s}s), "actuator_id", "device_id" fill(none)'
                )
        return statements

    async def read(
        self,
        minutes: int,
        step_s: int,
        diverters: Iterable[tuple[str, str]],
        storages: Iterable[tuple[str, str]] = (),
    ) -> Columns:
        """The last ``minutes`` in buckets of ``step_s``; the diverters' and the batteries' power summed per bucket."""
        statements = self.queries(minutes, step_s, diverters, storages)
        params = {"db": self._settings.database, "q": ";".join(statements), "epoch": "s"}
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=self._settings.timeout_s) as client:
                response = await client.get(f"{self._settings.url.rstrip('/')}/query", params=params)
        except httpx.HTTPError as error:
            raise InfluxHistoryError(f"InfluxDB {self._settings.url} unreachable: {type(error).__name__}") from None
        if len(response.content) > MAX_ANSWER_BYTES:
            raise InfluxHistoryError(f"InfluxDB answered {len(response.content)} bytes, more than a history")
        try:
            answer = response.json()
        except ValueError:
            raise InfluxHistoryError(f"InfluxDB answered HTTP {response.status_code} without JSON") from None
        if not response.is_success:
            detail = answer.get("error") if isinstance(answer, dict) else None
            raise InfluxHistoryError(f"InfluxDB answered HTTP {response.status_code}: {str(detail)[:200]}")
        try:
            return columns_of(answer, len(statements))
        except InfluxHistoryError as error:
            raise InfluxHistoryError(
                f"InfluxDB {self._settings.url} database {self._settings.database}: {error}"
            ) from None


def columns_of(answer: Any, statements: int) -> Columns:
    """The series of an InfluxQL answer merged on their bucket times; the diverters' and batteries' series summed."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
        raise InfluxHistoryError("InfluxDB's answer is not the results of the history's queries")
    for result in results:
        if "error" in result:  # e.g. "not executed" (InfluxDB 1.6 without the database): one result for all
            raise InfluxHistoryError(str(result["error"])[:200])
    if len(results) != statements:
        raise InfluxHistoryError("InfluxDB's answer is not the results of the history's queries")
    values: dict[str, dict[float, float]] = {
        "grid_w": {},
        "output_w": {},
        "limit_w": {},
        "heater_w": {},
        "battery_w": {},
    }
    for result in results:
        for series in result.get("series") or []:
            _take(series, values)
    times = sorted({t for series in values.values() for t in series})
    return Columns(
        t=times,
        **{name: [series.get(t) for t in times] for name, series in values.items()},
    )


def _take(series: Any, values: dict[str, dict[float, float]]) -> None:
    """Add one series' rows to ``values`` (SUMMED over devices); rows that are not numbers are skipped."""
    columns = series.get("columns") if isinstance(series, dict) else None
    rows = series.get("values") if isinstance(series, dict) else None
    if not isinstance(columns, list) or not isinstance(rows, list) or not columns or columns[0] != "time":
        raise InfluxHistoryError("InfluxDB's answer holds a series without time and values")
    for row in rows:
        if not isinstance(row, list) or len(row) != len(columns):
            continue
        t = row[0]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1e10:
            continue
        for name, raw in zip(columns[1:], row[1:], strict=True):
            value = _power(raw)
            if name not in values or value is None:
                continue
            if name in SUMMED:
                values[name][float(t)] = values[name].get(float(t), 0.0) + value
            else:
                values[name][float(t)] = value
