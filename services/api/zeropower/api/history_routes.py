"""``GET /api/history``: the chart's power series, from the API's memory or from the recorder's InfluxDB."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from zeropower.api.gateway import Gateway
from zeropower.api.history import Sample
from zeropower.api.influx_history import InfluxHistory, InfluxHistoryError, bucket_s
from zeropower.api.settings import HistorySettings
from zeropower.shared.change_log import ChangeLogger

log = logging.getLogger("zeropower.api")

LONGEST_MINUTES = 7 * 24 * 60  # the longest range asked of InfluxDB


class HistoryBody(BaseModel):
    """Power over time, as columns: ``t[i]`` is the time of ``grid_w[i]``, ``output_w[i]``, ... (null: unknown)."""

    source: Literal["memory", "influxdb"] = Field(description="Where the samples come from.")
    now: float = Field(description="The API's Unix time when it answered.")
    minutes: int = Field(description="The range asked for, back from `now`.")
    longest_minutes: int = Field(
        description="The longest range there is: the memory's span, or a week when InfluxDB is configured."
    )
    step_s: float = Field(description="Spacing of the samples in s (memory: at least this; InfluxDB: the bucket).")
    problem: str | None = Field(description="Why InfluxDB was not used though configured; null otherwise.")
    t: list[float] = Field(description="Unix time of each sample (InfluxDB: the start of its bucket).")
    grid_w: list[float | None] = Field(description="Grid power in W (positive: import, negative: export).")
    output_w: list[float | None] = Field(description="The inverters' total output in W.")
    limit_w: list[float | None] = Field(description="The inverters' total limit in W.")
    heater_w: list[float | None] = Field(description="The diverters' (heaters') total power in W.")
    battery_w: list[float | None] = Field(
        description="The batteries' total power at their terminals in W (positive: charging, negative: discharging)."
    )


def _columns_of(samples: list[Sample]) -> dict[str, list[float | None]]:
    """The memory's samples as the answer's columns."""
    return {
        "t": [sample.t for sample in samples],
        "grid_w": [sample.grid_w for sample in samples],
        "output_w": [sample.output_w for sample in samples],
        "limit_w": [sample.limit_w for sample in samples],
        "heater_w": [sample.heater_w for sample in samples],
        "battery_w": [sample.battery_w for sample in samples],
    }


def install_history(app: FastAPI, gateway: Gateway, settings: HistorySettings) -> None:
    """Serve ``GET /api/history``."""
    influx = InfluxHistory(settings.influxdb) if settings.influxdb is not None else None
    longest = LONGEST_MINUTES if influx is not None else settings.minutes
    memory = gateway.history
    influx_log = ChangeLogger(log, "history from InfluxDB")

    @app.get("/api/history", response_model=HistoryBody)
    async def history(
        minutes: Annotated[int, Query(ge=1, le=LONGEST_MINUTES, description="How far back, in minutes.")] = 60,
    ) -> HistoryBody:
        """Grid power, output, limit, heater and battery power over the last `minutes`.

        From the API's memory (the last `api.history.minutes`) when it reaches back far enough or no InfluxDB is
        configured; else from the recorder's InfluxDB (`api.history.influxdb`), averaged into at most 720
        buckets, and from memory again (with `problem` saying why) when InfluxDB fails.
        """
        now = time.time()
        start = now - minutes * 60
        answer = {"now": now, "minutes": minutes, "longest_minutes": longest, "problem": None}
        if influx is not None and not memory.covers(start):
            step = bucket_s(minutes, memory.interval_s)
            snapshot = gateway.snapshot
            diverters = [key for key in snapshot.announced if snapshot.kind(key) == "consumer"]
            storages = [key for key in snapshot.announced if snapshot.kind(key) == "storage"]
            try:
                columns = await influx.read(minutes, step, diverters, storages)
            except InfluxHistoryError as error:
                influx_log.report(str(error))
                answer["problem"] = str(error)
            else:
                influx_log.report(None)
                return HistoryBody(source="influxdb", step_s=step, **answer, **asdict(columns))
        columns_of_memory = _columns_of(memory.since(start))
        return HistoryBody(source="memory", step_s=memory.interval_s, **answer, **columns_of_memory)
