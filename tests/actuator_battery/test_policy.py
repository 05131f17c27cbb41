"""The battery policy, stepped in simulated time: limits, the SoC window, timeouts, outages, the start."""

import math

import pytest

from zeropower.actuator_battery.drivers.base import BatteryReading
from zeropower.actuator_battery.policy import BatteryPolicy
from zeropower.actuator_battery.service import reading_problem
from zeropower.actuator_battery.settings import ActuatorBatterySettings, BatteryConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: FakeClock, **battery: object) -> BatteryPolicy:
    fields = {
        "device_id": "bat",
        "driver": {"type": "zendure", "url": "http://127.0.0.1", "serial": "A1"},
        "capacity_wh": 2000,
        "max_charge_w": 1000,
        "max_discharge_w": 800,
        "reserve_soc_pct": 10,
        "max_soc_pct": 95,
    }
    config = BatteryConfig(**(fields | battery))
    settings = ActuatorBatterySettings(
        batteries=[config], poll_interval_s=2, soc_stale_after_s=30, discharge_timeout_s=10, charge_timeout_s=45
    )
    return BatteryPolicy(config, settings, clock)


def read(policy: BatteryPolicy, clock: FakeClock, soc: float | None = 50, power_w: float = 0) -> None:
    policy.on_reading(BatteryReading(measured_at=clock.now, soc_pct=soc, power_w=power_w))


def following(clock: FakeClock, **battery: object) -> BatteryPolicy:
    policy = make(clock, **battery)
    read(policy, clock)
    return policy


@pytest.mark.parametrize(("wanted", "expected"), [(-5000, -800), (5000, 1000), (-300, -300), (250, 250), (0, 0)])
def test_setpoints_are_clamped_to_the_limits(wanted, expected):
    clock = FakeClock()
    policy = following(clock)
    policy.on_setpoint(wanted, dry_run=False)
    assert policy.decide().target_w == expected


@pytest.mark.parametrize(
    ("soc", "wanted", "expected", "why"),
    [
        (None, -300, 0, "state of charge unknown"),
        (10, -300, 0, "at or below the reserve"),
        (9, -300, 0, "at or below the reserve"),
        (10.5, -300, -300, None),
        (95, 300, 0, "at or above 95"),
        (94, 300, 300, None),
        (None, 300, 300, None),  # the BMS stops a full battery; a charge never exports
        (5, 300, 300, None),
    ],
)
def test_the_soc_window(soc, wanted, expected, why):
    clock = FakeClock()
    policy = make(clock)
    read(policy, clock, soc=soc)
    policy.on_setpoint(wanted, dry_run=False)
    decision = policy.decide()
    assert decision.target_w == expected
    if why:
        assert why in decision.reason


def test_a_stale_soc_stops_a_discharge_on_the_monotonic_clock():
    clock = FakeClock()
    policy = following(clock)
    for _ in range(3):  # setpoints keep coming, but the SoC is no longer read
        clock.now += 10.5
        policy.on_setpoint(-300, dry_run=False)
    decision = policy.decide()
    assert decision.target_w == 0
    assert "stale" in decision.reason
    assert policy.soc_pct() is None
    read(policy, clock)
    assert policy.decide().target_w == -300


def test_when_setpoints_stop_a_discharge_goes_to_zero_after_10_s():
    clock = FakeClock()
    policy = following(clock)
    policy.on_setpoint(-300, dry_run=False)
    clock.now += 9.9
    read(policy, clock)
    assert policy.decide().target_w == -300
    assert policy.wake_at() == pytest.approx(1010)
    clock.now += 0.1
    decision = policy.decide()
    assert (decision.target_w, decision.mode) == (0, "fail-safe")


def test_when_setpoints_stop_a_charge_is_held_45_s_then_zero():
    clock = FakeClock()
    policy = following(clock)
    policy.on_setpoint(400, dry_run=False)
    clock.now += 44.9
    read(policy, clock)
    assert policy.decide().target_w == 400
    clock.now += 0.1
    decision = policy.decide()
    assert (decision.target_w, decision.mode) == (0, "fail-safe")


