"""The meter service as a real process against a device answering garbage, then sense.

For each HTTP driver a local server plays the device and answers a seeded random list of hostile answers
(random bytes, HTML, JSON of the wrong types, NaN/Infinity/1e308/-0/huge numbers as numbers and as text,
1 MB bodies, empty bodies, slow and hanging answers, HTTP errors). Invariants over the whole run: the process
never exits, every message on the grid topic is a valid GridReading that is either a bounded number or
missing with an error, the log stays quiet (rate-limited), and valid readings resume once the device answers
correctly. The seed is printed; set ZEROPOWER_FAULT_SEED to replay one.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import MqttProbe, service_process, stop_services
from zeropower.shared.messages import GridReading, parse_message
from zeropower.sim.broker import Broker

SEED = int(os.environ.get("ZEROPOWER_FAULT_SEED", random.randrange(2**32)))
print(f"tests/faults/test_meter_garbage.py: seed {SEED} (replay with ZEROPOWER_FAULT_SEED={SEED})")

MAX_POWER_W = 50_000.0
GARBAGE_S = 4.0
RECOVERY_TIMEOUT_S = 10.0
UUID = "007aeef0-4c7e-11e3-b9e4-7b5a8a2b0e6a"

#: Values put where the device's power belongs, written into the JSON text as they stand.
HOSTILE_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e308",
    "1e400",
    "-0",
    "-0.0",
    "1" + "0" * 30,
    "9" * 5000,  # beyond Python's int parsing limit
    '"NaN"',
    '"1e308"',
    '"1_2_3"',
    '"0x10"',
    '" 12 "',
    '"-0"',
    '"inf"',
    "true",
    "null",
    "[]",
    "{}",
    '"\\u0000"',
]


@dataclass(frozen=True)
class Answer:
    """One answer of the fake device."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay_s: float = 0.0  # > the service's timeout: a slow answer; math.inf: hangs


def shaped(kind: str, value: str) -> str:
    """A document shaped like the device's, with ``value`` (raw JSON text) where the power belongs."""
    now_ms = int(time.time() * 1000)
    return {
        "shelly_gen1": f'{{"emeters":[{{"power":{value},"is_valid":true,"total":{value}}}],"total_power":{value}}}',
        "shelly_gen2": f'{{"id":0,"total_act_power":{value},"a_act_power":{value},"total_act":{value}}}',
        "tasmota": f'{{"StatusSNS":{{"Time":"2023-02-28T12:49:49","SML":{{"curr_w":{value}}}}}}}',
        "vzlogger": f'{{"data":[{{"uuid":"{UUID}","tuples":[[{now_ms},{value}]]}}]}}',
        "homeassistant": f'{{"state":{value},"attributes":{{"unit_of_measurement":"kW"}},'
        f'"last_reported":{json.dumps(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))}}}',
        "http_json": f'{{"power":{value}}}',
    }[kind]


def json_value(rng: random.Random, depth: int = 0) -> object:  # noqa: PLR0911 (one return per kind)
    """A random JSON value of any type, nested a little."""
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([rng.uniform(-1e308, 1e308), rng.uniform(-1e4, 1e4), math.nan, math.inf, -0.0])
    if kind == 3:
        return rng.randrange(-(10**20), 10**20)
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x2FF)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(json_value(rng, 3)): json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def draw_answer(rng: random.Random, kind: str) -> Answer:  # noqa: PLR0911 (one return per shape)
    """One hostile answer for a device of ``kind``."""
    shape = rng.randrange(8)
    if shape == 0:
        return Answer(body=rng.randbytes(rng.randrange(300)))
    if shape == 1:
        return Answer(body=b"<html><body>Login</body></html>", content_type="text/html")
    if shape == 2:
        return Answer(body=json.dumps(json_value(rng)).encode())
    if shape == 3:
        return Answer(body=shaped(kind, rng.choice(HOSTILE_VALUES)).encode())
    if shape == 4:
        return Answer(body=shaped(kind, json.dumps(json_value(rng, 3))).encode())
    if shape == 5:
        return Answer(body=rng.choice([b"", b" " * 1_000_000, b"[" * 1_000_000, b'{"power":' + b"9" * 1_000_000]))
    if shape == 6:
        return Answer(status=rng.choice([400, 401, 403, 404, 500, 502, 503]), body=b"error")
    return Answer(body=shaped(kind, "12").encode(), delay_s=rng.choice([0.5, 3600.0]))


