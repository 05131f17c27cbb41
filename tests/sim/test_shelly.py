"""The Shelly Pro 3EM emulator over real HTTP: documented keys, values from the plant, Digest and Basic auth."""

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from zeropower.sim.plant import Plant
from zeropower.sim.settings import (
    CloudSettings,
    ConstantPv,
    InverterSettings,
    LoadSettings,
    ShellySettings,
    SimSettings,
)
from zeropower.sim.shelly import ShellyEmulator

PASSWORD = "s3cret"
DEVICE_ID = "shellypro3em-aabbccddeeff"


@pytest.fixture
def plant() -> Plant:
    settings = SimSettings(
        load=LoadSettings(base_w=1000, noise_w=0, appliances=[]),
        pv=ConstantPv(power_w=0, clouds=CloudSettings(per_hour=0)),
        inverters=[InverterSettings(serial="114182912345", name="roof", max_w=800)],
    )
    plant = Plant(settings)
    for _ in range(36):
        plant.step(100.0)  # one hour at 1000 W import
    return plant


async def serve(plant: Plant, password: str | None) -> AsyncIterator[httpx.AsyncClient]:
    settings = ShellySettings(port=0, password=password, device_id=DEVICE_ID, noise_w=0)
    emulator = ShellyEmulator(plant, settings, random.Random(1))
    await emulator.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{emulator.port}", timeout=5) as client:
            yield client
    finally:
        await emulator.stop()


@pytest.fixture
async def open_meter(plant: Plant) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(plant, None):
        yield client


@pytest.fixture
async def locked_meter(plant: Plant) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(plant, PASSWORD):
        yield client


async def test_em_get_status_has_the_pro_3em_keys_and_the_plants_grid_power(open_meter, plant):
    response = await open_meter.get("/rpc/EM.GetStatus", params={"id": 0})
    assert response.status_code == 200
    status = response.json()
    for phase in "abc":
        for key in ("current", "voltage", "act_power", "aprt_power", "pf", "freq"):
            assert isinstance(status[f"{phase}_{key}"], float)
        assert 225 < status[f"{phase}_voltage"] < 235
        assert 0 < status[f"{phase}_pf"] <= 1
    assert {"id", "n_current", "total_current", "total_act_power", "total_aprt_power"} <= status.keys()
    assert status["total_act_power"] == pytest.approx(plant.grid_w, abs=0.01)
    assert [status["a_act_power"], status["b_act_power"], status["c_act_power"]] == [450, 350, 200]
    assert status["a_current"] == pytest.approx(status["a_aprt_power"] / status["a_voltage"], abs=0.01)


async def test_the_reading_follows_the_plant_at_each_request(open_meter, plant):
    plant.set_load_w(0)
    plant.set_pv_w(1000)
    for _ in range(200):
        plant.step(0.1)
    status = (await open_meter.get("/rpc/EM.GetStatus?id=0")).json()
    assert status["total_act_power"] == pytest.approx(-800)
    assert status["a_act_power"] == pytest.approx(-800)
    assert status["a_pf"] < 0  # exporting


async def test_emdata_counters_in_wh(open_meter):
    status = (await open_meter.get("/rpc/EMData.GetStatus?id=0")).json()
    assert status["total_act"] == pytest.approx(1000)
    assert status["total_act_ret"] == 0
    assert status["a_total_act_energy"] == pytest.approx(450)
    assert status["c_total_act_ret_energy"] == 0


async def test_wrong_component_id_is_an_rpc_error(open_meter):
    response = await open_meter.get("/rpc/EM.GetStatus?id=1")
    assert response.status_code == 400
    assert response.json()["code"] == -105
    assert (await open_meter.get("/rpc/EM.GetStatus")).json()["code"] == -103


async def test_device_info_tells_gen_and_auth(open_meter, locked_meter):
    info = (await open_meter.get("/shelly")).json()
    assert (info["gen"], info["id"], info["auth_en"], info["app"]) == (2, DEVICE_ID, False, "Pro3EM")
    locked = await locked_meter.get("/shelly")  # /shelly never needs auth
    assert locked.status_code == 200
    assert (locked.json()["auth_en"], locked.json()["auth_domain"]) == (True, DEVICE_ID)


async def test_gen1_status_has_the_3em_keys(open_meter, plant):
    status = (await open_meter.get("/status")).json()
    assert len(status["emeters"]) == 3
    for meter in status["emeters"]:
        assert set(meter) == {"power", "pf", "current", "voltage", "is_valid", "total", "total_returned"}
        assert meter["is_valid"] is True
    assert status["total_power"] == pytest.approx(plant.grid_w, abs=0.01)
    assert status["emeters"][0]["total"] == pytest.approx(450)


async def test_gen2_needs_digest_auth_with_the_right_password(locked_meter):
    challenge = await locked_meter.get("/rpc/EM.GetStatus?id=0")
    assert challenge.status_code == 401
    header = challenge.headers["WWW-Authenticate"]
    assert header.startswith("Digest ")
    for part in ('qop="auth"', f'realm="{DEVICE_ID}"', "algorithm=SHA-256", 'nonce="'):
        assert part in header

    good = httpx.DigestAuth("admin", PASSWORD)
    for path in ("/rpc/EM.GetStatus?id=0", "/rpc/EMData.GetStatus?id=0"):
        assert (await locked_meter.get(path, auth=good)).status_code == 200
    for user, password in (("admin", "wrong"), ("root", PASSWORD)):
        response = await locked_meter.get("/rpc/EM.GetStatus?id=0", auth=httpx.DigestAuth(user, password))
        assert response.status_code == 401


async def test_digest_response_for_another_uri_is_rejected(locked_meter):
    signed = await locked_meter.get("/rpc/EMData.GetStatus?id=0", auth=httpx.DigestAuth("admin", PASSWORD))
    authorization = signed.request.headers["Authorization"]
    replayed = await locked_meter.get("/rpc/EM.GetStatus?id=0", headers={"Authorization": authorization})
    assert replayed.status_code == 401


async def test_gen1_status_needs_basic_auth(locked_meter):
    assert (await locked_meter.get("/status")).status_code == 401
    assert (await locked_meter.get("/status", auth=("admin", "wrong"))).status_code == 401
    assert (await locked_meter.get("/status", auth=("admin", PASSWORD))).status_code == 200
