"""The MQTT driver against a real Mosquitto, subscribing through the service's MqttBus."""

import asyncio
import contextlib
import json

import pytest

from zeropower.meter.drivers.mqtt import MqttMeter, MqttMeterConfig
from zeropower.shared.mqtt import MqttBus


@contextlib.asynccontextmanager
async def listening(mqtt_settings, stale_after_s=10.0, **config):
    bus = MqttBus(mqtt_settings, client_id="meter-test", availability_topic=f"{mqtt_settings.topic_prefix}/avail")
    meter = MqttMeter(MqttMeterConfig(type="mqtt", **config), bus, stale_after_s)
    readings = asyncio.Queue()
    stop = asyncio.Event()
    meter_task = asyncio.create_task(meter.run(readings.put, stop))  # subscribes before the bus connects
    bus_task = asyncio.create_task(bus.run(stop))
    try:
        await asyncio.wait_for(bus.connected.wait(), 5)
        yield readings
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(meter_task, bus_task), 5)


async def next_reading(readings):
    return await asyncio.wait_for(readings.get(), 5)


async def test_bare_number(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/shellies/em/emeter/0/power"
    async with listening(mqtt_settings, topic=topic) as readings:
        await probe.publish(topic, "-312.4")
        reading = await next_reading(readings)
        assert reading.power_w == -312.4
        assert reading.error is None


async def test_tasmota_sensor_json_with_key_path(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/tele/reader/SENSOR"
    async with listening(mqtt_settings, topic=topic, path="SML/curr_w") as readings:
        await probe.publish(topic, json.dumps({"Time": "2023-02-28T12:49:49", "SML": {"curr_w": -71}}))
        assert (await next_reading(readings)).power_w == -71


async def test_kilowatts_inverted(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/p"
    async with listening(mqtt_settings, topic=topic, unit="kW", invert=True) as readings:
        await probe.publish(topic, "0.5")
        assert (await next_reading(readings)).power_w == -500


async def test_import_minus_export_in_one_payload(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/tele/reader/SENSOR"
    async with listening(mqtt_settings, topic=topic, path="SML/in", export_path="SML/out") as readings:
        await probe.publish(topic, json.dumps({"SML": {"in": 0, "out": 312}}))
        assert (await next_reading(readings)).power_w == -312


async def test_import_minus_export_on_two_topics(mqtt_settings, probe):
    import_topic = f"{mqtt_settings.topic_prefix}/in"
    export_topic = f"{mqtt_settings.topic_prefix}/out"
    async with listening(mqtt_settings, topic=import_topic, export_topic=export_topic) as readings:
        await probe.publish(import_topic, "500")
        first = await next_reading(readings)
        assert first.power_w is None
        assert first.error == f"no valid export value on {export_topic} yet"
        await probe.publish(export_topic, "200")
        assert (await next_reading(readings)).power_w == 300
        await probe.publish(import_topic, "0")
        assert (await next_reading(readings)).power_w == -200


async def test_stale_export_value_is_not_used(mqtt_settings, probe):
    import_topic = f"{mqtt_settings.topic_prefix}/in"
    export_topic = f"{mqtt_settings.topic_prefix}/out"
    config = {"topic": import_topic, "export_topic": export_topic}
    async with listening(mqtt_settings, stale_after_s=0.2, **config) as readings:
        await probe.publish(export_topic, "200")
        await next_reading(readings)
        await asyncio.sleep(0.3)  # let the export value age past stale_after_s
        await probe.publish(import_topic, "500")
        reading = await next_reading(readings)
        assert reading.power_w is None
        assert reading.error == f"the export value on {export_topic} is older than 0.2 s"


@pytest.mark.parametrize(
    ("path", "payload", "error"),
    [
        ("", "abc", "{topic} is 'abc', not a number"),
        ("", "", "{topic} is '', not a number"),
        ("", "NaN", "{topic} is 'NaN', not a finite number"),
        ("SML/curr_w", "-71", "{topic}: cannot look up 'SML': the top level is int -71"),
        ("SML/curr_w", "{not json", "{topic}: payload is not JSON: '{{not json'"),
        ("SML/curr_w", '{"SML": {}}', "{topic}: no key 'curr_w' at SML (keys there: none)"),
        ("SML/curr_w", '{"SML": {"curr_w": null}}', "{topic} SML/curr_w is missing (null), not a number"),
    ],
)
async def test_bad_payloads_become_missing_readings(mqtt_settings, probe, path, payload, error):
    topic = f"{mqtt_settings.topic_prefix}/p"
    async with listening(mqtt_settings, topic=topic, path=path) as readings:
        await probe.publish(topic, payload)
        reading = await next_reading(readings)
        assert reading.power_w is None
        assert reading.error == error.format(topic=topic)
        await probe.publish(topic, json.dumps({"SML": {"curr_w": 5}}) if path else "5")
        assert (await next_reading(readings)).power_w == 5


async def test_retained_values_are_skipped(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/p"
    await probe.publish(topic, "1000", retain=True)  # possibly hours old
    async with listening(mqtt_settings, topic=topic) as readings:
        await probe.publish(topic, "42")
        assert (await next_reading(readings)).power_w == 42
        assert readings.empty()


def test_wildcards_are_refused():
    with pytest.raises(ValueError, match="topic"):
        MqttMeterConfig(type="mqtt", topic="tele/+/SENSOR")
