"""The simulated battery: dead time, ramp, efficiency, and its BMS's bounds."""

from __future__ import annotations

import math

import pytest

from zeropower.sim.battery import BatteryModel
from zeropower.sim.settings import BatterySettings


def run(battery: BatteryModel, start_s: int, seconds: int) -> None:
    for now in range(start_s + 1, start_s + seconds + 1):
        battery.step(now, 1.0)


def test_follows_a_setpoint_after_its_dead_time_at_its_ramp() -> None:
    battery = BatteryModel(BatterySettings(dead_time_s=2.0, ramp_w_per_s=300.0))
    battery.command(900.0, 0.0)
    run(battery, 0, 1)
    assert battery.power_w == 0.0
    run(battery, 1, 1)
    assert battery.power_w == 300.0
    run(battery, 2, 2)
    assert battery.power_w == 900.0


def test_limits_clamp_the_setpoint() -> None:
    battery = BatteryModel(BatterySettings(max_charge_w=1000.0, max_discharge_w=600.0, dead_time_s=0.0))
    battery.command(-5000.0, 0.0)
    run(battery, 0, 10)
    assert battery.power_w == -600.0


def test_charging_stores_half_the_round_trip_loss() -> None:
    battery = BatteryModel(BatterySettings(capacity_wh=1000.0, soc_pct=10.0, round_trip_efficiency=0.81))
    battery.command(1000.0, 0.0)
    run(battery, 0, 3601)
    stored_wh = battery.energy_wh - 100.0
    charged_wh = 1000.0 * (3601 - 1 - 2.5) / 3600.0  # the dead time and the ramp
    assert stored_wh == pytest.approx(charged_wh * math.sqrt(0.81), rel=0.01)


def test_bms_stops_charging_when_full_and_discharging_when_empty() -> None:
    battery = BatteryModel(BatterySettings(capacity_wh=100.0, soc_pct=95.0, empty_pct=5.0, dead_time_s=0.0))
    battery.command(1200.0, 0.0)
    run(battery, 0, 60)
    assert battery.soc_pct == 100.0
    assert battery.power_w == 0.0
    battery.command(-800.0, 60.0)
    run(battery, 60, 1200)
    assert battery.soc_pct <= 5.0
    assert battery.power_w == 0.0
