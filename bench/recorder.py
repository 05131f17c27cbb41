"""Recorder throughput: MQTT messages/s through Mosquitto into a real InfluxDB 1.x, zero loss required.

Run: .venv/bin/python bench/recorder.py [--rate 20000] [--seconds 10] [--batch-size 5000]
Starts Mosquitto, influxd and `python -m zeropower.recorder` as real processes on free ports, publishes
numbered JSON messages (QoS 0) at a fixed rate, then checks that InfluxDB holds every number exactly once
and reports the recorder's CPU and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from measure import sample_process  # noqa: E402  (bench/, the script's own folder)

from tests.helpers import start_service  # noqa: E402
from tests.influx import InfluxServer  # noqa: E402
from zeropower.sim.broker import Broker  # noqa: E402

PREFIX = "bench"
TOPIC = f"{PREFIX}/load/seq"


class StateWatcher:
    """Follows the recorder's retained state topic."""

    def __init__(self, port: int) -> None:
        self.state: dict = {}
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-watch")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{PREFIX}/recorder/state")
        self._client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.state = json.loads(message.payload)

    def wait(self, condition, timeout_s: float) -> dict:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        while not condition(self.state):
            if time.monotonic() > deadline:
                raise TimeoutError(f"recorder state {self.state}")
            time.sleep(0.05)
        return self.state

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def publish(port: int, rate: float, total: int) -> float:
    """Publish ``total`` numbered messages at ``rate``/s; returns the achieved rate."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    chunk = max(1, int(rate / 100))
    for first in range(0, total, chunk):
        for seq in range(first, min(first + chunk, total)):
            client.publish(TOPIC, f'{{"seq": {seq}}}', qos=0)
        lag = start + (first + chunk) / rate - time.monotonic()
        if lag > 0:
            time.sleep(lag)
    elapsed = time.monotonic() - start
    client.loop_stop()
    client.disconnect()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20_000, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10, help="duration of the load")
    parser.add_argument("--batch-size", type=int, default=5000, help="recorder.batch_size")
    arguments = parser.parse_args()
    total = int(arguments.rate * arguments.seconds)
    workdir = Path(tempfile.mkdtemp(prefix="zeropower-bench-"))
    with Broker(workdir=workdir) as broker, InfluxServer(workdir / "influxdb") as influx:
        influx.create_database("bench")
        env = {
            "ZEROPOWER_MQTT__PORT": str(broker.port),
            "ZEROPOWER_MQTT__TOPIC_PREFIX": PREFIX,
            "ZEROPOWER_RECORDER__INFLUXDB": json.dumps({"type": "influxdb1", "url": influx.url, "database": "bench"}),
            "ZEROPOWER_RECORDER__BATCH_SIZE": str(arguments.batch_size),
            "ZEROPOWER_RECORDER__STATE_INTERVAL_S": "1",
            "ZEROPOWER_RECORDER__SPOOL__DIRECTORY": str(workdir / "spool"),
            "ZEROPOWER_LOG_LEVEL": "WARNING",
        }
        recorder = start_service("recorder", env, workdir / "recorder.log")
        watcher = StateWatcher(broker.port)
        try:
            watcher.wait(lambda s: "received" in s, 20)
            process = psutil.Process(recorder.pid)
            idle_rss = process.memory_info().rss
            samples: dict = {}
            stop = threading.Event()
            sampler = threading.Thread(target=sample_process, args=(process, samples, stop))
            sampler.start()
            cpu_before, wall_before = process.cpu_times(), time.monotonic()
            received_before = watcher.state["received"]
            achieved = publish(broker.port, arguments.rate, total)
            state = watcher.wait(
                lambda s: s["received"] >= received_before + total and s["spooled"] == 0 and s["lag_s"] < 1.5,
                arguments.seconds * 10 + 30,
            )
            drain_s = time.monotonic() - wall_before
            cpu_after = process.cpu_times()
            stop.set()
            sampler.join()
        except TimeoutError as error:
            print(f"recorder did not keep up: {error}")
            raise SystemExit(1) from None
        finally:
            watcher.close()
            recorder.terminate()
            recorder.wait(10)
        rows = influx.query(f"SELECT count(seq), count(distinct(seq)) FROM mqtt WHERE topic = '{TOPIC}'", "bench")
        points = distinct = 0
        if rows:
            _time, points, distinct = rows[0]["values"][0][:3]
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    print(f"published      {total} messages at {achieved:,.0f} msg/s (target {arguments.rate:,.0f})")
    print(f"recorded       {points} points, {distinct} distinct sequence numbers, loss {total - distinct}")
    print(f"end to end     {total / drain_s:,.0f} msg/s ({drain_s:.1f} s until every point was confirmed)")
    print(f"recorder CPU   {cpu:.1f} s = {cpu / drain_s:.0%} of one core; {cpu / total * 1e6:.1f} µs per message")
    print(f"recorder RSS   {idle_rss / 2**20:.0f} MiB idle, {samples.get('rss', 0) / 2**20:.0f} MiB peak")
    print(f"state          {state}")
    print(f"cores          {os.cpu_count()}")
    if distinct != total or points != total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
