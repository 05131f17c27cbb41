"""HoymilesZeroExport as published: a 20 s loop, target -75 W ± 25 W, ``new = previous + grid - target``.

- Importing beyond the max point (0 W): jump to 100 % at once.
- "Slow approximation": a reduction larger than 20 % of the nameplate is only taken by 20 % of its size
  (our reading of "dampens large reductions").
- After each command it waits for the DTU to confirm the limit (read-back), at most 10 s, then the
  20 s loop interval runs. No staleness check on meter data.
"""

from __future__ import annotations

from bench.controller.plant import INVERTER_ID, Telemetry
from bench.controller.protocol import Setup

LOOP_S = 20.0
TARGET_W = -75.0
TOLERANCE_W = 25.0
MAX_POINT_W = 0.0
SLOW_APPROX_SHARE = 0.2
CONFIRM_TIMEOUT_S = 10.0


class HoymilesZeroExport:
    """The HoymilesZeroExport loop for one inverter."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._min, self._max = setup.min_limit_w, setup.max_limit_w
        self._limit = self._max
        self._next_s = 0.0
        self._confirm: tuple[float, float] | None = None  # (limit sent, sent at)

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        for state in states:
            if self._confirm is not None and state.device_id == INVERTER_ID and state.limit_w == self._confirm[0]:
                self._next_s = now_s + LOOP_S
                self._confirm = None

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        if self._confirm is not None and now_s - self._confirm[1] >= CONFIRM_TIMEOUT_S:
            self._next_s = now_s + LOOP_S
            self._confirm = None
        if self._confirm is not None or now_s < self._next_s:
            return {}
        self._next_s = now_s + LOOP_S
        if grid_w > MAX_POINT_W:
            new = self._max
        elif abs(grid_w - TARGET_W) <= TOLERANCE_W:
            return {}
        else:
            new = self._limit + grid_w - TARGET_W
            if self._limit - new > SLOW_APPROX_SHARE * self._max:
                new = self._limit - SLOW_APPROX_SHARE * (self._limit - new)
        new = round(min(max(new, self._min), self._max))
        if new == self._limit:
            return {}
        self._limit = new
        self._confirm = (new, now_s)
        return {INVERTER_ID: new}
