"""The meter pulled (SIGSTOP) while the controller discharges a battery, with the real processes.

Grid data stale: a discharge may already be exported (the load may have dropped unseen), so the controller's
fail-safe stops it at once, not after actuator-battery's own 10 s without setpoints; when the meter comes back the
battery covers the deficit again.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.integration.conftest import System
from tests.integration.test_battery_loop import DEFICIT_LOAD_W, started, with_driver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

STALE_AFTER_S = 5.0  # the integration system's controller (tests/integration/conftest.py)
#: After the fail-safe: one tick (1 s), the actuator's write and poll (1 s, 0.5 s), the battery's ramp.
STOPPED_WITHIN_S = 4.0


@pytest.fixture
async def system(tmp_path):
    async for running in started(tmp_path, with_driver("zendure")):
        yield running


async def test_a_pulled_meter_stops_the_discharge_at_the_fail_safe_and_a_returned_one_resumes_it(system: System):
    await system.set_load(DEFICIT_LOAD_W)  # 500 W above the sun
    await system.sim_state(lambda s: s.battery_w <= -300, timeout=60)
    meter = system.processes["meter"]
    os.kill(meter.pid, signal.SIGSTOP)
    pulled_at = time.monotonic()
    try:
        stopped = await system.sim_state(lambda s: abs(s.battery_w) <= 10, timeout=STALE_AFTER_S + 20)
        stopped_after = time.monotonic() - pulled_at
        print(f"meter pulled: discharge stopped after {stopped_after:.1f} s ({stopped.battery_w:+.0f} W)")
        assert stopped_after <= STALE_AFTER_S + STOPPED_WITHIN_S
    finally:
        os.kill(meter.pid, signal.SIGCONT)
    await system.sim_state(lambda s: s.battery_w <= -300, timeout=60)
    assert meter.poll() is None
