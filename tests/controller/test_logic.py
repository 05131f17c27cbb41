"""The pure decision logic, stepped in simulated time."""

import json
import math
from typing import NamedTuple

import pytest

from zeropower.controller.logic import TRIM_W, Decision, ZeroExportController
from zeropower.controller.settings import ControllerSettings, ControllerTunablesUpdate
from zeropower.shared.messages import (
    MAX_POWER_W,
    DeviceInfo,
    DeviceState,
    GridReading,
    InvalidMessageError,
    parse_message,
)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


INVERTER = DeviceInfo(device_id="114182912345", name="roof", min_w=40, max_w=800)


def make(clock: FakeClock, **overrides) -> ZeroExportController:
    controller = ZeroExportController(ControllerSettings(**overrides), clock)
    controller.set_actuator("opendtu", [INVERTER])
    return controller


def telemetry(clock: FakeClock, power_w: float, limit_w: float, device_id: str = "114182912345") -> DeviceState:
    return DeviceState(
        timestamp=clock.now,
        actuator_id="opendtu",
        device_id=device_id,
        reachable=True,
        producing=power_w > 0,
        power_w=power_w,
        limit_w=limit_w,
        updated_at=clock.now,
    )


def limit(decision: Decision) -> float:
    """The limit a decision sets for the one inverter of ``make``."""
    return decision.setpoints["opendtu"][INVERTER.device_id]


def grid(clock: FakeClock, power_w: float | None, error: str | None = None) -> GridReading:
    return GridReading(timestamp=clock.now, power_w=power_w, error=error)


def test_idle_without_actuators():
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(), clock)
    decision = controller.on_grid(grid(clock, 100))
    assert decision.state.mode == "idle"
    assert decision.setpoints == {}


def test_export_is_cut_immediately_by_the_full_amount():
    clock = FakeClock()
    controller = make(clock, target_w=20)
    controller.on_device_state(telemetry(clock, 600, 800))
    controller.on_grid(grid(clock, 20))  # settle at the current output
    decision = controller.on_grid(grid(clock, -380))  # load dropped by 400 W
    assert decision.state.mode == "regulating"
    assert limit(decision) == pytest.approx(600 - 400)  # from the measured output


def test_import_is_raised_by_a_share():
    clock = FakeClock()
    controller = make(clock, target_w=0, raise_gain=0.5)
    controller.on_device_state(telemetry(clock, 300, 300))
    controller.on_grid(grid(clock, 0))
    decision = controller.on_grid(grid(clock, 400))
    assert limit(decision) == pytest.approx(300 + 200)


def test_changes_in_flight_are_not_stacked():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 600, 600))
    first = controller.on_grid(grid(clock, -300))
    assert limit(first) == pytest.approx(300)
    for _ in range(5):  # the inverter has not reacted yet: the meter still shows the export
        clock.advance(1)
        held = controller.on_grid(grid(clock, -300))
        assert limit(held) == pytest.approx(300)
        assert "in flight" in held.state.reason
    clock.advance(1)  # now it reacted, telemetry not yet in: no raise back either
    after = controller.on_grid(grid(clock, 0))
    assert limit(after) == pytest.approx(300)


def test_more_export_while_a_cut_is_in_flight_cuts_only_the_difference():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10)
    controller.on_device_state(telemetry(clock, 600, 600))
    controller.on_grid(grid(clock, -300))
    clock.advance(1)
    decision = controller.on_grid(grid(clock, -500))  # 200 W more export than the cut accounts for
    assert limit(decision) == pytest.approx(100)


def test_a_change_in_flight_counts_from_the_output_telemetry_shows_now():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 170, 600))  # clouds: 170 W at a limit of 600 W
    assert limit(controller.on_grid(grid(clock, 330))) == pytest.approx(500)
    clock.advance(3)
    controller.on_device_state(telemetry(clock, 600, 500))  # the sun is back: 600 W at the old limit
    decision = controller.on_grid(grid(clock, -100))
    # the 500 W in flight takes the 100 W of export away: counted from 600 W, not from the 170 W before
    assert limit(decision) == pytest.approx(500)
    assert "in flight" in decision.state.reason


def published_again(state: DeviceState, clock: FakeClock, last_command_w: float) -> DeviceState:
    """The state an actuator publishes again when it sends a command: the same telemetry sample."""
    return state.model_copy(update={"timestamp": clock.now, "last_command_w": last_command_w})


def test_a_state_published_again_with_a_command_is_not_a_new_measurement():
    # Seen on the real processes: the sample (300 W) taken before a raise took effect, published again with a
    # later command, counted as the output now; the controller then took the raise for not yet shown and cut
    # 325 W on a 55 W export.
    clock = FakeClock()
    controller = make(clock, target_w=20, dead_time_s=5)
    sample = telemetry(clock, 300, 300)
    controller.on_device_state(sample)
    raised = limit(controller.on_grid(grid(clock, 420)))  # the load rose by 400 W
    assert raised == pytest.approx(300 + 0.7 * 400)
    clock.advance(9)  # the raise has shown (dead time and ramp); the next sample is not in yet
    cut = limit(controller.on_grid(grid(clock, -30)))  # a bit too much now: trim by 50 W
    assert cut == pytest.approx(raised - 50)
    clock.advance(0.3)
    controller.on_device_state(published_again(sample, clock, cut))
    clock.advance(0.7)
    decision = controller.on_grid(grid(clock, -35))  # the trim is in flight: 5 W more is within the deadband
    assert limit(decision) == pytest.approx(cut)


