"""How the load goes on: its change over the next dead time, learned from its own history while running.

Many loads repeat themselves: a hob or an oven pulsing on and off, a microwave on part power, a
thermostat cycling. How likely a change is to reverse depends mostly on how long the load has stood since
it last stepped and by how much (``LoadSteps``). ``LoadForecast`` keeps, per such state, the changes over
one horizon that followed it (the most recent ``KEPT`` per state), and answers with a quantile of them for
the state the load is in now. The median makes export plus curtailment smallest when a command takes
effect one horizon later; a state seen too rarely forecasts no change. The load is estimated by the
controller (grid + inverter output); times are monotonic seconds.
"""

from __future__ import annotations

import bisect
from collections import deque

#: A change of the controller's load estimate of at least this much since the previous one is a step
#: (smaller ones cannot be told from errors of the output model).
STEP_W = 400.0
#: Seconds since the last step, as class edges.
AGE_EDGES_S = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 60, 90, 120, 180)
#: The last step's size, as class edges in W.
SIZE_EDGES_W = (-1000.0, -300.0, 0.0, 300.0, 1000.0)
#: Estimates further apart than this are not compared: no step across a gap, no change learned over it.
MAX_GAP_S = 3.0
#: The newest changes kept per state.
KEPT = 400
#: A state seen fewer times than this forecasts no change.
MIN_SAMPLES = 30

State = tuple[int, int]


class LoadSteps:
    """Where a load stands: the time since its last step of at least ``step_w`` and that step's size, in classes."""

    def __init__(self, step_w: float) -> None:
        self.step_w = step_w
        self._last: tuple[float, float] | None = None  # the previous load (at, W)
        self._step: tuple[float, float] | None = None  # the newest step (at, size W)

    def observe(self, at: float, load_w: float) -> State:
        """Take the load at ``at``; returns its state then."""
        last = self._last
        if last is not None and at - last[0] <= MAX_GAP_S and abs(load_w - last[1]) >= self.step_w:
            self._step = (at, load_w - last[1])
        self._last = (at, load_w)
        return self.state(at)

    def state(self, at: float) -> State:
        """The class of the time since the last step and of its size (none yet: the oldest class, no size)."""
        if self._step is None:
            return len(AGE_EDGES_S), bisect.bisect_right(SIZE_EDGES_W, 0.0)
        step_at, size = self._step
        return bisect.bisect_right(AGE_EDGES_S, at - step_at), bisect.bisect_right(SIZE_EDGES_W, size)


class LoadForecast:
    """The load's change over ``horizon_s``, by the time since and the size of its last step."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self._steps = LoadSteps(STEP_W)
        self._changes: dict[State, deque[float]] = {}
        self._pending: deque[tuple[float, float, State]] = deque()  # (at, load, state) not yet a horizon old

    def observe(self, at: float, load_w: float) -> None:
        """A load estimate at ``at``: learns the changes one horizon after earlier ones (not over a gap)."""
        while self._pending and self._pending[0][0] <= at - self.horizon_s:
            then, then_w, state = self._pending.popleft()
            if at - then <= self.horizon_s + MAX_GAP_S:
                self._changes.setdefault(state, deque(maxlen=KEPT)).append(load_w - then_w)
        self._pending.append((at, load_w, self._steps.observe(at, load_w)))

    def state(self, at: float) -> State:
        """The load's state at ``at`` (see ``LoadSteps``)."""
        return self._steps.state(at)

    def change_w(self, at: float, quantile: float) -> float:
        """The ``quantile`` (0-1) of the load's change over the next horizon, given its state at ``at``."""
        changes = self._changes.get(self.state(at))
        if changes is None or len(changes) < MIN_SAMPLES:
            return 0.0
        ordered = sorted(changes)
        return ordered[min(int(quantile * len(ordered)), len(ordered) - 1)]
