"""The Marstek Venus driver over real UDP sockets: against the emulator, against hostile raw servers, and against
replies captured from real devices.

Captures (payloads as the devices sent them; the request id is replaced by the one the driver sent):
- Venus E 3.0, firmware 144, ES.GetMode in Manual mode while charging ~500 W at 99 %: taurgis/has-marstek-local-api
  ``tests/test_issue_firmware_payloads.py`` ``test_issue_21_venus_e_144_getmode_has_no_ct_keys`` (from its issue 21).
- Venus A, firmware 147, ES.GetMode in Auto mode with the Rev 3.1 CT keys (zeros): the same file,
  ``test_issue_11_venus_a_147_getmode_zeros_do_not_clobber_live_em`` (from its issue 11).
- Venus E 3.0 ES.GetStatus error shape with ``data`` (observed 424): taurgis/has-marstek-local-api
  ``docs/marstek_device_openapi.MD`` §4.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from tests.helpers import wait_until
from zeropower.actuator_battery.drivers.base import BatteryDriver, BatteryError
from zeropower.actuator_battery.drivers.marstek_venus import MarstekVenusBattery, MarstekVenusSettings
from zeropower.sim.battery import BatteryModel
from zeropower.sim.marstek import MarstekVenusEmulator
from zeropower.sim.settings import BatterySettings, MarstekEmulatorSettings

#: Every failing call must end well within this (2 attempts x 0.3 s here), never hang.
BOUND_S = 5.0
SRC = "VenusE 3.0-a0b1c2d3e4f5"


def driver_settings(port: int, **overrides: Any) -> MarstekVenusSettings:
    values: dict[str, Any] = {
        "type": "marstek_venus",
        "host": "127.0.0.1",
        "port": port,
        "local_port": 0,  # 30000 may be taken on a shared machine; the device answers the sender's port
        "timeout_s": 0.3,
        "request_gap_s": 0.0,
    }
    return MarstekVenusSettings.model_validate(values | overrides)


# --- the emulated battery ----------------------------------------------------------------------------------------


@pytest.fixture
def model() -> BatteryModel:
    """A battery that follows at once (no dead time, a ramp faster than a step)."""
    return BatteryModel(BatterySettings(soc_pct=50.0, dead_time_s=0.0, ramp_w_per_s=100_000.0))


@pytest.fixture
async def emulator(model: BatteryModel) -> AsyncIterator[MarstekVenusEmulator]:
    """The emulator on a free port, its battery stepped in real time every 20 ms."""
    emulator = MarstekVenusEmulator(model, MarstekEmulatorSettings(port=0))
    await emulator.start()

    async def step() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            model.step(now, now - last)
            last = now

    stepper = asyncio.create_task(step())
    try:
        yield emulator
    finally:
        stepper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stepper
        await emulator.stop()


@contextlib.asynccontextmanager
async def connected(port: int, **overrides: Any) -> AsyncIterator[MarstekVenusBattery]:
    battery = MarstekVenusBattery(driver_settings(port, **overrides))
    try:
        yield battery
    finally:
        await battery.close()


@pytest.fixture
async def battery(emulator: MarstekVenusEmulator) -> AsyncIterator[MarstekVenusBattery]:
    async with connected(emulator.port) as driver:
        yield driver


def test_driver_satisfies_the_contract(battery: MarstekVenusBattery) -> None:
    driver: BatteryDriver = battery
    assert driver.min_write_interval_s == 0.0
    assert MarstekVenusBattery(driver_settings(1)).min_write_interval_s == 0.0
    assert MarstekVenusBattery(driver_settings(1, request_gap_s=2.0)).min_write_interval_s == 2.0


def test_the_countdown_a_power_gets_depends_on_its_direction() -> None:
    battery = MarstekVenusBattery(driver_settings(1, countdown_s=40, discharge_countdown_s=8))
    assert [battery.holds_for_s(w) for w in (-300.0, -0.6, -0.4, 0.0, 500.0)] == [8.0, 8.0, 40.0, 40.0, 40.0]


async def test_read_reports_soc_and_idle_power(battery: MarstekVenusBattery) -> None:
    before = time.monotonic()
    reading = await battery.read()
    assert before <= reading.measured_at <= time.monotonic()
    assert reading.soc_pct == 50.0
    assert reading.power_w == 0.0
    assert reading.setpoint_w is None  # Auto: no setpoint of ours in force
    assert battery.mode == "Auto"


@pytest.mark.parametrize("power_w", [600.0, -400.0, 0.0])
async def test_battery_follows_charge_discharge_and_idle(
    battery: MarstekVenusBattery, emulator: MarstekVenusEmulator, model: BatteryModel, power_w: float
) -> None:
    await battery.set_power(250.0)  # start from somewhere else, so 0 W must be commanded too
    await wait_until(lambda: model.power_w == 250.0, timeout=BOUND_S)
    await battery.set_power(power_w)
    await wait_until(lambda: model.power_w == power_w, timeout=BOUND_S)
    assert emulator.mode == "Passive"
    assert emulator.device_power_w == -power_w  # the device's positive is discharging
    reading = await battery.read()
    assert reading.power_w == power_w
    assert reading.setpoint_w == power_w


async def test_soc_moves_with_the_charge(battery: MarstekVenusBattery, model: BatteryModel) -> None:
    model.soc_pct = 61.6
    assert (await battery.read()).soc_pct == 62.0  # the device reports whole percent


async def test_countdown_runs_out_and_the_battery_idles(emulator: MarstekVenusEmulator, model: BatteryModel) -> None:
    async with connected(emulator.port, countdown_s=1, discharge_countdown_s=1) as battery:
        await battery.set_power(-500.0)
        await wait_until(lambda: model.power_w == -500.0, timeout=BOUND_S)
        assert (await battery.read()).setpoint_w == -500.0
        # No more commands: the device drops the power by itself and returns to its mode before Passive.
        await wait_until(lambda: emulator.mode == "Auto" and model.power_w == 0.0, timeout=BOUND_S)
        reading = await battery.read()
        assert reading.power_w == 0.0
        assert reading.setpoint_w is None


async def test_a_repeated_command_restarts_the_countdown(emulator: MarstekVenusEmulator, model: BatteryModel) -> None:
    async with connected(emulator.port, countdown_s=2, discharge_countdown_s=1) as battery:
        await battery.set_power(300.0)
        first_end = emulator.countdown_ends
        assert first_end is not None
        await wait_until(lambda: time.monotonic() > first_end - 1.0, timeout=BOUND_S)
        await battery.set_power(300.0)  # about 1 s before the first countdown would run out
        assert emulator.countdown_ends is not None
        assert emulator.countdown_ends > first_end
        await wait_until(lambda: time.monotonic() > first_end + 0.2, timeout=BOUND_S)
        assert emulator.mode == "Passive"
        assert model.power_w == 300.0
        assert (await battery.read()).setpoint_w == 300.0


async def test_release_hands_the_battery_back(
    battery: MarstekVenusBattery, emulator: MarstekVenusEmulator, model: BatteryModel
) -> None:
    await battery.set_power(700.0)
    await wait_until(lambda: model.power_w == 700.0, timeout=BOUND_S)
    await battery.release()
    assert emulator.mode == "Auto"
    assert emulator.countdown_ends is None
    await wait_until(lambda: model.power_w == 0.0, timeout=BOUND_S)  # the emulator's Auto has no meter: idle
    assert (await battery.read()).setpoint_w is None


async def test_release_to_ai(emulator: MarstekVenusEmulator) -> None:
    async with connected(emulator.port, release_mode="AI") as battery:
        await battery.set_power(100.0)
        await battery.release()
    assert emulator.mode == "AI"


async def test_a_device_that_left_passive_shows_no_setpoint(
    battery: MarstekVenusBattery, emulator: MarstekVenusEmulator
) -> None:
    """As reported in jaapp/ha-marstek-local-api issue 145: the device leaves Passive on its own."""
    await battery.set_power(400.0)
    assert (await battery.read()).setpoint_w == 400.0
    async with connected(emulator.port) as other_client:
        await other_client.release()
    reading = await battery.read()
    assert reading.setpoint_w is None
    assert battery.mode == "Auto"


async def test_sequential_commands_and_reads_keep_their_ids_apart(
    battery: MarstekVenusBattery, model: BatteryModel
) -> None:
    for power_w in (100.0, -100.0, 200.0, -200.0, 0.0):
        await battery.set_power(power_w)
        await wait_until(lambda p=power_w: model.power_w == p, timeout=BOUND_S)
        assert (await battery.read()).setpoint_w == power_w


def test_set_power_refuses_a_non_number() -> None:
    battery = MarstekVenusBattery(driver_settings(1))
    for bad in (math.nan, math.inf, 20_000.0):
        with pytest.raises(ValueError, match="power_w"):
            asyncio.run(battery.set_power(bad))


# --- the emulator's protocol on its own --------------------------------------------------------------------------


def ask(emulator: MarstekVenusEmulator, request: Any) -> dict[str, Any] | None:
    data = request if isinstance(request, bytes) else json.dumps(request).encode()
    return emulator.handle(data)


def test_emulator_speaks_the_documented_shapes(model: BatteryModel) -> None:
    emulator = MarstekVenusEmulator(model, MarstekEmulatorSettings(port=0))
    device = ask(emulator, {"id": 0, "method": "Marstek.GetDevice", "params": {"ble_mac": "0"}})
    assert device is not None
    assert device["src"] == SRC
    assert set(device["result"]) == {"device", "ver", "ble_mac", "wifi_mac", "wifi_name", "ip"}
    mode = ask(emulator, {"id": "zp-1", "method": "ES.GetMode", "params": {"id": 0}})
    assert mode == {
        "id": "zp-1",
        "src": SRC,
        "result": {"id": 0, "mode": "Auto", "ongrid_power": 0, "offgrid_power": 0, "bat_soc": 50},
    }
    status = ask(emulator, {"id": 2, "method": "ES.GetStatus", "params": {"id": 0}})
    assert status is not None
    assert "bat_power" not in status["result"]  # as Venus E firmware 144-150 leaves it out
    assert status["result"]["bat_cap"] == 2000
    bat = ask(emulator, {"id": 3, "method": "Bat.GetStatus", "params": {"id": 0}})
    assert bat is not None
    assert bat["result"]["soc"] == 50
    assert ask(emulator, {"id": 4, "method": "Marstek.GetDevice", "params": {"ble_mac": "001122334455"}}) is None


@pytest.mark.parametrize(
    ("request_data", "code", "reply_id"),
    [
        (b"{not json", -32700, None),
        (b'{"id": 1, "method": "ES.GetMode", "params": {"id": NaN}}', -32700, None),
        ([1, 2], -32600, None),
        ({"id": 7, "method": "ES.GetMode"}, -32600, 7),
        ({"id": True, "method": "ES.GetMode", "params": {"id": 0}}, -32600, None),
        ({"id": 8, "method": "PV.GetStatus", "params": {"id": 0}}, -32601, 8),
        ({"id": 9, "method": "ES.Explode", "params": {"id": 0}}, -32601, 9),
        ({"id": 10, "method": "ES.GetMode", "params": {"id": 3}}, -32602, 10),
        ({"id": 11, "method": "ES.SetMode", "params": {"id": 0}}, -32602, 11),
        ({"id": 12, "method": "ES.SetMode", "params": {"id": 0, "config": {"mode": "Turbo"}}}, -32602, 12),
        (
            {"id": 13, "method": "ES.SetMode", "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {}}}},
            -32602,
            13,
        ),
        (
            {
                "id": 14,
                "method": "ES.SetMode",
                "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": "100", "cd_time": 30}}},
            },
            -32602,
            14,
        ),
        (
            {
                "id": 15,
                "method": "ES.SetMode",
                "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": 100, "cd_time": 0}}},
            },
            -32602,
            15,
        ),
        (
            {"id": 16, "method": "ES.SetMode", "params": {"id": 0, "config": {"mode": "Auto", "auto_cfg": {}}}},
            -32602,
            16,
        ),
        (
            {
                "id": 17,
                "method": "ES.SetMode",
                "params": {"id": 0, "config": {"mode": "Manual", "manual_cfg": {"time_num": 12}}},
            },
            -32602,
            17,
        ),
    ],
)
def test_emulator_errors(model: BatteryModel, request_data: Any, code: int, reply_id: Any) -> None:
    emulator = MarstekVenusEmulator(model, MarstekEmulatorSettings(port=0))
    reply = ask(emulator, request_data)
    assert reply is not None
    assert reply["id"] == reply_id
    assert reply["src"] == SRC
    assert reply["error"]["code"] == code
    assert isinstance(reply["error"]["message"], str)
    assert emulator.mode == "Auto"  # nothing invalid changed it
    assert model.setpoint_w == 0.0


def test_emulator_stores_a_manual_slot_and_idles(model: BatteryModel) -> None:
    emulator = MarstekVenusEmulator(model, MarstekEmulatorSettings(port=0))
    slot = {"time_num": 1, "start_time": "08:30", "end_time": "20:30", "week_set": 127, "power": 100, "enable": 1}
    reply = ask(
        emulator,
        {"id": 1, "method": "ES.SetMode", "params": {"id": 0, "config": {"mode": "Manual", "manual_cfg": slot}}},
    )
    assert reply == {"id": 1, "src": SRC, "result": {"id": 0, "set_result": True}}
    assert emulator.mode == "Manual"
    assert emulator.manual_slots[1] == slot


# --- hostile devices: raw UDP servers ----------------------------------------------------------------------------

Answer = Callable[[dict[str, Any]], list[bytes]]


class RawDevice(asyncio.DatagramProtocol):
    """Answers each request with whatever ``answer`` makes of it; records what arrived and when."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[float, dict[str, Any]]] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = json.loads(data)
        self.requests.append((time.monotonic(), request))
        for reply in self.answer(request):
            self.transport.sendto(reply, addr)


