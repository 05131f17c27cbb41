"""Garbage on every topic the services subscribe to, live and retained: no process exits, the loop regulates after.

The payloads: random bytes, text, JSON of every wrong type, NaN/Infinity/1e308/-0 as numbers and strings,
1 MB bodies, empty payloads, and schema-valid messages at the edge of the bounds. They come from a seeded
generator (the seed is printed; ``ZEROPOWER_FAULT_SEED`` replays one). Each service may log each cause once
a minute, so the whole flood leaves a few lines per service, not one per message.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import ALL_SERVICES, FaultSystem, heater_system
from tests.integration.conftest import BALCONY, ROOF, TARGET_W, running_system
from zeropower.shared.messages import MAX_POWER_W
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.broker import free_port

pytestmark = pytest.mark.integration

SERVICES = (*ALL_SERVICES, "api")
FLOOD_S = 20.0
#: Log lines a service may write about the flood: one per cause and subject a minute, a few subjects each.
LOG_LINES_BOUND = 40

_PRIMITIVES: list[object] = [
    None,
    True,
    0,
    -0.0,
    1e308,
    -1e308,
    MAX_POWER_W,
    -MAX_POWER_W,
    2**70,
    "NaN",
    "Infinity",
    "1e308",
    "1_2_3",
    "0x10",
    "",
    "on",
    [],
    {},
    [1, 2],
]


_FIELDS = [
    "timestamp",
    "power_w",
    "setpoints_w",
    "devices",
    "actuator_id",
    "device_id",
    "reachable",
    "limit_w",
    "target_w",
    "stale_after_s",
    "date",
    "imported_wh",
    "mode",
]


def _document(rng: random.Random) -> bytes:
    """A JSON object of known field names with hostile values (Python writes NaN/Infinity literals)."""
    document = {rng.choice(_FIELDS): rng.choice(_PRIMITIVES) for _ in range(rng.randrange(1, 5))}
    text = json.dumps(document)
    return (text.replace("1e+308", "Infinity") if rng.random() < 0.5 else text).encode()


def _edge_setpoints(rng: random.Random) -> bytes:
    """A schema-valid setpoint command at the bounds."""
    return json.dumps({"setpoints_w": {ROOF: rng.choice([1e6, -1e6, 0, 123.4])}, "timestamp": 1}).encode()


def _edge_device_state(rng: random.Random) -> bytes:
    """A schema-valid device state at the bounds, for a device nobody announced."""
    state = {
        "actuator_id": "ghost",
        "device_id": rng.choice([ROOF, "x" * 200]),
        "reachable": True,
        "producing": True,
        "power_w": rng.choice([MAX_POWER_W, -MAX_POWER_W, 0.0]),
    }
    return json.dumps(state).encode()


_GENERATORS: list[Callable[[random.Random], bytes]] = [
    lambda rng: rng.randbytes(rng.randrange(1, 64)),
    lambda rng: b"",
    lambda rng: rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e308", b"-0", b"nan", b"1_2_3", b"\xff\xfe"]),
    lambda rng: b"x" * 1_000_000 if rng.random() < 0.05 else b"[" * 5000,
    lambda rng: json.dumps(rng.choice(_PRIMITIVES)).encode(),
    _document,
    _edge_setpoints,
    _edge_device_state,
]


def garbage(rng: random.Random) -> bytes:
    """One hostile payload."""
    return rng.choice(_GENERATORS)(rng)


def subscribed_topics(topics: Topics, dtu: OpenDtuTopics) -> list[str]:
    """Every topic some service subscribes to (the simulator's own controls and PWM input are the hardware's)."""
    return [
        topics.grid_power(),
        topics.set_enabled(),
        topics.controller_config_set(),
        topics.controller_config(),
        topics.controller_state(),
        topics.energy_today(),
        topics.actuator_announce("opendtu"),
        topics.actuator_announce("heater"),
        topics.actuator_announce("ghost"),
        topics.actuator_setpoints("opendtu"),
        topics.actuator_setpoints("heater"),
        topics.actuator_state("opendtu"),
        topics.device_state("opendtu", ROOF),
        topics.device_state("heater", "heater"),
        topics.device_state("ghost", ROOF),
        topics.availability("actuator/ghost"),
        topics.availability("recorder"),
        "homeassistant/status",
        *(dtu.inverter(serial, sub) for serial in (ROOF, BALCONY) for sub in ("0/power", "status/reachable")),
        *(dtu.inverter(serial, sub) for serial in (ROOF, BALCONY) for sub in ("status/limit_relative", "1/power")),
        dtu.inverter(ROOF, "status/last_update"),
        dtu.inverter(ROOF, "status/limit_absolute"),
        dtu.inverter(ROOF, "0/powerdc"),
    ]


def with_api(config: dict, workdir: Path) -> None:  # type: ignore[type-arg]
    heater_system(config, workdir, pv_w=800, load_w=300)
    config["api"] = {"host": "127.0.0.1", "port": free_port()}


def flood_log_lines(system: FaultSystem, service: str, since: dict[str, int]) -> int:
    """Lines a service logged since the flood began."""
    return len(system.system.log(service).splitlines()) - since[service]


async def test_garbage_on_every_topic_never_stops_a_service(tmp_path: Path):
    seed = int(os.environ.get("ZEROPOWER_FAULT_SEED", random.randrange(2**32)))
    print(f"garbage seed {seed} (replay: ZEROPOWER_FAULT_SEED={seed})")
    rng = random.Random(seed)
    async with running_system(tmp_path, lambda config: with_api(config, tmp_path), services=SERVICES) as running:
        system = FaultSystem(running)
        for service in SERVICES:
            await system.online(service)
        near: Callable = lambda s: abs(s.grid_w - TARGET_W) < 40 and s.heater_w > 200  # noqa: E731
        await system.steady(near, count=5)
        lines_before = {service: len(running.log(service).splitlines()) for service in SERVICES}
        targets = subscribed_topics(running.topics, running.dtu)

        sent = 0
        retained: set[str] = set()
        started = time.monotonic()
        while time.monotonic() - started < FLOOD_S:
            for topic in targets:
                retain = rng.random() < 0.1
                await system.probe.publish(topic, garbage(rng), retain=retain, qos=0)
                if retain:
                    retained.add(topic)
                sent += 1
            await asyncio.sleep(0.05)
            assert all(system.alive().values()), f"a process exited: {system.alive()} (seed {seed})"
        print(f"{sent} garbage messages on {len(targets)} topics in {FLOOD_S:g} s, {len(retained)} left retained")

        # Retained junk stays on the broker: a restarted controller meets all of it at once.
        system.restart("controller")
        await system.online("controller")
        for topic in retained:  # clear it, as a user would once the source is found
            await system.probe.publish(topic, b"", retain=True)
        # Garbage that happens to be a valid command is a command ("off", a target): undo it, as a user would.
        await system.probe.publish(running.topics.set_enabled(), "on")
        restore = {"target_w": TARGET_W, "stale_after_s": 5.0}  # the fields the garbage names (integration config)
        await system.probe.publish(running.topics.controller_config_set(), json.dumps(restore))
        # the real services re-assert what the junk overwrote: restarting them re-publishes their retained state
        for service in ("actuator_opendtu", "actuator_pwm"):
            system.restart(service)
            await system.online(service)
        await system.steady(near, count=5, timeout=120)
        assert all(system.alive().values()), f"a process exited: {system.alive()} (seed {seed})"
        lines = {service: flood_log_lines(system, service, lines_before) for service in SERVICES}
        print(f"log lines written during and after the flood: {lines}")
        assert max(lines.values()) <= LOG_LINES_BOUND, lines
        assert "Traceback" not in "".join(running.log(service) for service in SERVICES)
