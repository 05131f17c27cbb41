"""The API service: one process running uvicorn and the MQTT gateway until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from zeropower.api.app import create_app
from zeropower.api.gateway import SERVICE_ID, Gateway
from zeropower.api.ha_publisher import HaDiscoveryPublisher
from zeropower.api.history import PowerHistory
from zeropower.api.settings import ApiServiceSettings
from zeropower.shared.service import run_service

log = logging.getLogger("zeropower.api")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service's stop event (run_service) stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing (uvicorn 0.29+ would replace run_service's SIGTERM/SIGINT handlers)."""
        yield


async def run(settings: ApiServiceSettings, stop: asyncio.Event) -> None:
    """Serve HTTP and stay connected to MQTT until ``stop`` is set."""
    history = settings.api.history
    gateway = Gateway(settings.mqtt, history=PowerHistory(history.minutes * 60, history.interval_s))
    HaDiscoveryPublisher(gateway.bus, settings.api.ha_discovery, gateway.topics).install()
    app = create_app(gateway, settings.api)
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=1,
        lifespan="off",
    )
    server = _Server(config)

    async def stop_server() -> None:
        await stop.wait()
        server.should_exit = True

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            stop.set()  # the server ended (e.g. the port is taken): stop the MQTT side too

    async with asyncio.TaskGroup() as group:
        group.create_task(gateway.run(stop))
        group.create_task(stop_server())
        group.create_task(serve())


def main() -> None:
    """Entry point of ``python -m zeropower.api``."""
    run_service(SERVICE_ID, ApiServiceSettings, run)
