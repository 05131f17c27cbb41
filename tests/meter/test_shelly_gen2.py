"""The Shelly Gen2 driver against a local RPC server, including real SHA-256 digest authentication."""

import asyncio
import contextlib

import pytest
from aiohttp import web

from tests.helpers import wait_until
from tests.meter.conftest import DigestGuard, checked
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config, ShellyGen2Meter
from zeropower.meter.reading import MeterError

PRO_3EM = {
    "id": 0,
    "a_act_power": 375.5,
    "a_current": 2.392,
    "a_voltage": 229.0,
    "a_pf": 0.76,
    "a_freq": 50.0,
    "b_act_power": 100.0,
    "b_current": 0.5,
    "b_voltage": 230.0,
    "b_pf": 0.9,
    "c_act_power": 83.465,
    "c_current": 0.964,
    "c_voltage": 231.0,
    "c_pf": 0.5,
    "total_act_power": 558.965,
    "total_aprt_power": 882.413,
    "total_current": 3.856,
}
PRO_EM_CHANNEL_1 = {"id": 1, "current": 1.473, "voltage": 226.9, "act_power": -332.2, "aprt_power": 335, "pf": 0.99}
PRO_EM_DATA_1 = {"id": 1, "total_act_energy": 6644.9, "total_act_ret_energy": 2595.26}


def meter_for(device, http, clock=None, **config):
    settings = ShellyGen2Config(type="shelly_gen2", url=device.url, **config)
    if clock is None:
        return ShellyGen2Meter(settings, http, timeout_s=2)
    return ShellyGen2Meter(settings, http, timeout_s=2, clock=clock)


