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


STORAGE = '"storage": {"capacity_wh": 2000, "min_soc_pct": 10, "max_soc_pct": 95, "response_time_s": 5}'


def storage_announcement(min_w: float, *, kind: str = "storage", storage: str = STORAGE, max_w: float = 1200) -> str:
    """An announcement of one device of ``kind`` from ``min_w`` to ``max_w`` W with ``storage`` (empty: none)."""
    extra = f", {storage}" if storage else ""
    device = f'{{"device_id": "b", "name": "b", "kind": "{kind}", "min_w": {min_w}, "max_w": {max_w}{extra}}}'
    return f'{{"actuator_id": "a", "driver": "x", "devices": [{device}]}}'


def test_a_storage_device_announces_its_discharge_limit_as_a_negative_min_w():
    device = parse_message(ActuatorAnnouncement, storage_announcement(-800)).devices[0]
    assert (device.kind, device.min_w, device.max_w) == ("storage", -800, 1200)
    assert device.storage is not None
    assert (device.storage.capacity_wh, device.storage.min_soc_pct, device.storage.max_soc_pct) == (2000, 10, 95)


def test_a_storage_device_that_cannot_charge_announces_max_w_0():
    device = parse_message(ActuatorAnnouncement, storage_announcement(-800, max_w=0)).devices[0]
    assert (device.min_w, device.max_w) == (-800, 0)


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (storage_announcement(-800, kind="inverter", storage=""), "negative for kind storage only"),
        (storage_announcement(-800, kind="consumer", storage=""), "negative for kind storage only"),
        (storage_announcement(0, kind="inverter"), "for kind storage only"),
        (storage_announcement(-800, storage=""), "must say what it holds"),
        (storage_announcement(-800, storage=STORAGE.replace('"min_soc_pct": 10', '"min_soc_pct": 95')), "below"),
        (storage_announcement(-800, storage=STORAGE.replace("2000", "-1")), "capacity_wh"),
        (storage_announcement(-2e6), "min_w"),
        (storage_announcement(0, kind="inverter", storage="", max_w=0), "0 only for storage"),
        (storage_announcement(0, kind="consumer", storage="", max_w=0), "0 only for storage"),
        (storage_announcement(-800, max_w=-1), "max_w"),
    ],
)
def test_only_a_storage_device_may_go_below_zero_and_it_must_say_what_it_holds(payload, cause):
    with pytest.raises(InvalidMessageError, match=cause):
        parse_message(ActuatorAnnouncement, payload)


def test_device_state_carries_a_bounded_state_of_charge():
    base = '{"actuator_id": "a", "device_id": "b", "reachable": true, "producing": false'
    assert parse_message(DeviceState, base + ', "soc_pct": 42.5}').soc_pct == 42.5
    assert parse_message(DeviceState, base + "}").soc_pct is None  # older actuators send none
    for bad in ("-1", "100.1", '"50"', "NaN"):
        with pytest.raises(InvalidMessageError):
            parse_message(DeviceState, base + f', "soc_pct": {bad}}}')


def test_devices_without_storage_serialise_as_before_so_older_receivers_still_read_them():
    # Receivers forbid unknown keys: "storage": null or "soc_pct": null would make a controller from before
    # storage refuse every announcement and device state of an updated actuator.
    inverter = parse_message(ActuatorAnnouncement, announcement("")).devices[0]
    assert "storage" not in inverter.model_dump_json()
    state = DeviceState(actuator_id="a", device_id="d", reachable=True, producing=True, power_w=5)
    assert "soc_pct" not in state.model_dump_json()
    assert '"soc_pct":42.0' in state.model_copy(update={"soc_pct": 42.0}).model_dump_json()
