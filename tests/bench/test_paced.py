"""A reference through the product's actuator: its pacing and command budget."""

from bench.controller.scenario import Scenario
from bench.controller.sim import simulate
from tests.bench.test_statistical import pulses


def test_the_actuator_paces_a_reference_that_would_command_every_second():
    # A load stepping every 2 s: reactive follows each step; through the actuator raises wait 3 s and the
    # budget holds it to 240 commands in any hour.
    load = pulses(2, 2, 900, base_w=300.0, pulse_w=300.0)
    scenario = Scenario("flicker", load, [900.0] * len(load), start_s=12 * 3600)
    free = simulate("reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    paced = simulate("paced-reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    assert free.max_commands_in_hour > 800
    assert 100 < paced.max_commands_in_hour <= 240


def test_a_load_the_actuator_can_follow_costs_the_paced_reference_next_to_nothing():
    load = pulses(60, 60, 15)
    scenario = Scenario("pulses", load, [900.0] * len(load), start_s=12 * 3600)
    free = simulate("reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    paced = simulate("paced-reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    assert paced.max_commands_in_hour == free.max_commands_in_hour
    assert abs(paced.export_wh - free.export_wh) < 0.05 * free.export_wh
    assert abs(paced.curtailed_usable_wh - free.curtailed_usable_wh) < 0.05 * free.curtailed_usable_wh