@contextlib.asynccontextmanager
async def counting(meter):
    """The meter with its background counter reads running."""
    stop = asyncio.Event()
    task = asyncio.create_task(meter.background(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def monophase(device, http, clock=None, **config):
    """The Pro EM's channel 1 (EM1 and EM1Data served), the profile whose counters are netted."""
    device.json("/rpc/EM1.GetStatus", PRO_EM_CHANNEL_1)
    return meter_for(device, http, clock, profile="monophase", channel=1, **config)


async def counters_stored(device, method="EM1Data.GetStatus"):
    """Wait until the background has stored its first counters (it asks again only after storing them)."""
    await wait_until(lambda: len(device.seen(f"/rpc/{method}")) >= 2)


async def test_pro_3em_triphase_has_no_netted_counters(device, http):
    """EMData's total_act/total_act_ret sum each phase's own counter: the service integrates the power instead."""
    device.json("/rpc/EM.GetStatus", PRO_3EM)
    meter = meter_for(device, http, energy_interval_s=0.01)
    async with counting(meter):
        reading = checked(await meter.read())
    assert not meter.netted_counters
    assert reading.power_w == 558.965
    assert [p.power_w for p in reading.phases] == [375.5, 100.0, 83.465]
    assert reading.phases[0].current_a == 2.392
    assert reading.phases[2].voltage_v == 231.0
    assert reading.phases[1].power_factor == 0.9
    assert (reading.energy_import_wh, reading.energy_export_wh) == (None, None)
    assert device.seen("/rpc/EM.GetStatus")[-1].query == {"id": "0"}
    assert device.seen("/rpc/EMData.GetStatus") == []


async def test_pro_em_monophase_channel(device, http):
    device.json("/rpc/EM1Data.GetStatus", PRO_EM_DATA_1)
    meter = monophase(device, http, clock=lambda: 0.0, energy_interval_s=0.01)  # the counters never age here
    async with counting(meter):
        await counters_stored(device)
        reading = checked(await meter.read())
    assert meter.netted_counters  # one channel: its counters count the power read
    assert reading.power_w == -332.2
    assert len(reading.phases) == 1
    assert reading.phases[0].current_a == 1.473
    assert reading.energy_import_wh == 6644.9
    assert reading.energy_export_wh == 2595.26
    assert device.seen("/rpc/EM1.GetStatus")[-1].query == {"id": "1"}


async def test_energy_can_be_switched_off(device, http):
    meter = monophase(device, http, energy=False)
    await meter.background(asyncio.Event())  # returns at once
    assert not meter.netted_counters
    assert (await meter.read()).energy_import is None
    assert device.seen("/rpc/EM1Data.GetStatus") == []


async def test_failing_energy_request_keeps_the_power(device, http, caplog):
    device.status("/rpc/EM1Data.GetStatus", 500, '{"code":-105,"message":"Argument id not found"}')
    meter = monophase(device, http, energy_interval_s=0.01)
    async with counting(meter):
        first = await meter.read()
        await wait_until(lambda: len(device.seen("/rpc/EM1Data.GetStatus")) >= 3)
        second = await meter.read()
    assert (first.power_w, first.energy_import) == (-332.2, None)
    assert (second.power_w, second.energy_import) == (-332.2, None)
    warnings = [r for r in caplog.records if "energy counters" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per poll
    assert "HTTP 500" in warnings[0].getMessage()


async def test_power_meter_failure(device, http):
    device.json("/rpc/EM.GetStatus", {**PRO_3EM, "errors": ["power_meter_failure"]})
    with pytest.raises(MeterError, match="EM 0 reports power_meter_failure"):
        await meter_for(device, http, energy=False).read()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('{"id":0,"total_act_power":NaN}', "EM total_act_power is nan, not a finite number"),
        ('{"id":0,"total_act_power":Infinity}', "EM total_act_power is inf, not a finite number"),
        ('{"id":0,"total_act_power":"n/a"}', "EM total_act_power is 'n/a', not a number"),
        ('{"id":0,"total_act_power":true}', "EM total_act_power is a bool, not a number"),
        ('{"id":0}', "no key 'total_act_power'"),
        ("[1,2]", "did not answer an object"),
    ],
)
async def test_bad_payloads(device, http, body, match):
    device.json("/rpc/EM.GetStatus", body)
    with pytest.raises(MeterError, match=match):
        await meter_for(device, http, energy=False).read()


async def test_nan_phase_value_is_left_out(device, http):
    device.json("/rpc/EM.GetStatus", '{"total_act_power": 10.0, "a_act_power": NaN, "a_voltage": 230}')
    reading = await meter_for(device, http, energy=False).read()
    assert reading.power_w == 10.0
    assert reading.phases[0].power_w is None
    assert reading.phases[0].voltage_v == 230


async def test_digest_sha256_authentication(device, http):
    guard = DigestGuard("admin", "s3cret")

    async def status(request: web.Request) -> web.Response:
        return web.json_response(PRO_EM_CHANNEL_1 if request.path.endswith("EM1.GetStatus") else PRO_EM_DATA_1)

    device.route("/rpc/EM1.GetStatus", guard.protect(status))
    device.route("/rpc/EM1Data.GetStatus", guard.protect(status))
    meter = meter_for(
        device, http, lambda: 0.0, profile="monophase", channel=1, password="s3cret", energy_interval_s=0.01
    )
    async with counting(meter):
        await counters_stored(device)
        reading = checked(await meter.read())
    assert reading.power_w == -332.2
    assert reading.energy_import_wh == 6644.9
    assert (await meter.read()).power_w == -332.2


async def test_digest_with_wrong_password_is_401(device, http):
    guard = DigestGuard("admin", "s3cret")

    async def status(_: web.Request) -> web.Response:
        return web.json_response(PRO_3EM)

    device.route("/rpc/EM.GetStatus", guard.protect(status))
    with pytest.raises(MeterError, match=r"HTTP 401 .*EM\.GetStatus \(check user name and password"):
        await meter_for(device, http, password="wrong", energy=False).read()
    with pytest.raises(MeterError, match="HTTP 401"):
        await meter_for(device, http, energy=False).read()  # no password at all


async def test_counters_are_left_out_once_stale(device, http):
    device.json("/rpc/EM1Data.GetStatus", PRO_EM_DATA_1)
    now = [0.0]
    meter = monophase(device, http, clock=lambda: now[0], energy_interval_s=0.01)
    async with counting(meter):
        await counters_stored(device)
    now[0] = 0.02  # twice energy_interval_s after the last answer: still attached
    assert checked(await meter.read()).energy_import_wh == 6644.9
    now[0] = 0.03
    assert (await meter.read()).energy_import is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"total_act_energy": "1e308", "total_act_ret_energy": 1.0},
            "energy counter EM1Data.GetStatus total_act_energy is '1e308'",
        ),
        (
            {"total_act_energy": 1e11, "total_act_ret_energy": 1.0},
            "energy counter EM1Data.GetStatus total_act_energy is 1e+11 Wh",
        ),
        (
            {"total_act_energy": 5.0, "total_act_ret_energy": -1},
            "energy counter EM1Data.GetStatus total_act_ret_energy is -1 Wh",
        ),
    ],
)
async def test_implausible_counters_are_left_out_and_logged(device, http, caplog, data, problem):
    device.json("/rpc/EM1Data.GetStatus", data)
    meter = monophase(device, http, clock=lambda: 0.0, energy_interval_s=0.01)  # the counters never age here
    async with counting(meter):
        await counters_stored(device)
    reading = checked(await meter.read())
    assert (reading.power_w, reading.energy_import_wh, reading.energy_export_wh) == (-332.2, None, None)
    assert [r.getMessage() for r in caplog.records if problem in r.getMessage()]


async def test_a_bug_while_reading_counters_does_not_end_the_background(device, http, caplog, monkeypatch):
    meter = monophase(device, http, energy_interval_s=0.01)

    async def broken(method):
        raise KeyError(method)

    monkeypatch.setattr(meter, "_get", broken)
    async with counting(meter):
        await wait_until(lambda: any("driver error KeyError" in r.getMessage() for r in caplog.records))
