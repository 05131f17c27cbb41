"""End to end over real Mosquitto: simulator → meter → controller → actuator → simulated OpenDTU."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import MqttProbe, exit_status, start_service
from tests.integration.conftest import BALCONY, ROOF, SERVICES, TARGET_W, System, limit_payload
from zeropower.shared.budget import BURST, RESERVE
from zeropower.shared.topics import actuator_service_id

pytestmark = pytest.mark.integration

EXPORT_STOPPED_W = -30.0  # grid above this counts as "no export" (meter noise, rounding)
EXPORT_BOUND_S = 20.0  # a load drop must stop exporting within this time (dead time 3-4 s + telemetry)
#: A raise waits for the command budget at worst until the bucket holds a token above the reserve again (3
#: tokens at the default 240 an hour: 46 s) when cuts have just spent it; plus the actuator's intervals.
BUDGET_WAIT_S = (RESERVE + 1) * 3600 / (240 - BURST) + 10


async def test_load_drop_stops_export_and_load_rise_recovers(system: System):
    await system.controller_mode("regulating")
    await system.set_load(900)
    await system.settled()

    await system.set_load(150)  # 750 W less: the inverters now export until cut
    dropped = await system.sim_state(lambda s: s.load_w < 200)
    assert dropped.grid_w < -300, "the drop must cause export first"
    started = time.monotonic()
    await system.sim_state(lambda s: s.grid_w > EXPORT_STOPPED_W, timeout=EXPORT_BOUND_S)
    took = time.monotonic() - started
    assert took < EXPORT_BOUND_S
    after_cut = await system.settled()
    assert after_cut.limit_w < 400

    await system.set_load(1000)  # more load than before: limits go up again
    recovered = await system.settled(timeout=60 + BUDGET_WAIT_S)  # the cuts may have spent the raises' tokens
    assert recovered.output_w > 900
    assert abs(recovered.grid_w - TARGET_W) <= 60


async def test_stale_meter_goes_fail_safe_and_recovers(system: System):
    await system.controller_mode("regulating")
    await system.settled()
    mark = system.probe.mark()
    system.stop("meter")
    state = await system.controller_mode("fail-safe", timeout=20)
    assert "stale" in str(state["reason"])
    assert state["setpoints_w"] == {ROOF: 40.0, BALCONY: 20.0}
    await system.probe.wait_for(system.dtu.limit_command(ROOF), lambda m: limit_payload(m) == 40.0, since=mark)
    system.start("meter")
    await system.controller_mode("regulating", timeout=20)
    await system.settled()


async def test_disable_sets_maximum_and_telemetry_keeps_flowing(system: System):
    await system.controller_mode("regulating")
    await system.settled()
    mark = system.probe.mark()
    await system.probe.publish(system.topics.set_enabled(), "off")
    await system.controller_mode("paused")
    for serial, maximum in ((ROOF, 800.0), (BALCONY, 400.0)):  # raises: they may wait for the budget
        command = system.dtu.limit_command(serial)
        await system.probe.wait_for(command, lambda m, w=maximum: limit_payload(m) == w, BUDGET_WAIT_S, since=mark)
    uncontrolled = await system.sim_state(lambda s: s.output_w > 900)  # all the PV: 955 W AC for 300 W load
    assert uncontrolled.grid_w < -500
    await system.probe.wait_for_new(system.dtu.inverter(ROOF, "0/power"))
    await system.probe.wait_for_new(system.topics.device_state("opendtu", ROOF))
    await system.probe.publish(system.topics.set_enabled(), "on")
    await system.controller_mode("regulating")
    await system.settled()


async def test_broker_restart_mid_run_loop_resumes_without_restarting_services(system: System):
    await system.controller_mode("regulating")
    await system.settled()
    await system.probe.__aexit__(None, None, None)
    system.broker.stop()
    await asyncio.sleep(1.0)  # an outage, not a blink
    system.broker.start()
    async with MqttProbe(system.broker.port) as probe:
        system.probe = probe
        for service in ("meter", "controller", "sim"):
            await probe.wait_for(system.topics.availability(service), lambda m: m.text == "online", timeout=20)
        await probe.wait_for(system.topics.actuator_announce("opendtu"), timeout=20)  # retained state re-published
        await system.set_load(700)
        await system.settled()
        assert all(process.poll() is None for process in system.processes.values())


@pytest.mark.parametrize("service", SERVICES)
async def test_sigterm_publishes_offline_and_exits_within_2_s(system: System, service: str):
    availability = system.topics.availability(
        actuator_service_id("opendtu") if service == "actuator_opendtu" else service
    )
    await system.probe.wait_for(availability, lambda m: m.text == "online", timeout=20)
    process = system.processes[service]
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=5)
    took = time.monotonic() - started
    assert took < 2.0, f"{service} took {took:.2f} s to stop"
    assert process.returncode == 0, system.log(service)
    await system.probe.wait_for(availability, lambda m: m.text == "offline", timeout=5)
    async with MqttProbe(system.broker.port) as late:  # retained: a late subscriber sees it too
        seen = await late.wait_for(availability, timeout=5)
        assert seen.text == "offline"
        assert seen.retain


@pytest.mark.parametrize(
    ("service", "env", "field"),
    [
        ("controller", {"ZEROPOWER_CONTROLLER__TARGET_W": "lots"}, "controller.target_w"),
        ("meter", {"ZEROPOWER_METER__POLL_INTERVAL_S": "-1"}, "meter.poll_interval_s"),
        ("actuator_opendtu", {"ZEROPOWER_ACTUATOR_OPENDTU__MIN_CHANGE_W": "x"}, "actuator_opendtu.min_change_w"),
        ("sim", {"ZEROPOWER_SIM__STEP_S": "0"}, "sim.step_s"),
        ("controller", {"ZEROPOWER_MQTT__PORT": "99999"}, "mqtt.port"),
    ],
)
def test_invalid_config_exits_2_naming_the_field(tmp_path, service, env, field):
    config = tmp_path / "config.yaml"
    config.write_text("actuator_opendtu:\n  inverters:\n    - serial: '114182912345'\n      max_w: 800\n")
    environment = {"ZEROPOWER_CONFIG": str(config), **env}
    result = subprocess.run(
        [sys.executable, "-m", f"zeropower.{service}"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ZEROPOWER_")}, **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert field in result.stderr


def test_unknown_config_section_exits_2(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("controler:\n  target_w: 5\n")
    process = start_service("controller", {"ZEROPOWER_CONFIG": str(config)}, tmp_path / "controller.log")
    assert exit_status(process) == 2
    assert "unknown section(s) controler" in (tmp_path / "controller.log").read_text()
