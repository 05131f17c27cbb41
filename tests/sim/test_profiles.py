"""Load and PV profiles: appliances on schedule, seeded noise, the day curve and clouds."""

import itertools
import random
import statistics

import pytest

from zeropower.sim.profiles import BASE_LOAD_SPLIT, CloudModel, LoadModel, PvModel, appliance_on, split_over_phases
from zeropower.sim.settings import ApplianceSettings, CloudSettings, ConstantPv, DayCurvePv, LoadSettings

KETTLE = ApplianceSettings(name="kettle", power_w=2000, on_s=60, every_s=300, first_on_s=90, phase="b")
CLEAR = CloudSettings(per_hour=0)


@pytest.mark.parametrize(
    ("now_s", "on"), [(0, False), (89.9, False), (90, True), (149.9, True), (150, False), (390, True), (451, False)]
)
def test_appliance_runs_on_schedule(now_s, on):
    assert appliance_on(KETTLE, now_s) is on


def test_load_is_base_split_over_phases_plus_appliance_on_its_phase():
    model = LoadModel(LoadSettings(base_w=300, noise_w=0, appliances=[KETTLE]), random.Random(1))
    assert model.step(0.0, 0.1) == pytest.approx(split_over_phases(300))
    a, b, c = model.step(100.0, 0.1)
    assert (a, b - 2000, c) == pytest.approx(split_over_phases(300))
    assert sum(BASE_LOAD_SPLIT) == pytest.approx(1.0)


def run_load(seed: int, steps: int) -> list[float]:
    model = LoadModel(LoadSettings(base_w=300, noise_w=15, appliances=[]), random.Random(seed))
    return [sum(model.step(i * 0.1, 0.1)) for i in range(1, steps + 1)]


def test_load_noise_is_seeded_slow_and_of_the_configured_size():
    loads = run_load(seed=7, steps=20_000)
    assert loads == run_load(seed=7, steps=20_000)
    assert loads != run_load(seed=8, steps=20_000)
    assert statistics.fmean(loads) == pytest.approx(300, abs=3)
    assert statistics.pstdev(loads) == pytest.approx(15, rel=0.25)
    steps = [b - a for a, b in itertools.pairwise(loads)]
    assert statistics.pstdev(steps) < 15 / 4  # a slow wander, not white noise


def test_constant_pv_without_clouds():
    model = PvModel(ConstantPv(power_w=900, clouds=CLEAR), random.Random(1))
    assert [model.available_w(t) for t in (0, 100, 10_000)] == [900, 900, 900]


def test_day_curve_rises_peaks_at_noon_and_is_dark_at_night():
    day = DayCurvePv(kind="day", peak_w=1000, sunrise_h=6, sunset_h=18, start_h=0, clouds=CLEAR)
    model = PvModel(day, random.Random(1))
    at_hour = {hour: model.clear_sky_w(hour * 3600.0) for hour in (3, 6, 9, 12, 15, 18, 21)}
    assert at_hour[3] == at_hour[6] == at_hour[18] == at_hour[21] == 0
    assert at_hour[12] == pytest.approx(1000)
    assert at_hour[9] == pytest.approx(at_hour[15]) == pytest.approx(1000 * 0.7071, rel=1e-3)


def test_time_lapse_runs_the_sun_faster():
    day = DayCurvePv(kind="day", sunrise_h=6, sunset_h=18, start_h=6, time_lapse=3600, clouds=CLEAR)
    model = PvModel(day, random.Random(1))
    assert model.clear_sky_w(6.0) == pytest.approx(day.peak_w)  # six simulated hours in six seconds


def test_clouds_dip_the_pv_power_with_soft_edges_and_pass():
    clouds = CloudModel(CloudSettings(per_hour=60, depth=0.8, duration_s=60, edge_s=10), random.Random(3))
    samples = [clouds.transmission(t / 10) for t in range(36_000)]  # one hour
    assert min(samples) < 0.7
    assert min(samples) >= 1 - 0.8
    assert samples.count(1.0) > len(samples) / 10  # clear sky between clouds
    assert max(abs(b - a) for a, b in itertools.pairwise(samples)) <= 0.8 * 0.1 / 10 + 1e-9
