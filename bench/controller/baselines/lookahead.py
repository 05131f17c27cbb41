"""The physical limits: perfect knowledge of the load, but the inverter's dead time and ramp.

``Lookahead`` knows the load one dead time ahead and sends every second the limit the load will need when
this command takes effect: the limit of any controller. ``Reactive`` knows the true load now (no meter
noise, no telemetry delay) but not the future: the limit of any controller without foresight. Neither
anticipates the ramp, and both ignore any limit on the command rate.
"""

from __future__ import annotations

from bench.controller.plant import INVERTER_ID, Telemetry
from bench.controller.protocol import Setup

TARGET_W = 0.0
MIN_CHANGE_W = 1.0


class Lookahead:
    """Feed-forward from the future load over the inverter's dead time."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._setup = setup
        self._ahead = self.ahead_s(setup)
        self._sent: float | None = None

    @staticmethod
    def ahead_s(setup: Setup) -> int:
        """How far ahead it looks: one dead time."""
        return round(setup.preset.dead_time_s)

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Needs none."""

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        at = min(int(now_s) + self._ahead, len(self._setup.load_w) - 1)
        limit = min(max(self._setup.load_w[at] - TARGET_W, self._setup.min_limit_w), self._setup.max_limit_w)
        if self._sent is not None and abs(limit - self._sent) < MIN_CHANGE_W:
            return {}
        self._sent = limit
        return {INVERTER_ID: limit}


class Reactive(Lookahead):
    """Feed-forward from the true load now: what any controller without foresight could at best do."""

    @staticmethod
    def ahead_s(setup: Setup) -> int:
        """It does not look ahead."""
        return 0
