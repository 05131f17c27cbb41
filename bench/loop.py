"""Control loop: meter reading → OpenDTU command latency, CPU per control step, RSS of every service.

Run: .venv/bin/python -m bench.loop [--readings 1000] [--rate 20] [--steps 100000] [--seconds 30]

1. Latency: a private Mosquitto on a free loopback port, the real controller and actuator_opendtu as processes
   (one inverter, no rate limits, dead_time_s 0). This process publishes GridReadings alternating between
   -5 W and +45 W (error -25/+25 W around the 20 W target, so every reading moves the limit down or up) and
   receives the OpenDTU limit commands; each command is matched to the newest reading published before it
   (same process, same ``perf_counter``). Publishing writes to the socket synchronously (paho-mqtt without
   its network thread); commands are timed in paho's network thread of a second client. Mosquitto runs with
   ``set_tcp_nodelay true`` as tests and mosquitto/mosquitto.conf run it, and the benchmark's clients set
   TCP_NODELAY as the services' MqttBus does.
2. CPU per step of the pure ZeroExportController (in process, ``time.process_time``): a simple plant
   generates the inputs once, then they are replayed into a fresh controller and timed.
3. Peak RSS (and USS) of every service of ``make demo`` plus the recorder (writing to Debian's influxd), on
   the demo's configuration, while the whole system runs; then again with the recorder writing to
   VictoriaMetrics through the InfluxDB v2 API. Each service runs from a venv holding only its own package,
   as its Docker image does (built once into bench/.cache/venvs/).
Prints a markdown section for docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import yaml

from bench.measure import sample_process
from tests.helpers import REPO, start_service, stop_services
from tests.influx import InfluxServer, VictoriaMetricsServer
from zeropower.controller.logic import ZeroExportController
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import DeviceInfo, DeviceState, GridReading
from zeropower.shared.mqtt import no_delay
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.broker import Broker, free_port
from zeropower.sim.demo import SERVICES as DEMO_SERVICES
from zeropower.sim.demo import demo_config

SERIAL = "114182912345"
LOW_W, HIGH_W = -5.0, 45.0  # grid readings: error -25 / +25 W around target_w 20
WARMUP_S = 3.0
GOAL_P99_MS = 5.0
GOAL_RSS_MIB = 50.0
MIB = 2**20
INSTALL_SCRIPT = REPO / "scripts/install-service"
VENVS = REPO / "bench/.cache/venvs"
RECORDER_V1 = "recorder (InfluxDB 1.x writer)"
RECORDER_V2 = "recorder (InfluxDB v2 writer)"


# ---- shared helpers ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@contextmanager
def services(
    names: list[str], config_file: Path, workdir: Path, pythons: dict[str, str] | None = None
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Start ``python -m zeropower.<name>`` for each name; SIGTERM them all at the end, whatever happens.

    ``pythons`` may give a service its own interpreter (else this one's).
    """
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in names:
            env = {"ZEROPOWER_CONFIG": str(config_file), "ZEROPOWER_LOG_LEVEL": "WARNING"}
            python = (pythons or {}).get(name, sys.executable)
            processes[name] = start_service(name, env, workdir / f"{name}.log", python)
        yield processes
    finally:
        stop_services(processes.values(), timeout=10)


def check_alive(processes: dict[str, subprocess.Popen[bytes]], workdir: Path) -> None:
    """Raise with the log's tail when a service has exited."""
    for name, process in processes.items():
        if process.poll() is not None:
            tail = "\n".join((workdir / f"{name}.log").read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"{name} exited with status {process.returncode}:\n{tail}")


# ---- 1. latency ----------------------------------------------------------------------------------


@dataclass
class Latency:
    """What the latency run measured."""

    broker: str
    readings: int
    rate: float
    achieved_rate: float
    latencies_ms: list[float]
    readings_answered: int
    extra_commands: int
    wrong_direction: int
    publish_lag_max_ms: float
    stages_ms: dict[str, list[float]]  # first arrival per reading of the reading itself and of the setpoints