def test_unreachable_writes_nothing_then_zero_once_it_answers_and_the_old_setpoint_is_not_replayed():
    clock = FakeClock()
    policy = following(clock)
    policy.on_setpoint(-300, dry_run=False)
    policy.on_error("no answer within 2 s")
    decision = policy.decide()
    assert (decision.target_w, decision.mode, policy.reachable) == (None, "fail-safe", False)
    assert "no answer" in decision.reason
    clock.now += 1
    read(policy, clock)
    assert policy.decide().target_w == 0
    clock.now += 5
    assert policy.decide().target_w == 0  # still no new setpoint
    policy.on_setpoint(-200, dry_run=False)
    assert policy.decide().target_w == -200


def test_at_start_a_discharge_found_goes_to_zero_at_once():
    clock = FakeClock()
    policy = make(clock)
    assert policy.decide().target_w is None  # nothing read yet: nothing done
    read(policy, clock, power_w=-450)
    decision = policy.decide()
    assert (decision.target_w, decision.mode) == (0, "waiting")


def test_at_start_a_charge_found_is_held_until_the_charge_timeout():
    clock = FakeClock()
    policy = make(clock)
    read(policy, clock, power_w=600)
    clock.now += 44
    assert policy.decide().target_w is None
    clock.now += 1
    assert policy.decide().target_w == 0


def test_at_start_an_idle_battery_is_left_until_the_discharge_timeout_then_set_to_zero():
    clock = FakeClock()
    policy = make(clock)
    read(policy, clock, power_w=2)
    assert policy.decide().target_w is None
    clock.now += 10
    assert policy.decide().target_w == 0


def test_dry_run_and_disabled_hold_zero():
    clock = FakeClock()
    policy = following(clock)
    policy.on_setpoint(-300, dry_run=True)
    assert (policy.decide().target_w, policy.decide().mode) == (0, "dry-run")
    disabled = following(clock, enabled=False)
    disabled.on_setpoint(-300, dry_run=False)
    assert disabled.decide().target_w == 0


def test_settings_name_the_inconsistent_field():
    with pytest.raises(ValueError, match="reserve_soc_pct"):
        make(FakeClock(), reserve_soc_pct=96)
    with pytest.raises(ValueError, match="batteries"):
        ActuatorBatterySettings(batteries=[])
    with pytest.raises(ValueError, match="discharge_timeout_s"):
        ActuatorBatterySettings(batteries=[make(FakeClock())._battery], discharge_timeout_s=50, charge_timeout_s=45)
    with pytest.raises(ValueError, match="serial"):
        BatteryConfig(
            device_id="b",
            driver={"type": "zendure", "url": "http://x", "serial": ""},
            capacity_wh=1,
            max_charge_w=1,
            max_discharge_w=1,
        )
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        BatteryConfig(
            device_id="b", driver={"type": "tesla", "url": "http://x"}, capacity_wh=1, max_charge_w=1, max_discharge_w=1
        )


def test_a_battery_first_reached_after_failures_is_found_not_recovered():
    clock = FakeClock()
    policy = make(clock)
    policy.on_error("connection refused")  # the device was not up yet when the service started
    read(policy, clock, power_w=600)
    assert policy.decide().target_w is None  # found charging: held, as at any start


@pytest.mark.parametrize(
    ("reading", "cause"),
    [
        (BatteryReading(measured_at=1.0, soc_pct=math.nan, power_w=0), "state of charge nan"),
        (BatteryReading(measured_at=1.0, soc_pct=101, power_w=0), "state of charge 101"),
        (BatteryReading(measured_at=1.0, soc_pct=50, power_w=math.inf), "power inf"),
        (BatteryReading(measured_at=1.0, soc_pct=50, power_w=0, setpoint_w=-1e308), "setpoint -1e+308"),
        (BatteryReading(measured_at=math.nan, soc_pct=50, power_w=0), "reading time nan"),
    ],
)
def test_the_service_refuses_a_reading_that_breaks_the_driver_contract(reading, cause):
    # Any driver (Marstek's too) is checked again before its values reach the policy and the wire models.
    problem = reading_problem(reading)
    assert problem is not None
    assert cause in problem
    assert reading_problem(BatteryReading(measured_at=1.0, soc_pct=None, power_w=None)) is None


