"""The OpenDTU emulator against a real Mosquitto: the topic tree, limits after the dead time, one radio for all
inverters, ignored commands."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import pytest

from tests.helpers import MqttProbe, wait_until
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import OpenDtuTopics
from zeropower.sim.broker import Broker
from zeropower.sim.opendtu import OpenDtuEmulator
from zeropower.sim.plant import Plant
from zeropower.sim.service import run_plant
from zeropower.sim.settings import (
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    OpenDtuSettings,
    SimSettings,
)

SERIAL = "114182912345"
BALCONY = "112182954321"
DEAD_TIME_S = 0.5
#: The radio's time per command: short, to keep the tests quick.
COMMAND_S = 0.3
INTERVAL_S = 0.1
#: Publishing rounds that surely end after the dead time (each round takes at least INTERVAL_S).
ROUNDS_AFTER_DEAD_TIME = round(DEAD_TIME_S / INTERVAL_S) + 3


@pytest.fixture
def dtu_topics(topic_prefix: str) -> OpenDtuTopics:
    return OpenDtuTopics(f"{topic_prefix}-solar")


def make_plant(*extra: InverterSettings, command_s: float = COMMAND_S) -> Plant:
    roof = InverterSettings(
        serial=SERIAL, name="roof", max_w=800, dead_time_s=DEAD_TIME_S, ramp_w_per_s=100_000, dc_channels=2
    )
    return Plant(
        SimSettings(
            load=LoadSettings(base_w=300, noise_w=0, appliances=[]),
            pv=ConstantPv(power_w=2000, clouds=CloudSettings(per_hour=0)),
            inverters=[roof, *extra],
            opendtu=OpenDtuSettings(command_s=command_s),
        )
    )


@pytest.fixture
def plant() -> Plant:
    return make_plant()


@contextlib.asynccontextmanager
async def running_dtu(plant: Plant, mqtt_settings: MqttSettings, topics: OpenDtuTopics) -> AsyncIterator[None]:
    bus = MqttBus(mqtt_settings, "test-opendtu", topics.dtu_status())
    settings = OpenDtuSettings(prefix=topics.prefix, publish_interval_s=INTERVAL_S, command_s=COMMAND_S)
    emulator = OpenDtuEmulator(plant, bus, settings)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_plant(plant, 0.05, stop)),
        asyncio.create_task(emulator.run(stop)),
    ]
    try:
        await asyncio.wait_for(bus.connected.wait(), 5)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)


def limit_readbacks(probe: MqttProbe, topics: OpenDtuTopics) -> list[str]:
    return [message.text for message in probe.on(topics.inverter(SERIAL, "status/limit_absolute"))]


async def test_publishes_the_opendtu_tree_retained_and_consistent(
    plant, mqtt_settings, dtu_topics, probe, broker: Broker
):
    subtopics = [
        "name",
        *(f"status/{name}" for name in ("reachable", "producing", "last_update", "limit_relative", "limit_absolute")),
        *(
            f"0/{name}"
            for name in (
                "power",
                "powerdc",
                "voltage",
                "current",
                "frequency",
                "powerfactor",
                "reactivepower",
                "temperature",
                "efficiency",
                "yieldday",
                "yieldtotal",
            )
        ),
        *(
            f"{channel}/{name}"
            for channel in (1, 2)
            for name in ("power", "voltage", "current", "yieldday", "yieldtotal", "irradiation", "name")
        ),
    ]
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        power = await probe.wait_for(dtu_topics.inverter(SERIAL, "0/power"), lambda m: float(m.text) > 799)
        await probe.wait_for(dtu_topics.dc_total("power"), lambda m: float(m.text) > 799)  # the last of a round
        for subtopic in subtopics:
            await probe.wait_for(dtu_topics.inverter(SERIAL, subtopic))
        for total in (dtu_topics.ac_total("power"), dtu_topics.ac_total("yieldday"), dtu_topics.dc_total("power")):
            await probe.wait_for(total)
        await probe.wait_for(dtu_topics.ac_total("is_valid"), lambda m: m.text == "1")
        assert power.text == "800.0"

        async with MqttProbe(broker.port) as late:  # a client connecting later gets the retained tree
            status = await late.wait_for(dtu_topics.dtu_status(), lambda m: m.retain)
            reachable = await late.wait_for(dtu_topics.inverter(SERIAL, "status/reachable"), lambda m: m.retain)
            dc = await late.wait_for(dtu_topics.inverter(SERIAL, "0/powerdc"), lambda m: m.retain)
            limit = await late.wait_for(dtu_topics.inverter(SERIAL, "status/limit_relative"), lambda m: m.retain)
            channel = await late.wait_for(dtu_topics.inverter(SERIAL, "1/power"), lambda m: m.retain)
        assert (status.text, reachable.text, limit.text) == ("online", "1", "100.00")
        assert float(dc.text) == pytest.approx(800 / 0.955, abs=0.1)
        assert float(channel.text) == pytest.approx(800 / 0.955 / 2, abs=0.1)
        assert abs(int(probe.on(dtu_topics.inverter(SERIAL, "status/last_update"))[-1].text) - time.time()) < 5
    await probe.wait_for(dtu_topics.dtu_status(), lambda m: m.text == "offline")


async def test_obeys_a_limit_after_the_dead_time(plant, mqtt_settings, dtu_topics, probe):
    readback = dtu_topics.inverter(SERIAL, "status/limit_absolute")
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        await probe.wait_for(dtu_topics.inverter(SERIAL, "0/power"), lambda m: m.text == "800.0")
        sent = time.monotonic()
        await probe.publish(dtu_topics.limit_command(SERIAL), "300")
        await probe.wait_for_new(readback, lambda m: m.text == "300.00")  # acknowledged
        assert time.monotonic() - sent >= COMMAND_S
        await probe.wait_for(dtu_topics.inverter(SERIAL, "0/power"), lambda m: m.text == "300.0")
        assert time.monotonic() - sent >= DEAD_TIME_S
        await probe.wait_for(dtu_topics.inverter(SERIAL, "status/limit_relative"), lambda m: m.text == "37.50")

        await probe.publish(dtu_topics.relative_limit_command(SERIAL), "50")
        await probe.wait_for_new(readback, lambda m: m.text == "400.00")
        await probe.publish(dtu_topics.limit_command(SERIAL), "1")  # below the 2 % floor
        await probe.wait_for_new(readback, lambda m: m.text == "16.00")
        await probe.wait_for(dtu_topics.inverter(SERIAL, "0/power"), lambda m: m.text == "16.0")
    assert plant.output_w == pytest.approx(16)


async def test_ignores_a_retained_limit(plant, mqtt_settings, dtu_topics, probe, caplog):
    await probe.publish(dtu_topics.limit_command(SERIAL), "100", retain=True)  # a stale command waits on the broker
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        await wait_until(lambda: len(limit_readbacks(probe, dtu_topics)) >= ROUNDS_AFTER_DEAD_TIME)
        assert "ignoring retained command" in caplog.text
        assert set(limit_readbacks(probe, dtu_topics)) == {"800.00"}


async def test_ignores_garbage_and_unknown_inverters(plant, mqtt_settings, dtu_topics, probe, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.sim.opendtu")
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        await probe.wait_for(dtu_topics.inverter(SERIAL, "status/limit_absolute"))
        for payload in ("abc", "", "nan", "-5", "300W"):
            await probe.publish(dtu_topics.limit_command(SERIAL), payload)
        await probe.publish(dtu_topics.limit_command("999999999999"), "200")
        await probe.publish(dtu_topics.inverter(SERIAL, "cmd/limit_persistent_absolute"), "200")
        await probe.publish(dtu_topics.limit_command(SERIAL), "500")
        await probe.wait_for(dtu_topics.inverter(SERIAL, "status/limit_absolute"), lambda m: m.text == "500.00")
    assert set(limit_readbacks(probe, dtu_topics)) == {"800.00", "500.00"}
    assert caplog.text.count("is not a limit") == 5
    assert "no inverter with serial 999999999999" in caplog.text
    assert "only non-persistent limits are emulated" in caplog.text


async def test_an_unreachable_inverter_reports_so_and_loses_commands(plant, mqtt_settings, dtu_topics, probe):
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        await probe.wait_for(dtu_topics.inverter(SERIAL, "status/reachable"), lambda m: m.text == "1")
        plant.inverters[SERIAL].link_ok = False
        await probe.wait_for_new(dtu_topics.inverter(SERIAL, "status/reachable"), lambda m: m.text == "0")
        await probe.wait_for(dtu_topics.ac_total("is_valid"), lambda m: m.text == "0")
        seen = len(limit_readbacks(probe, dtu_topics))
        await probe.publish(dtu_topics.limit_command(SERIAL), "200")
        await wait_until(lambda: len(limit_readbacks(probe, dtu_topics)) >= seen + ROUNDS_AFTER_DEAD_TIME)
        assert plant.inverters[SERIAL].limit_w == 800


async def test_one_radio_serves_the_inverters_one_after_another(mqtt_settings, dtu_topics, probe):
    command_s = 1.0
    balcony = InverterSettings(serial=BALCONY, name="balcony", max_w=400, dead_time_s=0, ramp_w_per_s=100_000)
    plant = make_plant(balcony, command_s=command_s)
    readbacks = {serial: dtu_topics.inverter(serial, "status/limit_absolute") for serial in (SERIAL, BALCONY)}
    async with running_dtu(plant, mqtt_settings, dtu_topics):
        await probe.wait_for(readbacks[BALCONY], lambda m: m.text == "400.00")
        sent = time.monotonic()
        await probe.publish(dtu_topics.limit_command(SERIAL), "300")
        await probe.publish(dtu_topics.limit_command(BALCONY), "100")
        await probe.publish(dtu_topics.limit_command(BALCONY), "200")  # replaces the queued 100 W
        await probe.wait_for_new(readbacks[SERIAL], lambda m: m.text == "300.00")
        roof_s = time.monotonic() - sent
        await probe.wait_for_new(readbacks[BALCONY], lambda m: m.text == "200.00")
        balcony_s = time.monotonic() - sent
    # The plant stamps a command with its own time, which lags real time by up to a step (0.05 s) and a late
    # wake-up of its loop: the acknowledgement may come that much less than command_s after the publish.
    lag_s = 0.25
    assert command_s - lag_s <= roof_s < balcony_s
    assert balcony_s >= 2 * command_s - lag_s  # served after the roof's command was acknowledged
    assert "100.00" not in [m.text for m in probe.on(readbacks[BALCONY])]
