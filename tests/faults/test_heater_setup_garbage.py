"""The actuator-pwm process set up from the broker, driving its heater, then fed retained garbage on its setup topic.

A seeded random list of hostile setups (random bytes, huge payloads, deep nesting, wrong types, another instance,
paths the service would write, an empty payload) is published retained to the real actuator-pwm process while a
stand-in controller keeps the heater at 25 %. Invariants: it never exits, the heater's duty never moves (no swap, no
drop to 0, no second output), each refusal is in its setup status, the log has at most a couple of lines of it; when
the setpoints stop, its own fail-safe still takes the heater to duty 0. The seed is printed; set
ZEROPOWER_FAULT_SEED to replay one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, service_process, terminate_timed
from zeropower.shared.messages import SetpointCommand, SetupStatus
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

SEED = int(os.environ.get("ZEROPOWER_FAULT_SEED", random.randrange(2**32)))
print(f"tests/faults/test_heater_setup_garbage.py: seed {SEED} (replay with ZEROPOWER_FAULT_SEED={SEED})")

SERVICE = "actuator/heater"
GOOD = {"rated_w": 2000, "output": {"type": "sim", "output_id": "heater"}, "setpoint_timeout_s": 3}
CONTROLLER_PERIOD_S = 0.5  # a stand-in controller's cadence: the pace of the setpoints, not a synchronisation


def hostile_setups(rng: random.Random) -> list[bytes]:
    """Setups no heater may take, in a seeded order."""
    output = GOOD["output"]
    fixed = [
        rng.randbytes(rng.randrange(1, 2000)),
        b"\xff\xfe\x00garbage",
        b"[" * 60_000,  # deep nesting, within the size limit
        json.dumps({**GOOD, "pad": "a" * 2_000_000}).encode(),
        json.dumps({"rated_w": 2000, "output": {"type": "no_such_output"}}).encode(),
        json.dumps({"rated_w": "lots", "output": output}).encode(),
        json.dumps({"rated_w": -2000, "output": output}).encode(),
        b'{"rated_w": NaN, "output": {"type": "sim"}}',
        json.dumps({**GOOD, "enabled": "yes please"}).encode(),
        json.dumps({**GOOD, "actuator_id": "garage"}).encode(),  # another instance
        json.dumps({**GOOD, "energy_file": "/etc/passwd"}).encode(),  # a path the service would write
        json.dumps({"rated_w": 2000, "output": {"type": "sysfs", "root": "/tmp"}}).encode(),
        json.dumps({**GOOD, "mapping": {"type": "table", "points": [[0, 1], [1, 0]]}}).encode(),
        json.dumps(["rated_w", 2000]).encode(),
        b"null",
        b"1e999",
        b"",  # cleared: the running setup stays
    ]
    rng.shuffle(fixed)
    return fixed


def status_of(message) -> SetupStatus:
    return SetupStatus.model_validate_json(message.payload)


@pytest.mark.timeout(180)
async def test_garbage_setups_never_move_the_heater_and_its_fail_safe_holds(broker: Broker, tmp_path: Path):
    topics = Topics()
    duty_topic = topics.sim_pwm_duty("heater")
    log = tmp_path / "actuator_pwm.log"
    async with MqttProbe(broker.port) as probe:
        with service_process("actuator_pwm", {"ZEROPOWER_MQTT__PORT": str(broker.port)}, log) as heater:
            await probe.wait_for(topics.setup_status(SERVICE), lambda m: status_of(m).source == "waiting", timeout=60)
            await probe.publish(topics.setup("actuator_pwm"), json.dumps(GOOD), retain=True)
            await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload, timeout=30)

            async def controller() -> None:
                command = SetpointCommand(setpoints_w={"heater": 500}).model_dump_json()
                while True:
                    await probe.publish(topics.actuator_setpoints("heater"), command)
                    await asyncio.sleep(CONTROLLER_PERIOD_S)

            setpoints = asyncio.create_task(controller())
            try:
                on = await probe.wait_for(duty_topic, lambda m: m.text == "0.25", timeout=30)
                announcements = len(probe.on(topics.actuator_announce("heater")))
                for payload in hostile_setups(random.Random(SEED)):
                    mark = probe.mark()
                    await probe.publish(topics.setup("actuator_pwm"), payload, retain=True)
                    refused = await probe.wait_for(
                        topics.setup_status(SERVICE), lambda m: status_of(m).error is not None, since=mark, timeout=30
                    )
                    assert status_of(refused).source == "setup", payload[:80]
                    assert status_of(refused).running == "Heater (2000 W) on sim output heater, linear mapping"
                    await probe.publish(topics.setup("actuator_pwm"), json.dumps(GOOD), retain=True)  # error clears
                    await probe.wait_for(
                        topics.setup_status(SERVICE), lambda m: status_of(m).error is None, since=mark, timeout=30
                    )
                duties = [m.text for m in probe.messages[probe.messages.index(on) :] if m.topic == duty_topic]
                assert duties == ["0.25"]  # never dropped, never swapped
                assert len(probe.on(topics.actuator_announce("heater"))) == announcements
                assert heater.poll() is None
            finally:
                setpoints.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await setpoints
            mark = probe.mark()
            failsafe = await probe.wait_for(
                topics.actuator_state("heater"), lambda m: b'"fail-safe"' in m.payload, since=mark
            )
            await probe.wait_for(duty_topic, lambda m: m.text == "0", since=mark, timeout=10)
            assert failsafe.retain is False
            returncode, _ = await terminate_timed(heater)
    assert returncode == 0
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    # The first hostile setup's line, with its cause: a refusal, or the cleared topic when the seed puts it first.
    assert re.search(r"setup on zeropower/setup/actuator_pwm: (refused|cleared), the current one stays", text)
    assert text.count("refused") + text.count("cleared") <= 2  # a flood of changing garbage stays one line a minute