class GarbageDevice:
    """An HTTP server answering the drawn garbage in turn, then (``sane``) answers like a real device."""

    def __init__(self, garbage: list[Answer], good: Callable[[], bytes]) -> None:
        self._garbage = garbage
        self._good = good
        self._next = 0
        self.sane = False
        self.answered = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> GarbageDevice:
        app = web.Application(client_max_size=2**21)
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, _: web.Request) -> web.StreamResponse:
        self.answered += 1
        if self.sane:
            return web.Response(body=self._good(), content_type="application/json")
        answer = self._garbage[self._next % len(self._garbage)]
        self._next += 1
        if answer.delay_s:
            # the device is slow or hangs (simulation, not synchronisation); released at teardown
            await asyncio.wait([asyncio.ensure_future(self._release.wait())], timeout=answer.delay_s)
        return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)


def good_answer(kind: str) -> Callable[[], bytes]:
    """A correct answer of ``kind`` with grid power -312.4 W (and device times that advance)."""

    def answer() -> bytes:
        if kind == "homeassistant":
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"[:7]
            return json.dumps(
                {"state": "-312.4", "attributes": {"unit_of_measurement": "W"}, "last_reported": now + "+00:00"}
            ).encode()
        return shaped(kind, "-312.4").encode()

    return answer


def driver_env(kind: str, url: str) -> dict[str, str]:
    prefix = "ZEROPOWER_METER__DRIVER__"
    specific = {
        "shelly_gen1": {},
        "shelly_gen2": {"ENERGY_INTERVAL_S": "0.2"},
        "tasmota": {"POWER_KEY": "curr_w"},
        "vzlogger": {"UUID": UUID},
        "homeassistant": {"ENTITY_ID": "sensor.grid", "TOKEN": "t0ken"},
        "http_json": {"URL": f"{url}/json", "PATH": "power"},
    }[kind]
    return {f"{prefix}TYPE": kind, f"{prefix}URL": url} | {f"{prefix}{key}": value for key, value in specific.items()}


def check_reading(payload: bytes) -> GridReading:
    """The invariant on every message: a valid GridReading, bounded when valid, with an error when missing."""
    reading = parse_message(GridReading, payload)
    if reading.power_w is None:
        assert reading.error
    else:
        assert abs(reading.power_w) <= MAX_POWER_W
        assert reading.error is None
    return reading


async def scenario(kind: str, garbage: list[Answer], broker: Broker, log_path: Path) -> None:
    prefix = f"zp-fault-{kind}"
    topic = f"{prefix}/meter/grid"
    async with MqttProbe(broker.port) as probe, GarbageDevice(garbage, good_answer(kind)) as device:
        env = {
            "ZEROPOWER_MQTT__PORT": str(broker.port),
            "ZEROPOWER_MQTT__TOPIC_PREFIX": prefix,
            "ZEROPOWER_METER__POLL_INTERVAL_S": "0.05",
            "ZEROPOWER_METER__TIMEOUT_S": "0.3",
            "ZEROPOWER_METER__STALE_AFTER_S": "1",
        } | driver_env(kind, device.url)
        with service_process("meter", env, log_path) as process:
            await probe.wait_for(f"{prefix}/meter/availability", lambda m: m.text == "online", timeout=20)
            started = time.monotonic()
            await probe.wait_for(topic, timeout=10)
            while time.monotonic() - started < GARBAGE_S:  # let the garbage flow; the process must live through it
                await asyncio.wait_for(asyncio.shield(asyncio.sleep(0.25)), 1)  # pacing, not synchronisation
                assert process.poll() is None, f"the meter service exited with {process.returncode}"
            assert device.answered >= 10
            device.sane = True
            recovered = await probe.wait_for_new(
                topic, lambda m: check_reading(m.payload).power_w == -312.4, timeout=RECOVERY_TIMEOUT_S
            )
            assert recovered.retain is False
            assert process.poll() is None
            stop_services([process])
        for message in probe.on(topic):
            check_reading(message.payload)
        assert any(check_reading(m.payload).power_w is None for m in probe.on(topic))


@pytest.mark.integration
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["shelly_gen1", "shelly_gen2", "tasmota", "vzlogger", "homeassistant", "http_json"])
def test_garbage_from_the_device_never_reaches_the_wire(broker: Broker, tmp_path: Path, kind: str) -> None:
    rng = random.Random(f"{SEED}-{kind}")
    garbage = [draw_answer(rng, kind) for _ in range(60)]
    log_path = tmp_path / f"meter-{kind}.log"
    asyncio.run(scenario(kind, garbage, broker, log_path))
    lines = log_path.read_text(errors="replace").splitlines()
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
    assert len(problems) <= 4, f"more than a few log lines in {GARBAGE_S:g} s (seed {SEED}):\n" + "\n".join(lines)
