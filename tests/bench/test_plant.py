"""The benchmark's plant: inverters on their own panels, behind one radio."""

import pytest

from bench.controller.layouts import LAYOUTS
from bench.controller.plant import PRESETS, Plant

THREE = LAYOUTS["three"]
GARAGE, ROOF, BALCONY = (spec.device_id for spec in THREE.inverters)
NOON_S = 12 * 3600


def make(layout: str = "three", start_s: int = NOON_S) -> Plant:
    plant = Plant(PRESETS["typical"], heater=False, seed=1, layout=LAYOUTS[layout], start_s=start_s)
    plant.settle(600.0)
    return plant


def run(plant: Plant, from_s: int, to_s: int, load_w: float = 500.0, pv_w: float = 600.0) -> None:
    for now in range(from_s, to_s + 1):
        plant.step(now, load_w, pv_w)


def limits(plant: Plant) -> dict[str, float]:
    return {device_id: inverter.limit_w for device_id, inverter in plant.inverters.items()}


def test_each_inverter_gets_its_panels_share_and_the_shaded_one_less():
    plant = make()
    run(plant, 0, 30)
    outputs = {device_id: inverter.output_w for device_id, inverter in plant.inverters.items()}
    assert outputs[GARAGE] == pytest.approx(600 * 1.8)
    assert outputs[ROOF] == pytest.approx(600)
    assert outputs[BALCONY] == pytest.approx(600 * 0.5 * 0.3)  # shaded from 10:30 to 14:00
    evening = make(start_s=15 * 3600)
    run(evening, 0, 30)
    assert evening.inverters[BALCONY].output_w == pytest.approx(300)
    assert evening.output_w == pytest.approx(1080 + 600 + 300)
    assert plant.inverters[GARAGE].settings.ramp_w_per_s == pytest.approx(100 * 1500 / 800)


def test_commands_queue_at_the_radio_and_each_dead_time_runs_from_its_send():
    plant = make()
    run(plant, 0, 10)
    for device_id, limit_w in ((GARAGE, 300), (ROOF, 200), (BALCONY, 50)):
        plant.command(device_id, limit_w, 10)
    run(plant, 11, 17)
    assert limits(plant) == {GARAGE: 1500, ROOF: 800, BALCONY: 400}
    assert {state.device_id: state.limit_w for state in plant.telemetry()} == {GARAGE: 300, ROOF: 200, BALCONY: 50}
    run(plant, 18, 18)  # sent at 10, 8 s dead time
    assert limits(plant) == {GARAGE: 300, ROOF: 800, BALCONY: 400}
    run(plant, 19, 20)  # sent at 12
    assert limits(plant)[ROOF] == 200
    run(plant, 21, 22)  # sent at 14
    assert limits(plant)[BALCONY] == 50


def test_the_read_back_follows_the_acknowledgement():
    plant = make("single")
    run(plant, 0, 10)
    plant.command(ROOF, 300, 10)
    plant.command(ROOF, 250, 10)  # replaces nothing: the first is on the air; queued behind it
    run(plant, 11, 11)
    assert plant.telemetry()[0].limit_w == 800
    run(plant, 12, 13)
    assert plant.telemetry()[0].limit_w == 300
    run(plant, 14, 14)
    assert plant.telemetry()[0].limit_w == 250


def test_a_perfect_actuator_needs_no_radio():
    plant = Plant(PRESETS["slow"], heater=False, seed=1, layout=THREE, start_s=NOON_S, instant=True)
    plant.settle(600.0)
    plant.command(BALCONY, 30, 0)
    plant.step(1, 500.0, 600.0)
    assert plant.inverters[BALCONY].output_w == 30  # in force and followed at once
    assert plant.telemetry()[2].limit_w == 30
    assert plant.output_w == pytest.approx(1080 + 600 + 30)


def test_settle_starts_each_inverter_at_its_share():
    plant = make()
    assert plant.output_w == pytest.approx(1080 + 600 + 90)
