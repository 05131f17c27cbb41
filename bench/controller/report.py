"""The results as a markdown table, and the target check against the best baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.controller.controllers import PRODUCT, REFERENCES
from bench.controller.sim import Result

#: zeropower's targets against the best baseline (the references oracle, lookahead and reactive are no baselines).
EXPORT_SHARE = 0.5
CURTAILED_SHARE = 0.7
MAX_COMMANDS_PER_HOUR = 720

HEADER = (
    "| preset | scenario | controller | export Wh | import > target Wh | curtailed usable Wh | peak export W "
    "| p99 export W | s exporting > 50 W | commands/h | max commands in an hour | settle p95 s (steps) |"
)


def table(results: Sequence[Result]) -> str:
    """One row per controller, scenario and preset."""
    rows = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in results:
        m = r.metrics
        settle = "-" if m.settle_p95_s is None else f"{m.settle_p95_s:.0f} ({m.steps})"
        curtailed = "-" if r.scenario == "diverter" else f"{m.curtailed_usable_wh:.1f}"
        rows.append(
            f"| {r.preset} | {r.scenario} | {r.controller} | {m.export_wh:.1f} | {m.import_over_target_wh:.1f} "
            f"| {curtailed} | {m.peak_export_w:.0f} | {m.p99_export_w:.0f} | {m.export_over_50_s} "
            f"| {m.commands_per_h:.0f} | {m.max_commands_in_hour} | {settle} |"
        )
    return "\n".join(rows)


@dataclass(frozen=True)
class Check:
    """The target check of one preset, over the inverter scenarios run."""

    preset: str
    passed: bool
    detail: str


def checks(results: Sequence[Result], inverter_scenarios: Sequence[str]) -> list[Check]:
    """Per preset: zeropower's export <= 0.5 x and curtailed <= 0.7 x the best baseline's, <= 720 commands/h."""
    found = []
    for preset in dict.fromkeys(r.preset for r in results):
        runs = [r for r in results if r.preset == preset and r.scenario in inverter_scenarios]
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
        passed = (
            export <= EXPORT_SHARE * best_export[1][0]
            and curtailed <= CURTAILED_SHARE * best_curtailed[1][1]
            and commands <= MAX_COMMANDS_PER_HOUR
        )
        detail = (
            f"export {export:.1f} Wh vs {EXPORT_SHARE:g} x {best_export[1][0]:.1f} ({best_export[0]}); "
            f"curtailed {curtailed:.1f} Wh vs {CURTAILED_SHARE:g} x {best_curtailed[1][1]:.1f} ({best_curtailed[0]}); "
            f"max {commands} commands in an hour (limit {MAX_COMMANDS_PER_HOUR})"
        )
        for reference in REFERENCES:  # the physical limits: how far off zeropower is, and what they reach
            if reference in totals and all(totals[reference]):
                ref_export, ref_curtailed = totals[reference]
                detail += (
                    f"; vs {reference} ({ref_export:.1f} / {ref_curtailed:.1f} Wh): "
                    f"{export / ref_export:.2f} x export, {curtailed / ref_curtailed:.2f} x curtailed"
                )
        found.append(Check(preset, passed, detail))
    return found


def check_lines(found: Sequence[Check]) -> str:
    """The checks as markdown list items."""
    return "\n".join(f"- **{c.preset}: {'PASS' if c.passed else 'FAIL'}**: {c.detail}" for c in found)
