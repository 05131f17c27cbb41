"""The benchmark's metrics on hand-made runs."""

import pytest

from bench.controller.metrics import BIG_STEP_W, Run, load_steps, measure, percentile, settle_bound_s, settle_times


def make_run(grid, *, load=None, output=None, pv=None, commands=(), target=0.0, inverters=1):
    n = len(grid)
    return Run(
        target_w=target,
        min_limit_w=40.0,
        load_w=load if load is not None else [500.0] * n,
        pv_cap_w=pv if pv is not None else [800.0] * n,
        grid_w=grid,
        output_w=output if output is not None else [500.0] * n,
        command_times_s=list(commands),
        inverters=inverters,
    )


def test_percentile_interpolates():
    assert percentile([], 0.99) == 0.0
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile([0, 10], 0.95) == pytest.approx(9.5)


def test_energy_figures_integrate_seconds():
    grid = [-100.0] * 1800 + [200.0] * 1800  # half an hour exporting 100 W, half importing 200 W
    m = measure(make_run(grid, target=20.0))
    assert m.export_wh == pytest.approx(50.0)
    assert m.import_over_target_wh == pytest.approx(90.0)  # 180 W above the 20 W target for 0.5 h
    assert m.peak_export_w == 100.0
    assert m.export_over_50_s == 1800


def test_import_is_only_counted_while_the_sun_is_up():
    m = measure(make_run([300.0] * 3600, pv=[0.0] * 3600, output=[0.0] * 3600))
    assert m.import_over_target_wh == 0.0


def test_curtailed_counts_usable_sun_limited_away():
    n = 3600
    # load 600 W, target 0, sun 700 W, output held at 400 W: 200 W usable limited away
    m = measure(make_run([200.0] * n, load=[600.0] * n, output=[400.0] * n, pv=[700.0] * n))
    assert m.curtailed_usable_wh == pytest.approx(200.0)
    # the sun gives only 300 W: nothing was curtailed
    m = measure(make_run([300.0] * n, load=[600.0] * n, output=[300.0] * n, pv=[300.0] * n))
    assert m.curtailed_usable_wh == 0.0


def test_commands_per_inverter_per_producing_hour_and_peak_hour():
    n = 7200
    output = [300.0] * 3600 + [0.0] * 3600
    commands = [(10, "a"), (20, "a"), (25, "b"), (30, "a"), (4000, "a"), (4001, "b")]
    m = measure(make_run([0.0] * n, output=output, commands=commands, inverters=2))
    assert m.commands_per_h == pytest.approx(3.0)  # 6 commands, 2 inverters, 1 producing hour
    assert m.max_commands_in_hour == 3  # inverter a in the first hour


def test_load_steps_need_300_w_within_2_s():
    load = [200.0] * 10 + [350.0] + [600.0] * 10 + [650.0] * 10 + [300.0] * 10
    assert load_steps(load) == [10, 31]  # the slow 50 W change is no step


def test_settle_time_is_until_grid_stays_within_the_band():
    load = [200.0] * 10 + [800.0] * 60
    grid = [0.0] * 10 + [600.0] * 8 + [30.0] * 52  # back within ±50 W 8 s after the step
    (settle,) = settle_times(make_run(grid, load=load, output=[0.0] * 70))
    assert settle == 8.0


def test_steps_the_controller_cannot_follow_are_left_out():
    load = [200.0] * 10 + [1500.0] * 60  # more than the 800 W the sun gives
    assert settle_times(make_run([0.0] * 70, load=load)) == []


def test_big_steps_are_the_1500_w_ones_and_have_their_own_p95():
    load = [300.0] * 20 + [1800.0] * 60 + [1400.0] * 60 + [300.0] * 60
    grid = [0.0] * 20 + [900.0] * 12 + [0.0] * 48 + [400.0] * 6 + [0.0] * 54 + [-800.0] * 9 + [0.0] * 51
    run = make_run(grid, load=load, pv=[2500.0] * 200, output=[0.0] * 200)
    assert settle_times(run) == [12.0, 6.0, 9.0]
    assert settle_times(run, BIG_STEP_W) == [12.0]  # the 400 W and 1100 W steps are not ±1500 W
    m = measure(run)
    assert (m.big_settle_p95_s, m.big_steps) == (12.0, 1)


def test_the_bound_is_the_dead_time_plus_2_s_per_inverter():
    assert settle_bound_s(8.0, 1) == 10.0
    assert settle_bound_s(18.0, 3) == 24.0
