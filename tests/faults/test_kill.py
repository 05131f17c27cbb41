"""kill -9 of each process under surplus: no export window between the safety layers, each fail-safe on time.

The household: PV ~800 W, load 300 W, a 600 W heater absorbing the surplus (use before curtail), two
inverters (roof 800 W, balcony 400 W, minimum 40 W and 20 W) behind the simulated OpenDTU, the meter a
simulated Shelly Pro 3EM read every second. Every test asserts over the whole fault, not a snapshot.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.faults.conftest import ALL_SERVICES, FaultSystem, heater_system, setpoints_of
from tests.helpers import MqttProbe
from tests.integration.conftest import BALCONY, ROOF, TARGET_W, running_system
from zeropower.shared.messages import ActuatorState
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

pytestmark = pytest.mark.integration

#: Export the simulated meter's noise and rounding may count during a fault, in Wh (a real window is 0.4-2 Wh).
EXPORT_BOUND_WH = 0.02
#: Export while the loop takes over again from every device's safe state (inverters at their minimum, heater off).
RECOVERY_BOUND_WH = 0.4
OPENDTU_TIMEOUT_S = 15.0  # actuator-opendtu's default setpoint_timeout_s
PWM_TIMEOUT_S = 45.0  # actuator-pwm's default setpoint_timeout_s


def near_target(state) -> bool:
    return abs(state.grid_w - TARGET_W) < 40


async def heater_absorbing(system: FaultSystem) -> None:
    """Wait for the steady state: the heater takes the surplus, the grid at the target."""
    await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=5)


def duty(message) -> float:
    return float(message.text)


def limit(message) -> float:
    return float(message.text)


async def test_controller_killed_under_surplus_limits_production_before_the_heater_stops(surplus: FaultSystem):
    # Before: actuator-pwm dropped the heater after 10 s but actuator-opendtu limited the inverters only after
    # 30 s: the heater's share was exported for 20 s (1.6 Wh).
    system = surplus
    await heater_absorbing(system)
    mark = system.probe.mark()
    killed = system.kill("controller")
    dtu = system.system.dtu
    limited_at = await system.seen_at(dtu.limit_command(ROOF), lambda m: limit(m) == 40.0, mark)
    await system.seen_at(dtu.limit_command(BALCONY), lambda m: limit(m) == 20.0, mark)
    released_at = await system.seen_at(system.topics.sim_pwm_duty("heater"), lambda m: duty(m) == 0.0, mark)
    await system.system.sim_state(lambda s: s.output_w < 80 and s.heater_w == 0)
    exported = system.exported_wh(mark)
    # each actuator's watchdog counts from the last setpoint it received, up to a second before the kill
    last_to_dtu = system.last_seen_at(system.topics.actuator_setpoints("opendtu"), mark)
    last_to_heater = system.last_seen_at(system.topics.actuator_setpoints("heater"), mark)
    print(
        f"controller killed: inverters limited {limited_at - last_to_dtu:.2f} s after their last setpoint "
        f"({limited_at - killed:.1f} s after the kill), heater released {released_at - last_to_heater:.2f} s "
        f"after its last ({released_at - killed:.1f} s after the kill), exported {exported:.4f} Wh"
    )
    assert OPENDTU_TIMEOUT_S <= limited_at - last_to_dtu < OPENDTU_TIMEOUT_S + 1
    assert PWM_TIMEOUT_S <= released_at - last_to_heater < PWM_TIMEOUT_S + 1
    assert exported <= EXPORT_BOUND_WH
    assert min(sample.state.grid_w for sample in system.samples(mark)) > -25

    mark = system.probe.mark()
    system.start("controller")  # after its fail-safes: everything at its safe state, the loop takes over again
    await system.online("controller")
    await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=5)
    exported = system.exported_wh(mark)
    print(f"controller restarted after the fail-safes: exported {exported:.4f} Wh until steady")
    # Recovering from the safe state, the inverters are raised for the heater to take the surplus, and the
    # heater follows only the export it sees: a short transient (~0.2 Wh), the same as after any fail-safe.
    assert exported <= RECOVERY_BOUND_WH


async def test_controller_restart_changes_nothing_by_itself(surplus: FaultSystem):
    # Before: a restarted controller set the heater from 0 W (up to -300 W at the grid, 0.42 Wh in 40 s),
    # and inside the deadband it sent no setpoint at all, so actuator-opendtu fell to its fail-safe.
    system = surplus
    await heater_absorbing(system)
    mark = system.probe.mark()
    system.kill("controller")
    system.start("controller")
    await system.online("controller")
    restarted = time.monotonic()
    heater_topic = system.topics.sim_pwm_duty("heater")
    await asyncio.sleep(max(0.0, restarted + 40 - time.monotonic()))  # watch 40 s of the restarted controller
    exported = system.exported_wh(mark)
    lowest = min(sample.state.grid_w for sample in system.samples(mark))
    duties = [duty(m) for m in system.probe.messages[mark:] if m.topic == heater_topic]
    modes = {
        ActuatorState.model_validate_json(m.payload).mode
        for m in system.probe.messages[mark:]
        if m.topic in {system.topics.actuator_state("opendtu"), system.topics.actuator_state("heater")}
    }
    print(f"controller restart: exported {exported:.4f} Wh, lowest grid {lowest:.0f} W, heater duties {duties[:8]}")
    assert exported <= EXPORT_BOUND_WH
    assert lowest > -60
    assert 0.0 not in duties
    assert "fail-safe" not in modes


async def test_meter_killed_fails_safe_and_the_heater_waits_for_the_inverters(surplus: FaultSystem):
    # The controller's own fail-safe (stale grid data) set the heater to 0 at once while the inverters still
    # produced: the heater's share was exported for the inverters' dead time and ramp.
    await meter_killed_and_restarted(surplus)


async def test_meter_killed_with_the_load_forecast_on_fails_safe_the_same(surplus_forecasting: FaultSystem):
    # The forecast shifts where the limits go while regulating; it must open no window in the fail-safe,
    # and the readings across the gap must not count as a load step when the meter returns.
    await meter_killed_and_restarted(surplus_forecasting)


async def meter_killed_and_restarted(system: FaultSystem) -> None:
    """Kill the meter under surplus: fail-safe on time, the heater after the inverters, no export; then back."""
    await heater_absorbing(system)
    mark = system.probe.mark()
    system.kill("meter")
    state_topic = system.topics.controller_state()
    failsafe_at = await system.seen_at(state_topic, lambda m: json.loads(m.payload)["mode"] == "fail-safe", mark)
    heater_off = await system.seen_at(
        system.topics.actuator_setpoints("heater"), lambda m: setpoints_of(m).get("heater") == 0.0, mark
    )
    await system.system.sim_state(lambda s: s.heater_w == 0)
    exported = system.exported_wh(mark)
    last_reading = system.last_seen_at(system.topics.grid_power(), mark)
    print(
        f"meter killed: controller fail-safe {failsafe_at - last_reading:.1f} s after the last reading, heater "
        f"released {heater_off - last_reading:.1f} s after it, exported {exported:.4f} Wh"
    )
    stale_after_s = 5.0  # the integration config's controller.stale_after_s
    assert stale_after_s <= failsafe_at - last_reading < stale_after_s + 1.5
    assert heater_off > failsafe_at
    assert exported <= EXPORT_BOUND_WH

    mark = system.probe.mark()
    system.start("meter")
    await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=5)
    exported = system.exported_wh(mark)
    print(f"meter restarted: exported {exported:.4f} Wh until steady")
    assert exported <= RECOVERY_BOUND_WH


@pytest.mark.parametrize("service", ["actuator_opendtu", "actuator_pwm"])
async def test_actuator_killed_and_restarted_never_exports(surplus: FaultSystem, service: str):
    system = surplus
    await heater_absorbing(system)
    mark = system.probe.mark()
    system.kill(service)
    await asyncio.sleep(5)  # a systemd restart delay
    system.start(service)
    await system.online(service)
    await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=5)
    exported = system.exported_wh(mark)
    lowest = min(sample.state.grid_w for sample in system.samples(mark))
    print(f"{service} killed and restarted: exported {exported:.4f} Wh, lowest grid {lowest:.0f} W")
    assert exported <= EXPORT_BOUND_WH


async def test_broker_and_controller_crash_keep_the_newest_switch(tmp_path):
    # Before: commands were retained and Mosquitto saves retained messages every 60 s: an "off" sent 5 s
    # before a kill -9 of the broker came back as the older retained "on".
    broker = Broker(workdir=tmp_path, persistence=True).start()
    topics_prefix = Topics().set_enabled()
    async with MqttProbe(broker.port) as probe:  # an old retained "on" (as earlier versions left it)
        await probe.publish(topics_prefix, "on", retain=True)
    broker.stop()  # a clean stop saves it: the broker's database now holds the stale command
    configure = lambda config: heater_system(config, tmp_path, pv_w=800, load_w=300)  # noqa: E731
    async with running_system(tmp_path, configure, services=ALL_SERVICES, broker=broker) as running:
        system = FaultSystem(running)
        for service in ALL_SERVICES:
            await system.online(service)
        await running.controller_mode("regulating")
        await system.probe.publish(system.topics.set_enabled(), "off")  # the newest command, not retained
        await running.controller_mode("paused")
        await system.probe.__aexit__(None, None, None)
        broker.kill()  # a power cut: the broker and the controller die at once
        system.kill("controller")
        broker.start()
        async with MqttProbe(broker.port) as probe:
            running.probe = probe
            system.start("controller")
            state = await running.controller_mode("paused", timeout=30)
            assert state["enabled"] is False
            for service in ALL_SERVICES:
                await system.online(service)
            await probe.publish(system.topics.set_enabled(), "on")  # paused exported on purpose; now regulate
            await running.controller_mode("regulating")
            await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=5)
            assert all(system.alive().values())
        running.probe = await MqttProbe(broker.port).__aenter__()  # for the fixture's teardown


async def test_broker_killed_under_surplus_never_exports(surplus: FaultSystem):
    # A broker crash cuts every link at once: nothing may move while it is gone, and the reconnects
    # (subscriptions again, retained state re-published, limits re-sent) must not move anything either.
    system = surplus
    await heater_absorbing(system)
    broker = system.system.broker
    before = system.samples()[-1].state.exported_wh  # the simulator's own meter counts through the outage
    await system.probe.__aexit__(None, None, None)
    broker.kill()
    await asyncio.sleep(3)  # an outage the services notice, shorter than any fail-safe
    broker.start()
    async with MqttProbe(broker.port) as probe:
        system.system.probe = probe
        for service in ALL_SERVICES:
            await system.online(service)
        await system.steady(lambda s: near_target(s) and s.heater_w > 200, count=10)
        exported = system.samples()[-1].state.exported_wh - before
        lowest = min(sample.state.grid_w for sample in system.samples())
        print(f"broker killed and restarted: exported {exported:.4f} Wh, lowest grid {lowest:.0f} W after it")
        assert exported <= EXPORT_BOUND_WH
        assert all(system.alive().values())
        system.system.probe = await MqttProbe(broker.port).__aenter__()  # for the fixture's teardown
