"""OpenDTU-OnBattery's dynamic power limiter as published: event-driven, waits for its change to show.

After a command it waits until the limit read-back shows it applied, then for inverter data newer than
that, then for a meter reading newer than that; then ``target_output = current_output + grid - target``.
Target 0 W; changes under a 30 W hysteresis are not sent (assumed, as the limiter's default hysteresis).
A command to an unreachable inverter is lost and sent again once it reports.
"""

from __future__ import annotations

from bench.controller.plant import INVERTER_ID, Telemetry
from bench.controller.protocol import Setup

TARGET_W = 0.0
HYSTERESIS_W = 30.0


class OnBatteryLimiter:
    """The dynamic power limiter for one (solar-powered) inverter."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._min, self._max = setup.min_limit_w, setup.max_limit_w
        self._limit = self._max
        self._output: float | None = None
        self._data_at: float | None = None  # newest inverter data
        self._pending: float | None = None  # limit sent, not yet read back
        self._applied_at: float | None = None  # when the read-back showed it

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        for state in states:
            if state.device_id != INVERTER_ID:
                continue
            self._output = state.power_w
            self._data_at = now_s
            if not state.reachable:
                self._pending = self._applied_at = None  # the command is lost; send again when it is back
            elif self._pending is not None and state.limit_w == self._pending:
                self._pending = None
                self._applied_at = now_s

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        if self._pending is not None or self._output is None or self._data_at is None:
            return {}
        if self._applied_at is not None and not self._data_at > self._applied_at:
            return {}  # wait for inverter data newer than the applied limit (the meter reading is newer still)
        target = round(min(max(self._output + grid_w - TARGET_W, self._min), self._max))
        if abs(target - self._limit) < HYSTERESIS_W:
            return {}
        self._limit = target
        self._pending = target
        self._applied_at = None
        return {INVERTER_ID: target}
