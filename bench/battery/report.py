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


#: The robustness table's controllers, each against its oracle (the same plant with perfect control).
PAIRS = (("zeropower", "oracle"), ("onbattery", "oracle-dc"))
#: Per pair: its columns' headers (``{c}`` the controller, ``{o}`` its oracle) and decimals.
COLUMNS = (("{c} %", 1), ("{c} below {o}, points", 1), ("{c} export Wh", 0))


def _cell(values: Sequence[float], digits: int) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values)


def robustness(results: Sequence[BatteryResult]) -> str:
    """Each pair of ``PAIRS`` present: one row per (preset, seed) in the order given, the scenarios in each cell.

    A last row gives each column's range; the oracles, which have no preset, precede it as one line per seed.
    """
    names = {r.controller for r in results}
    pairs = [(own, oracle) for own, oracle in PAIRS if own in names and oracle in names]
    if not pairs:
        raise ValueError(f"no controller with its oracle: {', '.join(f'{c} and {o}' for c, o in PAIRS)}")
    scenarios = list(dict.fromkeys(r.scenario for r in results))
    metrics = {(r.controller, r.scenario, r.seed, r.preset): r.metrics for r in results}
    rows = list(dict.fromkeys((r.preset, r.seed) for r in results if r.controller == pairs[0][0]))
    header = "| preset | seed | " + " | ".join(h.format(c=c, o=o) for c, o in pairs for h, _ in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    columns: list[list[float]] = [[] for _ in range(len(pairs) * len(COLUMNS))]
    for preset, seed in rows:
        cells = []
        for n, (own, oracle) in enumerate(pairs):
            got = [metrics[own, s, seed, preset] for s in scenarios]
            best = [metrics[oracle, s, seed, None].self_consumption_pct for s in scenarios]
            values = (
                [m.self_consumption_pct for m in got],
                [b - m.self_consumption_pct for m, b in zip(got, best, strict=True)],
                [m.export_wh for m in got],
            )
            for k, ((_, digits), column) in enumerate(zip(COLUMNS, values, strict=True)):
                columns[n * len(COLUMNS) + k].extend(column)
                cells.append(_cell(column, digits))
        lines.append(f"| {preset} | {seed} | " + " | ".join(cells) + " |")
    digits = [d for _ in pairs for _, d in COLUMNS]
    ranges = [f"{min(v):.{d}f}-{max(v):.{d}f}" for v, d in zip(columns, digits, strict=True)]
    lines.append("| range | | " + " | ".join(ranges) + " |")
    oracles = [oracle for _, oracle in pairs]
    per_seed = [
        f"- seed {seed} (PV {_cell([metrics[oracles[0], s, seed, None].pv_wh / 1000 for s in scenarios], 2)} kWh): "
        + ", ".join(
            f"`{o}` {_cell([metrics[o, s, seed, None].self_consumption_pct for s in scenarios], 1)} %" for o in oracles
        )
        for seed in dict.fromkeys(seed for _, seed in rows)
    ]
    intro = (
        f"Robustness: {' and '.join(f'`{c}` against `{o}`' for c, o in pairs)} for each inverter preset and seed, "
        f"{' / '.join(scenarios)} in each cell (%: self-consumption; below, points: the oracle's self-consumption % "
        "less the controller's). The oracles' self-consumption, which no preset changes:"
    )
    return intro + "\n\n" + "\n".join(per_seed) + "\n\n" + "\n".join(lines)
