"""Every battery-bench controller runs a short day (sun, then evening) on its plant; the plants keep their books."""

import pytest

from bench.battery.plant import BatterySpec
from bench.battery.sim import CONTROLLERS, simulate
from bench.controller.scenario import Scenario

#: A small battery that starts half full, so every controller charges and discharges within 25 minutes.
SPEC = BatterySpec(capacity_wh=200, start_soc_pct=50)


def scenario():
    # 15 min of 700 W sun with a 250 W load (and a 900 W step), then 10 min of evening: no sun, 300 W load
    load = [250.0] * 300 + [900.0] * 120 + [250.0] * 480 + [300.0] * 600
    pv = [700.0] * 900 + [0.0] * 600
    return Scenario("smoke", load, pv, start_s=18 * 3600)


@pytest.mark.parametrize("name", CONTROLLERS)
def test_each_controller_runs_a_short_day(name):
    result = simulate(name, scenario(), seed=1, spec=SPEC)
    m = result.metrics
    assert m.pv_wh == pytest.approx(700 * 900 / 3600)
    assert 0 <= m.self_consumption_pct <= 100
    assert m.export_wh < 40  # uncontrolled: 450 W for 13 min, ~100 Wh
    if name == "zeropower-no-battery":
        assert m.charged_wh == m.discharged_wh == 0
        return
    assert m.charged_wh > 20
    assert m.discharged_wh > 20
    assert m.soc_end_pct >= SPEC.reserve_pct - 0.5


def test_the_oracle_is_best():
    results = {name: simulate(name, scenario(), seed=1, spec=SPEC).metrics for name in CONTROLLERS}
    best = results["oracle"].self_consumption_pct
    assert all(m.self_consumption_pct <= best + 0.5 for m in results.values())
    assert results["onbattery"].self_consumption_pct <= results["oracle-dc"].self_consumption_pct + 0.5
    assert results["zeropower"].self_consumption_pct > results["zeropower-no-battery"].self_consumption_pct
