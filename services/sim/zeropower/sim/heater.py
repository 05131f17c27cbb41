"""A resistive heater behind a power controller that reads a PWM duty cycle."""

from __future__ import annotations

import math

from zeropower.sim.settings import HeaterSettings


def phase_fired_share(duty: float) -> float:
    """Share of full power a phase-angle controller delivers when the duty sets its firing angle linearly.

    Firing angle ``a = pi * (1 - duty)``; a resistive load then gets ``1 - a/pi + sin(2a)/(2 pi)``.
    """
    angle = math.pi * (1.0 - duty)
    return 1.0 - angle / math.pi + math.sin(2.0 * angle) / (2.0 * math.pi)


class HeaterModel:
    """Draws its rated power times the share its controller delivers at the duty cycle in force."""

    def __init__(self, settings: HeaterSettings) -> None:
        self.settings = settings
        self.duty = 0.0

    def set_duty(self, duty: float) -> None:
        """Apply a duty cycle (clamped to 0-1): the power controller follows within a mains cycle."""
        self.duty = min(max(duty, 0.0), 1.0)

    @property
    def power_w(self) -> float:
        """Power drawn now in W."""
        share = self.duty if self.settings.controller == "linear" else phase_fired_share(self.duty)
        return self.settings.rated_w * max(share, 0.0)  # sin(2 pi) is not exactly 0 in floating point
