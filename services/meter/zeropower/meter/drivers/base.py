"""The two kinds of meter driver: polled (the service asks) and push (the meter sends)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from zeropower.meter.reading import MeterError, MeterValues

Deliver = Callable[[MeterValues | MeterError], Awaitable[None]]
"""Where a push meter hands each read, or why it has none (the service checks and publishes it)."""


@runtime_checkable
class PolledMeter(Protocol):
    """A meter the service reads once per poll interval."""

    description: str
    """What is read, for logs and errors, e.g. ``Shelly Gen2 http://192.168.1.50 (EM 0)``."""

    netted_counters: bool
    """True when the driver hands in the meter's own energy counters and they count the power it reports,
    netted across phases as a utility meter bills; False: it hands in none, the service integrates the power."""

    async def read(self) -> MeterValues:
        """Read grid power now: W, positive = import from the grid, negative = export.

        Raises MeterError (the message names what was wrong) when the meter gives no usable value.
        """
        ...


@runtime_checkable
class PushMeter(Protocol):
    """A meter that sends readings by itself; the service watches for silence."""

    description: str
    """What is listened to, for logs and the error of a stale reading."""

    netted_counters: bool
    """As for PolledMeter: True only when the meter's own counters are netted across phases."""

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Hand every read to ``deliver`` until ``stop`` is set.

        Power in W, positive = import; unusable data is delivered as a MeterError naming the cause.
        """
        ...


@runtime_checkable
class BackgroundWork(Protocol):
    """A polled meter that also reads something slow beside the polls (e.g. energy counters)."""

    async def background(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; never raises on a failing device."""
        ...


Meter = PolledMeter | PushMeter
