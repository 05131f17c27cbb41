"""What every InfluxDB writer does: send one batch of lines, and say whether a failure is worth retrying."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Protocol, Self

_DROPPED = re.compile(r"dropped=(\d+)")

#: HTTP statuses that mean the points themselves are bad: sending them again cannot help.
PERMANENT_STATUSES = frozenset({400, 413, 422})


class TransientWriteError(Exception):
    """InfluxDB could not take the batch now (unreachable, timeout, 5xx, auth): keep it and retry later.

    ``unreachable``: no answer at all (connection refused, no route), so a retry costs InfluxDB nothing.
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


class RejectedWriteError(Exception):
    """InfluxDB refused points for good (HTTP 400 etc.); ``dropped`` is how many, when InfluxDB says."""

    def __init__(self, reason: str, dropped: int | None) -> None:
        super().__init__(reason)
        self.dropped = dropped


def classify_http_error(status: int, body: str) -> Exception:
    """The error for an unsuccessful HTTP answer: rejected for bad points, transient otherwise."""
    reason = f"HTTP {status}: {body.strip()[:500]}"
    if status in PERMANENT_STATUSES:
        dropped = _DROPPED.search(body)
        return RejectedWriteError(reason, int(dropped.group(1)) if dropped else None)
    return TransientWriteError(reason)


class Writer(Protocol):
    """Sends line protocol (nanosecond timestamps) to one InfluxDB database or bucket."""

    description: str

    async def write(self, body: bytes) -> None:
        """Write one batch; raises TransientWriteError or RejectedWriteError."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
