"""The zendure driver against the simulator's Zendure emulator over real HTTP, and against hostile answers.

Protocol facts from github.com/Zendure/zenSDK (README.md, docs/en_properties.md, docs/openapi.yaml, commit
f7858bf) and the official integration github.com/Zendure/Zendure-HA (custom_components/zendure_ha/device.py,
ZendureZenSdk.charge/discharge: acMode 1 + inputLimit to charge, acMode 2 + outputLimit to discharge).
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from tests.sim.test_zendure import SERIAL, battery_plant, run
from zeropower.actuator_battery.drivers.base import BatteryError
from zeropower.actuator_battery.drivers.zendure import ZendureBattery, ZendureConfig
from zeropower.sim.plant import Plant
from zeropower.sim.settings import ZendureSettings
from zeropower.sim.zendure import ZendureEmulator


@pytest.fixture
def plant() -> Plant:
    return battery_plant(soc_pct=60)


@pytest.fixture
async def emulator(plant: Plant) -> AsyncIterator[ZendureEmulator]:
    device = ZendureEmulator(plant, ZendureSettings(port=0, serial=SERIAL))
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


def config(port: int, serial: str = SERIAL, timeout_s: float = 2.0) -> ZendureConfig:
    return ZendureConfig(type="zendure", url=f"http://127.0.0.1:{port}", serial=serial, timeout_s=timeout_s)


@pytest.fixture
async def driver(emulator: ZendureEmulator) -> AsyncIterator[ZendureBattery]:
    battery = ZendureBattery(config(emulator.port))
    try:
        yield battery
    finally:
        await battery.close()


async def test_read_gives_soc_power_and_setpoint(driver, plant):
    reading = await driver.read()
    assert (reading.soc_pct, reading.power_w, reading.setpoint_w) == (60, 0, 0)


async def test_discharge_is_acmode_2_with_output_limit_and_shows_as_negative_power(driver, emulator, plant):
    await driver.set_power(-350)
    assert emulator.writes[-1] == {"acMode": 2, "outputLimit": 350, "inputLimit": 0, "smartMode": 1}
    run(plant, 2)
    reading = await driver.read()
    assert (reading.power_w, reading.setpoint_w) == (-350, -350)
    assert plant.battery_w == pytest.approx(-350)


async def test_charge_is_acmode_1_with_input_limit_and_shows_as_positive_power(driver, emulator, plant):
    await driver.set_power(420.4)
    assert emulator.writes[-1] == {"acMode": 1, "inputLimit": 420, "outputLimit": 0, "smartMode": 1}
    run(plant, 2)
    reading = await driver.read()
    assert (reading.power_w, reading.setpoint_w) == (420, 420)


async def test_zero_and_release_idle_the_battery_release_in_flash(driver, emulator, plant):
    await driver.set_power(-200)
    await driver.set_power(0)
    assert emulator.writes[-1] == {"acMode": 2, "outputLimit": 0, "inputLimit": 0, "smartMode": 1}
    await driver.release()
    assert emulator.writes[-1] == {"acMode": 2, "outputLimit": 0, "inputLimit": 0, "smartMode": 0}
    run(plant, 2)
    assert plant.battery_w == 0


async def test_a_wrong_serial_is_a_refused_write_and_a_foreign_report(emulator):
    battery = ZendureBattery(config(emulator.port, serial="OTHER123"))
    try:
        with pytest.raises(BatteryError, match="HTTP 400"):
            await battery.set_power(-100)
        with pytest.raises(BatteryError, match="not OTHER123"):
            await battery.read()
    finally:
        await battery.close()


async def test_an_absent_device_is_a_battery_error_not_a_crash(emulator):
    port = emulator.port
    await emulator.stop()
    battery = ZendureBattery(config(port))
    try:
        with pytest.raises(BatteryError, match=r"failed|no answer"):
            await battery.read()
        with pytest.raises(BatteryError):
            await battery.set_power(-100)
    finally:
        await battery.close()


def report(**properties: object) -> dict:
    base = {"electricLevel": 50, "gridInputPower": 0, "outputHomePower": 0, "acMode": 2, "outputLimit": 0}
    return {"sn": SERIAL, "properties": base | properties}


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (report(electricLevel=101), "electricLevel 101 is outside"),
        (report(electricLevel=-1), "outside"),
        (report(electricLevel=50.5), "not an integer"),
        (report(electricLevel="50"), "not an integer"),
        (report(electricLevel=True), "not an integer"),
        (report(electricLevel=None), "not an integer"),
        (report(outputHomePower=10**308), "outside"),
        (report(gridInputPower=-5), "outside"),
        (report(acMode=7), "acMode 7"),
        ({"sn": SERIAL, "properties": []}, "no 'properties'"),
        ([1, 2], "not a JSON object"),
        ("NaN", "not a JSON object: nan"),
        ("{broken", "not JSON"),
    ],
)
async def test_garbage_in_a_report_is_a_battery_error_naming_it(answer, cause):
    async def handler(_: web.Request) -> web.Response:
        text = answer if isinstance(answer, str) else None
        return web.Response(text=text) if text is not None else web.json_response(answer)

    app = web.Application()
    app.router.add_get("/properties/report", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    battery = ZendureBattery(config(port))
    try:
        with pytest.raises(BatteryError, match=cause):
            await battery.read()
    finally:
        await battery.close()
        await runner.cleanup()


async def test_a_device_that_never_answers_times_out():
    async def hang(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/properties/report", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    battery = ZendureBattery(config(runner.addresses[0][1], timeout_s=0.3))
    try:
        with pytest.raises(BatteryError, match=r"within 0\.3 s"):
            await battery.read()
    finally:
        await battery.close()
        await runner.cleanup()


def test_config_rejects_a_bad_serial_and_a_write_interval_below_a_second():
    with pytest.raises(ValueError, match="serial"):
        ZendureConfig(type="zendure", url="http://x", serial="a b")
    with pytest.raises(ValueError, match="min_write_interval_s"):
        ZendureConfig(type="zendure", url="http://x", serial="A1", min_write_interval_s=0.1)
    assert isinstance(httpx.URL(str(config(80).url)), httpx.URL)
