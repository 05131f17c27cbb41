"""The whole system as real processes: simulator, meter, controller and actuator on a private Mosquitto."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import MqttProbe, start_service, stop_services
from zeropower.shared.messages import SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.broker import Broker, free_port

SERVICES = ("sim", "meter", "controller", "actuator_opendtu")
ROOF, BALCONY = "114182912345", "112182954321"
TARGET_W = 20.0


def system_config(mqtt_port: int, shelly_port: int) -> dict[str, Any]:
    """A deterministic household (no appliances, no clouds) and the services pointed at it."""
    return {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "sim": {
            "seed": 7,
            "shelly": {"port": shelly_port},
            "load": {"base_w": 300, "noise_w": 5, "appliances": []},
            "pv": {"kind": "constant", "power_w": 1000, "clouds": {"per_hour": 0}},
        },
        "meter": {"driver": {"type": "shelly_gen2", "url": f"http://127.0.0.1:{shelly_port}"}},
        "controller": {"target_w": TARGET_W, "dead_time_s": 5, "stale_after_s": 5},
        "actuator_opendtu": {
            "driver": {"type": "opendtu", "prefix": "solar"},
            "inverters": [
                {"serial": ROOF, "name": "roof", "max_w": 800, "min_percent": 5},
                {"serial": BALCONY, "name": "balcony", "max_w": 400, "min_percent": 5},
            ],
            "min_interval_s": 2,
            "min_interval_reduce_s": 1,
        },
    }


HEATER_W = 600.0
MAX_OUTPUT_W = 1200.0


def with_heater(config: dict[str, Any], workdir: Path) -> None:
    """A 600 W heater behind a phase-fired controller, driven by actuator-pwm's sim output."""
    config["sim"]["heater"] = {"rated_w": HEATER_W, "controller": "phase_fired"}
    config["sim"]["pv"]["power_w"] = 1300  # the inverters could deliver their 1200 W
    config["actuator_pwm"] = {
        "rated_w": HEATER_W,
        "output": {"type": "sim"},
        "mapping": {"type": "phase_fired"},
        "energy_file": str(workdir / "heater-energy.json"),
    }


BATTERY_ACTUATOR, BATTERY_DEVICE, BATTERY_SERIAL = "battery", "solarflow", "HOA1NAH4N230123"


def with_battery(config: dict[str, Any], soc_pct: float = 60.0) -> None:
    """A 2 kWh battery served by the simulator as a Zendure SolarFlow, and actuator-battery for it."""
    port = free_port()
    config["sim"]["battery"] = {"soc_pct": soc_pct, "dead_time_s": 0.5, "ramp_w_per_s": 2000}
    config["sim"]["zendure"] = {"port": port, "serial": BATTERY_SERIAL}
    config["actuator_battery"] = {
        "actuator_id": BATTERY_ACTUATOR,
        "batteries": [
            {
                "device_id": BATTERY_DEVICE,
                "driver": {
                    "type": "zendure",
                    "url": f"http://127.0.0.1:{port}",
                    "serial": BATTERY_SERIAL,
                    "timeout_s": 0.5,
                    "min_write_interval_s": 1,
                },
                "capacity_wh": 2000,
                "max_charge_w": 1000,
                "max_discharge_w": 800,
            }
        ],
        "poll_interval_s": 0.5,
    }


@dataclass
class System:
    """The running processes, the broker and a probe on it."""

    broker: Broker
    probe: MqttProbe
    workdir: Path
    config_file: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    topics: Topics = field(default_factory=Topics)
    dtu: OpenDtuTopics = field(default_factory=lambda: OpenDtuTopics("solar"))

    def start(self, service: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start one service as a real process."""
        env = {"ZEROPOWER_CONFIG": str(self.config_file), **(extra_env or {})}
        process = start_service(service, env, self.workdir / f"{service}.log")
        self.processes[service] = process
        return process

    def stop(self, service: str) -> None:
        """Stop one service with SIGTERM."""
        process = self.processes[service]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=5)

    async def set_load(self, load_w: float) -> None:
        """Force the simulated household load."""
        await self.probe.publish(self.topics.sim_set("load_w"), str(load_w))

    async def sim_state(self, predicate: Callable[[SimState], bool], timeout: float = 30.0) -> SimState:
        """Wait for a new simulator state satisfying ``predicate``."""
        message = await self.probe.wait_for_new(
            self.topics.sim_state(), lambda m: predicate(SimState.model_validate_json(m.payload)), timeout=timeout
        )
        return SimState.model_validate_json(message.payload)

    async def settled(self, timeout: float = 60.0, for_states: int = 4, band_w: float = 60.0) -> SimState:
        """Wait until the grid stays within ``band_w`` of the target for ``for_states`` states in a row."""
        streak = 0

        def steady(state: SimState) -> bool:
            nonlocal streak
            streak = streak + 1 if abs(state.grid_w - TARGET_W) <= band_w else 0
            return streak >= for_states

        return await self.sim_state(steady, timeout=timeout)

    async def controller_mode(self, mode: str, timeout: float = 30.0) -> dict[str, object]:
        """Wait for the controller to report ``mode``."""
        message = await self.probe.wait_for_new(
            self.topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == mode, timeout=timeout
        )
        return json.loads(message.payload)

    def log(self, service: str) -> str:
        """A service's log so far."""
        return (self.workdir / f"{service}.log").read_text(errors="replace")


def limit_payload(message: IncomingMessage) -> float:
    """The W of an OpenDTU limit command."""
    return float(message.text)


@contextlib.asynccontextmanager
async def running_system(
    workdir: Path,
    configure: Callable[[dict[str, Any]], None] | None = None,
    services: Sequence[str] = SERVICES,
    broker: Broker | None = None,
) -> AsyncIterator[System]:
    """``services`` running against a private Mosquitto (or ``broker``), with ``configure`` applied to the config."""
    broker = (broker or Broker(workdir=workdir)).start()
    config = system_config(broker.port, free_port())
    if configure is not None:
        configure(config)
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    async with MqttProbe(broker.port) as probe:
        running = System(broker=broker, probe=probe, workdir=workdir, config_file=config_file)
        try:
            for service in services:
                running.start(service)
            yield running
        finally:
            stop_services(running.processes.values())
            broker.stop()


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """All four services running against a private Mosquitto; logs are shown when a test fails."""
    async with running_system(tmp_path) as running:
        yield running
