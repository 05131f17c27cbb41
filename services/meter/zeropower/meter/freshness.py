"""Watching a meter's own time: a value whose device time does not change carries no new information."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from zeropower.meter.device_time import DeviceTime


@dataclass(frozen=True)
class Verdict:
    """What to do with a value: publish it (valid, or missing with ``error``), or skip it as a repeat."""

    publish: bool
    error: str | None = None


NEW = Verdict(publish=True)
REPEAT = Verdict(publish=False)


class FreshnessWatch:
    """Judges each device time against the previous one, timing on the local monotonic clock.

    A changed device time (in either direction: a clock stepped back is news too) makes the value valid. The
    same time again is a repeat, skipped, until it has not changed for ``stale_after_s``: then the value is
    frozen and every read says so. The first device time after a start is only a starting point (it may be
    an hour old): values become valid once it is seen to change.
    """

    def __init__(self, stale_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._last: DeviceTime | None = None
        self._since = 0.0  # when the last change was seen
        self._advanced = False  # seen to change since the start

    def judge(self, device_time: DeviceTime) -> Verdict:
        """The verdict on a value carrying ``device_time``."""
        now = self._clock()
        if self._last is None or device_time.value != self._last.value:
            self._advanced = self._last is not None
            self._last, self._since = device_time, now
            return NEW if self._advanced else _waiting(device_time)
        unchanged_s = now - self._since
        if unchanged_s >= self._stale_after_s:
            at_least = "" if self._advanced else "at least "
            return Verdict(
                publish=True,
                error=f"the meter's value is frozen: its device time has stayed at {device_time.shown} for "
                f"{at_least}{unchanged_s:.0f} s (meter.stale_after_s is {self._stale_after_s:g} s)",
            )
        return REPEAT if self._advanced else _waiting(device_time)


def _waiting(device_time: DeviceTime) -> Verdict:
    return Verdict(publish=True, error=f"waiting for the device time to advance (it shows {device_time.shown})")
