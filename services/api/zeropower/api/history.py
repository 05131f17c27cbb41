"""The chart's memory: a bounded ring of power samples (grid, output, limit, heater, battery), one per interval.

A sample is taken from the snapshot when a grid reading or a controller state arrives. A value nobody vouches
for any more is left out (``None``, a gap in the chart) rather than repeated: the grid power once the newest
reading is older than ``GRID_STALE_S``, the controller's figures while it is not online.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zeropower.api.gateway import Snapshot

GRID_STALE_S = 10.0  # as the controller's default stale_after_s: an older reading is no longer the grid's power


@dataclass(frozen=True, slots=True)
class Sample:
    """The system's power at one moment; ``None`` where unknown."""

    t: float  # Unix time (wall clock) it was taken
    grid_w: float | None
    output_w: float | None
    limit_w: float | None
    heater_w: float | None
    battery_w: float | None = None  # the batteries' power at their terminals, positive = charging


def sample_of(snapshot: Snapshot, wall: float, monotonic: float) -> Sample:
    """The snapshot's power figures at wall-clock time ``wall`` (``monotonic`` the same moment on that clock)."""
    grid = snapshot.grid
    grid_fresh = snapshot.grid_received_at is not None and monotonic - snapshot.grid_received_at <= GRID_STALE_S
    controller = snapshot.controller if snapshot.availability.get("controller") == "online" else None
    return Sample(
        t=wall,
        grid_w=grid.power_w if grid is not None and grid_fresh else None,
        output_w=controller.output_w if controller else None,
        limit_w=controller.limit_w if controller else None,
        heater_w=snapshot.diverter_power_w(),
        battery_w=snapshot.storage_power_w(),
    )


class PowerHistory:
    """The samples of the last ``span_s`` seconds, at most one every ``interval_s`` (monotonic clock)."""

    def __init__(
        self,
        span_s: float = 3600.0,
        interval_s: float = 1.0,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.span_s = span_s
        self.interval_s = interval_s
        self._samples: deque[Sample] = deque(maxlen=math.ceil(span_s / interval_s))
        self._wall = wall
        self._monotonic = monotonic
        self._taken_at: float | None = None  # monotonic time of the newest sample

    def record(self, snapshot: Snapshot) -> None:
        """Take a sample of ``snapshot``, a new one once per interval, else in place of the last.

        Each interval keeps its newest figures (e.g. a grid reading just after a controller state). A wall clock
        set back drops the samples that now lie in its future, so the samples stay in time order.
        """
        now = self._monotonic()
        if self._taken_at is not None and now - self._taken_at < self.interval_s:
            self._samples.pop()
        else:
            self._taken_at = now
        wall = self._wall()
        while self._samples and self._samples[-1].t > wall:
            self._samples.pop()
        self._samples.append(sample_of(snapshot, wall, now))

    def since(self, start: float) -> list[Sample]:
        """The samples taken at or after Unix time ``start``, oldest first."""
        return [sample for sample in self._samples if sample.t >= start]

    def covers(self, start: float) -> bool:
        """True when the ring reaches back to Unix time ``start``, give or take one interval."""
        return bool(self._samples) and self._samples[0].t <= start + self.interval_s
