"""The results as a markdown table, and the target check against ``reactive`` (issue 13's targets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.controller.controllers import BUDGETED, PRODUCT, REACTIVE, STATISTICAL
from bench.controller.layouts import LAYOUTS
from bench.controller.metrics import Metrics, settle_bound_s
from bench.controller.plant import PRESETS
from bench.controller.sim import Result

#: zeropower's export and curtailed usable at most these shares of ``reactive``'s, per preset.
RATIOS = {"fast": (1.05, 1.05), "typical": (0.85, 1.0), "slow": (0.85, 1.0)}
#: ... import over target at most this share of reactive's (no target met by trading export for import).
IMPORT_SHARE = 1.1
#: ... at most this many commands in any hour per inverter.
MAX_COMMANDS_PER_HOUR = 240
#: ... and at 120 commands an hour, export plus curtailed at most this share of the default's.
BUDGET_SHARE = 1.15
#: The scenario whose ±1500 W steps are held to the settle bound (the hob's 1800 W pulses last 10-30 s).
STEPS_SCENARIO = "steps"

HEADER = (
    "| plant | preset | scenario | controller | export Wh | import > target Wh | curtailed usable Wh | peak export W "
    "| p99 export W | s exporting > 50 W | commands/h | max commands in an hour | settle p95 s (steps) "
    "| ±1500 W settle p95 s (steps) / bound |"
)


def big_settle(result: Result) -> str:
    """The p95 settle time of ±1500 W steps against the dead time + 2 s per inverter: met or missed."""
    m: Metrics = result.metrics
    if m.big_settle_p95_s is None:
        return "-"
    bound = settle_bound_s(PRESETS[result.preset].dead_time_s, len(LAYOUTS[result.plant].inverters))
    verdict = "met" if m.big_settle_p95_s <= bound else "missed"
    return f"{m.big_settle_p95_s:.0f} ({m.big_steps}) / {bound:g}: {verdict}"


def table(results: Sequence[Result]) -> str:
    """One row per controller, scenario, preset and plant."""
    rows = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in results:
        m = r.metrics
        settle = "-" if m.settle_p95_s is None else f"{m.settle_p95_s:.0f} ({m.steps})"
        curtailed = "-" if r.scenario == "diverter" else f"{m.curtailed_usable_wh:.1f}"
        rows.append(
            f"| {r.plant} | {r.preset} | {r.scenario} | {r.controller} | {m.export_wh:.1f} "
            f"| {m.import_over_target_wh:.1f} | {curtailed} | {m.peak_export_w:.0f} | {m.p99_export_w:.0f} "
            f"| {m.export_over_50_s} | {m.commands_per_h:.0f} | {m.max_commands_in_hour} | {settle} "
            f"| {big_settle(r)} |"
        )
    return "\n".join(rows)


@dataclass(frozen=True)
class Check:
    """The target check of one preset on one plant, over the inverter scenarios run."""

    plant: str
    preset: str
    passed: bool
    detail: str


def _totals(runs: Sequence[Result]) -> dict[str, tuple[float, float, float]]:
    """Per controller: export, curtailed usable and import over target, Wh, summed over the runs."""
    totals: dict[str, tuple[float, float, float]] = {}
    for r in runs:
        export, curtailed, imported = totals.get(r.controller, (0.0, 0.0, 0.0))
        m = r.metrics
        totals[r.controller] = (
            export + m.export_wh,
            curtailed + m.curtailed_usable_wh,
            imported + m.import_over_target_wh,
        )
    return totals


def checks(results: Sequence[Result], inverter_scenarios: Sequence[str]) -> list[Check]:
    """Per plant and preset, zeropower against ``reactive`` (issue 13's targets; see docs/benchmark.md).

    Export and curtailed usable within ``RATIOS`` x reactive's, import over target within
    ``IMPORT_SHARE`` x, at most ``MAX_COMMANDS_PER_HOUR`` commands in any hour per inverter, at a budget
    of 120 an hour (``zeropower-120``) export plus curtailed within ``BUDGET_SHARE`` x the default's, and on
    several inverters the ±1500 W steps of the ``steps`` scenario settled within the dead time + 2 s per
    inverter.
    """
    found = []
    for plant, preset in dict.fromkeys((r.plant, r.preset) for r in results):
        runs = [r for r in results if (r.plant, r.preset) == (plant, preset) and r.scenario in inverter_scenarios]
        totals = _totals(runs)
        if PRODUCT not in totals or REACTIVE not in totals:
            continue
        export, curtailed, imported = totals[PRODUCT]
        ref_export, ref_curtailed, ref_imported = totals[REACTIVE]
        export_share, curtailed_share = RATIOS[preset]
        commands = max(r.metrics.max_commands_in_hour for r in runs if r.controller == PRODUCT)
        parts = [
            (
                export <= export_share * ref_export,
                f"export {export:.1f} Wh = {export / ref_export:.2f} x reactive's "
                f"{ref_export:.1f} (target ≤ {export_share:g} x)",
            ),
            (
                curtailed <= curtailed_share * ref_curtailed,
                f"curtailed {curtailed:.1f} Wh = "
                f"{curtailed / ref_curtailed:.2f} x {ref_curtailed:.1f} (≤ {curtailed_share:g} x)",
            ),
            (
                imported <= IMPORT_SHARE * ref_imported,
                f"import over target {imported / ref_imported:.2f} x (≤ {IMPORT_SHARE:g} x)",
            ),
            (
                commands <= MAX_COMMANDS_PER_HOUR,
                f"max {commands} commands in an hour per inverter (≤ {MAX_COMMANDS_PER_HOUR})",
            ),
        ]
        if BUDGETED in totals:
            budget_sum = sum(totals[BUDGETED][:2])
            share = budget_sum / (export + curtailed)
            parts.append(
                (
                    share <= BUDGET_SHARE,
                    f"at 120 commands an hour export + curtailed {budget_sum:.1f} Wh = "
                    f"{share:.2f} x the default's (≤ {BUDGET_SHARE:g} x)",
                )
            )
        inverters = len(LAYOUTS[plant].inverters)
        settled = _big_settle_s(runs, PRODUCT)
        if inverters > 1 and settled is not None:
            bound = settle_bound_s(PRESETS[preset].dead_time_s, inverters)
            reference = _big_settle_s(runs, REACTIVE)
            beside = "" if reference is None else f"; reactive {reference:.0f} s"
            text = f"±1500 W steps settled after {settled:.0f} s (p95; ≤ {bound:g} s{beside})"
            parts.append((settled <= bound, text))
        detail = "; ".join(f"{text}{'' if ok else ' MISSED'}" for ok, text in parts)
        found.append(Check(plant, preset, all(ok for ok, _ in parts), detail))
    return found


def _big_settle_s(runs: Sequence[Result], controller: str) -> float | None:
    """The p95 settle time of ``controller``'s ±1500 W steps in the ``steps`` scenario (None: none measured)."""
    times = [
        r.metrics.big_settle_p95_s
        for r in runs
        if r.controller == controller and r.scenario == STEPS_SCENARIO and r.metrics.big_settle_p95_s is not None
    ]
    return max(times) if times else None


def check_lines(found: Sequence[Check]) -> str:
    """The checks as markdown list items."""
    return "\n".join(f"- **{c.plant}, {c.preset}: {'PASS' if c.passed else 'FAIL'}**: {c.detail}" for c in found)


def _mix_reaches(a: tuple[float, float], b: tuple[float, float], export_max: float, curtailed_max: float) -> bool:
    """Whether a mix of two policies over the day (any point between ``a`` and ``b``) meets both bounds."""
    low, high = 0.0, 1.0  # the share of b's seconds
    for start, end, bound in ((a[0], b[0], export_max), (a[1], b[1], curtailed_max)):
        if start == end:
            if start > bound:
                return False
        elif end > start:
            high = min(high, (bound - start) / (end - start))
        else:
            low = max(low, (bound - start) / (end - start))
    return low <= high


def reach_lines(results: Sequence[Result], inverter_scenarios: Sequence[str], reference: str = STATISTICAL) -> str:
    """Per plant and preset, a statistical reference's export/curtailment front against ``reactive``.

    Each quantile's export and curtailed usable as shares of reactive's, and whether one of them, or a mix
    of two over the day, meets the export and curtailment targets at once: if none does, those targets
    are out of reach of any controller that knows the dead time and the load's statistics but not its
    future. ``reference``: the name its quantiles start with (``paced-statistical``: through the actuator).
    """
    lines = []
    for plant, preset in dict.fromkeys((r.plant, r.preset) for r in results):
        runs = [r for r in results if (r.plant, r.preset) == (plant, preset) and r.scenario in inverter_scenarios]
        totals = _totals(runs)
        front = sorted(name for name in totals if name.startswith(reference))
        if REACTIVE not in totals or not front:
            continue
        ref_export, ref_curtailed, _ = totals[REACTIVE]
        bounds = RATIOS[preset]
        points = {name: (totals[name][0] / ref_export, totals[name][1] / ref_curtailed) for name in front}
        alone = [name for name, point in points.items() if point[0] <= bounds[0] and point[1] <= bounds[1]]
        mixed = [
            (first, second)
            for n, first in enumerate(front)
            for second in front[n + 1 :]
            if _mix_reaches(points[first], points[second], *bounds)
        ]
        if alone:
            verdict = f"reached by {', '.join(alone)}"
        elif mixed:
            verdict = f"reached by mixing {mixed[0][0]} and {mixed[0][1]} over the day"
        else:
            verdict = "out of reach of every quantile and every mix of two"
        listed = "; ".join(f"{name} {export:.2f} / {curtailed:.2f}" for name, (export, curtailed) in points.items())
        lines.append(
            f"- **{plant}, {preset}**: export / curtailed x reactive's: {listed}. "
            f"Targets (≤ {bounds[0]:g} / ≤ {bounds[1]:g}): {verdict}"
        )
    return "\n".join(lines)
