"""Fixtures for the API tests: the gateway running in-process against the test's Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from zeropower.api.app import create_app
from zeropower.api.gateway import Gateway
from zeropower.api.settings import ApiSettings
from zeropower.shared.settings import MqttSettings

ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, Gateway]]]


@pytest.fixture
def api_client(mqtt_settings: MqttSettings) -> ApiFactory:
    """Start the gateway (connected, subscribed) and an HTTP client on its app; keyword args are ApiSettings.

    ``mqtt`` replaces the test's MQTT settings (e.g. a slower reconnect).
    """

    @contextlib.asynccontextmanager
    async def start(
        mqtt: MqttSettings | None = None, **api_settings: Any
    ) -> AsyncIterator[tuple[httpx.AsyncClient, Gateway]]:
        gateway = Gateway(mqtt or mqtt_settings)
        app = create_app(gateway, ApiSettings(**api_settings))
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        try:
            await asyncio.wait_for(gateway.bus.connected.wait(), 10)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client, gateway
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)

    return start
