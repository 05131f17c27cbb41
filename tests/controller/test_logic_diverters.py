"""The decision logic with diverters (consumers) beside inverters, stepped in simulated time."""

import pytest

from tests.controller.test_logic import INVERTER, FakeClock, grid, telemetry
from zeropower.controller.logic import ZeroExportController
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import DeviceInfo, DeviceState

HEATER = DeviceInfo(device_id="heater", name="water heater", kind="consumer", min_w=0, max_w=2000)


def make(clock: FakeClock, *, inverter: bool = True, **overrides) -> ZeroExportController:
    controller = ZeroExportController(ControllerSettings(**overrides), clock)
    if inverter:
        controller.set_actuator("opendtu", [INVERTER])
    controller.set_actuator("pwm", [HEATER])
    return controller


def heater_state(clock: FakeClock, power_w: float, reachable: bool = True) -> DeviceState:
    return DeviceState(
        timestamp=clock.now,
        actuator_id="pwm",
        device_id="heater",
        reachable=reachable,
        producing=False,
        power_w=power_w,
    )


def steady(clock: FakeClock, controller: ZeroExportController, output_w: float, limit_w: float) -> None:
    """Confirmed inverter output, grid at the target, heater off."""
    controller.on_device_state(telemetry(clock, output_w, limit_w))
    controller.on_device_state(heater_state(clock, 0))
    controller.on_grid(grid(clock, controller.settings.target_w))


def test_surplus_goes_into_the_diverter_before_any_curtailment():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=0.5)
    steady(clock, controller, 800, 800)
    decision = controller.on_grid(grid(clock, -600))
    assert decision.setpoints["pwm"]["heater"] == pytest.approx(300)
    assert decision.setpoints["opendtu"][INVERTER.device_id] == 800  # not curtailed
    assert decision.state.consumption_w == pytest.approx(300)
    assert "diverting 300 W" in decision.state.reason
    clock.advance(1)
    decision = controller.on_grid(grid(clock, -300))  # the heater took 300 W
    assert decision.setpoints["pwm"]["heater"] == pytest.approx(450)
    assert decision.setpoints["opendtu"][INVERTER.device_id] == 800


def test_inverters_are_curtailed_only_once_the_diverter_is_at_its_maximum():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0)
    steady(clock, controller, 800, 800)
    decision = controller.on_grid(grid(clock, -1500))
    assert decision.setpoints["pwm"]["heater"] == 1500
    assert decision.setpoints["opendtu"][INVERTER.device_id] == 800
    clock.advance(1)
    decision = controller.on_grid(grid(clock, -700))  # 2200 W surplus in all: 200 W more than the heater takes
    assert decision.setpoints["pwm"]["heater"] == 2000
    assert decision.setpoints["opendtu"][INVERTER.device_id] == pytest.approx(600)


def test_a_deficit_first_reduces_the_diverter_then_raises_the_inverters():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0, raise_gain=1.0)
    steady(clock, controller, 800, 800)
    controller.on_grid(grid(clock, -2200))  # heater to the maximum, inverter cut by 200 W
    clock.advance(10)
    controller.on_device_state(telemetry(clock, 600, 600))  # the cut arrived
    decision = controller.on_grid(grid(clock, 500))  # load rose by 500 W
    assert decision.setpoints["pwm"]["heater"] == 1500  # the diverter gives way at once
    # ... and the inverter is raised back towards its maximum, so the heater can take the difference again
    assert decision.setpoints["opendtu"][INVERTER.device_id] == pytest.approx(800)


def test_curtail_first_cuts_the_inverters_and_uses_the_diverter_only_at_their_minimum():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0, diverter_order="curtail-first")
    steady(clock, controller, 800, 800)
    decision = controller.on_grid(grid(clock, -500))
    # the diverter bridges the dead time, and the inverter is cut by what the diverter now draws
    assert decision.setpoints["pwm"]["heater"] == 500
    assert decision.setpoints["opendtu"][INVERTER.device_id] == pytest.approx(300)
    clock.advance(10)
    controller.on_device_state(telemetry(clock, 300, 300))  # the cut arrived: the heater now imports
    decision = controller.on_grid(grid(clock, 500))
    assert decision.setpoints["pwm"]["heater"] == 0
    assert decision.setpoints["opendtu"][INVERTER.device_id] == pytest.approx(300)


def test_switched_off_diverters_only_give_way_as_the_inverters_take_over():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0)
    steady(clock, controller, 800, 800)
    controller.on_grid(grid(clock, -500))  # the heater takes 500 W
    controller.settings = controller.settings.model_copy(update={"divert": False})
    clock.advance(1)
    decision = controller.on_grid(grid(clock, -100))  # surplus: the heater is not raised ...
    assert decision.setpoints["pwm"]["heater"] == 500
    assert decision.setpoints["opendtu"][INVERTER.device_id] < 800 - 500  # ... the inverter takes its draw over
    assert "diverters switched off: 500 W left to release" in decision.state.reason
    clock.advance(10)
    controller.on_device_state(telemetry(clock, 200, 200))  # the cut arrived: the heater now imports
    decision = controller.on_grid(grid(clock, 400))
    assert decision.setpoints["pwm"]["heater"] == pytest.approx(100)  # it gives way by the import
    clock.advance(1)
    decision = controller.on_grid(grid(clock, 150))
    assert decision.setpoints["pwm"]["heater"] == 0
    assert "diverters switched off" not in decision.state.reason  # nothing left to release


