"""Run the battery bench: ``python -m bench.battery [--controllers|--scenarios|--presets|--seeds ...]``.

With no filter, the main table (every controller, seed 1, the ``typical`` preset) and the robustness table (the
controllers of ``PAIRS`` on every preset and seeds 1-3), written to docs/benchmark-battery.md. With filters, one
main table per chosen preset and seed, and the robustness table over them if there are several.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.battery import scenarios
from bench.battery.plant import BALCONY
from bench.battery.report import PAIRS, robustness, table
from bench.battery.sim import CONTROLLERS, BatteryResult, has_preset, simulate
from bench.controller.plant import PRESETS
from bench.controller.scenario import Scenario

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmark-battery.md"
START, END = "<!-- bench.battery results: start -->", "<!-- bench.battery results: end -->"
#: The full run's robustness table: every preset, these seeds.
ROBUST_SEEDS = (1, 2, 3)
#: Runs of a second or less (a zeropower day takes ~10 s): handed to the pool last, so its workers end together.
QUICK = ("onbattery", "oracle", "oracle-dc")

#: A run: controller, scenario, seed, preset (None for the oracles, which have none).
Run = tuple[str, str, int, str | None]


@dataclass(frozen=True)
class Plan:
    """What a run covers: main tables per (preset, seed), the robustness table's controllers, presets and seeds."""

    controllers: list[str]
    scenarios: list[str]
    tables: list[tuple[str, int]]
    robust: list[str]  # empty: no robustness table
    presets: list[str]
    seeds: list[int]
    hours: float | None
    workers: int
    write_doc: bool


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    return seeds


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.battery", description=__doc__)
    parser.add_argument("--controllers", help=f"comma-separated, default all: {', '.join(CONTROLLERS)}")
    parser.add_argument("--scenarios", help=f"comma-separated, default all: {', '.join(scenarios.DESCRIPTIONS)}")
    parser.add_argument("--presets", help=f"comma-separated inverter presets ({', '.join(PRESETS)}), default typical")
    parser.add_argument(
        "--seeds", type=_seeds, help="comma-separated seeds of the scenarios and the meter noise, default 1"
    )
    parser.add_argument("--hours", type=float, help="only the first HOURS of each scenario (from 04:00)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmark-battery.md")
    return parser.parse_args(argv)


def _split(text: str | None, known: list[str]) -> list[str]:
    if text is None:
        return known
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise SystemExit(f"unknown: {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def plan(argv: Sequence[str] | None = None) -> Plan:
    """What these command-line arguments ask for."""
    args = _arguments(argv)
    controllers = _split(args.controllers, list(CONTROLLERS))
    names = _split(args.scenarios, list(scenarios.DESCRIPTIONS))
    presets = _split(args.presets, list(PRESETS)) if args.presets else ["typical"]
    seeds = args.seeds or [1]
    chosen = (args.controllers, args.scenarios, args.presets, args.seeds, args.hours)
    if all(x is None for x in chosen):  # the full run
        return Plan(
            controllers=controllers,
            scenarios=names,
            tables=[("typical", 1)],
            robust=[name for pair in PAIRS for name in pair],
            presets=list(PRESETS),
            seeds=list(ROBUST_SEEDS),
            hours=None,
            workers=args.workers,
            write_doc=not args.no_docs,
        )
    several = len(presets) * len(seeds) > 1
    return Plan(
        controllers=controllers,
        scenarios=names,
        tables=[(preset, seed) for preset in presets for seed in seeds],
        robust=[name for pair in PAIRS if several and set(pair) <= set(controllers) for name in pair],
        presets=presets,
        seeds=seeds,
        hours=args.hours,
        workers=args.workers,
        write_doc=False,
    )


def _key(controller: str, scenario: str, seed: int, preset: str) -> Run:
    return controller, scenario, seed, preset if has_preset(controller) else None


def runs(p: Plan) -> tuple[list[list[Run]], list[Run]]:
    """The runs of each main table and of the robustness table."""
    tables = [[_key(c, s, seed, preset) for s in p.scenarios for c in p.controllers] for preset, seed in p.tables]
    robust = [
        _key(c, s, seed, preset) for preset in p.presets for seed in p.seeds for s in p.scenarios for c in p.robust
    ]
    return tables, robust


def _run(task: tuple[Run, Scenario]) -> BatteryResult:
    (controller, _, seed, preset), scenario = task
    return simulate(controller, scenario, seed=seed, preset=preset or "typical")


def _heading(seed: int, preset: str) -> str:
    battery = BALCONY
    return (
        f"Seed {seed}; battery {battery.capacity_wh:.0f} Wh, {battery.max_charge_w:.0f} W charge, "
        f"{battery.max_discharge_w:.0f} W discharge, reserve {battery.reserve_pct:.0f} %, "
        f"start at {battery.start_soc_pct:.0f} %; inverter preset {preset}."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the planned controllers, scenarios, presets and seeds; print (and write) the tables."""
    p = plan(argv)
    tables, robust = runs(p)
    unique = list(dict.fromkeys([run for chosen in tables for run in chosen] + robust))
    unique.sort(key=lambda run: run[0] in QUICK)
    seeds = dict.fromkeys(run[2] for run in unique)
    found = {(name, seed): scenarios.load(name, seed) for seed in seeds for name in p.scenarios}
    if p.hours:
        found = {key: s.head(round(p.hours * 3600)) for key, s in found.items()}
    started = time.monotonic()
    with multiprocessing.Pool(p.workers) as pool:
        done = pool.map(_run, [(run, found[run[1], run[2]]) for run in unique], chunksize=1)
    results = dict(zip(unique, done, strict=True))
    elapsed = time.monotonic() - started
    described = "\n".join(f"- `{name}`: {scenarios.DESCRIPTIONS[name]}" for name in p.scenarios)
    blocks = [
        f"{_heading(seed, preset)}\n\n{described}\n\n{table([results[run] for run in chosen])}"
        for (preset, seed), chosen in zip(p.tables, tables, strict=True)
    ]
    if robust:
        blocks.append(robustness([results[run] for run in robust]))
    text = "\n\n".join(blocks)
    print(text)
    print(f"\n{len(unique)} runs in {elapsed:.0f} s with {p.workers} workers")
    if p.write_doc:
        doc = DOC.read_text()
        if START not in doc:
            raise SystemExit(f"{DOC}: markers {START} / {END} missing")
        block = f"{START}\n{text}\n{END}"
        DOC.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.DOTALL))
        print(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