def test_states_published_again_do_not_keep_stale_telemetry_fresh():
    clock = FakeClock()
    controller = make(clock, target_w=0, device_stale_after_s=30)
    sample = telemetry(clock, 600, 800)
    controller.on_device_state(sample)
    for second in range(1, 41):  # no new sample; the load swings and the actuator publishes each command
        clock.advance(1)
        decision = controller.on_grid(grid(clock, 100 if second // 5 % 2 else -100))
        controller.on_device_state(published_again(sample, clock, limit(decision)))
    assert limit(decision) == INVERTER.min_w  # unreachable: no telemetry for 40 s
    assert decision.unreachable == {
        "inverter roof (114182912345)": (
            "no telemetry for over 30 s: left out (an inverter at its minimum) until it reports again"
        )
    }
    clock.advance(1)
    controller.on_device_state(telemetry(clock, 40, 40))
    assert controller.on_grid(grid(clock, 0)).unreachable == {}


def test_a_samples_time_moving_by_a_second_between_publishes_is_the_same_sample():
    """OpenDTU computes ``status/last_update`` anew at every publish (MqttHandleInverter.cpp: its clock now less
    the sample's age in whole seconds), so with a publish interval under its poll interval one sample's time
    moves between two adjacent seconds; that must not make a sample of a DTU that lost its inverter look new."""
    clock = FakeClock()
    controller = make(clock, target_w=0, device_stale_after_s=30)
    sample = telemetry(clock, 600, 800)
    controller.on_device_state(sample)
    for second in range(1, 41):  # published every second, the data never new
        clock.advance(1)
        decision = controller.on_grid(grid(clock, 0))
        jittered = {"timestamp": clock.now, "updated_at": sample.updated_at + second % 2}
        controller.on_device_state(sample.model_copy(update=jittered))
    assert limit(decision) == INVERTER.min_w
    assert "no telemetry for over 30 s" in decision.unreachable["inverter roof (114182912345)"]
    clock.advance(1)
    controller.on_device_state(sample.model_copy(update={"updated_at": clock.now}))  # a new sample, same output
    assert controller.on_grid(grid(clock, 0)).unreachable == {}


def test_a_change_older_than_the_dead_time_counts_as_in_force_before_telemetry_shows_it():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 600, 600))
    controller.on_grid(grid(clock, -300))  # cut to 300 W
    clock.advance(10)
    controller.on_device_state(telemetry(clock, 300, 300))
    clock.advance(10)
    controller.on_grid(grid(clock, -200))  # cut to 100 W
    clock.advance(5)
    controller.on_device_state(telemetry(clock, 300, 100))  # read back, the output not yet followed
    for _ in range(5):  # from 9 s after the cut the load is back at 300 W; telemetry still shows 300 W
        clock.advance(1 if _ else 4)
        decision = controller.on_grid(grid(clock, 300 - 100))
    # the cut is in force by now: the raises make up for it once, not again with every reading
    assert 100 < limit(decision) <= 300


def test_telemetry_confirms_a_change_after_the_dead_time():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=5)
    controller.on_device_state(telemetry(clock, 600, 600))
    controller.on_grid(grid(clock, -300))
    clock.advance(6)
    controller.on_device_state(telemetry(clock, 300, 300))
    clock.advance(1)
    decision = controller.on_grid(grid(clock, 200))  # load rose: acted on at once
    assert limit(decision) == pytest.approx(300 + 0.7 * 200)


def test_sun_limited_limits_track_the_load_without_winding_up():
    clock = FakeClock()
    controller = make(clock, target_w=0)
    controller.on_device_state(telemetry(clock, 250, 800))  # clouds: 250 W at a limit of 800 W
    decision = controller.on_grid(grid(clock, 200))  # the load is 450 W
    assert limit(decision) == pytest.approx(450)  # where the load is, not 800
    for _ in range(5):  # the same import again and again: the limit stays with the load
        clock.advance(1)
        decision = controller.on_grid(grid(clock, 200))
    assert limit(decision) == pytest.approx(450)
    decision = controller.on_grid(grid(clock, 1000))  # load above what the inverter can give
    assert limit(decision) == 800
    assert "deliver" in decision.state.reason


def test_small_moves_of_a_sun_limited_limit_are_not_sent():
    clock = FakeClock()
    controller = make(clock, target_w=0, sun_limit_headroom_w=50)
    controller.on_device_state(telemetry(clock, 250, 800))
    assert limit(controller.on_grid(grid(clock, 200))) == pytest.approx(450)
    clock.advance(1)
    assert limit(controller.on_grid(grid(clock, 230))) == pytest.approx(450)
    clock.advance(1)
    assert limit(controller.on_grid(grid(clock, 300))) == pytest.approx(550)


class LessImport(NamedTuple):
    """A sun-limited inverter sees less import; telemetry then tells whether the load fell or the sun came out."""

    target_w: float
    cloudy_w: float  # the output under clouds, at a limit of 800 W
    import_w: float
    raised_to_w: float
    less_import_w: float
    telemetry_w: float
    lowered_to_w: float


