"""``make demo``: the whole system on simulated hardware, with a guided tour and a live status line.

Starts a private broker, the simulator (Shelly Pro 3EM over HTTP, OpenDTU over MQTT, a heater on a simulated
PWM output, a battery served as a Zendure SolarFlow over HTTP) and the real meter, controller, actuators and API
configured for it, prints what to watch and what to try, then shows what happens until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiomqtt
import yaml
from pydantic import ValidationError

from zeropower.shared.messages import ControllerState, GridReading, SimState
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker, free_port, wait_for_port
from zeropower.sim.settings import BatterySettings, DayCurvePv, SimSettings
from zeropower.sim.tour import TourFacts, tour

#: The actuators start first and the controller once they have announced their devices (retained), so it knows
#: every device from its first step: a battery announced a second later joined a loop in which the heater had
#: already taken the morning's first surplus. They stop in the reverse order, the simulator last: an actuator
#: stopping sets its device to 0 W (the battery) and must find it still there.
SERVICES = ("sim", "actuator_opendtu", "actuator_pwm", "actuator_battery", "meter", "controller", "api")
ACTUATORS = 3

HEATER_W = 500.0  # below the surplus, so the inverters are limited once the heater is at its rating
#: The battery (served as a Zendure SolarFlow): 2400 W either way, so it takes all of the morning's surplus and
#: covers the whole kettle, but only 50 Wh, so the first minute fills it (94 % to full at ~350 W takes ~30 s)
#: and the heater's and the limits' turn comes within the demo's first two minutes; the kettle's ~1200 W for
#: 60 s then take it to about 60 %, well above its 10 % reserve.
DEMO_BATTERY = BatterySettings(capacity_wh=50.0, soc_pct=94.0, max_charge_w=2400.0, max_discharge_w=2400.0)
BATTERY_ID = "solarflow"
#: A sunny day from 8:00, an hour every 30 s: the surplus grows past the heater's rating within a minute.
#: The panels (1500 W peak) are larger than the inverters (1200 W), as is common.
DEMO_DAY = DayCurvePv(kind="day", peak_w=1500.0, start_h=8.0, time_lapse=120.0)
STALE_AFTER_S = 10.0  # the controller's default, named in the tour
LOAD_STEP_W = 250.0  # a load change this big is announced, and its settling timed
SETTLED_W = 50.0  # grid within this of the target for SETTLED_FOR_S counts as settled
SETTLED_FOR_S = 3.0


def demo_config(workdir: Path, mqtt_port: int, shelly_port: int, api_port: int, zendure_port: int) -> dict[str, object]:
    """One config file for every service: the simulator's devices, and the services pointed at them."""
    sim = SimSettings()
    return {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
        "sim": {
            "shelly": {"host": "127.0.0.1", "port": shelly_port},
            "pv": DEMO_DAY.model_dump(),
            "heater": {"rated_w": HEATER_W, "controller": "phase_fired"},
            "battery": DEMO_BATTERY.model_dump(),
            "zendure": {"host": "127.0.0.1", "port": zendure_port},
        },
        "meter": {"driver": {"type": "shelly_gen2", "url": f"http://127.0.0.1:{shelly_port}"}},
        "controller": {
            "target_w": 20,
            "dead_time_s": 5,
            "stale_after_s": STALE_AFTER_S,
            "state_file": str(workdir.resolve() / "controller-state.json"),
        },
        "api": {"host": "127.0.0.1", "port": api_port},
        "actuator_opendtu": {
            "driver": {"type": "opendtu", "prefix": sim.opendtu.prefix},
            "inverters": [
                {"serial": inverter.serial, "name": inverter.name, "max_w": inverter.max_w, "min_percent": 5}
                for inverter in sim.inverters
            ],
        },
        "actuator_pwm": {
            "name": "Water heater",
            "rated_w": HEATER_W,
            "output": {"type": "sim"},
            "mapping": {"type": "phase_fired"},
            "energy_file": str(workdir.resolve() / "heater-energy.json"),
        },
        "actuator_battery": {
            "batteries": [
                {
                    "device_id": BATTERY_ID,
                    "name": "Battery",
                    "capacity_wh": DEMO_BATTERY.capacity_wh,
                    "max_charge_w": DEMO_BATTERY.max_charge_w,
                    "max_discharge_w": DEMO_BATTERY.max_discharge_w,
                    "driver": {
                        "type": "zendure",
                        "url": f"http://127.0.0.1:{zendure_port}",
                        "serial": sim.zendure.serial,
                    },
                }
            ],
        },
    }


