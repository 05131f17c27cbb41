"""The battery-powered Hoymiles behind OpenDTU as real processes: its BMS falls silent or sends junk while it
discharges, and actuator-battery is killed with kill -9.

The probe plays the controller (no controller runs: the actuator's own rules are what is tested). OpenDTU's limit is
non-persistent and neither OpenDTU nor the inverter has a watchdog: after kill -9 the inverter discharges on at
its last limit, and only the service's restart ends it (found discharging: switched off at once).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import FaultSystem
from tests.faults.test_battery import ACTUATOR, DEVICE, available, battery_faults, controller, device_state

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SERIAL = "116180000001"
STALE_S = 5.0  # soc_stale_after_s
DEAD_TIME_S = 1.0


def dc_battery_system(config: dict[str, Any]) -> None:
    """The simulator with a 2 kWh battery behind a battery-powered Hoymiles, and an actuator for it."""
    config["sim"]["battery"] = {"protocol": "opendtu", "soc_pct": 60, "empty_pct": 0}
    config["sim"]["battery_inverter"] = {
        "serial": SERIAL,
        "dead_time_s": DEAD_TIME_S,
        "ramp_w_per_s": 2000,
        "start_ramp_w_per_s": 400,
        "bms_interval_s": 0.5,
    }
    config["sim"]["state_interval_s"] = 0.5
    config["sim"]["opendtu"] = {"publish_interval_s": 1}
    config["actuator_battery"] = {
        "actuator_id": ACTUATOR,
        "batteries": [
            {
                "device_id": DEVICE,
                "driver": {
                    "type": "opendtu",
                    "serial": SERIAL,
                    "nameplate_w": 800,
                    "soc": {"topic": "daly_bms", "path": "soc_percent"},
                    "min_write_interval_s": 1,
                },
                "capacity_wh": 2000,
                "max_charge_w": 0,
                "max_discharge_w": 800,
            }
        ],
        "poll_interval_s": 0.5,
        "soc_stale_after_s": STALE_S,
    }


@pytest.fixture
async def dc(tmp_path: Path) -> AsyncIterator[FaultSystem]:
    async with battery_faults(tmp_path, dc_battery_system) as faults:
        yield faults


async def discharging(system: FaultSystem, power_w: float, timeout: float = 30.0) -> None:
    await system.system.sim_state(lambda s: abs(s.battery_w - power_w) < 10, timeout=timeout)


async def stopped_at(system: FaultSystem, timeout: float) -> float:
    """Wait for the battery inverter to feed nothing; when (monotonic)."""
    await system.system.sim_state(lambda s: s.battery_w == 0, timeout=timeout)
    return time.monotonic()


#: From the last good BMS value to the inverter's output at 0: the stale time, then a poll (0.5 s), the write's
#: pacing (1 s), the inverter's dead time (1 s), one simulator state (0.5 s) and a second for the processes.
STOP_BOUND_S = STALE_S + 0.5 + 1.0 + DEAD_TIME_S + 0.5 + 1.0


@pytest.mark.parametrize("fault", ["silent", "junk"])
async def test_a_bms_that_falls_silent_or_sends_junk_stops_the_discharge_within_the_stale_time(
    dc: FaultSystem, fault: str
):
    system = dc
    async with controller(system, -300):
        await discharging(system, -300)
        await system.probe.publish(system.topics.sim_set("bms"), "off")  # the bridge's last value was just now
        silenced = time.monotonic()
        if fault == "junk":
            for junk in ('{"soc_percent": NaN}', '{"soc_percent": "60"}', "1e308", '{"soc_percent": 1e400}', "garbage"):
                await system.probe.publish("daly_bms", junk)
            await system.probe.publish("daly_bms", '{"soc_percent": true}', retain=True)
        stopped = await stopped_at(system, timeout=STOP_BOUND_S + 10)
        took_s = stopped - silenced
        print(f"BMS {fault}: discharge stopped {took_s:.1f} s after its last good value (bound {STOP_BOUND_S:g} s)")
        assert took_s <= STOP_BOUND_S
        assert took_s >= STALE_S - 1  # by the stale rule, not by anything sooner
        state = await system.probe.wait_for_new(
            system.topics.device_state(ACTUATOR, DEVICE), device_state(lambda s: s.discharge_limit_w == 0)
        )
        assert state is not None
    log = system.system.log("actuator_battery")
    assert "Traceback" not in log
    if fault == "junk":
        assert log.count("soc: ignored") == 1  # one line for the whole burst
    assert system.alive() == {"sim": True, "actuator_battery": True}


async def test_a_killed_actuator_leaves_the_inverter_discharging_and_its_restart_switches_it_off(dc: FaultSystem):
    system = dc
    async with controller(system, -300):
        await discharging(system, -300)
    system.kill("actuator_battery")
    mark = system.probe.mark()
    await system.probe.wait_for(
        system.topics.availability(f"actuator/{ACTUATOR}"), lambda m: m.text == "offline", timeout=60, since=mark
    )
    # No watchdog anywhere: OpenDTU's non-persistent limit stays in force, the inverter discharges on.
    held = [await system.system.sim_state(lambda s: True) for _ in range(20)]  # 10 s of states
    assert all(abs(s.battery_w + 300) < 10 for s in held), [s.battery_w for s in held]
    restart = system.probe.mark()
    started = time.monotonic()
    system.start("actuator_battery")
    await available(system, f"actuator/{ACTUATOR}", since=restart)
    stopped = await stopped_at(system, timeout=30)
    print(f"restart: the inverter off {stopped - started:.1f} s after the actuator was started again")
    assert stopped - started < 10  # found discharging: switched off at once (a start, the first reading, a write)
    commands = [m for m in system.probe.messages[restart:] if m.topic == f"solar/{SERIAL}/cmd/power"]
    assert [(m.text, m.retain) for m in commands] == [("0", False)]
    assert "Traceback" not in system.system.log("actuator_battery")


async def test_sigterm_switches_the_inverter_off(dc: FaultSystem):
    system = dc
    async with controller(system, -250):
        await discharging(system, -250)
        system.system.stop("actuator_battery")
    await stopped_at(system, timeout=10)
    commands = [m.text for m in system.probe.messages if m.topic == f"solar/{SERIAL}/cmd/power"]
    assert commands[-1] == "0"
