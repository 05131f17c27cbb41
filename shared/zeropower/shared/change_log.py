"""Logging a recurring condition once per change, and at most one line per quiet period."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Shortest time between two lines of one ChangeLogger, in s: a flood of changing problems stays one line.
QUIET_S = 60.0
#: Longest problem text logged (a problem may quote a hostile payload).
MAX_TEXT = 300


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
            text = self._problem if len(self._problem) <= MAX_TEXT else f"{self._problem[: MAX_TEXT - 3]}..."
            self._logger.warning("%s: %s%s", self._subject, text, note)
        self._logged, self._logged_at, self._unlogged = self._problem, now, 0
