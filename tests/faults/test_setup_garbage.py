"""The meter process set up from the broker, then fed retained garbage on its setup topic.

A seeded random list of hostile setups (random bytes, huge payloads, deep nesting, wrong types, unknown keys,
a secret in broken JSON, an empty payload) is published retained to the real meter process. Invariants: it never
exits, keeps reading the meter it was set up with (every reading after each garbage is the device's value),
reports each refusal in its setup status, logs at most a couple of lines, and never logs the secret. The seed is
printed; set ZEROPOWER_FAULT_SEED to replay one.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, service_process, stop_services
from tests.meter.conftest import FakeDevice
from zeropower.shared.messages import SetupStatus
from zeropower.shared.topics import Topics
from zeropower.sim.broker import Broker

SEED = int(os.environ.get("ZEROPOWER_FAULT_SEED", random.randrange(2**32)))
print(f"tests/faults/test_setup_garbage.py: seed {SEED} (replay with ZEROPOWER_FAULT_SEED={SEED})")

SECRET = "hunter2-secret"


def hostile_setups(rng: random.Random) -> list[bytes]:
    """Setups no meter may take, in a seeded order."""
    fixed = [
        rng.randbytes(rng.randrange(1, 2000)),
        b"\xff\xfe\x00garbage",
        b"{" * 100_000,  # deep nesting
        json.dumps({"driver": {"type": "shelly_gen2", "url": "http://x"}, "pad": "a" * 2_000_000}).encode(),
        json.dumps({"driver": {"type": "no_such_meter"}}).encode(),
        json.dumps({"driver": {"type": "shelly_gen2", "url": 5}}).encode(),
        json.dumps({"driver": {"type": "shelly_gen2", "url": "http://x"}, "poll_interval_s": -1}).encode(),
        json.dumps({"driver": {"type": "shelly_gen2", "url": "http://x"}, "poll_interval_s": "NaN"}).encode(),
        b'{"driver": {"type": "shelly_gen2", "url": "http://x", "password": "' + SECRET.encode() + b'",}',
        json.dumps(["password", SECRET]).encode(),
        b"null",
        b"1e999",
    ]
    rng.shuffle(fixed)
    return fixed


@pytest.mark.timeout(180)
async def test_garbage_setups_never_stop_the_meter_nor_change_what_it_reads(broker: Broker, tmp_path: Path):
    topics = Topics()
    device = FakeDevice()
    await device.start()
    device.json("/rpc/EM.GetStatus", {"id": 0, "total_act_power": -300.5})
    env = {"ZEROPOWER_MQTT__PORT": str(broker.port)}
    log = tmp_path / "meter.log"
    try:
        async with MqttProbe(broker.port) as probe:
            with service_process("meter", env, log) as meter:
                good = {"driver": {"type": "shelly_gen2", "url": device.url}}
                await probe.publish(topics.setup("meter"), json.dumps(good), retain=True)
                await probe.wait_for(
                    topics.grid_power(), lambda m: json.loads(m.payload)["power_w"] == -300.5, timeout=60
                )
                for payload in hostile_setups(random.Random(SEED)):
                    mark = probe.mark()
                    await probe.publish(topics.setup("meter"), payload, retain=True)
                    refused = await probe.wait_for(
                        topics.setup_status("meter"),
                        lambda m: (
                            (s := SetupStatus.model_validate_json(m.payload)).error is not None
                            and s.error.startswith("refused, the current one stays")
                        ),
                        since=mark,
                        timeout=30,
                    )
                    assert SetupStatus.model_validate_json(refused.payload).source == "setup"
                    after = await probe.wait_for_new(topics.grid_power(), timeout=10)
                    assert json.loads(after.payload)["power_w"] == -300.5, payload[:80]
                    await probe.publish(topics.setup("meter"), json.dumps(good), retain=True)  # error clears
                    await probe.wait_for(
                        topics.setup_status("meter"),
                        lambda m: SetupStatus.model_validate_json(m.payload).error is None,
                        since=mark,
                        timeout=30,
                    )
                assert meter.poll() is None
                stop_services([meter])
        text = log.read_text(errors="replace")
        assert "Traceback" not in text
        assert SECRET not in text
        assert text.count("refused") <= 2  # a flood of changing garbage stays one line a minute
    finally:
        await device.stop()
