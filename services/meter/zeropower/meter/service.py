"""The meter service: reads the grid meter through its driver and publishes every reading."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

import httpx

from zeropower.meter.drivers import Meter, PolledMeter, PushMeter, create_meter
from zeropower.meter.drivers.base import BackgroundWork, Deliver
from zeropower.meter.gate import ReadingGate
from zeropower.meter.reading import MeterError, MeterValues
from zeropower.meter.settings import MeterServiceSettings, MeterSettings
from zeropower.meter.timing import unless_stopped, wait_for_stop
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.setup import SetupSection
from zeropower.shared.topics import Topics

log = logging.getLogger("zeropower.meter")

SERVICE_ID = "meter"


class ReadingPublisher:
    """Checks every result through the gate, publishes it on the grid topic and logs problems once per change."""

    def __init__(self, bus: MqttBus, topic: str, meter_description: str, gate: ReadingGate) -> None:
        self._bus = bus
        self._topic = topic
        self._gate = gate
        self._problem = ChangeLogger(log, f"grid meter {meter_description}")

    async def publish(self, result: MeterValues | MeterError, requested_at: float | None = None) -> None:
        """Publish one result (valid or missing; nothing for a repeat); ``requested_at`` defaults to now."""
        at = time.time() if requested_at is None else requested_at
        try:
            reading = self._gate.judge(result, at)
        except Exception as error:  # a bug in the checks costs one reading, never the service
            log.debug("checking %r failed", result, exc_info=True)
            reading = self._gate.judge(MeterError(f"meter service error {type(error).__name__}: {error}"), at)
        if reading is None:
            return
        self._problem.report(reading.error)
        await self._bus.publish(self._topic, reading)


async def poll(
    meter: PolledMeter,
    deliver: Callable[[MeterValues | MeterError, float], Awaitable[None]],
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Read once per tick of ``interval_s`` until ``stop``; one request at a time, missed ticks skipped.

    Each result is delivered with the wall time its request was sent: when the meter measured, give or take.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not stop.is_set():
        requested_at = time.time()
        result = await unless_stopped(stop, read_or_explain(meter))
        if result is None:  # stopped mid-read: do not wait for a slow meter
            return
        await deliver(result, requested_at)
        next_tick = math.floor((loop.time() - start) / interval_s) + 1
        await wait_for_stop(stop, start + next_tick * interval_s - loop.time())


async def read_or_explain(meter: PolledMeter) -> MeterValues | MeterError:
    """The meter's values, or a MeterError naming why there are none; never raises on bad data."""
    try:
        return await meter.read()
    except MeterError as error:
        return error
    except Exception as error:  # a driver bug costs one reading, not the service
        log.debug("reading %s failed", meter.description, exc_info=True)
        return MeterError(f"driver error {type(error).__name__}: {error}")


async def listen(meter: PushMeter, deliver: Deliver, stale_after_s: float, stop: asyncio.Event) -> None:
    """Run a push meter until ``stop``; every ``stale_after_s`` without data, deliver a MeterError."""
    loop = asyncio.get_running_loop()
    last_heard = last_reported = loop.time()

    async def heard(result: MeterValues | MeterError) -> None:
        nonlocal last_heard
        last_heard = loop.time()
        await deliver(result)

    async def watch_silence() -> None:
        nonlocal last_reported
        silence = f"no data from {meter.description} for over {stale_after_s:g} s"  # constant: logged once
        while not stop.is_set():
            due = max(last_heard, last_reported) + stale_after_s
            if loop.time() >= due:
                last_reported = loop.time()
                await deliver(MeterError(silence))
            else:
                await wait_for_stop(stop, due - loop.time())

    async with asyncio.TaskGroup() as group:
        group.create_task(meter.run(heard, stop))
        group.create_task(watch_silence())


async def run(settings: MeterServiceSettings, stop: asyncio.Event) -> None:
    """Run the meter service until ``stop`` is set: the configured meter, or each one set up in the browser."""
    topics = Topics(settings.mqtt.topic_prefix)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO: twice a second
    async with httpx.AsyncClient() as http:

        def make_meter(config: MeterSettings) -> Meter:
            return create_meter(
                config.driver, http=http, bus=bus, timeout_s=config.timeout_s, stale_after_s=config.stale_after_s
            )

        async def read_meter(config: MeterSettings, meter_stop: asyncio.Event) -> None:
            await publish_readings(make_meter(config), config, bus, topics.grid_power(), meter_stop)

        section = SetupSection(
            bus,
            topics,
            service_id=SERVICE_ID,
            section="meter",
            model=MeterSettings,
            configured=settings.meter,
            describe=lambda config: make_meter(config).description,
            log=log,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(bus.run(stop))
            group.create_task(section.serve(stop, read_meter))


async def publish_readings(meter: Meter, config: MeterSettings, bus: MqttBus, topic: str, stop: asyncio.Event) -> None:
    """Read ``meter`` and publish its readings until ``stop`` is set."""
    gate = ReadingGate(
        meter.description,
        max_power_w=config.max_power_w,
        stale_after_s=config.stale_after_s,
        netted_counters=meter.netted_counters,
        energy_max_gap_s=config.energy_max_gap_s,
    )
    counters = "the meter's own" if meter.netted_counters else "the integral of grid power since start"
    log.info("energy counters (netted across phases): %s", counters)
    publisher = ReadingPublisher(bus, topic, meter.description, gate)
    async with asyncio.TaskGroup() as group:
        if isinstance(meter, BackgroundWork):
            group.create_task(meter.background(stop))
        if isinstance(meter, PushMeter):
            log.info("listening to %s", meter.description)
            group.create_task(listen(meter, publisher.publish, config.stale_after_s, stop))
        else:
            log.info("reading %s every %g s", meter.description, config.poll_interval_s)
            group.create_task(poll(meter, publisher.publish, config.poll_interval_s, stop))


def main() -> None:
    """Entry point of ``python -m zeropower.meter``."""
    run_service(SERVICE_ID, MeterServiceSettings, run)
