"""From lines to InfluxDB: batching, writing, spooling on failure, and replaying the spool in order.

Every point takes exactly one of these ways: written, rejected by InfluxDB (counted), or dropped from a full
spool (counted). While the spool holds anything, new batches join its end, so InfluxDB receives batches in
their original order; a batch leaves the spool only after InfluxDB has confirmed it.

The pipeline counts the messages it is given (with or without lines) and tells their ``Source``, in order, when
they are sealed into batches (about to be written) and when they are safe (in InfluxDB or the spool).

While InfluxDB does not answer at all (connection refused, no route), the oldest batch is tried again every
``retry_min_s``: such a try costs InfluxDB nothing, and the spool drains as soon as InfluxDB is back. While it
answers with errors (5xx, a timeout, authentication), the retries back off, doubling up to ``retry_max_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from zeropower.recorder.spool import Batch, Spool
from zeropower.recorder.writers import RejectedWriteError, TransientWriteError, Writer
from zeropower.shared.change_log import ChangeLogger

log = logging.getLogger("zeropower.recorder")

#: How long a clean stop waits for InfluxDB to take the last batches before spooling them instead, in s.
STOP_WRITE_TIMEOUT_S = 1.0


@dataclass
class Counters:
    """Points since start, by outcome."""

    written: int = 0
    dropped: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Backoff:
    """Retry delays after InfluxDB failures: from ``min_s``, doubling up to ``max_s``."""

    min_s: float
    max_s: float


class Source(Protocol):
    """Where the messages come from; told how many of them (counted from the first, in order) are how far."""

    def sealed(self, messages: int) -> None:
        """The first ``messages`` messages are in batches, about to be written."""

    def safe(self, messages: int) -> None:
        """The first ``messages`` messages are in InfluxDB or the spool (or had no points)."""


@dataclass(frozen=True)
class _Sealed:
    """A batch to deliver; once it is safe, so are the first ``messages`` messages."""

    batch: Batch
    messages: int


class Pipeline:
    """Collects lines into batches and gets each batch into InfluxDB or the spool."""

    def __init__(
        self,
        writer: Writer,
        spool: Spool,
        batch_size: int,
        flush_interval_s: float,
        backoff: Backoff,
        *,
        source: Source,
    ) -> None:
        self._writer = writer
        self._spool = spool
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._backoff = backoff
        self._source = source
        self.counters = Counters()
        self._lines: list[str] = []
        self._messages = 0  # messages given so far
        self._sealed = 0  # of them in batches
        self._first_arrival = 0.0
        self._flush_at = 0.0
        self._ready: deque[_Sealed] = deque()
        self._in_flight: Batch | None = None
        self._wake = asyncio.Event()
        self._retry_at = 0.0
        self._retry_delay_s = backoff.min_s
        self._health = ChangeLogger(log, writer.description)

    @property
    def spooled(self) -> int:
        """Points in the spool now."""
        return self._spool.points

    def add(self, lines: list[str], arrival: float) -> None:
        """Queue one message and its lines, maybe none (``arrival``: Unix time in s)."""
        if self._messages == self._sealed:
            self._flush_at = time.monotonic() + self._flush_interval_s
        self._messages += 1
        if not lines:
            return
        if not self._lines:
            self._first_arrival = arrival
        self._lines += lines
        if len(self._lines) >= self._batch_size:
            self._seal()
            self._wake.set()

    def lag_s(self, now: float) -> float:
        """Age of the oldest point not yet confirmed by InfluxDB in s (0 when there is none)."""
        batches = (self._in_flight, *(sealed.batch for sealed in self._ready))
        candidates = [batch.first_arrival for batch in batches if batch is not None and batch.points]
        if self._lines:
            candidates.append(self._first_arrival)
        if (spooled := self._spool.oldest_arrival()) is not None:
            candidates.append(spooled)
        return max(0.0, now - min(candidates)) if candidates else 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until ``stop`` is set; then write (or spool) what is left."""
        while not stop.is_set():
            await self._wait(stop)
            if self._messages > self._sealed and time.monotonic() >= self._flush_at:
                self._seal()
            while self._ready:
                await self._deliver(self._ready[0])
                self._ready.popleft()
            if self._spool.points and time.monotonic() >= self._retry_at:
                await self._replay_oldest()
        await self._finish()

    async def _wait(self, stop: asyncio.Event) -> None:
        now = time.monotonic()
        deadline = self._flush_at if self._messages > self._sealed else now + self._flush_interval_s
        if self._spool.points:
            deadline = min(deadline, self._retry_at)
        if deadline <= now or self._wake.is_set():
            self._wake.clear()
            await asyncio.sleep(0)  # let messages in between back-to-back writes
            return
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=deadline - now, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    def _seal(self) -> None:
        """Turn the collected messages into batches of at most ``batch_size`` points (one without points if none).

        A message's lines may span two batches: the message is safe with the last of them.
        """
        lines, self._lines = self._lines, []
        size = self._batch_size
        chunks = [lines[start : start + size] for start in range(0, len(lines), size)] or [[]]
        for index, chunk in enumerate(chunks):
            messages = self._messages if index == len(chunks) - 1 else self._sealed
            self._ready.append(_Sealed(Batch("\n".join(chunk).encode(), len(chunk), self._first_arrival), messages))
        self._sealed = self._messages
        self._source.sealed(self._sealed)

    async def _deliver(self, sealed: _Sealed) -> None:
        """Write a new batch, or queue it behind the spool; into the spool if InfluxDB cannot take it."""
        batch = sealed.batch
        if batch.points and (self._spool.points or not await self._write(batch)):
            self._push(batch)
        self._source.safe(sealed.messages)

    async def _replay_oldest(self) -> None:
        spooled = self._spool.peek()
        if spooled is not None and await self._write(spooled.batch):
            self._spool.remove(spooled.id)
            if not self._spool.points:
                log.info("spool replayed: InfluxDB has every point again")

    async def _write(self, batch: Batch) -> bool:
        """True when InfluxDB is done with the batch (written or rejected), False to keep it for a retry."""
        self._in_flight = batch
        try:
            await self._writer.write(batch.body)
        except TransientWriteError as error:
            self._health.report(f"{error}; spooling ({self._spool.points + batch.points} points waiting)")
            if error.unreachable:
                self._retry_at = time.monotonic() + self._backoff.min_s
            else:
                self._retry_at = time.monotonic() + self._retry_delay_s
                self._retry_delay_s = min(self._retry_delay_s * 2, self._backoff.max_s)
            return False
        except RejectedWriteError as error:
            rejected = batch.points if error.dropped is None else error.dropped
            self.counters.rejected += rejected
            self.counters.written += batch.points - rejected
            log.warning("InfluxDB rejected %d of %d points for good: %s", rejected, batch.points, error)
            return True
        finally:
            self._in_flight = None
        self.counters.written += batch.points
        self._health.report(None)
        self._retry_delay_s = self._backoff.min_s
        return True

    def _push(self, batch: Batch) -> None:
        self.counters.dropped += self._spool.push(batch)

    async def _finish(self) -> None:
        """On stop: one short try to write what is left, else it waits in the spool for the next start."""
        if self._messages > self._sealed:
            self._seal()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_WRITE_TIMEOUT_S):
                while self._ready and not self._spool.points:
                    sealed = self._ready[0]
                    if sealed.batch.points and not await self._write(sealed.batch):
                        break
                    self._ready.popleft()
                    self._source.safe(sealed.messages)
        while self._ready:
            sealed = self._ready.popleft()
            if sealed.batch.points:
                self._push(sealed.batch)
            self._source.safe(sealed.messages)