@pytest.mark.parametrize(
    "case",
    [
        LessImport(0, 200, 300, 500, 100, telemetry_w=200, lowered_to_w=300),  # still above target: load fell
        LessImport(20, 180, 220, 380, 5, telemetry_w=380, lowered_to_w=365),  # below target: the sun came out
    ],
    ids=["import above target", "import below target"],
)
def test_a_sun_limited_limit_is_lowered_without_export_only_with_fresh_telemetry(case: LessImport):
    clock = FakeClock()
    controller = make(clock, target_w=case.target_w, deadband_w=10, sun_limit_headroom_w=50)
    controller.on_device_state(telemetry(clock, 700, 800))  # clear sky a minute before the cloud
    clock.advance(60)
    controller.on_device_state(telemetry(clock, case.cloudy_w, 800))
    assert limit(controller.on_grid(grid(clock, case.import_w))) == pytest.approx(case.raised_to_w)
    clock.advance(1)
    # less import: the load fell, or the sun came out and the output rose; no export: the limit stays
    assert limit(controller.on_grid(grid(clock, case.less_import_w))) == pytest.approx(case.raised_to_w)
    clock.advance(1)
    controller.on_device_state(telemetry(clock, case.telemetry_w, case.raised_to_w))  # telemetry tells which
    assert limit(controller.on_grid(grid(clock, case.less_import_w))) == pytest.approx(case.lowered_to_w)


def test_a_sun_limited_limit_is_cut_at_once_on_export():
    clock = FakeClock()
    controller = make(clock, target_w=20, deadband_w=10)
    controller.on_device_state(telemetry(clock, 180, 800))
    controller.on_grid(grid(clock, 220))
    clock.advance(1)
    # exporting: cut from the output telemetry last showed (the load may have fallen)
    assert limit(controller.on_grid(grid(clock, -30))) == pytest.approx(130)


def test_a_cut_under_export_is_not_held_back_by_the_sun_maybe_having_come_out():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 200, 800))  # clouds: 200 W at a limit of 800 W
    assert limit(controller.on_grid(grid(clock, 400))) == pytest.approx(600)
    clock.advance(9)
    controller.on_device_state(telemetry(clock, 200, 600))
    clock.advance(1)
    lowered = controller.on_grid(grid(clock, 100))  # telemetry shows the clouds: the load fell to 300 W
    assert limit(lowered) == pytest.approx(300)
    clock.advance(1)
    # export without telemetry since: the load fell, or the sun came out to the 600 W still in force; but
    # the sun has given no more than 200 W in the last minutes, so the cut goes from 200 W
    decision = controller.on_grid(grid(clock, -300))
    assert limit(decision) < 300


def test_a_cut_under_export_after_a_cloud_goes_from_what_the_sun_gave_before_it():
    clock = FakeClock()
    controller = make(clock, target_w=0, deadband_w=10, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 375, 375))  # clear: 375 W at its limit
    controller.on_grid(grid(clock, 0))
    clock.advance(60)
    controller.on_device_state(telemetry(clock, 190, 375))  # a cloud: 190 W for a load of 396 W
    controller.on_grid(grid(clock, 206))
    clock.advance(10)
    controller.on_device_state(telemetry(clock, 190, 375))
    controller.on_grid(grid(clock, 206))
    clock.advance(1)
    # export without telemetry since: the load fell, or the sun came out (375 W a minute ago). The cut goes
    # from the highest output the inverter may give: 375 - 100 = 275 W, not 190 - 100 = 90 W (which
    # imports ~185 W for half a minute if the sun came out)
    assert limit(controller.on_grid(grid(clock, -100))) == pytest.approx(275)


def test_sun_limit_is_not_read_from_an_output_still_following_an_older_limit():
    clock = FakeClock()
    controller = make(clock, target_w=0, dead_time_s=8)
    controller.on_device_state(telemetry(clock, 600, 800))
    controller.on_grid(grid(clock, 0))
    controller.on_grid(grid(clock, -300))  # cut to 300 W
    clock.advance(3)
    controller.on_device_state(telemetry(clock, 600, 300))  # read-back 300 W, output not yet followed
    decision = controller.on_grid(grid(clock, 200))  # the load rose meanwhile
    # 600 W is not "sun-limited below a 300 W limit": the raise starts from the limits set, not from 600 W
    assert limit(decision) < 600


def test_limits_stay_within_bounds():
    clock = FakeClock()
    controller = make(clock, target_w=0)
    controller.on_device_state(telemetry(clock, 100, 100))
    decision = controller.on_grid(grid(clock, -5000))
    assert limit(decision) == INVERTER.min_w
    assert "minimum" in decision.state.reason


def test_disabled_sets_maximum_and_reenabled_regulates():
    clock = FakeClock()
    controller = make(clock)
    controller.set_enabled(False)
    decision = controller.on_grid(grid(clock, -200))
    assert decision.state.mode == "paused"
    assert limit(decision) == INVERTER.max_w
    controller.set_enabled(True)
    controller.on_device_state(telemetry(clock, 700, 800))
    decision = controller.on_grid(grid(clock, -200))
    assert decision.state.mode == "regulating"
    assert limit(decision) < INVERTER.max_w


def test_stale_grid_data_goes_to_failsafe_and_recovers():
    clock = FakeClock()
    controller = make(clock, stale_after_s=10)
    controller.on_device_state(telemetry(clock, 500, 500))
    controller.on_grid(grid(clock, 0))
    clock.advance(5)
    assert controller.tick().state.mode == "regulating"
    clock.advance(6)
    decision = controller.tick()
    assert decision.state.mode == "fail-safe"
    assert "stale" in decision.state.reason
    assert limit(decision) == INVERTER.min_w
    decision = controller.on_grid(grid(clock, 300))
    assert decision.state.mode == "regulating"
    assert limit(decision) > INVERTER.min_w


def test_waits_for_the_first_reading_before_failing_safe():
    clock = FakeClock()
    controller = make(clock, stale_after_s=10)
    waiting = controller.tick()
    assert waiting.state.mode == "idle"
    # inverters keep what they have until the meter had its chance; the actuator's watchdog is fed
    assert waiting.setpoints == {"opendtu": {}}
    clock.advance(11)
    assert controller.tick().state.mode == "fail-safe"


