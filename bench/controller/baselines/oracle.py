"""The oracle: knows the next second's load and PV and has a perfect actuator (no dead time, no ramp, no radio).

It shares the limit in proportion to what each inverter could give.
"""

from __future__ import annotations

from bench.controller.plant import HEATER_ID, HEATER_RATED_W, Telemetry
from bench.controller.protocol import Setup
from bench.controller.split import proportional

TARGET_W = 0.0


class Oracle:
    """Sets the limits (or heater) to exactly what the next second needs."""

    perfect_actuator = True
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._setup = setup
        self._sent: dict[str, float] = {}

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Needs none."""

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        at = min(int(now_s) + 1, len(self._setup.load_w) - 1)
        load, caps = self._setup.load_w[at], self._setup.caps_w(at)
        if self._setup.heater:
            setpoints = {HEATER_ID: min(max(sum(caps) - load + TARGET_W, 0.0), HEATER_RATED_W)}
        else:
            setpoints = proportional(load - TARGET_W, self._setup.inverters, caps)
        changed = {device: setpoint for device, setpoint in setpoints.items() if self._sent.get(device) != setpoint}
        self._sent.update(changed)
        return changed
