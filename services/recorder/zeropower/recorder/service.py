"""The recorder service: every subscribed MQTT message through the mapping rules into InfluxDB."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiomqtt

from zeropower.recorder.mapping import Mapper
from zeropower.recorder.pipeline import Backoff, Pipeline
from zeropower.recorder.settings import RecorderServiceSettings
from zeropower.recorder.spool import Spool
from zeropower.recorder.writers import make_writer
from zeropower.shared.messages import RecorderState
from zeropower.shared.mqtt import Handler, IncomingMessage, MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import Topics

log = logging.getLogger("zeropower.recorder")

SERVICE_ID = "recorder"


class RecorderService:
    """Maps every message on its topic filters to points and hands them to the pipeline; publishes its state."""

    def __init__(self, mapper: Mapper, pipeline: Pipeline, bus: MqttBus, topics: Topics, filters: list[str]) -> None:
        self._mapper = mapper
        self._pipeline = pipeline
        self._bus = bus
        self._topics = topics
        self.received = 0
        self._last_ns = 0
        for index, topic_filter in enumerate(filters):
            bus.subscribe(topic_filter, self._handler(filters[:index]))
        bus.on_connect(self.publish_state)

    def _handler(self, earlier_filters: list[str]) -> Handler:
        """A handler that leaves messages matching an earlier filter to that one's handler (each is recorded once)."""

        async def record(message: IncomingMessage) -> None:
            if earlier_filters and any(aiomqtt.Topic(message.topic).matches(f) for f in earlier_filters):
                return
            self.record(message)

        return record

    def record(self, message: IncomingMessage) -> None:
        """Map one message to points and queue them; arrival times are unique so no point overwrites another."""
        self.received += 1
        arrival_ns = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = arrival_ns
        self._pipeline.add(self._mapper.lines(message.topic, message.payload, arrival_ns), arrival_ns / 1e9)

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
    topics = Topics(settings.mqtt.topic_prefix)
    mapper = Mapper([*config.extra_rules, *config.rules], settings.mqtt.topic_prefix, config.dtu_prefixes)
    spool = Spool(config.spool.directory, config.spool.max_points, config.spool.max_bytes)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    try:
        async with make_writer(config.influxdb) as writer:
            log.info("recording %s into %s", ", ".join(config.topics), writer.description)
            backoff = Backoff(config.retry_min_s, config.retry_max_s)
            pipeline = Pipeline(writer, spool, config.batch_size, config.flush_interval_s, backoff)
            service = RecorderService(mapper, pipeline, bus, topics, config.topics)
            pipeline_stop = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                pipeline_task = group.create_task(pipeline.run(pipeline_stop))
                group.create_task(service.run(stop, config.state_interval_s))
                await bus.run(stop)  # no more messages after this: the pipeline can finish
                pipeline_stop.set()
                await pipeline_task
    finally:
        spool.close()


def main() -> None:
    """Entry point of ``python -m zeropower.recorder``."""
    run_service(SERVICE_ID, RecorderServiceSettings, run)