# ---- cut-off with hysteresis, the voltage bound, solar pass-through, stop states (any driver that reports them) ----

DC_DRIVER = {"type": "opendtu", "serial": "116180000001", "nameplate_w": 800, "soc": {"topic": "bms", "path": "soc"}}


def reading(clock: FakeClock, soc: float | None = 50, *, volt: float | None = None, solar: float | None = None):
    return BatteryReading(measured_at=clock.now, soc_pct=soc, power_w=0, voltage_v=volt, solar_w=solar)


def test_the_discharge_stops_at_the_reserve_and_resumes_only_above_the_hysteresis():
    clock = FakeClock()
    policy = make(clock, resume_soc_pct=20)
    policy.on_setpoint(-300, dry_run=False)
    trace = []
    for soc in (30, 15, 10.5, 10, 11, 15, 19, 20, 20.5, 18, 12, 10.5, 10, 12):
        clock.now += 1
        policy.on_reading(reading(clock, soc))
        policy.on_setpoint(-300, dry_run=False)
        trace.append(policy.decide().target_w)
    # on until 10 % (at the reserve), off until above 20 %, on again until 10 %: no start at 11 or 19 %
    assert trace == [-300, -300, -300, 0, 0, 0, 0, 0, -300, -300, -300, -300, 0, 0]


def test_without_a_resume_value_the_discharge_resumes_just_above_the_reserve():
    clock = FakeClock()
    policy = make(clock)
    policy.on_setpoint(-300, dry_run=False)
    for soc, expected in ((10, 0), (10.1, -300), (10, 0)):
        policy.on_reading(reading(clock, soc))
        assert policy.decide().target_w == expected


def test_a_stop_at_the_reserve_is_a_standby_and_regulation_at_zero_is_not():
    clock = FakeClock()
    policy = make(clock, resume_soc_pct=20)
    policy.on_reading(reading(clock, 50))
    policy.on_setpoint(0, dry_run=False)
    assert (policy.decide().target_w, policy.decide().standby) == (0, False)  # ordinary regulation
    policy.on_reading(reading(clock, 10))
    decision = policy.decide()
    assert (decision.target_w, decision.standby) == (0, True)  # a stop state even when 0 W is asked
    assert "at or below the reserve" in decision.reason
    policy.on_reading(reading(clock, 15))
    policy.on_setpoint(-300, dry_run=False)
    decision = policy.decide()
    assert (decision.target_w, decision.standby) == (0, True)
    assert "above 20 %" in decision.reason


@pytest.mark.parametrize(
    ("setup", "standby"),
    [
        ("timeout", True),
        ("dry_run", True),
        ("stale", True),
        ("recovered", True),
        ("found_discharging", True),
        ("charge_clamped", False),
    ],
)
def test_stop_states_are_standby_decisions(setup, standby):
    clock = FakeClock()
    policy = make(clock, max_charge_w=0, driver=DC_DRIVER)
    if setup == "found_discharging":
        read(policy, clock, power_w=-300)
    else:
        read(policy, clock)
    if setup == "timeout":
        policy.on_setpoint(-300, dry_run=False)
        clock.now += 10
    elif setup == "dry_run":
        policy.on_setpoint(-300, dry_run=True)
    elif setup == "stale":
        clock.now += 31
        policy.on_setpoint(-300, dry_run=False)
    elif setup == "recovered":
        policy.on_setpoint(-300, dry_run=False)
        policy.on_error("gone")
        read(policy, clock)
    elif setup == "charge_clamped":
        policy.on_setpoint(400, dry_run=False)
    decision = policy.decide()
    assert (decision.target_w, decision.standby) == (0, standby)


