"""Fixtures for meter tests: a real local HTTP server playing the device, and an HTTP client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web

from zeropower.meter.gate import ReadingGate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SeenRequest:
    """What the fake device was asked."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class FakeDevice:
    """An aiohttp server on 127.0.0.1 (free port) that answers configured paths and records requests."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = asyncio.Event()  # requests that hang wait for this (set at teardown)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, path: str, handler: Handler) -> None:
        """Answer ``path`` with ``handler``."""
        self._routes[path] = handler

    def json(self, path: str, payload: Any, status: int = 200, delay_s: float = 0.0) -> None:
        """Answer ``path`` with a JSON document (a str is sent as it is, e.g. with a bare NaN)."""
        body = payload if isinstance(payload, str) else json.dumps(payload)

        async def answer(_: web.Request) -> web.Response:
            if delay_s:
                await asyncio.sleep(delay_s)  # the device is slow (simulation, not synchronisation)
            return web.Response(text=body, status=status, content_type="application/json")

        self.route(path, answer)

    def status(self, path: str, status: int, text: str = "") -> None:
        """Answer ``path`` with an HTTP error status."""

        async def answer(_: web.Request) -> web.Response:
            return web.Response(status=status, text=text)

        self.route(path, answer)

    def hang(self, path: str) -> None:
        """Never answer ``path`` (until teardown)."""

        async def answer(_: web.Request) -> web.Response:
            await self.release.wait()
            return web.Response(status=503)

        self.route(path, answer)

    def seen(self, path: str) -> list[SeenRequest]:
        """Requests for ``path`` so far."""
        return [request for request in self.requests if request.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            SeenRequest(request.method, request.path, dict(request.query), dict(request.headers), time.monotonic())
        )
        handler = self._routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text=f"no such path {request.path}")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


class DigestGuard:
    """Checks HTTP digest credentials (SHA-256, qop=auth) the way a Shelly Gen2 does."""

    def __init__(self, username: str, password: str, realm: str = "shellypro3em-test") -> None:
        self.username = username
        self.password = password
        self.realm = realm
        self.nonce = secrets.token_hex(16)

    def protect(self, handler: Handler) -> Handler:
        """Wrap ``handler``: 401 with a challenge unless the request carries a valid digest response."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            if self._valid(request):
                return await handler(request)
            challenge = f'Digest qop="auth", realm="{self.realm}", nonce="{self.nonce}", algorithm=SHA-256'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})

        return guarded

    def _valid(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = {m[0]: m[1] or m[2] for m in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])}
        needed = {"username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "algorithm"}
        if not needed <= fields.keys() or fields["algorithm"] != "SHA-256" or fields["uri"] != request.path_qs:
            return False
        if (fields["username"], fields["realm"], fields["nonce"]) != (self.username, self.realm, self.nonce):
            return False

        def sha256(text: str) -> str:
            return hashlib.sha256(text.encode()).hexdigest()

        ha1 = sha256(f"{self.username}:{self.realm}:{self.password}")
        ha2 = sha256(f"{request.method}:{fields['uri']}")
        expected = sha256(f"{ha1}:{self.nonce}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        return hmac.compare_digest(expected, fields["response"])


def basic_auth_of(request: SeenRequest) -> tuple[str, str] | None:
    """The user and password a request sent with HTTP basic auth."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@pytest.fixture
async def device() -> AsyncIterator[FakeDevice]:
    """A fake meter device on a free local port."""
    fake = FakeDevice()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client drivers share."""
    async with httpx.AsyncClient() as client:
        yield client


def checked(values, requested_at=1700000000.0):
    """What the service would publish for ``values`` (a first read, so no device time may be involved).

    The driver's counters are taken as netted: they pass the plausibility checks as they are.
    """
    gate = ReadingGate("test meter", max_power_w=50_000, stale_after_s=10, netted_counters=True, energy_max_gap_s=10)
    return gate.judge(values, requested_at)
