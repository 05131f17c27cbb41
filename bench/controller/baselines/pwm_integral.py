"""The PWM reference system's integral diverter: 1 Hz, clamped integrator + P, Kp 0.14, Ki 0.4 per step.

Target -15 W (a little export). The heater's power = integral + Kp x error, with error = target - grid,
both clamped to [0, rated]; one integral gain for both directions (the published system has separate
up/down gains with values not given).
"""

from __future__ import annotations

from bench.controller.plant import HEATER_ID, HEATER_RATED_W, Telemetry
from bench.controller.protocol import Setup

TARGET_W = -15.0
KP, KI = 0.14, 0.4


class PwmIntegral:
    """The integral diverter driving one heater."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._integral = 0.0

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """The diverter has no telemetry loop."""

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        error = TARGET_W - grid_w
        self._integral = min(max(self._integral + KI * error, 0.0), HEATER_RATED_W)
        return {HEATER_ID: min(max(self._integral + KP * error, 0.0), HEATER_RATED_W)}
