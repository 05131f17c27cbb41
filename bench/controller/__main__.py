"""Run the control-quality benchmark: ``python -m bench.controller [--controllers ...] [--scenario file.csv]``."""

from __future__ import annotations

import argparse
import multiprocessing
import re
import time
from pathlib import Path

from bench.controller import library
from bench.controller.controllers import DIVERTER, INVERTER, OBSERVED_STATISTICAL, PACED, STATISTICAL
from bench.controller.layouts import LAYOUTS
from bench.controller.plant import PRESETS
from bench.controller.plots import plot_window
from bench.controller.protocol import ProductOptions
from bench.controller.report import check_lines, checks, reach_lines, table
from bench.controller.scenario import Scenario, read_csv
from bench.controller.sim import Result, simulate

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmark.md"
START, END = "<!-- bench.controller results: start -->", "<!-- bench.controller results: end -->"
#: The hard stretches plotted (typical preset): scenario, start (time of day, s), length (s), file name.
PLOTS = (
    ("hob", 11 * 3600 + 480, 1200, "bench-hob.png"),
    ("clouds", 12 * 3600, 3600, "bench-clouds.png"),
    ("steps", 10 * 3600, 3600, "bench-steps.png"),
)
PLOTTED = ("zeropower", "hoymiles", "integral", "onbattery", "lookahead")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.controller", description=__doc__)
    parser.add_argument("--controllers", help=f"comma-separated, default all: {', '.join(INVERTER | DIVERTER)}")
    parser.add_argument("--presets", help=f"comma-separated, default all: {', '.join(PRESETS)}")
    parser.add_argument("--plants", help=f"comma-separated inverter sets, default all: {', '.join(LAYOUTS)}")
    parser.add_argument("--scenarios", help=f"comma-separated names, default all: {', '.join(library.DESCRIPTIONS)}")
    parser.add_argument("--scenario", type=Path, help="a CSV with columns t_s,load_w,pv_avail_w (instead of the named)")
    parser.add_argument("--hours", type=float, help="only the first HOURS of each scenario")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scenarios and the meter noise")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmark.md and docs/img/")
    parser.add_argument(
        "--commands-per-hour", type=int, help="zeropower's inverter command budget (default: the product's, 240)"
    )
    parser.add_argument(
        "--configured-dead-time-s", type=float, help="zeropower's configured dead time (default: the true one)"
    )
    parser.add_argument(
        "--learn-dynamics",
        action=argparse.BooleanOptionalAction,
        help="whether zeropower learns dead time and ramp (default: the product's, on)",
    )
    parser.add_argument(
        "--forecast-load",
        action=argparse.BooleanOptionalAction,
        help="whether zeropower anticipates load changes from the load's history (default: the product's, off)",
    )
    return parser.parse_args()


def _split(text: str | None, known: list[str]) -> list[str]:
    if text is None:
        return known
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise SystemExit(f"unknown: {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def _scenarios(args: argparse.Namespace) -> list[Scenario]:
    if args.scenario is not None:
        found = [read_csv(args.scenario)]
    else:
        found = [library.load(name, args.seed) for name in _split(args.scenarios, list(library.DESCRIPTIONS))]
    return [s.head(round(args.hours * 3600)) if args.hours else s for s in found]


def _run(task: tuple[str, Scenario, str, int, bool, ProductOptions, str]) -> Result:
    controller, scenario, preset, seed, keep_trace, product, plant = task
    return simulate(controller, scenario, preset, seed=seed, keep_trace=keep_trace, product=product, plant=plant)


def main() -> None:
    """Run the chosen controllers, scenarios and presets; print (and write) the table and the check."""
    args = _arguments()
    product = ProductOptions(
        args.commands_per_hour, args.configured_dead_time_s, args.learn_dynamics, args.forecast_load
    )
    chosen = (
        args.controllers,
        args.presets,
        args.plants,
        args.scenarios,
        args.scenario,
        args.hours,
        product != ProductOptions(),
    )
    full = not any(chosen) and not args.no_docs
    controllers = _split(args.controllers, list(INVERTER | DIVERTER))
    presets = _split(args.presets, list(PRESETS))
    plants = _split(args.plants, list(LAYOUTS))
    scenarios = _scenarios(args)
    plotted = {name for name, _, _, _ in PLOTS} if full else set()
    tasks = [
        (
            name,
            scenario,
            preset,
            args.seed,
            scenario.name in plotted and preset == "typical" and name in PLOTTED and plant == "single",
            product,
            plant,
        )
        for plant in plants
        for preset in presets
        for scenario in scenarios
        for name in controllers
        if name in (DIVERTER if scenario.heater else INVERTER) and (plant == "single" or not scenario.heater)
    ]
    started = time.monotonic()
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(_run, tasks, chunksize=1)
    elapsed = time.monotonic() - started
    inverter_scenarios = [s.name for s in scenarios if not s.heater]
    names = "\n".join(f"- `{s.name}`: {library.DESCRIPTIONS.get(s.name, 'from CSV')}" for s in scenarios)
    names += "\n\nPlants (diverter on `single` only):\n\n" + "\n".join(
        f"- `{plant}`: {LAYOUTS[plant].description}" for plant in plants
    )
    fronts = (f"{STATISTICAL}-", f"{PACED}{STATISTICAL}-", f"{PACED}{OBSERVED_STATISTICAL}-")
    listed = [r for r in results if not r.controller.startswith(fronts)]  # their fronts: below
    text = f"{names}\n\n{table(listed)}\n\nTarget check (sums over {', '.join(inverter_scenarios)}):\n\n"
    text += check_lines(checks(results, inverter_scenarios))
    reach = reach_lines(results, inverter_scenarios)
    if reach:
        text += "\n\nWhat knowing the load's statistics reaches (the `statistical` reference; see above):\n\n" + reach
    paced = reach_lines(results, inverter_scenarios, reference=f"{PACED}{STATISTICAL}")
    if paced:
        text += (
            "\n\n... and through the product's actuator (`paced-statistical`: the same limits through "
            "actuator-opendtu's pacing and 240 commands an hour):\n\n" + paced
        )
    observed = reach_lines(results, inverter_scenarios, reference=f"{PACED}{OBSERVED_STATISTICAL}")
    if observed:
        text += (
            "\n\n... and seeing only what zeropower sees (`paced-observed-statistical`: the load estimated from the "
            "noisy meter and an exact replica of the plant, the sun from telemetry, through the actuator):\n\n"
            + observed
        )
    print(text)
    print(f"\n{len(tasks)} runs in {elapsed:.0f} s with {args.workers} workers; zeropower: {product}")
    if full:
        _write_docs(text, results)


def _write_docs(text: str, results: list[Result]) -> None:
    for scenario, from_s, seconds, file in PLOTS:
        chosen = [r for r in results if r.scenario == scenario and r.trace is not None]
        title = f"{scenario}, preset typical, from {from_s // 3600}:{from_s % 3600 // 60:02d} for {seconds // 60} min"
        plot_window(chosen, from_s, seconds, REPO / "docs" / "img" / file, title)
    doc = DOC.read_text()
    if START not in doc:
        raise SystemExit(f"{DOC}: markers {START} / {END} missing")
    block = f"{START}\n{text}\n{END}"
    DOC.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.DOTALL))
    print(f"wrote {DOC.relative_to(REPO)} and docs/img/bench-*.png")


if __name__ == "__main__":
    main()
