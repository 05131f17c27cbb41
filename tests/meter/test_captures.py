"""Every driver against payloads captured from real devices and firmware sources (files in captures/).

Sources (facts taken, payloads stored as the devices sent them; some keys trimmed):
- Shelly Pro 3EM, triphase: home-assistant-libs/aioshelly,
  ``fixtures/gen2_Shelly Pro 3EM_SPEM-003CEBEU_20231219-134001-1.1.0-g34b5d4f.json`` (commit 75b7e94aa582),
  its ``status["em:0"]`` and ``status["emdata:0"]`` (what EM.GetStatus / EMData.GetStatus answer).
- Shelly Pro 3EM, monophase: evcc-io/evcc ``meter/shelly/types_test.go`` (commit 06df4ff4a1f5), the
  ``Shelly.GetStatus`` capture with ``em1:0..2`` and ``em1data:0..2`` (sys/wifi keys trimmed).
- Shelly EM (Gen1) ``/status``: evcc-io/evcc ``meter/shelly/types_test.go`` (commit 06df4ff4a1f5).
- Tasmota SML ``Status 10``: evcc-io/evcc ``meter/tasmota/types_test.go`` (commit 104dd3bc5b16), from evcc
  issue 3787; the same object is what ``tele/<topic>/SENSOR`` carries over MQTT.
- vzlogger local server: fracbar/venus.dbus-vzlogger ``README.md`` (commit 37ba44b4ce52, "an example of my
  response", vzlogger 0.8.2); its layout is volkszaehler/vzlogger ``src/local.cpp`` (commit 2a4d18e4569f:
  ``last`` and tuple times in ms, ``tuples`` left out while the buffer is empty).
- vzlogger push: volkszaehler/vzlogger ``src/api/InfluxDB.cpp`` (commit 2a4d18e4569f) builds each line as
  ``<measurement_name>[,uuid=<uuid>] value=<%f with 6 decimals> <time_ms>`` and POSTs it to
  ``/write?db=<database>&precision=ms`` (``/api/v2/write?org=..&bucket=..`` with an organization).
- Home Assistant ``GET /api/states/<entity_id>``: the state object of home-assistant/core
  ``homeassistant/core.py`` ``State._as_dict`` (commit 54eadbd5d6d1: entity_id, state, attributes,
  last_changed, last_reported, last_updated, context), as documented in home-assistant/developers.home-assistant
  ``docs/api/rest.md`` (commit 008791bdc560); the values below are a power sensor's.
"""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_until
from tests.meter.conftest import checked
from tests.meter.test_mqtt import listening, next_reading
from zeropower.meter.drivers.homeassistant import HomeAssistantConfig, HomeAssistantMeter
from zeropower.meter.drivers.http_json import HttpJsonConfig, HttpJsonMeter
from zeropower.meter.drivers.shelly_gen1 import ShellyGen1Config, ShellyGen1Meter
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config, ShellyGen2Meter
from zeropower.meter.drivers.tasmota import TasmotaConfig, TasmotaMeter
from zeropower.meter.drivers.vzlogger import VzloggerConfig, VzloggerMeter
from zeropower.meter.drivers.vzlogger_push import VzloggerPushConfig, VzloggerPushMeter
from zeropower.sim.broker import free_port

CAPTURES = Path(__file__).parent / "captures"


def capture(name):
    return json.loads((CAPTURES / name).read_text())


async def test_shelly_pro_3em_triphase(device, http):
    device.json("/rpc/EM.GetStatus", capture("shelly_pro_3em_em_status.json"))
    config = ShellyGen2Config(type="shelly_gen2", url=device.url, energy_interval_s=0.01)
    meter = ShellyGen2Meter(config, http, timeout_s=2)
    await meter.background(asyncio.Event())  # returns at once: the triphase counters are not netted
    reading = checked(await meter.read())
    assert reading.power_w == 558.965
    assert [(p.power_w, p.voltage_v, p.current_a, p.power_factor) for p in reading.phases] == [
        (375.5, 229.0, 2.392, 0.76),
        (170.8, 229.0, 1.037, 0.78),
        (12.7, 229.2, 0.428, 0.53),
    ]
    assert (reading.energy_import_wh, reading.energy_export_wh) == (None, None)
    assert not meter.netted_counters
    assert device.seen("/rpc/EMData.GetStatus") == []


