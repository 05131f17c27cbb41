"""The meter service in-process against a local device server and a real Mosquitto; and its command line."""

import asyncio
import contextlib
import itertools
import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest
from aiohttp import web

from tests.helpers import service_running, wait_until
from zeropower.meter.drivers.homeassistant import HomeAssistantConfig
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config
from zeropower.meter.drivers.vzlogger import VzloggerConfig
from zeropower.meter.drivers.vzlogger_push import VzloggerPushConfig
from zeropower.meter.gate import ReadingGate
from zeropower.meter.reading import MeterError, MeterValues
from zeropower.meter.service import ReadingPublisher, poll, read_or_explain, run
from zeropower.meter.settings import MeterServiceSettings, MeterSettings
from zeropower.shared.topics import Topics
from zeropower.sim.broker import free_port

EM_STATUS = {"id": 0, "a_act_power": -100.0, "total_act_power": -300.5}
EM1_STATUS = {"id": 0, "act_power": -300.5, "voltage": 230.0}
EM1_DATA = {"id": 0, "total_act_energy": 1000.0, "total_act_ret_energy": 2000.0}


@contextlib.asynccontextmanager
async def meter_service(mqtt_settings, driver, **meter):
    settings = MeterServiceSettings(mqtt=mqtt_settings, meter=MeterSettings(driver=driver, **meter))
    async with service_running(run, settings):
        yield


def shelly(device):
    return ShellyGen2Config(type="shelly_gen2", url=device.url)


def payload(message):
    return json.loads(message.payload)


def assert_one_at_a_time(device, min_gap_s):
    """Each poll started only after the previous one had finished (answered or timed out)."""
    starts = [request.at for request in device.seen("/rpc/EM.GetStatus")]
    assert len(starts) >= 3
    assert all(later - earlier >= min_gap_s for earlier, later in itertools.pairwise(starts))


async def test_publishes_readings_and_missing_readings_with_the_cause(mqtt_settings, probe, device, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.meter")
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", EM_STATUS)
    async with meter_service(mqtt_settings, shelly(device), poll_interval_s=0.05):
        await probe.wait_for(topics.availability("meter"), lambda m: m.text == "online")
        valid = await probe.wait_for(topics.grid_power())
        assert valid.retain is False
        assert payload(valid)["power_w"] == -300.5
        assert payload(valid)["phases"][0]["power_w"] == -100.0
        exporting = await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["energy_export_wh"] > 0)
        assert payload(exporting)["energy_import_wh"] == 0.0  # integrated: the Pro 3EM's EMData is not netted
        assert device.seen("/rpc/EMData.GetStatus") == []

        device.status("/rpc/EM.GetStatus", 500, "boom")
        missing = await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] is None)
        assert payload(missing)["error"].startswith("HTTP 500 Internal Server Error from http://127.0.0.1:")
        for _ in range(3):  # keeps publishing missing readings while the device fails
            await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] is None)

        device.json("/rpc/EM.GetStatus", {**EM_STATUS, "total_act_power": "NaN"})
        nan = await probe.wait_for_new(topics.grid_power(), lambda m: "nan" in (payload(m)["error"] or "").lower())
        assert payload(nan)["power_w"] is None

        device.json("/rpc/EM.GetStatus", EM_STATUS)
        await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] == -300.5)
    await probe.wait_for(topics.availability("meter"), lambda m: m.text == "offline")
    exported = [payload(m)["energy_export_wh"] for m in probe.on(topics.grid_power()) if payload(m)["power_w"]]
    assert exported == sorted(exported)  # never backwards, across the missing readings
    assert "energy counters (netted across phases): the integral of grid power since start" in caplog.text

    messages = [r.getMessage() for r in caplog.records if r.name == "zeropower.meter"]
    assert len([m for m in messages if "HTTP 500" in m]) == 1  # once, not per poll
    assert not [m for m in messages if "nan" in m or "recovered" in m]  # rate-limited: one line per minute


async def test_a_slow_meter_does_not_pile_up_requests(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", EM_STATUS, delay_s=0.3)
    async with meter_service(mqtt_settings, shelly(device), poll_interval_s=0.05, timeout_s=1.0):
        for _ in range(4):
            await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] == -300.5)
    assert device.max_in_flight == 1
    assert_one_at_a_time(device, min_gap_s=0.3)


