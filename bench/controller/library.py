"""The named scenarios, generated once per seed and cached as CSV under bench/.cache/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.controller.scenario import Scenario, read_csv, write_csv

CACHE = Path(__file__).resolve().parent.parent / ".cache"
DAY = "2025-06-21"
VERSION = 1  # bump when generation changes, so stale cache files are not used

DESCRIPTIONS = {
    "day": "24 h, Berlin 21 June, broken clouds 10-17 h (clear ~5 min, shade ~1.5 min), richardsonpy load",
    "clouds": "24 h, broken clouds all day (clear ~90 s, shade ~60 s), richardsonpy load",
    "hob": "11-13 h, clear sky, richardsonpy load + an 1800 W hob pulsing 10-30 s on/off for 2 x 30 min",
    "steps": "10-12 h, clear sky, richardsonpy load + a 1500 W appliance switching every 30-180 s",
    "diverter": "24 h like 'day', a 2000 W heater diverts the surplus; the inverter runs unlimited",
}


def load(name: str, seed: int) -> Scenario:
    """The named scenario for ``seed``, from the cache or generated (needs numpy, pvlib, richardsonpy)."""
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(DESCRIPTIONS)} or a CSV path")
    path = CACHE / f"{name}-seed{seed}-v{VERSION}.csv"
    if not path.exists():
        write_csv(_GENERATORS[name](seed), path)
    return read_csv(path, name=name, heater=name == "diverter")


def _build(
    name: str,
    seed: int,
    start_h: float,
    hours: float,
    *,
    clouds: tuple[float, float, float, float] | None,
    appliance: str | None = None,
) -> Scenario:
    import numpy as np  # noqa: PLC0415  (generation only)

    from bench.controller import load as household  # noqa: PLC0415
    from bench.controller.clouds import CloudModel, clear_sky_index  # noqa: PLC0415
    from bench.controller.solar import clear_sky_ac_w  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    start_s, seconds = round(start_h * 3600), round(hours * 3600)
    day_load = household.upsample(household.household_minutes(seed), rng)
    load_w = day_load[start_s : start_s + seconds]
    pv_w = clear_sky_ac_w(DAY, seconds, start_s)
    if clouds is not None:
        clear_s, shade_s, from_h, to_h = clouds
        pv_w = pv_w * clear_sky_index(CloudModel(clear_s, shade_s, (from_h, to_h)), seconds, start_s, rng)
    if appliance == "hob":
        load_w = load_w + household.hob(seconds, [(600, 2400), (4200, 6000)], rng)  # 11:10-11:40, 12:10-12:40
    elif appliance == "steps":
        load_w = load_w + household.steps(seconds, rng)
    return Scenario(name, [float(x) for x in load_w], [float(x) for x in pv_w], start_s=start_s, heater=False)


_GENERATORS: dict[str, Callable[[int], Scenario]] = {
    "day": lambda seed: _build("day", seed, 0, 24, clouds=(300, 90, 10, 17)),
    "clouds": lambda seed: _build("clouds", seed, 0, 24, clouds=(90, 60, 0, 24)),
    "hob": lambda seed: _build("hob", seed, 11, 2, clouds=None, appliance="hob"),
    "steps": lambda seed: _build("steps", seed, 10, 2, clouds=None, appliance="steps"),
    "diverter": lambda seed: _build("diverter", seed, 0, 24, clouds=(300, 90, 10, 17)),
}