@contextlib.asynccontextmanager
async def raw_device(answer: Answer) -> AsyncIterator[tuple[RawDevice, int]]:
    loop = asyncio.get_running_loop()
    transport, device = await loop.create_datagram_endpoint(lambda: RawDevice(answer), local_addr=("127.0.0.1", 0))
    try:
        yield device, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def result_reply(result: Any, **extra: Any) -> Answer:
    """A reply carrying ``result`` (JSON-encoded, NaN allowed) under the request's id."""
    return lambda request: [json.dumps({"id": request["id"], "src": SRC, "result": result} | extra).encode()]


def get_mode(**fields: Any) -> dict[str, Any]:
    return {"id": 0, "mode": "Auto", "ongrid_power": 0, "offgrid_power": 0, "bat_soc": 50} | fields


async def failure(answer: Answer, call: str = "read", **overrides: Any) -> str:
    """The message of the BatteryError the driver raises against a device answering like this."""
    async with raw_device(answer) as (_, port), connected(port, **overrides) as battery:
        action = battery.read() if call == "read" else battery.set_power(100.0)
        with pytest.raises(BatteryError) as raised:
            async with asyncio.timeout(BOUND_S):
                await action
    return str(raised.value)


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (lambda _: [b"\x00\xffgarbage"], "not JSON"),
        (lambda _: [b"[1, 2, 3]"], "not a JSON object"),
        (lambda _: [b'{"id": 99999, "src": "x", "result": {}}'], "reply id '99999' is not the request's"),
        (lambda _: [b'{"id": "abc", "src": "x", "result": {}}'], "reply id 'abc'"),
        (lambda request: [json.dumps(request).encode()], "an echo of a request"),
        (lambda _: [], "no reply in 0.3 s"),
        (result_reply(get_mode(bat_soc=math.nan)), "bat_soc is nan, not a finite number"),
        (result_reply(get_mode(ongrid_power=math.inf)), "ongrid_power is inf, not a finite number"),
        (result_reply(get_mode(bat_soc=150)), "bat_soc 150 is outside 0..100"),
        (result_reply(get_mode(bat_soc=-1)), "bat_soc -1 is outside 0..100"),
        (result_reply(get_mode(bat_soc="98")), "bat_soc is '98', not a number"),
        (result_reply(get_mode(bat_soc=True)), "bat_soc is True, not a number"),
        (result_reply(get_mode(ongrid_power=50_000)), "ongrid_power 50000 is outside -10000..10000"),
        (result_reply(get_mode(bat_soc=None, ongrid_power=None)), "neither bat_soc nor ongrid_power"),
        (result_reply(get_mode(mode=9)), "mode is 9"),
        (result_reply(get_mode(mode=["Auto"])), "mode is ['Auto']"),
        (result_reply([1]), "no result object"),
        (result_reply(get_mode(), src=5), "src that is not a string"),
        (
            lambda request: [
                json.dumps(
                    {
                        "id": request["id"],
                        "src": SRC,
                        "error": {"code": -32601, "message": "Method not found", "data": 424},
                    }
                ).encode()
            ],
            "answered error -32601 'Method not found' (not available on this model or firmware)",
        ),
        (lambda request: [json.dumps({"id": request["id"], "src": SRC, "error": "boom"}).encode()], "malformed error"),
    ],
)
async def test_a_bad_reply_to_a_read_is_an_error_naming_the_cause(answer: Answer, cause: str) -> None:
    message = await failure(answer)
    assert cause in message
    assert "ES.GetMode" in message


