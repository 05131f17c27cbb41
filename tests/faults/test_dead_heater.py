"""kill -9 of actuator-pwm while the heater absorbs surplus: the API stops showing the heater's last draw.

The actuator's retained device state keeps the draw it last published; only its last will (offline) says it
is gone. The API's state, history chart and energy flow must then show no draw, not the dead actuator's last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.faults.conftest import FaultSystem
from tests.faults.test_kill import heater_absorbing
from zeropower.shared.topics import actuator_service_id
from zeropower.sim.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def api_get(client: httpx.AsyncClient, path: str, ready: Callable[[dict], bool], timeout_s: float = 30) -> dict:
    """The API's answer on ``path`` once ``ready`` holds for it (asked twice a second)."""
    for _ in range(round(timeout_s * 2)):
        answer = (await client.get(path)).json()
        if ready(answer):
            return answer
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} not ready within {timeout_s} s: {answer}")


async def test_a_killed_heater_actuators_last_draw_is_not_shown(surplus: FaultSystem):
    system = surplus
    port = free_port()
    system.system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
    await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
    await heater_absorbing(system)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await api_get(client, "/api/state", lambda state: bool(state["diverter_power_w"]))
        mark = system.probe.mark()
        system.kill("actuator_pwm")
        offline = system.topics.availability(actuator_service_id("heater"))
        await system.probe.wait_for(offline, lambda m: m.text == "offline", timeout=60, since=mark)
        heater = actuator_service_id("heater")
        state = await api_get(client, "/api/state", lambda state: state["availability"].get(heater) == "offline")
        history = await api_get(  # a chart sample taken after the API learnt it (a grid reading every second)
            client, "/api/history?minutes=15", lambda history: history["t"][-1] > state["timestamp"] + 1
        )
    assert state["actuators"]["heater"]["heater"]["power_w"] > 0  # the retained state still says it draws
    assert state["diverter_power_w"] is None
    assert history["heater_w"][-1] is None
    assert "Traceback" not in system.system.log("api")
