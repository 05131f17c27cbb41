"""The controller killed, and the broker killed, while the controller discharges a battery (the real processes).

Setpoints stop either way; a discharge the controller no longer trims is exported when the load drops, so
actuator-battery ends it after its discharge timeout (10 s), before actuator-opendtu limits the inverters (15 s).
During the broker's outage nothing on MQTT can be seen: the battery is read over its own protocol (the simulator's
Zendure, zenSDK HTTP), as the driver reads it. Once the link is back the loop discharges at the target again.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import yaml

from tests.faults.conftest import FaultSystem
from tests.helpers import MqttProbe
from tests.integration.conftest import MAX_OUTPUT_W, System
from tests.integration.test_battery_loop import DEFICIT_LOAD_W, settled, started, with_driver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DISCHARGE_TIMEOUT_S = 10.0  # actuator-battery's default discharge_timeout_s
OPENDTU_TIMEOUT_S = 15.0  # actuator-opendtu's default setpoint_timeout_s
#: After the timeout: the actuator's next wake-up and write (pacing 1 s), the battery's 0.5 s dead time and ramp,
#: and the 0.5 s of the reading that shows it.
STOPPED_WITHIN_S = 3.0
DISCHARGING_W = -300.0  # the deficit is 500 W above the target: the battery covers it


@pytest.fixture
async def system(tmp_path):
    async for running in started(tmp_path, with_driver("zendure")):
        yield running


async def discharging(system: System) -> None:
    """Discharge at the target with the inverters unlimited, settled: a trim from the way there still in flight
    would show up after a kill as if the fault had caused it."""
    await system.set_load(DEFICIT_LOAD_W)
    await settled(system, lambda s: s.battery_w <= DISCHARGING_W and s.limit_w >= MAX_OUTPUT_W - 1)


async def test_a_killed_controller_leaves_the_discharge_only_until_the_batterys_timeout(system: System):
    await discharging(system)
    faults = FaultSystem(system)
    killed_at = faults.kill("controller")
    mark = system.probe.mark()
    stopped = await system.sim_state(lambda s: abs(s.battery_w) <= 10, timeout=DISCHARGE_TIMEOUT_S + 20)
    stopped_after = time.monotonic() - killed_at
    limits = [sample.state.limit_w for sample in faults.samples(mark)]  # up to the battery at 0 W
    print(f"controller killed: discharge stopped after {stopped_after:.1f} s ({stopped.battery_w:+.0f} W)")
    assert DISCHARGE_TIMEOUT_S - 1 <= stopped_after <= DISCHARGE_TIMEOUT_S + STOPPED_WITHIN_S
    assert stopped_after < OPENDTU_TIMEOUT_S
    assert min(limits) >= MAX_OUTPUT_W - 1  # the inverters were still unlimited: the battery went first
    faults.start("controller")
    await faults.online("controller")
    await system.sim_state(lambda s: s.battery_w <= DISCHARGING_W, timeout=60)
    assert all(faults.alive().values())


async def test_a_broker_outage_stops_the_discharge_at_the_batterys_timeout_and_the_loop_resumes(system: System):
    await discharging(system)
    zendure = yaml.safe_load(system.config_file.read_text())["sim"]["zendure"]
    broker = system.broker
    await system.probe.__aexit__(None, None, None)
    broker.kill()
    killed_at = time.monotonic()
    powers: list[tuple[float, float]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{zendure['port']}", timeout=2) as client:
        while time.monotonic() - killed_at < DISCHARGE_TIMEOUT_S + 2 * STOPPED_WITHIN_S:
            report = (await client.get("/properties/report")).json()["properties"]
            powers.append((time.monotonic() - killed_at, report["gridInputPower"] - report["outputHomePower"]))
            await asyncio.sleep(0.25)  # the sampling of the battery's power, not a synchronisation
    broker.start()
    stopped_after = next(at for at, power in powers if abs(power) <= 10)
    print(f"broker killed: the battery discharged {powers[0][1]:+.0f} W, at 0 W after {stopped_after:.1f} s")
    assert powers[0][1] <= DISCHARGING_W  # it was discharging when the link went
    assert DISCHARGE_TIMEOUT_S - 1 <= stopped_after <= DISCHARGE_TIMEOUT_S + STOPPED_WITHIN_S
    assert all(abs(power) <= 10 for at, power in powers if at >= stopped_after)  # nothing resumed it unseen
    async with MqttProbe(broker.port) as probe:
        system.probe = probe
        await system.sim_state(lambda s: s.battery_w <= DISCHARGING_W, timeout=60)
        assert all(process.poll() is None for process in system.processes.values())
        system.probe = await MqttProbe(broker.port).__aenter__()  # for the fixture's teardown
