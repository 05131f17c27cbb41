"""The results as a markdown table, and the target check against the best baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.controller.controllers import PRODUCT, REFERENCES
from bench.controller.layouts import LAYOUTS
from bench.controller.metrics import Metrics, settle_bound_s
from bench.controller.plant import PRESETS
from bench.controller.sim import Result

#: zeropower's targets against the best baseline (the references oracle, lookahead and reactive are no baselines).
EXPORT_SHARE = 0.5
CURTAILED_SHARE = 0.7
#: ... and at most this many commands in any hour, per inverter.
MAX_COMMANDS_PER_HOUR = 720

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


def checks(results: Sequence[Result], inverter_scenarios: Sequence[str]) -> list[Check]:
    """Per plant and preset: zeropower's export <= 0.5 x, curtailed <= 0.7 x the best baseline's, commands bounded.

    At most 720 commands in any hour per inverter (summed over the plant's inverters).
    """
    found = []
    for plant, preset in dict.fromkeys((r.plant, r.preset) for r in results):
        runs = [r for r in results if (r.plant, r.preset) == (plant, preset) and r.scenario in inverter_scenarios]
        totals: dict[str, tuple[float, float]] = {}
        for r in runs:
            export, curtailed = totals.get(r.controller, (0.0, 0.0))
            totals[r.controller] = (export + r.metrics.export_wh, curtailed + r.metrics.curtailed_usable_wh)
        baselines = {name: value for name, value in totals.items() if name not in (PRODUCT, *REFERENCES)}
        if PRODUCT not in totals or not baselines:
            continue
        export, curtailed = totals[PRODUCT]
        best_export = min(baselines.items(), key=lambda item: item[1][0])
        best_curtailed = min(baselines.items(), key=lambda item: item[1][1])
        commands = max(r.metrics.max_commands_in_hour for r in runs if r.controller == PRODUCT)
        most = MAX_COMMANDS_PER_HOUR * len(LAYOUTS[plant].inverters)
        passed = (
            export <= EXPORT_SHARE * best_export[1][0]
            and curtailed <= CURTAILED_SHARE * best_curtailed[1][1]
            and commands <= most
        )
        detail = (
            f"export {export:.1f} Wh vs {EXPORT_SHARE:g} x {best_export[1][0]:.1f} ({best_export[0]}); "
            f"curtailed {curtailed:.1f} Wh vs {CURTAILED_SHARE:g} x {best_curtailed[1][1]:.1f} ({best_curtailed[0]}); "
            f"max {commands} commands in an hour (limit {most})"
        )
        for reference in REFERENCES:  # the physical limits: how far off zeropower is, and what they reach
            if reference in totals and all(totals[reference]):
                ref_export, ref_curtailed = totals[reference]
                detail += (
                    f"; vs {reference} ({ref_export:.1f} / {ref_curtailed:.1f} Wh): "
                    f"{export / ref_export:.2f} x export, {curtailed / ref_curtailed:.2f} x curtailed"
                )
        found.append(Check(plant, preset, passed, detail))
    return found


def check_lines(found: Sequence[Check]) -> str:
    """The checks as markdown list items."""
    return "\n".join(f"- **{c.plant}, {c.preset}: {'PASS' if c.passed else 'FAIL'}**: {c.detail}" for c in found)
