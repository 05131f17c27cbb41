"""The Shelly Gen1 driver against a local server serving /status like a 3EM or EM."""

import pytest

from tests.meter.conftest import basic_auth_of, checked
from zeropower.meter.drivers.shelly_gen1 import ShellyGen1Config, ShellyGen1Meter
from zeropower.meter.reading import MeterError


def emeter(power, *, is_valid=True, total=5.3, total_returned=0.0, current=0.08):
    return {
        "power": power,
        "pf": 1.0,
        "current": current,
        "voltage": 232.06,
        "is_valid": is_valid,
        "total": total,
        "total_returned": total_returned,
    }


def three_em(*emeters, total_power=None, unixtime=1700000000):
    status = {"emeters": list(emeters), "unixtime": unixtime}
    status["total_power"] = total_power if total_power is not None else sum(e["power"] for e in emeters)
    return status


def meter_for(device, http, **config):
    return ShellyGen1Meter(ShellyGen1Config(type="shelly_gen1", url=device.url, **config), http, timeout_s=2)


async def test_3em_total_power_and_phases_without_counters(device, http):
    """Each emeter's total/total_returned counts its own phase: summed, they are not netted, so none are used."""
    device.json(
        "/status",
        three_em(
            emeter(10.66, total=5.3),
            emeter(-200.0, total=100.0, total_returned=50.0),
            emeter(5.0, total=1.0, total_returned=2.0),
            total_power=-184.34,
        ),
    )
    meter = meter_for(device, http)
    reading = checked(await meter.read(), requested_at=1765000000.0)
    assert not meter.netted_counters
    assert reading.power_w == -184.34
    assert [phase.power_w for phase in reading.phases] == [10.66, -200.0, 5.0]
    assert reading.phases[0].voltage_v == 232.06
    assert reading.phases[0].current_a == 0.08
    assert (reading.energy_import_wh, reading.energy_export_wh) == (None, None)
    assert reading.error is None


async def test_unixtime_is_the_device_clock_not_a_measurement_time(device, http):
    """Gen1's unixtime is its clock in whole seconds (possibly wrong): readings carry their request time."""
    device.json("/status", three_em(emeter(1.0), unixtime=1700000000))
    values = await meter_for(device, http).read()
    assert (values.timestamp, values.device_time) == (None, None)
    assert checked(values, requested_at=1765000000.25).timestamp == 1765000000.25


async def test_a_counter_that_is_not_a_plain_number_leaves_both_out(device, http):
    device.json("/status", three_em(emeter(1.0, total="1_000"), emeter(2.0)))
    reading = checked(await meter_for(device, http, channel=0).read())
    assert (reading.power_w, reading.energy_import_wh, reading.energy_export_wh) == (1.0, None, None)


async def test_em_channel_from_real_capture(device, http):
    capture = {
        "power": -620.34,
        "reactive": 714.48,
        "pf": -0.66,
        "voltage": 235.68,
        "is_valid": True,
        "total": 401472.9,
        "total_returned": 653673.7,
    }
    pv_clamp = {**capture, "power": 1500.0}
    device.json("/status", {"emeters": [capture, pv_clamp], "unixtime": 1700000000})
    meter = meter_for(device, http, channel=0)
    reading = checked(await meter.read())
    assert meter.netted_counters  # one channel: its counters count the power read
    assert reading.power_w == -620.34
    assert len(reading.phases) == 1
    assert reading.phases[0].current_a is None  # the EM has no current
    assert reading.energy_import_wh == 401472.9
    assert reading.energy_export_wh == 653673.7


async def test_em_without_channel_says_to_set_one(device, http):
    device.json("/status", {"emeters": [emeter(1.0), emeter(2.0)]})
    with pytest.raises(MeterError, match=r"total_power.*channel"):
        await meter_for(device, http).read()


async def test_channel_out_of_range(device, http):
    device.json("/status", {"emeters": [emeter(1.0), emeter(2.0)]})
    with pytest.raises(MeterError, match="channel 2 does not exist"):
        await meter_for(device, http, channel=2).read()


async def test_is_valid_false_is_never_a_number(device, http):
    device.json("/status", three_em(emeter(10.0), emeter(20.0, is_valid=False), emeter(30.0)))
    with pytest.raises(MeterError, match="emeter 1 reports is_valid False"):
        await meter_for(device, http).read()


async def test_is_valid_of_other_channels_does_not_matter(device, http):
    device.json("/status", {"emeters": [emeter(-5.0), emeter(1500.0, is_valid=False)]})
    reading = await meter_for(device, http, channel=0).read()
    assert reading.power_w == -5.0


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('{"emeters":[{"power":NaN,"is_valid":true}],"total_power":NaN}', "total_power is nan, not a finite number"),
        ('{"emeters":[{"power":1,"is_valid":true}],"total_power":"abc"}', "total_power is 'abc', not a number"),
        ('{"emeters":[{"power":1,"is_valid":true}],"total_power":"1_2_3"}', "total_power is '1_2_3', not a number"),
        ('{"emeters":[{"power":1,"is_valid":true}],"total_power":"1e308"}', "total_power is '1e308', not a number"),
        ('{"emeters":[{"power":1,"is_valid":true}],"total_power":null}', "total_power is missing"),
        ('{"total_power":12}', "no key 'emeters' at the top level"),
        ('{"emeters":[],"total_power":0}', "not a non-empty list"),
    ],
)
async def test_bad_payloads(device, http, body, match):
    device.json("/status", body)
    with pytest.raises(MeterError, match=match):
        await meter_for(device, http).read()


async def test_missing_power_key_of_channel(device, http):
    device.json("/status", {"emeters": [{"is_valid": True, "voltage": 230}]})
    with pytest.raises(MeterError, match="no key 'power'"):
        await meter_for(device, http, channel=0).read()


async def test_basic_auth_when_password_set(device, http):
    device.json("/status", three_em(emeter(1.0)))
    await meter_for(device, http, password="secret").read()
    assert basic_auth_of(device.seen("/status")[-1]) == ("admin", "secret")


async def test_empty_password_means_no_login(device, http):
    device.json("/status", three_em(emeter(1.0)))
    await meter_for(device, http, password="").read()
    assert "Authorization" not in device.seen("/status")[-1].headers


async def test_wrong_login_gives_401_with_hint(device, http):
    device.status("/status", 401, "401 Unauthorized")
    with pytest.raises(MeterError, match=r"HTTP 401 Unauthorized from http://127\.0\.0\.1:\d+/status \(check user"):
        await meter_for(device, http, password="wrong").read()
