"""Recorder settings: the ``recorder`` section (``ZEROPOWER_RECORDER__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from zeropower.recorder.rules import Rule, default_rules
from zeropower.recorder.writers import InfluxConfig
from zeropower.shared.settings import ServiceSettings, StrictModel


class SpoolSettings(StrictModel):
    """Where points wait while InfluxDB is unreachable, and how many may wait."""

    directory: Path = Field(Path("var/recorder"), description="Directory of the spool file (kept across restarts).")
    max_points: int = Field(5_000_000, gt=0, description="Most points held; beyond, the oldest are dropped.")
    max_bytes: int = Field(500_000_000, gt=0, description="Most bytes of line protocol held; beyond, oldest dropped.")


class RecorderSettings(StrictModel):
    """What is recorded, how it maps to points, and where it goes."""

    influxdb: InfluxConfig = Field(description="The InfluxDB to write to (by type: influxdb2 or influxdb1).")
    topics: list[str] = Field(["#"], min_length=1, description="MQTT topic filters to record.")
    dtu_prefixes: list[str] = Field(["solar"], description="OpenDTU MQTT prefixes ($dtu in rules).")
    rules: list[Rule] = Field(
        default_factory=default_rules, description="Mapping rules in order (see docs); replaces the defaults."
    )
    extra_rules: list[Rule] = Field(default_factory=list, description="Rules tried before 'rules'.")
    batch_size: int = Field(5000, gt=0, le=100_000, description="Points per write.")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="Longest time a point waits before a write, in s.")
    retry_min_s: float = Field(1.0, gt=0, description="First wait before retrying InfluxDB after a failure, in s.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest wait between retries (doubling backoff), in s.")
    state_interval_s: float = Field(5.0, gt=0, le=3600, description="How often the recorder's state is published.")
    spool: SpoolSettings = Field(default_factory=SpoolSettings, description="The on-disk spool.")


class RecorderServiceSettings(ServiceSettings):
    """Settings of the recorder service."""

    recorder: RecorderSettings = Field(description="The recorder.")
