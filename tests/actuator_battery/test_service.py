"""The battery actuator against a real Mosquitto and the Zendure emulator over real HTTP, the plant stepping.

Timings are shortened (discharge timeout 1.5 s, charge timeout 4 s, a write at most every 1 s) so the rules
show within seconds; each is the same rule as with the product's 10 s / 45 s / 4 s.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.helpers import MqttProbe, service_running, wait_until
from tests.sim.test_zendure import SERIAL, battery_plant
from zeropower.actuator_battery.service import run
from zeropower.actuator_battery.settings import ActuatorBatteryServiceSettings
from zeropower.shared.messages import ActuatorAnnouncement, ActuatorState, DeviceState, SetpointCommand
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics
from zeropower.sim.broker import free_port
from zeropower.sim.plant import Plant
from zeropower.sim.service import run_plant
from zeropower.sim.settings import ZendureSettings
from zeropower.sim.zendure import ZendureEmulator

ACTUATOR = "battery"
DEVICE = "zendure1"
DISCHARGE_TIMEOUT_S = 1.5
CHARGE_TIMEOUT_S = 4.0


class Device:
    """The emulated Zendure on a fixed port, which a test can take off the network and bring back."""

    def __init__(self, plant: Plant, port: int) -> None:
        self.plant = plant
        self.port = port
        self.emulator = ZendureEmulator(plant, ZendureSettings(port=port, serial=SERIAL))

    async def start(self) -> None:
        await self.emulator.start()

    async def stop(self) -> None:
        await self.emulator.stop()

    async def back(self) -> None:
        """Answer again, with the state it kept (a Wi-Fi outage: the device went on with its last setpoint)."""
        kept = self.emulator
        self.emulator = ZendureEmulator(self.plant, ZendureSettings(port=self.port, serial=SERIAL))
        self.emulator.properties = kept.properties
        await self.emulator.start()

    @property
    def battery_w(self) -> float:
        return self.plant.battery_w


@pytest.fixture
async def device() -> AsyncIterator[Device]:
    plant = battery_plant(soc_pct=60)
    stop = asyncio.Event()
    stepping = asyncio.create_task(run_plant(plant, 0.05, stop))
    zendure = Device(plant, free_port())
    await zendure.start()
    try:
        yield zendure
    finally:
        stop.set()
        await stepping
        await zendure.stop()


def make_settings(mqtt_settings: MqttSettings, device: Device, **actuator) -> ActuatorBatteryServiceSettings:
    battery = {
        "device_id": DEVICE,
        "name": "SolarFlow",
        "driver": {
            "type": "zendure",
            "url": f"http://127.0.0.1:{device.port}",
            "serial": SERIAL,
            "timeout_s": 0.5,
            "min_write_interval_s": 1,
        },
        "capacity_wh": 2000,
        "max_charge_w": 1000,
        "max_discharge_w": 800,
        "reserve_soc_pct": 10,
    }
    actuator = {
        "actuator_id": ACTUATOR,
        "batteries": [battery],
        "poll_interval_s": 0.2,
        "soc_stale_after_s": 1.0,
        "discharge_timeout_s": DISCHARGE_TIMEOUT_S,
        "charge_timeout_s": CHARGE_TIMEOUT_S,
    } | actuator
    return ActuatorBatteryServiceSettings(mqtt=mqtt_settings, actuator_battery=actuator)


@contextlib.asynccontextmanager
async def running(settings: ActuatorBatteryServiceSettings, probe: MqttProbe) -> AsyncIterator[Topics]:
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await probe.wait_for(topics.availability(f"actuator/{ACTUATOR}"), lambda m: m.text == "online")
        yield topics


async def send(probe: MqttProbe, topics: Topics, setpoint_w: float, **extra) -> None:
    command = SetpointCommand(setpoints_w={DEVICE: setpoint_w}, **extra)
    await probe.publish(topics.actuator_setpoints(ACTUATOR), command.model_dump_json())


def device_state(predicate: Callable[[DeviceState], bool]) -> Callable[[IncomingMessage], bool]:
    return lambda message: predicate(DeviceState.model_validate_json(message.payload))


def mode(name: str) -> Callable[[IncomingMessage], bool]:
    return lambda message: ActuatorState.model_validate_json(message.payload).mode == name


async def near(device: Device, power_w: float, timeout: float = 5.0) -> float:
    """Wait until the battery's power is within 5 W of ``power_w``; when it got there (monotonic)."""
    await wait_until(lambda: abs(device.battery_w - power_w) < 5, timeout=timeout)
    return time.monotonic()


