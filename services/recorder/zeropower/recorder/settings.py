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


class SessionSettings(StrictModel):
    """The recording connection's MQTT v5 session: the broker keeps it and queues for it while the recorder is away."""

    client_id: str | None = Field(
        None,
        min_length=1,
        description="Client id of the recording connection; unset: 'zeropower-recorder-<host>-<random>', made at the "
        "first start and kept in the spool directory, so that a restart resumes the session.",
    )
    username: str | None = Field(
        None,
        min_length=1,
        description="User of the recording connection (with mqtt.password); unset: '<mqtt.username>-firehose' when "
        "mqtt.username is set (a broker that takes the user name as client id needs a user per connection).",
    )
    expiry_s: int = Field(
        86_400,
        ge=0,
        le=31_536_000,
        description="How long the broker keeps the session and queues messages for it while the recorder is away, "
        "in s (its persistent_client_expiration may cut it shorter); 0: no session, what arrives while the "
        "recorder is away is lost.",
    )
    receive_maximum: int = Field(
        20_000,
        ge=1,
        le=65_535,
        description="Most QoS 1 messages the broker sends before the recorder acknowledges them (a message is "
        "acknowledged once its points are in InfluxDB or the spool).",
    )


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
    session: SessionSettings = Field(
        default_factory=SessionSettings, description="The recording connection's persistent MQTT session."
    )


class RecorderServiceSettings(ServiceSettings):
    """Settings of the recorder service."""

    recorder: RecorderSettings = Field(description="The recorder.")
