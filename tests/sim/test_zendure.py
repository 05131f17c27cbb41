"""The Zendure emulator over real HTTP: zenSDK paths and shapes, writes move the plant's battery and its grid.

Shapes per github.com/Zendure/zenSDK (docs/openapi.yaml, docs/en_properties.md, commit f7858bf).
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from zeropower.sim.plant import Plant
from zeropower.sim.settings import (
    BatterySettings,
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    SimSettings,
    ZendureSettings,
)
from zeropower.sim.zendure import ZendureEmulator

SERIAL = "HOA1NAH4N230123"


def battery_plant(soc_pct: float = 50.0) -> Plant:
    return Plant(
        SimSettings(
            load=LoadSettings(base_w=300, noise_w=0, appliances=[]),
            pv=ConstantPv(power_w=0, clouds=CloudSettings(per_hour=0)),
            inverters=[InverterSettings(serial="114182912345", name="roof", max_w=800)],
            battery=BatterySettings(soc_pct=soc_pct, dead_time_s=0, ramp_w_per_s=100_000),
        )
    )


def run(plant: Plant, seconds: float, dt_s: float = 0.1) -> None:
    for _ in range(round(seconds / dt_s)):
        plant.step(dt_s)


@pytest.fixture
def plant() -> Plant:
    return battery_plant()


@pytest.fixture
async def device(plant: Plant) -> AsyncIterator[httpx.AsyncClient]:
    emulator = ZendureEmulator(plant, ZendureSettings(port=0, serial=SERIAL))
    await emulator.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{emulator.port}", timeout=5) as client:
            yield client
    finally:
        await emulator.stop()


def write(properties: dict, sn: str = SERIAL) -> dict:
    return {"sn": sn, "properties": properties}


async def test_report_has_the_documented_shape(device):
    report = (await device.get("/properties/report")).json()
    assert {"timestamp", "messageId", "sn", "version", "product", "properties", "packData"} <= report.keys()
    assert report["sn"] == SERIAL
    properties = report["properties"]
    assert properties["electricLevel"] == 50
    for key in ("gridInputPower", "outputHomePower", "acMode", "inputLimit", "outputLimit", "packState"):
        assert isinstance(properties[key], int)
    assert report["packData"][0]["socLevel"] == 50


async def test_a_discharge_write_feeds_the_house_and_lowers_the_grid(device, plant):
    grid_before = plant.grid_w
    answer = await device.post("/properties/write", json=write({"acMode": 2, "outputLimit": 250, "inputLimit": 0}))
    assert answer.status_code == 200
    assert answer.json()["success"] is True
    run(plant, 2)
    assert plant.battery_w == pytest.approx(-250)
    assert plant.grid_w == pytest.approx(grid_before - 250)
    properties = (await device.get("/properties/report")).json()["properties"]
    assert (properties["outputHomePower"], properties["gridInputPower"], properties["packState"]) == (250, 0, 2)


async def test_a_charge_write_adds_to_the_load(device, plant):
    grid_before = plant.grid_w
    await device.post("/properties/write", json=write({"acMode": 1, "inputLimit": 400, "outputLimit": 0}))
    run(plant, 2)
    assert plant.battery_w == pytest.approx(400)
    assert plant.grid_w == pytest.approx(grid_before + 400)
    assert plant.battery is not None
    assert plant.battery.soc_pct > 50


@pytest.mark.parametrize(
    "body",
    [
        write({"acMode": 2, "outputLimit": 100}, sn="OTHER"),
        write({"acMode": 3}),
        write({"outputLimit": -5}),
        write({"outputLimit": 100.5}),
        write({"outputLimit": True}),
        write({"gridStandard": 1}),
        {"properties": {"acMode": 2}},
    ],
)
async def test_bad_writes_are_refused_and_change_nothing(device, plant, body):
    answer = await device.post("/properties/write", json=body)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    run(plant, 1)
    assert plant.battery_w == 0


async def test_a_request_beyond_512_bytes_is_refused(device):
    answer = await device.post("/properties/write", content=b'{"sn": "' + b"x" * 600 + b'"}')
    assert answer.status_code == 413


def test_the_grid_balance_counts_the_battery_on_its_phase():
    plant = battery_plant()
    assert plant.battery is not None
    plant.battery.command(-300, plant.now_s)
    run(plant, 3)
    assert sum(plant.phase_grid_w) == pytest.approx(plant.grid_w)
    assert plant.grid_w == pytest.approx(plant.load_w - plant.output_w - 300)