def test_missing_readings_do_not_refresh_and_the_cause_is_reported():
    clock = FakeClock()
    controller = make(clock, stale_after_s=10, failsafe_limit_w=100)
    controller.on_grid(grid(clock, 0))
    clock.advance(11)
    decision = controller.on_grid(grid(clock, None, error="HTTP 500 from meter"))
    assert decision.state.mode == "fail-safe"
    assert "HTTP 500" in decision.state.reason
    assert limit(decision) == 100


def test_dry_run_computes_and_marks():
    clock = FakeClock()
    controller = make(clock, dry_run=True, target_w=0)
    controller.on_device_state(telemetry(clock, 600, 800))
    decision = controller.on_grid(grid(clock, -300))
    assert decision.dry_run
    assert decision.state.mode == "dry-run"
    assert limit(decision) == pytest.approx(600 - 300)


def test_unreachable_inverter_gets_its_minimum_and_others_take_over():
    clock = FakeClock()
    controller = make(clock, target_w=0)
    second = DeviceInfo(device_id="2", name="garage", min_w=20, max_w=400)
    controller.set_actuator("other", [second])
    controller.on_device_state(telemetry(clock, 400, 800))
    down = telemetry(clock, 0, 400, device_id="2").model_copy(update={"actuator_id": "other", "reachable": False})
    controller.on_device_state(down)
    decision = controller.on_grid(grid(clock, 300))
    assert decision.setpoints["other"]["2"] == 20
    assert limit(decision) > 400


def test_total_is_split_over_actuators_proportionally():
    clock = FakeClock()
    controller = make(clock, target_w=0, raise_gain=1, allocation="proportional")
    controller.set_actuator("other", [DeviceInfo(device_id="2", name="garage", min_w=20, max_w=400)])
    decision = controller.on_grid(grid(clock, -600))  # no telemetry yet: both assumed at their maximum
    total = sum(decision.setpoints["opendtu"].values()) + sum(decision.setpoints["other"].values())
    assert total == pytest.approx(1200 - 600)
    assert limit(decision) - 40 == pytest.approx(2 * (decision.setpoints["other"]["2"] - 20))


def test_ages_are_judged_on_the_injected_clock_and_the_state_is_stamped_with_wall_time():
    # Before: the service passed time.time, so a wall-clock step back of 1 h kept stale data fresh for an hour.
    clock = FakeClock(now=5.0)  # a monotonic clock starts anywhere
    controller = ZeroExportController(ControllerSettings(stale_after_s=10), clock, wall_clock=lambda: 1_765_000_000.0)
    controller.set_actuator("opendtu", [INVERTER])
    decision = controller.on_grid(grid(clock, 100))
    assert decision.state.timestamp == 1_765_000_000.0
    clock.advance(11)
    assert controller.tick().state.mode == "fail-safe"


def test_extreme_but_valid_inputs_never_raise():
    # Before: power 1e308 from two inverters added up to infinity and ControllerState raised in tick().
    clock = FakeClock()
    huge = DeviceInfo(device_id="b", name="b", min_w=0, max_w=MAX_POWER_W)
    controller = ZeroExportController(ControllerSettings(), clock)
    controller.set_actuator("opendtu", [INVERTER, huge])
    for device_id in (INVERTER.device_id, "b"):
        controller.on_device_state(telemetry(clock, MAX_POWER_W, MAX_POWER_W, device_id=device_id))
    for power_w in (MAX_POWER_W, -MAX_POWER_W, 0.0):
        decision = controller.on_grid(grid(clock, power_w))
        assert all(math.isfinite(value) for value in decision.setpoints["opendtu"].values())
        clock.advance(1)
    assert controller.tick().state.output_w == 2 * MAX_POWER_W


@pytest.mark.parametrize(
    ("field", "value"),
    [("stale_after_s", 1e308), ("dead_time_s", 1e308), ("stale_after_s", 301), ("target_w", 1e6), ("dead_time_s", -1)],
)
def test_tunables_are_bounded(field, value):
    # Before: stale_after_s accepted 1e308, which disabled the fail-safe.
    with pytest.raises(InvalidMessageError):
        parse_message(ControllerTunablesUpdate, json.dumps({field: value}))


@pytest.mark.parametrize(
    "payload", ['{"target_w": "5"}', '{"dry_run": 1}', '{"dry_run": "true"}', '{"target_w": null}']
)
def test_tunable_commands_take_json_types_only(payload):
    with pytest.raises(InvalidMessageError):
        parse_message(ControllerTunablesUpdate, payload)


def test_an_announced_command_budget_holds_back_raises_before_cuts():
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(target_w=0, deadband_w=10, raise_gain=1.0), clock)
    budgeted = INVERTER.model_copy(update={"commands_per_hour": 12})
    controller.set_actuator("opendtu", [budgeted])
    controller.on_device_state(telemetry(clock, 100, 100))
    limits = []
    for _ in range(4):  # four raises spend the bucket down to its reserve
        clock.advance(30)
        controller.on_device_state(telemetry(clock, limits[-1] if limits else 100, limits[-1] if limits else 100))
        limits.append(limit(controller.on_grid(grid(clock, 50))))
    assert limits == [150, 200, 250, 300]
    clock.advance(30)
    controller.on_device_state(telemetry(clock, 300, 300))
    held = controller.on_grid(grid(clock, 50))
    assert limit(held) == 300  # a raise now would eat the reserve: held, and the state says so
    assert held.state.reason == "raise held back by the command budget of roof (next command in 480 s)"
    assert limit(controller.on_grid(grid(clock, -100))) == 200  # a cut (it stops export) still goes out


