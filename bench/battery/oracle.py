"""The oracle: the most self-consumption this battery allows on a known day, without any dynamics.

It knows the whole day, but does not need to: with no grid charging, a fixed efficiency and a metric that
values every Wh the house takes from its own sun the same, whenever it is taken, the greedy policy is optimal:

- each second's surplus (PV - load) charges the battery as far as its charge limit and room allow (the rest is
  curtailed: no export), each second's deficit is discharged as far as its discharge limit and the energy above
  the reserve allow (the rest is imported);
- storing a surplus later instead of now never stores more (the room it would leave is filled by the same
  surplus later or stays empty), and holding energy back for later only moves the same discharge in time while
  leaving less room for the next surplus. tests/bench/test_battery_oracle.py checks this against an exhaustive
  search on small cases.

Perfect actuators (no dead time, ramp, pacing or meter noise), the AC plant's PV (at most the HM-800's 800 W).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.battery.metrics import BatteryRun
from bench.battery.plant import NAMEPLATE_W, BatterySpec


@dataclass(frozen=True)
class Flows:
    """The oracle's powers per step: PV used, battery (+ charge), grid (+ import), SoC after the step."""

    pv_used_w: list[float]
    battery_w: list[float]
    grid_w: list[float]
    soc_pct: list[float]


def greedy(
    load_w: Sequence[float],
    pv_cap_w: Sequence[float],
    spec: BatterySpec,
    dt_s: float = 1.0,
    *,
    shared_inverter_w: float | None = None,
) -> Flows:
    """Charge every surplus, discharge every deficit, within the limits; ``dt_s`` per sample.

    ``shared_inverter_w``: the sun and the battery reach the house through one inverter of this size (the DC
    plant): a discharge is at most what it leaves free.
    """
    one_way = math.sqrt(spec.round_trip_efficiency)
    stored = spec.capacity_wh * spec.start_soc_pct / 100
    floor, top = spec.capacity_wh * spec.reserve_pct / 100, spec.capacity_wh
    hours = dt_s / 3600
    flows = Flows([], [], [], [])
    for load, cap in zip(load_w, pv_cap_w, strict=True):
        surplus = cap - load
        if surplus >= 0:
            battery = min(surplus, spec.max_charge_w, max(0.0, top - stored) / one_way / hours)
            stored += battery * one_way * hours
            used, grid = load + battery, 0.0
        else:
            through = math.inf if shared_inverter_w is None else max(0.0, shared_inverter_w - cap)
            battery = -min(-surplus, spec.max_discharge_w, through, max(0.0, stored - floor) * one_way / hours)
            stored += battery / one_way * hours
            used, grid = cap, -surplus + battery
        flows.pv_used_w.append(used)
        flows.battery_w.append(battery)
        flows.grid_w.append(grid)
        flows.soc_pct.append(100 * stored / spec.capacity_wh)
    return flows


def oracle_run(
    load_w: Sequence[float], pv_avail_w: Sequence[float], spec: BatterySpec, *, dc: bool = False
) -> BatteryRun:
    """The oracle's run on a scenario at 1 s; ``dc``: on the DC plant (sun and battery through the one HM-800)."""
    caps = [min(pv, NAMEPLATE_W) for pv in pv_avail_w]
    flows = greedy(load_w, caps, spec, shared_inverter_w=NAMEPLATE_W if dc else None)
    return BatteryRun(
        load_w=load_w,
        pv_cap_w=caps,
        pv_used_w=flows.pv_used_w,
        grid_w=flows.grid_w,
        battery_w=flows.battery_w,
        soc_pct=flows.soc_pct,
        capacity_wh=spec.capacity_wh,
        max_charge_w=spec.max_charge_w,
        start_soc_pct=spec.start_soc_pct,
    )
