"""Request limits: the size of a body (by Content-Length or counted while it streams) and live-event streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from tests.api.bodies import CountedBody
from tests.api.payloads import publish_controller
from zeropower.api.limits import BodyLimit, StreamLimit
from zeropower.shared.topics import Topics

LIMIT = 4096


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """An app answering how many bytes the first request message carried, and whether more was to come."""
    message = await receive()
    answer = {"length": len(message["body"]), "more_body": message.get("more_body", False)}
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def limited_client(app: BodyLimit | StreamLimit, client: tuple[str, int] = ("127.0.0.1", 1234)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://testserver")


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/config/controller"), ("GET", "/api/state")])
async def test_a_body_over_the_limit_by_content_length_is_refused_unread(api_client, method, path):
    async with api_client(max_body_bytes=LIMIT) as (client, _gateway):
        body = CountedBody(chunks=6400)  # 100 MB
        headers = {"Content-Length": str(body.chunks * body.size)}
        response = await client.request(method, path, headers=headers, content=body.stream())
        assert response.status_code == 413
        assert body.pulled == 0
        assert response.json() == {"detail": f"the request body is larger than api.max_body_bytes ({LIMIT} bytes)"}
        assert response.headers["connection"] == "close"


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(api_client, mqtt_settings, probe):
    async with api_client(max_body_bytes=LIMIT) as (client, gateway):
        await publish_controller(probe, Topics(mqtt_settings.topic_prefix), gateway)
        body = CountedBody(chunks=6400, size=1000)  # no Content-Length: counted while it streams
        response = await client.put("/api/config/controller", content=body.stream())
        assert response.status_code == 413
        assert body.pulled == LIMIT // 1000 + 1
        assert response.headers["connection"] == "close"
        assert (await client.put("/api/config/controller", json={"target_w": 5})).status_code == 200


@pytest.mark.parametrize("chunks", [1, 4, LIMIT])
async def test_the_app_gets_a_body_within_the_limit_whole(chunks):
    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield b"y" * (LIMIT // chunks)

    async with limited_client(BodyLimit(echo_length, max_bytes=LIMIT)) as client:
        response = await client.post("/", content=body())
        assert response.json() == {"length": LIMIT, "more_body": False}
        over = await client.post("/", content=b"y" * (LIMIT + 1))
        assert over.status_code == 413


class HeldStreams:
    """Requests through a StreamLimit to an app that keeps every one open until ``release`` is set."""

    def __init__(self, per_client: int, total: int) -> None:
        self.release = asyncio.Event()
        self.limit = StreamLimit(self._stream, path="/events", per_client=per_client, total=total)
        self.tasks: list[asyncio.Task[None]] = []

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await self.release.wait()
        await send({"type": "http.response.body", "body": b""})

    async def status(self, client: str, path: str = "/events") -> int:
        """Send a request from ``client`` (left open); the status it is answered with."""
        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "client": (client, 1)}
        start: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        async def receive() -> Message:
            await self.release.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if not start.done():
                start.set_result(message)

        self.tasks.append(asyncio.create_task(self.limit(scope, receive, send)))
        return (await start)["status"]


async def test_live_event_streams_are_limited_per_client_and_in_total():
    held = HeldStreams(per_client=2, total=3)
    assert [await held.status("10.0.0.1") for _ in range(3)] == [200, 200, 429]
    assert await held.status("10.0.0.2") == 200
    assert await held.status("10.0.0.3") == 429  # 3 open in all
    assert await held.status("10.0.0.3", path="/other") == 200  # other paths are not counted
    assert held.limit.open == {"10.0.0.1": 2, "10.0.0.2": 1}
    held.release.set()
    await asyncio.gather(*held.tasks)
    assert held.limit.open == {}  # every stream that ended gave its place back