def test_a_trim_waits_while_it_would_leave_no_token_for_a_raise():
    # Trims around the target had spent the tokens a step of the load then lacked: a 1500 W appliance coming on
    # found the largest inverter without tokens and its raise waited 22 s (docs/benchmark.md, point 17).
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(target_w=0, deadband_w=10), clock)
    controller.set_actuator("opendtu", [INVERTER.model_copy(update={"commands_per_hour": 12})])
    controller.on_device_state(telemetry(clock, 600, 600))
    limits = [600.0]
    for _ in range(3):  # three cuts spend the bucket down to what a raise needs
        clock.advance(30)
        controller.on_device_state(telemetry(clock, limits[-1], limits[-1]))
        limits.append(limit(controller.on_grid(grid(clock, -100))))
    assert limits == [600, 500, 400, 300]
    clock.advance(30)
    controller.on_device_state(telemetry(clock, 300, 300))
    held = controller.on_grid(grid(clock, -30))
    assert limit(held) == 300  # the trim would leave no raise possible
    assert held.state.reason.startswith("cut held back by the command budget of roof (next command in")
    assert limit(controller.on_grid(grid(clock, 100))) > 300 + TRIM_W  # the raise it kept the token for


def test_a_trim_goes_to_an_inverter_whose_budget_keeps_a_raise():
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(target_w=0, deadband_w=10, raise_gain=1.0), clock)
    spent = INVERTER.model_copy(update={"commands_per_hour": 12})
    other = DeviceInfo(device_id="112182954321", name="balcony", min_w=20, max_w=400, commands_per_hour=12)
    controller.set_actuator("opendtu", [spent, other])
    setpoints = {spent.device_id: 300.0, other.device_id: 200.0}
    # Trims up and down go to the roof, with the most room; the second cut would leave it no raise.
    for step in range(4):
        for device_id, limit_w in setpoints.items():
            controller.on_device_state(telemetry(clock, limit_w, limit_w, device_id))
        clock.advance(30)
        before = dict(setpoints)
        setpoints = dict(controller.on_grid(grid(clock, -30 if step % 2 else 30)).setpoints["opendtu"])
    assert setpoints[spent.device_id] == before[spent.device_id]
    assert setpoints[other.device_id] == pytest.approx(before[other.device_id] - 30)


SHADED = DeviceInfo(device_id="112182954321", name="balcony", min_w=20, max_w=400)


def two_inverters(clock: FakeClock, roof: tuple[float, float], shaded: tuple[float, float]) -> ZeroExportController:
    """The roof and a shaded balcony inverter, each (output, limit) long since and measured now."""
    controller = ZeroExportController(ControllerSettings(target_w=20, deadband_w=15), clock)
    controller.set_actuator("opendtu", [INVERTER, SHADED])
    controller.on_device_state(telemetry(clock, *roof, INVERTER.device_id))
    controller.on_device_state(telemetry(clock, *shaded, SHADED.device_id))
    return controller


def test_import_is_raised_though_a_sun_limited_inverter_has_its_limit_above_its_output():
    # Its limit's 71 W above the 114 W it gives are not output the load can count on: the roof takes the import.
    clock = FakeClock()
    controller = two_inverters(clock, roof=(600, 600), shaded=(114, 185))
    setpoints = controller.on_grid(grid(clock, 88)).setpoints["opendtu"]
    assert min(setpoints[SHADED.device_id], 114) + setpoints[INVERTER.device_id] > 600 + 114 + 30


def test_a_raise_takes_no_output_from_an_inverter():
    # Split in proportion, the shaded inverter's share (its output is its available power) would fall below
    # the 103 W it gives: a raise would move output from one inverter to another, with one command more.
    clock = FakeClock()
    controller = two_inverters(clock, roof=(200, 200), shaded=(103, 274))
    setpoints = controller.on_grid(grid(clock, 60)).setpoints["opendtu"]
    assert setpoints[SHADED.device_id] >= 103
    assert setpoints[INVERTER.device_id] > 200


def test_an_inverter_out_of_budget_keeps_its_limit_and_the_others_take_its_share():
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(target_w=0, deadband_w=10, raise_gain=1.0), clock)
    small = DeviceInfo(device_id="112182954321", name="balcony", min_w=20, max_w=400, commands_per_hour=12)
    controller.set_actuator("opendtu", [INVERTER, small])
    setpoints = {INVERTER.device_id: 200.0, small.device_id: 100.0}  # in proportion: each raise moves both
    for _ in range(5):  # four raises spend the balcony's bucket down to its reserve; the fifth is held back
        for device_id, limit_w in setpoints.items():
            controller.on_device_state(telemetry(clock, limit_w, limit_w, device_id))
        clock.advance(30)
        before = dict(setpoints)
        setpoints = dict(controller.on_grid(grid(clock, 60)).setpoints["opendtu"])
    assert setpoints[small.device_id] == before[small.device_id]  # held back by its budget ...
    assert sum(setpoints.values()) == pytest.approx(sum(before.values()) + 60)  # ... the roof took all


