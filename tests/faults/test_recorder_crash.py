"""kill -9 of the recorder, again and again, while InfluxDB is down: every numbered QoS 1 message exactly once.

The recorder runs as a real process against a real Mosquitto (with the queue limits docs/services/recorder.md
asks for) and a real influxd. A publisher sends numbered QoS 1 messages throughout (``{"seq": n}``: no
timestamp of their own, so a copy would be a point at another time of arrival). During the database outage the
recorder is killed at random moments and started again; once more while it drains the spool after InfluxDB is
back. In the end InfluxDB must hold every number the broker acknowledged to the publisher, each exactly once.
The delays come from a seed (printed; ``ZEROPOWER_FAULT_SEED`` replays one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from tests.helpers import MqttProbe, start_service
from tests.influx import InfluxServer
from zeropower.shared.mqtt import NO_DELAY
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PREFIX = "crash"
TOPIC = f"{PREFIX}/load/seq"
DATABASE = "zeropower"
#: Numbered messages per second (the issue measured ~490/s while the recorder was down).
RATE = 400.0
#: Kills while InfluxDB is down (one more follows while the spool drains).
KILLS = 4


class Recorder:
    """The recorder as a real process that can be killed with SIGKILL and started again on the same spool."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again)."""
        self._process = start_service("recorder", self._env, self._log)

    def kill(self) -> None:
        """SIGKILL: no clean stop, nothing acknowledged or flushed on the way out."""
        assert self._process is not None
        assert self._process.poll() is None, f"the recorder exited by itself: {self._log.read_text()[-3000:]}"
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=5)

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM), if it runs."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


async def publish_numbered(port: int, stop: asyncio.Event, published: list[int]) -> None:
    """Publish ``{"seq": n}`` at QoS 1 and RATE per second until ``stop``; ``published``: those the broker acked."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="crash-publisher", socket_options=NO_DELAY) as client:
        start = time.monotonic()
        seq = 0
        while not stop.is_set():
            await client.publish(TOPIC, json.dumps({"seq": seq}), qos=1)
            published.append(seq)
            seq += 1
            await asyncio.sleep(max(0.0, start + seq / RATE - time.monotonic()))  # pacing, not synchronisation


async def recorder_state(probe: MqttProbe, predicate: Callable[[dict], bool], timeout: float) -> dict:
    """The next recorder state (published from now on) that satisfies ``predicate``."""
    message = await probe.wait_for_new(
        Topics(PREFIX).recorder_state(), lambda m: predicate(json.loads(m.payload)), timeout=timeout
    )
    return dict(json.loads(message.payload))


@contextlib.asynccontextmanager
async def publishing(port: int) -> AsyncIterator[list[int]]:
    """Numbered messages for the block; the list holds those the broker acknowledged."""
    stop = asyncio.Event()
    published: list[int] = []
    task = asyncio.create_task(publish_numbered(port, stop, published))
    try:
        yield published
    finally:
        stop.set()
        await task


async def test_repeated_kills_during_an_outage_lose_and_duplicate_nothing(tmp_path: Path):
    seed = int(os.environ.get("ZEROPOWER_FAULT_SEED", random.randrange(1_000_000)))
    print(f"recorder crash seed {seed} (replay: ZEROPOWER_FAULT_SEED={seed})")
    rng = random.Random(seed)
    broker = Broker(workdir=tmp_path, max_queued_messages=100_000, max_queued_bytes=100_000_000)
    with broker, InfluxServer(tmp_path / "influxdb") as influx:
        influx.create_database(DATABASE)
        influxdb = {"type": "influxdb1", "url": influx.url, "database": DATABASE, "timeout_s": 2}
        recorder = Recorder(
            {
                "ZEROPOWER_MQTT__PORT": str(broker.port),
                "ZEROPOWER_MQTT__TOPIC_PREFIX": PREFIX,
                "ZEROPOWER_MQTT__RECONNECT_MIN_S": "0.1",
                "ZEROPOWER_RECORDER__INFLUXDB": json.dumps(influxdb),
                "ZEROPOWER_RECORDER__FLUSH_INTERVAL_S": "0.2",
                "ZEROPOWER_RECORDER__RETRY_MIN_S": "0.2",
                "ZEROPOWER_RECORDER__STATE_INTERVAL_S": "0.5",
                "ZEROPOWER_RECORDER__SPOOL__DIRECTORY": str(tmp_path / "spool"),
            },
            tmp_path / "recorder.log",
        )
        async with MqttProbe(broker.port) as probe:
            recorder.start()
            try:
                await recorder_state(probe, lambda _: True, timeout=30)
                async with publishing(broker.port) as published:
                    await asyncio.sleep(1.0)  # a second of normal operation
                    await asyncio.to_thread(influx.stop)
                    for _ in range(KILLS):
                        await asyncio.sleep(rng.uniform(0.5, 3.0))
                        recorder.kill()
                        await asyncio.sleep(rng.uniform(0.1, 2.0))
                        recorder.start()
                    await asyncio.sleep(rng.uniform(0.5, 2.0))
                    await asyncio.to_thread(influx.start)
                    await asyncio.sleep(rng.uniform(0.0, 1.0))  # the spool drains: kill it once more
                    recorder.kill()
                    recorder.start()
                    await asyncio.sleep(2.0)
                state = await recorder_state(probe, lambda s: s["spooled"] == 0 and s["lag_s"] == 0, timeout=60)
            finally:
                recorder.stop()
        rows = influx_rows(influx)
    counts = Counter(int(row["seq"]) for row in rows)
    lost = sorted(set(published) - counts.keys())
    duplicates = {seq: count for seq, count in counts.items() if count > 1}
    print(
        f"recorder killed {KILLS + 1} times: published {len(published)} (acknowledged by the broker), "
        f"stored {len(counts)}, duplicates {len(duplicates)}, lost {len(lost)} (first: {lost[:10]}); "
        f"last state {state}"
    )
    assert not lost
    assert not duplicates
    assert counts.keys() == set(published)


def influx_rows(influx: InfluxServer) -> list[dict]:
    """Every stored numbered point (InfluxDB answers 10,000 rows per series at most: read in chunks)."""
    rows: list[dict] = []
    offset = 0
    while chunk := influx.rows(f"SELECT seq FROM mqtt WHERE topic = '{TOPIC}' LIMIT 10000 OFFSET {offset}", DATABASE):
        rows += chunk
        offset += len(chunk)
    return rows
