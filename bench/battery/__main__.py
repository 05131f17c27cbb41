"""Run the battery bench: ``python -m bench.battery [--controllers ...] [--scenarios ...] [--seed N]``."""

from __future__ import annotations

import argparse
import multiprocessing
import re
import time
from pathlib import Path

from bench.battery import scenarios
from bench.battery.plant import BALCONY
from bench.battery.report import table
from bench.battery.sim import CONTROLLERS, BatteryResult, simulate
from bench.controller.scenario import Scenario

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmark-battery.md"
START, END = "<!-- bench.battery results: start -->", "<!-- bench.battery results: end -->"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.battery", description=__doc__)
    parser.add_argument("--controllers", help=f"comma-separated, default all: {', '.join(CONTROLLERS)}")
    parser.add_argument("--scenarios", help=f"comma-separated, default all: {', '.join(scenarios.DESCRIPTIONS)}")
    parser.add_argument("--hours", type=float, help="only the first HOURS of each scenario (from 04:00)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scenarios and the meter noise")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmark-battery.md")
    return parser.parse_args()


def _split(text: str | None, known: list[str]) -> list[str]:
    if text is None:
        return known
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise SystemExit(f"unknown: {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def _run(task: tuple[str, Scenario, int]) -> BatteryResult:
    name, scenario, seed = task
    return simulate(name, scenario, seed=seed)


def main() -> None:
    """Run the chosen controllers on the chosen scenarios; print (and write) the table."""
    args = _arguments()
    controllers = _split(args.controllers, list(CONTROLLERS))
    names = _split(args.scenarios, list(scenarios.DESCRIPTIONS))
    found = [scenarios.load(name, args.seed) for name in names]
    if args.hours:
        found = [s.head(round(args.hours * 3600)) for s in found]
    tasks = [(name, scenario, args.seed) for scenario in found for name in controllers]
    started = time.monotonic()
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(_run, tasks, chunksize=1)
    elapsed = time.monotonic() - started
    battery = BALCONY
    text = (
        f"Seed {args.seed}; battery {battery.capacity_wh:.0f} Wh, {battery.max_charge_w:.0f} W charge, "
        f"{battery.max_discharge_w:.0f} W discharge, reserve {battery.reserve_pct:.0f} %, "
        f"start at {battery.start_soc_pct:.0f} %; inverter preset typical.\n\n"
        + "\n".join(f"- `{s.name}`: {scenarios.DESCRIPTIONS[s.name]}" for s in found)
        + "\n\n"
        + table(results)
    )
    print(text)
    print(f"\n{len(tasks)} runs in {elapsed:.0f} s with {args.workers} workers")
    full = not (args.controllers or args.scenarios or args.hours or args.no_docs)
    if full:
        doc = DOC.read_text()
        if START not in doc:
            raise SystemExit(f"{DOC}: markers {START} / {END} missing")
        block = f"{START}\n{text}\n{END}"
        DOC.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.DOTALL))
        print(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
