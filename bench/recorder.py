"""Recorder throughput: MQTT messages/s through Mosquitto into a real InfluxDB 1.x, zero loss required.

Run: .venv/bin/python bench/recorder.py [--rate 20000] [--seconds 10] [--qos 1] [--batch-size 5000] [--outage]
Starts Mosquitto, influxd and `python -m zeropower.recorder` as real processes on free ports, publishes
numbered JSON messages at a fixed rate, then checks that InfluxDB holds every number exactly once and reports
the recorder's CPU and peak RSS. With --outage, influxd is down while the messages are published (they wait in
the spool); the figure is then the drain: from influxd answering again until the spool is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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
#: The broker's queue per client as docs/services/recorder.md asks for (QoS 1 beyond the 20,000 unacknowledged).
BROKER_QUEUE = {"max_queued_messages": 100_000, "max_queued_bytes": 50_000_000, "queue_qos0_messages": True}


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


def publish(port: int, rate: float, total: int, qos: int) -> float:
    """Publish ``total`` numbered messages at ``rate``/s; returns the achieved rate.

    mosquitto_pub (C) publishes: paho-mqtt in Python manages only ~6,000 QoS 1 publishes/s on this machine.
    It reads one message per line and exits once the broker has acknowledged the last one.
    """
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", TOPIC, "-q", str(qos), "-l"]
    publisher = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert publisher.stdin is not None
    start = time.monotonic()
    chunk = max(1, int(rate / 100))
    for first in range(0, total, chunk):
        lines = "".join(f'{{"seq": {seq}}}\n' for seq in range(first, min(first + chunk, total)))
        publisher.stdin.write(lines.encode())
        publisher.stdin.flush()
        lag = start + (first + chunk) / rate - time.monotonic()
        if lag > 0:
            time.sleep(lag)
    publisher.stdin.close()
    if publisher.wait(60) != 0:
        raise SystemExit("mosquitto_pub failed")
    return total / (time.monotonic() - start)


@dataclass
class Run:
    """What one load run measured."""

    achieved: float = 0.0  # published messages per second
    wall_s: float = 0.0  # from the first message until every point was confirmed
    cpu_s: float = 0.0  # the recorder's CPU time meanwhile
    idle_rss: int = 0
    peak_rss: int = 0
    spooled: int = 0  # --outage: points in the spool when influxd came back
    drain_s: float = 0.0  # --outage: from influxd answering until the spool was empty
    state: dict = field(default_factory=dict)


def measure(arguments: argparse.Namespace, broker: Broker, influx: InfluxServer, workdir: Path) -> Run:
    """Start the recorder, publish the load (influxd down meanwhile with --outage), wait until all is confirmed."""
    total = int(arguments.rate * arguments.seconds)
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
    run = Run()
    try:
        watcher.wait(lambda s: "received" in s, 20)
        process = psutil.Process(recorder.pid)
        run.idle_rss = process.memory_info().rss
        samples: dict = {}
        stop = threading.Event()
        sampler = threading.Thread(target=sample_process, args=(process, samples, stop))
        sampler.start()
        cpu_before, wall_before = process.cpu_times(), time.monotonic()
        received_before = watcher.state["received"]
        if arguments.outage:
            influx.stop()
        run.achieved = publish(broker.port, arguments.rate, total, arguments.qos)
        if arguments.outage:
            run.spooled = watcher.wait(lambda s: s["spooled"] >= total, 60)["spooled"]
            influx.start()
            answered = time.monotonic()
        run.state = watcher.wait(
            lambda s: s["received"] >= received_before + total and s["spooled"] == 0 and s["lag_s"] < 1.5,
            arguments.seconds * 10 + 60,
        )
        run.wall_s = time.monotonic() - wall_before
        run.drain_s = time.monotonic() - answered if arguments.outage else 0.0
        cpu_after = process.cpu_times()
        run.cpu_s = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        stop.set()
        sampler.join()
        run.peak_rss = samples.get("rss", 0)
    except TimeoutError as error:
        print(f"recorder did not keep up: {error}")
        raise SystemExit(1) from None
    finally:
        watcher.close()
        recorder.terminate()
        recorder.wait(10)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20_000, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10, help="duration of the load")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1, help="QoS of the published messages")
    parser.add_argument("--batch-size", type=int, default=5000, help="recorder.batch_size")
    parser.add_argument("--outage", action="store_true", help="influxd down while publishing; measure the drain")
    arguments = parser.parse_args()
    total = int(arguments.rate * arguments.seconds)
    workdir = Path(tempfile.mkdtemp(prefix="zeropower-bench-"))
    with Broker(workdir=workdir, **BROKER_QUEUE) as broker, InfluxServer(workdir / "influxdb") as influx:
        influx.create_database("bench")
        run = measure(arguments, broker, influx, workdir)
        rows = influx.query(f"SELECT count(seq), count(distinct(seq)) FROM mqtt WHERE topic = '{TOPIC}'", "bench")
        points = distinct = 0
        if rows:
            _time, points, distinct = rows[0]["values"][0][:3]
    rate = f"{run.achieved:,.0f} msg/s (target {arguments.rate:,.0f})"
    print(f"published      {total} messages at QoS {arguments.qos}: {rate}")
    print(f"recorded       {points} points, {distinct} distinct sequence numbers, loss {total - distinct}")
    print(f"end to end     {total / run.wall_s:,.0f} msg/s ({run.wall_s:.1f} s until every point was confirmed)")
    if arguments.outage:
        print(f"drain          {run.spooled} points spooled, empty {run.drain_s:.1f} s after influxd answered again")
    cpu = run.cpu_s
    print(f"recorder CPU   {cpu:.1f} s = {cpu / run.wall_s:.0%} of one core; {cpu / total * 1e6:.1f} µs per message")
    print(f"recorder RSS   {run.idle_rss / 2**20:.0f} MiB idle, {run.peak_rss / 2**20:.0f} MiB peak")
    print(f"state          {run.state}")
    print(f"cores          {os.cpu_count()}")
    if distinct != total or points != total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
