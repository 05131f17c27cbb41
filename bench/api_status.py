"""API latency: GET /api/status at a fixed request rate against a real `python -m zeropower.api`.

Run: .venv/bin/python bench/api_status.py [--rate 200] [--seconds 10] [--connections 32]
Starts Mosquitto and the API gateway as real processes on free loopback ports, publishes a retained
ControllerState, waits until /api/status answers 200, then an open-loop load generator in a separate process
starts requests on a fixed schedule regardless of responses (aiohttp, a pool of keep-alive connections).
Latency is measured from each request's scheduled start, so queueing behind a slow answer counts
(no coordinated omission). Reports p50/p90/p99/max, errors and the API process's CPU and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import paho.mqtt.client as mqtt
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from measure import sample_process  # noqa: E402  (bench/, the script's own folder)

from tests.helpers import start_service  # noqa: E402
from zeropower.shared.messages import ControllerState  # noqa: E402
from zeropower.shared.topics import Topics  # noqa: E402
from zeropower.sim.broker import Broker, free_port  # noqa: E402

PREFIX = "bench"
MAX_RATE = 5000
MAX_SECONDS = 60


def publish_state(port: int) -> None:
    """Publish one retained ControllerState (enabled) and wait until the broker has it."""
    state = ControllerState(
        enabled=True,
        mode="regulating",
        reason="bench",
        grid_power_w=0.0,
        grid_age_s=0.5,
        target_w=0.0,
        output_w=300.0,
        limit_w=300.0,
        setpoints_w={"inv1": 300.0},
    )
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-state")
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = client.publish(Topics(PREFIX).controller_state(), state.model_dump_json(), qos=1, retain=True)
    info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def wait_ready(url: str, timeout_s: float) -> None:
    """Poll until ``url`` answers 200 with ``{"enabled": "on"}``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                body = json.loads(response.read())
                if response.status == 200 and body == {"enabled": "on"}:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout_s} s")
        time.sleep(0.1)


async def _generate(url: str, rate: float, seconds: float, connections: int) -> dict:
    total = int(rate * seconds)
    latencies: list[float | None] = [None] * total
    service: list[float | None] = [None] * total
    errors: dict[str, int] = {}
    timeout = aiohttp.ClientTimeout(total=5)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm the pool so connection setup is not part of the measurement.
        await asyncio.gather(*(session.get(url) for _ in range(min(connections, 8))))

        async def one(index: int, scheduled: float) -> None:
            sent = time.perf_counter()
            try:
                async with session.get(url) as response:
                    body = await response.read()
                    done = time.perf_counter()
                    if response.status != 200 or body != b'{"enabled":"on"}':
                        key = f"HTTP {response.status}"
                        errors[key] = errors.get(key, 0) + 1
                        return
            except Exception as error:  # every failure is counted, never fatal
                key = type(error).__name__
                errors[key] = errors.get(key, 0) + 1
                return
            latencies[index] = done - scheduled
            service[index] = done - sent

        tasks = []
        lag_max = 0.0
        start = time.perf_counter() + 0.05
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag_max = max(lag_max, -delay)
            tasks.append(asyncio.create_task(one(index, scheduled)))
        offered_s = time.perf_counter() - start
        await asyncio.gather(*tasks)
    return {
        "latencies": [x for x in latencies if x is not None],
        "service": [x for x in service if x is not None],
        "errors": errors,
        "total": total,
        "offered_s": offered_s,
        "schedule_lag_max": lag_max,
    }


def generator_process(url: str, rate: float, seconds: float, connections: int, conn) -> None:  # noqa: ANN001
    result = asyncio.run(_generate(url, rate, seconds, connections))
    result["cpu"] = sum(os.times()[:2])
    conn.send(result)
    conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second (open loop)")
    parser.add_argument("--seconds", type=float, default=10, help="duration of the load")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections in the client pool")
    arguments = parser.parse_args()
    if not 0 < arguments.rate <= MAX_RATE or not 0 < arguments.seconds <= MAX_SECONDS:
        parser.error(f"rate must be in (0, {MAX_RATE}] and seconds in (0, {MAX_SECONDS}]")
    workdir = Path(tempfile.mkdtemp(prefix="zeropower-bench-api-"))
    api_port = free_port()
    url = f"http://127.0.0.1:{api_port}/api/status"
    with Broker(workdir=workdir) as broker:
        publish_state(broker.port)
        env = {
            "ZEROPOWER_MQTT__PORT": str(broker.port),
            "ZEROPOWER_MQTT__TOPIC_PREFIX": PREFIX,
            "ZEROPOWER_API__HOST": "127.0.0.1",
            "ZEROPOWER_API__PORT": str(api_port),
            "ZEROPOWER_LOG_LEVEL": "WARNING",
        }
        api = start_service("api", env, workdir / "api.log")
        try:
            wait_ready(url, 20)
            process = psutil.Process(api.pid)
            idle_rss = process.memory_info().rss
            samples: dict = {}
            stop = threading.Event()
            sampler = threading.Thread(target=sample_process, args=(process, samples, stop))
            sampler.start()
            context = multiprocessing.get_context("spawn")
            receiver, sender = context.Pipe(duplex=False)
            generator = context.Process(
                target=generator_process,
                args=(url, arguments.rate, arguments.seconds, arguments.connections, sender),
            )
            cpu_before, wall_before = process.cpu_times(), time.monotonic()
            generator.start()
            if not receiver.poll(arguments.seconds + 60):
                generator.kill()
                raise TimeoutError("load generator did not finish")
            result = receiver.recv()
            generator.join(10)
            wall = time.monotonic() - wall_before
            cpu_after = process.cpu_times()
            stop.set()
            sampler.join()
        finally:
            api.terminate()
            api.wait(10)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    report(arguments, result, cpu, wall, idle_rss=idle_rss, peak_rss=samples.get("rss", 0))


def report(
    arguments: argparse.Namespace, result: dict, cpu: float, wall: float, *, idle_rss: int, peak_rss: int
) -> None:
    latencies, service = result["latencies"], result["service"]
    total, errors = result["total"], result["errors"]
    ms = 1000.0
    print(
        f"offered        {total} requests at {arguments.rate:,.0f} req/s for {arguments.seconds:g} s "
        f"(schedule kept within {result['schedule_lag_max'] * ms:.1f} ms, took {result['offered_s']:.2f} s)"
    )
    print(f"answered 200   {len(latencies)}; errors {sum(errors.values())} {errors or ''}")
    for name, values in (("from schedule", latencies), ("from send", service)):
        print(
            f"latency {name:<14} p50 {percentile(values, 0.5) * ms:.2f} ms  p90 {percentile(values, 0.9) * ms:.2f} ms"
            f"  p99 {percentile(values, 0.99) * ms:.2f} ms  max {max(values, default=float('nan')) * ms:.2f} ms"
        )
    print(
        f"API CPU        {cpu:.2f} s = {cpu / wall:.0%} of one core over {wall:.1f} s; "
        f"{cpu / max(1, len(latencies)) * 1e6:.0f} µs per request"
    )
    print(f"API RSS        {idle_rss / 2**20:.0f} MiB idle, {peak_rss / 2**20:.0f} MiB peak")
    print(f"generator CPU  {result['cpu']:.2f} s")
    print(f"cores          {os.cpu_count()}")
    p99 = percentile(latencies, 0.99)
    if errors or len(latencies) != total:
        raise SystemExit(1)
    print(f"goal p99 < 10 ms: {'met' if p99 < 0.010 else 'NOT met'}")


if __name__ == "__main__":
    main()
