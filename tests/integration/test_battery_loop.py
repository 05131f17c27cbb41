"""Batteries in the loop, end to end over real Mosquitto with each battery driver against its emulator.

The real processes: the simulator (Shelly, OpenDTU with two inverters, a heater on a simulated PWM output, a
battery served as a Zendure SolarFlow over HTTP or as a Marstek Venus over UDP), the meter, the controller,
actuator-opendtu, actuator-pwm and actuator-battery. The controller allocates one error over the battery, the
heater and the inverters (issue 14): surplus charges the battery first, then the heater, then the inverters are
limited; a deficit is discharged above the reserve before the grid is drawn from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_udp_port
from tests.integration.conftest import (
    BATTERY_ACTUATOR,
    HEATER_W,
    MAX_OUTPUT_W,
    SERVICES,
    TARGET_W,
    System,
    running_system,
    with_battery,
    with_heater,
)
from zeropower.shared.messages import ControllerState, SimState

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DRIVERS = ("zendure", "marstek_venus")
LOAD_W = 300.0  # the household's base load: 1200 W of output leave 880 W of surplus above the target
DEFICIT_LOAD_W = 1700.0  # above the sun: 500 W to discharge, within the battery's 800 W
EMPTYING_LOAD_W = 2000.0  # 800 W over the sun: the battery's whole 800 W, so a small one empties quickly
#: The grid within this of the target counts as settled (the load wanders by 5 W, the meter by 2 W per phase,
#: the controller's deadband is 15 W; the integral moves half the error per reading).
BAND_W = 60.0
SETTLED_FOR = 5  # simulator states (1 s apart) in a row
#: Once settled, no state of the next STEADY_FOR may export beyond the band below the target.
STEADY_FOR = 10
CAPACITY_WH = 2000.0
SMALL_WH = 10.0  # fills from 97 % in a second or two; empties from full to its 10 % reserve in about 45 s
RESERVE_PCT = 10.0  # actuator-battery's default reserve
#: How far below its reserve a discharge may go before it stops: 800 W for the time from the state of charge
#: reaching the reserve to the battery at 0 W (a 0.5 s poll, the next meter reading 1 s, a write, the battery's
#: 0.5 s dead time and ramp: 2.5 s), 0.56 Wh: 5.6 % of the small battery. Its simulated BMS is set to stop only at
#: 0 %, so a discharge that zeropower did not stop would run on to 0.
RESERVE_OVERSHOOT_PCT = 100 * 800 * 2.5 / 3600 / SMALL_WH
#: Export allowed when the load drops by 1400 W while the battery discharges: the whole drop until the battery
#: follows, at worst the meter's 1 s poll, a battery poll in flight and the write's request gap (0.5 s each),
#: the battery's 0.5 s dead time and its ramp over the ~900 W change (0.5 s): 3 s.
LOAD_DROP_EXPORT_WH = (DEFICIT_LOAD_W - LOAD_W) * (1.0 + 0.5 + 0.5 + 0.5 + 0.5) / 3600


def with_driver(driver: str, *, soc_pct: float = 60.0, capacity_wh: float = CAPACITY_WH) -> Callable[..., None]:
    """The system's configuration: the heater, and the battery served and driven as ``driver``."""

    def configure(config: dict[str, Any], workdir: Path) -> None:
        with_heater(config, workdir)  # 1300 W of sun: the inverters could deliver their 1200 W
        with_battery(config, soc_pct)
        config["sim"]["battery"]["capacity_wh"] = capacity_wh
        config["sim"]["battery"]["empty_pct"] = 0  # only zeropower keeps the reserve
        battery = config["actuator_battery"]["batteries"][0]
        battery["capacity_wh"] = capacity_wh
        if driver == "marstek_venus":
            port = free_udp_port()
            config["sim"]["battery"]["protocol"] = "marstek_venus"
            config["sim"]["marstek"] = {"port": port}
            battery["driver"] = {
                "type": "marstek_venus",
                "host": "127.0.0.1",
                "port": port,
                "local_port": 0,
                "timeout_s": 0.5,
                "request_gap_s": 0.5,  # a write every 1 s at most, as the Zendure's here
            }

    return configure


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def started(
    tmp_path: Path,
    configure: Callable[[dict[str, Any], Path], None],
    services: tuple[str, ...] = (*SERVICES, "actuator_pwm", "actuator_battery"),
) -> AsyncIterator[System]:
    """The system as ``configure(config, workdir)`` sets it up, regulating, the battery's actuator online."""
    async with running_system(tmp_path, lambda config: configure(config, tmp_path), services) as running:
        try:
            await running.probe.wait_for(running.topics.availability(f"actuator/{BATTERY_ACTUATOR}"), timeout=60)
            await running.controller_mode("regulating", timeout=60)
            yield running
        finally:
            write_trace(running, tmp_path / "trace.txt")


