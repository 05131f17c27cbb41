"""The Hoymiles model: dead time, ramp, the 2 % floor, the sun limit, night and radio link."""

import pytest

from zeropower.sim.inverter import EFFICIENCY, InverterModel
from zeropower.sim.settings import InverterSettings

PLENTY_OF_SUN = 2000.0


def make(**overrides) -> InverterModel:
    settings = {"serial": "114182912345", "name": "roof", "max_w": 800, "dead_time_s": 4.0, "ramp_w_per_s": 100.0}
    return InverterModel(InverterSettings(**(settings | overrides)))


def run(inverter: InverterModel, start_s: float, seconds: float, pv_w: float = PLENTY_OF_SUN, dt_s: float = 0.1):
    """Step from start_s for seconds; return the time reached."""
    now_s = start_s
    for _ in range(round(seconds / dt_s)):
        now_s += dt_s
        inverter.step(now_s, dt_s, pv_w)
    return now_s


def settled(inverter: InverterModel) -> float:
    return run(inverter, 0.0, 20.0)


def test_starts_at_full_limit_and_ramps_up():
    inverter = make()
    run(inverter, 0.0, 2.0)
    assert inverter.output_w == pytest.approx(200)
    assert inverter.limit_w == 800
    run(inverter, 2.0, 10.0)
    assert inverter.output_w == pytest.approx(800)


def test_a_new_limit_waits_for_the_dead_time_then_ramps():
    inverter = make()
    now_s = settled(inverter)
    assert inverter.command_limit(300, now_s) == 300
    now_s = run(inverter, now_s, 3.8)
    assert (inverter.limit_w, inverter.output_w) == (800, pytest.approx(800))
    now_s = run(inverter, now_s, 0.7)  # dead time over half a second ago: ramping down at 100 W/s
    assert inverter.limit_w == 300
    assert inverter.output_w == pytest.approx(750, abs=10)
    now_s = run(inverter, now_s, 3.5)
    assert inverter.output_w == pytest.approx(400, abs=10)
    run(inverter, now_s, 2.0)
    assert inverter.output_w == pytest.approx(300)


def test_commands_take_effect_in_order_each_after_its_dead_time():
    inverter = make(dead_time_s=1.0, ramp_w_per_s=10_000)
    now_s = settled(inverter)
    inverter.command_limit(500, now_s)
    now_s = run(inverter, now_s, 0.5)
    inverter.command_limit(200, now_s)
    now_s = run(inverter, now_s, 0.6)
    assert inverter.output_w == pytest.approx(500)
    run(inverter, now_s, 0.5)
    assert inverter.output_w == pytest.approx(200)


@pytest.mark.parametrize(("command_w", "in_force_w"), [(0, 16), (10, 16), (16, 16), (5000, 800), (-5, 16)])
def test_limits_are_clamped_to_two_percent_and_nameplate(command_w, in_force_w):
    inverter = make(dead_time_s=0)
    assert inverter.command_limit(command_w, 0.0) == in_force_w
    run(inverter, 0.0, 20.0)
    assert inverter.output_w == pytest.approx(in_force_w)
    assert inverter.limit_share == pytest.approx(in_force_w / 800)


def test_output_never_exceeds_the_sun_and_dc_power_includes_the_losses():
    inverter = make()
    run(inverter, 0.0, 20.0, pv_w=400)
    assert inverter.output_w == pytest.approx(400 * EFFICIENCY)
    assert inverter.dc_power_w == pytest.approx(400)
    run(inverter, 20.0, 0.1, pv_w=100)  # a cloud: the output drops at once, no ramp
    assert inverter.output_w == pytest.approx(100 * EFFICIENCY)
    run(inverter, 20.1, 1.0, pv_w=400)  # sun back: ramps up again
    assert inverter.output_w == pytest.approx(100 * EFFICIENCY + 100, abs=0.01)


def test_at_night_it_is_off_unreachable_and_forgets_its_limit_and_daily_yield():
    inverter = make(dead_time_s=0)
    inverter.command_limit(300, 0.0)
    now_s = run(inverter, 0.0, 3600.0, dt_s=1.0)
    assert inverter.yield_day_wh == pytest.approx(300, abs=5)
    now_s = run(inverter, now_s, 10.0, pv_w=0)
    assert (inverter.reachable, inverter.producing, inverter.output_w) == (False, False, 0)
    assert inverter.command_limit(100, now_s) is None
    run(inverter, now_s, 1.0)
    assert inverter.reachable
    assert inverter.limit_w == 800
    assert inverter.yield_day_wh < 1
    assert inverter.yield_total_wh == pytest.approx(300, abs=5)


def test_without_radio_link_commands_are_lost_but_it_keeps_producing():
    inverter = make(dead_time_s=0)
    now_s = settled(inverter)
    inverter.link_ok = False
    assert inverter.command_limit(100, now_s) is None
    run(inverter, now_s, 10.0)
    assert not inverter.reachable
    assert inverter.output_w == pytest.approx(800)
