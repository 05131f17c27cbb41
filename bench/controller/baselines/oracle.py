"""The oracle: knows the next second's load and PV and has a perfect actuator (no dead time, no ramp)."""

from __future__ import annotations

from bench.controller.plant import HEATER_ID, HEATER_RATED_W, INVERTER_ID, NAMEPLATE_W, Telemetry
from bench.controller.protocol import Setup

TARGET_W = 0.0


class Oracle:
    """Sets the limit (or heater) to exactly what the next second needs."""

    perfect_actuator = True
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._setup = setup
        self._sent: float | None = None

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Needs none."""

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        at = min(int(now_s) + 1, len(self._setup.load_w) - 1)
        load, pv = self._setup.load_w[at], self._setup.pv_avail_w[at]
        if self._setup.heater:
            setpoint = min(max(min(pv, NAMEPLATE_W) - load + TARGET_W, 0.0), HEATER_RATED_W)
            device = HEATER_ID
        else:
            setpoint = min(max(load - TARGET_W, self._setup.min_limit_w), self._setup.max_limit_w)
            device = INVERTER_ID
        if setpoint == self._sent:
            return {}
        self._sent = setpoint
        return {device: setpoint}