class CommandWatcher:
    """Receives availability, the announcement and limit commands; commands are timed on arrival."""

    def __init__(self, port: int, topics: Topics, dtu: OpenDtuTopics) -> None:
        self.retained: dict[str, bytes] = {}
        self.commands: list[tuple[float, float]] = []  # (perf_counter at arrival, limit in W)
        self.echoes: list[float] = []  # arrivals of the readings themselves
        self.setpoints: list[float] = []  # arrivals of the controller's SetpointCommands
        self._limit_filter = dtu.limit_command("+")
        self._grid, self._setpoints = topics.grid_power(), topics.actuator_setpoints("opendtu")
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-loop-watch")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        no_delay(self._client.socket())
        for topic in (
            topics.availability("controller"),
            topics.availability("actuator/opendtu"),
            topics.actuator_announce("opendtu"),
            self._limit_filter,
            self._grid,
            self._setpoints,
        ):
            self._client.subscribe(topic)
        self._client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()
        if mqtt.topic_matches_sub(self._limit_filter, message.topic):
            self.commands.append((arrived, float(message.payload)))
        elif message.topic == self._grid:
            self.echoes.append(arrived)
        elif message.topic == self._setpoints:
            self.setpoints.append(arrived)
        else:
            self.retained[message.topic] = message.payload

    def wait_ready(self, topics: Topics, processes: dict[str, subprocess.Popen[bytes]], workdir: Path) -> None:
        """Wait until both services are ``online`` and the actuator has announced its inverter."""
        online = (topics.availability("controller"), topics.availability("actuator/opendtu"))
        deadline = time.monotonic() + 20
        while not all(self.retained.get(topic) == b"online" for topic in online) or (
            topics.actuator_announce("opendtu") not in self.retained
        ):
            check_alive(processes, workdir)
            if time.monotonic() > deadline:
                raise TimeoutError(f"services not ready: {self.retained}")
            time.sleep(0.05)

    def close(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()


def measure_latency(readings: int, rate: float) -> Latency:
    """Reading → limit command latency through Mosquitto, the controller and the actuator."""
    topics, dtu = Topics(), OpenDtuTopics("solar")
    with (
        tempfile.TemporaryDirectory(prefix="zeropower-bench-loop-") as tmp,
        Broker(workdir=Path(tmp)) as broker,
    ):
        if broker.implementation != "mosquitto":
            raise RuntimeError("mosquitto is not installed")
        workdir = Path(tmp)
        config = {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "controller": {"target_w": 20, "deadband_w": 15, "dead_time_s": 0, "stale_after_s": 10},
            "actuator_opendtu": {
                "driver": {"type": "opendtu", "prefix": "solar"},
                "inverters": [{"serial": SERIAL, "name": "roof", "max_w": 800, "min_percent": 5}],
                "min_interval_s": 0,
                "min_interval_reduce_s": 0,
                "min_change_w": 0,
            },
        }
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        with services(["controller", "actuator_opendtu"], config_file, workdir) as processes:
            watcher = CommandWatcher(broker.port, topics, dtu)
            publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-loop-meter")
            try:
                watcher.wait_ready(topics, processes, workdir)
                # Synchronous publisher: without loop_start, publish() writes to the socket at once.
                publisher.connect("127.0.0.1", broker.port)
                while not publisher.is_connected():
                    publisher.loop(0.1)
                no_delay(publisher.socket())
                warmup = int(WARMUP_S * rate)
                sent, lag_max, elapsed = publish_readings(publisher, topics.grid_power(), warmup + readings, rate)
                time.sleep(1.0)  # stragglers
                check_alive(processes, workdir)
            finally:
                publisher.disconnect()
                watcher.close()
    measured = sent[warmup:]
    first = measured[0][0]
    commands = [(t, w) for t, w in watcher.commands if t >= first]
    before = [w for t, w in watcher.commands if t < first]
    previous_w = before[-1] if before else None
    times = [t for t, _ in measured]
    latencies: list[float] = []
    answered: set[int] = set()
    extra = wrong = 0
    for arrived, limit_w in commands:
        index = bisect.bisect_right(times, arrived) - 1
        reading_at, power_w = measured[index]
        if index in answered:
            extra += 1
        else:
            answered.add(index)
            latencies.append((arrived - reading_at) * 1000)
        if previous_w is not None and (limit_w < previous_w) != (power_w == LOW_W):
            wrong += 1  # a cut must follow a -5 W reading, a raise a +45 W one
        previous_w = limit_w
    stages = {"reading at a subscriber": watcher.echoes, "SetpointCommand": watcher.setpoints}
    return Latency(
        broker="Mosquitto, set_tcp_nodelay true",
        stages_ms={name: first_per_reading(times, arrivals) for name, arrivals in stages.items()},
        readings=readings,
        rate=rate,
        achieved_rate=(len(sent) - 1) / elapsed,
        latencies_ms=latencies,
        readings_answered=len(answered),
        extra_commands=extra,
        wrong_direction=wrong,
        publish_lag_max_ms=lag_max * 1000,
    )


def first_per_reading(times: list[float], arrivals: list[float]) -> list[float]:
    """Latency in ms of the first arrival after each reading published at ``times`` (until the next one)."""
    latencies: dict[int, float] = {}
    for arrived in arrivals:
        index = bisect.bisect_right(times, arrived) - 1
        if index >= 0 and index not in latencies:
            latencies[index] = (arrived - times[index]) * 1000
    return list(latencies.values())


def publish_readings(
    client: mqtt.Client, topic: str, count: int, rate: float
) -> tuple[list[tuple[float, float]], float, float]:
    """Publish ``count`` readings alternating LOW_W/HIGH_W on a fixed schedule.

    Returns (perf_counter before the write, power) per reading, the worst lag behind schedule and the duration.
    """
    sent: list[tuple[float, float]] = []
    lag_max = 0.0
    start = time.perf_counter() + 0.05
    for index in range(count):
        scheduled = start + index / rate
        while (delay := scheduled - time.perf_counter()) > 0:
            client.loop(min(delay, 0.01))  # serves the socket (keepalive) while waiting
        lag_max = max(lag_max, -delay)
        power_w = LOW_W if index % 2 == 0 else HIGH_W
        payload = GridReading(timestamp=time.time(), power_w=power_w).model_dump_json()
        published_at = time.perf_counter()
        if client.publish(topic, payload, qos=0).rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("publish failed")
        sent.append((published_at, power_w))
    return sent, lag_max, sent[-1][0] - sent[0][0]


# ---- 2. CPU per control step ---------------------------------------------------------------------


@dataclass
class StepCpu:
    """CPU time per control step of the pure logic."""

    label: str
    steps: int
    us_per_step: float
    commands: int


def record_inputs(devices: list[DeviceInfo], steps: int) -> list[tuple[GridReading, list[DeviceState]]]:
    """Inputs for ``steps`` steps from a simple plant closed around the controller (1 s per step).

    The household load jumps between levels (0.2-1.2 x the inverters' maximum) with noise, the sun's share
    of each inverter's maximum walks between 0.2 and 1.1, an inverter follows its limit 8 s late, a consumer
    draws its setpoint at once;
    every device reports every 5 steps.
    """
    clock = [0.0]
    controller = ZeroExportController(ControllerSettings(), lambda: clock[0])
    controller.set_actuator("bench", devices)
    rng = random.Random(1)
    capacity_w = sum(d.max_w for d in devices if d.kind == "inverter")
    levels = [capacity_w * share for share in (0.2, 0.4, 0.6, 0.9, 1.2)]
    load_w, base_w, sun = levels[1], levels[1], 0.8
    pending: dict[str, deque[tuple[int, float]]] = {d.device_id: deque() for d in devices}
    in_force: dict[str, float] = {d.device_id: d.max_w for d in devices}
    setpoints: dict[str, float] = {}
    inputs = []
    for step in range(steps):
        clock[0] = float(step)
        if rng.random() < 0.02:  # an appliance switches: the load heads for a new level
            base_w = rng.choice(levels)
        load_w = 0.9 * load_w + 0.1 * base_w + rng.gauss(0, 15)
        sun = min(1.1, max(0.2, sun + rng.gauss(0, 0.01)))
        output: dict[str, float] = {}
        for device in devices:
            if device.kind == "consumer":
                output[device.device_id] = -setpoints.get(device.device_id, 0.0)
            else:
                queue = pending[device.device_id]
                while queue and queue[0][0] <= step - 8:
                    in_force[device.device_id] = queue.popleft()[1]
                output[device.device_id] = min(in_force[device.device_id], sun * device.max_w)
        reading = GridReading(timestamp=step, power_w=round(load_w - sum(output.values()) + rng.gauss(0, 5), 1))
        states = []
        if step % 5 == 0:
            states = [
                DeviceState(
                    timestamp=step,
                    actuator_id="bench",
                    device_id=d.device_id,
                    reachable=True,
                    producing=d.kind == "inverter",
                    power_w=abs(output[d.device_id]),
                    limit_w=setpoints.get(d.device_id) if d.kind == "inverter" else None,
                )
                for d in devices
            ]
            for state in states:
                controller.on_device_state(state)
        decision = controller.on_grid(reading)
        for device_id, setpoint_w in decision.setpoints.get("bench", {}).items():
            if setpoints.get(device_id) != setpoint_w:
                pending[device_id].append((step, setpoint_w))
            setpoints[device_id] = setpoint_w
        inputs.append((reading, states))
    return inputs


def measure_step_cpu(label: str, devices: list[DeviceInfo], steps: int) -> StepCpu:
    """Replay recorded inputs into a fresh controller and time it with ``process_time``."""
    inputs = record_inputs(devices, steps)
    clock = [0.0]
    controller = ZeroExportController(ControllerSettings(), lambda: clock[0])
    controller.set_actuator("bench", devices)
    last: dict[str, float] = {}
    commands = 0
    started = time.process_time()
    for step, (reading, states) in enumerate(inputs):
        clock[0] = float(step)
        for state in states:
            controller.on_device_state(state)
        setpoints = controller.on_grid(reading).setpoints.get("bench", {})
        if setpoints != last:
            commands += 1
            last = setpoints
    cpu = time.process_time() - started
    return StepCpu(label, steps, cpu / steps * 1e6, commands)


def inverters(count: int) -> list[DeviceInfo]:
    """``count`` inverters of 800, 600, 400, 300 W with a 5 % minimum."""
    sizes = (800.0, 600.0, 400.0, 300.0)
    return [
        DeviceInfo(device_id=f"inv{i}", name=f"inverter {i}", min_w=sizes[i] * 0.05, max_w=sizes[i])
        for i in range(count)
    ]


# ---- 3. memory of every service ------------------------------------------------------------------


@dataclass
class Memory:
    """Peak RSS and USS per service, in bytes."""

    seconds: float
    rss: dict[str, int] = field(default_factory=dict)
    uss: dict[str, int] = field(default_factory=dict)


def source_digest() -> str:
    """A digest of everything an image's install depends on: the local packages, constraints, the script."""
    digest = hashlib.sha256()
    files = [REPO / "constraints.txt", INSTALL_SCRIPT]
    for tree in (REPO / "shared", REPO / "services"):
        files += sorted(
            path
            for path in tree.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path)
        )
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def deployed_python(module: str, digest: str) -> str:
    """The interpreter of a venv holding only ``module``'s package, installed as its image installs it.

    Built with scripts/install-service into bench/.cache/venvs/ and reused while the sources are unchanged
    (~30 s per service otherwise). The development venv holds every package and the test tools, which some
    libraries import when present (httpx loads rich for its command line), so it would not show what runs.
    """
    package = module.replace("_", "-")
    venv = VENVS / package
    stamp = venv / ".source-digest"
    if not (stamp.exists() and stamp.read_text() == digest):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        with (venv / "install.log").open("w") as log:
            command = ["sh", str(INSTALL_SCRIPT), str(venv / "bin/python"), package]
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
        stamp.write_text(digest)
    return str(venv / "bin/python")