@pytest.mark.parametrize(
    ("result", "cause"),
    [
        ({"id": 0, "set_result": False}, "refused ES.SetMode Passive power=-100 W cd_time=45 s (set_result false)"),
        ({"id": 0, "set_result": "true"}, "set_result is 'true', not true/false"),
        ({"id": 0}, "set_result is None"),
    ],
)
async def test_a_refused_or_unclear_write_is_an_error(result: dict[str, Any], cause: str) -> None:
    assert cause in await failure(result_reply(result), call="set_power")


async def test_a_failed_write_leaves_no_setpoint_claimed(emulator: MarstekVenusEmulator) -> None:
    refusing = True

    def answer(request: dict[str, Any]) -> list[bytes]:
        if request["method"] == "ES.SetMode":
            return [] if refusing else result_reply({"id": 0, "set_result": True})(request)
        return result_reply(get_mode(mode="Passive"))(request)

    async with raw_device(answer) as (_, port), connected(port) as battery:
        refusing = False
        await battery.set_power(300.0)
        assert (await battery.read()).setpoint_w == 300.0
        refusing = True
        with pytest.raises(BatteryError, match="no reply"):
            await battery.set_power(-300.0)
        assert (await battery.read()).setpoint_w is None  # the device may or may not have taken -300 W


