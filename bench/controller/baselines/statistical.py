"""A reference that knows the dead time and the load's statistics, but not its future.

``Statistical`` knows what ``reactive`` knows (the true load now, every second, and so its past) and, in
addition, how the load tends to go on: the distribution of its change over one dead time, given how long
ago it last stepped and by how much (``LoadStatistics``). It sends every second the limit at a quantile of
the load one dead time ahead. Per second, export plus curtailment is smallest at the median (the loss
|limit - load| is linear on either side); a lower quantile trades curtailment for export, a higher one the
reverse, so the quantiles trace this reference's export/curtailment front.

The statistics are fitted on the very scenario it runs on (in-sample): it knows the statistics of the
day ahead of it, more than any controller could learn while running, so what it cannot reach no
controller without foresight reaches. Like ``reactive`` it ignores the ramp and the command rate and
shares its total by what each inverter's panels give now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial

from bench.controller.baselines.lookahead import Reactive
from bench.controller.protocol import Setup
from zeropower.controller.forecast import LoadSteps, State

#: A change of the true load of at least this much within a second is a step (it knows the load exactly).
STEP_W = 50.0
#: A state seen fewer times than this falls back to the last step's size alone, then to all seconds.
MIN_SAMPLES = 30


class LoadStatistics:
    """The distribution of the load's change over ``horizon_s``, by time since and size of the last step."""

    def __init__(self, load_w: Sequence[float], horizon_s: int) -> None:
        self.states = self._states(load_w)
        changes: dict[State, list[float]] = defaultdict(list)
        by_size: dict[int, list[float]] = defaultdict(list)
        every: list[float] = []
        for second in range(len(load_w) - horizon_s):
            change = load_w[second + horizon_s] - load_w[second]
            state = self.states[second]
            changes[state].append(change)
            by_size[state[1]].append(change)
            every.append(change)
        self._changes = {state: sorted(values) for state, values in changes.items() if len(values) >= MIN_SAMPLES}
        self._by_size = {size: sorted(values) for size, values in by_size.items() if len(values) >= MIN_SAMPLES}
        self._every = sorted(every) or [0.0]

    @staticmethod
    def _states(load_w: Sequence[float]) -> list[State]:
        """Each second's state, as the product's forecast classifies it (``LoadSteps``)."""
        steps = LoadSteps(STEP_W)
        return [steps.observe(float(second), load) for second, load in enumerate(load_w)]

    def change_w(self, second: int, quantile: float) -> float:
        """The ``quantile`` of the load's change over the horizon from ``second``, given its state then."""
        return self.change_for(self.states[second], quantile)

    def change_for(self, state: State, quantile: float) -> float:
        """The ``quantile`` of the load's change over the horizon from any second in ``state``."""
        values = self._changes.get(state) or self._by_size.get(state[1]) or self._every
        return values[min(int(quantile * len(values)), len(values) - 1)]


class Statistical(Reactive):
    """The limit at a quantile (0-1, the median by default) of the load one dead time ahead, from its statistics."""

    def __init__(self, setup: Setup, quantile: float = 0.5) -> None:
        super().__init__(setup)
        self.quantile = quantile
        self._statistics = LoadStatistics(setup.load_w, round(setup.preset.dead_time_s))

    def needed_w(self, second: int) -> float:
        """The load now plus the chosen quantile of its change over one dead time."""
        return self._setup.load_w[second] + self._statistics.change_w(second, self.quantile)


def at_quantile(quantile: float) -> partial[Statistical]:
    """``Statistical`` sending the limit at ``quantile`` (0-1) of the load ahead."""
    return partial(Statistical, quantile=quantile)