def port_or_free(preferred: int) -> int:
    """``preferred`` when nothing listens there, else any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        busy = probe.connect_ex(("127.0.0.1", preferred)) == 0
    return free_port() if busy else preferred


@dataclass
class StatusBoard:
    """Turns the simulator's ground truth, the meter's energy and the controller's state into terminal lines.

    The energy shown is the meter service's netted counters: the one figure the web UI, ``/metrics``, Home
    Assistant and Grafana show too (the simulator's own integral also counts the seconds before the meter's
    first reading).
    """

    target_w: float
    started: float = field(default_factory=time.monotonic)
    sim: SimState | None = None
    meter: GridReading | None = None
    controller: ControllerState | None = None
    last_load_w: float | None = None
    step_at: float | None = None
    settled_since: float | None = None

    def on_sim(self, state: SimState) -> list[str]:
        """Take a SimState; return event lines (load steps, settling)."""
        self.sim = state
        now = time.monotonic()
        events = []
        if self.last_load_w is not None and abs(state.load_w - self.last_load_w) >= LOAD_STEP_W:
            events.append(f"{self.elapsed():6.0f} s  load step {state.load_w - self.last_load_w:+.0f} W")
            self.step_at, self.settled_since = now, None
        self.last_load_w = state.load_w
        if self.step_at is not None:
            if abs(state.grid_w - self.target_w) <= SETTLED_W or (
                state.grid_w > 0 and state.limit_w >= state.pv_available_w
            ):
                self.settled_since = self.settled_since or now
                if now - self.settled_since >= SETTLED_FOR_S:
                    events.append(
                        f"{self.elapsed():6.0f} s  settled {self.settled_since - self.step_at:.0f} s after the step"
                    )
                    self.step_at = None
            else:
                self.settled_since = None
        return events

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.started

    def line(self) -> str:
        """The status line."""
        if self.sim is None:
            return f"{self.elapsed():6.0f} s  waiting for the simulator..."
        sim = self.sim
        mode = "" if self.controller is None else f" | {self.controller.mode}: {self.controller.reason}"
        return (
            f"{self.elapsed():6.0f} s  grid {sim.grid_w:+6.0f} W | load {sim.load_w:5.0f} W"
            f" | PV {sim.pv_available_w:5.0f} W | limit {sim.limit_w:5.0f} W | output {sim.output_w:5.0f} W"
            f" | heater {sim.heater_w:5.0f} W | battery {sim.battery_w:+6.0f} W {_soc(sim.battery_soc_pct)}"
            f" | exported {_energy(self.meter and self.meter.energy_export_wh)}"
            f" | imported {_energy(self.meter and self.meter.energy_import_wh)}{mode}"
        )


def _soc(soc_pct: float | None) -> str:
    """The battery's state of charge for the status line."""
    return "  - %" if soc_pct is None else f"{soc_pct:3.0f} %"


def _energy(counter_wh: float | None) -> str:
    """A meter counter for the status line ('-' until the meter has counted)."""
    return "     - Wh" if counter_wh is None else f"{counter_wh:6.2f} Wh"


async def show_status(port: int, board: StatusBoard, stop: asyncio.Event) -> None:
    """Follow the simulator and the controller and print the status line until ``stop``."""
    topics = Topics()
    interactive = sys.stdout.isatty()
    last_print = 0.0
    async with aiomqtt.Client("127.0.0.1", port, identifier="zeropower-demo") as client:
        await client.subscribe(topics.sim_state())
        await client.subscribe(topics.grid_power())
        await client.subscribe(topics.controller_state())
        async for message in client.messages:
            if stop.is_set():
                return
            try:
                if message.topic.matches(topics.controller_state()):
                    board.controller = ControllerState.model_validate_json(bytes(message.payload))  # type: ignore[arg-type]
                    continue
                if message.topic.matches(topics.grid_power()):
                    reading = GridReading.model_validate_json(bytes(message.payload))  # type: ignore[arg-type]
                    if reading.energy_import_wh is not None:  # a missing reading keeps the last counters
                        board.meter = reading
                    continue
                events = board.on_sim(SimState.model_validate_json(bytes(message.payload)))  # type: ignore[arg-type]
            except ValidationError:
                continue
            for event in events:
                print(("\r\x1b[2K" if interactive else "") + event, flush=True)
            if interactive:
                print("\r\x1b[2K" + board.line()[: _width()], end="", flush=True)
            elif time.monotonic() - last_print >= 5:
                print(board.line(), flush=True)
                last_print = time.monotonic()


def _width() -> int:
    with contextlib.suppress(OSError):
        return os.get_terminal_size().columns - 1
    return 200


@dataclass(frozen=True)
class Prepared:
    """What the demo runs on: the started broker, the config file and what the status line needs from it."""

    broker: Broker
    config_file: Path
    target_w: float
    shelly_port: int
    api_port: int
    zendure_port: int


def prepare(workdir: Path, mqtt_port: int, api_port: int) -> Prepared:
    """Write the config and start the broker."""
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Broker(port=mqtt_port, workdir=workdir)
    shelly_port, zendure_port = free_port(), free_port()
    config = demo_config(workdir, broker.port, shelly_port, api_port, zendure_port)
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    broker.start()
    print(f"MQTT broker ({broker.implementation}) on 127.0.0.1:{broker.port}: watch it in MQTT Explorer")
    print(f"web UI and REST API: http://127.0.0.1:{api_port}/ (API docs at /docs)")
    print(f"config: {config_file}   logs: {workdir}/<service>.log   Ctrl-C stops")
    target_w = float(config["controller"]["target_w"])  # type: ignore[index]
    return Prepared(broker, config_file, target_w, shelly_port, api_port, zendure_port)


