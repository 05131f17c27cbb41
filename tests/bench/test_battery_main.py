"""The battery bench's command line (what a full or filtered run covers) and its robustness table."""

import dataclasses

import pytest

from bench.battery import __main__ as cli
from bench.battery import scenarios
from bench.battery.metrics import BatteryMetrics
from bench.battery.report import robustness
from bench.battery.sim import CONTROLLERS, BatteryResult
from bench.controller.scenario import Scenario

ROBUST = ["zeropower", "oracle", "onbattery", "oracle-dc"]


def test_the_full_run_is_the_main_table_of_seed_1_typical_and_the_robustness_grid():
    plan = cli.plan([])
    assert plan.tables == [("typical", 1)]
    assert (plan.robust, plan.presets, plan.seeds) == (ROBUST, ["fast", "typical", "slow"], [1, 2, 3])
    assert plan.write_doc
    (main,), robust = cli.runs(plan)
    # the main table as before: scenario by scenario, every controller; the oracles have no preset
    assert main[:6] == [
        ("zeropower", "clear", 1, "typical"),
        ("zeropower-target-0", "clear", 1, "typical"),
        ("zeropower-no-battery", "clear", 1, "typical"),
        ("oracle", "clear", 1, None),
        ("onbattery", "clear", 1, "typical"),
        ("oracle-dc", "clear", 1, None),
    ]
    assert len(main) == 18
    assert len(robust) == 3 * 3 * 3 * 4
    # the oracles once per seed and scenario, seed 1 typical shared with the main table
    assert len(set(main) | set(robust)) == 18 + 2 * 3 * 3 * 3 - 2 * 3 + 2 * 3 * 2
    assert not cli.plan(["--no-docs"]).write_doc


def test_filters_choose_the_main_tables_and_the_robustness_grid():
    plan = cli.plan(["--controllers", "zeropower,oracle", "--presets", "fast, slow", "--seeds", "2,3"])
    assert plan.tables == [("fast", 2), ("fast", 3), ("slow", 2), ("slow", 3)]
    assert (plan.robust, plan.presets, plan.seeds) == (["zeropower", "oracle"], ["fast", "slow"], [2, 3])
    assert not plan.write_doc
    assert cli.plan(["--presets", "slow"]).robust == []  # one preset and one seed: the main table says it all
    assert cli.plan(["--seeds", "1,2", "--controllers", "zeropower,onbattery"]).robust == []  # no oracle
    plan = cli.plan(["--scenarios", "cloudy", "--hours", "2"])
    assert (plan.controllers, plan.scenarios, plan.tables, plan.hours) == (
        list(CONTROLLERS),
        ["cloudy"],
        [("typical", 1)],
        2,
    )


@pytest.mark.parametrize(
    "argv", [["--presets", "medium"], ["--seeds", "1,x"], ["--seeds", ","], ["--controllers", "x"]]
)
def test_unknown_choices_are_refused(argv):
    with pytest.raises(SystemExit):
        cli.plan(argv)


def metrics(self_consumption, export=0.0, pv=5000.0):
    zero = {field.name: 0.0 for field in dataclasses.fields(BatteryMetrics)}
    return BatteryMetrics(**{**zero, "pv_wh": pv, "self_consumption_pct": self_consumption, "export_wh": export})


def test_robustness_gives_points_below_the_oracle_per_scenario_and_the_ranges():
    results = [
        BatteryResult("oracle", "clear", 1, None, metrics(70.0), 0, 0),
        BatteryResult("oracle", "cloudy", 1, None, metrics(80.0, pv=4000.0), 0, 0),
        BatteryResult("zeropower", "clear", 1, "fast", metrics(65.0, 10.0), 0, 0),
        BatteryResult("zeropower", "cloudy", 1, "fast", metrics(74.5, 40.0), 0, 0),
        BatteryResult("zeropower", "clear", 1, "slow", metrics(63.0, 20.0), 0, 0),
        BatteryResult("zeropower", "cloudy", 1, "slow", metrics(72.0, 80.0), 0, 0),
    ]
    lines = robustness(results).splitlines()
    assert "- seed 1 (PV 5.00 / 4.00 kWh): `oracle` 70.0 / 80.0 %" in lines
    assert "| preset | seed | zeropower % | zeropower below oracle, points | zeropower export Wh |" in lines
    assert "| fast | 1 | 65.0 / 74.5 | 5.0 / 5.5 | 10 / 40 |" in lines
    assert "| slow | 1 | 63.0 / 72.0 | 7.0 / 8.0 | 20 / 80 |" in lines
    assert lines[-1] == "| range | | 63.0-74.5 | 5.0-8.0 | 10-80 |"
    with pytest.raises(ValueError, match="no controller with its oracle"):
        robustness(results[2:])


def short_day(name, seed):
    """10 min of sun, then 20 min of evening; the household's load depends on the seed."""
    load = [250.0 + 50 * seed] * 600 + [300.0] * 1200
    return Scenario(name, load, [700.0] * 600 + [0.0] * 1200, start_s=18 * 3600)


def test_a_filtered_run_prints_a_main_table_per_preset_and_seed_and_the_robustness_table(monkeypatch, capsys):
    monkeypatch.setattr(scenarios, "load", short_day)
    argv = ["--controllers", ",".join(ROBUST), "--scenarios", "clear,cloudy", "--presets", "fast,slow"]
    cli.main([*argv, "--seeds", "1,2", "--hours", "0.25", "--workers", "2"])
    out = capsys.readouterr().out
    battery = "battery 2000 Wh, 1200 W charge, 800 W discharge, reserve 10 %, start at 10 %"
    for preset in ("fast", "slow"):
        for seed in (1, 2):
            assert f"Seed {seed}; {battery}; inverter preset {preset}." in out
    assert out.count("| clear (PV 0.12 kWh) | zeropower |") == 4
    assert "clear / cloudy in each cell" in out
    assert "- seed 2 (PV 0.12 / 0.12 kWh): `oracle`" in out
    rows = [line for line in out.splitlines() if line.startswith(("| fast |", "| slow |", "| range |"))]
    cells = [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]
    assert [row[:2] for row in cells] == [["fast", "1"], ["fast", "2"], ["slow", "1"], ["slow", "2"], ["range", ""]]
    assert all(len(row) == 8 for row in cells)
    assert "24 runs" in out  # 2 x 2 x 2 x 2 and the oracles once per seed and scenario
    assert "wrote" not in out
