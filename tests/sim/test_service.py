"""The simulator service against a real Mosquitto: ground truth, overrides, Shelly on HTTP, clean stop."""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import MqttProbe, service_running
from zeropower.shared.messages import SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.broker import free_port
from zeropower.sim.plant import Plant
from zeropower.sim.service import run, run_plant
from zeropower.sim.settings import (
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    OpenDtuSettings,
    ShellySettings,
    SimServiceSettings,
    SimSettings,
)

ROOF = "114182912345"


@pytest.fixture
def settings(mqtt_settings: MqttSettings) -> SimServiceSettings:
    sim = SimSettings(
        state_interval_s=0.1,
        load=LoadSettings(base_w=300, noise_w=0, appliances=[]),
        pv=ConstantPv(power_w=1000, clouds=CloudSettings(per_hour=0)),
        inverters=[InverterSettings(serial=ROOF, name="roof", max_w=800, dead_time_s=0.2, ramp_w_per_s=10_000)],
        shelly=ShellySettings(port=free_port(), noise_w=0),
        opendtu=OpenDtuSettings(prefix=f"{mqtt_settings.topic_prefix}-solar", publish_interval_s=0.2),
    )
    return SimServiceSettings(mqtt=mqtt_settings, sim=sim)


@contextlib.asynccontextmanager
async def running(settings: SimServiceSettings, probe: MqttProbe):
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await probe.wait_for(topics.sim_state())
        yield topics


def state(predicate: Callable[[SimState], bool]) -> Callable[[IncomingMessage], bool]:
    return lambda message: predicate(SimState.model_validate_json(message.payload))


async def test_publishes_ground_truth_and_serves_the_meter(settings, probe):
    async with running(settings, probe) as topics:
        await probe.wait_for(topics.availability("sim"), lambda m: m.text == "online")
        message = await probe.wait_for(topics.sim_state(), state(lambda s: s.output_w == 800))
        truth = SimState.model_validate_json(message.payload)
        assert (truth.load_w, truth.pv_available_w, truth.limit_w) == (300, 1000, 800)
        assert truth.grid_w == pytest.approx(truth.load_w - truth.output_w, abs=0.2)
        assert not message.retain

        url = f"http://127.0.0.1:{settings.sim.shelly.port}/rpc/EM.GetStatus?id=0"
        async with httpx.AsyncClient(timeout=5) as client:
            meter = (await client.get(url)).json()
        assert meter["total_act_power"] == pytest.approx(300 - 800)

        dtu = OpenDtuTopics(settings.sim.opendtu.prefix)
        await probe.wait_for(dtu.dtu_status(), lambda m: m.text == "online")
        await probe.wait_for(dtu.inverter(ROOF, "0/power"), lambda m: m.text == "800.0")
    await probe.wait_for(topics.availability("sim"), lambda m: m.text == "offline")
    await probe.wait_for(dtu.dtu_status(), lambda m: m.text == "offline")


async def test_load_and_pv_can_be_forced_and_released(settings, probe):
    async with running(settings, probe) as topics:
        await probe.publish(topics.sim_set("load_w"), "1234", retain=False)
        await probe.wait_for_new(topics.sim_state(), state(lambda s: s.load_w == 1234))
        await probe.publish(topics.sim_set("pv_w"), "0")
        await probe.wait_for_new(topics.sim_state(), state(lambda s: s.pv_available_w == 0 and s.output_w == 0))
        await probe.publish(topics.sim_set("load_w"), "auto")
        await probe.publish(topics.sim_set("pv_w"), "auto")
        await probe.wait_for_new(topics.sim_state(), state(lambda s: s.load_w == 300 and s.pv_available_w == 1000))


async def test_retained_and_garbage_overrides_are_ignored(settings, probe, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.sim.controls")
    topics = Topics(settings.mqtt.topic_prefix)
    await probe.publish(topics.sim_set("load_w"), "5000", retain=True)  # delivered as retained on subscribing
    async with running(settings, probe):
        await probe.publish(topics.sim_set("load_w"), "lots")
        await probe.publish(topics.sim_set("load_w"), "700")
        await probe.wait_for_new(topics.sim_state(), state(lambda s: s.load_w == 700))
    loads = {SimState.model_validate_json(m.payload).load_w for m in probe.on(topics.sim_state())}
    assert loads == {300, 700}
    assert "ignoring retained command" in caplog.text
    assert "got 'lots'" in caplog.text


async def test_an_inverters_radio_link_can_be_cut(settings, probe):
    dtu = OpenDtuTopics(settings.sim.opendtu.prefix)
    reachable = dtu.inverter(ROOF, "status/reachable")
    async with running(settings, probe) as topics:
        await probe.wait_for(reachable, lambda m: m.text == "1")
        await probe.publish(topics.sim_set_reachable(ROOF), "off")
        await probe.wait_for_new(reachable, lambda m: m.text == "0")
        await probe.publish(topics.sim_set_reachable(ROOF), "on")
        await probe.wait_for_new(reachable, lambda m: m.text == "1")


async def test_the_dtus_telemetry_can_be_stopped_while_commands_still_reach_the_inverters(settings, probe):
    dtu = OpenDtuTopics(settings.sim.opendtu.prefix)
    last_update = dtu.inverter(ROOF, "status/last_update")
    async with running(settings, probe) as topics:
        await probe.wait_for(last_update, lambda m: True)
        await probe.publish(topics.sim_set_dtu_telemetry(), "off")
        await probe.publish(dtu.limit_command(ROOF), "100")
        await probe.wait_for_new(topics.sim_state(), state(lambda s: s.limit_w == 100))
        mark = probe.mark()
        await asyncio.sleep(5 * settings.sim.opendtu.publish_interval_s)
        assert [m.topic for m in probe.messages[mark:] if m.topic.startswith(f"{dtu.prefix}/")] == []
        await probe.publish(topics.sim_set_dtu_telemetry(), "on")
        await probe.wait_for_new(last_update, lambda m: True)


async def test_run_plant_follows_the_clock_in_steps():
    plant = Plant(SimSettings(pv=ConstantPv(power_w=0, clouds=CloudSettings(per_hour=0))))
    clock_s = [0.0]
    stop = asyncio.Event()
    steps: list[float] = []
    original_step = plant.step

    def record(dt_s: float) -> None:
        steps.append(dt_s)
        original_step(dt_s)
        if plant.now_s >= 1.0:
            stop.set()

    def clock() -> float:
        clock_s[0] += 0.25  # each wake-up finds the clock a quarter second later
        return clock_s[0]

    plant.step = record
    await asyncio.wait_for(run_plant(plant, 0.1, stop, clock), 5)
    assert plant.now_s == pytest.approx(1.0)
    assert max(steps) <= 0.1 + 1e-12


async def test_a_taken_shelly_port_stops_the_service_with_a_message(settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.sim.shelly.port))
        taken.listen()
        with pytest.raises(SystemExit, match=f"cannot serve the Shelly on 127.0.0.1:{settings.sim.shelly.port}"):
            await run(settings, asyncio.Event())