def test_a_small_change_takes_one_command_a_large_one_moves_every_inverter():
    clock = FakeClock()
    controller = two_inverters(clock, roof=(300, 300), shaded=(150, 150))  # neither sun-limited
    setpoints = controller.on_grid(grid(clock, 120)).setpoints["opendtu"]  # 100 W import above target
    assert setpoints[SHADED.device_id] == 150  # one command: the roof, with the most room, takes it
    assert setpoints[INVERTER.device_id] > 300
    clock.advance(30)
    controller.on_device_state(telemetry(clock, setpoints[INVERTER.device_id], setpoints[INVERTER.device_id]))
    controller.on_device_state(telemetry(clock, 150, 150, SHADED.device_id))
    setpoints = controller.on_grid(grid(clock, -600)).setpoints["opendtu"]  # a 620 W cut: more than one ramps
    assert setpoints[SHADED.device_id] < 150  # in 2 s, so both move
    assert setpoints[INVERTER.device_id] < 300


def battery_info(**storage: float) -> DeviceInfo:
    """A 2 kWh battery, 800 W out, 1200 W in, kept between 10 and 95 %, following at once; ``storage`` overrides."""
    defaults = {"capacity_wh": 2000, "min_soc_pct": 10, "max_soc_pct": 95, "response_time_s": 0}
    return DeviceInfo(
        device_id="bat1", name="battery", kind="storage", min_w=-800, max_w=1200, storage=defaults | storage
    )


BATTERY = battery_info()


def battery_state(clock: FakeClock, soc_pct: float | None, power_w: float = 0.0) -> DeviceState:
    return DeviceState(
        timestamp=clock.now,
        actuator_id="battery",
        device_id="bat1",
        reachable=True,
        producing=False,
        power_w=power_w,
        soc_pct=soc_pct,
        updated_at=clock.now,
    )


def battery_alone(clock: FakeClock, soc_pct: float | None, **overrides) -> ZeroExportController:
    controller = ZeroExportController(ControllerSettings(target_w=20, **overrides), clock)
    controller.set_actuator("battery", [BATTERY])
    controller.on_device_state(battery_state(clock, soc_pct))
    return controller


def steps(controller: ZeroExportController, clock: FakeClock, soc_pct: float | None, grid_w: float, n: int) -> Decision:
    """``n`` readings of the same grid, the battery reporting it follows its setpoint between them."""
    decision = controller.on_grid(grid(clock, grid_w))
    for _ in range(n - 1):
        clock.advance(1)
        setpoint = decision.state.setpoints_w.get("bat1", 0.0)
        controller.on_device_state(battery_state(clock, soc_pct, setpoint))
        decision = controller.on_grid(grid(clock, grid_w))
    return decision


def test_a_battery_charges_from_export_and_discharges_on_import():
    # Before storage was allocated, a battery was regulated as an inverter: a discharge on export.
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    charging = steps(controller, clock, 50, -380, 1)
    assert charging.setpoints["battery"]["bat1"] == pytest.approx(0.5 * 400)  # divert_gain of the error
    assert "batteries charging 200 W" in charging.state.reason
    controller = battery_alone(clock, 50)
    discharging = steps(controller, clock, 50, 520, 1)
    assert discharging.setpoints["battery"]["bat1"] == pytest.approx(-250)
    assert "batteries discharging 250 W" in discharging.state.reason


def test_a_battery_is_never_moved_against_the_error_by_a_stale_reading_of_its_power():
    # A battery's power is read every few seconds: right after a raise of its charge the newest reading (100 W)
    # is older than the meter's, which already shows most of the raise. Counting setpoint - reading (610 W) as
    # still to come turned an export of 480 W into less charge (a closed loop with 2 s polls did so 5 times).
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    charge = steps(controller, clock, 50, -1400, 1).setpoints["battery"]["bat1"]
    assert charge == pytest.approx(710)
    controller.on_device_state(battery_state(clock, 50, 100.0))
    clock.advance(1)
    assert controller.on_grid(grid(clock, -460)).setpoints["battery"]["bat1"] >= charge


def test_a_discharge_meeting_an_export_is_cut_whole():
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    discharge = steps(controller, clock, 50, 5000, 20).setpoints["battery"]["bat1"]
    assert discharge == -800
    assert steps(controller, clock, 50, -200, 1).setpoints["battery"]["bat1"] == pytest.approx(-800 + 220)


def test_two_batteries_share_by_their_room_and_an_empty_one_leaves_its_share_to_the_other():
    clock = FakeClock()
    controller = battery_alone(clock, 50, divert_gain=1.0)
    small = BATTERY.model_copy(update={"device_id": "bat2", "name": "small", "min_w": -200, "max_w": 300})
    controller.set_actuator("battery", [BATTERY, small])
    controller.on_device_state(battery_state(clock, 50).model_copy(update={"device_id": "bat2"}))
    charging = controller.on_grid(grid(clock, -1520)).setpoints["battery"]  # 1500 W over 1200 + 300 W of room
    assert charging == pytest.approx({"bat1": 1200.0, "bat2": 300.0})
    controller.on_device_state(battery_state(clock, 50, 1200.0))
    controller.on_device_state(battery_state(clock, 5, 300.0).model_copy(update={"device_id": "bat2"}))
    clock.advance(5)
    discharging = controller.on_grid(grid(clock, 3020)).setpoints["battery"]  # bat2 at its reserve: none from it
    assert discharging["bat2"] == 0
    assert discharging["bat1"] == -800


def test_a_battery_stays_within_its_limits_however_long_the_error():
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    assert steps(controller, clock, 50, 5000, 20).setpoints["battery"]["bat1"] == -800  # its discharge limit
    # No windup: the first reading of an export starts charging, not after undoing 20 readings of import.
    assert steps(controller, clock, 50, -500, 1).setpoints["battery"]["bat1"] > -800 + 0.5 * 500


