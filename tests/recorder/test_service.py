"""The recorder through a real Mosquitto into a real InfluxDB 1.x (v1 /write) and VictoriaMetrics (v2 write)."""

import time

import pytest

from tests.helpers import MqttProbe, service_running, wait_until
from tests.influx import VictoriaMetricsServer
from tests.recorder.conftest import DATABASE, wait_for_state
from zeropower.recorder.service import run
from zeropower.recorder.writers.influxdb2 import InfluxDb2Config
from zeropower.shared.messages import ControllerState, DeviceState, GridReading, PhaseReading
from zeropower.shared.topics import Topics

pytestmark = pytest.mark.integration


async def test_records_zeropower_and_opendtu_topics(probe: MqttProbe, influx, influx1_config, recorder_settings):
    settings = recorder_settings(influx1_config)
    topics = Topics(settings.mqtt.topic_prefix)
    grid = GridReading(timestamp=1_763_900_000.5, power_w=-312.4, phases=[PhaseReading(power_w=-104.1, voltage_v=231)])
    state = ControllerState(
        timestamp=1_763_900_001.0,
        enabled=True,
        mode="regulating",
        reason="export",
        grid_power_w=-290,
        grid_age_s=0.1,
        target_w=20,
        output_w=610,
        limit_w=300,
        setpoints_w={"114182912345": 300},
    )
    device = DeviceState(actuator_id="opendtu", device_id="114182912345", reachable=True, producing=False)
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        await probe.publish(topics.grid_power(), grid.model_dump_json())
        await probe.publish(topics.controller_state(), state.model_dump_json())
        await probe.publish(topics.device_state("opendtu", "114182912345"), device.model_dump_json())
        await probe.publish("solar/114182912345/0/power", "305.2")
        await probe.publish("solar/114182912345/status/name", "HM-600")
        state = await wait_for_state(probe, topics, lambda s: s["written"] >= 5 and s["lag_s"] == 0)
    assert set(state) == {"timestamp", "received", "written", "spooled", "dropped", "rejected", "lag_s"}

    def row(query: str) -> dict:
        rows = influx.rows(query, DATABASE)
        assert len(rows) == 1, rows
        return rows[0]

    assert row("SELECT power_w, l1_power_w, l1_voltage_v FROM grid") == {
        "time": 1_763_900_000_500_000_000,
        "power_w": -312.4,
        "l1_power_w": -104.1,
        "l1_voltage_v": 231,
    }
    assert row("SELECT enabled, mode, limit_w FROM controller") | {"time": 0} == {
        "time": 0,
        "enabled": 1,
        "mode": "regulating",
        "limit_w": 300,
    }
    assert row("SELECT limit_w FROM setpoint GROUP BY device_id")["device_id"] == "114182912345"
    assert row("SELECT reachable, producing FROM device GROUP BY *") | {"time": 0} == {
        "time": 0,
        "actuator_id": "opendtu",
        "device_id": "114182912345",
        "reachable": 1,
        "producing": 0,
    }
    assert row("SELECT power FROM opendtu GROUP BY *") | {"time": 0} == {
        "time": 0,
        "serial": "114182912345",
        "channel": "0",
        "power": 305.2,
    }
    assert influx.rows("SELECT * FROM opendtu_status", DATABASE) == []
    # its own availability: online (and offline at the stop, when that arrived before the intake closed)
    online = influx.rows("SELECT online FROM availability WHERE service = 'recorder'", DATABASE)
    assert online[0]["online"] == 1


async def test_writes_through_the_v2_api(probe: MqttProbe, victoria: VictoriaMetricsServer, recorder_settings):
    config = InfluxDb2Config(type="influxdb2", url=victoria.url, org="home", bucket="zeropower", timeout_s=2)
    settings = recorder_settings(config)
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        reading = GridReading(timestamp=time.time(), power_w=123.5)
        await probe.publish(topics.grid_power(), reading.model_dump_json())
        await wait_for_state(probe, topics, lambda s: s["written"] >= 1 and s["lag_s"] == 0)

    def exported() -> list[dict]:
        return victoria.export('{__name__="grid_power_w"}')

    await wait_until(lambda: bool(exported()))
    [series] = exported()
    assert series["values"] == [123.5]
    assert series["timestamps"] == [int(reading.timestamp * 1000)]


async def test_records_again_after_a_broker_restart_and_stops_promptly(
    broker, influx, influx1_config, recorder_settings
):
    settings = recorder_settings(influx1_config)
    topics = Topics(settings.mqtt.topic_prefix)
    topic = f"{settings.mqtt.topic_prefix}/restart/value"

    def values() -> list[float]:
        return [row["value"] for row in influx.rows(f"SELECT value FROM mqtt WHERE topic = '{topic}'", DATABASE)]

    async with service_running(run, settings):
        async with MqttProbe(broker.port) as probe:
            await wait_for_state(probe, topics, lambda s: True)
            await probe.publish(topic, "1")
            await wait_for_state(probe, topics, lambda s: s["written"] >= 1 and s["lag_s"] == 0)
        broker.stop()
        broker.start()  # forgets retained messages: the one below arrives once, live or on resubscribing
        async with MqttProbe(broker.port) as probe:
            await probe.publish(topic, "2", retain=True)
            await wait_until(lambda: values() == [1.0, 2.0], interval=0.2)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2
