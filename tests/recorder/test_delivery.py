"""No data loss: InfluxDB outages, recorder restarts and bad points, against a real influxd and Mosquitto."""

import asyncio
import json
import logging
import time

import pytest

from tests.helpers import MqttProbe, service_running
from tests.influx import InfluxServer
from tests.recorder.conftest import DATABASE, wait_for_state
from zeropower.recorder.rules import Rule
from zeropower.recorder.service import run
from zeropower.shared.topics import Topics

pytestmark = pytest.mark.integration


def sequence_counts(influx: InfluxServer, topic: str) -> dict[int, int]:
    """How many points InfluxDB holds per sequence number on one topic (fallback rule: measurement mqtt)."""
    rows = influx.rows(f"SELECT seq FROM mqtt WHERE topic = '{topic}'", DATABASE)
    counts: dict[int, int] = {}
    for row in rows:
        counts[int(row["seq"])] = counts.get(int(row["seq"]), 0) + 1
    return counts


async def publish_sequence(probe: MqttProbe, topic: str, numbers: range, per_second: float) -> None:
    for seq in numbers:
        await probe.publish(topic, json.dumps({"seq": seq}), qos=1)
        await asyncio.sleep(1 / per_second)  # pacing the load, not synchronisation


async def test_outage_under_load_loses_and_duplicates_nothing(
    probe: MqttProbe, influx: InfluxServer, influx1_config, recorder_settings
):
    settings = recorder_settings(influx1_config, batch_size=200)
    topics = Topics(settings.mqtt.topic_prefix)
    topic = f"{settings.mqtt.topic_prefix}/load/seq"
    total = 3000
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        load = asyncio.create_task(publish_sequence(probe, topic, range(total), per_second=1000))
        await wait_for_state(probe, topics, lambda s: s["written"] >= 300)
        influx.stop()
        await wait_for_state(probe, topics, lambda s: s["spooled"] >= 300)
        influx.start()
        await load
        state = await wait_for_state(probe, topics, lambda s: s["received"] >= total + 1 and s["spooled"] == 0)
        state = await wait_for_state(probe, topics, lambda s: s["lag_s"] == 0)
    assert state["dropped"] == 0
    assert state["rejected"] == 0
    assert sequence_counts(influx, topic) == dict.fromkeys(range(total), 1)


async def test_spool_survives_a_recorder_restart(
    probe: MqttProbe, influx: InfluxServer, influx1_config, recorder_settings
):
    settings = recorder_settings(influx1_config)
    topics = Topics(settings.mqtt.topic_prefix)
    topic = f"{settings.mqtt.topic_prefix}/restart/seq"
    influx.stop()
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        for seq in range(50):
            await probe.publish(topic, json.dumps({"seq": seq}))
        await wait_for_state(probe, topics, lambda s: s["spooled"] >= 50)
    assert (settings.recorder.spool.directory / "spool.sqlite3").exists()
    influx.start()
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: s["spooled"] == 0 and s["written"] >= 50)
    assert sequence_counts(influx, topic) == dict.fromkeys(range(50), 1)


async def test_bad_points_are_counted_and_not_retried(
    probe: MqttProbe, influx: InfluxServer, influx1_config, recorder_settings
):
    text_as_value = Rule(topic="$prefix/text/{name}", measurement="mqtt", tags=["name"], text_field="value")
    settings = recorder_settings(influx1_config, extra_rules=[text_as_value])
    topics = Topics(settings.mqtt.topic_prefix)
    topic = f"{settings.mqtt.topic_prefix}/text/mode"
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        await probe.publish(topic, "1.5")
        await wait_for_state(probe, topics, lambda s: s["written"] >= 1 and s["lag_s"] == 0)
        await probe.publish(topic, "heating")  # a string where InfluxDB already has floats: field type conflict
        await wait_for_state(probe, topics, lambda s: s["rejected"] == 1 and s["lag_s"] == 0)
        await probe.publish(topic, "2.5")
        state = await wait_for_state(probe, topics, lambda s: s["lag_s"] == 0 and s["received"] >= 4)
    assert state["rejected"] == 1
    assert state["spooled"] == 0
    rows = influx.rows("SELECT value FROM mqtt WHERE \"name\" = 'mode'", DATABASE)
    assert [row["value"] for row in rows] == [1.5, 2.5]


async def test_the_spool_drains_as_soon_as_influxdb_answers_again(
    probe: MqttProbe, influx: InfluxServer, influx1_config, recorder_settings
):
    # Before: tries 0.2, 0.6, 1.4, 3.0, 6.2 and 12.6 s after the first failure: back after 6.5 s, it waited 6 s more.
    settings = recorder_settings(influx1_config, retry_min_s=0.2, retry_max_s=30)
    topics = Topics(settings.mqtt.topic_prefix)
    topic = f"{settings.mqtt.topic_prefix}/drain/seq"
    async with service_running(run, settings):
        await wait_for_state(probe, topics, lambda s: True)
        influx.stop()
        outage = time.monotonic()
        for seq in range(2000):
            await probe.publish(topic, json.dumps({"seq": seq}), qos=0)
        await wait_for_state(probe, topics, lambda s: s["spooled"] >= 2000)
        await asyncio.sleep(max(0.0, outage + 6.5 - time.monotonic()))  # the outage's length, not synchronisation
        await asyncio.to_thread(influx.start)
        answered = time.monotonic()
        await wait_for_state(probe, topics, lambda s: s["spooled"] == 0)
        drained_s = time.monotonic() - answered
    print(f"2000 spooled points drained {drained_s:.2f} s after InfluxDB answered again")
    assert drained_s < 2  # a try every 0.2 s, a write, the next state (every 0.5 s)
    assert sequence_counts(influx, topic) == dict.fromkeys(range(2000), 1)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
async def test_http_requests_are_logged_only_at_debug(
    probe: MqttProbe, influx1_config, recorder_settings, caplog, log_level
):
    settings = recorder_settings(influx1_config).model_copy(update={"log_level": log_level})
    topics = Topics(settings.mqtt.topic_prefix)
    caplog.set_level(logging.DEBUG)
    try:
        async with service_running(run, settings):
            await wait_for_state(probe, topics, lambda s: True)
            await probe.publish(f"{settings.mqtt.topic_prefix}/logs/value", "1")
            await wait_for_state(probe, topics, lambda s: s["written"] >= 1)
    finally:
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    requests = [record for record in caplog.records if record.name == "httpx"]
    assert bool(requests) == (log_level == "DEBUG")
