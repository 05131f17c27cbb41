"""The command policy in simulated time: clamping, threshold, intervals, refresh, fail-safe, dry run, budget."""

from bisect import bisect_left

import pytest

from zeropower.actuator_opendtu.policy import Command, CommandPolicy
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuSettings

ROOF = "114182912345"
GARAGE = "114182967890"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: FakeClock, **overrides) -> CommandPolicy:
    values = {
        "inverters": [
            {"serial": ROOF, "max_w": 800, "min_w": 40},
            {"serial": GARAGE, "max_w": 600, "min_w": 30, "failsafe_limit_w": 100},
        ],
        "min_change_w": 10,
        "min_interval_s": 5,
        "min_interval_reduce_s": 2,
        "setpoint_timeout_s": 30,
        "refresh_interval_s": 60,
    }
    values.update(overrides)
    return CommandPolicy(ActuatorOpenDtuSettings.model_validate(values), clock)


def test_first_setpoint_is_sent_at_once_and_clamped():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 5000, GARAGE: -20}, dry_run=False)
    assert policy.next_commands() == [Command(ROOF, 800), Command(GARAGE, 30)]
    assert policy.next_commands() == []
    assert policy.mode()[0] == "following"


def test_changes_below_the_threshold_are_skipped():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    policy.next_commands()
    clock.advance(10)
    policy.on_setpoints({ROOF: 309}, dry_run=False)
    assert policy.next_commands() == []
    policy.on_setpoints({ROOF: 291}, dry_run=False)
    assert policy.next_commands() == []
    policy.on_setpoints({ROOF: 310}, dry_run=False)
    assert policy.next_commands() == [Command(ROOF, 310)]


def test_zero_threshold_sends_nothing_for_an_unchanged_setpoint():
    clock = FakeClock()
    policy = make(clock, min_change_w=0)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    policy.next_commands()
    clock.advance(10)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    assert policy.next_commands() == []
    policy.on_setpoints({ROOF: 301}, dry_run=False)
    assert policy.next_commands() == [Command(ROOF, 301)]


def test_a_raise_within_the_interval_is_deferred_and_the_newest_value_sent_later():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    policy.next_commands()
    clock.advance(1)
    policy.on_setpoints({ROOF: 400}, dry_run=False)
    assert policy.next_commands() == []
    assert policy.wake_at() == pytest.approx(1005)
    clock.advance(2)
    policy.on_setpoints({ROOF: 450}, dry_run=False)
    assert policy.next_commands() == []
    clock.now = 1005
    assert policy.next_commands() == [Command(ROOF, 450)]


def test_a_reduction_waits_only_the_shorter_reduce_interval():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 600}, dry_run=False)
    policy.next_commands()
    clock.advance(1)
    policy.on_setpoints({ROOF: 200}, dry_run=False)
    assert policy.next_commands() == []
    assert policy.wake_at() == pytest.approx(1002)
    clock.advance(1)
    assert policy.next_commands() == [Command(ROOF, 200)]


def test_a_deferred_change_that_returns_within_the_threshold_is_dropped():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    policy.next_commands()
    clock.advance(1)
    policy.on_setpoints({ROOF: 400}, dry_run=False)
    policy.on_setpoints({ROOF: 305}, dry_run=False)
    clock.advance(5)
    assert policy.next_commands() == []


def test_the_newest_limit_is_refreshed_periodically():
    clock = FakeClock()
    policy = make(clock, setpoint_timeout_s=1000)
    policy.on_setpoints({ROOF: 300}, dry_run=False)
    policy.next_commands()
    clock.advance(30)
    policy.on_setpoints({ROOF: 305}, dry_run=False)  # below the threshold: not sent now
    assert policy.next_commands() == []
    assert policy.wake_at() == pytest.approx(1060)
    clock.advance(30)
    assert policy.next_commands() == [Command(ROOF, 305)]