def test_the_voltage_bound_stops_and_its_hysteresis_resumes():
    clock = FakeClock()
    policy = make(clock, min_voltage_v=48.0, resume_voltage_v=50.0)
    policy.on_setpoint(-300, dry_run=False)
    trace = []
    for volt in (51, 48.5, 48.0, 49.0, 50.0, 50.1, 49.0):
        policy.on_reading(reading(clock, 60, volt=volt))
        trace.append(policy.decide().target_w)
    assert trace == [-300, -300, 0, 0, 0, -300, -300]
    policy.on_reading(reading(clock, 60, volt=None))  # a bound set, its value unknown: no discharge
    decision = policy.decide()
    assert (decision.target_w, decision.standby) == (0, True)
    assert "voltage unknown" in decision.reason


def test_a_voltage_only_battery_discharges_on_its_voltage():
    clock = FakeClock()
    policy = make(clock, min_voltage_v=48.0)
    policy.on_reading(reading(clock, None, volt=52.0))
    policy.on_setpoint(-300, dry_run=False)
    assert policy.decide().target_w == -300
    policy.on_reading(reading(clock, None, volt=47.9))
    assert policy.decide().target_w == 0


def test_while_stopped_solar_is_passed_through_and_limits_report_exactly_that():
    clock = FakeClock()
    policy = make(clock, max_charge_w=0, driver=DC_DRIVER, resume_soc_pct=20)
    policy.on_reading(reading(clock, 9, solar=300))  # at/below the reserve: the sun recharges it first
    policy.on_setpoint(-500, dry_run=False)
    assert policy.decide().target_w == 0
    assert policy.limits() == (0, 0)
    policy.on_reading(reading(clock, 12, solar=300))  # above the reserve, below the resume value: pass-through
    decision = policy.decide()
    assert decision.target_w == -282  # 300 W DC x 0.94
    assert not decision.standby
    assert "solar pass-through" in decision.reason
    assert policy.limits() == (0, 282)
    policy.on_setpoint(-100, dry_run=False)
    assert policy.decide().target_w == -100  # less than the sun: as asked
    policy.on_reading(reading(clock, 12, solar=0))
    assert policy.limits() == (0, 0)
    assert policy.decide().standby
    policy.on_reading(reading(clock, 21, solar=0))  # resumed: the battery's whole power again
    assert policy.limits() == (0, 800)


def test_pass_through_below_the_device_floor_is_a_standby():
    clock = FakeClock()
    config = BatteryConfig(
        device_id="b", driver=DC_DRIVER, capacity_wh=2000, max_charge_w=0, max_discharge_w=800, resume_soc_pct=20
    )
    settings = ActuatorBatterySettings(batteries=[config])
    policy = BatteryPolicy(config, settings, clock, min_discharge_w=40)
    policy.on_reading(reading(clock, 15, solar=30))  # 28 W AC: below the 40 W the running inverter would feed
    policy.on_setpoint(-300, dry_run=False)
    assert (policy.decide().target_w, policy.decide().standby) == (0, True)
    policy.on_reading(reading(clock, 15, solar=100))
    assert policy.decide().target_w == -94


def test_the_new_settings_name_the_inconsistent_field():
    with pytest.raises(ValueError, match="resume_soc_pct"):
        make(FakeClock(), resume_soc_pct=10)
    with pytest.raises(ValueError, match="resume_voltage_v needs min_voltage_v"):
        make(FakeClock(), resume_voltage_v=50)
    with pytest.raises(ValueError, match="resume_voltage_v"):
        make(FakeClock(), min_voltage_v=50, resume_voltage_v=49)
    with pytest.raises(ValueError, match="max_charge_w must be 0 with the opendtu driver"):
        make(FakeClock(), driver=DC_DRIVER)
    with pytest.raises(ValueError, match="nameplate_w"):
        make(FakeClock(), driver=DC_DRIVER, max_charge_w=0, max_discharge_w=1000)
    with pytest.raises(ValueError, match=r"driver\.voltage"):
        make(FakeClock(), driver=DC_DRIVER, max_charge_w=0, min_voltage_v=48)
    with pytest.raises(ValueError, match=r"driver\.soc"):
        make(FakeClock(), driver=DC_DRIVER | {"soc": None}, max_charge_w=0)
    assert make(FakeClock(), max_charge_w=0).decide().target_w is None  # any battery may be discharge-only
