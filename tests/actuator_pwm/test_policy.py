"""The duty policy: setpoint to duty, dry run, fail-safe timeout, disabled."""

import pytest

from zeropower.actuator_pwm.policy import DutyPolicy
from zeropower.actuator_pwm.settings import ActuatorPwmSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def policy(**values) -> tuple[DutyPolicy, Clock]:
    values.setdefault("rated_w", 1000)
    values.setdefault("output", {"type": "sim"})
    clock = Clock()
    return DutyPolicy(ActuatorPwmSettings.model_validate(values), clock), clock


def test_waiting_then_following_with_clamped_fraction():
    duties, _ = policy()
    assert duties.mode()[0] == "waiting"
    assert duties.duty() is None  # as found: a restarted actuator changes nothing by itself
    duties.on_setpoint(250, dry_run=False)
    assert duties.mode()[0] == "following"
    assert duties.duty() == 0.25
    duties.on_setpoint(5000, dry_run=False)
    assert duties.duty() == 1
    duties.on_setpoint(-300, dry_run=False)
    assert duties.duty() == 0


def test_a_command_without_this_device_keeps_the_setpoint_alive():
    duties, clock = policy(setpoint_timeout_s=10)
    duties.on_setpoint(500, dry_run=False)
    clock.now += 8
    duties.on_setpoint(None, dry_run=False)
    clock.now += 8
    assert (duties.mode()[0], duties.duty()) == ("following", 0.5)


def test_dry_run_computes_but_drives_zero():
    duties, _ = policy(mapping={"type": "phase_fired"})
    duties.on_setpoint(500, dry_run=True)
    assert duties.mode()[0] == "dry-run"
    assert duties.requested_duty() == pytest.approx(0.5)
    assert duties.duty() == 0


def test_timeout_gives_fail_safe_until_the_next_setpoint():
    duties, clock = policy(setpoint_timeout_s=10)
    assert duties.wake_at() == 110
    duties.on_setpoint(500, dry_run=False)
    clock.now += 10
    mode, reason = duties.mode()
    assert mode == "fail-safe"
    assert "no setpoint from the controller for more than 10 s" in reason
    assert duties.duty() == 0
    assert duties.wake_at() is None
    duties.on_setpoint(500, dry_run=False)
    assert duties.duty() == 0.5


def test_fail_safe_from_start_names_it():
    duties, clock = policy(setpoint_timeout_s=10)
    clock.now += 10
    assert duties.mode() == ("fail-safe", "no setpoint since start for more than 10 s: output at duty 0")


def test_disabled_stays_at_zero():
    duties, clock = policy(enabled=False)
    duties.on_setpoint(500, dry_run=False)
    clock.now += 100
    assert (duties.mode()[0], duties.duty(), duties.wake_at()) == ("waiting", 0, None)