async def test_an_unreachable_port_is_an_error_not_a_hang() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with connected(port) as battery:
        with pytest.raises(BatteryError, match=r"ES.GetMode failed after 2 attempt\(s\): (refused|no reply)"):
            async with asyncio.timeout(BOUND_S):
                await battery.read()


async def test_a_taken_local_port_is_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("0.0.0.0", 0))
        taken = holder.getsockname()[1]
        async with connected(9, local_port=taken) as battery:
            with pytest.raises(BatteryError, match=f"cannot open UDP from local port {taken}"):
                await battery.read()


async def test_a_lost_datagram_is_sent_again_with_a_new_id() -> None:
    def answer(request: dict[str, Any]) -> list[bytes]:
        seen.append(request["id"])
        return [] if len(seen) == 1 else result_reply(get_mode(bat_soc=77))(request)

    seen: list[int] = []
    async with raw_device(answer) as (_, port), connected(port) as battery:
        assert (await battery.read()).soc_pct == 77.0
    assert len(seen) == 2
    assert seen[0] != seen[1]


async def test_a_late_reply_to_the_first_send_is_taken() -> None:
    first: list[dict[str, Any]] = []

    def answer(request: dict[str, Any]) -> list[bytes]:
        if not first:
            first.append(request)
            return []
        late = result_reply(get_mode(bat_soc=33))(first[0])  # answers the first id only, during the second wait
        return [b'{"id": 1, "src": "x", "result": {}}', *late] if request["id"] != 1 else late

    async with raw_device(answer) as (_, port), connected(port) as battery:
        assert (await battery.read()).soc_pct == 33.0


