"""The whole system as real processes, with a heater absorbing surplus: the place to kill, flood and starve it."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import System, running_system, with_heater
from zeropower.shared.messages import SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.topics import actuator_service_id

#: Every process of the system with a heater, started in this order.
ALL_SERVICES = ("sim", "meter", "controller", "actuator_opendtu", "actuator_pwm")
#: Grid power below this counts as export (the simulated meter's noise is a few W).
EXPORT_BELOW_W = -25.0


def service_id(service: str) -> str:
    """The id in a service's availability topic."""
    return {"actuator_opendtu": actuator_service_id("opendtu"), "actuator_pwm": actuator_service_id("heater")}.get(
        service, service
    )


@dataclass(frozen=True)
class Sample:
    """One simulator state and when it arrived (monotonic)."""

    at: float
    state: SimState


class FaultSystem:
    """The running system plus what a fault test needs: kill -9, restart, and the ground truth over time."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._started_at: dict[str, int] = {}  # probe position when a service was last (re)started here

    @property
    def probe(self):
        return self.system.probe

    @property
    def topics(self):
        return self.system.topics

    def kill(self, service: str) -> float:
        """SIGKILL one service (no clean stop, no offline message of its own); the monotonic time of the kill."""
        process = self.system.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=5)
        return time.monotonic()

    def start(self, service: str) -> None:
        """Start a service (again); ``online`` then waits for this run's availability, not an earlier one's."""
        self._started_at[service] = self.probe.mark()
        self.system.start(service)

    def restart(self, service: str) -> None:
        """Stop a service cleanly (SIGTERM) and start it again."""
        self.system.stop(service)
        self.start(service)

    def alive(self) -> dict[str, bool]:
        """Which processes are running."""
        return {name: process.poll() is None for name, process in self.system.processes.items()}

    def samples(self, since: int = 0) -> list[Sample]:
        """The simulator's states received after probe position ``since``."""
        probe = self.probe
        return [
            Sample(probe.arrivals[index], SimState.model_validate_json(probe.messages[index].payload))
            for index in range(since, len(probe.messages))
            if probe.messages[index].topic == self.topics.sim_state()
        ]

    def exported_wh(self, since: int) -> float:
        """Energy exported (the simulator's own meter) between probe position ``since`` and now."""
        samples = self.samples(since)
        return samples[-1].state.exported_wh - samples[0].state.exported_wh if len(samples) > 1 else 0.0

    async def online(self, service: str, timeout: float = 30.0) -> None:
        """Wait until a service says it is online (its retained availability)."""
        topic = self.topics.availability(service_id(service))
        since = self._started_at.get(service, 0)
        await self.probe.wait_for(topic, lambda m: m.text == "online", timeout=timeout, since=since)

    def last_seen_at(self, topic: str, before: int) -> float:
        """When (monotonic) the last message on ``topic`` before probe position ``before`` arrived."""
        probe = self.probe
        return next(probe.arrivals[i] for i in range(before - 1, -1, -1) if probe.messages[i].topic == topic)

    async def seen_at(
        self, topic: str, predicate: Callable[[IncomingMessage], bool], since: int, timeout: float = 90.0
    ) -> float:
        """When (monotonic) the first message after probe position ``since`` on ``topic`` satisfying it arrived."""
        await self.probe.wait_for(topic, predicate, timeout=timeout, since=since)
        probe = self.probe
        return next(
            probe.arrivals[index]
            for index in range(since, len(probe.messages))
            if probe.messages[index].topic == topic and predicate(probe.messages[index])
        )

    async def steady(self, predicate: Callable[[SimState], bool], count: int = 5, timeout: float = 90.0) -> SimState:
        """Wait for ``count`` simulator states in a row that satisfy ``predicate``."""
        streak = 0

        def holds(state: SimState) -> bool:
            nonlocal streak
            streak = streak + 1 if predicate(state) else 0
            return streak >= count

        return await self.system.sim_state(holds, timeout=timeout)


def heater_system(config: dict[str, Any], workdir: Path, *, pv_w: float, load_w: float) -> None:
    """The integration system with a 600 W heater, constant PV and a constant load."""
    with_heater(config, workdir)
    config["sim"]["pv"]["power_w"] = pv_w
    config["sim"]["load"]["base_w"] = load_w
    config["controller"]["state_file"] = str(workdir / "controller-state.json")


@asynccontextmanager
async def surplus_system(tmp_path: Path, **controller: Any) -> AsyncIterator[FaultSystem]:
    """Every service running; the sun gives ~450 W more than the house uses, which the heater absorbs.

    ``controller``: settings of the controller beyond the integration config's.
    """

    def configure(config: dict[str, Any]) -> None:
        heater_system(config, tmp_path, pv_w=800, load_w=300)
        config["controller"].update(controller)

    async with running_system(tmp_path, configure, services=ALL_SERVICES) as system:
        faults = FaultSystem(system)
        for service in ALL_SERVICES:
            await faults.online(service)
        yield faults


@pytest.fixture
async def surplus(tmp_path: Path) -> AsyncIterator[FaultSystem]:
    """The surplus system with the product's controller settings."""
    async with surplus_system(tmp_path) as system:
        yield system


@pytest.fixture
async def surplus_forecasting(tmp_path: Path) -> AsyncIterator[FaultSystem]:
    """The surplus system with the load forecast on (``forecast_load``)."""
    async with surplus_system(tmp_path, forecast_load=True) as system:
        yield system


def setpoints_of(message: IncomingMessage) -> dict[str, float]:
    """The setpoints of a SetpointCommand message."""
    return json.loads(message.payload)["setpoints_w"]
