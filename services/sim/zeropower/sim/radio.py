"""OpenDTU's one radio: limit commands queue and are served one at a time, ``ack_s`` each until acknowledged.

As OpenDTU's Hoymiles library (``lib/Hoymiles/src``): a limit command is an ``ActivePowerControlCommand``,
queued as ``RemoveOldest``: a newer one for the same inverter (and limit type) removes the queued one and
is appended at the end; the command in flight (the queue's front) is never touched. The DTU serves the
queue in order, however fast commands are published. Pure: time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transfer:
    """A command on the air: sent to the inverter at ``start_s``, acknowledged at ``done_s``."""

    device_id: str
    limit_w: float
    start_s: float
    done_s: float


class Radio:
    """The DTU's command queue; ``poll`` tells which commands were acknowledged and which went on the air."""

    def __init__(self, ack_s: float) -> None:
        self.ack_s = ack_s
        self.current: Transfer | None = None
        self._queue: list[tuple[str, float, float]] = []  # (device id, limit, queued at)
        self._free_s = float("-inf")

    @property
    def queued(self) -> list[tuple[str, float]]:
        """The commands waiting, in the order they will be served."""
        return [(device_id, limit_w) for device_id, limit_w, _ in self._queue]

    def send(self, device_id: str, limit_w: float, now_s: float) -> None:
        """Queue a limit; it replaces a queued (not yet sent) one for the same inverter."""
        self._queue = [entry for entry in self._queue if entry[0] != device_id]
        self._queue.append((device_id, limit_w, now_s))

    def poll(self, now_s: float) -> tuple[list[Transfer], list[Transfer]]:
        """Advance to ``now_s``: the transfers acknowledged by then, and those started (in order)."""
        done: list[Transfer] = []
        started: list[Transfer] = []
        while True:
            if self.current is not None:
                if self.current.done_s > now_s:
                    break
                done.append(self.current)
                self._free_s = self.current.done_s
                self.current = None
            if not self._queue:
                break
            device_id, limit_w, queued_s = self._queue.pop(0)
            start_s = max(self._free_s, queued_s)
            self.current = Transfer(device_id, limit_w, start_s, start_s + self.ack_s)
            started.append(self.current)
        return done, started
