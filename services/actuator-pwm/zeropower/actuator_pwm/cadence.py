"""Watching the setpoints' cadence: the controller runs once per meter reading, so its period should be steady."""

from __future__ import annotations

import statistics
from collections import deque

#: Intervals the median is taken over.
WINDOW = 20
#: Intervals needed before judging.
MIN_INTERVALS = 5
#: Regular intervals in a row that end a jitter episode.
CALM_INTERVALS = 10


class CadenceMonitor:
    """Flags an interval between setpoints that differs from the median interval by more than a threshold."""

    def __init__(self, threshold_percent: float, reset_after_s: float) -> None:
        self._threshold = threshold_percent
        self._reset_after_s = reset_after_s
        self._intervals: deque[float] = deque(maxlen=WINDOW)
        self._last: float | None = None
        self._source: str | None = None
        self._calm = 0
        self.problem: str | None = None
        """The jitter of the episode in progress, or None while the cadence is regular."""

    def observe(self, at: float, source: str | None = None) -> bool:
        """Take in a setpoint's arrival time (monotonic, s); True when a jitter episode starts or ends with it.

        ``source`` is what paces the setpoints (the controller's mode): when it changes, so may the phase.
        """
        last, self._last = self._last, at
        source_changed, self._source = source != self._source, source
        if last is None:
            return False
        interval = at - last
        # a gap the fail-safe reports, or a new pace: the cadence starts afresh
        if interval > self._reset_after_s or source_changed:
            self._intervals.clear()
            return False
        self._intervals.append(interval)
        return self._judge(interval)

    def _judge(self, interval: float) -> bool:
        """Start an episode on an irregular interval; end it after enough regular ones in a row."""
        median = statistics.median(self._intervals)
        if len(self._intervals) < MIN_INTERVALS or median <= 0:
            return False
        deviation = abs(interval - median) / median * 100
        if deviation > self._threshold:
            self._calm = 0
            if self.problem is not None:
                return False
            self.problem = (
                f"setpoint interval {interval:.2f} s is {deviation:.0f} % off the median {median:.2f} s "
                f"(warning above {self._threshold:g} %)"
            )
            return True
        self._calm += 1
        if self.problem is None or self._calm < CALM_INTERVALS:
            return False
        self.problem = None
        return True