async def test_a_hanging_meter_times_out_one_request_at_a_time(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    device.hang("/rpc/EM.GetStatus")
    async with meter_service(mqtt_settings, shelly(device), poll_interval_s=0.05, timeout_s=0.2):
        for _ in range(3):
            message = await probe.wait_for_new(topics.grid_power())
            assert payload(message)["power_w"] is None
            assert "/rpc/EM.GetStatus within 0.2 s" in payload(message)["error"]
    assert_one_at_a_time(device, min_gap_s=0.2)  # the abandoned requests still hang on the server


async def test_push_meter_silence_is_reported(mqtt_settings, probe, caplog):
    topics = Topics(mqtt_settings.topic_prefix)
    port = free_port()
    driver = VzloggerPushConfig(type="vzlogger_push", listen_host="127.0.0.1", listen_port=port, measurement="grid")
    async with meter_service(mqtt_settings, driver, stale_after_s=0.3):
        silent = await probe.wait_for(topics.grid_power())
        assert payload(silent)["power_w"] is None
        assert payload(silent)["error"] == (
            f"no data from vzlogger push on 127.0.0.1:{port} (measurement 'grid') for over 0.3 s"
        )
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/write?db=vz&precision=ms", content="grid value=-42")
        assert response.status_code == 204
        await probe.wait_for(topics.grid_power(), lambda m: payload(m)["power_w"] == -42)  # published before the 204
        again = await probe.wait_for_new(topics.grid_power())
        assert payload(again)["error"] == payload(silent)["error"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "zeropower.meter" and "no data" in r.getMessage()]
    assert len(warnings) == 1  # not for every repetition, nor again within the minute after the reading


def run_meter_command(tmp_path, env, *arguments):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZEROPOWER_")} | env
    return subprocess.run(
        [sys.executable, "-m", "zeropower.meter", *arguments],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_invalid_environment_exits_2_naming_the_field(tmp_path):
    result = run_meter_command(tmp_path, {"ZEROPOWER_METER__POLL_INTERVAL_S": "abc"})
    assert result.returncode == 2
    assert "meter.poll_interval_s: Input should be a valid number" in result.stderr


def test_unknown_key_in_yaml_exits_2_naming_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("meter:\n  driver:\n    type: shelly_gen2\n    url: http://192.168.1.50\n    pasword: x\n")
    result = run_meter_command(tmp_path, {}, "--config", str(config))
    assert result.returncode == 2
    assert "meter.driver.shelly_gen2.pasword: Extra inputs are not permitted" in result.stderr


class SlowMeter:
    """A meter whose every read takes ``duration_s``; it records when reads start."""

    description = "slow test meter"

    def __init__(self, duration_s):
        self.duration_s = duration_s
        self.starts = []

    async def read(self):
        self.starts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.duration_s)  # the meter is slow (simulation, not synchronisation)
        return MeterValues(power_w=1.0)


async def test_polls_start_on_interval_ticks_and_skip_the_missed_ones():
    meter = SlowMeter(duration_s=0.5)
    readings = asyncio.Queue()

    async def deliver(result, requested_at):
        await readings.put((result, requested_at))

    stop = asyncio.Event()
    task = asyncio.create_task(poll(meter, deliver, 0.2, stop))
    for _ in range(4):
        await asyncio.wait_for(readings.get(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    offsets = [start - meter.starts[0] for start in meter.starts[:4]]
    # a read of 0.5 s misses two ticks of 0.2 s: the next one starts on the third (0.6), not at once (0.5)
    # nor a full interval after the read (0.7)
    assert offsets == pytest.approx([0.0, 0.6, 1.2, 1.8], abs=0.07)


class BrokenMeter:
    """A meter with a bug: it raises something that is not a MeterError."""

    description = "broken test meter"

    async def read(self):
        raise KeyError("oops")


async def test_a_driver_bug_costs_a_reading_not_the_service():
    result = await read_or_explain(BrokenMeter())
    assert isinstance(result, MeterError)
    assert str(result) == "driver error KeyError: 'oops'"


async def test_stops_at_once_even_while_a_read_hangs(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    device.hang("/rpc/EM.GetStatus")
    settings = MeterServiceSettings(mqtt=mqtt_settings, meter=MeterSettings(driver=shelly(device), timeout_s=30))
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    await probe.wait_for(topics.availability("meter"), lambda m: m.text == "online")
    await wait_until(lambda: device.in_flight == 1)
    started = asyncio.get_running_loop().time()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert asyncio.get_running_loop().time() - started < 1.0
    await probe.wait_for(topics.availability("meter"), lambda m: m.text == "offline")


@pytest.mark.parametrize(
    ("total_act_power", "error"),
    [
        ('"1e308"', "EM total_act_power is '1e308', not a number"),
        ('"1_2_3"', "EM total_act_power is '1_2_3', not a number"),  # float() reads 123
        ("1e308", None),
        ("-60000", None),
    ],
)
async def test_implausible_power_is_never_published_as_a_number(mqtt_settings, probe, device, total_act_power, error):
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", f'{{"id": 0, "total_act_power": {total_act_power}}}')
    driver = ShellyGen2Config(type="shelly_gen2", url=device.url, energy=False)
    async with meter_service(mqtt_settings, driver, poll_interval_s=0.05):
        message = await probe.wait_for(topics.grid_power())
    reading = payload(message)
    assert reading["power_w"] is None
    expected = error or (
        f"grid power {float(total_act_power):g} W is outside the plausible range ±50000 W (meter.max_power_w)"
    )
    assert reading["error"] == expected


def vzlogger_answer(tuple_ms, value=-312.4):
    return {
        "version": "0.8.2",
        "generator": "vzlogger",
        "data": [{"uuid": "u1", "last": tuple_ms, "interval": -1, "protocol": "sml", "tuples": [[tuple_ms, value]]}],
    }


async def test_vzlogger_serving_its_last_tuple_forever_is_frozen(mqtt_settings, probe, device):
    """vzlogger's "buffer": -1 serves the newest tuple forever: only a tuple time that moves is a reading."""
    topics = Topics(mqtt_settings.topic_prefix)
    hour_old = int((time.time() - 3600) * 1000)
    device.json("/u1", vzlogger_answer(hour_old))
    driver = VzloggerConfig(type="vzlogger", url=device.url, uuid="u1")
    async with meter_service(mqtt_settings, driver, poll_interval_s=0.05, stale_after_s=0.3):
        first = payload(await probe.wait_for(topics.grid_power()))
        assert first["error"].startswith("waiting for the device time to advance (it shows ")
        frozen = payload(await probe.wait_for(topics.grid_power(), lambda m: "frozen" in (payload(m)["error"] or "")))
        assert frozen["error"].startswith("the meter's value is frozen: its device time has stayed at ")
        assert "for at least " in frozen["error"]
        assert all(payload(m)["power_w"] is None for m in probe.on(topics.grid_power()))

        device.json("/u1", vzlogger_answer(hour_old + 1000, -100.0))  # vzlogger's meter speaks again
        valid = payload(await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] is not None))
        assert (valid["power_w"], valid["timestamp"]) == (-100.0, (hour_old + 1000) / 1000)
        again = payload(await probe.wait_for_new(topics.grid_power()))  # the very next message
        assert again["error"].startswith("the meter's value is frozen")  # the repeats in between were skipped


async def test_a_home_assistant_sensor_reported_months_ago_is_frozen(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    state = {
        "entity_id": "sensor.grid_power",
        "state": "-71",
        "attributes": {"unit_of_measurement": "W"},
        "last_changed": "2025-06-01T10:00:00+00:00",
        "last_reported": "2025-06-01T10:00:00+00:00",
        "last_updated": "2025-06-01T10:00:00+00:00",
    }
    device.json("/api/states/sensor.grid_power", state)
    driver = HomeAssistantConfig(type="homeassistant", url=device.url, entity_id="sensor.grid_power", token="t")
    async with meter_service(mqtt_settings, driver, poll_interval_s=0.05, stale_after_s=0.2):
        frozen = await probe.wait_for(topics.grid_power(), lambda m: "frozen" in (payload(m)["error"] or ""))
    assert "its device time has stayed at 2025-06-01T10:00:00+00:00 for at least" in payload(frozen)["error"]
    assert all(payload(m)["power_w"] is None for m in probe.on(topics.grid_power()))


async def test_slow_counters_never_delay_the_power_and_readings_carry_the_request_time(mqtt_settings, probe, device):
    """A Pro EM that answers in 0.3 s (counters in 1 s): a reading every ~0.3 s, stamped when it was asked."""
    topics = Topics(mqtt_settings.topic_prefix)
    asked_at = []

    async def slow_status(_):
        asked_at.append(time.time())
        await asyncio.sleep(0.3)  # the device is slow (simulation, not synchronisation)
        return web.json_response(EM1_STATUS)

    device.route("/rpc/EM1.GetStatus", slow_status)
    device.json("/rpc/EM1Data.GetStatus", EM1_DATA, delay_s=1.0)
    driver = ShellyGen2Config(type="shelly_gen2", url=device.url, profile="monophase")
    async with meter_service(mqtt_settings, driver, poll_interval_s=0.05):
        for _ in range(6):
            await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["power_w"] == -300.5)
        counted = await probe.wait_for_new(topics.grid_power(), lambda m: payload(m)["energy_import_wh"] is not None)
        assert (payload(counted)["energy_import_wh"], payload(counted)["energy_export_wh"]) == (1000.0, 2000.0)
    stamps = [payload(m)["timestamp"] for m in probe.on(topics.grid_power())]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert max(gaps) < 0.6  # not 0.3 + 1.0 s per reading
    for stamp in stamps:  # the time the request was sent, not the time the answer came
        assert min(abs(stamp - asked) for asked in asked_at) < 0.05


class RecordingBus:
    def __init__(self):
        self.published = []

    async def publish(self, topic, payload):
        self.published.append((topic, payload))


async def test_a_bug_in_the_checks_costs_a_reading_not_the_service():
    bus = RecordingBus()
    gate = ReadingGate("test meter", max_power_w=50_000, stale_after_s=10, netted_counters=True, energy_max_gap_s=10)
    publisher = ReadingPublisher(bus, "zp/meter/grid", "test meter", gate)
    await publisher.publish(MeterValues(power_w=1.0, phases=None), requested_at=1765000000.0)
    [(topic, reading)] = bus.published
    assert (topic, reading.power_w, reading.timestamp) == ("zp/meter/grid", None, 1765000000.0)
    assert reading.error == "meter service error TypeError: object of type 'NoneType' has no len()"
