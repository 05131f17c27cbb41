"""Logging a recurring condition once per change (at most one line per quiet period), and one-off events."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

#: Shortest time between two lines of one ChangeLogger, in s: a flood of changing problems stays one line.
QUIET_S = 60.0
#: Longest problem text logged (a problem may quote a hostile payload).
MAX_TEXT = 300
#: Most lines an EventLogger writes in any ``QUIET_S``: a user correcting a command sends a few a minute.
EVENT_BURST = 5


class ChangeLogger:
    """Logs a problem when it starts or changes, and its recovery once; at most one line per ``quiet_s``.

    A change that falls into the quiet period is not lost: the next call after it (callers report on every
    message or reading, so calls keep coming) logs the condition then in force, with the count of changes
    not logged in between.
    """

    def __init__(
        self,
        logger: logging.Logger,
        subject: str,
        *,
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._subject = subject
        self._quiet_s = quiet_s
        self._clock = clock
        self._problem: str | None = None
        self._logged: str | None = None  # the condition the log shows now
        self._logged_at: float | None = None
        self._unlogged = 0  # changes since the last line

    @property
    def problem(self) -> str | None:
        """The problem in force, or None when all is well."""
        return self._problem

    def report(self, problem: str | None) -> None:
        """Record the current condition: a problem text, or None when all is well."""
        if problem != self._problem:
            self._problem = problem
            self._unlogged += 1
        if self._problem == self._logged:
            self._unlogged = 0
            return
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._quiet_s:
            return
        skipped = self._unlogged - 1
        note = ""
        if skipped > 0 and self._logged_at is not None:
            note = f" ({skipped} more changes in the last {now - self._logged_at:.0f} s)"
        if self._problem is None:
            self._logger.info("%s: recovered%s", self._subject, note)
        else:
            self._logger.warning("%s: %s%s", self._subject, _shortened(self._problem), note)
        self._logged, self._logged_at, self._unlogged = self._problem, now, 0


class EventLogger:
    """Logs one-off events (a refused command), each on its own line: at most ``burst`` lines in any ``period_s``.

    A refused command is an answer to someone's action, not a condition that lasts: a ChangeLogger would fold
    it into the next line about other input. Beyond the burst (a flood) events are counted, and the count
    goes with the next line logged.
    """

    def __init__(
        self,
        logger: logging.Logger,
        subject: str,
        *,
        burst: int = EVENT_BURST,
        period_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._subject = subject
        self._period_s = period_s
        self._clock = clock
        self._logged_at: deque[float] = deque(maxlen=burst)
        self._unlogged = 0  # events not logged since the last line

    def report(self, event: str) -> None:
        """Log ``event`` unless ``burst`` lines were written in the last ``period_s``."""
        now = self._clock()
        times = self._logged_at
        if len(times) == times.maxlen and now - times[0] < self._period_s:
            self._unlogged += 1
            return
        note = f" ({self._unlogged} more not logged)" if self._unlogged else ""
        self._logger.warning("%s: %s%s", self._subject, _shortened(event), note)
        times.append(now)
        self._unlogged = 0


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_TEXT else f"{text[: MAX_TEXT - 3]}..."
