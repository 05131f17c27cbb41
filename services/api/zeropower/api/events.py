"""The web UI: the static page at ``/`` and its live feed ``GET /api/events`` (server-sent events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from zeropower.api.errors import error_responses
from zeropower.api.gateway import Gateway

EVENTS_PATH = "/api/events"
FAVICON_PATH = "/favicon.svg"
WEB_DIR = Path(__file__).parent / "web"
MIN_INTERVAL_S = 0.5  # at most two state events per second, however often MQTT messages arrive
IDLE_S = 15.0  # the state is sent at least this often, so proxies keep an idle stream open


def _event_schema(name: str, data: str) -> dict[str, Any]:
    """One event as OpenAPI 3.1 documents server-sent events: its name and its JSON ``data``."""
    return {
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {"type": "object"}},
        },
        "required": ["event", "data"],
        "description": data,
    }


EVENTS = {
    "description": "The stream of events, each `state` or `config`.",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",  # replaces the "string" FastAPI documents for a streaming answer
                "oneOf": [
                    _event_schema("state", "The JSON of `GET /api/state`."),
                    _event_schema("config", "The JSON of `GET /api/config/controller`."),
                ],
            }
        }
    },
}


class EventStreamResponse(StreamingResponse):
    """Server-sent events (``text/event-stream``)."""

    media_type = "text/event-stream"


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def state_events(gateway: Gateway, state: Callable[[], Awaitable[dict[str, Any]]]) -> AsyncIterator[str]:
    """``state`` events (the JSON of ``GET /api/state``) and ``config`` events (the controller's tunables)."""
    sent_config = None
    while True:
        sent_at = time.monotonic()
        yield _event("state", await state())
        config = gateway.snapshot.controller_config
        if config is not None and config != sent_config:
            sent_config = config
            yield _event("config", config)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gateway.wait_changed(), IDLE_S)
        await asyncio.sleep(max(0.0, sent_at + MIN_INTERVAL_S - time.monotonic()))


def install_web(app: FastAPI, gateway: Gateway, state: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    """Serve the page at ``/``, its icon, its assets under ``/web/`` and the live feed at ``/api/events``."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get(FAVICON_PATH, include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon_ico() -> RedirectResponse:
        """Browsers and tools ask for /favicon.ico by themselves: send them to the SVG icon."""
        return RedirectResponse(FAVICON_PATH, status_code=301)

    @app.get(EVENTS_PATH, response_class=EventStreamResponse, responses={200: EVENTS, **error_responses(429)})
    async def events() -> EventStreamResponse:
        """Server-sent events: `state` (as `GET /api/state`) on every change, at most every 0.5 s; `config`."""
        return EventStreamResponse(
            state_events(gateway, state), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
