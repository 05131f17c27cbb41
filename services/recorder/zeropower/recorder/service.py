"""The recorder service: every subscribed MQTT message through the mapping rules into InfluxDB.

Messages arrive through the firehose receiver (paho-mqtt's thread, see receiver.py); availability and the
recorder's state go through ``MqttBus`` like every service's. A stop takes no more messages, writes or spools
what it has, acknowledges it, and only then disconnects the firehose (the broker keeps its session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from zeropower.recorder.mapping import Mapper
from zeropower.recorder.pipeline import Backoff, Pipeline
from zeropower.recorder.receiver import FirehoseReceiver
from zeropower.recorder.session import SessionStore
from zeropower.recorder.settings import RecorderServiceSettings
from zeropower.recorder.spool import Spool
from zeropower.recorder.writers import make_writer
from zeropower.shared.messages import RecorderState
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.settings import LogLevel
from zeropower.shared.topics import Topics

log = logging.getLogger("zeropower.recorder")

SERVICE_ID = "recorder"
#: Loggers of the HTTP clients that write to InfluxDB: httpx logs every request at INFO.
HTTP_LOGGERS = ("httpx", "httpcore", "urllib3", "influxdb_client")


class RecorderService:
    """Counts the mapped messages from the receiver into the pipeline; publishes its state through the bus."""

    def __init__(self, pipeline: Pipeline, bus: MqttBus, topics: Topics) -> None:
        self._pipeline = pipeline
        self._bus = bus
        self._topics = topics
        self.received = 0
        bus.on_connect(self.publish_state)

    def record(self, lines: list[str], arrival: float) -> None:
        """Queue the points of one received message (``arrival``: Unix time in s)."""
        self.received += 1
        self._pipeline.add(lines, arrival)

    def state(self) -> RecorderState:
        """The recorder's health now."""
        now = time.time()
        counters = self._pipeline.counters
        return RecorderState(
            timestamp=now,
            received=self.received,
            written=counters.written,
            spooled=self._pipeline.spooled,
            dropped=counters.dropped,
            rejected=counters.rejected,
            lag_s=round(self._pipeline.lag_s(now), 3),
        )

    async def publish_state(self) -> None:
        """Publish the state, retained."""
        await self._bus.publish(self._topics.recorder_state(), self.state(), retain=True)

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Publish the state every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            await self.publish_state()


async def run(settings: RecorderServiceSettings, stop: asyncio.Event) -> None:
    """Run the recorder until ``stop`` is set; what InfluxDB has not confirmed by then stays in the spool."""
    config = settings.recorder
    quiet_http_logs(settings.log_level)
    topics = Topics(settings.mqtt.topic_prefix)
    mapper = Mapper([*config.extra_rules, *config.rules], settings.mqtt.topic_prefix, config.dtu_prefixes)
    spool = Spool(config.spool.directory, config.spool.max_points, config.spool.max_bytes)
    # a redelivered message is one of the last receive_maximum sent: keep twice as many arrival records
    store = SessionStore(config.spool.directory, keep=2 * config.session.receive_maximum)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    try:
        async with make_writer(config.influxdb) as writer:
            log.info("recording %s into %s", ", ".join(config.topics), writer.description)
            receiver = FirehoseReceiver(settings.mqtt, config.session, config.topics, mapper, store)
            backoff = Backoff(config.retry_min_s, config.retry_max_s)
            pipeline = Pipeline(writer, spool, config.batch_size, config.flush_interval_s, backoff, source=receiver)
            service = RecorderService(pipeline, bus, topics)
            pipeline_stop = asyncio.Event()
            receiver.start(service.record)
            try:
                async with asyncio.TaskGroup() as group:
                    pipeline_task = group.create_task(pipeline.run(pipeline_stop))
                    await _first(receiver.subscribed, stop)  # "online" and the first state: recording has begun
                    group.create_task(service.run(stop, config.state_interval_s))
                    await bus.run(stop)
                    receiver.close_intake()  # no more messages: the pipeline can finish and acknowledge them
                    pipeline_stop.set()
                    await pipeline_task
            finally:
                await receiver.stop()
    finally:
        store.close()
        spool.close()


def quiet_http_logs(level: LogLevel) -> None:
    """HTTP clients log each request only at DEBUG; otherwise their warnings and errors only."""
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)


async def _first(*events: asyncio.Event) -> None:
    """Wait until any of ``events`` is set."""
    waiters = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def main() -> None:
    """Entry point of ``python -m zeropower.recorder``."""
    run_service(SERVICE_ID, RecorderServiceSettings, run)
