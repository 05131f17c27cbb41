"""Reading a device's own time: ISO 8601 with or without zone, Unix s or ms; anything else names the problem."""

import math
import re

import pytest

from zeropower.meter.device_time import parse_device_time, unix_time
from zeropower.meter.reading import MeterError


@pytest.mark.parametrize(
    ("raw", "value", "unix"),
    [
        ("2023-02-28T12:49:49", 1677588589.0, None),  # Tasmota: local time, no zone (compared as if UTC)
        ("2023-11-14T22:13:20.000000+00:00", 1700000000.0, 1700000000.0),  # Home Assistant
        ("2023-11-14T23:13:20+01:00", 1700000000.0, 1700000000.0),
        ("2023-11-14T22:13:20Z", 1700000000.0, 1700000000.0),
        (1700000000, 1700000000.0, 1700000000.0),  # Unix s
        (1700000000123, 1700000000.123, 1700000000.123),  # Unix ms
    ],
)
def test_device_times(raw, value, unix):
    parsed = parse_device_time(raw, "Time")
    assert parsed.value == pytest.approx(value)
    assert parsed.unix == (pytest.approx(unix) if unix is not None else None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "Time is missing (null), not a time"),
        (True, "Time is a bool, not a time"),
        ("soon", "Time is 'soon', not an ISO 8601 time"),
        (math.inf, "Time is inf, not a time"),
        (10**400, "not a time"),
        ([1], "Time is a list, not a time"),
    ],
)
def test_what_is_not_a_time(raw, message):
    with pytest.raises(MeterError, match=re.escape(message)):
        parse_device_time(raw, "Time")


def test_shown_in_utc_or_as_a_number_beyond_the_calendar():
    assert unix_time(1700000000.123).shown == "2023-11-14T22:13:20.123+00:00"
    assert unix_time(1e20).shown == "1e+20 s"
