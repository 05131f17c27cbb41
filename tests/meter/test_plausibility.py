"""The service's checks on every driver's values: plausible power, counters and extras, bounded timestamps."""

import logging
import math

import pytest

from zeropower.meter.device_time import unix_time
from zeropower.meter.gate import ReadingGate
from zeropower.meter.reading import MeterError, MeterValues, PhaseValues, RawValue, watts

AT = 1765000000.0


def gate(max_power_w=50_000):
    return ReadingGate(
        "test meter", max_power_w=max_power_w, stale_after_s=10, netted_counters=True, energy_max_gap_s=10
    )


@pytest.mark.parametrize(
    ("power", "shown"),
    [
        (1e308, "1e+308"),
        (-1e308, "-1e+308"),
        (50_000.5, "50000.5"),
        (watts(1e306, "kW"), "inf"),  # overflows on conversion
        (1e308 - -1e308, "inf"),  # import - export
        (math.nan, "nan"),
    ],
)
def test_implausible_power_is_a_missing_reading_naming_value_and_bound(power, shown):
    reading = gate().judge(MeterValues(power_w=power), AT)
    assert reading.power_w is None
    assert reading.error == f"grid power {shown} W is outside the plausible range ±50000 W (meter.max_power_w)"
    assert reading.timestamp == AT


@pytest.mark.parametrize("power", [-50_000.0, -0.0, 0.0, 312.4, 50_000.0])
def test_plausible_power_is_published(power):
    reading = gate().judge(MeterValues(power_w=power), AT)
    assert (reading.power_w, reading.error, reading.timestamp) == (power, None, AT)


def test_the_bound_is_a_setting():
    assert gate(max_power_w=1000).judge(MeterValues(power_w=1000.5), AT).power_w is None


def test_a_driver_error_is_a_missing_reading():
    reading = gate().judge(MeterError("HTTP 500"), AT)
    assert (reading.power_w, reading.error, reading.timestamp) == (None, "HTTP 500", AT)


@pytest.mark.parametrize(
    ("energy_import", "problem"),
    [
        ("1_2_3", "energy counter import is '1_2_3', not a number"),
        ("1e3", "energy counter import is '1e3', not a number"),
        (1e11, "energy counter import is 1e+11 Wh, outside 0..1e+10 Wh"),
        (-1.0, "energy counter import is -1 Wh, outside 0..1e+10 Wh"),
        (None, "energy counter import is missing (null), not a number"),
    ],
)
def test_implausible_counters_are_left_out_with_one_log_line(caplog, energy_import, problem):
    caplog.set_level(logging.WARNING)
    checks = gate()
    values = MeterValues(
        power_w=5.0, energy_import=RawValue(energy_import, "import"), energy_export=RawValue(7.0, "export")
    )
    for _ in range(5):
        reading = checks.judge(values, AT)
        assert (reading.power_w, reading.energy_import_wh, reading.energy_export_wh) == (5.0, None, None)
    assert [r.getMessage() for r in caplog.records] == [
        f"grid meter test meter energy counters: {problem}; publishing readings without energy counters"
    ]


def test_plausible_counters_are_published():
    values = MeterValues(power_w=5.0, energy_import=RawValue("2589773.39", "i"), energy_export=RawValue(1026.61, "e"))
    reading = gate().judge(values, AT)
    assert (reading.energy_import_wh, reading.energy_export_wh) == (2589773.39, 1026.61)


def test_phase_extras_out_of_bounds_are_left_out():
    phase = PhaseValues(power_w=1e7, voltage_v=1e10, current_a=-0.0, power_factor=0.76)
    reading = gate().judge(MeterValues(power_w=5.0, phases=[phase]), AT)
    assert reading.power_w == 5.0
    assert reading.phases[0].model_dump() == {
        "power_w": None,
        "voltage_v": None,
        "current_a": -0.0,
        "power_factor": 0.76,
    }


def test_more_than_three_phases_are_left_out():
    reading = gate().judge(MeterValues(power_w=5.0, phases=[PhaseValues(power_w=1.0)] * 4), AT)
    assert (reading.power_w, reading.phases) == (5.0, [])


@pytest.mark.parametrize("timestamp", [-1.0, 1e11, math.inf])
def test_a_device_timestamp_out_of_bounds_is_replaced_by_the_request_time(timestamp):
    assert gate().judge(MeterValues(power_w=5.0, timestamp=timestamp), AT).timestamp == AT


def test_frozen_device_time_comes_before_plausibility():
    checks = gate()
    values = MeterValues(power_w=1e308, device_time=unix_time(1700000000.0))
    assert checks.judge(values, AT).error.startswith("waiting for the device time to advance")
    moved = MeterValues(power_w=1e308, device_time=unix_time(1700000001.0))
    assert checks.judge(moved, AT).error.startswith("grid power 1e+308 W is outside")
    assert checks.judge(moved, AT) is None  # a repeat: nothing to publish
