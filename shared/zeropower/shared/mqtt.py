"""The MQTT client every service uses.

It reconnects with backoff, re-subscribes and re-publishes its retained state after each reconnect, keeps a
retained availability topic (last will ``offline``), and says so once when another client keeps taking over
its client id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
from pydantic import BaseModel

from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics

log = logging.getLogger(__name__)

Handler = Callable[["IncomingMessage"], Awaitable[None]]
ConnectHook = Callable[[], Awaitable[None]]

ONLINE = "online"
OFFLINE = "offline"
#: Longest wait for a broker's acknowledgement of a retained publish (loopback: milliseconds). A retained
#: payload that times out is still sent again after the next reconnect.
PUBLISH_TIMEOUT_S = 2.0
#: Longest wait for a clean disconnect; a stop must finish within 2 s, and the broker sends the last will anyway.
DISCONNECT_TIMEOUT_S = 0.5
#: A connection lost this soon after it was established counts towards a takeover: longer than aiomqtt's 5 s
#: wait for an acknowledgement the broker never sends once it has closed the connection, shorter than the 45 s
#: after which the default keepalive (30 s) notices a dead link.
TAKEOVER_WINDOW_S = 10.0
#: This many short connections in a row mean another client is connecting with our client id.
TAKEOVER_COUNT = 3


@dataclass(frozen=True)
class IncomingMessage:
    """A received message: topic, raw payload and whether the broker delivered it as retained."""

    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (undecodable bytes replaced)."""
        return self.payload.decode(errors="replace")