def measure_memory(seconds: float) -> Memory:
    """Every service of the demo plus the recorder writing to InfluxDB 1.x, then again writing to the v2 API."""
    memory = Memory(seconds)
    with tempfile.TemporaryDirectory(prefix="zeropower-bench-loop-") as tmp:
        workdir = Path(tmp)
        with InfluxServer(workdir / "influxdb") as influx:
            influx.create_database("zeropower")
            database = {"type": "influxdb1", "url": influx.url, "database": "zeropower"}
            peaks = run_system_sampled(seconds, database, workdir / "v1")
        for name in peaks.rss:
            label = RECORDER_V1 if name == "recorder" else name
            memory.rss[label], memory.uss[label] = peaks.rss[name], peaks.uss[name]
        with VictoriaMetricsServer(workdir) as victoria:  # speaks the InfluxDB v2 write API
            database = {"type": "influxdb2", "url": victoria.url, "org": "-", "bucket": "zeropower"}
            peaks = run_system_sampled(seconds, database, workdir / "v2")
        memory.rss[RECORDER_V2] = peaks.rss["recorder"]
        memory.uss[RECORDER_V2] = peaks.uss["recorder"]
    return memory


def run_system_sampled(seconds: float, database: dict[str, str], workdir: Path) -> Memory:
    """Run the demo's services plus the recorder writing to ``database``, each from its deployed venv."""
    workdir.mkdir()
    with Broker(workdir=workdir) as broker:
        config = demo_config(workdir, broker.port, free_port(), free_port(), free_port())
        config["recorder"] = {"influxdb": database, "spool": {"directory": str(workdir / "spool")}}
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        names = [*DEMO_SERVICES, "recorder"]
        digest = source_digest()
        pythons = {name: deployed_python(name, digest) for name in names}
        with services(names, config_file, workdir, pythons) as processes:
            memory = Memory(seconds)
            watched = {name: psutil.Process(p.pid) for name, p in processes.items()}
            samples: dict[str, dict] = {name: {} for name in names}
            stop = threading.Event()
            samplers = [
                threading.Thread(target=sample_process, args=(watched[name], samples[name], stop)) for name in names
            ]
            for sampler in samplers:
                sampler.start()
            try:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:  # USS (reads smaps: a few ms) once a second
                    check_alive(processes, workdir)
                    for name, process in watched.items():
                        memory.uss[name] = max(memory.uss.get(name, 0), process.memory_full_info().uss)
                    time.sleep(1.0)
                check_alive(processes, workdir)
            finally:
                stop.set()
                for sampler in samplers:
                    sampler.join()
            memory.rss = {name: samples[name].get("rss", 0) for name in names}
    return memory