def write_trace(system: System, path: Path) -> None:
    """The simulator's truth and the controller's decisions in arrival order, for a failure's report."""
    lines = []
    first = system.probe.arrivals[0] if system.probe.arrivals else 0.0
    for message, at in zip(system.probe.messages, system.probe.arrivals, strict=True):
        if message.topic == system.topics.sim_state():
            s = SimState.model_validate_json(message.payload)
            lines.append(
                f"{at - first:7.1f} sim grid {s.grid_w:+6.0f} load {s.load_w:5.0f} output {s.output_w:5.0f}"
                f" limit {s.limit_w:5.0f} heater {s.heater_w:4.0f} battery {s.battery_w:+6.0f} soc {s.battery_soc_pct}"
            )
        elif message.topic == system.topics.controller_state():
            c = ControllerState.model_validate_json(message.payload)
            lines.append(f"{at - first:7.1f} controller {c.mode} {c.grid_power_w} {c.setpoints_w} {c.reason}")
    path.write_text("\n".join(lines))


@pytest.fixture
async def system(tmp_path: Path, driver: str) -> AsyncIterator[System]:
    """The whole system with a 2 kWh battery at 60 %."""
    async for running in started(tmp_path, with_driver(driver)):
        yield running


@pytest.fixture
async def small(tmp_path: Path, driver: str) -> AsyncIterator[System]:
    """The whole system with a 10 Wh battery at 97 %: full within seconds, empty within a minute."""
    async for running in started(tmp_path, with_driver(driver, soc_pct=97.0, capacity_wh=SMALL_WH)):
        yield running


def near_target(state: SimState) -> bool:
    return abs(state.grid_w - TARGET_W) <= BAND_W


async def settled(system: System, condition: Callable[[SimState], bool], timeout: float = 90.0) -> SimState:
    """Wait for ``SETTLED_FOR`` states in a row at the target that also meet ``condition``; then check that the
    next ``STEADY_FOR`` states export nothing beyond the band (the grid stays at the target, not below it)."""
    streak = 0

    def steady(state: SimState) -> bool:
        nonlocal streak
        streak = streak + 1 if near_target(state) and condition(state) else 0
        return streak >= SETTLED_FOR

    state = await system.sim_state(steady, timeout=timeout)
    after = []
    await system.sim_state(lambda s: after.append(s) is None and len(after) >= STEADY_FOR, timeout=STEADY_FOR + 10)
    assert all(s.grid_w >= TARGET_W - BAND_W for s in after), [(s.grid_w, s.battery_w) for s in after]
    return state


def summary(state: SimState) -> str:
    return (
        f"grid {state.grid_w:+.0f} W, battery {state.battery_w:+.0f} W at {state.battery_soc_pct} %,"
        f" heater {state.heater_w:.0f} W, limit {state.limit_w:.0f} W, output {state.output_w:.0f} W"
    )


