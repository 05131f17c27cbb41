"""The on-disk spool: batches InfluxDB could not take, oldest first, bounded in points and bytes (SQLite)."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("zeropower.recorder.spool")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_arrival REAL NOT NULL,
    points INTEGER NOT NULL,
    body BLOB NOT NULL
)
"""


@dataclass(frozen=True)
class Batch:
    """Line protocol of several points, ready to send; ``first_arrival`` is the oldest point's arrival (Unix s)."""

    body: bytes
    points: int
    first_arrival: float


@dataclass(frozen=True)
class SpooledBatch:
    """A batch in the spool, with its row id."""

    id: int
    batch: Batch


class Spool:
    """Batches survive restarts; when full, the oldest are dropped and counted."""

    def __init__(self, directory: Path, max_points: int, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.sqlite3"
        self._max_points = max_points
        self._max_bytes = max_bytes
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        totals = "SELECT COALESCE(SUM(points), 0), COALESCE(SUM(LENGTH(body)), 0) FROM batches"
        points, size = self._db.execute(totals).fetchone()
        self.points: int = points
        self.bytes: int = size
        if points:
            log.info("spool %s holds %d points from before; replaying them", self.path, points)

    def push(self, batch: Batch) -> int:
        """Append a batch; returns how many points were dropped (oldest first) to stay within the bounds."""
        dropped = 0
        if batch.points > self._max_points or len(batch.body) > self._max_bytes:
            log.warning("spool: a batch of %d points exceeds the spool's bounds; dropped", batch.points)
            return batch.points
        while self.points + batch.points > self._max_points or self.bytes + len(batch.body) > self._max_bytes:
            oldest = self.peek()
            if oldest is None:
                break
            self.remove(oldest.id)
            dropped += oldest.batch.points
        if dropped:
            log.warning(
                "spool full (%d points, %d bytes): dropped the oldest %d points", self.points, self.bytes, dropped
            )
        self._db.execute(
            "INSERT INTO batches (first_arrival, points, body) VALUES (?, ?, ?)",
            (batch.first_arrival, batch.points, batch.body),
        )
        self.points += batch.points
        self.bytes += len(batch.body)
        return dropped

    def peek(self) -> SpooledBatch | None:
        """The oldest batch, or None when the spool is empty."""
        row = self._db.execute("SELECT id, first_arrival, points, body FROM batches ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return SpooledBatch(row[0], Batch(bytes(row[3]), row[2], row[1]))

    def remove(self, batch_id: int) -> None:
        """Delete a batch (written, rejected or dropped)."""
        row = self._db.execute(
            "DELETE FROM batches WHERE id = ? RETURNING points, LENGTH(body)", (batch_id,)
        ).fetchone()
        if row is not None:
            self.points -= row[0]
            self.bytes -= row[1]

    def oldest_arrival(self) -> float | None:
        """Arrival time of the oldest spooled point, or None when empty."""
        row = self._db.execute("SELECT first_arrival FROM batches ORDER BY id LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def close(self) -> None:
        """Close the database file."""
        self._db.close()