@pytest.mark.parametrize(
    ("soc_pct", "why"),
    [(None, "has no recent state of charge"), (10, "at its reserve (10 %)"), (9, "at its reserve (9 %)")],
)
def test_no_discharge_without_a_state_of_charge_or_at_the_reserve(soc_pct, why):
    clock = FakeClock()
    controller = battery_alone(clock, soc_pct)
    decision = steps(controller, clock, soc_pct, 600, 5)
    assert decision.setpoints["battery"]["bat1"] == 0
    assert f"battery battery {why}: no discharge" in decision.state.reason
    assert steps(controller, clock, soc_pct, -300, 1).setpoints["battery"]["bat1"] > 0  # it may still charge


def test_a_discharge_stops_when_the_state_of_charge_goes_stale():
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    assert steps(controller, clock, 50, 600, 5).setpoints["battery"]["bat1"] < -500
    clock.advance(31)  # the actuator still publishes its state, but the SoC sample is 31 s old
    decision = controller.on_grid(grid(clock, 600))
    assert decision.setpoints["battery"]["bat1"] == 0
    assert "has no recent state: no discharge" in decision.state.reason


def test_a_battery_whose_actuator_reports_its_limits_is_held_to_them_not_to_its_state_of_charge():
    # At 5 %, below the announced 10 % reserve, its actuator still lets 150 W through (solar passed through a
    # DC-coupled battery inverter), and no charge (its BMS): the controller follows the actuator, not the SoC.
    clock = FakeClock()
    controller = battery_alone(clock, 5)
    reported = {"charge_limit_w": 0.0, "discharge_limit_w": 150.0}
    controller.on_device_state(battery_state(clock, 5).model_copy(update=reported))
    decision = controller.on_grid(grid(clock, 600))
    assert decision.setpoints["battery"]["bat1"] == -150
    clock.advance(1)
    controller.on_device_state(battery_state(clock, 5, -150.0).model_copy(update=reported))
    decision = controller.on_grid(grid(clock, -400))
    assert decision.setpoints["battery"]["bat1"] == 0  # the discharge cut, and no charge: the actuator allows none
    assert "battery battery no charge at 5 % (its actuator)" in decision.state.reason
    clock.advance(31)  # its state goes stale: no discharge whatever it reported
    assert controller.on_grid(grid(clock, 600)).setpoints["battery"]["bat1"] == 0


def bridging(clock: FakeClock, deficit_w: float) -> ZeroExportController:
    """A battery (2 s to show a setpoint) discharging ``deficit_w`` while the inverter, raised from 100 W to 800 W
    3 s ago, has not followed yet (dead time 5 s, 100 W/s): as after a meter came back while the house imported."""
    controller = make(
        clock, target_w=20, divert_gain=1.0, dead_time_s=5, ramp_w_per_s=100, learn_dynamics=False, forecast_load=False
    )
    controller.set_actuator("battery", [battery_info(response_time_s=2)])
    controller.on_device_state(battery_state(clock, 50))
    controller.on_device_state(telemetry(clock, 100, 100))
    clock.advance(1)
    decision = controller.on_grid(grid(clock, 20 + deficit_w))
    assert limit(decision) == 800
    for _ in range(3):  # the battery follows; the meter shows the house covered
        clock.advance(1)
        controller.on_device_state(battery_state(clock, 50, decision.state.setpoints_w["bat1"]))
        decision = controller.on_grid(grid(clock, 20 + deficit_w + decision.state.setpoints_w["bat1"]))
    assert decision.state.setpoints_w["bat1"] == pytest.approx(-deficit_w)
    return controller


def test_a_discharge_gives_way_as_the_inverters_output_is_expected_to_rise_not_a_reading_after_it_exported():
    # The meter came back after a pull: the battery bridged the deficit and gave way only once the inverters'
    # rise showed as export, a reading and a write late: 0.32-0.35 Wh and up to 204 W exported in
    # tests/faults/test_battery_handover.py. Now it counts the rise the model expects within its response time.
    clock = FakeClock()
    controller = bridging(clock, 600)
    clock.advance(1)  # the output rises from 1 s on: 100 W within the battery's 2 s
    controller.on_device_state(battery_state(clock, 50, -600))
    assert controller.on_grid(grid(clock, 20)).setpoints["battery"]["bat1"] == pytest.approx(-500)


def test_an_expected_rise_of_the_inverters_stops_a_discharge_but_never_charges_from_the_grid():
    clock = FakeClock()
    controller = bridging(clock, 150)
    clock.advance(3)  # 1 s into the ramp: 200 W more within the battery's response time
    controller.on_device_state(battery_state(clock, 50, -150))
    controller.on_device_state(telemetry(clock, 200, 800))
    decision = controller.on_grid(grid(clock, 30))  # 10 W of import over the target
    assert decision.setpoints["battery"]["bat1"] == 0  # not the +40 W the expected rise alone would charge


def test_a_full_battery_takes_no_charge_and_its_share_goes_to_the_heater_at_once():
    clock = FakeClock()
    controller = battery_alone(clock, 95)
    heater = DeviceInfo(device_id="heater", name="heater", kind="consumer", min_w=0, max_w=2000)
    controller.set_actuator("pwm", [heater])
    decision = steps(controller, clock, 95, -420, 1)
    assert decision.setpoints["battery"]["bat1"] == 0
    assert decision.setpoints["pwm"]["heater"] == pytest.approx(0.5 * 440)
    assert "battery battery full (95 %): no charge" in decision.state.reason


