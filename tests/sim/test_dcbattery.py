"""The battery-powered Hoymiles emulator: the model stepped in simulated time, then over a real Mosquitto with the
production opendtu battery driver reading and commanding it unchanged."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.helpers import MqttProbe, wait_until
from zeropower.actuator_battery.drivers.opendtu import OpenDtuBattery, OpenDtuBatteryConfig
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.sim.dcbattery import BmsPublisher
from zeropower.sim.opendtu import OpenDtuEmulator
from zeropower.sim.plant import Plant
from zeropower.sim.service import run_plant
from zeropower.sim.settings import (
    BatteryInverterSettings,
    BatterySettings,
    CloudSettings,
    ConstantPv,
    LoadSettings,
    OpenDtuSettings,
    SimSettings,
)

SERIAL = "116180000001"


def dc_plant(soc_pct: float = 60.0, solar_w: float | None = None, capacity_wh: float = 2000.0) -> Plant:
    return Plant(
        SimSettings(
            load=LoadSettings(base_w=300, noise_w=0, appliances=[]),
            pv=ConstantPv(power_w=0, clouds=CloudSettings(per_hour=0)),
            battery=BatterySettings(
                protocol="opendtu", soc_pct=soc_pct, capacity_wh=capacity_wh, empty_pct=5, round_trip_efficiency=1
            ),
            battery_inverter=BatteryInverterSettings(
                persistent_limit_w=800,
                dead_time_s=1.0,
                ramp_w_per_s=100,
                start_ramp_w_per_s=10,
                solar_w=solar_w,
                bms_interval_s=0.2,
            ),
            opendtu=OpenDtuSettings(command_s=0.5, publish_interval_s=0.2),
        )
    )


def run_for(plant: Plant, seconds: float) -> None:
    for _ in range(round(seconds / 0.1)):
        plant.step(0.1)


def test_it_follows_a_limit_after_its_dead_time_at_its_ramp_and_the_battery_pays():
    plant = dc_plant()
    inverter = plant.battery_inverter
    assert inverter is not None
    run_for(plant, 20)  # its persistent limit: the whole 800 W, from the battery
    assert plant.battery_w == pytest.approx(-800)
    inverter.command_limit(300, plant.now_s)
    run_for(plant, 0.9)
    assert plant.battery_w == pytest.approx(-800)  # dead time
    run_for(plant, 1.1)
    assert -800 < plant.battery_w < -300  # ramping down at 100 W/s
    run_for(plant, 5)
    assert plant.battery_w == pytest.approx(-300)
    assert plant.grid_w == pytest.approx(300 - 300, abs=1)  # the 300 W load covered
    inverter.command_limit(1, plant.now_s)
    run_for(plant, 10)
    assert plant.battery_w == pytest.approx(-16)  # the protocol floor: 2 % of 800 W, it still feeds
    assert plant.battery is not None
    assert plant.battery.power_w == pytest.approx(-16 / 0.955)  # DC drawn from the cells


def test_switched_off_it_feeds_nothing_and_switched_on_it_soft_starts():
    plant = dc_plant()
    inverter = plant.battery_inverter
    assert inverter is not None
    inverter.command_limit(400, plant.now_s)
    run_for(plant, 20)
    inverter.command_power(False, plant.now_s)
    run_for(plant, 1.1)
    assert (plant.battery_w, inverter.producing) == (0, False)
    inverter.command_power(True, plant.now_s)
    run_for(plant, 3)
    assert -25 < plant.battery_w < 0  # 10 W/s after its dead time
    run_for(plant, 40)
    assert plant.battery_w == pytest.approx(-400)


def test_dc_solar_charges_the_battery_and_an_empty_battery_passes_only_the_solar():
    plant = dc_plant(soc_pct=50, solar_w=500)
    inverter = plant.battery_inverter
    assert inverter is not None
    assert plant.battery is not None
    inverter.command_limit(200, plant.now_s)
    run_for(plant, 20)
    assert plant.battery.power_w == pytest.approx(500 - 200 / 0.955)  # the rest of the sun charges it
    empty = dc_plant(soc_pct=5, solar_w=300)
    run_for(empty, 20)  # limit 800 W, the BMS cut off: only the sun's 300 W DC goes through
    assert empty.battery_w == pytest.approx(-300 * 0.955)
    assert empty.battery is not None
    assert empty.battery.soc_pct == pytest.approx(5, abs=0.01)  # at its cut-off, give or take a step


@pytest.fixture
async def emulated(mqtt_settings: MqttSettings) -> AsyncIterator[tuple[Plant, OpenDtuBattery, BmsPublisher]]:
    plant = dc_plant(soc_pct=60, solar_w=100)
    stop = asyncio.Event()
    dtu_bus = MqttBus(mqtt_settings, client_id="sim-dtu", availability_topic="solar/dtu/status")
    dtu = OpenDtuEmulator(plant, dtu_bus, OpenDtuSettings(command_s=0.5, publish_interval_s=0.2))
    assert plant.battery_inverter is not None
    bms = BmsPublisher(plant.battery_inverter, dtu_bus)
    bus = MqttBus(mqtt_settings, client_id="driver", availability_topic="test/driver/availability")
    driver = OpenDtuBattery(
        OpenDtuBatteryConfig(
            type="opendtu",
            serial=SERIAL,
            nameplate_w=800,
            soc={"topic": "daly_bms", "path": "soc_percent"},
            voltage={"topic": "daly_bms", "path": "total_voltage"},
            solar={"topic": "victron/mppt/power"},
        ),
        bus,
    )
    tasks = [
        asyncio.create_task(run_plant(plant, 0.05, stop)),
        asyncio.create_task(dtu.run(stop)),
        asyncio.create_task(bms.run(stop)),
        asyncio.create_task(bus.run(stop)),
    ]
    try:
        yield plant, driver, bms
    finally:
        stop.set()
        await driver.close()
        await asyncio.gather(*tasks)


async def test_the_production_driver_reads_and_drives_the_emulator(emulated, probe: MqttProbe):
    plant, driver, _ = emulated
    await wait_until(lambda: _readable(driver), timeout=10)
    reading = await driver.read()
    assert plant.battery is not None
    assert reading.soc_pct == pytest.approx(plant.battery.soc_pct, abs=0.2)
    assert reading.voltage_v == pytest.approx(54.0 - 8.0 * 0.4, abs=0.2)
    assert reading.solar_w == pytest.approx(100, abs=1)
    bms = await probe.wait_for("daly_bms", timeout=5)
    assert set(json.loads(bms.payload)) == {"total_voltage", "current", "soc_percent"}  # daly-bms-cli --soc
    await driver.set_power(-300)
    await wait_until(lambda: abs(plant.battery_w + 300) < 2, timeout=15)
    await driver.set_power(0, standby=True)
    await wait_until(lambda: plant.battery_w == 0, timeout=5)
    await wait_until(lambda: driver._inverter["producing"].value == 0, timeout=5)
    await driver.set_power(-200)
    await wait_until(lambda: plant.battery_w < -5, timeout=5)  # switched on again: a soft start
    assert plant.battery_w > -200


async def test_the_bms_bridge_falls_silent_and_the_reading_ages(emulated):
    _, driver, bms = emulated
    await wait_until(lambda: _readable(driver), timeout=10)
    bms.publishing = False
    first = (await driver.read()).measured_at
    await asyncio.sleep(1.0)  # the inverter keeps publishing every 0.2 s; the BMS does not
    assert (await driver.read()).measured_at == pytest.approx(first, abs=0.3)


def _readable(driver: OpenDtuBattery) -> bool:
    """Every value the driver needs has arrived live (the limit read-back aside)."""
    values = [*(driver._inverter[name] for name in ("power", "reachable", "producing")), *driver._bms.values()]
    return all(value.value is not None for value in values)
