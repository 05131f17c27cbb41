"""An in-memory stand-in for MqttBus: delivers messages to the handlers and records what is published."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiomqtt
from pydantic import BaseModel

from zeropower.shared.mqtt import ConnectHook, Handler, IncomingMessage


@dataclass(frozen=True)
class Published:
    """One publish: topic, payload and retain flag."""

    topic: str
    payload: bytes
    retain: bool


class MemoryBus:
    """Handlers by topic filter, called directly; unlike MqttBus a failing handler fails the test."""

    def __init__(self) -> None:
        self.subscriptions: list[tuple[str, Handler]] = []
        self.published: list[Published] = []
        self.connected = asyncio.Event()

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        self.subscriptions.append((topic_filter, handler))

    def unsubscribe(self, topic_filter: str, handler: Handler) -> None:
        self.subscriptions.remove((topic_filter, handler))

    def on_connect(self, hook: ConnectHook) -> None:
        """Connect hooks never run: this bus is never connected."""

    def remove_on_connect(self, hook: ConnectHook) -> None:
        """Nothing to remove: hooks are not kept."""

    async def publish(
        self, topic: str, payload: str | bytes | BaseModel, *, retain: bool = False, acknowledged: bool = False
    ) -> bool:
        if isinstance(payload, BaseModel):
            payload = payload.model_dump_json()
        self.published.append(Published(topic, payload.encode() if isinstance(payload, str) else payload, retain))
        return True

    async def deliver(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Hand a message to every matching handler (exceptions propagate); return how many there were."""
        handlers = [handler for pattern, handler in self.subscriptions if aiomqtt.Topic(topic).matches(pattern)]
        for handler in handlers:
            await handler(IncomingMessage(topic, payload, retain))
        return len(handlers)
