"""Control-quality figures of one run (pure Python, 1 s samples). Definitions in docs/benchmark.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: A load step: the load changes by at least this much within ``STEP_WITHIN_S``.
STEP_W = 300.0
STEP_WITHIN_S = 2
#: Settled: grid within ±``SETTLE_BAND_W`` of the target and staying there ``SETTLE_HOLD_S``.
SETTLE_BAND_W = 50.0
SETTLE_HOLD_S = 5
#: A step is followed for at most this long (or until the next step).
SETTLE_WINDOW_S = 120
#: A ±1500 W step (the issue's): the load moves by at least this much within ``STEP_WITHIN_S``.
BIG_STEP_W = 1400.0
#: The issue's bound for a ±1500 W step: the dead time plus this much per inverter (one radio, ~2 s each).
PER_INVERTER_S = 2.0
EXPORT_OVER_W = 50.0


@dataclass(frozen=True)
class Run:
    """What a run recorded, one sample per second (true grid power, without meter noise)."""

    target_w: float
    min_limit_w: float
    load_w: Sequence[float]
    pv_cap_w: Sequence[float]  # AC power the inverter could deliver: min(PV available, nameplate)
    grid_w: Sequence[float]
    output_w: Sequence[float]
    command_times_s: Sequence[tuple[int, str]]  # inverter limit commands: (time, inverter)
    controls_inverter: bool = True
    inverters: int = 1


@dataclass(frozen=True)
class Metrics:
    """The figures of one run."""

    export_wh: float
    import_over_target_wh: float
    curtailed_usable_wh: float
    peak_export_w: float
    p99_export_w: float
    export_over_50_s: int
    commands_per_h: float  # per inverter, per hour it produced
    max_commands_in_hour: int  # the most one inverter got in any clock hour
    settle_p95_s: float | None
    steps: int
    big_settle_p95_s: float | None = None
    big_steps: int = 0


def settle_bound_s(dead_time_s: float, inverters: int) -> float:
    """How soon a ±1500 W step is to be settled: the dead time plus 2 s per inverter."""
    return dead_time_s + PER_INVERTER_S * inverters


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0-1) percentile by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def load_steps(load_w: Sequence[float]) -> list[int]:
    """Seconds at which a step starts: |load[i] - load[i - 2]| >= 300 W, at most one per 2 s."""
    steps: list[int] = []
    for i in range(STEP_WITHIN_S, len(load_w)):
        if abs(load_w[i] - load_w[i - STEP_WITHIN_S]) >= STEP_W and (not steps or i - steps[-1] > STEP_WITHIN_S):
            steps.append(i - STEP_WITHIN_S + _first_change(load_w, i - STEP_WITHIN_S, i))
    return steps


def _first_change(load_w: Sequence[float], start: int, end: int) -> int:
    for offset in range(1, end - start + 1):
        if abs(load_w[start + offset] - load_w[start]) >= STEP_W / 2:
            return offset
    return end - start


def settle_times(run: Run, min_size_w: float = 0.0) -> list[float]:
    """Settle time of every load step (of at least ``min_size_w``) after which the target can be reached.

    A step counts only if, until the next step (at most SETTLE_WINDOW_S), the target is reachable:
    load - target lies between the minimum limit and what the sun gives. A step not settled before the
    next one counts with the time to that step (a lower bound). See SETTLE_* above.
    """
    steps = load_steps(run.load_w)
    times: list[float] = []
    for n, start in enumerate(steps):
        end = min(steps[n + 1] if n + 1 < len(steps) else len(run.grid_w), start + SETTLE_WINDOW_S)
        if min_size_w and _step_size(run.load_w, start) < min_size_w:
            continue
        if not all(run.min_limit_w <= run.load_w[i] - run.target_w <= run.pv_cap_w[i] for i in range(start, end)):
            continue
        times.append(float(_settled_after(run, start, end)))
    return times


def _step_size(load_w: Sequence[float], start: int) -> float:
    """How far the load moves from before the step within ``STEP_WITHIN_S``."""
    before = load_w[max(start - 1, 0)]
    return max(abs(load_w[i] - before) for i in range(start, min(start + STEP_WITHIN_S, len(load_w))))


def _settled_after(run: Run, start: int, end: int) -> int:
    inside = 0
    for i in range(start, end):
        inside = inside + 1 if abs(run.grid_w[i] - run.target_w) <= SETTLE_BAND_W else 0
        if inside >= SETTLE_HOLD_S:
            return i - SETTLE_HOLD_S + 1 - start
    return end - start


def measure(run: Run) -> Metrics:
    """All figures of a run."""
    export = [max(0.0, -grid) for grid in run.grid_w]
    daylight = [e for e, cap in zip(export, run.pv_cap_w, strict=True) if cap > 0]
    import_over = 0.0
    curtailed = 0.0
    usable_above_w = max(run.target_w, 0.0)  # exporting is not using: a negative target earns no credit
    for load, cap, grid, output in zip(run.load_w, run.pv_cap_w, run.grid_w, run.output_w, strict=True):
        if cap > 0:
            import_over += max(0.0, grid - run.target_w)
        if run.controls_inverter:
            curtailed += max(0.0, min(cap, max(0.0, load - usable_above_w)) - output)
    per_hour: dict[tuple[int, str], int] = {}
    for t, inverter in run.command_times_s:
        per_hour[t // 3600, inverter] = per_hour.get((t // 3600, inverter), 0) + 1
    producing_h = sum(1 for output in run.output_w if output > 0) / 3600
    settle = settle_times(run)
    big = settle_times(run, BIG_STEP_W)
    return Metrics(
        export_wh=sum(export) / 3600,
        import_over_target_wh=import_over / 3600,
        curtailed_usable_wh=curtailed / 3600,
        peak_export_w=max(export, default=0.0),
        p99_export_w=percentile(daylight, 0.99),
        export_over_50_s=sum(1 for grid in run.grid_w if grid < -EXPORT_OVER_W),
        commands_per_h=len(run.command_times_s) / run.inverters / producing_h if producing_h else 0.0,
        max_commands_in_hour=max(per_hour.values(), default=0),
        settle_p95_s=percentile(settle, 0.95) if settle else None,
        steps=len(settle),
        big_settle_p95_s=percentile(big, 0.95) if big else None,
        big_steps=len(big),
    )
