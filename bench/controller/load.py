"""Household load at 1 s: richardsonpy's stochastic 1-min profile, upsampled, plus hard-case appliances.

richardsonpy (RWTH-EBC's port of the CREST/Richardson model, built on UK time-use survey occupancy
statistics and appliance data) gives minute means. Each minute is upsampled to seconds as appliance
switching: the change from the previous minute happens as one switch at a random second, and the level
after it is chosen so that the minute's energy is kept exactly.

The model's days vary a lot (0.3-1.2 kW mean for two occupants); the first seeded day whose energy lies in
``DAY_KWH`` (a two-person household's 2,000-3,300 kWh a year) is used, so results do not hinge on one outlier.
"""

from __future__ import annotations

import os
import random

import numpy as np

DAY_KWH = (5.5, 9.0)
SEED_STRIDE = 1000


def household_minutes(seed: int) -> np.ndarray:
    """A typical day (energy within DAY_KWH) of a two-person household in W at 1 min, seeded."""
    for attempt in range(50):
        minutes = richardson_minutes(seed + attempt * SEED_STRIDE)
        if DAY_KWH[0] <= minutes.sum() / 60 / 1000 <= DAY_KWH[1]:
            return minutes
    raise RuntimeError(f"no richardsonpy day within {DAY_KWH} kWh for seed {seed}")


def richardson_minutes(seed: int, *, occupants: int = 2, day_of_year: int = 172, weekend: bool = True) -> np.ndarray:
    """One day of household load in W at 1 min (1440 values) from richardsonpy, seeded."""
    import richardsonpy  # noqa: PLC0415  (heavy import, only when a scenario is generated)
    from richardsonpy.classes import appliance, lighting, occupancy  # noqa: PLC0415
    from richardsonpy.classes import stochastic_el_load_wrapper as wrapper  # noqa: PLC0415
    from richardsonpy.functions import load_radiation  # noqa: PLC0415

    random.seed(seed)  # richardsonpy draws from both generators
    np.random.seed(seed)
    inputs = os.path.join(os.path.dirname(richardsonpy.__file__), "inputs")
    occupants_profile = occupancy.Occupancy(number_occupants=occupants, nb_days=1, initial_day=6 if weekend else 1)
    appliances = appliance.Appliances(
        os.path.join(inputs, "Appliances.csv"), annual_consumption=0.91 * 3500, prev_heat_dev=True
    )
    lights = lighting.load_lighting_profile(filename=os.path.join(inputs, "LightBulbs.csv"), index=0)
    direct, diffuse = load_radiation.get_rad_from_try_path()
    hourly = (direct + diffuse)[day_of_year * 24 : (day_of_year + 1) * 24]
    irradiance = np.interp(np.arange(1440), np.arange(24) * 60, hourly)
    profile = wrapper.ElectricityProfile(appliances, lights)
    total, _, _ = profile.power_sim(
        irradiation=irradiance, weekend=weekend, day=day_of_year, occupancy=occupants_profile.occupancy[:144]
    )
    return np.asarray(total, dtype=float)


def upsample(minutes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds from minute means: one switch per minute at a random second, each minute's energy kept."""
    seconds = np.empty(len(minutes) * 60)
    before = minutes[0]
    for m, mean in enumerate(minutes):
        switch = int(rng.integers(0, 31))
        if mean < before:  # keep the level after the switch >= 0
            switch = min(switch, int(60 * mean / before))
        after = (60 * mean - switch * before) / (60 - switch)
        seconds[m * 60 : m * 60 + switch] = before
        seconds[m * 60 + switch : (m + 1) * 60] = after
        before = after
    return seconds


def hob(seconds: int, sessions: list[tuple[int, int]], rng: np.random.Generator, power_w: float = 1800.0) -> np.ndarray:
    """A cooking hob's thermostat pulsing: on and off for 10-30 s each, during (start, end) sessions in s."""
    draw = np.zeros(seconds)
    for start, end in sessions:
        t, on = start, True
        while t < min(end, seconds):
            length = int(rng.integers(10, 31))
            if on:
                draw[t : min(t + length, end)] = power_w
            t += length
            on = not on
    return draw


def steps(seconds: int, rng: np.random.Generator, power_w: float = 1500.0) -> np.ndarray:
    """A 1500 W appliance switching on and off, each state lasting 30-180 s: ±1500 W steps."""
    draw = np.zeros(seconds)
    t, on = int(rng.integers(30, 90)), True
    while t < seconds:
        length = int(rng.integers(30, 181))
        if on:
            draw[t : t + length] = power_w
        t += length
        on = not on
    return draw
