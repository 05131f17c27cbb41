"""Parsing the simulator's override commands (their effect over MQTT is tested in test_service)."""

import pytest

from zeropower.sim.controls import parse_override


@pytest.mark.parametrize(
    ("payload", "value"), [("1234", 1234.0), (" 0 ", 0.0), ("12.5", 12.5), ("auto", None), ('"AUTO"', None)]
)
def test_numbers_and_auto(payload, value):
    assert parse_override(payload) == value


@pytest.mark.parametrize("payload", ["", "abc", "-1", "nan", "inf", "300W"])
def test_anything_else_is_refused(payload):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is logged, not matched
        parse_override(payload)