@pytest.mark.parametrize(
    ("order", "battery_w", "heater_w"), [("storage-first", 1200, 340), ("diverters-first", 0, 1540)]
)
def test_surplus_fills_batteries_and_diverters_in_the_configured_order(order, battery_w, heater_w):
    clock = FakeClock()
    controller = battery_alone(clock, 50, surplus_order=order, divert_gain=1.0)
    controller.set_actuator(
        "pwm", [DeviceInfo(device_id="heater", name="heater", kind="consumer", min_w=0, max_w=2000)]
    )
    decision = steps(controller, clock, 50, -1520, 1)
    assert decision.setpoints["battery"]["bat1"] == pytest.approx(battery_w)
    assert decision.setpoints["pwm"]["heater"] == pytest.approx(heater_w)


def test_grid_data_stale_stops_a_discharge_at_once_and_holds_a_charge_until_the_inverters_are_limited():
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    controller.set_actuator("opendtu", [INVERTER])
    controller.on_device_state(telemetry(clock, 600, 800))
    assert steps(controller, clock, 50, 520, 3).setpoints["battery"]["bat1"] < 0
    clock.advance(11)
    failsafe = controller.tick()
    assert failsafe.state.mode == "fail-safe"
    assert failsafe.setpoints["battery"]["bat1"] == 0  # a discharge may already be exported

    controller = battery_alone(clock, 50)
    controller.set_actuator("opendtu", [INVERTER])
    controller.on_device_state(telemetry(clock, 600, 800))
    charge = steps(controller, clock, 50, -400, 3).setpoints["battery"]["bat1"]
    assert charge > 0
    clock.advance(11)
    assert controller.tick().setpoints["battery"]["bat1"] == charge  # absorbs production until it is limited
    controller.on_device_state(telemetry(clock, INVERTER.min_w, INVERTER.min_w))
    assert controller.tick().setpoints["battery"]["bat1"] == 0


def test_an_unreachable_battery_is_set_to_zero_and_left_out():
    clock = FakeClock()
    controller = battery_alone(clock, 50)
    assert steps(controller, clock, 50, 600, 3).setpoints["battery"]["bat1"] < 0
    controller.on_device_state(battery_state(clock, 50).model_copy(update={"reachable": False, "power_w": 1.0}))
    decision = controller.on_grid(grid(clock, 600))
    assert decision.setpoints["battery"]["bat1"] == 0
    assert "battery battery (bat1)" in decision.unreachable


def test_inverters_do_not_cut_for_an_export_a_battery_is_on_its_way_to_absorb():
    # A load drop while the battery discharges 470 W: the next reading still shows the whole export, since the
    # battery is on its way from -470 W to its new charge. Counting its new setpoint as absorbed already, the
    # inverters were cut by the export a second time (trace of test_battery_loop: limits 1200 -> 948 W, 240 W
    # imported for 4 s once they followed).
    clock = FakeClock()
    controller = battery_alone(clock, 50, divert_gain=1.0)
    controller.set_actuator("opendtu", [INVERTER])
    controller.on_device_state(telemetry(clock, 800, 800))
    assert steps(controller, clock, 50, 490, 1).setpoints["battery"]["bat1"] == pytest.approx(-470)
    clock.advance(5)  # the battery follows; the grid is at the target
    controller.on_device_state(battery_state(clock, 50, -470.0))
    controller.on_device_state(telemetry(clock, 800, 800))
    controller.on_grid(grid(clock, 20))
    clock.advance(1)
    charge = controller.on_grid(grid(clock, -1370)).setpoints["battery"]["bat1"]  # the load drops by 1390 W
    assert charge > 800
    clock.advance(1)
    second = controller.on_grid(grid(clock, -1370))  # the battery has not shown its new setpoint yet
    assert limit(second) == 800
    clock.advance(3)  # past its response time it still discharges: it is not coming, the inverters cut
    assert limit(controller.on_grid(grid(clock, -1370))) < 800


def test_the_reserve_kept_for_the_night_stops_a_discharge_above_the_batterys_own():
    clock = FakeClock()
    controller = battery_alone(clock, 30, battery_reserve_soc_pct=40)
    decision = steps(controller, clock, 30, 600, 3)
    assert decision.setpoints["battery"]["bat1"] == 0
    assert "battery battery at the reserve kept (30 %, 40 %): no discharge" in decision.state.reason
    assert steps(controller, clock, 30, -300, 1).setpoints["battery"]["bat1"] > 0  # it still charges
    controller = battery_alone(clock, 41, battery_reserve_soc_pct=40)
    assert steps(controller, clock, 41, 600, 3).setpoints["battery"]["bat1"] < 0


def test_a_battery_delivering_less_than_asked_is_not_wound_up_and_a_cut_reaches_its_real_power():
    # Its BMS holds the discharge at 500 W: asked 800 W, a cut of 300 W on an export would only undo the 300 W
    # it never delivered, and the export would go on for another step.
    clock = FakeClock()
    controller = battery_alone(clock, 50, divert_gain=1.0)
    assert steps(controller, clock, 50, 1020, 1).setpoints["battery"]["bat1"] == -800
    for _ in range(4):  # it shows 500 W, after its response time too
        clock.advance(1)
        controller.on_device_state(battery_state(clock, 50, -500.0))
        decision = controller.on_grid(grid(clock, 320))
    assert decision.setpoints["battery"]["bat1"] == -600  # 100 W beyond what it delivers, no further
    assert "battery battery delivers 500 W of the 800 W asked" in decision.state.reason
    clock.advance(1)
    controller.on_device_state(battery_state(clock, 50, -500.0))
    cut = controller.on_grid(grid(clock, -280)).setpoints["battery"]["bat1"]  # the load drops by 600 W
    assert cut >= -500 + 300  # the cut reaches the power it delivers
