"""The DTU's telemetry starves while commands still flow: the controller must not take the actuator's echoes for data.

actuator-opendtu publishes an inverter's state again with every command it sends (the last command, the
budget left), carrying the telemetry it last had. Before the controller told a new sample from such an
echo, a load that kept the limits moving kept a dead DTU's inverters "fresh" for ever, and each echo put a
seconds-old output at the present (a 325 W cut on a 55 W export, seen in tests/integration/test_loop.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import BALCONY, ROOF, running_system
from zeropower.shared.messages import DeviceState

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]  # about 90 s: stale, then the budget

STALE_AFTER_S = 15.0  # the controller's device_stale_after_s here (the product's default is 60 s)
TELEMETRY_EVERY_S = 5.0  # the simulated DTU's publish interval (OpenDTU's default)


def starving(config: dict[str, Any]) -> None:
    config["controller"]["device_stale_after_s"] = STALE_AFTER_S


async def swing_the_load(system, every_s: float = 3.0) -> None:
    """Move the load up and down, so the controller keeps sending limits."""
    loads = (500.0, 900.0)
    for step in range(1_000):
        await system.set_load(loads[step % 2])
        await asyncio.sleep(every_s)


async def test_echoes_of_commands_do_not_keep_starved_telemetry_fresh(tmp_path: Path):
    async with running_system(tmp_path, starving) as system:
        await system.controller_mode("regulating")
        await system.settled()
        probe = system.probe
        device_topic = system.topics.device_state("opendtu", ROOF)
        last_sample = DeviceState.model_validate_json(probe.on(device_topic)[-1].payload)
        mark = probe.mark()
        await probe.publish(system.topics.sim_set_dtu_telemetry(), "off")
        stopped_at = time.monotonic()
        swinging = asyncio.create_task(swing_the_load(system))
        try:
            unreachable = await probe.wait_for(
                system.topics.controller_state(),
                lambda m: "no device reachable" in json.loads(m.payload)["reason"],
                timeout=STALE_AFTER_S + 20,
                since=mark,
            )
            fell_back_after = time.monotonic() - stopped_at
        finally:
            swinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await swinging

        echoes = [DeviceState.model_validate_json(m.payload) for m in probe.messages[mark:] if m.topic == device_topic]
        assert echoes, "the actuator published the roof's state again with its commands"
        assert {(e.updated_at, e.power_w) for e in echoes} == {(last_sample.updated_at, last_sample.power_w)}
        # the newest sample was at most one publish interval old when the telemetry stopped
        assert STALE_AFTER_S - TELEMETRY_EVERY_S - 1 <= fell_back_after <= STALE_AFTER_S + 5
        assert json.loads(unreachable.payload)["setpoints_w"] == {ROOF: 40.0, BALCONY: 20.0}

        await probe.publish(system.topics.sim_set_dtu_telemetry(), "on")
        await probe.wait_for_new(  # the inverters report again: their limits go back where the load is
            system.topics.controller_state(), lambda m: sum(json.loads(m.payload)["setpoints_w"].values()) > 100, 90
        )
        await system.settled(timeout=90)
        assert all(process.poll() is None for process in system.processes.values())
    log = system.log("controller")  # the cause, once per inverter (the recovery follows the logger's quiet minute)
    for inverter in (f"inverter roof ({ROOF})", f"inverter balcony ({BALCONY})"):
        why = f"no telemetry for over {STALE_AFTER_S:g} s: left out (an inverter at its minimum) until it reports again"
        stale = f"{inverter}: {why}"
        assert log.count(stale) == 1
