"""Whole days into the evening, from bench.controller.library's data: its ``day`` load and PV, and clear/cloudy skies.

All three share the ``day`` scenario's household load (richardsonpy, two occupants, a summer weekend day, seeded)
and run from 04:00 (before sunrise, 04:43 local time in Berlin on 21 June) to midnight, 1 s steps, the battery at
its reserve at the start (so everything it gives back came from that day's sun):

- ``clear``: pvlib's clear sky all day (bench.controller.solar, the library's site and panels).
- ``day``: the library's ``day``: broken clouds 10-17 h.
- ``cloudy``: the library's ``clouds``: broken clouds all day (clear ~90 s, shade ~60 s).
"""

from __future__ import annotations

from bench.controller import library
from bench.controller.scenario import Scenario, read_csv, write_csv

START_S = 4 * 3600
END_S = 24 * 3600
VERSION = 1

DESCRIPTIONS = {
    "clear": "04-24 h, clear sky all day (Berlin, 21 June), the `day` scenario's household load",
    "day": "04-24 h, the library's `day`: broken clouds 10-17 h",
    "cloudy": "04-24 h, the library's `clouds`: broken clouds all day (clear ~90 s, shade ~60 s)",
}


def _window(scenario: Scenario, name: str) -> Scenario:
    return Scenario(name, scenario.load_w[START_S:END_S], scenario.pv_avail_w[START_S:END_S], start_s=START_S)


def load(name: str, seed: int) -> Scenario:
    """The named whole-day scenario for ``seed`` (generated through bench.controller.library, cached)."""
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(DESCRIPTIONS)}")
    if name == "day":
        return _window(library.load("day", seed), name)
    if name == "cloudy":
        return _window(library.load("clouds", seed), name)
    path = library.CACHE / f"battery-clear-seed{seed}-v{VERSION}.csv"
    if not path.exists():
        from bench.controller.solar import clear_sky_ac_w  # noqa: PLC0415  (generation only: pvlib)

        day = library.load("day", seed)
        pv = [float(x) for x in clear_sky_ac_w(library.DAY, len(day.pv_avail_w), day.start_s)]
        write_csv(Scenario("clear", day.load_w, pv, start_s=day.start_s), path)
    return _window(read_csv(path, name="clear"), name)
