"""Number checks, unit conversion and key paths: the helpers every driver relies on."""

import math

import pytest

from zeropower.meter.key_path import resolve, split_path
from zeropower.meter.reading import MeterError, finite_number, missing_reading, watts


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12.0), (-3.5, -3.5), ("42", 42.0), (" -1.5 ", -1.5), ("+7.", 7.0), (".5", 0.5), (1e308, 1e308)],
)
def test_finite_numbers(value, expected):
    """JSON numbers in any notation are numbers (bounded later); text must be a plain decimal."""
    assert finite_number(value, "x") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "x is nan, not a finite number"),
        (math.inf, "x is inf, not a finite number"),
        ("-Infinity", "x is '-Infinity', not a number"),
        ("1_2_3", "x is '1_2_3', not a number"),  # float() would read 123
        ("1e308", "x is '1e308', not a number"),
        ("0x10", "x is '0x10', not a number"),
        ("nan", "x is 'nan', not a number"),
        ("1" * 400, "not a finite number"),
        ("", "x is '', not a number"),
        ("12 W", "x is '12 W', not a number"),
        (True, "x is a bool, not a number"),
        (None, "x is missing (null), not a number"),
        ([1], "x is a list, not a number"),
        (10**400, "not a finite number"),
    ],
)
def test_not_finite_numbers(value, message):
    with pytest.raises(MeterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        finite_number(value, "x")


def test_watts():
    assert watts(1.5, "kW") == 1500
    assert watts(2500, "mW") == 2.5
    assert watts(100, "W", invert=True) == -100


def test_missing_reading_has_no_number_and_says_why():
    reading = missing_reading("HTTP 500", timestamp=5.0)
    assert (reading.power_w, reading.error, reading.timestamp, reading.valid) == (None, "HTTP 500", 5.0, False)


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", []),
        ("power", ["power"]),
        ("emeters/0/power", ["emeters", "0", "power"]),
        ("emeters/[0]/power", ["emeters", "0", "power"]),
        ("a.b.0.c", ["a", "b", "0", "c"]),
        ("Status/ENERGY.Power", ["Status", "ENERGY.Power"]),  # with a slash, dots belong to keys
    ],
)
def test_split_path(path, parts):
    assert split_path(path) == parts


def test_resolve_whole_document_and_nested():
    document = {"a": [{"b": 1}]}
    assert resolve(document, "") is document
    assert resolve(document, "a/0/b") == 1
    with pytest.raises(MeterError, match="no key 'c' at a/0"):
        resolve(document, "a/0/c")
