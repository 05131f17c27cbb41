"""Normalising an inverter's telemetry into one DeviceState."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeropower.actuator_opendtu.drivers import AhoyDtuConfig, OpenDtuConfig, TelemetryUpdate
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.actuator_opendtu.telemetry import InverterTelemetry
from zeropower.shared.messages import MAX_POWER_W, DeviceState, parse_message

ID = "114182912345"
#: No example database (nothing written to the work tree); a failure prints the blob that replays it.
PROPERTY = settings(max_examples=300, deadline=None, database=None, print_blob=True)


def test_nothing_seen_until_the_first_message():
    telemetry = InverterTelemetry(nameplate_w=None)
    assert not telemetry.seen
    telemetry.apply(TelemetryUpdate(ID, power_w=10), received_at=100)
    assert telemetry.seen


def test_state_combines_the_latest_values():
    telemetry = InverterTelemetry(nameplate_w=None)
    for update in [
        TelemetryUpdate(ID, reachable=True),
        TelemetryUpdate(ID, producing=True),
        TelemetryUpdate(ID, power_w=300),
        TelemetryUpdate(ID, power_w=305.2),
        TelemetryUpdate(ID, dc_power_w=321),
        TelemetryUpdate(ID, limit_w=600),
        TelemetryUpdate(ID, energy_wh=1234567),
        TelemetryUpdate(ID, updated_at=1763900001),
    ]:
        telemetry.apply(update, received_at=1763900002)
    telemetry.record_command(600, 1763900000.5)
    state = telemetry.state("opendtu", ID, commands_left=4.5)
    assert state.model_dump(exclude={"timestamp"}) == {
        "actuator_id": "opendtu",
        "device_id": ID,
        "reachable": True,
        "producing": True,
        "power_w": 305.2,
        "dc_power_w": 321,
        "limit_w": 600,
        "duty": None,
        "energy_wh": 1234567,
        "updated_at": 1763900001,
        "last_command_w": 600,
        "last_command_at": 1763900000.5,
        "commands_left": 4.5,
    }


def test_relative_limit_times_nameplate_is_preferred_over_the_absolute_read_back():
    telemetry = InverterTelemetry(nameplate_w=800)
    telemetry.apply(TelemetryUpdate(ID, limit_w=1125), received_at=1)  # OpenDTU after boot: wrong max power
    telemetry.apply(TelemetryUpdate(ID, limit_percent=75), received_at=1)
    assert telemetry.state("a", ID).limit_w == 600


def test_absolute_read_back_without_a_nameplate():
    telemetry = InverterTelemetry(nameplate_w=None)
    telemetry.apply(TelemetryUpdate(ID, limit_w=600, limit_percent=75), received_at=1)
    assert telemetry.state("a", ID).limit_w == 600


def test_dc_power_is_the_sum_of_inputs_when_no_total_is_reported():
    telemetry = InverterTelemetry(nameplate_w=None)
    telemetry.apply(TelemetryUpdate(ID, dc_channel_w=(1, 150.25)), received_at=1)
    telemetry.apply(TelemetryUpdate(ID, dc_channel_w=(2, 160.5)), received_at=1)
    telemetry.apply(TelemetryUpdate(ID, dc_channel_w=(1, 151)), received_at=1)
    assert telemetry.state("a", ID).dc_power_w == 311.5
    telemetry.apply(TelemetryUpdate(ID, dc_power_w=320), received_at=1)
    assert telemetry.state("a", ID).dc_power_w == 320


def test_received_time_stands_in_for_a_missing_device_time():
    telemetry = InverterTelemetry(nameplate_w=None)
    telemetry.apply(TelemetryUpdate(ID, power_w=1), received_at=1763900005)
    state = telemetry.state("a", ID)
    assert (state.updated_at, state.reachable, state.producing) == (1763900005, False, False)


def test_apply_reports_when_the_inverter_becomes_reachable():
    telemetry = InverterTelemetry(nameplate_w=None)
    assert telemetry.apply(TelemetryUpdate(ID, reachable=True), received_at=1)
    assert not telemetry.apply(TelemetryUpdate(ID, reachable=True), received_at=2)
    assert not telemetry.apply(TelemetryUpdate(ID, power_w=5), received_at=3)
    assert not telemetry.apply(TelemetryUpdate(ID, reachable=False), received_at=4)
    assert telemetry.apply(TelemetryUpdate(ID, reachable=True), received_at=5)


def test_a_power_beyond_what_device_state_accepts_is_left_out():
    """Regression: the old drivers read ``0/power`` = ``1e308``, and state() then raised a ValidationError."""
    telemetry = InverterTelemetry(nameplate_w=None)
    telemetry.apply(TelemetryUpdate(ID, power_w=1e308, dc_power_w=float("nan"), limit_w=-float("inf")), 1763900005)
    state = telemetry.state("a", ID)
    assert (state.power_w, state.dc_power_w, state.limit_w) == (None, None, None)


def test_a_sum_of_dc_inputs_beyond_the_bound_is_left_out():
    telemetry = InverterTelemetry(nameplate_w=None)
    for channel in (1, 2):
        telemetry.apply(TelemetryUpdate(ID, dc_channel_w=(channel, MAX_POWER_W)), received_at=1)
    assert telemetry.state("a", ID).dc_power_w is None


def test_a_relative_limit_times_a_huge_nameplate_is_left_out():
    telemetry = InverterTelemetry(nameplate_w=1e9)
    telemetry.apply(TelemetryUpdate(ID, limit_percent=50), received_at=1)
    assert telemetry.state("a", ID).limit_w is None


def test_a_device_time_out_of_range_gives_way_to_the_received_time():
    telemetry = InverterTelemetry(nameplate_w=None)
    telemetry.apply(TelemetryUpdate(ID, updated_at=1e11), received_at=1763900005)
    assert telemetry.state("a", ID).updated_at == 1763900005


# ---- properties: whatever arrived, state() is a valid DeviceState ------------------------------------------

ANY_FLOAT = st.one_of(st.none(), st.floats(), st.integers(-(10**20), 10**20))
UPDATES = st.builds(
    TelemetryUpdate,
    device_id=st.just(ID),
    reachable=st.one_of(st.none(), st.booleans()),
    producing=st.one_of(st.none(), st.booleans()),
    power_w=ANY_FLOAT,
    dc_power_w=ANY_FLOAT,
    dc_channel_w=st.one_of(st.none(), st.tuples(st.integers(1, 6), st.floats())),
    limit_w=ANY_FLOAT,
    limit_percent=ANY_FLOAT,
    updated_at=ANY_FLOAT,
    energy_wh=ANY_FLOAT,
)


@PROPERTY
@given(
    nameplate_w=st.one_of(st.none(), st.floats(min_value=0, exclude_min=True)),
    steps=st.lists(st.one_of(st.tuples(UPDATES, st.floats()), st.tuples(st.floats(), st.floats())), max_size=20),
)
def test_property_state_never_raises_and_survives_the_wire(nameplate_w, steps):
    telemetry = InverterTelemetry(nameplate_w=nameplate_w)
    for first, at in steps:
        if isinstance(first, TelemetryUpdate):
            telemetry.apply(first, received_at=at)
        else:
            telemetry.record_command(first, sent_at=at)
    state = telemetry.state("a", ID)
    assert parse_message(DeviceState, state.model_dump_json()) == state


DRIVERS = [
    pytest.param(
        OpenDtuConfig().create([InverterSettings(serial=ID, max_w=800)]),
        f"solar/{ID}/",
        [
            "status/reachable",
            "status/last_update",
            "status/limit_absolute",
            "status/limit_relative",
            "0/power",
            "0/powerdc",
            "0/yieldtotal",
            "1/power",
            "2/power",
            "6/power",
        ],
        id="opendtu",
    ),
    pytest.param(
        AhoyDtuConfig().create([InverterSettings(name="roof", index=0, max_w=800)]),
        "inverter/roof/",
        ["available", "last_success", "ch0/P_AC", "ch0/P_DC", "ch0/active_PowerLimit", "ch1/P_DC", "ch6/P_DC"],
        id="ahoydtu",
    ),
]
#: Payloads near and beyond every bound, and plain garbage.
PAYLOADS = st.one_of(
    st.sampled_from(["0", "1", "2", "100", "100.1", "1000000", "-1000000", "1000000.1", "9999999999", "1e308", "nan"]),
    st.decimals(min_value=-(10**11), max_value=10**11, places=3).map(lambda value: f"{value:f}"),
    st.text(max_size=12),
)


@pytest.mark.parametrize(("driver", "head", "subtopics"), DRIVERS)
@PROPERTY
@given(data=st.data())
def test_property_whatever_the_drivers_accept_gives_a_valid_state(driver, head, subtopics, data):
    telemetry = InverterTelemetry(nameplate_w=data.draw(st.sampled_from([None, 800.0, MAX_POWER_W])))
    for _ in range(data.draw(st.integers(1, 30))):
        try:
            update = driver.parse(head + data.draw(st.sampled_from(subtopics)), data.draw(PAYLOADS))
        except ValueError:
            continue
        if update is not None:
            telemetry.apply(update, received_at=1763900005.5)
    state = telemetry.state("a", ID)
    assert parse_message(DeviceState, state.model_dump_json()) == state
