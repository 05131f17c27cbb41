"""HoymilesZeroExport as published: a 20 s loop, target -75 W ± 25 W, ``new = previous + grid - target``.

- Importing beyond the max point (0 W): jump to 100 % at once.
- "Slow approximation": a reduction larger than 20 % of the nameplate is only taken by 20 % of its size
  (our reading of "dampens large reductions").
- The total is split over the inverters in proportion to their nameplate power, each rounded to 1 W.
- After each round of commands it waits for the DTU to confirm every limit (read-back), at most 10 s,
  then the 20 s loop interval runs. No staleness check on meter data.
"""

from __future__ import annotations

from bench.controller.plant import Telemetry
from bench.controller.protocol import Setup
from bench.controller.split import by_nameplate

LOOP_S = 20.0
TARGET_W = -75.0
TOLERANCE_W = 25.0
MAX_POINT_W = 0.0
SLOW_APPROX_SHARE = 0.2
CONFIRM_TIMEOUT_S = 10.0


class HoymilesZeroExport:
    """The HoymilesZeroExport loop over the installation's inverters."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._inverters = setup.inverters
        self._min, self._max = setup.min_limit_w, setup.max_limit_w
        self._limit = self._max
        self._next_s = 0.0
        self._unconfirmed: dict[str, float] = {}  # limits sent and not yet read back
        self._sent_s = 0.0

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        for state in states:
            if self._unconfirmed.get(state.device_id) == state.limit_w:
                del self._unconfirmed[state.device_id]
                if not self._unconfirmed:
                    self._next_s = now_s + LOOP_S

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        if self._unconfirmed and now_s - self._sent_s >= CONFIRM_TIMEOUT_S:
            self._next_s = now_s + LOOP_S
            self._unconfirmed = {}
        if self._unconfirmed or now_s < self._next_s:
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
        self._unconfirmed = {device_id: round(limit) for device_id, limit in by_nameplate(new, self._inverters).items()}
        self._sent_s = now_s
        return dict(self._unconfirmed)
