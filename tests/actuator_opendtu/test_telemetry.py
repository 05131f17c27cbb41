"""Normalising an inverter's telemetry into one DeviceState."""

from zeropower.actuator_opendtu.drivers import TelemetryUpdate
from zeropower.actuator_opendtu.telemetry import InverterTelemetry

ID = "114182912345"


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
        TelemetryUpdate(ID, updated_at=1763900001),
    ]:
        telemetry.apply(update, received_at=1763900002)
    telemetry.record_command(600, 1763900000.5)
    state = telemetry.state("opendtu", ID)
    assert state.model_dump(exclude={"timestamp"}) == {
        "actuator_id": "opendtu",
        "device_id": ID,
        "reachable": True,
        "producing": True,
        "power_w": 305.2,
        "dc_power_w": 321,
        "limit_w": 600,
        "duty": None,
        "energy_wh": None,
        "updated_at": 1763900001,
        "last_command_w": 600,
        "last_command_at": 1763900000.5,
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