def test_shelly_pro_3em_emdata_totals_are_the_sums_of_the_phase_counters():
    """Why the triphase counters are not used: the device sums each phase's own counter, it does not net."""
    data = capture("shelly_pro_3em_emdata_status.json")
    for total, phase_key in (("total_act", "total_act_energy"), ("total_act_ret", "total_act_ret_energy")):
        assert data[total] == pytest.approx(sum(data[f"{phase}_{phase_key}"] for phase in "abc"), abs=0.02)


@pytest.mark.parametrize(("channel", "power", "energy"), [(0, 598.9, (3458.24, 1605.24)), (1, 0.0, (2768.67, 25.49))])
async def test_shelly_pro_3em_monophase(device, http, channel, power, energy):
    status = capture("shelly_pro_3em_monophase_status.json")
    device.json("/rpc/EM1.GetStatus", status[f"em1:{channel}"])
    device.json("/rpc/EM1Data.GetStatus", status[f"em1data:{channel}"])
    config = ShellyGen2Config(
        type="shelly_gen2", url=device.url, profile="monophase", channel=channel, energy_interval_s=0.01
    )
    meter = ShellyGen2Meter(config, http, timeout_s=2)
    stop = asyncio.Event()
    task = asyncio.create_task(meter.background(stop))
    await wait_until(lambda: len(device.seen("/rpc/EM1Data.GetStatus")) >= 2)
    reading = checked(await meter.read())
    stop.set()
    await task
    assert reading.power_w == power
    assert (reading.energy_import_wh, reading.energy_export_wh) == energy
    assert device.seen("/rpc/EM1.GetStatus")[-1].query == {"id": str(channel)}
    assert meter.netted_counters


async def test_shelly_em_gen1(device, http):
    device.json("/status", capture("shelly_em_gen1_status.json"))
    meter = ShellyGen1Meter(ShellyGen1Config(type="shelly_gen1", url=device.url, channel=0), http, timeout_s=2)
    reading = checked(await meter.read(), requested_at=1765000000.0)
    assert reading.power_w == -620.34
    assert (reading.phases[0].voltage_v, reading.phases[0].power_factor) == (235.68, -0.66)
    assert (reading.energy_import_wh, reading.energy_export_wh) == (401472.9, 653673.7)
    assert meter.netted_counters  # one channel: its counters count the power read
    assert reading.timestamp == 1765000000.0  # not its unixtime 1676110566


async def test_tasmota_sml(device, http):
    device.json("/cm", capture("tasmota_sml_status10.json"))
    meter = TasmotaMeter(TasmotaConfig(type="tasmota", url=device.url, power_key="Power_curr"), http, timeout_s=2)
    assert checked(await meter.read()).power_w == -894
    assert not meter.netted_counters  # no counter keys: the service integrates the power


async def test_tasmota_sml_with_the_meters_own_counters(device, http):
    device.json("/cm", capture("tasmota_sml_status10.json"))
    config = TasmotaConfig(
        type="tasmota",
        url=device.url,
        power_key="Power_curr",
        energy_import_key="Total_in",
        energy_export_key="Total_out",
    )
    meter = TasmotaMeter(config, http, timeout_s=2)
    reading = checked(await meter.read())
    assert reading.power_w == -894
    assert (reading.energy_import_wh, reading.energy_export_wh) == pytest.approx((34_507_476.1, 14_737_142.2))  # kWh
    assert meter.netted_counters  # the utility meter's 1.8.0 / 2.8.0: netted, as billed


async def test_vzlogger_local_server(device, http):
    answer = capture("vzlogger_local.json")
    uuid = answer["data"][0]["uuid"]
    device.json(f"/{uuid}", answer)
    values = await VzloggerMeter(VzloggerConfig(type="vzlogger", url=device.url, uuid=uuid), http, 2).read()
    assert (values.power_w, values.timestamp) == (1212.1, 1689520983.761)
    assert values.device_time.shown == "2023-07-16T15:23:03.761+00:00"