def test_resend_sends_again_at_once():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300, GARAGE: 200}, dry_run=False)
    policy.next_commands()
    policy.resend(GARAGE)
    assert policy.next_commands() == [Command(GARAGE, 200)]
    policy.resend()
    assert policy.next_commands() == [Command(ROOF, 300), Command(GARAGE, 200)]


def test_unknown_and_disabled_devices_are_ignored_and_reported():
    clock = FakeClock()
    policy = make(
        clock,
        inverters=[{"serial": ROOF, "max_w": 800}, {"serial": GARAGE, "max_w": 600, "enabled": False}],
    )
    ignored = policy.on_setpoints({ROOF: 300, GARAGE: 300, "999": 100}, dry_run=False)
    assert sorted(ignored) == [GARAGE, "999"]
    assert policy.next_commands() == [Command(ROOF, 300)]


def test_dry_run_sends_nothing_and_live_setpoints_resume():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300}, dry_run=True)
    assert policy.mode()[0] == "dry-run"
    assert policy.next_commands() == []
    policy.on_setpoints({ROOF: 320}, dry_run=False)
    assert policy.next_commands() == [Command(ROOF, 320)]


def test_fail_safe_after_the_timeout_and_recovery_on_the_next_setpoint():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 700, GARAGE: 500}, dry_run=False)
    policy.next_commands()
    clock.advance(29.9)
    assert policy.mode()[0] == "following"
    assert policy.wake_at() == pytest.approx(1030)
    clock.advance(0.1)
    mode, reason = policy.mode()
    assert mode == "fail-safe"
    assert "30 s" in reason
    assert policy.next_commands() == [Command(ROOF, 40), Command(GARAGE, 100)]
    clock.advance(5)
    policy.on_setpoints({ROOF: 650, GARAGE: 450}, dry_run=False)
    assert policy.mode()[0] == "following"
    assert policy.next_commands() == [Command(ROOF, 650), Command(GARAGE, 450)]


def test_fail_safe_without_any_setpoint_since_start():
    clock = FakeClock()
    policy = make(clock)
    assert policy.mode()[0] == "waiting"
    assert policy.next_commands() == []
    clock.advance(30)
    mode, reason = policy.mode()
    assert (mode, "since start" in reason) == ("fail-safe", True)
    assert policy.next_commands() == [Command(ROOF, 40), Command(GARAGE, 100)]


def test_fail_safe_after_a_dry_run_sends_nothing():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoints({ROOF: 300}, dry_run=True)
    clock.advance(30)
    mode, reason = policy.mode()
    assert mode == "fail-safe"
    assert "dry run" in reason
    assert policy.next_commands() == []
    assert policy.wake_at() is None


def test_fail_safe_limits_are_refreshed_too():
    clock = FakeClock()
    policy = make(clock)
    clock.advance(30)
    policy.next_commands()
    assert policy.wake_at() == pytest.approx(1090)
    clock.advance(60)
    assert policy.next_commands() == [Command(ROOF, 40), Command(GARAGE, 100)]


def test_wake_at_is_the_setpoint_timeout_while_waiting():
    clock = FakeClock()
    policy = make(clock)
    assert policy.wake_at() == pytest.approx(1030)


def budgeted(clock: FakeClock, commands_per_hour: int, **overrides) -> CommandPolicy:
    """A policy for ROOF alone with a command budget and a setpoint timeout of 1000 s."""
    inverter = {"serial": ROOF, "max_w": 800, "min_w": 40, "commands_per_hour": commands_per_hour}
    return make(clock, **{"inverters": [inverter], "setpoint_timeout_s": 1000, **overrides})


def send(clock: FakeClock, policy: CommandPolicy, at: float, setpoint_w: float) -> list[Command]:
    """Set the clock to ``at``, hand over one setpoint for ROOF and return the commands due."""
    clock.now = at
    policy.on_setpoints({ROOF: setpoint_w}, dry_run=False)
    return policy.next_commands()


