"""The plant: grid balance, PV split, overrides and energy counters."""

import pytest

from zeropower.sim.plant import Plant
from zeropower.sim.settings import (
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    OpenDtuSettings,
    SimSettings,
)

ROOF = InverterSettings(serial="114182912345", name="roof", max_w=800, dead_time_s=0, ramp_w_per_s=10_000, phase="a")
BALCONY = InverterSettings(serial="112182954321", name="balcony", max_w=400, dead_time_s=0, ramp_w_per_s=10_000)


def make(load_w: float = 300, pv_w: float = 1000, inverters=(ROOF, BALCONY), command_s: float = 0.0) -> Plant:
    return Plant(
        SimSettings(
            load=LoadSettings(base_w=load_w, noise_w=0, appliances=[]),
            pv=ConstantPv(power_w=pv_w, clouds=CloudSettings(per_hour=0)),
            inverters=list(inverters),
            opendtu=OpenDtuSettings(command_s=command_s),
        )
    )


def run(plant: Plant, seconds: float, dt_s: float = 0.1) -> None:
    for _ in range(round(seconds / dt_s)):
        plant.step(dt_s)


def test_grid_is_load_minus_output_per_phase_and_in_total():
    plant = make()
    run(plant, 10)
    assert plant.output_w == pytest.approx(1000 * 0.955)
    assert plant.grid_w == pytest.approx(300 - 955)
    assert sum(plant.phase_grid_w) == pytest.approx(plant.grid_w)
    assert plant.phase_grid_w[0] == pytest.approx(300 * 0.45 - 955)  # both inverters feed phase a
    assert plant.limit_w == 1200


def test_starts_as_if_it_had_been_running():
    plant = make(pv_w=600)
    assert plant.output_w == pytest.approx(600 * 0.955)  # no ramp from zero at start
    assert make(pv_w=2000).output_w == pytest.approx(1200)  # capped by the limits


def test_pv_is_shared_by_nameplate_power():
    plant = make(pv_w=600)
    assert plant.pv_share_w("114182912345") == pytest.approx(400)
    assert plant.pv_share_w("112182954321") == pytest.approx(200)


def test_limits_reach_the_inverter_and_the_grid():
    plant = make()
    run(plant, 10)
    plant.command_limit("114182912345", 100)
    plant.command_limit("112182954321", 0)
    run(plant, 1)
    assert plant.readback_w == {"114182912345": 100, "112182954321": 8}  # clamped to the 2 % floor
    assert plant.output_w == pytest.approx(108)
    assert plant.limit_w == 108
    assert plant.grid_w == pytest.approx(192)


def test_one_radio_serves_the_inverters_one_after_another():
    plant = make(command_s=2.0)
    run(plant, 10)
    plant.command_limit("114182912345", 100)
    plant.command_limit("112182954321", 50)
    run(plant, 1.9)
    assert plant.limit_w == 100 + 400  # dead time 0: the roof's limit is in force, the balcony's still queued
    assert plant.readback_w == {"114182912345": 800, "112182954321": 400}  # not yet acknowledged
    run(plant, 0.3)
    assert plant.limit_w == 150
    assert plant.readback_w == {"114182912345": 100, "112182954321": 400}
    run(plant, 2.0)
    assert plant.readback_w == {"114182912345": 100, "112182954321": 50}


def test_a_newer_command_replaces_a_queued_one():
    plant = make(command_s=2.0)
    run(plant, 10)
    plant.command_limit("114182912345", 100)  # on the air at once
    plant.command_limit("112182954321", 50)  # queued ...
    plant.command_limit("114182912345", 200)  # queued behind it
    plant.command_limit("112182954321", 60)  # ... replaced: goes to the back, behind the roof's 200 W
    assert plant.radio.queued == [("114182912345", 200), ("112182954321", 60)]
    run(plant, 4.1)
    assert plant.readback_w == {"114182912345": 200, "112182954321": 400}
    assert plant.inverters["114182912345"].limit_w == 200
    run(plant, 2.0)
    assert plant.readback_w == {"114182912345": 200, "112182954321": 60}


def test_a_command_to_an_inverter_gone_dark_is_lost():
    plant = make(command_s=2.0)
    run(plant, 10)
    plant.command_limit("114182912345", 100)
    plant.command_limit("112182954321", 50)  # queued ...
    plant.inverters["112182954321"].link_ok = False  # ... and unreachable when its turn comes
    run(plant, 4.1)
    assert plant.readback_w == {"114182912345": 100, "112182954321": 400}


def test_overrides_replace_the_profiles_until_auto():
    plant = make(load_w=300, pv_w=1000)
    plant.set_load_w(2500)
    plant.set_pv_w(0)
    assert (plant.load_w, plant.pv_available_w) == (pytest.approx(2500), 0)
    run(plant, 5)
    assert (plant.load_w, plant.output_w, plant.grid_w) == (pytest.approx(2500), 0, pytest.approx(2500))
    plant.set_load_w(None)
    plant.set_pv_w(None)
    run(plant, 5)
    assert (plant.load_w, plant.pv_available_w) == (pytest.approx(300), 1000)


def test_energy_counters_integrate_import_and_export():
    plant = make(load_w=300, inverters=[ROOF])
    plant.command_limit("114182912345", 100)  # dead time 0: in force at the first step
    run(plant, 3600, dt_s=1.0)
    assert plant.imported_wh == pytest.approx(200, abs=0.5)
    assert plant.exported_wh == 0
    plant.set_load_w(0)
    run(plant, 1800, dt_s=1.0)
    assert plant.exported_wh == pytest.approx(50)
    assert plant.imported_wh == pytest.approx(200, abs=0.5)


def test_phase_counters_sum_each_phase_like_a_pro_3em():
    plant = make(load_w=300, inverters=[ROOF])  # 135/105/60 W load, the inverter on phase a
    plant.command_limit("114182912345", 200)
    run(plant, 3600, dt_s=1.0)
    assert plant.phase_exported_wh[0] == pytest.approx(65, abs=0.5)
    assert plant.phase_imported_wh[1:] == [pytest.approx(105), pytest.approx(60)]
    assert plant.imported_wh == pytest.approx(100, abs=0.5)  # the utility meter nets the phases
    assert plant.exported_wh == 0