async def test_requests_keep_the_gap_and_carry_the_documented_shapes() -> None:
    def answer(request: dict[str, Any]) -> list[bytes]:
        if request["method"] == "ES.SetMode":
            return result_reply({"id": 0, "set_result": True})(request)
        return result_reply(get_mode())(request)

    async with (
        raw_device(answer) as (device, port),
        connected(port, request_gap_s=0.2, countdown_s=45, discharge_countdown_s=12) as battery,
    ):
        await battery.read()
        await battery.set_power(812.4)
        await battery.set_power(-300.6)
        await battery.set_power(-0.4)
        await battery.release()
    times = [arrived for arrived, _ in device.requests]
    assert all(later - earlier >= 0.19 for earlier, later in itertools.pairwise(times))
    requests = [request for _, request in device.requests]
    for request in requests:
        assert isinstance(request["id"], int)
        assert 1 <= request["id"] <= 65_535
    assert [{k: v for k, v in r.items() if k != "id"} for r in requests] == [
        {"method": "ES.GetMode", "params": {"id": 0}},
        # Ours: +812.4 W charging; the device's Passive power: negative = charge, whole watts.
        {
            "method": "ES.SetMode",
            "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": -812, "cd_time": 45}}},
        },
        # A discharge carries its own, shorter countdown: a crashed actuator leaves it running less long.
        {
            "method": "ES.SetMode",
            "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": 301, "cd_time": 12}}},
        },
        {
            "method": "ES.SetMode",
            "params": {"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": 0, "cd_time": 45}}},
        },
        {"method": "ES.SetMode", "params": {"id": 0, "config": {"mode": "Auto", "auto_cfg": {"enable": 1}}}},
    ]