async def test_vzlogger_push_lines_as_its_influxdb_api_writes_them():
    config = VzloggerPushConfig(
        type="vzlogger_push",
        listen_host="127.0.0.1",
        listen_port=free_port(),
        measurement="leistung",
        uuid="5078fef0-fa42-11e7-a3aa-8fcd37e01f0e",
    )
    meter = VzloggerPushMeter(config)
    results = asyncio.Queue()
    stop = asyncio.Event()
    task = asyncio.create_task(meter.run(results.put, stop))
    await asyncio.wait_for(meter.listening.wait(), 5)
    body = (
        "leistung,uuid=5078fef0-fa42-11e7-a3aa-8fcd37e01f0e value=-312.400000 1689520983761\n"
        "leistung,uuid=5078fef0-fa42-11e7-a3aa-8fcd37e01f0e value=-305.100000 1689520985761\n"
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://127.0.0.1:{config.listen_port}/write?db=vzlogger&precision=ms", content=body
        )
    values = await asyncio.wait_for(results.get(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert response.status_code == 204
    assert (values.power_w, values.timestamp) == (-305.1, 1689520985.761)


async def test_home_assistant_state_object(device, http):
    device.json(
        "/api/states/sensor.grid_power",
        {
            "entity_id": "sensor.grid_power",
            "state": "-0.412",
            "attributes": {
                "state_class": "measurement",
                "unit_of_measurement": "kW",
                "device_class": "power",
                "friendly_name": "Grid power",
            },
            "last_changed": "2025-05-29T18:02:18.640400+00:00",
            "last_reported": "2025-05-29T18:02:21.640400+00:00",
            "last_updated": "2025-05-29T18:02:18.640400+00:00",
            "context": {"id": "01JWEKB3HCHWJY34EHAARM9ZBN", "parent_id": None, "user_id": None},
        },
    )
    config = HomeAssistantConfig(type="homeassistant", url=device.url, entity_id="sensor.grid_power", token="t")
    values = await HomeAssistantMeter(config, http, timeout_s=2).read()
    assert values.power_w == pytest.approx(-412.0)
    assert values.timestamp == pytest.approx(1748541741.6404)  # last_reported
    assert values.device_time.shown == "2025-05-29T18:02:21.640400+00:00"


@pytest.mark.parametrize(
    ("capture_name", "path", "expected"),
    [
        ("shelly_em_gen1_status.json", "emeters/0/power", -620.34),  # a Shelly Gen1 channel
        ("shelly_pro_3em_em_status.json", "total_act_power", 558.965),
        ("tasmota_sml_status10.json", "StatusSNS.SML.Power_curr", -894),
    ],
)
async def test_http_json(device, http, capture_name, path, expected):
    device.json("/json", capture(capture_name))
    meter = HttpJsonMeter(HttpJsonConfig(type="http_json", url=f"{device.url}/json", path=path), http, timeout_s=2)
    assert checked(await meter.read()).power_w == expected


async def test_mqtt_tasmota_sensor_and_shelly_gen1_number(mqtt_settings, probe):
    tasmota_topic = f"{mqtt_settings.topic_prefix}/tele/reader/SENSOR"
    sensor = capture("tasmota_sml_status10.json")["StatusSNS"]
    config = {"topic": tasmota_topic, "path": "SML/Power_curr", "time_path": "Time"}
    async with listening(mqtt_settings, **config) as readings:
        await probe.publish(tasmota_topic, json.dumps(sensor))
        assert (
            await next_reading(readings)
        ).error == "waiting for the device time to advance (it shows 2022-07-07T13:01:11)"
        await probe.publish(tasmota_topic, json.dumps(sensor | {"Time": "2022-07-07T13:01:21"}))
        assert (await next_reading(readings)).power_w == -894
    shelly_topic = f"{mqtt_settings.topic_prefix}/shellies/shellyem-C45BXXXXX/emeter/0/power"
    async with listening(mqtt_settings, topic=shelly_topic) as readings:
        await probe.publish(shelly_topic, "-620.34")
        reading = await next_reading(readings)
    assert reading.power_w == -620.34
    assert abs(reading.timestamp - time.time()) < 5  # no device time: the time of arrival
