"""The battery actuator against a real Mosquitto and the Marstek Venus emulator over real UDP, the plant stepping.

Timings are shortened as in test_service.py (discharge timeout 1.5 s, charge timeout 4 s) and the device's
countdowns fitted to them as the settings demand (a discharge's 1 s at most the discharge timeout, a charge's
4 s at least the charge timeout); each is the same rule as with the product's 10 s / 45 s.
"""

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import ValidationError

from tests.actuator_battery.test_service import ACTUATOR, CHARGE_TIMEOUT_S, DISCHARGE_TIMEOUT_S, device_state, mode
from tests.helpers import MqttProbe, service_running, wait_until
from tests.sim.test_zendure import battery_plant
from zeropower.actuator_battery.service import run
from zeropower.actuator_battery.settings import ActuatorBatteryServiceSettings, ActuatorBatterySettings
from zeropower.shared.messages import ActuatorAnnouncement, SetpointCommand
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics
from zeropower.sim.marstek import MarstekVenusEmulator
from zeropower.sim.plant import Plant
from zeropower.sim.service import run_plant
from zeropower.sim.settings import MarstekEmulatorSettings

DEVICE = "venus1"
DISCHARGE_COUNTDOWN_S = 1
COUNTDOWN_S = 4


class Device:
    """The emulated Marstek Venus on a free UDP port, backed by a plant stepping in real time."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        assert plant.battery is not None
        self.emulator = MarstekVenusEmulator(plant.battery, MarstekEmulatorSettings(port=0), clock=lambda: plant.now_s)

    @property
    def battery_w(self) -> float:
        return self.plant.battery_w

    def countdown_left_s(self) -> float:
        """Time until the device drops the power by itself (0 when no countdown runs)."""
        ends = self.emulator.countdown_ends
        return 0.0 if ends is None else ends - self.plant.now_s


@pytest.fixture
async def device() -> AsyncIterator[Device]:
    plant = battery_plant(soc_pct=60)
    stop = asyncio.Event()
    stepping = asyncio.create_task(run_plant(plant, 0.05, stop))
    venus = Device(plant)
    await venus.emulator.start()
    try:
        yield venus
    finally:
        stop.set()
        await stepping
        await venus.emulator.stop()


def battery_config(port: int, **driver) -> dict:
    return {
        "device_id": DEVICE,
        "name": "Venus E",
        "driver": {
            "type": "marstek_venus",
            "host": "127.0.0.1",
            "port": port,
            "local_port": 0,
            "timeout_s": 0.3,
            "request_gap_s": 0,
            "countdown_s": COUNTDOWN_S,
            "discharge_countdown_s": DISCHARGE_COUNTDOWN_S,
        }
        | driver,
        "capacity_wh": 2000,
        "max_charge_w": 1000,
        "max_discharge_w": 800,
    }


def actuator_config(port: int, **driver) -> dict:
    return {
        "actuator_id": ACTUATOR,
        "batteries": [battery_config(port, **driver)],
        "poll_interval_s": 0.2,
        "soc_stale_after_s": 1.0,
        "discharge_timeout_s": DISCHARGE_TIMEOUT_S,
        "charge_timeout_s": CHARGE_TIMEOUT_S,
    }


def make_settings(mqtt_settings: MqttSettings, device: Device) -> ActuatorBatteryServiceSettings:
    return ActuatorBatteryServiceSettings(mqtt=mqtt_settings, actuator_battery=actuator_config(device.emulator.port))


@contextlib.asynccontextmanager
async def running(settings: ActuatorBatteryServiceSettings, probe: MqttProbe) -> AsyncIterator[Topics]:
    topics = Topics(settings.mqtt.topic_prefix)
    async with service_running(run, settings):
        await probe.wait_for(topics.availability(f"actuator/{ACTUATOR}"), lambda m: m.text == "online")
        yield topics


async def send(probe: MqttProbe, topics: Topics, setpoint_w: float) -> None:
    await probe.publish(
        topics.actuator_setpoints(ACTUATOR), SetpointCommand(setpoints_w={DEVICE: setpoint_w}).model_dump_json()
    )


@contextlib.asynccontextmanager
async def controller(probe: MqttProbe, topics: Topics, setpoint_w: float) -> AsyncIterator[None]:
    """Send ``setpoint_w`` every 0.3 s for the block (the controller's cadence, not a synchronisation)."""

    async def keep_sending() -> None:
        while True:
            await send(probe, topics, setpoint_w)
            await asyncio.sleep(0.3)

    task = asyncio.create_task(keep_sending())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def near(device: Device, power_w: float, timeout: float = 5.0) -> float:
    """Wait until the battery's power is within 5 W of ``power_w``; when it got there (monotonic)."""
    await wait_until(lambda: abs(device.battery_w - power_w) < 5, timeout=timeout)
    return time.monotonic()


async def watch(seconds: float, check: Callable[[], None]) -> None:
    """Run ``check`` every 20 ms for ``seconds``: an invariant over a whole window, not one snapshot."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check()
        await asyncio.sleep(0.02)


async def test_a_setpoint_becomes_a_passive_power_and_the_state_reports_it(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        message = await probe.wait_for(topics.actuator_announce(ACTUATOR))
        announced = ActuatorAnnouncement.model_validate_json(message.payload).devices[0]
        assert (announced.kind, announced.min_w, announced.max_w) == ("storage", -800, 1000)
        assert announced.pacing is not None
        assert announced.pacing.refresh_interval_s == pytest.approx(DISCHARGE_COUNTDOWN_S / 3)
        await send(probe, topics, -300)
        await near(device, -300)
        assert (device.emulator.mode, device.emulator.device_power_w) == ("Passive", 300)  # the device's sign
        await probe.wait_for_new(
            topics.device_state(ACTUATOR, DEVICE),
            device_state(lambda s: s.power_w == -300 and s.limit_w == -300 and s.soc_pct is not None),
        )
        await probe.wait_for(topics.actuator_state(ACTUATOR), mode("following"))
        await send(probe, topics, 5000)  # beyond the charge limit
        await near(device, 1000)
        assert device.emulator.device_power_w == -1000


@pytest.mark.parametrize("setpoint_w", [400.0, -300.0])
async def test_a_constant_setpoint_keeps_the_devices_countdown_alive(mqtt_settings, probe, device, setpoint_w):
    countdown_s = COUNTDOWN_S if setpoint_w > 0 else DISCHARGE_COUNTDOWN_S
    async with running(make_settings(mqtt_settings, device), probe) as topics, controller(probe, topics, setpoint_w):
        await near(device, setpoint_w)
        written = len(device.emulator.requests)

        def following() -> None:
            assert device.emulator.mode == "Passive"
            assert device.battery_w == pytest.approx(setpoint_w, abs=5)
            assert device.countdown_left_s() > 0

        # Setpoints that do not change for twice the countdown: without a re-send the device drops the power.
        await watch(2 * countdown_s + 0.5, following)
    sets = device.emulator.requests[written:].count("ES.SetMode")
    assert sets >= 2 * 3 - 1  # about three re-sends per countdown


async def test_when_setpoints_stop_a_discharge_ends_fast_and_the_zero_is_kept(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics:
        async with controller(probe, topics, -300):
            await near(device, -300)
        last = time.monotonic()  # the last setpoint went out at most 0.3 s before
        stopped = await near(device, 0, timeout=10)
        assert stopped - last <= DISCHARGE_TIMEOUT_S + 1.0
        await probe.wait_for(topics.actuator_state(ACTUATOR), mode("fail-safe"))

        def held_at_zero_by_the_service() -> None:
            # the service's 0 W in Passive, re-sent: not the device's countdown handing it back to Auto
            assert (device.emulator.mode, device.emulator.device_power_w) == ("Passive", 0)
            assert abs(device.battery_w) < 5

        await watch(COUNTDOWN_S + 1, held_at_zero_by_the_service)


async def test_sigterm_sets_zero_in_passive(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics, controller(probe, topics, -300):
        await near(device, -300)
    await near(device, 0)  # the stop wrote 0 W
    assert (device.emulator.mode, device.emulator.device_power_w) == ("Passive", 0)
    assert device.countdown_left_s() > COUNTDOWN_S - 1  # a fresh 0 W command, not the discharge's countdown


async def test_sigterm_at_zero_sends_the_zero_again_for_a_full_countdown(mqtt_settings, probe, device):
    async with running(make_settings(mqtt_settings, device), probe) as topics, controller(probe, topics, 0):
        await wait_until(lambda: device.emulator.mode == "Passive", timeout=5)
        await wait_until(lambda: device.countdown_left_s() < COUNTDOWN_S - 0.5, timeout=5)  # partly run
        stopping_at = device.plant.now_s
    assert device.emulator.countdown_ends is not None
    assert device.emulator.countdown_ends >= stopping_at + COUNTDOWN_S  # a 0 W sent during the stop
    assert (device.emulator.mode, device.emulator.device_power_w) == ("Passive", 0)


async def test_a_device_that_left_passive_gets_the_power_again_before_the_keep_alive(
    mqtt_settings, probe, device, caplog
):
    # Another client (the Marstek app, Home Assistant) switches the device to Auto: it drops our power.
    actuator = actuator_config(device.emulator.port, countdown_s=30)  # keep-alive of a charge: every 10 s
    settings = ActuatorBatteryServiceSettings(mqtt=mqtt_settings, actuator_battery=actuator)
    async with running(settings, probe) as topics, controller(probe, topics, 400):
        await near(device, 400)
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with other:
            request = {
                "id": 1,
                "method": "ES.SetMode",
                "params": {"id": 0, "config": {"mode": "Auto", "auto_cfg": {"enable": 1}}},
            }
            other.sendto(json.dumps(request).encode(), ("127.0.0.1", device.emulator.port))
            await wait_until(lambda: device.emulator.mode == "Auto", timeout=5)
        left = time.monotonic()
        await near(device, 0)
        back = await near(device, 400, timeout=5)
        assert back - left < 3  # at the next read-back, not the 10 s keep-alive
    assert "holds no setpoint of ours, not the 400 W written" in caplog.text


@pytest.mark.parametrize(
    ("driver", "message"),
    [
        (
            {"discharge_countdown_s": 2},
            "batteries[0].driver.discharge_countdown_s (2 s) must not exceed discharge_timeout_s (1.5 s)",
        ),
        ({"countdown_s": 3}, "batteries[0].driver.countdown_s (3 s) must be at least charge_timeout_s (4 s)"),
    ],
)
def test_countdowns_that_would_outlast_or_undercut_the_service_are_refused(driver, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ActuatorBatterySettings.model_validate(actuator_config(30000, **driver))


def test_the_default_countdowns_fit_the_default_timeouts():
    settings = ActuatorBatterySettings.model_validate(
        {"batteries": [battery_config(30000) | {"driver": {"type": "marstek_venus", "host": "192.168.1.50"}}]}
    )
    driver = settings.batteries[0].driver
    assert (driver.discharge_countdown_s, settings.discharge_timeout_s) == (10, 10)
    assert (driver.countdown_s, settings.charge_timeout_s) == (45, 45)
