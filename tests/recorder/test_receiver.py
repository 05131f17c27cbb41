"""The firehose against a real Mosquitto: a persistent session, acknowledgements only once safe, copies with the
first time of arrival, no retained copies after a resume, filters no longer configured dropped, readable logs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, wait_until
from zeropower.recorder.mapping import Mapper
from zeropower.recorder.receiver import FirehoseReceiver
from zeropower.recorder.rules import Rule, default_rules
from zeropower.recorder.session import SessionStore
from zeropower.recorder.settings import SessionSettings
from zeropower.shared.settings import MqttSettings

pytestmark = pytest.mark.integration

Received = list[tuple[list[str], float]]


@contextlib.asynccontextmanager
async def receiving(
    settings: MqttSettings, directory: Path, filters: list[str], mapper: Mapper | None = None
) -> AsyncIterator[tuple[FirehoseReceiver, Received]]:
    """A receiver on the session kept in ``directory``, until the block ends (then it disconnects cleanly)."""
    store = SessionStore(directory, keep=100)
    mapper = mapper or Mapper(default_rules(), settings.topic_prefix, [])
    receiver = FirehoseReceiver(settings, SessionSettings(), filters, mapper, store)
    received: Received = []
    receiver.start(lambda lines, arrival: received.append((lines, arrival)))
    try:
        await wait_until(receiver.subscribed.is_set)
        yield receiver, received
    finally:
        await receiver.stop()
        store.close()


async def test_what_is_not_safe_comes_again_after_a_restart_with_its_first_time_of_arrival(
    mqtt_settings: MqttSettings, probe: MqttProbe, tmp_path: Path
):
    topic = f"{mqtt_settings.topic_prefix}/seq"
    async with receiving(mqtt_settings, tmp_path, [topic]) as (receiver, first):
        for value in ("1", "2", "3"):
            await probe.publish(topic, value, qos=1)
        await wait_until(lambda: len(first) == 3)
        receiver.sealed(3)  # all three about to be written: their arrivals are logged
        receiver.safe(1)  # only the first is in InfluxDB (or the spool): only it is acknowledged
    await probe.publish(topic, "4", qos=1)  # while the recorder is away: the broker keeps it for the session
    async with receiving(mqtt_settings, tmp_path, [topic]) as (receiver, second):
        await wait_until(lambda: len(second) == 3)
        assert second[:2] == first[1:]  # the same points again (InfluxDB overwrites them), not copies
        assert second[2][0][0].startswith(f"mqtt,topic={topic} value=4.0 ")
        receiver.sealed(3)
        receiver.safe(3)
    async with receiving(mqtt_settings, tmp_path, [topic]) as (_, third):
        await probe.publish(topic, "5", qos=1)
        await wait_until(lambda: len(third) == 1)
    assert third[0][0][0].startswith(f"mqtt,topic={topic} value=5.0 ")  # nothing came again


async def test_a_resumed_session_sends_no_retained_copies_and_drops_filters_no_longer_configured(
    mqtt_settings: MqttSettings, probe: MqttProbe, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    prefix = mqtt_settings.topic_prefix
    caplog.set_level(logging.INFO, logger="zeropower.recorder")
    await probe.publish(f"{prefix}/kept", "1", retain=True)
    async with receiving(mqtt_settings, tmp_path, [f"{prefix}/kept", f"{prefix}/old/#"]) as (receiver, first):
        await wait_until(lambda: len(first) == 1)  # the retained message, for the new subscription
        receiver.sealed(1)
        receiver.safe(1)
    async with receiving(mqtt_settings, tmp_path, [f"{prefix}/kept", f"{prefix}/new/#"]) as (_, second):
        await wait_until(lambda: any(f"no longer recording {prefix}/old/#" in line for line in caplog.messages))
        await probe.publish(f"{prefix}/old/x", "2", qos=1)
        await probe.publish(f"{prefix}/new/x", "3", qos=1)
        await wait_until(lambda: len(second) == 1)
    assert second[0][0][0].startswith(f"mqtt,topic={prefix}/new/x value=3.0 ")
    store = SessionStore(tmp_path, keep=1)
    assert store.filters() == [f"{prefix}/kept", f"{prefix}/new/#"]
    store.close()


class FailingMapper(Mapper):
    """A mapping with a bug: every message on ``<prefix>/bug/...`` fails, one kind of error per topic."""

    def lines(self, topic: str, payload: bytes, arrival_ns: int) -> list[str]:
        if topic.endswith("/key"):
            raise KeyError(payload.decode())
        if "/bug/" in topic:
            raise ValueError(f"bad {payload.decode()}")
        return super().lines(topic, payload, arrival_ns)


async def test_messages_it_cannot_map_are_logged_once_per_cause_without_tracebacks(
    mqtt_settings: MqttSettings, probe: MqttProbe, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    prefix = mqtt_settings.topic_prefix
    mapper = FailingMapper([Rule(topic="#", measurement="mqtt")], prefix, [])
    caplog.set_level(logging.INFO, logger="zeropower.recorder")
    async with receiving(mqtt_settings, tmp_path, [f"{prefix}/#"], mapper) as (_, received):
        for number in range(200):
            await probe.publish(f"{prefix}/bug/{number % 7}", str(number), qos=0)
            await probe.publish(f"{prefix}/bug/key", str(number), qos=0)
        await probe.publish(f"{prefix}/fine", "1", qos=0)
        await wait_until(lambda: len(received) == 401)
    problems = [record for record in caplog.records if "cannot map" in record.getMessage()]
    assert [record.getMessage() for record in problems] == [
        f"recording (ValueError): cannot map a message on {prefix}/bug/0: ValueError: bad 0",
        f"recording (KeyError): cannot map a message on {prefix}/bug/key: KeyError: '0'",
    ]
    assert all(record.exc_info is None for record in caplog.records)
    assert sum(1 for lines, _ in received if lines) == 1  # the messages it could not map cost only themselves


@pytest.mark.parametrize(
    ("username", "session_username", "expected"),
    [("recorder", None, "recorder-firehose"), ("recorder", "rec", "rec"), (None, None, None)],
)
def test_it_logs_in_as_a_user_of_its_own(tmp_path: Path, username, session_username, expected):
    # a broker that takes the user name as client id would otherwise close the recorder's other connection
    store = SessionStore(tmp_path, keep=1)
    receiver = FirehoseReceiver(
        MqttSettings(username=username, password="pw"),
        SessionSettings(username=session_username),
        ["#"],
        Mapper([], "zp", []),
        store,
    )
    assert receiver.username == expected
    store.close()
