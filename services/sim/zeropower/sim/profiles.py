"""Household load and PV availability over time: pure models stepped with dt and a seeded RNG."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from zeropower.sim.settings import ApplianceSettings, CloudSettings, ConstantPv, LoadSettings, Phase, PvSettings

PHASES: tuple[Phase, ...] = ("a", "b", "c")
#: How the base load (and a forced load) is spread over phases a, b and c.
BASE_LOAD_SPLIT = (0.45, 0.35, 0.20)

PhaseValues = tuple[float, float, float]


def split_over_phases(total_w: float) -> PhaseValues:
    """A total load spread over the three phases like the base load."""
    a, b, c = (total_w * share for share in BASE_LOAD_SPLIT)
    return a, b, c


def appliance_on(appliance: ApplianceSettings, now_s: float) -> bool:
    """Whether the appliance is running at ``now_s`` seconds after the start."""
    since_first = now_s - appliance.first_on_s
    return since_first >= 0 and since_first % appliance.every_s < appliance.on_s


class LoadModel:
    """Base load with a slow random wander (Ornstein-Uhlenbeck) plus periodic appliances, per phase."""

    def __init__(self, settings: LoadSettings, rng: random.Random) -> None:
        self._settings = settings
        self._rng = rng
        self._wander_w = 0.0

    def step(self, now_s: float, dt_s: float) -> PhaseValues:
        """Advance the wander by ``dt_s`` and return the load of each phase in W at ``now_s``."""
        settings = self._settings
        if dt_s > 0 and settings.noise_w > 0:
            decay = math.exp(-dt_s / settings.noise_time_constant_s)
            spread = settings.noise_w * math.sqrt(1 - decay * decay)
            self._wander_w = self._wander_w * decay + self._rng.gauss(0.0, spread)
        loads = list(split_over_phases(settings.base_w + self._wander_w))
        for appliance in settings.appliances:
            if appliance_on(appliance, now_s):
                loads[PHASES.index(appliance.phase)] += appliance.power_w
        a, b, c = (max(load, 0.0) for load in loads)
        return a, b, c


@dataclass(frozen=True)
class Cloud:
    """One cloud passing in front of the sun."""

    start_s: float
    end_s: float
    depth: float

    def dimming(self, now_s: float, edge_s: float) -> float:
        """Share of the PV power this cloud takes away at ``now_s`` (0 outside, ``depth`` at full cover)."""
        if not self.start_s <= now_s <= self.end_s:
            return 0.0
        if edge_s <= 0:
            return self.depth
        cover = min(now_s - self.start_s, self.end_s - now_s) / edge_s
        return self.depth * min(cover, 1.0)


class CloudModel:
    """Clouds arriving at random (exponentially distributed gaps), each with a random length and depth."""

    def __init__(self, settings: CloudSettings, rng: random.Random) -> None:
        self._settings = settings
        self._rng = rng
        self._cloud: Cloud | None = None
        self._next_start_s = self._gap_s(0.0)

    def transmission(self, now_s: float) -> float:
        """Share of the sunshine that reaches the panels at ``now_s`` (1 = clear); times must not go back."""
        if self._cloud is not None and now_s > self._cloud.end_s:
            self._next_start_s = self._gap_s(self._cloud.end_s)
            self._cloud = None
        if self._cloud is None and now_s >= self._next_start_s:
            self._cloud = self._new_cloud(self._next_start_s)
        if self._cloud is None:
            return 1.0
        return 1.0 - self._cloud.dimming(now_s, self._settings.edge_s)

    def _gap_s(self, after_s: float) -> float:
        if self._settings.per_hour <= 0 or self._settings.depth <= 0:
            return math.inf
        return after_s + self._rng.expovariate(self._settings.per_hour / 3600.0)

    def _new_cloud(self, start_s: float) -> Cloud:
        settings = self._settings
        duration_s = max(settings.duration_s * self._rng.uniform(0.5, 1.5), 2 * settings.edge_s)
        depth = settings.depth * self._rng.uniform(0.5, 1.0)
        return Cloud(start_s=start_s, end_s=start_s + duration_s, depth=depth)


class PvModel:
    """PV power available from all panels together: a constant or a day curve, times the clouds."""

    def __init__(self, settings: PvSettings, rng: random.Random) -> None:
        self._settings = settings
        self._clouds = CloudModel(settings.clouds, rng)

    def available_w(self, now_s: float) -> float:
        """PV power in W the panels could deliver at ``now_s`` seconds after the start."""
        return self.clear_sky_w(now_s) * self._clouds.transmission(now_s)

    def clear_sky_w(self, now_s: float) -> float:
        """PV power in W without clouds at ``now_s`` seconds after the start."""
        settings = self._settings
        if isinstance(settings, ConstantPv):
            return settings.power_w
        hour = (settings.start_h + now_s * settings.time_lapse / 3600.0) % 24.0
        if not settings.sunrise_h < hour < settings.sunset_h:
            return 0.0
        position = (hour - settings.sunrise_h) / (settings.sunset_h - settings.sunrise_h)
        return settings.peak_w * math.sin(math.pi * position)
