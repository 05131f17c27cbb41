"""The one place every driver's result passes before it is published: frozen device time, plausibility, energy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from zeropower.meter.energy import NettedEnergy
from zeropower.meter.freshness import FreshnessWatch
from zeropower.meter.plausibility import Plausibility
from zeropower.meter.reading import MeterError, MeterValues, missing_reading
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import GridReading

log = logging.getLogger("zeropower.meter")


class ReadingGate:
    """Turns what a driver read (or why it could not) into the reading to publish, or None to skip a repeat.

    With ``netted_counters`` the driver's own counters are published (after the plausibility checks); without,
    the counters are the integral of the published grid power (``NettedEnergy``), whatever the driver handed in.
    """

    def __init__(
        self,
        description: str,
        *,
        max_power_w: float,
        stale_after_s: float,
        netted_counters: bool,
        energy_max_gap_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._freshness = FreshnessWatch(stale_after_s, clock)
        self._energy = None if netted_counters else NettedEnergy(energy_max_gap_s, clock)
        self._plausibility = Plausibility(max_power_w, ChangeLogger(log, f"grid meter {description} energy counters"))

    def judge(self, result: MeterValues | MeterError, requested_at: float) -> GridReading | None:
        """The reading for ``result``, stamped ``requested_at`` unless the device gave its own time."""
        reading = self._checked(result, requested_at)
        if reading is None or self._energy is None:
            return reading
        return self._energy.count(reading)

    def _checked(self, result: MeterValues | MeterError, requested_at: float) -> GridReading | None:
        if isinstance(result, MeterError):
            return missing_reading(str(result), requested_at)
        if result.device_time is not None:
            verdict = self._freshness.judge(result.device_time)
            if not verdict.publish:
                return None
            if verdict.error is not None:
                return missing_reading(verdict.error, requested_at)
        return self._plausibility.reading(result, requested_at)
