"""The references that see only what zeropower sees: the meter and telemetry, with an exact replica of the plant."""

import pytest

from bench.controller import plant
from bench.controller.baselines.observed import ObservedReactive, Replica
from bench.controller.layouts import HM800
from bench.controller.plant import PRESETS, Telemetry
from bench.controller.protocol import Setup
from bench.controller.scenario import Scenario
from bench.controller.sim import simulate
from tests.bench.test_statistical import pulses


def test_with_a_noise_free_meter_and_no_cushion_the_observed_reference_is_reactive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The replica knows the radio, the dead time and the ramp exactly, so meter + replica is the true load:
    # without the meter's noise (and so without the cushion and deadband it keeps against it) it must
    # command what reactive commands. A replica off by a second of ramp would show here.
    monkeypatch.setattr(plant, "METER_NOISE_W", 0.0)
    monkeypatch.setattr(ObservedReactive, "target_w", 0.0)
    monkeypatch.setattr(ObservedReactive, "min_change_w", 1.0)
    load = pulses(20, 40, 30, base_w=250.0, pulse_w=450.0)
    scenario = Scenario("pulses", load, [900.0] * len(load), start_s=12 * 3600)
    for preset in PRESETS:
        known = simulate("reactive", scenario, preset, seed=1, keep_trace=False).metrics
        observed = simulate("observed-reactive", scenario, preset, seed=1, keep_trace=False).metrics
        assert observed.export_wh == pytest.approx(known.export_wh, rel=0.01)
        assert observed.curtailed_usable_wh == pytest.approx(known.curtailed_usable_wh, rel=0.01)


def test_the_meters_noise_costs_the_observed_reference_curtailment():
    load = pulses(20, 40, 30, base_w=250.0, pulse_w=450.0)
    scenario = Scenario("pulses", load, [900.0] * len(load), start_s=12 * 3600)
    known = simulate("reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    observed = simulate("observed-reactive", scenario, "typical", seed=1, keep_trace=False).metrics
    assert observed.curtailed_usable_wh > known.curtailed_usable_wh


def test_the_replica_learns_the_sun_from_telemetry():
    scenario = Scenario("flat", [300.0] * 60, [900.0] * 60, start_s=12 * 3600)
    replica = Replica(Setup(PRESETS["typical"], scenario.load_w, scenario.pv_avail_w, heater=False))
    replica.on_telemetry(0.0, [Telemetry(HM800.device_id, True, 800.0, 800.0)])
    assert replica.caps_w() == [800.0]
    replica.on_telemetry(5.0, [Telemetry(HM800.device_id, True, 420.0, 800.0)])
    assert replica.caps_w() == [420.0]
    assert replica.output_w == 420.0
    replica.on_telemetry(10.0, [Telemetry(HM800.device_id, True, 600.0, 800.0)])
    assert replica.caps_w() == [800.0]
