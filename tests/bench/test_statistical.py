"""The statistical reference: the load's statistics, the dead time, not the future."""

import random

import pytest

from bench.controller.baselines.statistical import LoadStatistics
from bench.controller.scenario import Scenario
from bench.controller.sim import simulate


def pulses(on_s: int, off_s: int, cycles: int, base_w: float = 200.0, pulse_w: float = 1000.0) -> list[float]:
    """A hob: ``pulse_w`` on for ``on_s``, off for ``off_s``, on top of ``base_w``."""
    return ([base_w + pulse_w] * on_s + [base_w] * off_s) * cycles


def random_pulses(seed: int = 1, cycles: int = 60) -> list[float]:
    """A hob with on and off spells of 8-20 s each (seeded)."""
    rng = random.Random(seed)
    load: list[float] = []
    for _ in range(cycles):
        load += pulses(rng.randint(8, 20), rng.randint(8, 20), 1)
    return load


def test_the_change_ahead_depends_on_how_long_the_load_has_stood():
    load = pulses(20, 20, 50)
    statistics = LoadStatistics(load, horizon_s=8)
    just_on = 40 * 10 + 1  # 1 s after a step up: it stays on for 19 s more
    late_on = 40 * 10 + 15  # 15 s after it: it goes off within the next 8 s
    assert statistics.change_w(just_on, 0.5) == 0
    assert statistics.change_w(late_on, 0.5) == -1000
    assert statistics.change_w(40 * 10 + 35, 0.5) == 1000  # 15 s into the pause: the next pulse comes


def test_knowing_the_pulses_statistics_beats_following_them_on_export_and_curtailment_at_once():
    load = pulses(12, 12, 40)
    scenario = Scenario("pulses", load, [900.0] * len(load), start_s=12 * 3600)
    reactive = simulate("reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    statistical = simulate("statistical", scenario, "typical", seed=1, keep_trace=False).metrics
    assert statistical.export_wh < 0.8 * reactive.export_wh
    assert statistical.curtailed_usable_wh < 0.8 * reactive.curtailed_usable_wh


@pytest.mark.parametrize(
    ("quantile", "lower"),
    [("statistical-20", "export"), ("statistical-80", "curtailed")],
)
def test_a_quantile_away_from_the_median_trades_one_for_the_other(quantile, lower):
    load = random_pulses()
    scenario = Scenario("pulses", load, [900.0] * len(load), start_s=12 * 3600)
    median = simulate("statistical", scenario, "typical", seed=1, keep_trace=False).metrics
    skewed = simulate(quantile, scenario, "typical", seed=1, keep_trace=False).metrics
    if lower == "export":
        assert skewed.export_wh < median.export_wh
    else:
        assert skewed.curtailed_usable_wh < median.curtailed_usable_wh
