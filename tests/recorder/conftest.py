"""Fixtures of the recorder tests: a real InfluxDB 1.x, a real VictoriaMetrics, recorder settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import MqttProbe
from tests.influx import InfluxServer, VictoriaMetricsServer
from zeropower.recorder.settings import RecorderServiceSettings, RecorderSettings, SpoolSettings
from zeropower.recorder.writers.influxdb1 import InfluxDb1Config
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics

DATABASE = "zeropower"


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """A real influxd (Debian's InfluxDB 1.x) on free ports with database ``zeropower``."""
    if not InfluxServer.available():
        pytest.skip("influxd not installed (scripts/system-deps installs it)")
    with InfluxServer(tmp_path / "influxdb") as server:
        server.create_database(DATABASE)
        yield server


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetricsServer]:
    """A real VictoriaMetrics on a free port (speaks the InfluxDB v2 write API)."""
    if not VictoriaMetricsServer.available():
        pytest.skip("victoria-metrics not installed (scripts/system-deps installs it)")
    with VictoriaMetricsServer(tmp_path) as server:
        yield server


SettingsFactory = Callable[..., RecorderServiceSettings]


@pytest.fixture
def recorder_settings(mqtt_settings: MqttSettings, tmp_path: Path) -> SettingsFactory:
    """Build recorder settings for the test's broker with fast timings; keyword arguments override."""

    def build(influxdb: Any, **overrides: Any) -> RecorderServiceSettings:
        options: dict[str, Any] = {
            "influxdb": influxdb,
            "flush_interval_s": 0.1,
            "retry_min_s": 0.1,
            "retry_max_s": 0.5,
            "state_interval_s": 0.5,
            "spool": SpoolSettings(directory=tmp_path / "spool"),
            **overrides,
        }
        return RecorderServiceSettings(mqtt=mqtt_settings, recorder=RecorderSettings(**options))

    return build


@pytest.fixture
def influx1_config(influx: InfluxServer) -> InfluxDb1Config:
    """Writer config for the test's influxd through the v1 /write endpoint."""
    return InfluxDb1Config(type="influxdb1", url=influx.url, database=DATABASE, timeout_s=2)


async def wait_for_state(
    probe: MqttProbe, topics: Topics, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    """Wait for a recorder state (from now on) that satisfies ``predicate``; returns it as a dict."""
    message = await probe.wait_for_new(
        topics.recorder_state(), lambda m: predicate(json.loads(m.payload)), timeout=timeout
    )
    return dict(json.loads(message.payload))
