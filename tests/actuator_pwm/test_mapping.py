"""Duty mappings: the phase-fired curve and its inverse, the calibration table, the clamps."""

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from zeropower.actuator_pwm.mapping import (
    LinearMapping,
    MappingConfig,
    PhaseFiredMapping,
    TableMapping,
    interpolate,
    phase_fired_duty,
    phase_fired_fraction,
)

FRACTIONS = [i / 20 for i in range(21)]


def mapping(**values) -> LinearMapping | PhaseFiredMapping | TableMapping:
    return TypeAdapter(MappingConfig).validate_python(values)


def test_phase_fired_curve_endpoints_and_middle():
    assert phase_fired_fraction(0) == 0
    assert phase_fired_fraction(1) == 1
    assert phase_fired_fraction(0.5) == pytest.approx(0.5)  # the curve is point-symmetric about the middle
    assert phase_fired_fraction(0.25) == pytest.approx(0.25 - 1 / (2 * math.pi))


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_phase_fired_inverse_round_trips(fraction):
    assert phase_fired_fraction(phase_fired_duty(fraction)) == pytest.approx(fraction, abs=1e-9)


def test_phase_fired_needs_more_duty_than_linear_for_little_power():
    assert phase_fired_duty(0.1) > 0.1
    assert phase_fired_duty(0.9) < 0.9
    assert (phase_fired_duty(0), phase_fired_duty(1)) == (0, 1)


def test_interpolate_holds_the_ends():
    points = [(0.0, 0.0), (0.5, 1.0), (1.0, 3.0)]
    assert [interpolate(points, x) for x in (-1, 0, 0.25, 0.75, 1, 2)] == [0, 0, 0.5, 2, 3, 3]


@pytest.mark.parametrize(
    "values",
    [
        {"type": "linear"},
        {"type": "phase_fired"},
        {"type": "table", "points": [[0, 0.05], [0.5, 0.4], [1, 0.95]]},
        {"type": "linear", "min_duty": 0.1, "max_duty": 0.9},
    ],
)
def test_every_mapping_estimates_the_power_of_its_duty(values):
    chosen = mapping(**values)
    for fraction in FRACTIONS[1:]:
        duty = chosen.duty(fraction)
        if chosen.min_duty < duty < chosen.max_duty:
            assert chosen.fraction(duty) == pytest.approx(fraction, abs=1e-9)
    assert chosen.duty(0) == 0
    assert chosen.fraction(0) == 0


def test_clamps_zero_stays_zero_and_the_rest_is_within_range():
    clamped = LinearMapping(min_duty=0.1, max_duty=0.9)
    assert clamped.duty(0) == 0
    assert clamped.duty(-0.5) == 0
    assert clamped.duty(0.01) == 0.1
    assert clamped.duty(0.5) == 0.5
    assert clamped.duty(1.5) == 0.9


def test_table_below_its_first_duty_estimates_no_power():
    table = TableMapping(points=[(0, 0.1), (1, 0.9)])
    assert table.duty(0.5) == pytest.approx(0.5)
    assert table.fraction(0.05) == 0
    assert table.fraction(1) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"type": "table", "points": [[0, 0]]}, "points"),
        ({"type": "table", "points": [[0, 0], [0.5, 0.6], [0.4, 0.7], [1, 1]]}, r"points\[2\]: power fraction and"),
        ({"type": "table", "points": [[0, 0], [0.5, 0.6], [1, 0.6]]}, r"points\[2\]: .* must both increase"),
        ({"type": "table", "points": [[0.1, 0], [1, 1]]}, "start at power fraction 0 and end at 1"),
        ({"type": "table", "points": [[0, 0], [0.9, 1]]}, "start at power fraction 0 and end at 1"),
        ({"type": "table", "points": [[0, 0], [1, 1.5]]}, r"points\[1\]: power fraction and duty must lie"),
        ({"type": "linear", "min_duty": 0.5, "max_duty": 0.4}, "min_duty"),
        ({"type": "burst"}, "type"),
    ],
)
def test_invalid_mappings_name_the_problem(values, message):
    with pytest.raises(ValidationError, match=message):
        mapping(**values)
