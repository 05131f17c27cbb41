"""Request bodies streamed to the app that count how much of them it read."""

from __future__ import annotations

from collections.abc import AsyncIterator


class CountedBody:
    """``chunks`` chunks of ``size`` bytes, sent only as the server asks for them (chunked, no Content-Length)."""

    def __init__(self, chunks: int, size: int = 16384) -> None:
        self.chunks = chunks
        self.size = size
        self.pulled = 0  # chunks the server has asked for

    async def stream(self) -> AsyncIterator[bytes]:
        """The chunks, counted as they are taken."""
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * self.size