def test_raises_leave_the_reserve_to_reductions_and_nothing_is_lost():
    clock = FakeClock()
    policy = budgeted(clock, 42)  # a burst of 6, refilled at 42 - 6 = 36 an hour: a token per 100 s
    assert send(clock, policy, 1000, 300) == [Command(ROOF, 300)]  # 6 -> 5 tokens
    for at, setpoint_w in ((1005, 400), (1010, 500), (1015, 600)):  # raises: 5.05 -> 4.05 -> 3.10 -> 2.15
        assert send(clock, policy, at, setpoint_w) == [Command(ROOF, setpoint_w)]
    assert send(clock, policy, 1020, 700) == []  # a raise must leave 2 tokens
    assert policy.wake_at() == pytest.approx(1100)
    assert send(clock, policy, 1022, 200) == [Command(ROOF, 200)]  # a reduction may: 2.22 -> 1.22
    assert send(clock, policy, 1024, 100) == [Command(ROOF, 100)]  # and the last token: 1.24 -> 0.24
    assert send(clock, policy, 1026, 50) == []  # only 0.26 tokens
    assert policy.wake_at() == pytest.approx(1100)
    assert send(clock, policy, 1050, 700) == []
    assert send(clock, policy, 1100, 650) == []  # a raise again: waits for 3 tokens
    assert policy.wake_at() == pytest.approx(1300)
    clock.now = 1299.5
    assert policy.next_commands() == []
    clock.now = policy.wake_at()
    assert policy.next_commands() == [Command(ROOF, 650)]  # the newest setpoint


def test_no_hour_holds_more_commands_than_the_budget():
    for commands_per_hour in (240, 120, 30):
        clock = FakeClock(0)
        policy = budgeted(clock, commands_per_hour, min_interval_s=3, min_interval_reduce_s=2)
        sent = [t for t in range(3 * 3600) if send(clock, policy, t, 100 if t % 20 < 10 else 700)]
        busiest = max(bisect_left(sent, t + 3600) - i for i, t in enumerate(sent))
        assert commands_per_hour - 8 <= busiest <= commands_per_hour


def test_the_default_budget_is_240_an_hour():
    clock = FakeClock(0)
    policy = make(clock, setpoint_timeout_s=1000, min_interval_s=3)
    sent = [t for t in range(2 * 3600) if send(clock, policy, t, 100 if t % 20 < 10 else 700)]
    assert 232 <= len([t for t in sent if t >= 3600]) <= 240


def test_a_refresh_waits_for_a_full_bucket():
    clock = FakeClock()
    policy = budgeted(clock, 42)
    send(clock, policy, 1000, 300)
    send(clock, policy, 1005, 400)  # 4.05 tokens left: full (6) again at 1200
    assert policy.wake_at() == pytest.approx(1200)
    clock.now = 1199
    assert policy.next_commands() == []
    clock.now = 1200
    assert policy.next_commands() == [Command(ROOF, 400)]


def drained(clock: FakeClock) -> CommandPolicy:
    """A policy for ROOF whose bucket is empty at 1019, its newest setpoint 300 W from 1021."""
    policy = budgeted(clock, 12, setpoint_timeout_s=30)  # refilled at 6 an hour: a token per 600 s
    for at, setpoint_w in ((1000, 300), (1005, 400), (1010, 500), (1015, 600), (1017, 500), (1019, 400)):
        assert send(clock, policy, at, setpoint_w) == [Command(ROOF, setpoint_w)]
    assert send(clock, policy, 1021, 300) == []
    return policy


def test_the_fail_safe_limit_is_not_held_back_by_the_budget():
    clock = FakeClock()
    policy = drained(clock)
    clock.now = 1051  # 30 s after the last setpoint
    assert policy.mode()[0] == "fail-safe"
    assert policy.next_commands() == [Command(ROOF, 40)]
    assert policy.wake_at() > 1051 + 60  # its refresh waits for the budget


def test_a_forced_resend_is_not_held_back_by_the_budget():
    clock = FakeClock()
    policy = drained(clock)
    policy.resend(ROOF)
    assert policy.next_commands() == [Command(ROOF, 300)]
