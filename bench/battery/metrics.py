"""Energy figures of one battery run (pure Python, 1 s samples). Definitions in docs/benchmark-battery.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: A battery at or above this SoC counts as full for curtailment (controllers see the SoC rounded to 0.1-1 %).
FULL_PCT = 99.5


@dataclass(frozen=True)
class BatteryRun:
    """What a run recorded, one sample per second (true powers, no meter noise).

    ``pv_cap_w``: what the panels could give (at most the inverter's nameplate); ``pv_used_w``: what was
    harvested (the PV inverter's output; DC: the inverter's output plus the charge taken from the sun);
    ``battery_w`` at the battery's terminals, + charge, - discharge; ``soc_pct`` after each second.
    """

    load_w: Sequence[float]
    pv_cap_w: Sequence[float]
    pv_used_w: Sequence[float]
    grid_w: Sequence[float]
    battery_w: Sequence[float]
    soc_pct: Sequence[float]
    capacity_wh: float
    max_charge_w: float
    start_soc_pct: float
    target_w: float = 0.0


@dataclass(frozen=True)
class BatteryMetrics:
    """The figures of one run (energies in Wh, shares in %)."""

    pv_wh: float
    self_consumption_pct: float
    self_sufficiency_pct: float
    export_wh: float
    import_wh: float
    charged_wh: float
    discharged_wh: float
    cycles: float
    soc_sunset_pct: float
    soc_end_pct: float
    curtailed_usable_wh: float


def measure(run: BatteryRun) -> BatteryMetrics:
    """All figures of a run.

    Self-consumption: the share of the available PV the house used, directly or later from the battery:
    (load - import - whatever the battery gave of what it held at the start) / PV available. Export, battery
    losses, curtailment and energy still stored at the end all count as not used. Self-sufficiency:
    (load - import) / load. Cycles: (charged + discharged) / 2 / capacity. Curtailed usable: sun that the load
    (above a positive target) or a battery with room could have taken but was limited away.
    """
    pv = sum(run.pv_cap_w) / 3600
    load = sum(run.load_w) / 3600
    imported = sum(max(0.0, g) for g in run.grid_w) / 3600
    exported = sum(max(0.0, -g) for g in run.grid_w) / 3600
    charged = sum(max(0.0, b) for b in run.battery_w) / 3600
    discharged = sum(max(0.0, -b) for b in run.battery_w) / 3600
    end = run.soc_pct[-1] if run.soc_pct else run.start_soc_pct
    from_start_wh = max(0.0, run.start_soc_pct - end) / 100 * run.capacity_wh
    used = load - imported - from_start_wh
    sun = [n for n, cap in enumerate(run.pv_cap_w) if cap > 0]
    sunset = run.soc_pct[sun[-1]] if sun else run.start_soc_pct
    above = max(run.target_w, 0.0)
    curtailed = 0.0
    soc_before = run.start_soc_pct
    for load_w, cap, used_w, soc in zip(run.load_w, run.pv_cap_w, run.pv_used_w, run.soc_pct, strict=True):
        room = run.max_charge_w if soc_before < FULL_PCT else 0.0
        curtailed += max(0.0, min(cap, max(0.0, load_w - above) + room) - used_w)
        soc_before = soc
    return BatteryMetrics(
        pv_wh=pv,
        self_consumption_pct=100 * used / pv if pv else 0.0,
        self_sufficiency_pct=100 * (load - imported) / load if load else 0.0,
        export_wh=exported,
        import_wh=imported,
        charged_wh=charged,
        discharged_wh=discharged,
        cycles=(charged + discharged) / 2 / run.capacity_wh,
        soc_sunset_pct=sunset,
        soc_end_pct=end,
        curtailed_usable_wh=curtailed / 3600,
    )
