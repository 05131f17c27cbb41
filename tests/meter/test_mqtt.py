"""The MQTT driver against a real Mosquitto, subscribing through the service's MqttBus."""

import asyncio
import contextlib
import json
import time

import pytest

from zeropower.meter.drivers import mqtt as mqtt_driver
from zeropower.meter.drivers.mqtt import MqttMeter, MqttMeterConfig
from zeropower.meter.gate import ReadingGate
from zeropower.shared.mqtt import MqttBus


@contextlib.asynccontextmanager
async def listening(mqtt_settings, stale_after_s=10.0, **config):
    """The driver as the service runs it: every result through the gate, what is published queued."""
    bus = MqttBus(mqtt_settings, client_id="meter-test", availability_topic=f"{mqtt_settings.topic_prefix}/avail")
    meter = MqttMeter(MqttMeterConfig(type="mqtt", **config), bus, stale_after_s)
    gate = ReadingGate(
        meter.description,
        max_power_w=50_000,
        stale_after_s=stale_after_s,
        netted_counters=meter.netted_counters,
        energy_max_gap_s=stale_after_s,
    )
    readings = asyncio.Queue()

    async def deliver(result):
        reading = gate.judge(result, time.time())
        if reading is not None:
            await readings.put(reading)

    stop = asyncio.Event()
    meter_task = asyncio.create_task(meter.run(deliver, stop))  # subscribes before the bus connects
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
        ("", "NaN", "{topic} is 'NaN', not a number"),
        ("", "1_2_3", "{topic} is '1_2_3', not a number"),
        ("", "1e308", "{topic} is '1e308', not a number"),
        ("SML/curr_w", '{"SML": {"curr_w": 1e308}}', "grid power 1e+308 W is outside the plausible range ±50000 W"),
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
        assert reading.error.startswith(error.format(topic=topic))
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


class WallClockJump:
    """The ``time`` module as the driver sees it, with a wall clock one hour ahead (an NTP step)."""

    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def time():
        return time.time() + 3600


async def test_value_ages_use_the_monotonic_clock_not_the_wall_clock(mqtt_settings, probe, monkeypatch):
    import_topic = f"{mqtt_settings.topic_prefix}/in"
    export_topic = f"{mqtt_settings.topic_prefix}/out"
    async with listening(mqtt_settings, topic=import_topic, export_topic=export_topic) as readings:
        await probe.publish(export_topic, "200")
        await next_reading(readings)
        monkeypatch.setattr(mqtt_driver, "time", WallClockJump)  # the wall clock steps an hour ahead
        await probe.publish(import_topic, "500")
        reading = await next_reading(readings)
    assert (reading.power_w, reading.error) == (300, None)


def tasmota_sensor(time_text, power):
    return json.dumps({"Time": time_text, "SML": {"curr_w": power}})


async def test_device_time_must_advance(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/tele/reader/SENSOR"
    config = {"topic": topic, "path": "SML/curr_w", "time_path": "Time"}
    async with listening(mqtt_settings, **config) as readings:
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:49", -71))
        first = await next_reading(readings)
        assert first.power_w is None  # an hour-old message could be the first one
        assert first.error == "waiting for the device time to advance (it shows 2023-02-28T12:49:49)"
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:49", -71))
        assert (await next_reading(readings)).error == first.error  # the same again: still waiting
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:59", -80))
        reading = await next_reading(readings)
        assert (reading.power_w, reading.error) == (-80, None)
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:39", -90))  # clock stepped back: news too
        assert (await next_reading(readings)).power_w == -90
        await probe.publish(topic, tasmota_sensor(1677588600123, -95))  # Unix ms works as well
        assert (await next_reading(readings)).power_w == -95


async def test_frozen_device_time_is_a_missing_reading(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/tele/reader/SENSOR"
    config = {"topic": topic, "path": "SML/curr_w", "time_path": "Time"}
    async with listening(mqtt_settings, stale_after_s=0.2, **config) as readings:
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:49", -71))
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:50", -71))
        await next_reading(readings)
        assert (await next_reading(readings)).power_w == -71
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:50", -71))  # a repeat: nothing published
        await asyncio.sleep(0.3)  # the device repeats its last message past stale_after_s
        await probe.publish(topic, tasmota_sensor("2023-02-28T12:49:50", -71))
        reading = await next_reading(readings)
    assert reading.power_w is None
    assert reading.error.startswith("the meter's value is frozen: its device time has stayed at 2023-02-28T12:49:50")
    assert reading.error.endswith("(meter.stale_after_s is 0.2 s)")


async def test_unreadable_device_time_is_a_missing_reading(mqtt_settings, probe):
    topic = f"{mqtt_settings.topic_prefix}/p"
    async with listening(mqtt_settings, topic=topic, path="p", time_path="t") as readings:
        await probe.publish(topic, json.dumps({"p": 5, "t": "soon"}))
        reading = await next_reading(readings)
    assert reading.error == f"{topic} t is 'soon', not an ISO 8601 time"


def test_time_path_needs_a_json_payload():
    with pytest.raises(ValueError, match="time_path needs a JSON payload"):
        MqttMeterConfig(type="mqtt", topic="p", time_path="Time")
