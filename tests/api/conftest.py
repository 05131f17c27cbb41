"""Fixtures for the API tests: the gateway running in-process against the test's Mosquitto, and the web UI's
browser tests: the app served by uvicorn, a page in headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Page

from tests.browser import chromium_page
from tests.helpers import wait_until
from zeropower.api.app import create_app
from zeropower.api.gateway import Gateway
from zeropower.api.settings import ApiSettings
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import free_port

TIMEOUT_MS = 10_000  # a browser test's default timeout

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


@pytest.fixture
def api_settings() -> ApiSettings:
    """The app's settings (a test parametrizes it to set a token)."""
    return ApiSettings()


@pytest.fixture
async def base_url(mqtt_settings: MqttSettings, api_settings: ApiSettings) -> AsyncIterator[str]:
    """The real app (gateway connected to the test's Mosquitto) served by uvicorn on a free port."""
    gateway = Gateway(mqtt_settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(gateway, api_settings),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    gateway_task = asyncio.create_task(gateway.run(stop))
    server_task = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(gateway.bus.connected.wait(), 10)
        await wait_until(lambda: server.started)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        stop.set()
        await asyncio.wait_for(asyncio.gather(server_task, gateway_task), 10)


@pytest.fixture
def locale() -> str:
    """The browser's language (a test parametrizes it)."""
    return "en-US"


@pytest.fixture
async def page(base_url: str, locale: str) -> AsyncIterator[Page]:
    """A page in headless Chromium (the system's, never a downloaded one), 390 px wide like a phone."""
    async with chromium_page(base_url, TIMEOUT_MS, locale) as page:
        yield page
