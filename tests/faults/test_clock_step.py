"""A wall-clock step under the running services (libfaketime): ages and timeouts must not notice.

A Raspberry Pi without a real-time clock boots with an old time and steps it when NTP syncs. Every age and
timeout is on the monotonic clock, so a step of an hour either way changes nothing: no inverter judged
unreachable, no fail-safe, and a real outage is still caught on time. Debian's faketime package provides
libfaketime; the services read their wall clock from a file the test rewrites (``FAKETIME_TIMESTAMP_FILE``),
their monotonic clock stays real (``FAKETIME_DONT_FAKE_MONOTONIC``). The simulator (the devices) keeps the
real time, as real devices would.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.faults.conftest import ALL_SERVICES, FaultSystem, heater_system
from tests.integration.conftest import BALCONY, ROOF, TARGET_W, running_system

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("faketime") is None, reason="needs Debian's faketime (scripts/system-deps)"),
]

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
STEP_S = 3600
WATCH_S = 25.0


def faked_clock_env(timestamp_file: Path) -> dict[str, str]:
    """The environment that runs a process on the wall clock written in ``timestamp_file``."""
    library = LIBFAKETIME if LIBFAKETIME.exists() else next(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
    return {
        "LD_PRELOAD": str(library),
        "FAKETIME_TIMESTAMP_FILE": str(timestamp_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


async def no_reaction_for(system: FaultSystem, seconds: float) -> None:
    """Watch ``seconds`` of the running loop: regulating, no fail-safe limit, no export, grid near the target."""
    mark = system.probe.mark()
    await asyncio.sleep(seconds)
    messages = system.probe.messages[mark:]
    modes = {json.loads(m.payload)["mode"] for m in messages if m.topic == system.topics.controller_state()}
    dtu = system.system.dtu
    minimums = [
        m.text
        for m in messages
        if (m.topic, m.text) in {(dtu.limit_command(ROOF), "40"), (dtu.limit_command(BALCONY), "20")}
    ]
    samples = system.samples(mark)
    assert modes == {"regulating"}, modes
    assert minimums == [], "an inverter was dropped to its minimum"
    assert system.exported_wh(mark) <= 0.02
    assert all(abs(sample.state.grid_w - TARGET_W) < 120 for sample in samples[3:])


async def test_wall_clock_steps_change_nothing_and_outages_are_still_caught(tmp_path: Path):
    # Before: stepped forward 1 h the controller judged every inverter unreachable and dropped them to their
    # minimum (+200 W import); stepped back 1 h it never went to its fail-safe.
    clock_file = tmp_path / "wall-clock"
    clock_file.write_text("+0\n")
    configure = lambda config: heater_system(config, tmp_path, pv_w=800, load_w=300)  # noqa: E731
    async with running_system(tmp_path, configure, services=()) as running:
        system = FaultSystem(running)
        for service in ALL_SERVICES:
            running.start(service, None if service == "sim" else faked_clock_env(clock_file))
        for service in ALL_SERVICES:
            await system.online(service)
        await system.steady(lambda s: abs(s.grid_w - TARGET_W) < 40 and s.heater_w > 200, count=5)

        clock_file.write_text(f"+{STEP_S}\n")  # NTP steps the clock forward an hour
        await no_reaction_for(system, WATCH_S)
        clock_file.write_text(f"-{STEP_S}\n")  # and back two hours
        await no_reaction_for(system, WATCH_S)

        mark = system.probe.mark()
        killed = system.kill("meter")  # a real outage is still caught on time
        failsafe_at = await system.seen_at(
            system.topics.controller_state(), lambda m: json.loads(m.payload)["mode"] == "fail-safe", mark
        )
        print(f"after wall-clock steps of +/-{STEP_S} s: fail-safe {failsafe_at - killed:.1f} s after the meter died")
        assert failsafe_at - killed < 5.0 + 2  # the integration config's controller.stale_after_s is 5
        assert [name for name, alive in system.alive().items() if not alive] == ["meter"]
