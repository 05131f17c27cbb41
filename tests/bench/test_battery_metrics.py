"""The battery bench's energy figures on small hand-made series (1 s samples, so 3600 samples = 1 h)."""

import pytest

from bench.battery.metrics import BatteryRun, measure

HOUR = 3600


def run(**given):
    fields = {
        "capacity_wh": 1000.0,
        "max_charge_w": 500.0,
        "start_soc_pct": 10.0,
        "target_w": 0.0,
    }
    return BatteryRun(**(fields | given))


def test_a_day_stored_and_given_back():
    # hour 1: 600 W of sun, 100 W load, 400 W into the battery, 100 W exported;
    # hour 2: no sun, 300 W load, 250 W from the battery, 50 W imported
    m = measure(
        run(
            load_w=[100.0] * HOUR + [300.0] * HOUR,
            pv_cap_w=[600.0] * HOUR + [0.0] * HOUR,
            pv_used_w=[600.0] * HOUR + [0.0] * HOUR,
            grid_w=[-100.0] * HOUR + [50.0] * HOUR,
            battery_w=[400.0] * HOUR + [-250.0] * HOUR,
            soc_pct=[50.0] * HOUR + [24.0] * HOUR,
        )
    )
    assert m.pv_wh == pytest.approx(600)
    assert m.export_wh == pytest.approx(100)
    assert m.import_wh == pytest.approx(50)
    assert m.charged_wh == pytest.approx(400)
    assert m.discharged_wh == pytest.approx(250)
    assert m.cycles == pytest.approx((400 + 250) / 2 / 1000)
    # used: load 400 Wh - import 50 Wh = 350 Wh of 600 Wh (100 exported, 150 lost or still stored)
    assert m.self_consumption_pct == pytest.approx(100 * 350 / 600)
    assert m.self_sufficiency_pct == pytest.approx(100 * 350 / 400)
    assert m.soc_sunset_pct == 50.0  # the last second with sun
    assert m.soc_end_pct == 24.0
    assert m.curtailed_usable_wh == pytest.approx(0)


def test_energy_the_battery_held_at_the_start_is_not_counted_as_sun_used():
    m = measure(
        run(
            load_w=[200.0] * HOUR,
            pv_cap_w=[100.0] * HOUR,
            pv_used_w=[100.0] * HOUR,
            grid_w=[0.0] * HOUR,
            battery_w=[-100.0] * HOUR,
            soc_pct=[40.0] * HOUR,
            start_soc_pct=50.0,
        )
    )
    # 200 Wh load, no import, but 100 Wh (10 % of 1000 Wh) came from the start's charge: 100 of 100 Wh PV used
    assert m.self_consumption_pct == pytest.approx(100)
    assert m.self_sufficiency_pct == pytest.approx(100)


def test_curtailed_usable_counts_room_in_the_battery_until_it_is_full():
    # 800 W of sun, 200 W load, limited to 300 W: 100 W more for the load is not usable (target 0), the
    # battery had room for 500 W: 500 W curtailed usable while not full, 0 once full (at 99.5 % or more)
    m = measure(
        run(
            load_w=[200.0] * 2 * HOUR,
            pv_cap_w=[800.0] * 2 * HOUR,
            pv_used_w=[300.0] * 2 * HOUR,
            grid_w=[0.0] * 2 * HOUR,
            battery_w=[100.0] * HOUR + [0.0] * HOUR,
            soc_pct=[99.6] * 2 * HOUR,
            start_soc_pct=99.0,
        )
    )
    assert m.curtailed_usable_wh == pytest.approx((200 + 500 - 300) / 3600)  # only the first second


def test_a_positive_target_is_not_curtailment():
    m = measure(
        run(
            load_w=[220.0] * HOUR,
            pv_cap_w=[800.0] * HOUR,
            pv_used_w=[200.0] * HOUR,
            grid_w=[20.0] * HOUR,
            battery_w=[0.0] * HOUR,
            soc_pct=[100.0] * HOUR,
            start_soc_pct=100.0,
            target_w=20.0,
        )
    )
    assert m.curtailed_usable_wh == pytest.approx(0)
