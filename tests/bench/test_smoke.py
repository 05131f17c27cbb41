"""Every controller runs a 10-minute scenario through the benchmark's loop."""

import pytest

from bench.controller.controllers import DIVERTER, INVERTER
from bench.controller.scenario import Scenario
from bench.controller.sim import simulate

MINUTES = 10


def scenario(*, heater=False):
    load = [300.0] * 120 + [1000.0] * 120 + [250.0] * 120 + [700.0] * 240
    return Scenario("smoke", load, [900.0] * MINUTES * 60, start_s=12 * 3600, heater=heater)


@pytest.mark.parametrize("name", list(INVERTER))
def test_inverter_controllers_keep_export_bounded(name):
    result = simulate(name, scenario(), "typical", seed=1, keep_trace=True)
    m = result.metrics
    assert result.trace is not None
    assert len(result.trace.grid_w) == MINUTES * 60
    assert m.steps == 2  # the step to 1000 W is beyond the 800 W inverter: not counted
    # without control the inverter would export up to 650 W for 10 minutes (~70 Wh)
    assert m.export_wh < 40
    assert m.max_commands_in_hour <= 600


def test_oracle_has_no_export_to_speak_of():
    m = simulate("oracle", scenario(), "typical", seed=1, keep_trace=False).metrics
    assert m.export_wh < 0.2  # the first second, before its first limit
    assert m.settle_p95_s == 0.0


@pytest.mark.parametrize("name", ["pwm-integral", "oracle"])
def test_diverters_soak_up_the_surplus(name):
    assert name in DIVERTER
    m = simulate(name, scenario(heater=True), "typical", seed=1, keep_trace=False).metrics
    assert m.export_wh < 5  # the unlimited inverter's surplus went into the heater
