"""The physical limits: perfect knowledge of the load, but the inverter's dead time and ramp.

``Lookahead`` knows the load one dead time ahead and sends every second the limit the load will need when
this command takes effect: the limit of any controller. ``Reactive`` knows the true load now (no meter
noise, no telemetry delay) but not the future: the limit of any controller without foresight. Neither
anticipates the ramp, and both ignore any limit on the command rate. The total is shared in proportion to
what each inverter could give (its panels' power, at most its nameplate); each inverter gets a command when
its share moved, through the same radio as everyone's.
"""

from __future__ import annotations

from collections.abc import Mapping

from bench.controller.plant import Telemetry
from bench.controller.protocol import Setup
from bench.controller.split import proportional

TARGET_W = 0.0
MIN_CHANGE_W = 1.0


class Lookahead:
    """Feed-forward from the future load over the inverter's dead time."""

    perfect_actuator = False
    target_w = TARGET_W
    #: A share is sent when it moved by at least this much.
    min_change_w = MIN_CHANGE_W

    def __init__(self, setup: Setup) -> None:
        self._setup = setup
        self._ahead = self.ahead_s(setup)
        self._sent: dict[str, float] = {}

    @staticmethod
    def ahead_s(setup: Setup) -> int:
        """How far ahead it looks: one dead time."""
        return round(setup.preset.dead_time_s)

    #: True when a ``Paced`` wrapper decides which of its limits are sent (and tells ``on_sent``).
    paced = False

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Needs none."""

    def on_sent(self, now_s: float, commands: Mapping[str, float]) -> None:
        """The limits that went out (a reference that models its plant follows them)."""

    def needed_w(self, second: int) -> float:
        """The load the limit sent at ``second`` is to meet: the load ``ahead_s`` later."""
        return self._setup.load_w[self._seen_at(second)]

    def caps_w(self, second: int) -> list[float]:
        """What each inverter's panels give when the limit takes effect (ground truth), to share by."""
        return self._setup.caps_w(self._seen_at(second))

    def _seen_at(self, second: int) -> int:
        return min(second + self._ahead, len(self._setup.load_w) - 1)

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        second = int(now_s)
        caps = self.caps_w(second)
        shares = proportional(self.needed_w(second) - self.target_w, self._setup.inverters, caps)
        commands = {
            device_id: limit
            for device_id, limit in shares.items()
            if device_id not in self._sent or abs(limit - self._sent[device_id]) >= self.min_change_w
        }
        self._sent.update(commands)
        return commands


class Reactive(Lookahead):
    """Feed-forward from the true load now: what any controller without foresight could at best do."""

    @staticmethod
    def ahead_s(setup: Setup) -> int:
        """It does not look ahead."""
        return 0
