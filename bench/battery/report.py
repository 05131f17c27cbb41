"""The results table of the battery bench (Markdown)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.battery.sim import BatteryResult

HEADER = (
    "| scenario | controller | self-consumption % | self-sufficiency % | export Wh | import Wh | "
    "charged / discharged Wh | cycles | SoC at sunset % | SoC at end % | curtailed usable Wh | "
    "inverter commands | battery writes |"
)


def table(results: Sequence[BatteryResult]) -> str:
    """One row per run, in the order given, PV available per scenario in the scenario cell."""
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for r in results:
        m = r.metrics
        lines.append(
            f"| {r.scenario} (PV {m.pv_wh / 1000:.2f} kWh) | {r.controller} | {m.self_consumption_pct:.1f} | "
            f"{m.self_sufficiency_pct:.1f} | {m.export_wh:.0f} | {m.import_wh:.0f} | "
            f"{m.charged_wh:.0f} / {m.discharged_wh:.0f} | {m.cycles:.2f} | {m.soc_sunset_pct:.0f} | "
            f"{m.soc_end_pct:.0f} | {m.curtailed_usable_wh:.0f} | {r.commands} | {r.battery_writes} |"
        )
    return "\n".join(lines)
