"""Fixtures shared by all tests: a private Mosquitto per test and an MQTT probe client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.helpers import MqttProbe
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free port, private to the test (never the system's 1883)."""
    with Broker(workdir=tmp_path) as running:
        yield running


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix per test."""
    return f"zp-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mqtt_settings(broker: Broker, topic_prefix: str) -> MqttSettings:
    """Settings pointing a service at the test's broker and prefix."""
    return MqttSettings(port=broker.port, topic_prefix=topic_prefix, reconnect_min_s=0.1, reconnect_max_s=0.5)


@pytest.fixture
async def probe(broker: Broker) -> AsyncIterator[MqttProbe]:
    """An MQTT client that records every message on the test's broker."""
    async with MqttProbe(broker.port) as client:
        yield client
