"""From the power fraction wanted (0-1 of the rated power) to a PWM duty cycle (0-1), and back.

Each mapping is chosen by ``type``: ``linear`` (a solid-state relay: power is proportional to duty),
``phase_fired`` (a phase-angle controller that maps duty linearly to the firing angle) or ``table`` (a
measured calibration). Every mapping also estimates the power fraction a duty delivers.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from zeropower.shared.settings import StrictModel

#: Bisection steps of the phase-fired inverse: 2^-60 is far below any duty resolution.
_BISECTION_STEPS = 60


def phase_fired_fraction(duty: float) -> float:
    """Power fraction a phase-fired controller delivers at ``duty``: angle a = pi(1-duty), 1 - a/pi + sin 2a/2pi."""
    angle = math.pi * (1 - min(max(duty, 0.0), 1.0))
    return min(max(1 - angle / math.pi + math.sin(2 * angle) / (2 * math.pi), 0.0), 1.0)


def phase_fired_duty(fraction: float) -> float:
    """The duty at which a phase-fired controller delivers ``fraction`` of its power (the inverse, by bisection)."""
    if fraction <= 0:
        return 0.0
    if fraction >= 1:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if phase_fired_fraction(middle) < fraction:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise linear y(x) through ``points`` (x strictly increasing), held constant beyond the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


class _Mapping(StrictModel, ABC):
    """What every mapping has: the duty range the load responds to."""

    min_duty: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Lowest duty above 0 (0-1): any wanted power > 0 gets at least this duty, 0 W gets 0.",
    )
    max_duty: float = Field(1.0, gt=0, le=1, description="Highest duty (0-1), reached at the rated power.")

    @model_validator(mode="after")
    def _duty_range(self) -> Self:
        if self.min_duty >= self.max_duty:
            raise ValueError(f"min_duty ({self.min_duty:g}) must be below max_duty ({self.max_duty:g})")
        return self

    def duty(self, fraction: float) -> float:
        """The duty for ``fraction`` of the rated power: 0 for fraction <= 0, else within [min_duty, max_duty]."""
        if fraction <= 0:
            return 0.0
        return min(max(self._duty(min(fraction, 1.0)), self.min_duty), self.max_duty)

    def fraction(self, duty: float) -> float:
        """The estimated fraction of the rated power delivered at ``duty`` (0 at duty 0)."""
        return 0.0 if duty <= 0 else self._fraction(min(duty, 1.0))

    @abstractmethod
    def _duty(self, fraction: float) -> float:
        """The curve's duty for a fraction in (0, 1], before the clamps."""

    @abstractmethod
    def _fraction(self, duty: float) -> float:
        """The curve's power fraction for a duty in (0, 1]."""


class LinearMapping(_Mapping):
    """Duty = power fraction: a solid-state relay switching whole mains cycles (use a low PWM frequency)."""

    type: Literal["linear"] = Field("linear", description="Power proportional to duty (solid-state relay).")

    def _duty(self, fraction: float) -> float:
        return fraction

    def _fraction(self, duty: float) -> float:
        return duty


class PhaseFiredMapping(_Mapping):
    """A phase-angle controller reading the PWM duty: the inverse of its power curve makes power linear."""

    type: Literal["phase_fired"] = Field(
        "phase_fired",
        description="Phase-angle controller mapping duty linearly to the firing angle; its curve is inverted.",
    )

    def _duty(self, fraction: float) -> float:
        return phase_fired_duty(fraction)

    def _fraction(self, duty: float) -> float:
        return phase_fired_fraction(duty)


class TableMapping(_Mapping):
    """A measured calibration: [power_fraction, duty] points, linear in between."""

    type: Literal["table"] = Field("table", description="Calibration table of [power_fraction, duty] points.")
    points: list[tuple[float, float]] = Field(
        min_length=2,
        description="[power_fraction, duty] pairs, both 0-1 and strictly increasing, from fraction 0 to 1.",
    )

    @model_validator(mode="after")
    def _monotonic_and_complete(self) -> Self:
        for index, (fraction, duty) in enumerate(self.points):
            if not (0 <= fraction <= 1 and 0 <= duty <= 1):
                raise ValueError(f"points[{index}]: power fraction and duty must lie within 0-1")
        for index, (before, after) in enumerate(itertools.pairwise(self.points), start=1):
            if after[0] <= before[0] or after[1] <= before[1]:
                raise ValueError(f"points[{index}]: power fraction and duty must both increase from point to point")
        if self.points[0][0] != 0 or self.points[-1][0] != 1:
            raise ValueError("points must start at power fraction 0 and end at 1")
        return self

    def _duty(self, fraction: float) -> float:
        return interpolate(self.points, fraction)

    def _fraction(self, duty: float) -> float:
        return interpolate([(d, f) for f, d in self.points], duty)


#: The mapping section of the settings: ``type`` picks one, so a bad config names the exact field.
MappingConfig = Annotated[LinearMapping | PhaseFiredMapping | TableMapping, Field(discriminator="type")]
