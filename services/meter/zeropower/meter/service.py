"""The meter service: reads the grid meter through its driver and publishes every reading."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from zeropower.meter.drivers import PolledMeter, PushMeter, create_meter
from zeropower.meter.drivers.base import Deliver
from zeropower.meter.reading import MeterError, missing_reading
from zeropower.meter.settings import MeterServiceSettings
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import GridReading
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import Topics

log = logging.getLogger("zeropower.meter")

SERVICE_ID = "meter"

Result = TypeVar("Result")


class ReadingPublisher:
    """Publishes readings on the grid topic (not retained) and logs the meter's problems once per change."""

    def __init__(self, bus: MqttBus, topic: str, meter_description: str) -> None:
        self._bus = bus
        self._topic = topic
        self._problem = ChangeLogger(log, f"grid meter {meter_description}")

    async def publish(self, reading: GridReading) -> None:
        """Publish one reading, valid or missing."""
        self._problem.report(reading.error)
        await self._bus.publish(self._topic, reading)


async def poll(meter: PolledMeter, deliver: Deliver, interval_s: float, stop: asyncio.Event) -> None:
    """Read once per tick of ``interval_s`` until ``stop``; one request at a time, missed ticks skipped."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not stop.is_set():
        reading = await _unless_stopped(stop, read_or_explain(meter))
        if reading is None:  # stopped mid-read: do not wait for a slow meter
            return
        await deliver(reading)
        next_tick = math.floor((loop.time() - start) / interval_s) + 1
        await _wait_for_stop(stop, start + next_tick * interval_s - loop.time())


async def read_or_explain(meter: PolledMeter) -> GridReading:
    """The meter's reading, or a missing reading naming why there is none; never raises on bad data."""
    try:
        return await meter.read()
    except MeterError as error:
        return missing_reading(str(error))
    except Exception as error:  # a driver bug costs one reading, not the service
        log.debug("reading %s failed", meter.description, exc_info=True)
        return missing_reading(f"driver error {type(error).__name__}: {error}")


async def listen(meter: PushMeter, deliver: Deliver, stale_after_s: float, stop: asyncio.Event) -> None:
    """Run a push meter until ``stop``; every ``stale_after_s`` without data, deliver a missing reading."""
    loop = asyncio.get_running_loop()
    last_heard = last_reported = loop.time()

    async def heard(reading: GridReading) -> None:
        nonlocal last_heard
        last_heard = loop.time()
        await deliver(reading)

    async def watch_silence() -> None:
        nonlocal last_reported
        silence = f"no data from {meter.description} for over {stale_after_s:g} s"  # constant: logged once
        while not stop.is_set():
            due = max(last_heard, last_reported) + stale_after_s
            if loop.time() >= due:
                last_reported = loop.time()
                await deliver(missing_reading(silence))
            else:
                await _wait_for_stop(stop, due - loop.time())

    async with asyncio.TaskGroup() as group:
        group.create_task(meter.run(heard, stop))
        group.create_task(watch_silence())


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, Result]) -> Result | None:
    """The result of ``work``, or None when ``stop`` is set first (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


async def _wait_for_stop(stop: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(timeout_s, 0.0))


async def run(settings: MeterServiceSettings, stop: asyncio.Event) -> None:
    """Run the meter service until ``stop`` is set."""
    topics = Topics(settings.mqtt.topic_prefix)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO: twice a second
    config = settings.meter
    async with httpx.AsyncClient() as http:
        meter = create_meter(
            config.driver, http=http, bus=bus, timeout_s=config.timeout_s, stale_after_s=config.stale_after_s
        )
        publisher = ReadingPublisher(bus, topics.grid_power(), meter.description)
        async with asyncio.TaskGroup() as group:
            group.create_task(bus.run(stop))
            if isinstance(meter, PushMeter):
                log.info("listening to %s", meter.description)
                group.create_task(listen(meter, publisher.publish, config.stale_after_s, stop))
            else:
                log.info("reading %s every %g s", meter.description, config.poll_interval_s)
                group.create_task(poll(meter, publisher.publish, config.poll_interval_s, stop))


def main() -> None:
    """Entry point of ``python -m zeropower.meter``."""
    run_service(SERVICE_ID, MeterServiceSettings, run)