def tour_facts(prepared: Prepared, meter_pid: int) -> TourFacts:
    """What the tour tells, from the demo's configuration."""
    sim = SimSettings()  # the demo's household and inverters are the simulator's defaults
    kettle = next(appliance for appliance in sim.load.appliances if appliance.name == "kettle")
    return TourFacts(
        mqtt_port=prepared.broker.port,
        api_port=prepared.api_port,
        meter_pid=meter_pid,
        heater_w=HEATER_W,
        battery_w=DEMO_BATTERY.max_discharge_w,
        battery_wh=DEMO_BATTERY.capacity_wh,
        panels_w=DEMO_DAY.peak_w,
        inverters_w=sum(inverter.max_w for inverter in sim.inverters),
        start_h=DEMO_DAY.start_h,
        seconds_per_hour=3600.0 / DEMO_DAY.time_lapse,
        kettle_w=kettle.power_w,
        kettle_at_s=kettle.first_on_s,
        stale_after_s=STALE_AFTER_S,
    )


async def run_demo(prepared: Prepared, logs: dict[str, IO[bytes]], duration_s: float) -> int:
    """Run the services; return the exit status (non-zero when a service died)."""
    config_file = prepared.config_file
    workdir = config_file.parent
    processes: dict[str, asyncio.subprocess.Process] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    status = 0
    try:
        for service in SERVICES:
            processes[service] = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", f"zeropower.{service}", "--config", str(config_file)],
                stdout=logs[service],
                stderr=logs[service],
                start_new_session=True,  # Ctrl-C reaches only the demo, which stops them before the broker
            )
            if service == "sim":  # the meter's and the battery actuator's first reads find the devices listening
                with contextlib.suppress(TimeoutError):
                    await asyncio.to_thread(wait_for_port, prepared.shelly_port, 20.0)
                    await asyncio.to_thread(wait_for_port, prepared.zendure_port, 20.0)
            if service == "actuator_battery":  # the last actuator: the controller starts once all have announced
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_announced(prepared.broker.port, ACTUATORS), 30.0)
        print(tour(tour_facts(prepared, processes["meter"].pid), Topics()) + "\n", flush=True)
        board = StatusBoard(target_w=prepared.target_w)
        watcher = asyncio.create_task(show_status(prepared.broker.port, board, stop))
        deaths = [asyncio.create_task(process.wait()) for process in processes.values()]
        waits = [asyncio.create_task(stop.wait()), watcher, *deaths]
        await asyncio.wait(waits, timeout=duration_s or None, return_when=asyncio.FIRST_COMPLETED)
        for service, process in processes.items():
            if process.returncode is not None:
                log_tail = _tail(workdir / f"{service}.log")
                print(f"\n{service} exited with status {process.returncode}; its log:\n{log_tail}")
                status = 1
        stop.set()
        for task in waits:
            task.cancel()
        print("\n" + board.line())
    finally:
        await _stop_all(processes)
    return status


async def _announced(port: int, actuators: int) -> None:
    """Return once ``actuators`` actuators have announced their devices."""
    topics = Topics()
    seen: set[str] = set()
    async with aiomqtt.Client("127.0.0.1", port, identifier="zeropower-demo-start") as client:
        await client.subscribe(topics.all_actuator_announcements())
        async for message in client.messages:
            if message.payload:
                seen.add(str(message.topic))
            if len(seen) >= actuators:
                return


async def _stop_all(processes: dict[str, asyncio.subprocess.Process]) -> None:
    """Stop the services, the simulator after the others (their devices outlive them, as real ones do)."""
    services = [service for service in processes if service != "sim"]
    for group in (services, ["sim"] if "sim" in processes else []):
        for service in group:
            if processes[service].returncode is None:
                processes[service].terminate()
        for service in group:
            try:
                await asyncio.wait_for(processes[service].wait(), 5)
            except TimeoutError:
                processes[service].kill()
                await processes[service].wait()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def main() -> None:
    """Entry point of ``python -m zeropower.sim.demo``."""
    parser = argparse.ArgumentParser(prog="python -m zeropower.sim.demo", description=__doc__)
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0 = at Ctrl-C)")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"), help="config and logs go here")
    parser.add_argument("--mqtt-port", type=int, help="port of the demo's broker (default: 1883 if free, else any)")
    parser.add_argument("--api-port", type=int, help="port of the web UI and API (default: 8000 if free, else any)")
    arguments = parser.parse_args()
    prepared = prepare(
        arguments.workdir, arguments.mqtt_port or port_or_free(1883), arguments.api_port or port_or_free(8000)
    )
    logs = {service: (arguments.workdir / f"{service}.log").open("ab") for service in SERVICES}
    try:
        status = asyncio.run(run_demo(prepared, logs, arguments.duration))
    finally:
        for log in logs.values():
            log.close()
        prepared.broker.stop()
    print("stopped")
    raise SystemExit(status)


if __name__ == "__main__":
    main()