async def test_surplus_charges_the_battery_and_a_load_above_the_sun_discharges_it(system: System, driver: str):
    await system.set_load(LOAD_W)
    surplus_w = MAX_OUTPUT_W - LOAD_W - TARGET_W
    # Storage first: the battery takes the whole surplus (within its 1000 W), the heater nothing, no limit.
    charging = await settled(
        system,
        lambda s: abs(s.battery_w - surplus_w) <= BAND_W and s.heater_w <= 10 and s.limit_w >= MAX_OUTPUT_W - 1,
    )
    print(f"{driver}: surplus: {summary(charging)}")

    await system.set_load(DEFICIT_LOAD_W)  # 500 W above the sun: the battery discharges, the grid stays at target
    deficit_w = DEFICIT_LOAD_W - MAX_OUTPUT_W + TARGET_W
    discharging = await settled(
        system, lambda s: abs(s.battery_w + deficit_w) <= BAND_W and s.heater_w <= 10 and s.limit_w >= MAX_OUTPUT_W - 1
    )
    print(f"{driver}: load above the sun: {summary(discharging)}")

    mark = system.probe.mark()
    await system.set_load(LOAD_W)  # back to surplus: the discharge ends, the battery charges again
    await settled(system, lambda s: abs(s.battery_w - surplus_w) <= BAND_W and s.heater_w <= 10)
    exported_wh = exported_since(system, mark)
    print(
        f"{driver}: the load drops by {DEFICIT_LOAD_W - LOAD_W:.0f} W while discharging: {exported_wh:.2f} Wh exported"
    )
    assert exported_wh < LOAD_DROP_EXPORT_WH


def exported_since(system: System, mark: int) -> float:
    """Energy exported since the probe's mark by the simulator's truth, in Wh."""
    states = [
        SimState.model_validate_json(m.payload)
        for m in system.probe.messages[mark:]
        if m.topic == system.topics.sim_state()
    ]
    return states[-1].exported_wh - states[0].exported_wh if states else 0.0


async def test_a_full_battery_hands_the_surplus_to_the_heater_and_an_empty_one_the_deficit_to_the_grid(
    small: System, driver: str
):
    system = small
    await system.set_load(LOAD_W)
    full = await system.sim_state(lambda s: (s.battery_soc_pct or 0) >= 99.5, timeout=60)
    print(f"{driver}: full: {summary(full)}")
    # Full: its share moves to the heater (600 W), the inverters are limited for the rest (the heater's last
    # tens of W come as slowly as the inverters' command budget lets their limits rise: the band allows for that).
    heating = await settled(
        system, lambda s: abs(s.battery_w) <= 10 and s.heater_w >= HEATER_W - BAND_W and s.limit_w < MAX_OUTPUT_W - 150
    )
    print(f"{driver}: full, surplus to the heater: {summary(heating)}")

    await system.set_load(EMPTYING_LOAD_W)  # 800 W above the sun: discharged at the battery's 800 W
    discharging = await system.sim_state(lambda s: s.battery_w <= -700, timeout=60)
    print(f"{driver}: discharging: {summary(discharging)}")
    # At its reserve (10 %) the discharge stops and the grid takes the deficit; never below the reserve.
    empty = await system.sim_state(
        lambda s: abs(s.battery_w) <= 10 and (s.battery_soc_pct or 100) < RESERVE_PCT + 1, timeout=120
    )
    print(f"{driver}: at the reserve: {summary(empty)}")
    drawn_w = EMPTYING_LOAD_W - MAX_OUTPUT_W
    importing = await settled_import(system, drawn_w)
    assert importing.battery_soc_pct is not None
    assert importing.battery_soc_pct >= RESERVE_PCT - RESERVE_OVERSHOOT_PCT
    assert importing.heater_w <= 10
    assert importing.limit_w >= MAX_OUTPUT_W - 1
    print(f"{driver}: the grid takes the deficit: {summary(importing)}")


async def settled_import(system: System, drawn_w: float) -> SimState:
    """Wait for ``SETTLED_FOR`` states in a row drawing ``drawn_w`` from the grid with the battery idle."""
    streak = 0

    def steady(state: SimState) -> bool:
        nonlocal streak
        ok = abs(state.grid_w - drawn_w) <= BAND_W and abs(state.battery_w) <= 10
        streak = streak + 1 if ok else 0
        return streak >= SETTLED_FOR

    return await system.sim_state(steady, timeout=60)
