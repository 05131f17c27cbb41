"""The inverter reference system's integral controller: a PI loop on a 5 s meter poll.

Published: a PID-style loop with anti-windup, a deadband and a fast reaction to grid spikes, polling
the meter every few seconds. Assumed here: 5 s poll, target 0 W, deadband 20 W, limit = integral +
Kp x error with Kp 0.3 and Ki 0.5 per poll; the integral is clamped to [min, max] and does not grow
while the inverter is sun-limited (output 50 W under its limit: anti-windup); an export beyond 200 W
cuts at once to what the output minus the export gives. With several inverters the loop runs on the
totals (outputs and limits summed) and the limit is split in proportion to the nameplates (assumed: the
published system controls one inverter).
"""

from __future__ import annotations

from bench.controller.plant import Telemetry
from bench.controller.protocol import Setup
from bench.controller.split import by_nameplate

POLL_S = 5
TARGET_W = 0.0
DEADBAND_W = 20.0
KP, KI = 0.3, 0.5
SPIKE_W = 200.0
SUN_LIMITED_W = 50.0
MIN_CHANGE_W = 10.0


class IntegralController:
    """PI control of the inverters' total limit."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._inverters = setup.inverters
        self._min, self._max = setup.min_limit_w, setup.max_limit_w
        self._integral = self._max
        self._sent = self._max
        self._output: float | None = None
        self._sun_limited = False

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        inverters = [state for state in states if state.device_id in {spec.device_id for spec in self._inverters}]
        if inverters:
            self._output = sum(state.power_w for state in inverters)
            self._sun_limited = self._output < sum(state.limit_w for state in inverters) - SUN_LIMITED_W

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        if int(now_s) % POLL_S:
            return {}
        error = grid_w - TARGET_W
        if error < -SPIKE_W and self._output is not None:
            self._integral = max(self._min, self._output + error)
            limit = self._integral
        else:
            if abs(error) > DEADBAND_W and not (error > 0 and self._sun_limited):
                self._integral = min(max(self._integral + KI * error, self._min), self._max)
            limit = self._integral + (KP * error if abs(error) > DEADBAND_W else 0.0)
        limit = round(min(max(limit, self._min), self._max))
        if abs(limit - self._sent) < MIN_CHANGE_W:
            return {}
        self._sent = limit
        return by_nameplate(limit, self._inverters)
