"""The simulator service against a real Mosquitto: ground truth, overrides, Shelly on HTTP, clean stop."""

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import MqttProbe, free_udp_port, service_running
from zeropower.actuator_battery.drivers.marstek_venus import MarstekVenusBattery, MarstekVenusSettings
from zeropower.shared.messages import SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.broker import free_port
from zeropower.sim.marstek import MarstekVenusEmulator
from zeropower.sim.plant import Plant
from zeropower.sim.service import run, run_plant, start_battery_server
from zeropower.sim.settings import (
    BatterySettings,
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    MarstekEmulatorSettings,
    OpenDtuSettings,
    ShellySettings,
    SimServiceSettings,
    SimSettings,
    ZendureSettings,
)
from zeropower.sim.zendure import ZendureEmulator

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


# --- the battery served as a Marstek Venus (UDP Open API) ---------------------------------------------------------


def marstek_sim(settings: SimServiceSettings, port: int) -> SimServiceSettings:
    """``settings`` with a battery served as a Marstek Venus on ``port`` (UDP)."""
    battery = BatterySettings(soc_pct=60, dead_time_s=0.5, ramp_w_per_s=10_000, protocol="marstek_venus")
    sim = settings.sim.model_copy(update={"battery": battery, "marstek": MarstekEmulatorSettings(port=port)})
    return settings.model_copy(update={"sim": sim})


def marstek_driver(port: int, **overrides) -> MarstekVenusBattery:
    values = {"type": "marstek_venus", "host": "127.0.0.1", "port": port, "local_port": 0, "timeout_s": 0.3}
    return MarstekVenusBattery(MarstekVenusSettings.model_validate(values | {"request_gap_s": 0} | overrides))


async def test_the_battery_is_served_as_a_marstek_venus_whose_countdown_idles_it(settings, probe):
    port = free_udp_port()
    settings = marstek_sim(settings, port)
    driver = marstek_driver(port, countdown_s=2, discharge_countdown_s=2)
    async with running(settings, probe) as topics:
        try:
            reading = await driver.read()
            assert (reading.soc_pct, reading.power_w, driver.mode) == (60, 0, "Auto")
            await driver.set_power(-300)
            sent = time.monotonic()
            # the plant's one battery follows: the simulator's truth shows the discharge and a lower grid
            discharging = await probe.wait_for_new(
                topics.sim_state(), state(lambda s: s.battery_w == pytest.approx(-300, abs=1))
            )
            truth = SimState.model_validate_json(discharging.payload)
            assert truth.grid_w == pytest.approx(truth.load_w - 300 - truth.output_w, abs=1)
            assert (await driver.read()).power_w == pytest.approx(-300, abs=1)
            # no more commands: the device's own countdown idles the battery
            await probe.wait_for_new(topics.sim_state(), state(lambda s: s.battery_w == 0), timeout=10)
            assert time.monotonic() - sent >= 2 - 0.2
            reading = await driver.read()
            assert (reading.power_w, reading.setpoint_w, driver.mode) == (0, None, "Auto")
        finally:
            await driver.close()


async def test_marstek_commands_are_stamped_on_the_plants_clock():
    sim = SimSettings(
        pv=ConstantPv(power_w=0, clouds=CloudSettings(per_hour=0)),
        battery=BatterySettings(dead_time_s=1.0, ramp_w_per_s=100_000, protocol="marstek_venus"),
        marstek=MarstekEmulatorSettings(port=0),
    )
    plant = Plant(sim)
    server = await start_battery_server(plant, sim)
    assert isinstance(server, MarstekVenusEmulator)
    driver = marstek_driver(server.port)
    try:
        for _ in range(10):
            plant.step(0.1)  # plant time 1 s; the monotonic clock is far ahead of it
        await driver.set_power(400)
        assert server.countdown_ends == pytest.approx(plant.now_s + 45)
        plant.step(0.9)
        assert plant.battery_w == 0  # within the battery's dead time on the plant's clock
        plant.step(0.2)
        assert plant.battery_w == 400
    finally:
        await driver.close()
        await server.stop()


async def test_a_zendure_is_still_the_default_battery_server():
    sim = SimSettings(pv=ConstantPv(power_w=0), battery=BatterySettings(), zendure=ZendureSettings(port=0))
    server = await start_battery_server(Plant(sim), sim)
    try:
        assert isinstance(server, ZendureEmulator)
    finally:
        assert server is not None
        await server.stop()


async def test_a_taken_marstek_port_stops_the_service_with_a_message(settings):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot serve the Marstek Venus on 127.0.0.1:{port} \\(UDP\\)"):
            await run(marstek_sim(settings, port), asyncio.Event())
