"""A battery-powered Hoymiles (DC-coupled) behind OpenDTU in the loop, end to end over a real Mosquitto.

The real processes: the simulator (Shelly, OpenDTU with two solar inverters and the battery inverter, the BMS bridge
and a DC charge controller on MQTT), the meter, the controller, actuator-opendtu (the solar inverters) and
actuator-battery with the opendtu driver (the battery inverter). The battery only discharges: on a deficit, down
to its reserve; it resumes only above its hysteresis; while stopped it passes DC solar through.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HEATER_W, SERVICES, TARGET_W, System, with_heater
from tests.integration.test_battery_loop import exported_since, started, summary
from zeropower.shared.messages import SimState

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ACTUATOR, DEVICE, SERIAL = "battery", "dcbattery", "116180000001"
SUN_W = 1000 * 0.955  # the solar inverters' AC output from the simulator's 1000 W of sun
RESERVE_PCT, RESUME_PCT = 10.0, 20.0
BAND_W = 60.0
DEAD_TIME_S, RAMP_W_PER_S = 1.0, 2000.0
#: What the battery inverter passes through of 1 W of DC solar (actuator-battery's PASSTHROUGH_EFFICIENCY).
PASSTHROUGH = 0.94
#: The system without a heater: the battery inverter and the solar inverters.
DC_SERVICES = (*SERVICES, "actuator_battery")


def dc_battery(
    soc_pct: float = 60.0, capacity_wh: float = 2000.0, solar_w: float | None = None, *, charger: bool | None = None
) -> Callable[[dict[str, Any], Path], None]:
    """The battery on the DC side of a Hoymiles behind the simulated OpenDTU, and actuator-battery for it."""

    def configure(config: dict[str, Any], workdir: Path) -> None:
        config["sim"]["battery"] = {
            "protocol": "opendtu",
            "soc_pct": soc_pct,
            "capacity_wh": capacity_wh,
            "empty_pct": 0,  # only zeropower keeps the reserve
            "round_trip_efficiency": 1.0,
        }
        config["sim"]["battery_inverter"] = {
            "serial": SERIAL,
            "dead_time_s": DEAD_TIME_S,
            "ramp_w_per_s": RAMP_W_PER_S,
            "start_ramp_w_per_s": 400,  # a soft start sped up, so a restart shows within seconds
            "bms_interval_s": 0.5,
            "solar_w": solar_w,
        }
        driver: dict[str, Any] = {
            "type": "opendtu",
            "prefix": "solar",
            "serial": SERIAL,
            "nameplate_w": 800,
            "soc": {"topic": "daly_bms", "path": "soc_percent"},
            "voltage": {"topic": "daly_bms", "path": "total_voltage"},
            "min_write_interval_s": 1,
        }
        if charger if charger is not None else solar_w is not None:
            driver["solar"] = {"topic": "victron/mppt/power"}
        config["actuator_battery"] = {
            "actuator_id": ACTUATOR,
            "batteries": [
                {
                    "device_id": DEVICE,
                    "driver": driver,
                    "capacity_wh": capacity_wh,
                    "max_charge_w": 0,
                    "max_discharge_w": 800,
                    "reserve_soc_pct": RESERVE_PCT,
                    "resume_soc_pct": RESUME_PCT,
                }
            ],
            "poll_interval_s": 0.5,
        }

    return configure


async def streak(
    system: System, condition: Callable[[SimState], bool], count: int = 5, timeout: float = 90
) -> SimState:
    """Wait for ``count`` simulator states in a row (1 s apart) that meet ``condition``."""
    run = 0

    def steady(state: SimState) -> bool:
        nonlocal run
        run = run + 1 if condition(state) else 0
        return run >= count

    return await system.sim_state(steady, timeout=timeout)


def at_target(state: SimState) -> bool:
    return abs(state.grid_w - TARGET_W) <= BAND_W


async def test_a_load_above_the_sun_is_discharged_and_a_load_drop_cuts_the_discharge(tmp_path: Path):
    async for system in started(tmp_path, dc_battery(), DC_SERVICES):
        await system.set_load(1400)  # 465 W above the sun (and the 20 W target)
        discharging = await streak(
            system, lambda s: at_target(s) and abs(s.battery_w + (1400 - SUN_W + TARGET_W)) <= BAND_W
        )
        print(f"load 1400 W: {summary(discharging)}")
        mark = system.probe.mark()
        await system.set_load(1000)  # 400 W less: the discharge is cut to ~65 W (at least its 40 W floor)
        cut = await streak(system, lambda s: at_target(s) and -120 <= s.battery_w <= -30)
        exported_wh = exported_since(system, mark)
        # The chain from the drop to the battery's new output: the meter's 1 s poll, the controller, the actuator's
        # write interval (1 s), the radio and the inverter's 1 s dead time, its ramp (0.2 s): 4 s of the 400 W
        # drop at most; anything beyond that was exported by something slower than this chain.
        bound_wh = 400 * 4.0 / 3600
        print(f"load drop 400 W: {summary(cut)}; {exported_wh:.3f} Wh exported (bound {bound_wh:.3f} Wh)")
        assert exported_wh < bound_wh


async def test_with_a_heater_the_surplus_is_heated_and_a_deficit_discharged_with_the_heater_off(tmp_path: Path):
    # The battery, a heater and the two solar inverters together: this battery cannot charge, so the surplus
    # (300 W of load, 955 W of sun) goes into the heater; a load above the sun is the battery's, not the grid's.
    battery = dc_battery()

    def configure(config: dict[str, Any], workdir: Path) -> None:
        battery(config, workdir)
        with_heater(config, workdir)
        config["sim"]["pv"]["power_w"] = 1000  # SUN_W, as the other tests here

    async for system in started(tmp_path, configure, (*DC_SERVICES, "actuator_pwm")):
        heating = await streak(system, lambda s: at_target(s) and s.heater_w >= 300 and s.battery_w >= -60)
        print(f"surplus: {summary(heating)}")
        assert heating.heater_w <= HEATER_W
        await system.set_load(1400)  # 465 W above the sun
        discharging = await streak(
            system,
            lambda s: at_target(s) and s.heater_w <= 10 and abs(s.battery_w + (1400 - SUN_W + TARGET_W)) <= BAND_W,
        )
        print(f"load 1400 W: {summary(discharging)}")


async def test_at_the_reserve_it_stops_and_resumes_only_above_the_hysteresis(tmp_path: Path):
    # The charge controller is not configured in the driver: no pass-through, so a stop is a stop. Its 300 W of
    # DC solar charge the battery while the inverter is off.
    async for system in started(
        tmp_path, dc_battery(soc_pct=25, capacity_wh=10, solar_w=300, charger=False), DC_SERVICES
    ):
        await system.set_load(1700)
        await system.sim_state(lambda s: s.battery_w < -300, timeout=60)
        stopped = await system.sim_state(
            lambda s: s.battery_w == 0 and (s.battery_soc_pct or 100) <= RESERVE_PCT + 1, timeout=60
        )
        print(f"at the reserve: {summary(stopped)}")
        assert stopped.battery_soc_pct is not None
        assert stopped.battery_soc_pct >= RESERVE_PCT - 2  # 800 W for the ~2 s of the chain: 4.4 % of 10 Wh
        # The sun recharges it; between the reserve and the hysteresis it stays off although the load wants it.
        states: list[SimState] = []
        resumed = await system.sim_state(lambda s: states.append(s) is None and s.battery_w < -50, timeout=90)  # noqa: B023
        print(f"resumed: {summary(resumed)}")
        before = [s for s in states[:-1] if s.battery_soc_pct is not None]
        assert max(s.battery_soc_pct for s in before) > RESUME_PCT - 2  # it charged through the band
        assert all(s.battery_w == 0 for s in before if s.battery_soc_pct < RESUME_PCT)  # off below 20 %
        assert resumed.battery_soc_pct is not None
        # It started once above 20 %; the state it shows (1 s later) may already be a little lower
        assert resumed.battery_soc_pct > RESUME_PCT - 2


async def test_while_stopped_dc_solar_is_passed_through(tmp_path: Path):
    async for system in started(tmp_path, dc_battery(soc_pct=12, capacity_wh=2000, solar_w=300), DC_SERVICES):
        await system.set_load(1700)  # far above the sun: the battery would give its all
        passing = await streak(system, lambda s: abs(s.battery_w + 300 * PASSTHROUGH) <= 15)
        print(f"stopped at 12 % (resumes above 20 %), 300 W DC solar: {summary(passing)}")
        assert passing.battery_soc_pct is not None
        assert RESERVE_PCT < passing.battery_soc_pct < RESUME_PCT
        first = passing.battery_soc_pct
        later = await streak(system, lambda s: abs(s.battery_w + 300 * PASSTHROUGH) <= 15, count=10)
        assert later.battery_soc_pct is not None
        assert later.battery_soc_pct >= first  # the sun's power went through, not the battery's
        await system.probe.publish(
            system.topics.sim_set("battery_solar_w"), "0"
        )  # the sun gone: nothing to pass through
        off = await streak(system, lambda s: s.battery_w == 0)
        print(f"no DC solar: {summary(off)}")