# ---- report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def quantiles(values: list[float]) -> str:
    """p50 / p99 / max in ms."""
    return " / ".join(f"{q:.1f}" for q in (percentile(values, 0.5), percentile(values, 0.99), max(values)))


def report(latencies: list[Latency], cpu: list[StepCpu], memory: Memory) -> str:
    """The markdown section for docs/benchmark.md."""
    first = latencies[0]
    lines = [
        "## Control loop: latency, CPU, memory",
        "",
        "`bench/loop.py` measures three things (all real processes on loopback, no mocks):",
        "",
        "```sh",
        ".venv/bin/python -m bench.loop    # also --readings 1000 --rate 20 --steps 100000 --seconds 30",
        "```",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; benchmark, Mosquitto and services share the cores.",
        "",
        "**Meter reading → OpenDTU command.** A private Mosquitto, `python -m zeropower.controller` and "
        "`python -m zeropower.actuator_opendtu` (one inverter, 800 W, 5 % minimum; `dead_time_s` 0, "
        "`min_interval_s`/`min_interval_reduce_s`/`min_change_w` 0). The benchmark publishes `GridReading`s on "
        f"`zeropower/meter/grid` at {first.rate:g} Hz alternating {LOW_W:g} W / {HIGH_W:+g} W (error ∓25 W "
        "around the 20 W target, so every reading cuts or raises the limit) and times each "
        "`solar/<serial>/cmd/limit_nonpersistent_absolute` from the write of the reading that caused it (the "
        f"newest one before it; the direction of the change is checked) in the same process. {WARMUP_S:g} s of "
        "warm-up after both services are `online` and the actuator has announced its inverter. Also timed: "
        "the reading's own arrival at a subscriber and the controller's `SetpointCommand` "
        "(`zeropower/actuator/opendtu/set`). Mosquitto runs with `set_tcp_nodelay true` as in "
        "`mosquitto/mosquitto.conf`, and every client sets TCP_NODELAY. Figures are p50 / p99 / max in ms.",
        "",
        "| broker | readings | readings answered | extra / wrong-direction commands "
        "| reading at a subscriber | SetpointCommand | limit command |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {lat.broker} | {lat.readings} at {lat.achieved_rate:.1f}/s | {lat.readings_answered} "
            f"| {lat.extra_commands} / {lat.wrong_direction} "
            f"| {quantiles(lat.stages_ms['reading at a subscriber'])} | {quantiles(lat.stages_ms['SetpointCommand'])} "
            f"| **{quantiles(lat.latencies_ms)}** |"
            for lat in latencies
        ),
        "",
        *(
            f"Goal p99 < {GOAL_P99_MS:g} ms, broker {lat.broker}: "
            f"**{verdict(percentile(lat.latencies_ms, 0.99) < GOAL_P99_MS)}** "
            f"(publisher at most {lat.publish_lag_max_ms:.1f} ms behind schedule).  "
            for lat in latencies
        ),
        "",
        "**CPU per control step** of the pure `ZeroExportController` (in process, `time.process_time`): one "
        "`on_grid` per step with a fake clock advancing 1 s, every device's `on_device_state` every 5 steps "
        "(inputs from a simple plant around the controller, recorded first, then replayed and timed).",
        "",
        "| devices | steps | CPU per step | steps that changed a setpoint |",
        "|---|---|---|---|",
        *(f"| {c.label} | {c.steps:,} | {c.us_per_step:.1f} µs | {c.commands:,} |" for c in cpu),
        "",
        f"**Memory** of every service of `make demo` plus the recorder (writing to Debian's influxd; then a second "
        "run with the recorder writing to VictoriaMetrics through the v2 API), demo "
        "configuration, each service from a venv holding only its own package, installed as its image installs "
        f"it (`scripts/install-service`); whole system running for {memory.seconds:g} s: peak RSS sampled "
        "every 0.2 s, USS "
        "(memory only this process has, without shared libraries) once a second (psutil).",
        "",
        "| service | peak RSS | peak USS | goal RSS < 50 MB (47.7 MiB) |",
        "|---|---|---|---|",
        *(
            f"| {name} | {rss / MIB:.1f} MiB | {memory.uss.get(name, 0) / MIB:.1f} MiB "
            f"| {verdict(rss < GOAL_RSS_MIB * 1e6)} |"
            for name, rss in memory.rss.items()
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the three measurements and print the markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1000, help="grid readings measured (after warm-up)")
    parser.add_argument("--rate", type=float, default=20, help="grid readings per second")
    parser.add_argument("--steps", type=int, default=100_000, help="control steps for the CPU measurement")
    parser.add_argument("--seconds", type=float, default=30, help="how long the whole system runs for memory")
    arguments = parser.parse_args()
    if not 0 < arguments.rate <= 200 or not 0 < arguments.readings <= 100_000 or arguments.steps <= 0:
        parser.error("rate must be in (0, 200], readings in (0, 100000], steps > 0")
    latencies = [measure_latency(arguments.readings, arguments.rate)]
    print("latency done", flush=True)
    cpu = [
        measure_step_cpu("1 inverter", inverters(1), arguments.steps),
        measure_step_cpu(
            "4 inverters + 1 consumer",
            [*inverters(4), DeviceInfo(device_id="heater", name="heater", kind="consumer", min_w=0, max_w=2000)],
            arguments.steps,
        ),
    ]
    print("cpu done", flush=True)
    memory = measure_memory(arguments.seconds)
    print()
    print(report(latencies, cpu, memory))


if __name__ == "__main__":
    main()
