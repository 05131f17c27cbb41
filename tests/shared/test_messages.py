import math

import pytest
from pydantic import ValidationError

from zeropower.shared.messages import (
    MAX_POWER_W,
    ActuatorAnnouncement,
    DeviceState,
    GridReading,
    InvalidMessageError,
    SetpointCommand,
    parse_message,
    parse_on_off,
)


def test_grid_reading_round_trip():
    reading = GridReading(timestamp=1.5, power_w=-120.0, energy_import_wh=10.0)
    assert GridReading.model_validate_json(reading.model_dump_json()) == reading
    assert reading.valid


def test_missing_reading_must_say_why():
    with pytest.raises(ValidationError, match="must say why"):
        GridReading(power_w=None)
    assert not GridReading(power_w=None, error="timeout").valid


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_power_is_rejected(bad):
    with pytest.raises(ValidationError):
        GridReading(power_w=bad)


def test_unknown_keys_are_rejected():
    with pytest.raises(ValidationError, match="power_kw"):
        GridReading.model_validate_json('{"power_kw": 1}')


@pytest.mark.parametrize(("payload", "expected"), [(b"on", True), (b"OFF", False), ('"on"', True), (b"1", True)])
def test_parse_on_off(payload, expected):
    assert parse_on_off(payload) is expected


def test_parse_on_off_names_bad_payload():
    with pytest.raises(ValueError, match="'maybe'"):
        parse_on_off(b"maybe")


def test_parse_message_names_the_field():
    assert parse_message(GridReading, b'{"power_w": 5}').power_w == 5
    with pytest.raises(InvalidMessageError, match="invalid GridReading: power_w: "):
        parse_message(GridReading, b'{"power_w": "lots"}')
    with pytest.raises(InvalidMessageError, match="invalid GridReading: payload: Invalid JSON"):
        parse_message(GridReading, b"\xff")


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (GridReading, '{"power_w": 1e308}'),
        (GridReading, '{"power_w": "5"}'),  # numbers as text are not numbers
        (GridReading, '{"power_w": true}'),
        (GridReading, '{"power_w": 5, "energy_import_wh": -1}'),
        (GridReading, '{"power_w": 5, "timestamp": 1e300}'),
        (DeviceState, '{"actuator_id": "a", "device_id": "d", "reachable": true, "producing": true, "power_w": 1e308}'),
        (DeviceState, '{"actuator_id": "a", "device_id": "d", "reachable": 1, "producing": true}'),
        (
            ActuatorAnnouncement,
            '{"actuator_id": "a", "driver": "x", "devices": [{"device_id": "d", "name": "d", "max_w": 1e308}]}',
        ),
        (
            ActuatorAnnouncement,
            '{"actuator_id": "a", "driver": "x", "devices": [{"device_id": "d", "name": "d", "min_w": 9, "max_w": 5}]}',
        ),
        (SetpointCommand, '{"setpoints_w": {"d": -1e308}}'),
    ],
)
def test_absurd_or_mistyped_numbers_are_rejected(model, payload):
    # Before: device states with power_w 1e308 for two inverters added up to infinity in the controller,
    # and building its state raised: the controller exited, and again at every restart (retained).
    with pytest.raises(InvalidMessageError):
        parse_message(model, payload)


def test_bounded_extremes_still_add_up_to_finite_numbers():
    states = [
        DeviceState(actuator_id="a", device_id=str(i), reachable=True, producing=True, power_w=MAX_POWER_W)
        for i in range(10_000)
    ]
    assert math.isfinite(sum(state.power_w or 0.0 for state in states))


def announcement(*devices: str) -> str:
    """An announcement of devices given as their extra JSON members (empty: none)."""
    members = ('{"device_id": "d", "name": "d", "min_w": 40, "max_w": 800' + extra + "}" for extra in devices)
    return f'{{"actuator_id": "a", "driver": "x", "devices": [{", ".join(members)}]}}'


def test_a_device_may_announce_its_command_budget_within_bounds():
    parsed = parse_message(ActuatorAnnouncement, announcement(', "commands_per_hour": 120', ""))
    assert [device.commands_per_hour for device in parsed.devices] == [120, None]
    top = parse_message(ActuatorAnnouncement, announcement(', "commands_per_hour": 3600'))
    assert top.devices[0].commands_per_hour == 3600
    for bad in ("0", "3601", "120.5", '"120"', "true"):
        with pytest.raises(InvalidMessageError, match="commands_per_hour"):
            parse_message(ActuatorAnnouncement, announcement(f', "commands_per_hour": {bad}'))
