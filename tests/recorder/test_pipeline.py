"""The pipeline against a fake InfluxDB: when messages count as sealed and safe, and how failed writes are retried."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from types import TracebackType

import pytest

from tests.helpers import wait_until
from zeropower.recorder.pipeline import Backoff, Pipeline
from zeropower.recorder.spool import Spool
from zeropower.recorder.writers import TransientWriteError

Event = tuple[str, int]


class FakeWriter:
    """Records each write; fails with ``error`` while it is set."""

    description = "fake InfluxDB"

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.error: TransientWriteError | None = None
        self.attempts: list[float] = []

    async def write(self, body: bytes) -> None:
        self.attempts.append(time.monotonic())
        if self.error is not None:
            raise self.error
        self.events.append(("write", body.count(b"\n") + 1))

    async def __aenter__(self) -> FakeWriter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class FakeSource:
    """Records what the pipeline reports about the messages."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    def sealed(self, messages: int) -> None:
        self.events.append(("sealed", messages))

    def safe(self, messages: int) -> None:
        self.events.append(("safe", messages))


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def writer(events) -> FakeWriter:
    return FakeWriter(events)


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path, max_points=1000, max_bytes=100_000)
    yield spool
    spool.close()


@contextlib.asynccontextmanager
async def running(writer: FakeWriter, spool: Spool, events: list[Event]) -> AsyncIterator[Pipeline]:
    """A pipeline of batches of 3 points, flushed after 10 ms, retrying from 50 ms."""
    pipeline = Pipeline(writer, spool, 3, 0.01, Backoff(0.05, 5.0), source=FakeSource(events))
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        yield pipeline
    finally:
        stop.set()
        await task


async def test_messages_are_sealed_before_the_write_and_safe_after_it(writer, spool, events):
    async with running(writer, spool, events) as pipeline:
        pipeline.add(["a 1", "a 2"], 1.0)
        pipeline.add([], 1.0)  # a message without points is acknowledged in its turn too
        pipeline.add(["b 1", "b 2"], 1.0)  # 4 lines: two batches; the third message is safe with the second
        pipeline.add([], 1.0)
        await wait_until(lambda: ("safe", 4) in events)
    assert events == [
        ("sealed", 3),
        ("write", 3),
        ("safe", 0),
        ("write", 1),
        ("safe", 3),
        ("sealed", 4),
        ("safe", 4),
    ]


async def test_messages_without_points_are_safe_without_a_write(writer, spool, events):
    async with running(writer, spool, events) as pipeline:
        pipeline.add([], 1.0)
        pipeline.add([], 1.0)
        await wait_until(lambda: ("safe", 2) in events)
    assert events == [("sealed", 2), ("safe", 2)]


async def test_a_batch_influxdb_cannot_take_is_safe_once_spooled(writer, spool, events):
    writer.error = TransientWriteError("HTTP 503", unreachable=False)
    async with running(writer, spool, events) as pipeline:
        pipeline.add(["a 1"], 1.0)
        await wait_until(lambda: ("safe", 1) in events)
        assert spool.points == 1
        pipeline.add(["a 2"], 1.0)  # behind the spool: into it without a write
        await wait_until(lambda: ("safe", 2) in events)
        assert spool.points == 2
        writer.error = None
        await wait_until(lambda: spool.points == 0)
    assert events == [("sealed", 1), ("safe", 1), ("sealed", 2), ("safe", 2), ("write", 1), ("write", 1)]


async def test_a_clean_stop_spools_what_influxdb_cannot_take_and_reports_it_safe(writer, spool, events):
    writer.error = TransientWriteError("refused", unreachable=True)
    async with running(writer, spool, events) as pipeline:
        pipeline.add(["a 1"], 1.0)
        await wait_until(lambda: ("safe", 1) in events)
        pipeline.add(["a 2"], 1.0)
        pipeline.add([], 1.0)
    assert spool.points == 2
    assert events[-2:] == [("sealed", 3), ("safe", 3)]


@pytest.mark.parametrize(("unreachable", "attempts"), [(True, range(6, 100)), (False, range(2, 5))])
async def test_unreachable_influxdb_is_tried_at_the_shortest_interval_errors_back_off(
    writer, spool, events, unreachable, attempts
):
    # 0.6 s: without an answer every 0.05 s (~12 tries); with errors after 0.05, 0.1, 0.2 and 0.4 s (4 tries)
    writer.error = TransientWriteError("down", unreachable=unreachable)
    async with running(writer, spool, events) as pipeline:
        pipeline.add(["a 1"], 1.0)
        await wait_until(lambda: bool(writer.attempts))
        await asyncio.sleep(0.6)  # the span whose tries are counted, not synchronisation
    assert len(writer.attempts) in attempts
