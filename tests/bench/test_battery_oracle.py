"""The oracle: a tiny case with a known answer, and greedy against an exhaustive search on small cases."""

import itertools
import math
import random

import pytest

from bench.battery.oracle import greedy
from bench.battery.plant import BatterySpec

HOUR = 3600.0


def test_a_tiny_day_with_a_known_answer():
    # hourly: 600 W sun / no load twice, then 500 W load / no sun twice; 1000 Wh, 400 W in, 300 W out, lossless
    spec = BatterySpec(
        capacity_wh=1000, max_charge_w=400, max_discharge_w=300, reserve_pct=0, start_soc_pct=0, round_trip_efficiency=1
    )
    flows = greedy([0, 0, 500, 500], [600, 600, 0, 0], spec, dt_s=HOUR)
    assert flows.battery_w == [400, 400, -300, -300]
    assert flows.grid_w == [0, 0, 200, 200]  # 400 Wh imported, 600 Wh of the 1200 Wh sun used
    assert flows.pv_used_w == [400, 400, 0, 0]  # 200 W curtailed each sunny hour: no export
    assert flows.soc_pct == pytest.approx([40, 80, 50, 20])


def test_the_reserve_and_the_losses():
    spec = BatterySpec(capacity_wh=1000, reserve_pct=10, start_soc_pct=10, round_trip_efficiency=0.81)
    flows = greedy([0, 800], [500, 0], spec, dt_s=HOUR)
    assert flows.soc_pct[0] == pytest.approx(10 + 45)  # 500 Wh in, 450 Wh stored
    assert flows.battery_w[1] == pytest.approx(-450 * 0.9)  # the 450 Wh above the reserve give 405 Wh
    assert flows.soc_pct[1] == pytest.approx(10)


def best_import_by_search(load, pv, spec, levels=6):
    """The least import of any sequence of charge/discharge choices (each at one of ``levels`` shares of its range)."""
    one_way = math.sqrt(spec.round_trip_efficiency)
    best = math.inf
    shares = [k / (levels - 1) for k in range(levels)]
    for choice in itertools.product(shares, repeat=len(load)):
        stored = spec.capacity_wh * spec.start_soc_pct / 100
        floor = spec.capacity_wh * spec.reserve_pct / 100
        imported = 0.0
        for share, demand, sun in zip(choice, load, pv, strict=True):
            surplus = sun - demand
            if surplus >= 0:
                charge = share * min(surplus, spec.max_charge_w, (spec.capacity_wh - stored) / one_way)
                stored += charge * one_way
            else:
                discharge = share * min(-surplus, spec.max_discharge_w, (stored - floor) * one_way)
                stored -= discharge / one_way
                imported += -surplus - discharge
        best = min(best, imported)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_greedy_is_as_good_as_any_policy_on_small_random_days(seed):
    rng = random.Random(seed)
    steps = 6
    load = [rng.choice([0, 200, 500, 900]) for _ in range(steps)]
    pv = [rng.choice([0, 300, 700, 1100]) for _ in range(steps)]
    spec = BatterySpec(
        capacity_wh=rng.choice([500, 1000]),
        max_charge_w=600,
        max_discharge_w=400,
        reserve_pct=10,
        start_soc_pct=rng.choice([10, 50]),
        round_trip_efficiency=0.9,
    )
    flows = greedy(load, pv, spec, dt_s=HOUR)
    greedy_import = sum(flows.grid_w)
    assert greedy_import <= best_import_by_search(load, pv, spec) + 1e-6


def test_on_the_dc_plant_sun_and_battery_share_the_inverter():
    spec = BatterySpec(capacity_wh=1000, reserve_pct=0, start_soc_pct=100, round_trip_efficiency=1)
    flows = greedy([1500, 1500], [300, 0], spec, dt_s=HOUR, shared_inverter_w=800)
    assert flows.battery_w == [-500, -500]  # 800 W through the inverter: 300 W of sun, 500 W from the battery
    assert flows.grid_w == [700, 1000]
