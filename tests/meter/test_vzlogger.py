"""The vzlogger driver against a local server shaped like vzlogger's local HTTP server."""

import pytest

from zeropower.meter.drivers.vzlogger import VzloggerConfig, VzloggerMeter
from zeropower.meter.reading import MeterError

UUID = "007aeef0-4c7e-11e3-b9e4-7b5a8a2b0e6a"


def meter_for(device, http):
    return VzloggerMeter(VzloggerConfig(type="vzlogger", url=device.url, uuid=UUID), http, timeout_s=2)


def answer(**channel):
    return {"version": "0.8.1", "generator": "vzlogger", "data": [{"uuid": UUID, "interval": -1, **channel}]}


async def test_newest_tuple_with_its_timestamp(device, http):
    device.json(f"/{UUID}", answer(last=1700000000123, tuples=[[1699999999123, 50.0], [1700000000123, -312.4]]))
    reading = await meter_for(device, http).read()
    assert reading.power_w == -312.4
    assert reading.timestamp == pytest.approx(1700000000.123)


async def test_no_tuples_yet_is_missing(device, http):
    device.json(f"/{UUID}", answer(last=0))
    with pytest.raises(MeterError, match=f"no values for channel {UUID} yet"):
        await meter_for(device, http).read()


@pytest.mark.parametrize(
    ("channel", "match"),
    [
        ({"tuples": []}, "empty or not a list"),
        ({"tuples": [[1700000000123]]}, r"is not \[timestamp_ms, value\]"),
        ({"tuples": [[1700000000123, "x"]]}, "value is 'x', not a number"),
        ({"tuples": [[1700000000123, None]]}, "value is missing"),
    ],
)
async def test_bad_tuples(device, http, channel, match):
    device.json(f"/{UUID}", answer(**channel))
    with pytest.raises(MeterError, match=match):
        await meter_for(device, http).read()


async def test_no_data_list(device, http):
    device.json(f"/{UUID}", {"version": "0.8.1", "data": []})
    with pytest.raises(MeterError, match="index 0 is out of range at data"):
        await meter_for(device, http).read()
