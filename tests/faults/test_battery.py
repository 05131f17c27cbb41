"""The battery actuator and the simulator's Zendure (and Marstek Venus) as real processes: kill -9 each, SIGTERM.

The probe plays the controller (no controller runs here: the actuator's own rules are what is tested). Invariants over
the run: no process of ours exits by itself, no traceback, a discharge no one vouches for ends within the
actuator's discharge timeout of its (re)start, and a stopped actuator leaves the battery at 0 W. A Marstek ends a
killed actuator's discharge by itself, within its discharge countdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import FaultSystem
from tests.helpers import free_udp_port, terminate_timed
from tests.integration.conftest import running_system
from zeropower.shared.messages import DeviceState, SetpointCommand, SimState
from zeropower.sim.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SERVICES = ("sim", "actuator_battery")
ACTUATOR, DEVICE, SERIAL = "battery", "solarflow", "HOA1NAH4N230123"
DISCHARGE_TIMEOUT_S = 10.0
DISCHARGE_COUNTDOWN_S = 10  # the Marstek's own end of a discharge: at most the actuator's discharge timeout


def battery_system(config: dict[str, Any]) -> None:
    """The simulator with a 2 kWh battery served as a Zendure, and an actuator for it."""
    port = free_port()
    config["sim"]["battery"] = {"soc_pct": 60, "dead_time_s": 0.5, "ramp_w_per_s": 2000}
    config["sim"]["zendure"] = {"port": port, "serial": SERIAL}
    config["sim"]["state_interval_s"] = 0.5
    config["actuator_battery"] = {
        "actuator_id": ACTUATOR,
        "batteries": [
            {
                "device_id": DEVICE,
                "driver": {
                    "type": "zendure",
                    "url": f"http://127.0.0.1:{port}",
                    "serial": SERIAL,
                    "timeout_s": 0.5,
                    "min_write_interval_s": 1,
                },
                "capacity_wh": 2000,
                "max_charge_w": 1000,
                "max_discharge_w": 800,
            }
        ],
        "poll_interval_s": 0.5,
        "discharge_timeout_s": DISCHARGE_TIMEOUT_S,
        "charge_timeout_s": 20,
    }


def marstek_system(config: dict[str, Any]) -> None:
    """The same battery served as a Marstek Venus (UDP Open API), and an actuator for it."""
    battery_system(config)
    port = free_udp_port()
    config["sim"]["battery"]["protocol"] = "marstek_venus"
    config["sim"]["marstek"] = {"port": port}
    config["actuator_battery"]["batteries"][0]["driver"] = {
        "type": "marstek_venus",
        "host": "127.0.0.1",
        "port": port,
        "local_port": 0,
        "timeout_s": 0.5,
        "request_gap_s": 0.5,
        "discharge_countdown_s": DISCHARGE_COUNTDOWN_S,
        "countdown_s": 20,  # at least the charge timeout
    }


@asynccontextmanager
async def battery_faults(tmp_path: Path, configure: Callable[[dict[str, Any]], None]) -> AsyncIterator[FaultSystem]:
    """The simulator and actuator-battery as ``configure`` sets them up, both online."""
    async with running_system(tmp_path, configure, services=SERVICES) as system:
        faults = FaultSystem(system)
        await available(faults, "sim")
        await available(faults, f"actuator/{ACTUATOR}")
        yield faults


@pytest.fixture
async def marstek(tmp_path: Path) -> AsyncIterator[FaultSystem]:
    async with battery_faults(tmp_path, marstek_system) as faults:
        yield faults


@pytest.fixture
async def battery(tmp_path: Path) -> AsyncIterator[FaultSystem]:
    async with battery_faults(tmp_path, battery_system) as faults:
        yield faults


async def available(system: FaultSystem, service_id: str, since: int = 0) -> None:
    topic = system.topics.availability(service_id)
    await system.probe.wait_for(topic, lambda m: m.text == "online", timeout=30, since=since)


@asynccontextmanager
async def controller(system: FaultSystem, power_w: float) -> AsyncIterator[None]:
    """Send ``power_w`` every 0.5 s for the block, as the controller sends its setpoints (a heartbeat too)."""

    async def send() -> None:
        command = SetpointCommand(setpoints_w={DEVICE: power_w}).model_dump_json()
        while True:
            await system.probe.publish(system.topics.actuator_setpoints(ACTUATOR), command)
            await asyncio.sleep(0.5)  # the cadence of a controller, not a synchronisation

    task = asyncio.create_task(send())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def battery_at(system: FaultSystem, power_w: float, timeout: float = 20.0) -> float:
    """Wait for a simulator state with the battery within 10 W of ``power_w``; its arrival (monotonic)."""
    state = await system.system.sim_state(lambda s: abs(s.battery_w - power_w) < 10, timeout=timeout)
    assert state.battery_soc_pct is not None
    return time.monotonic()


def device_state(predicate: Callable[[DeviceState], bool]) -> Callable[[Any], bool]:
    return lambda message: predicate(DeviceState.model_validate_json(message.payload))


async def test_a_killed_actuator_leaves_the_discharge_running_and_its_restart_ends_it(battery: FaultSystem):
    system = battery
    async with controller(system, -300):
        await battery_at(system, -300)
    system.kill("actuator_battery")
    mark = system.probe.mark()
    await system.probe.wait_for(
        system.topics.availability(f"actuator/{ACTUATOR}"), lambda m: m.text == "offline", timeout=60, since=mark
    )
    # The hazard this guards against: the Zendure has no watchdog of its own, it goes on discharging.
    held = await system.system.sim_state(lambda s: True)
    assert held.battery_w == pytest.approx(-300, abs=10)
    restart = system.probe.mark()
    started = time.monotonic()
    system.start("actuator_battery")
    await available(system, f"actuator/{ACTUATOR}", since=restart)
    stopped = await battery_at(system, 0)
    assert stopped - started < DISCHARGE_TIMEOUT_S - 3  # found discharging: 0 at once, not after the timeout
    assert all(system.alive().values())
    assert "Traceback" not in system.system.log("actuator_battery")


async def test_a_killed_battery_is_reported_unreachable_and_set_to_zero_when_back(battery: FaultSystem):
    system = battery
    state_topic = system.topics.device_state(ACTUATOR, DEVICE)
    async with controller(system, 400):
        await battery_at(system, 400)
        mark = system.probe.mark()
        system.kill("sim")  # the device is gone; setpoints go on, with nothing to write them to
        await system.probe.wait_for(state_topic, device_state(lambda s: not s.reachable), timeout=30, since=mark)
        restart = system.probe.mark()
        system.start("sim")
        await available(system, "sim", since=restart)
        back = await system.probe.wait_for(state_topic, device_state(lambda s: s.reachable), timeout=30, since=restart)
        assert DeviceState.model_validate_json(back.payload).soc_pct is not None
        zero = await system.probe.wait_for(  # 0 W once it answers, the setpoints from the outage not replayed
            state_topic, device_state(lambda s: s.last_command_w == 0), timeout=30, since=restart
        )
        assert DeviceState.model_validate_json(zero.payload).reachable
        await battery_at(system, 400)  # then the setpoints that keep coming are followed
    assert system.alive()["actuator_battery"]
    assert "Traceback" not in system.system.log("actuator_battery")


async def test_sigterm_sets_the_battery_to_zero_and_exits_in_time(battery: FaultSystem):
    system = battery
    async with controller(system, -250):
        await battery_at(system, -250)
        returncode, took_s = await terminate_timed(system.system.processes["actuator_battery"])
        assert returncode == 0
        assert took_s < 3.0  # at most one write interval (1 s) and the request
    last: SimState = await system.system.sim_state(lambda s: abs(s.battery_w) < 10, timeout=10)
    assert last.battery_w == pytest.approx(0, abs=10)


async def test_a_killed_actuator_leaves_a_marstek_discharging_only_until_its_countdown(marstek: FaultSystem):
    system = marstek
    async with controller(system, -300):
        await battery_at(system, -300)
        killed = system.kill("actuator_battery")  # mid-run, setpoints still flowing: nothing of ours writes 0
    # The device's own countdown ends the discharge: within its countdown of the last write (a re-send at most
    # 10/3 s before the kill), with nothing of ours running to do it.
    stopped = await battery_at(system, 0, timeout=DISCHARGE_COUNTDOWN_S + 10)
    assert stopped - killed <= DISCHARGE_COUNTDOWN_S + 1.5  # + the battery's dead time and one state interval
    assert stopped - killed >= DISCHARGE_COUNTDOWN_S - DISCHARGE_COUNTDOWN_S / 3 - 1  # its countdown, not a write
    assert system.alive() == {"sim": True, "actuator_battery": False}
    idle = await system.system.sim_state(lambda s: True)
    assert idle.battery_w == pytest.approx(0, abs=10)
    assert "Traceback" not in system.system.log("sim")