class MqttBus:
    """One MQTT connection of one service, supervised until ``stop`` is set."""

    def __init__(self, settings: MqttSettings, client_id: str, availability_topic: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._availability_topic = availability_topic
        self._subscriptions: list[tuple[str, Handler]] = []
        self._retained: dict[str, bytes] = {}
        self._connect_hooks: list[ConnectHook] = []
        self._client: aiomqtt.Client | None = None
        self._handler_problems: dict[str, ChangeLogger] = {}
        self.connected = asyncio.Event()

    @classmethod
    def for_service(cls, settings: MqttSettings, service_id: str) -> MqttBus:
        """The bus of one zeropower service: its default client id, availability from the catalogue."""
        client_id = default_client_id(settings, service_id)
        return cls(settings, client_id, Topics(settings.topic_prefix).availability(service_id))

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Call ``handler`` for every message matching ``topic_filter`` (kept across reconnects)."""
        self._subscriptions.append((topic_filter, handler))
        if self._client is not None:
            task = asyncio.get_running_loop().create_task(self._subscribe_now(self._client, topic_filter))
            task.add_done_callback(_log_task_error)

    def unsubscribe(self, topic_filter: str, handler: Handler) -> None:
        """Stop calling ``handler`` for ``topic_filter``; the broker subscription ends with its last handler."""
        self._subscriptions.remove((topic_filter, handler))
        if self._client is not None and all(other != topic_filter for other, _ in self._subscriptions):
            task = asyncio.get_running_loop().create_task(_acked(self._client.unsubscribe(topic_filter)))
            task.add_done_callback(_log_task_error)

    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook`` after every (re)connect, once subscriptions and retained state are restored."""
        self._connect_hooks.append(hook)

    def remove_on_connect(self, hook: ConnectHook) -> None:
        """Stop running ``hook`` after (re)connects."""
        self._connect_hooks.remove(hook)

    async def publish(
        self, topic: str, payload: str | bytes | BaseModel, *, retain: bool = False, acknowledged: bool = False
    ) -> bool:
        """Publish; retained payloads are remembered and sent again after a reconnect.

        Retained and ``acknowledged`` messages go at QoS 1 and the call waits for the broker's
        acknowledgement (a command sent once: it must arrive, but is never sent again); other messages
        (streams) at QoS 0. Returns False when not connected or not acknowledged in time.
        """
        data = _encode(payload)
        if retain:
            self._retained[topic] = data
        client = self._client
        if client is None:
            return False
        qos = 1 if retain or acknowledged else 0
        try:
            await _acked(client.publish(topic, data, qos=qos, retain=retain, timeout=PUBLISH_TIMEOUT_S))
        except aiomqtt.MqttError as error:
            log.debug("publish to %s failed: %s", topic, error)
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set; then publish ``offline`` and disconnect."""
        delay = self._settings.reconnect_min_s
        last_problem: str | None = None
        takeover = TakeoverWatch()
        while not stop.is_set():
            client = self._make_client()
            try:
                await client.__aenter__()
                takeover.connected()
                held = asyncio.get_running_loop().call_later(TAKEOVER_WINDOW_S, self._held, takeover)
                try:
                    await self._start_session(client)
                    if last_problem is not None and not takeover.suspected:
                        log.info("connected to MQTT broker %s:%s again", self._settings.host, self._settings.port)
                    last_problem = None
                    delay = self._settings.reconnect_min_s
                    await self._serve(client, stop)
                    if stop.is_set():
                        await client.publish(self._availability_topic, OFFLINE, qos=1, retain=True, timeout=1)
                finally:
                    held.cancel()
                    self._client = None  # publishes from now on are not attempted
                    await _disconnect(client)
            except aiomqtt.MqttError as error:
                if not stop.is_set() and takeover.lost():
                    self._log_takeover()
                problem = str(error)
                if problem != last_problem and not takeover.suspected:
                    log.warning(
                        "MQTT broker %s:%s: %s; reconnecting with backoff",
                        self._settings.host,
                        self._settings.port,
                        problem,
                    )
                last_problem = problem
            finally:
                self._client = None
                self.connected.clear()
                _settle_disconnect_reason(client)
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, self._settings.reconnect_max_s)

    def _held(self, takeover: TakeoverWatch) -> None:
        if takeover.held():
            log.info(
                "MQTT client id %r kept its connection for %.0f s: the takeover is over",
                self._client_id,
                TAKEOVER_WINDOW_S,
            )

    def _log_takeover(self) -> None:
        settings = self._settings
        log.warning(
            "MQTT broker %s:%s closed our connection (client id %r, user %r) %d times in a row within %.0f s of "
            "connecting: another client connects with the same client id, e.g. a second instance of this service "
            "(zeropower's Mosquitto takes the user name as client id). Stop the other instance, or give it its own "
            "MQTT user (docs/deployment.md, 'A second actuator instance'). Not repeated while it goes on.",
            settings.host,
            settings.port,
            self._client_id,
            settings.username,
            TAKEOVER_COUNT,
            TAKEOVER_WINDOW_S,
        )

    def _make_client(self) -> aiomqtt.Client:
        settings = self._settings
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            identifier=self._client_id,
            will=aiomqtt.Will(self._availability_topic, OFFLINE, qos=1, retain=True),
            keepalive=settings.keepalive_s,
            timeout=5,
            tls_context=tls_context(settings) if settings.tls else None,
            tls_insecure=settings.tls_insecure if settings.tls else None,
            socket_options=NO_DELAY,
        )

    async def _start_session(self, client: aiomqtt.Client) -> None:
        self._client = client
        for topic_filter, _ in self._subscriptions:
            await self._subscribe_now(client, topic_filter)
        for topic, data in list(self._retained.items()):
            await client.publish(topic, data, qos=1, retain=True)
        await client.publish(self._availability_topic, ONLINE, qos=1, retain=True)  # ready: subscribed
        self.connected.set()
        for hook in list(self._connect_hooks):
            await hook()

    @staticmethod
    async def _subscribe_now(client: aiomqtt.Client, topic_filter: str) -> None:
        await _acked(client.subscribe(topic_filter, qos=1))

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Dispatch messages until stop is set; raises MqttError when the connection drops."""
        receiver = asyncio.create_task(self._dispatch(client))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not receiver.done():
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiver
        if receiver.done() and not receiver.cancelled() and (error := receiver.exception()) is not None:
            raise error

    async def _dispatch(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            incoming = IncomingMessage(str(message.topic), _payload_bytes(message.payload), bool(message.retain))
            for topic_filter, handler in list(self._subscriptions):  # a handler may (un)subscribe
                if message.topic.matches(topic_filter):
                    problems = self._handler_problems.setdefault(
                        topic_filter, ChangeLogger(log, f"handler for {topic_filter}")
                    )
                    try:
                        await handler(incoming)
                    except Exception as error:
                        log.debug("handler for %s failed on %s", topic_filter, incoming.topic, exc_info=True)
                        problems.report(f"failed on a message on {incoming.topic}: {type(error).__name__}: {error}")
                    else:
                        problems.report(None)


def default_client_id(settings: MqttSettings, service_id: str) -> str:
    """The client id ``<prefix>-<service>-<host>``, e.g. ``zeropower-actuator-opendtu-<host>``.

    One per installation (topic prefix), service (an actuator: per actuator id) and host; the same after a restart.
    """
    return f"{settings.topic_prefix}-{service_id}-{socket.gethostname()}".replace("/", "-")


class TakeoverWatch:
    """Tells another client connecting with our client id from other disconnects.

    Mosquitto closes the older of two connections with one client id, over MQTT 3.1.1 without a reason, so
    two clients with one id knock each other off as fast as they reconnect: each connection is lost within
    moments of being established, although every connect succeeds. TAKEOVER_COUNT such connections in a row
    (each lost within TAKEOVER_WINDOW_S) are a takeover; a connection that holds for TAKEOVER_WINDOW_S, or a
    connect that fails (the broker is down), ends it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: float | None = None  # when the current connection was established
        self._short = 0  # short connections in a row

    @property
    def suspected(self) -> bool:
        """Whether the recent connections look like a takeover (until a connection lasts or a connect fails)."""
        return self._short >= TAKEOVER_COUNT

    def connected(self) -> None:
        """A connection is established."""
        self._since = self._clock()

    def held(self) -> bool:
        """The connection has lasted TAKEOVER_WINDOW_S; True when that ends a takeover."""
        suspected, self._short = self.suspected, 0
        return suspected

    def lost(self) -> bool:
        """The connection (or the attempt) is gone; True exactly when this makes it a takeover."""
        since, self._since = self._since, None
        if since is None or self._clock() - since >= TAKEOVER_WINDOW_S:
            self._short = 0
            return False
        self._short += 1
        return self._short == TAKEOVER_COUNT


async def _acked(call: Awaitable[object]) -> None:
    """Await an aiomqtt call that waits for the broker's acknowledgement, without losing a cancellation.

    On Python 3.11 ``asyncio.wait_for`` (which aiomqtt uses for PUBACK and SUBACK) returns the result of a
    cancellation that arrives together with it instead of raising: a stopping service would carry on, and
    its message loop would wait for the next message forever. A cancellation requested during the call is
    raised here.
    """
    task = asyncio.current_task()
    requested = task.cancelling() if task is not None else 0
    await call
    if task is not None and task.cancelling() > requested:
        raise asyncio.CancelledError


async def _disconnect(client: aiomqtt.Client) -> None:
    """Leave the session, waiting at most DISCONNECT_TIMEOUT_S (aiomqtt would wait up to its 5 s timeout)."""
    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
        async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
            await client.__aexit__(None, None, None)


def _settle_disconnect_reason(client: aiomqtt.Client) -> None:
    """Read the reason of an unexpected disconnect that no call awaited (we already logged the error).

    aiomqtt keeps it in a future; when the session ended another way (a timeout, a stop), nobody reads it
    and asyncio would log "Future exception was never retrieved" at every broker outage.
    """
    disconnected = client._disconnected  # private: aiomqtt offers no public way to read it
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()


def _encode(payload: str | bytes | BaseModel) -> bytes:
    if isinstance(payload, BaseModel):
        return payload.model_dump_json().encode()
    if isinstance(payload, str):
        return payload.encode()
    return payload


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


#: Send each packet at once: without it, a small publish can wait ~40 ms for the broker's delayed ACK (Nagle).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def no_delay(sock: object) -> None:
    """Set NO_DELAY on a paho client's connected socket (``client.socket()``; nothing when not connected)."""
    if isinstance(sock, socket.socket):
        for option in NO_DELAY:
            sock.setsockopt(*option)


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """The TLS context for the broker connection: CA (or the system's), optional client certificate."""
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if settings.cert_file:
        context.load_cert_chain(str(settings.cert_file), str(settings.key_file) if settings.key_file else None)
    if settings.tls_insecure:
        context.check_hostname = False
    return context


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("(un)subscribing failed: %s", error)
