"""The meter pulled and returned while the inverters carry the house: the battery's hand-over, real processes.

On the return the inverters are at their safe limit and the house draws from the grid: the battery bridges the
deficit at once, the inverters are raised, and as their output rises the discharge has to give way in step. A
battery that gives way only once the rise shows in a reading exports the inverters' ramp for a reading and a
write (stop 25's demo: 0.5-0.8 Wh after a 22-s pull; here 0.32-0.35 Wh, up to 204 W, before the controller counted
the rise its model expects). The rise the controller anticipates may stop a discharge early, never charge the
battery from the grid.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import FaultSystem
from tests.integration.conftest import MAX_OUTPUT_W, System
from tests.integration.test_battery_loop import started, with_driver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: The house's load: the inverters' 1200 W cover it with 300 W to charge the battery (sun 1300 W).
LOAD_W = 900.0
#: What the battery takes to show a setpoint: actuator-battery writes at most every 1 s here, the simulated
#: battery follows after 0.5 s at 2000 W/s (800 W: 0.4 s).
RESPONSE_S = 2.0
#: The two simulated inverters ramp at 100 W/s each.
RAMP_W_PER_S = 200.0
#: Export allowed after the return: the ramp's first 2 s (a meter reading and a battery write) not anticipated,
#: 400 W at the end of them. A battery that gives way a reading late through the whole 6-s ramp exports 200 W for
#: 6 s: 0.33 Wh.
HANDOVER_EXPORT_WH = RAMP_W_PER_S * 2.0 * 2.0 / 2 / 3600
#: Followed this long after the return: the inverters' dead time (3-5 s) and ramp to their 1200 W (6 s), settled.
FOLLOWED_S = 40
#: A battery charging beyond this while the house imports beyond it charges from the grid (the meter's noise and
#: the deadband are a few tens of W).
GRID_CHARGE_W = 50.0


def handover_system(config: dict[str, Any], workdir: Path) -> None:
    """A Zendure battery that announces its real response time, the heater and two inverters."""
    with_driver("zendure")(config, workdir)
    config["actuator_battery"]["batteries"][0]["response_time_s"] = RESPONSE_S


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    async for running in started(tmp_path, handover_system):
        yield running


async def test_a_returned_meter_hands_the_deficit_from_the_battery_to_the_inverters_without_export(system: System):
    faults = FaultSystem(system)
    await system.set_load(LOAD_W)
    await system.sim_state(lambda s: s.output_w >= MAX_OUTPUT_W - 20 and s.battery_w > 100, timeout=90)
    meter = system.processes["meter"]
    os.kill(meter.pid, signal.SIGSTOP)
    try:
        await system.controller_mode("fail-safe", timeout=30)
        await system.sim_state(lambda s: s.output_w < 200, timeout=60)  # at the safe limit: the house imports
    finally:
        os.kill(meter.pid, signal.SIGCONT)
    returned = system.probe.mark()
    await system.controller_mode("regulating", timeout=30)
    await system.sim_state(lambda s: s.battery_w < -200, timeout=30)  # the battery bridges the deficit
    for _ in range(FOLLOWED_S):
        await system.sim_state(lambda s: True)
    samples = faults.samples(returned)
    exported = faults.exported_wh(returned)
    worst = min(sample.state.grid_w for sample in samples)
    print(f"after the return: exported {exported:.3f} Wh, lowest grid {worst:+.0f} W")
    assert samples[-1].state.output_w >= MAX_OUTPUT_W - 20, "the inverters took over the house"
    assert exported <= HANDOVER_EXPORT_WH
    from_grid = [s.state for s in samples if s.state.battery_w > GRID_CHARGE_W and s.state.grid_w > GRID_CHARGE_W]
    assert not from_grid, f"battery charged from the grid: {from_grid[0]}"
    assert meter.poll() is None
