"""Netted energy counters from grid power, for meters whose own counters are not netted or missing.

A utility meter bills the netted (saldierend) energy: at every instant the phases are summed, and only that
total's sign says import or export. A three-phase Shelly (Pro 3EM ``EMData`` ``total_act``/``total_act_ret``,
Gen1 3EM ``emeters[].total``/``total_returned``) instead counts each phase on its own and sums the phase
counters, so one phase feeding in while another draws counts as export and import at once. For such meters,
and for meters without counters, the meter service integrates the total grid power it publishes:

- import = ∫ max(P, 0) dt, export = ∫ max(-P, 0) dt, P the total of all phases as published;
- the power of a valid reading is held until the next valid reading (the previous sample decides the sign);
- an interval counts only when both its ends are valid readings at most ``max_gap_s`` apart on the monotonic
  clock: a missing reading, a gap or a clock that did not advance ends it, and the unknown energy is lost,
  never guessed;
- the counters start at 0 when the service starts and only ever grow. A restart is a new meter cycle, as
  Home Assistant's ``total_increasing`` and Prometheus counters take any drop, and as the API's day totals
  restart a counter that went down. Each reading carries the cycle's start (``energy_since``, wall time),
  so the API counts a cycle that began today from 0, not from the first value it happened to see.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from zeropower.shared.messages import GridReading

#: Counters are published rounded to this many decimals of a Wh (0.1 mWh).
COUNTER_DECIMALS = 4


class NettedEnergy:
    """Integrates the netted grid power of valid readings into an import and an export counter in Wh."""

    def __init__(
        self, max_gap_s: float, clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._max_gap_s = max_gap_s
        self._clock = clock
        self.since = wall_clock()  # Unix time the counters started from 0
        self.import_wh = 0.0
        self.export_wh = 0.0
        self._power_w: float | None = None  # power of the previous valid reading, held until the next one
        self._at = 0.0  # monotonic time of that reading

    def count(self, reading: GridReading) -> GridReading:
        """Count the interval up to ``reading`` and return it carrying the counters (a missing one unchanged)."""
        now = self._clock()
        power_w = reading.power_w
        if power_w is None or not math.isfinite(power_w):
            self._power_w = None
            return reading
        held, elapsed = self._power_w, now - self._at
        if held is not None and 0 < elapsed <= self._max_gap_s:
            energy_wh = abs(held) * elapsed / 3600
            if held > 0:
                self.import_wh += energy_wh
            else:
                self.export_wh += energy_wh
        self._power_w, self._at = power_w, now
        return reading.model_copy(
            update={
                "energy_import_wh": round(self.import_wh, COUNTER_DECIMALS),
                "energy_export_wh": round(self.export_wh, COUNTER_DECIMALS),
                "energy_since": self.since,
            }
        )
