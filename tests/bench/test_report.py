"""The target check: issue 13's targets against reactive, per plant and preset."""

from bench.controller.metrics import Metrics
from bench.controller.report import checks, reach_lines
from bench.controller.sim import Result


def result(controller, scenario, *, export, curtailed, imported=100.0, commands=100, big=None, plant="single"):
    metrics = Metrics(
        export_wh=export,
        import_over_target_wh=imported,
        curtailed_usable_wh=curtailed,
        peak_export_w=0.0,
        p99_export_w=0.0,
        export_over_50_s=0,
        commands_per_h=0.0,
        max_commands_in_hour=commands,
        settle_p95_s=None,
        steps=0,
        big_settle_p95_s=big,
        big_steps=0 if big is None else 10,
    )
    return Result(controller, scenario, "typical", metrics, None, plant)


def test_typical_needs_export_at_most_085_and_curtailed_at_most_1_x_reactive():
    results = [
        result("reactive", "day", export=100.0, curtailed=100.0),
        result("zeropower", "day", export=85.0, curtailed=100.0),
    ]
    assert checks(results, ["day"])[0].passed
    results[1] = result("zeropower", "day", export=86.0, curtailed=100.0)
    (check,) = checks(results, ["day"])
    assert not check.passed
    assert "export 86.0 Wh = 0.86 x reactive's 100.0 (target ≤ 0.85 x) MISSED" in check.detail


def test_commands_import_and_the_budgeted_run_are_checked_too():
    base = [result("reactive", "day", export=100.0, curtailed=100.0)]
    assert not checks([*base, result("zeropower", "day", export=50, curtailed=50, commands=241)], ["day"])[0].passed
    assert not checks([*base, result("zeropower", "day", export=50, curtailed=50, imported=111)], ["day"])[0].passed
    budgeted = [
        result("zeropower", "day", export=50, curtailed=50),
        result("zeropower-120", "day", export=60, curtailed=56),
    ]
    (check,) = checks([*base, *budgeted], ["day"])
    assert not check.passed
    assert "1.16 x the default's (≤ 1.15 x) MISSED" in check.detail


def test_the_settle_bound_holds_for_the_steps_scenario_only():
    runs = [result("reactive", scenario, export=100.0, curtailed=100.0, plant="three") for scenario in ("steps", "hob")]
    runs += [
        result("zeropower", "steps", export=50.0, curtailed=50.0, big=14.0, plant="three"),  # bound: 8 + 3 x 2 s
        result("zeropower", "hob", export=50.0, curtailed=50.0, big=29.0, plant="three"),  # pulses, not steps
    ]
    assert checks(runs, ["steps", "hob"])[0].passed
    runs[2] = result("zeropower", "steps", export=50.0, curtailed=50.0, big=15.0, plant="three")
    assert not checks(runs, ["steps", "hob"])[0].passed


def test_the_settle_check_shows_reactives_settle_beside_the_bound():
    runs = [
        result("reactive", "steps", export=100.0, curtailed=100.0, big=15.0, plant="three"),
        result("zeropower", "steps", export=50.0, curtailed=50.0, big=26.0, plant="three"),
    ]
    (check,) = checks(runs, ["steps"])
    assert "±1500 W steps settled after 26 s (p95; ≤ 14 s; reactive 15 s) MISSED" in check.detail


def test_the_statistical_front_says_whether_the_targets_are_within_reach():
    base = [result("reactive", "day", export=100.0, curtailed=100.0)]
    alone = [result("statistical", "day", export=80.0, curtailed=95.0)]
    assert "reached by statistical" in reach_lines([*base, *alone], ["day"])
    # 0.70 / 1.10 and 0.95 / 0.80: a third of the day at the second, the rest at the first: 0.78 / 1.0
    mix = [
        result("statistical", "day", export=95.0, curtailed=80.0),
        result("statistical-40", "day", export=70.0, curtailed=110.0),
    ]
    assert "reached by mixing statistical and statistical-40 over the day" in reach_lines([*base, *mix], ["day"])
    beyond = [
        result("statistical", "day", export=95.0, curtailed=90.0),
        result("statistical-40", "day", export=86.0, curtailed=110.0),
    ]
    assert "out of reach" in reach_lines([*base, *beyond], ["day"])


def test_the_paced_front_is_judged_apart_from_the_free_one():
    runs = [
        result("reactive", "day", export=100.0, curtailed=100.0),
        result("statistical", "day", export=80.0, curtailed=95.0),
        result("paced-statistical", "day", export=90.0, curtailed=105.0),
    ]
    assert "reached by statistical" in reach_lines(runs, ["day"])
    paced = reach_lines(runs, ["day"], reference="paced-statistical")
    assert "paced-statistical 0.90 / 1.05" in paced
    assert "out of reach" in paced
