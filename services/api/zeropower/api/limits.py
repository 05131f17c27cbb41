"""Request limits in front of the app: the size of a body and the number of open live-event streams."""

from __future__ import annotations

from collections import Counter

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zeropower.api.errors import error


class BodyLimit:
    """Answers 413 to a body over ``max_bytes``; the app gets the body only once it is all in, within the limit.

    A Content-Length over the limit is refused before a byte of the body is read, a chunked body as soon as the
    bytes counted so far pass it. The connection is closed after a 413, so the rest is not received.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413, or pass the request on with its whole body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # after the body: the disconnect
            message, body = body, None
            return message

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than api.max_body_bytes ({self.max_bytes} bytes)"
        await error(413, detail, {"Connection": "close"})(scope, receive, send)


class StreamLimit:
    """Answers 429 to a request for ``path`` beyond ``per_client`` open from one address or ``total`` in all."""

    def __init__(self, app: ASGIApp, path: str, per_client: int, total: int) -> None:
        self.app = app
        self.path = path
        self.per_client = per_client
        self.total = total
        self.open: Counter[str] = Counter()  # client address -> streams open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 429, or pass the request on and count it as open until it ends."""
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else ""
        if self.open[client] >= self.per_client:
            detail = f"{self.per_client} live-event streams are open from this address already"
        elif self.open.total() >= self.total:
            detail = f"{self.total} live-event streams are open already"
        else:
            detail = None
        if detail is not None:
            await error(429, f"{detail}; close one first")(scope, receive, send)
            return
        self.open[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[client] -= 1
            if not self.open[client]:
                del self.open[client]
