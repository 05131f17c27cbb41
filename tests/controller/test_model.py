"""The inverter output model: limits in force, ramped output, the range over plausible cases, the sun's cap."""

import pytest

from zeropower.controller.model import EARLIER_S, LATER_S, SUN_MEMORY_S, Dynamics, OutputModel

DYNAMICS = Dynamics(dead_time_s=8.0, ramp_w_per_s=100.0)
MARGIN_W = 20.0


def model_at(limit_w: float, output_w: float) -> OutputModel:
    """An inverter at ``limit_w`` long since, measured at ``output_w`` at t=0."""
    model = OutputModel(max_w=800.0)
    model.adopt(limit_w)
    model.measure(0.0, output_w, limit_w, MARGIN_W, DYNAMICS)
    return model


def test_a_limit_is_in_force_after_the_dead_time():
    model = model_at(800, 600)
    model.command(1.0, 300)
    assert model.limit_in_force(8.9, 8.0) == 800
    assert model.limit_in_force(9.0, 8.0) == 300
    assert model.newest_limit_w == 300


def test_the_output_ramps_to_a_new_limit_after_the_dead_time():
    model = model_at(600, 600)
    model.command(0.0, 200)
    low, high = model.output_range(10.0, DYNAMICS)  # early case: in force at 7 s, 3 s of ramp; late: not yet
    assert low == pytest.approx(300)
    assert high == pytest.approx(600)
    assert model.output_range(20.0, DYNAMICS) == (200, 200)


def test_output_now_spans_shown_not_yet_shown_and_mid_ramp():
    model = model_at(600, 600)
    model.command(0.0, 200)
    assert model.output_now(3.0, DYNAMICS) == (200, 600)  # shown already, or not yet


def test_a_measurement_after_every_change_showed_is_the_output():
    model = model_at(600, 600)
    model.command(0.0, 200)
    settled_at = DYNAMICS.dead_time_s + LATER_S + 400 / DYNAMICS.ramp_w_per_s
    model.measure(settled_at, 190, 200, MARGIN_W, DYNAMICS)  # 10 W under the limit: measurement, not to come
    assert model.output_now(settled_at + 1, DYNAMICS) == (190, 190)


def test_a_measurement_mid_ramp_continues_the_ramp_from_there():
    model = model_at(600, 600)
    model.command(0.0, 200)
    model.measure(10.0, 400, 200, MARGIN_W, DYNAMICS)  # half way down
    assert model.output_range(11.0, DYNAMICS)[0] == pytest.approx(300)  # early case: 100 W/s further down
    assert model.output_now(30.0, DYNAMICS) == (200, 200)


def test_output_below_every_possible_limit_is_the_suns_cap():
    model = model_at(800, 250)
    assert model.sun_cap_w == 250
    assert model.final_output_w() == 250
    model.command(1.0, 600)
    assert model.final_output_w() == 250  # a limit above the sun's cap changes nothing


def test_a_cut_too_new_to_be_in_force_keeps_the_suns_cap():
    # Before: the cut (and its read-back) counted as a limit that may be in force, the 600 W were no longer
    # the sun's, and the output was expected to rise to the 800 W in force: a load estimate 200 W too high
    # until the cut showed (a trace of the steps scenario, two inverters: the forecast learned a drop from it).
    model = model_at(800, 600)
    model.command(0.0, 300)
    model.measure(3.0, 600, 300, MARGIN_W, DYNAMICS)  # read-back 300, sent 3 s ago: before the earliest 7 s
    assert model.sun_cap_w == 600
    assert model.expected_output_w(4.0, DYNAMICS) == 600


def test_no_sun_cap_once_a_cut_may_be_in_force():
    model = model_at(800, 600)
    model.command(0.0, 300)
    model.measure(DYNAMICS.dead_time_s - EARLIER_S, 550, 300, MARGIN_W, DYNAMICS)  # perhaps ramping down to it
    assert model.sun_cap_w is None


def test_a_new_limit_the_output_already_shows_is_in_force():
    model = model_at(800, 800)
    model.command(0.0, 300)
    model.measure(2.0, 300, 300, MARGIN_W, DYNAMICS)  # quicker than its dead time: at the new limit, not the sun
    assert model.sun_cap_w is None


def test_no_sun_cap_while_the_output_rises_to_its_limit():
    model = model_at(100, 100)
    model.command(0.0, 600)
    model.measure(10.0, 300, 600, MARGIN_W, DYNAMICS)
    assert model.sun_cap_w is None


def test_the_sun_coming_out_widens_the_range_only_without_fresh_telemetry():
    model = model_at(800, 700)
    model.measure(60.0, 250, 800, MARGIN_W, DYNAMICS)  # a cloud
    model.command(61.0, 400)
    assert model.output_now(80.0, DYNAMICS) == (250, 250)  # fresh: the clouds are measured
    model.fresh = False
    assert model.output_now(80.0, DYNAMICS) == (250, 400)  # the sun may have come out to the limit in force


def test_the_sun_comes_out_to_at_most_what_it_gave_recently():
    model = model_at(800, 500)
    model.measure(60.0, 250, 800, MARGIN_W, DYNAMICS)  # a cloud: 250 W, after 500 W a minute ago
    model.fresh = False
    assert model.output_now(70.0, DYNAMICS) == (250, 500)
    model.measure(SUN_MEMORY_S + 30, 260, 800, MARGIN_W, DYNAMICS)  # 500 W is forgotten; 260 W is the high
    model.fresh = False
    assert model.recent_high_w == 260
    assert model.output_now(SUN_MEMORY_S + 31, DYNAMICS) == (260, 260)  # a clear sky with a sun-limited output


def test_superseded_limits_are_forgotten():
    model = model_at(800, 800)
    for second in range(100):
        model.command(float(second), 400.0 + second)
    horizon = 100 + DYNAMICS.dead_time_s + LATER_S + 800 / DYNAMICS.ramp_w_per_s + EARLIER_S
    model.measure(horizon + 200, 499, 499, MARGIN_W, DYNAMICS)
    assert len(model.limits) <= 1
    assert model.newest_limit_w == 499


def test_the_expected_output_follows_a_limit_after_the_dead_time_itself():
    model = model_at(600, 600)
    model.command(0.0, 200)
    assert model.expected_output_w(7.0, DYNAMICS) == 600  # not yet in force at 8 s
    assert model.expected_output_w(10.0, DYNAMICS) == pytest.approx(400)  # 2 s of ramp at 100 W/s
    settled_at = DYNAMICS.dead_time_s + LATER_S + 400 / DYNAMICS.ramp_w_per_s
    model.measure(settled_at, 190, 200, MARGIN_W, DYNAMICS)
    assert model.expected_output_w(settled_at + 1, DYNAMICS) == 190  # measured after it showed: the truth
