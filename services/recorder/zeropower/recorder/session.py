"""The recording connection's durable MQTT session state, beside the spool (SQLite file ``session.sqlite3``).

- the client id: made once per instance and kept, so that a restart resumes the broker's session;
- the topic filters subscribed before, so that filters no longer configured are unsubscribed;
- the arrival log: for each QoS 1 message whose points are about to be written, its packet id, a checksum and
  the time of arrival its points carry. The broker sends a message again (flagged as a duplicate) when the
  recorder died before acknowledging it; the log gives it the time of arrival it had, so its points are the
  same points again (InfluxDB overwrites them) instead of copies at a new time.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sqlite3
from array import array
from collections import deque
from pathlib import Path

log = logging.getLogger("zeropower.recorder.session")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS arrivals (id INTEGER PRIMARY KEY AUTOINCREMENT, keys BLOB NOT NULL, times BLOB NOT NULL);
"""

#: The typecode of keys and times (signed 64 bit): a key is checksum << 16 | packet id, a time Unix ns.
TYPECODE = "q"


class SessionStore:
    """Client id, subscribed filters and the newest ``keep`` arrival records of one recorder instance."""

    def __init__(self, directory: Path, keep: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "session.sqlite3"
        self._keep = keep
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._chunks: deque[tuple[int, array[int], array[int]]] = deque()
        self._records = 0
        for row_id, keys, times in self._db.execute("SELECT id, keys, times FROM arrivals ORDER BY id"):
            self._append(row_id, _array(keys), _array(times))

    def client_id(self, configured: str | None) -> tuple[str, bool]:
        """The client id to use, and whether the broker may hold a session for it (it was used before)."""
        stored = self._get("client_id")
        client_id = configured or stored or f"zeropower-recorder-{socket.gethostname()}-{secrets.token_hex(4)}"
        if client_id != stored:
            self._set("client_id", client_id)
        return client_id, client_id == stored

    def filters(self) -> list[str]:
        """The topic filters that may still be subscribed in the broker's session."""
        return list(json.loads(self._get("filters") or "[]"))

    def save_filters(self, filters: list[str]) -> None:
        """Remember the filters subscribed now."""
        self._set("filters", json.dumps(sorted(set(filters))))

    def record(self, keys: array[int], times: array[int]) -> None:
        """Add arrival records (before the points are written); the oldest beyond ``keep`` are forgotten."""
        if not keys:
            return
        cursor = self._db.execute("INSERT INTO arrivals (keys, times) VALUES (?, ?)", (keys.tobytes(), times.tobytes()))
        self._append(int(cursor.lastrowid or 0), keys, times)
        stale = 0
        while len(self._chunks) > 1 and self._records - len(self._chunks[0][1]) >= self._keep:
            stale, oldest, _ = self._chunks.popleft()
            self._records -= len(oldest)
        if stale:
            self._db.execute("DELETE FROM arrivals WHERE id <= ?", (stale,))

    def arrivals(self) -> dict[int, int]:
        """Every kept record: key to time of arrival in ns."""
        return {key: time_ns for _, keys, times in self._chunks for key, time_ns in zip(keys, times, strict=True)}

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    def _append(self, row_id: int, keys: array[int], times: array[int]) -> None:
        self._chunks.append((row_id, keys, times))
        self._records += len(keys)

    def _get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _array(blob: bytes) -> array[int]:
    values = array(TYPECODE)
    values.frombytes(blob)
    return values