async def test_announces_storage_and_follows_a_setpoint_reporting_soc_and_power(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        message = await probe.wait_for(topics.actuator_announce(ACTUATOR))
        announced = ActuatorAnnouncement.model_validate_json(message.payload).devices[0]
        assert (announced.kind, announced.min_w, announced.max_w) == ("storage", -800, 1000)
        assert announced.storage is not None
        assert (announced.storage.capacity_wh, announced.storage.min_soc_pct) == (2000, 10)
        await send(probe, topics, -300)
        await near(device, -300)
        state = await probe.wait_for_new(
            topics.device_state(ACTUATOR, DEVICE), device_state(lambda s: s.power_w == -300)
        )
        parsed = DeviceState.model_validate_json(state.payload)
        assert parsed.reachable
        assert parsed.producing
        assert parsed.soc_pct == pytest.approx(60, abs=1)
        assert parsed.limit_w == -300
        assert parsed.last_command_w == -300
        await probe.wait_for(topics.actuator_state(ACTUATOR), mode("following"))
        await send(probe, topics, 5000)  # beyond the charge limit
        await near(device, 1000)
        assert device.emulator.writes[-1] == {"acMode": 1, "inputLimit": 1000, "outputLimit": 0, "smartMode": 1}


async def test_when_setpoints_stop_a_discharge_ends_fast_and_a_charge_is_held_then_ends(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        await send(probe, topics, -300)
        last = time.monotonic()
        await near(device, -300)
        stopped = await near(device, 0, timeout=10)
        assert DISCHARGE_TIMEOUT_S - 0.1 <= stopped - last <= DISCHARGE_TIMEOUT_S + 2.5
        await probe.wait_for(topics.actuator_state(ACTUATOR), mode("fail-safe"))

        await send(probe, topics, 400)
        last = time.monotonic()
        await near(device, 400)
        await asyncio.sleep(0)  # the charge goes on past the discharge timeout:
        await wait_until(lambda: time.monotonic() - last > DISCHARGE_TIMEOUT_S + 1, timeout=10)
        assert device.battery_w == pytest.approx(400, abs=5)
        stopped = await near(device, 0, timeout=15)
        assert CHARGE_TIMEOUT_S - 0.1 <= stopped - last <= CHARGE_TIMEOUT_S + 2.5


async def test_an_unreachable_battery_is_reported_and_set_to_zero_when_it_answers_again(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        await send(probe, topics, -300)
        await near(device, -300)
        await device.stop()  # off the network: it goes on discharging by itself
        state = await probe.wait_for_new(
            topics.device_state(ACTUATOR, DEVICE), device_state(lambda s: not s.reachable), timeout=5
        )
        assert DeviceState.model_validate_json(state.payload).soc_pct is None
        await probe.wait_for(topics.actuator_state(ACTUATOR), mode("fail-safe"))
        for _ in range(4):  # the controller goes on asking for -300 W during the outage
            await send(probe, topics, -300)
            await asyncio.sleep(0.2)
        assert device.battery_w == pytest.approx(-300, abs=5)
        await device.back()  # within the discharge timeout of the last setpoint
        await near(device, 0)
        # the first write after the outage is 0 W: the setpoint from before it is not replayed
        assert device.emulator.writes[0] == {"acMode": 2, "outputLimit": 0, "inputLimit": 0, "smartMode": 1}
        await probe.wait_for_new(topics.device_state(ACTUATOR, DEVICE), device_state(lambda s: s.reachable))
        await send(probe, topics, -200)  # a new setpoint is followed
        await near(device, -200)


async def test_junk_on_the_set_topic_is_logged_once_and_the_loop_goes_on(mqtt_settings, probe, device, caplog):
    caplog.set_level(logging.INFO)
    settings = make_settings(mqtt_settings, device)
    topics = Topics(settings.mqtt.topic_prefix)
    set_topic = topics.actuator_setpoints(ACTUATOR)
    await probe.publish(set_topic, SetpointCommand(setpoints_w={DEVICE: -500}).model_dump_json(), retain=True)
    async with running(settings, probe):
        for junk in (
            "not json",
            '{"setpoints_w": {"zendure1": NaN}}',
            '{"setpoints_w": {"zendure1": 1e308}}',
            '{"setpoints_w": {"zendure1": "-300"}}',
            '{"setpoints_w": {"zendure1": true}}',
            '{"setpoints_w": [1, 2]}',
            b"\xff\xfe",
            "",
        ):
            await probe.publish(set_topic, junk)
        await send(probe, topics, -250)  # and the loop goes on
        await near(device, -250)
    assert all(write.get("outputLimit") != 500 for write in device.emulator.writes)  # the retained one ignored
    assert "ignoring a retained message" in caplog.text
    assert caplog.text.count("setpoints: ") == 1  # one line a minute, however much junk


async def test_writes_respect_the_drivers_interval(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        for step in range(30):
            await send(probe, topics, -100 - 10 * step)
            await asyncio.sleep(0.1)  # the controller's cadence: a setpoint every 0.1 s, 3 s long
        await near(device, -390)
    times = device.emulator.written_at
    assert len(times) >= 2
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.95


async def test_sigterm_sets_zero_and_a_restart_adopts_no_discharge(mqtt_settings, probe, device):
    settings = make_settings(mqtt_settings, device)
    async with running(settings, probe) as topics:
        await send(probe, topics, -300)
        await near(device, -300)
    await near(device, 0)  # the stop wrote 0 W
    assert device.emulator.writes[-1] == {"acMode": 2, "outputLimit": 0, "inputLimit": 0, "smartMode": 1}

    assert device.plant.battery is not None
    device.plant.battery.command(-450, device.plant.now_s)  # someone else (the app) set a discharge
    await near(device, -450)
    async with running(settings, probe) as topics:
        started = time.monotonic()
        await near(device, 0)  # found discharging, no setpoint: 0 at once, not after the timeout
        assert time.monotonic() - started < DISCHARGE_TIMEOUT_S
        await probe.wait_for(
            topics.actuator_state(ACTUATOR), lambda m: "found discharging 450 W" in json.loads(m.payload)["reason"]
        )


async def test_a_charge_found_at_start_is_held_until_the_charge_timeout(mqtt_settings, probe, device):
    assert device.plant.battery is not None
    device.plant.battery.command(350, device.plant.now_s)
    await near(device, 350)
    async with running(make_settings(mqtt_settings, device), probe):
        started = time.monotonic()
        stopped = await near(device, 0, timeout=15)
    assert CHARGE_TIMEOUT_S - 0.1 <= stopped - started <= CHARGE_TIMEOUT_S + 2.5


async def test_a_setpoint_the_device_lost_is_written_again(mqtt_settings, probe, device):
    # A reboot restores the device's flash values (smartMode 1 writes are RAM only, zenSDK en_properties.md).
    async with running(make_settings(mqtt_settings, device), probe) as topics:

        async def controller() -> None:
            while True:
                await send(probe, topics, -300)
                await asyncio.sleep(0.3)  # the controller's cadence, not a synchronisation

        task = asyncio.create_task(controller())
        try:
            await near(device, -300)
            writes = len(device.emulator.writes)
            device.emulator.properties.update(acMode=2, outputLimit=0, inputLimit=0)  # rebooted: flash values
            assert device.plant.battery is not None
            device.plant.battery.command(0, device.plant.now_s)
            await near(device, 0)
            await near(device, -300)  # written again
            assert len(device.emulator.writes) == writes + 1
        finally:
            task.cancel()