# --- replies captured from real devices --------------------------------------------------------------------------

VENUS_E_144_GET_MODE = {
    "id": 681,
    "src": "VenusE 3.0-xxxxx",
    "result": {"id": 0, "mode": "Manual", "ongrid_power": -497, "offgrid_power": 0, "bat_soc": 99},
}
VENUS_A_147_GET_MODE = {
    "id": 427,
    "src": "VenusA-682499eefdd7",
    "result": {
        "id": 0,
        "mode": "Auto",
        "ongrid_power": 318,
        "offgrid_power": 0,
        "bat_soc": 41,
        "ct_state": 0,
        "a_power": 0,
        "b_power": 0,
        "c_power": 0,
        "total_power": 0,
        "input_energy": 0,
        "output_energy": 0,
    },
}


def captured(capture: dict[str, Any]) -> Answer:
    return lambda request: [json.dumps(capture | {"id": request["id"]}).encode()]


@pytest.mark.parametrize(
    ("capture", "soc_pct", "power_w", "mode"),
    [
        (VENUS_E_144_GET_MODE, 99.0, 497.0, "Manual"),  # ongrid_power -497: charging, ours +497 W
        (VENUS_A_147_GET_MODE, 41.0, -318.0, "Auto"),  # ongrid_power 318: feeding the house, ours -318 W
    ],
)
async def test_captured_replies_of_real_devices(
    capture: dict[str, Any], soc_pct: float, power_w: float, mode: str
) -> None:
    async with raw_device(captured(capture)) as (_, port), connected(port) as battery:
        reading = await battery.read()
    assert reading.soc_pct == soc_pct
    assert reading.power_w == power_w
    assert reading.setpoint_w is None
    assert battery.mode == mode


async def test_integer_modes_of_some_firmware() -> None:
    """taurgis/has-marstek-local-api docs/marstek_device_openapi.MD §3.6.3: 0 Auto ... 3 Passive, 4 UPS."""
    async with raw_device(result_reply(get_mode(mode=3))) as (_, port), connected(port) as battery:
        await battery.read()
        assert battery.mode == "Passive"


# --- settings ----------------------------------------------------------------------------------------------------


def test_settings_defaults_and_strictness() -> None:
    settings = MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "192.168.1.50"})
    assert (settings.port, settings.local_port, settings.release_mode) == (30000, 30000, "Auto")
    assert (settings.countdown_s, settings.discharge_countdown_s) == (45, 10)
    assert settings.request_gap_s == 2.0
    with pytest.raises(ValidationError, match="extra_forbidden"):
        MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "h", "password": "x"})
    with pytest.raises(ValidationError, match="countdown_s"):
        MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "h", "countdown_s": 0})
    with pytest.raises(ValidationError, match="discharge_countdown_s must not exceed countdown_s"):
        MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "h", "countdown_s": 5})
    with pytest.raises(ValidationError, match="at least 4 x request_gap_s"):
        MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "h", "request_gap_s": 3})
    with pytest.raises(ValidationError, match="type"):
        MarstekVenusSettings.model_validate({"type": "zendure", "host": "h"})
    with pytest.raises(ValidationError, match="timeout_s"):
        MarstekVenusSettings.model_validate({"type": "marstek_venus", "host": "h", "timeout_s": math.nan})
