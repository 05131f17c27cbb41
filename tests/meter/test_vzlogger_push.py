"""The vzlogger push driver: real line protocol POSTed with httpx to the service's own HTTP server."""

import asyncio
import contextlib
import logging
import socket

import httpx
import pytest

from tests.helpers import wait_until
from zeropower.meter.drivers import vzlogger_push
from zeropower.meter.drivers.vzlogger_push import VzloggerPushConfig, VzloggerPushMeter
from zeropower.meter.reading import MeterError
from zeropower.sim.broker import free_port

UUID = "007aeef0-4c7e-11e3-b9e4-7b5a8a2b0e6a"


@contextlib.asynccontextmanager
async def running(**config):
    settings = VzloggerPushConfig(
        type="vzlogger_push", listen_host="127.0.0.1", listen_port=free_port(), measurement="leistung", **config
    )
    meter = VzloggerPushMeter(settings)
    readings = asyncio.Queue()
    stop = asyncio.Event()
    task = asyncio.create_task(meter.run(readings.put, stop))
    try:
        await asyncio.wait_for(meter.listening.wait(), 5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.listen_port}") as client:
            yield client, readings, meter
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def next_reading(readings):
    return await asyncio.wait_for(readings.get(), 5)


async def test_vzlogger_line_as_sent_by_its_influxdb_api():
    async with running(uuid=UUID) as (client, readings, _):
        response = await client.post(
            "/write",
            params={"db": "vzlogger", "precision": "ms"},
            content=f"leistung,uuid={UUID} value=-312.400000 1700000000123\n",
        )
        assert response.status_code == 204
        reading = await next_reading(readings)
        assert reading.power_w == -312.4
        assert reading.timestamp == pytest.approx(1700000000.123)
        assert reading.device_time.value == reading.timestamp  # watched for change by the service


async def test_newest_line_of_a_batch_wins_and_others_are_filtered():
    body = "\n".join(
        [
            f"leistung,uuid={UUID} value=100.0 1700000002000",
            f"leistung,uuid={UUID} value=300.0 1700000003000",
            f"leistung,uuid={UUID} value=200.0 1700000001000",
            "leistung,uuid=other value=999.0 1700000009000",
            f"zaehlerstand,uuid={UUID} value=15011575.0 1700000009000",
        ]
    )
    async with running(uuid=UUID) as (client, readings, _):
        response = await client.post("/write?db=vzlogger&precision=ms", content=body)
        assert response.status_code == 204
        reading = await next_reading(readings)
        assert (reading.power_w, reading.timestamp) == (300.0, 1700000003.0)


async def test_requests_without_a_matching_line_deliver_nothing():
    async with running(uuid=UUID) as (client, readings, _):
        assert (await client.post("/write?db=x&precision=ms", content="other value=1 1")).status_code == 204
        await client.post("/write?db=x&precision=ms", content=f"leistung,uuid={UUID} value=5 1700000000000")
        assert (await next_reading(readings)).power_w == 5  # the first request delivered nothing
        assert readings.empty()


async def test_without_uuid_filter_and_without_send_uuid():
    async with running() as (client, readings, _):
        response = await client.post("/api/v2/write?org=home&bucket=vz&precision=ms", content="leistung value=-71.5")
        assert response.status_code == 204
        reading = await next_reading(readings)
        assert (reading.power_w, reading.timestamp, reading.device_time) == (-71.5, None, None)  # time of arrival


async def test_default_precision_is_nanoseconds():
    async with running() as (client, readings, _):
        await client.post("/write?db=vzlogger", content="leistung value=1 1700000000000000000")
        assert (await next_reading(readings)).timestamp == 1700000000.0


@pytest.mark.parametrize(
    ("body", "query", "error"),
    [
        ("leistung value=nan 1700000000123", "precision=ms", "line 1 is not line protocol"),
        ("leistung value=1 1\nnot line protocol at all", "precision=ms", "line 2 is not line protocol"),
        ('leistung value="abc" 1700000000123', "precision=ms", "line 1 value is 'abc', not a number"),
        ("leistung value=t 1700000000123", "precision=ms", "line 1 value is a bool, not a number"),
        ("leistung power=1 1700000000123", "precision=ms", "line 1 has no field 'value'"),
        ("leistung value=1 1", "precision=fortnights", "unknown precision 'fortnights'"),
    ],
)
async def test_bad_requests_get_400_and_a_missing_reading(body, query, error):
    async with running() as (client, readings, _):
        response = await client.post(f"/write?db=vzlogger&{query}", content=body)
        assert response.status_code == 400
        assert error in response.json()["error"]
        reading = await next_reading(readings)
        assert isinstance(reading, MeterError)
        assert error in str(reading)
        response = await client.post("/write?db=vzlogger&precision=ms", content="leistung value=2 1700000000123")
        assert response.status_code == 204  # the server carries on
        assert (await next_reading(readings)).power_w == 2


async def test_binary_garbage_is_a_bad_request():
    async with running() as (client, readings, _):
        response = await client.post("/write?db=vzlogger", content=b"\xff\xfe\x00")
        assert response.status_code == 400
        assert "can't decode" in str(await next_reading(readings))


async def test_port_in_use_is_retried(monkeypatch, caplog):
    monkeypatch.setattr(vzlogger_push, "_BIND_RETRY_S", 0.05)
    caplog.set_level(logging.WARNING)
    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    meter = VzloggerPushMeter(
        VzloggerPushConfig(type="vzlogger_push", listen_host="127.0.0.1", listen_port=port, measurement="m")
    )
    stop = asyncio.Event()
    task = asyncio.create_task(meter.run(asyncio.Queue().put, stop))
    try:
        await wait_until(lambda: any("retrying" in r.getMessage() for r in caplog.records), timeout=5)
        blocker.close()
        await asyncio.wait_for(meter.listening.wait(), 5)
    finally:
        blocker.close()
        stop.set()
        await asyncio.wait_for(task, 5)
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 1
