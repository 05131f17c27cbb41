"""Logging a recurring condition once per change instead of on every repetition."""

from __future__ import annotations

import logging


class ChangeLogger:
    """Logs a problem when it starts or changes, and its recovery once."""

    def __init__(self, logger: logging.Logger, subject: str) -> None:
        self._logger = logger
        self._subject = subject
        self._problem: str | None = None

    @property
    def problem(self) -> str | None:
        """The problem in force, or None when all is well."""
        return self._problem

    def report(self, problem: str | None) -> None:
        """Record the current condition: a problem text, or None when all is well."""
        if problem == self._problem:
            return
        if problem is None:
            self._logger.info("%s: recovered", self._subject)
        else:
            self._logger.warning("%s: %s", self._subject, problem)
        self._problem = problem
