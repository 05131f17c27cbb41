"""Acknowledging a QoS 1 message only once its points are in InfluxDB or the spool, in order of arrival.

Every message handed to the pipeline takes one slot, numbered from 0 in arrival order; the pipeline reports
progress as counts of slots (``sealed``: in batches about to be written, ``safe``: in InfluxDB or the spool).
A QoS 1 slot holds the message's key (checksum << 16 | packet id) and time of arrival; a QoS 0 slot
``NO_KEY``. Messages of an earlier connection are not acknowledged on a new one: the broker sends them again.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

from zeropower.recorder.session import TYPECODE, SessionStore

#: The key of a message that is not acknowledged (QoS 0).
NO_KEY = -1
#: The packet id's bits in a key.
PACKET_ID_MASK = 0xFFFF


class Ledger:
    """The slots of the messages not yet safe; acknowledges through ``ack(packet_id)``."""

    def __init__(self, store: SessionStore, ack: Callable[[int], None]) -> None:
        self._store = store
        self._ack = ack
        self._keys: array[int] = array(TYPECODE)  # slots from self._base on, not yet safe
        self._times: array[int] = array(TYPECODE)
        self._base = 0
        self._sealed = 0
        self._connection_start = 0
        self._index: dict[int, int] | None = None

    def add(self, key: int, arrival_ns: int, *, redelivered: bool = False) -> None:
        """The next message's slot; the first new message after a reconnect ends the redeliveries."""
        self._keys.append(key)
        self._times.append(arrival_ns)
        if not redelivered and key != NO_KEY:
            self._index = None

    def connected(self) -> None:
        """A new connection: slots from before it are not acknowledged on it (the broker sends them again)."""
        self._connection_start = self._base + len(self._keys)

    def original_arrival(self, key: int) -> int | None:
        """The time of arrival a redelivered message had the first time, if it may have been written then."""
        if self._index is None:
            self._index = self._store.arrivals()
            unsealed = self._sealed - self._base
            self._index.update(zip(self._keys[unsealed:], self._times[unsealed:], strict=True))
        return self._index.get(key)

    def sealed(self, slots: int) -> None:
        """The first ``slots`` messages are in batches about to be written: log their times of arrival."""
        start, end = self._sealed - self._base, slots - self._base
        keys, times = array(TYPECODE), array(TYPECODE)
        for key, time_ns in zip(self._keys[start:end], self._times[start:end], strict=True):
            if key != NO_KEY:
                keys.append(key)
                times.append(time_ns)
        self._store.record(keys, times)
        self._sealed = slots

    def safe(self, slots: int) -> None:
        """The first ``slots`` messages are in InfluxDB or the spool: acknowledge those of this connection."""
        count = slots - self._base
        first = max(0, self._connection_start - self._base)
        ack = self._ack
        for key in self._keys[first:count]:
            if key != NO_KEY:
                ack(key & PACKET_ID_MASK)
        del self._keys[:count]
        del self._times[:count]
        self._base = slots