def test_a_switched_off_diverter_without_inverters_is_off_at_once():
    clock = FakeClock()
    controller = make(clock, inverter=False, target_w=0, divert_gain=1.0)
    controller.on_device_state(heater_state(clock, 0))
    controller.on_grid(grid(clock, -700))
    controller.settings = controller.settings.model_copy(update={"divert": False})
    clock.advance(1)
    decision = controller.on_grid(grid(clock, 0))
    assert decision.setpoints["pwm"]["heater"] == 0  # nothing could take its draw over
    assert decision.state.reason == "diverters switched off"


def test_a_diverter_alone_integrates_each_reading_like_the_reference_system():
    clock = FakeClock()
    controller = make(clock, inverter=False, target_w=-15, deadband_w=5, divert_gain=0.4)
    setpoints = []
    surplus_w = 800.0
    for _ in range(20):
        clock.advance(1)
        heater_w = setpoints[-1] if setpoints else 0.0
        decision = controller.on_grid(grid(clock, heater_w - surplus_w))
        setpoints.append(decision.setpoints["pwm"]["heater"])
    assert setpoints[0] == pytest.approx(0.4 * 785)
    assert setpoints == sorted(setpoints)  # no overshoot
    assert setpoints[-1] == pytest.approx(785, abs=5 / 0.4)


def test_diverter_is_off_when_paused_stale_or_unreachable():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0)
    steady(clock, controller, 800, 800)
    assert controller.on_grid(grid(clock, -500)).setpoints["pwm"]["heater"] == 500
    controller.set_enabled(False)
    decision = controller.tick()
    assert decision.setpoints["pwm"]["heater"] == 0
    assert "diverters off" in decision.state.reason
    controller.set_enabled(True)
    assert controller.on_grid(grid(clock, -500)).setpoints["pwm"]["heater"] == 500
    clock.advance(controller.settings.stale_after_s + 1)
    decision = controller.tick()
    assert decision.state.mode == "fail-safe"
    assert decision.setpoints["opendtu"][INVERTER.device_id] == 40
    assert decision.setpoints["pwm"]["heater"] == 500  # holds: released now, its draw would be exported
    assert "diverters keep their draw" in decision.state.reason
    clock.advance(1)
    controller.on_device_state(telemetry(clock, 40, 40))  # the fail-safe minimum took effect
    decision = controller.tick()
    assert decision.setpoints["pwm"]["heater"] == 0
    assert "diverters off" in decision.state.reason
    controller.on_device_state(heater_state(clock, 0, reachable=False))
    decision = controller.on_grid(grid(clock, 300))
    assert decision.setpoints["pwm"]["heater"] == 0
    assert decision.setpoints["opendtu"][INVERTER.device_id] == pytest.approx(40 + 0.7 * 300)  # inverters regulate


def test_a_restarted_controller_adopts_the_reported_heater_power_and_inverter_limit():
    # Before: a restarted controller set the heater from 0 W (up to -300 W at the grid after a restart).
    clock = FakeClock()
    controller = make(clock, target_w=0)
    controller.on_device_state(telemetry(clock, 800, 800))
    controller.on_device_state(heater_state(clock, 300))
    decision = controller.on_grid(grid(clock, 5))  # inside the deadband: nothing to correct
    assert decision.setpoints == {"opendtu": {INVERTER.device_id: 800}, "pwm": {"heater": 300}}


def test_device_states_that_arrive_before_the_announcement_are_adopted():
    clock = FakeClock()
    controller = ZeroExportController(ControllerSettings(target_w=0), clock)
    controller.on_device_state(heater_state(clock, 250))  # retained state first
    controller.set_actuator("pwm", [HEATER])
    assert controller.on_grid(grid(clock, 0)).setpoints == {"pwm": {"heater": 250}}


def test_every_actuator_is_fed_inside_the_deadband():
    # Before: no setpoint at all inside the deadband, so actuator-opendtu fell to its fail-safe after 30 s.
    clock = FakeClock()
    controller = make(clock, target_w=0, diverter_order="curtail-first")
    decision = controller.on_grid(grid(clock, 3))
    assert decision.setpoints == {"opendtu": {}, "pwm": {}}


def test_fail_safe_releases_the_diverters_after_the_settle_timeout_without_telemetry():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0)
    steady(clock, controller, 800, 800)
    controller.on_grid(grid(clock, -400))
    clock.advance(controller.settings.stale_after_s + 1)
    assert controller.tick().setpoints["pwm"]["heater"] == 400
    clock.advance(controller.settle_timeout_s - 1)
    assert controller.tick().setpoints["pwm"]["heater"] == 400
    clock.advance(1)
    assert controller.tick().setpoints["pwm"]["heater"] == 0


def test_an_offline_actuator_is_not_controlled_and_the_state_says_so():
    clock = FakeClock()
    controller = make(clock, target_w=0, divert_gain=1.0)
    steady(clock, controller, 800, 800)
    controller.set_actuator_online("opendtu", False)
    decision = controller.on_grid(grid(clock, -400))
    assert decision.setpoints == {"pwm": {"heater": 400}}  # the heater alone takes the surplus
    assert "actuator opendtu offline" in decision.state.reason
    controller.set_actuator_online("pwm", False)
    decision = controller.on_grid(grid(clock, -400))
    assert decision.state.mode == "idle"
    assert decision.state.reason == "nothing is controlled: actuator opendtu, pwm offline"
    assert decision.setpoints == {}
    controller.set_actuator_online("opendtu", True)
    assert controller.on_grid(grid(clock, -400)).state.mode == "regulating"
