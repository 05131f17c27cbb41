"""The firehose: every message on the recorder's topic filters, received and mapped on paho-mqtt's own thread.

The recorder's hot path bypasses the asyncio MQTT stack (aiomqtt's queue and iterator, ``MqttBus`` dispatch),
which costs about twice paho's own receive path. paho's network thread maps each message to lines (the
mapping is pure) and appends them to a FIFO; the event loop takes them over at most every 10 ms, not per
message, and hands them to the pipeline in arrival order. The service's availability and state still go
through ``MqttBus``.

The connection keeps a persistent MQTT v5 session (a stable client id, clean start off, a session expiry) with
QoS 1 subscriptions, so the broker queues what arrives while the recorder restarts. A QoS 1 message is
acknowledged only once its points are in InfluxDB or the spool (``Ledger``); one the broker sends again after a
crash (flagged as a duplicate) is mapped on the event loop with the time of arrival it had the first time.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from zeropower.recorder.ledger import NO_KEY, Ledger
from zeropower.recorder.mapping import Mapper
from zeropower.recorder.session import SessionStore
from zeropower.recorder.settings import SessionSettings
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.mqtt import no_delay, tls_context
from zeropower.shared.settings import MqttSettings

log = logging.getLogger("zeropower.recorder")

#: Receives the lines of one message and its arrival time (Unix s), on the event loop, in arrival order.
Sink = Callable[[list[str], float], None]

#: How long messages collect before the event loop takes them over, in s: waking it per message (paho's
#: thread drops the GIL at every socket call) cost ~18 µs of ~60 µs per message in bench/recorder.py.
HANDOVER_DELAY_S = 0.01

#: How long a stop waits for paho's thread to end, in s.
STOP_TIMEOUT_S = 1.0

#: Exception types that get a problem logger of their own; any further type shares one.
MAX_PROBLEM_KINDS = 16


@dataclass(slots=True)
class _Received:
    """A mapped message: its lines, time of arrival (Unix ns) and ledger key."""

    lines: list[str]
    arrival_ns: int
    key: int


@dataclass(slots=True)
class _Redelivered:
    """A message the broker sent again (duplicate flag): mapped on the event loop with its first arrival time."""

    topic: str
    payload: bytes
    arrival_ns: int
    key: int


class _Connected:
    """A new connection: messages before it are acknowledged no more (the broker sends them again)."""


_CONNECTED = _Connected()


class FirehoseReceiver:
    """A paho-mqtt connection of its own, subscribed to ``filters``, kept up by paho's reconnect."""

    def __init__(
        self,
        settings: MqttSettings,
        session: SessionSettings,
        filters: list[str],
        mapper: Mapper,
        store: SessionStore,
    ) -> None:
        self._settings = settings
        self._session = session
        self._filters = filters
        self._mapper = mapper
        self._store = store
        self._stale_filters = sorted(set(store.filters()) - set(filters))
        store.save_filters([*filters, *self._stale_filters])  # what the broker's session may hold from now on
        self.client_id, self._session_expected = store.client_id(session.client_id)
        self.username = session.username or (f"{settings.username}-firehose" if settings.username else None)
        self.ledger = Ledger(store, self._ack)
        self._sink: Sink | None = None
        self._queue: deque[_Received | _Redelivered | _Connected] = deque()
        self._wake_pending = False
        self._last_ns = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._intake_open = True
        self._stopping = False
        recording = f"recording as {self.username}" if self.username else "recording"
        self._health = ChangeLogger(log, f"MQTT broker {settings.host}:{settings.port} ({recording})")
        self._problems: dict[str, ChangeLogger] = {}
        self.subscribed = asyncio.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        settings = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if self.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(self.username, password)
        if settings.tls:
            client.tls_set_context(tls_context(settings))
            client.tls_insecure_set(settings.tls_insecure)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        return client

    def start(self, sink: Sink) -> None:
        """Connect (in the background, on paho's thread) and hand every message to ``sink`` from now on."""
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._session.expiry_s
        properties.ReceiveMaximum = self._session.receive_maximum
        self._client.connect_async(
            self._settings.host,
            self._settings.port,
            keepalive=self._settings.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def close_intake(self) -> None:
        """Hand over what has arrived; later messages are left to the broker (unacknowledged, sent again)."""
        self._drain()
        self._intake_open = False

    async def stop(self) -> None:
        """Disconnect (the broker keeps the session) and end paho's thread."""
        self._stopping = True
        self._client.disconnect()
        try:
            await asyncio.wait_for(asyncio.to_thread(self._client.loop_stop), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("MQTT receive thread did not stop within %.0f s", STOP_TIMEOUT_S)

    def sealed(self, slots: int) -> None:
        """The pipeline has put the first ``slots`` messages into batches (see ``Ledger.sealed``)."""
        self.ledger.sealed(slots)

    def safe(self, slots: int) -> None:
        """The first ``slots`` messages are in InfluxDB or the spool (see ``Ledger.safe``)."""
        self.ledger.safe(slots)

    def _ack(self, packet_id: int) -> None:
        self._client.ack(packet_id, 1)

    # paho's network thread from here on, except _drain, _map_redelivered and _save_filters

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        arrival_ns = max(time.time_ns(), self._last_ns + 1)  # unique, so no point overwrites another
        self._last_ns = arrival_ns
        try:
            topic = message.topic
        except UnicodeDecodeError as error:
            self._problem(error, "a topic that is not UTF-8")
            topic = ""
        key = NO_KEY
        if message.qos:
            key = zlib.crc32(message.payload, zlib.crc32(topic.encode())) << 16 | message.mid
        if message.dup and message.qos:
            self._queue.append(_Redelivered(topic, message.payload, arrival_ns, key))
        else:
            self._queue.append(_Received(self._lines(topic, message.payload, arrival_ns), arrival_ns, key))
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._loop.call_later, HANDOVER_DELAY_S, self._drain)

    def _lines(self, topic: str, payload: bytes, arrival_ns: int) -> list[str]:
        if not topic:
            return []
        try:
            return self._mapper.lines(topic, payload, arrival_ns)
        except Exception as error:  # a bug in a rule costs the message, logged once a minute
            self._problem(error, topic)
            return []

    def _problem(self, error: Exception, topic: str) -> None:
        """One line per kind of error, at most one a minute each (a flood of bad messages stays readable)."""
        kind = type(error).__name__
        problems = self._problems.get(kind)
        if problems is None:
            if len(self._problems) >= MAX_PROBLEM_KINDS:
                kind = "other"
            problems = self._problems.setdefault(kind, ChangeLogger(log, f"recording ({kind})"))
        problems.report(f"cannot map a message on {topic}: {type(error).__name__}: {error}")

    def _drain(self) -> None:
        """On the event loop: everything queued, to the sink in order (cleared flag first: no wake-up is lost)."""
        self._wake_pending = False
        if not self._intake_open or self._sink is None:
            return
        queue, sink, ledger = self._queue, self._sink, self.ledger
        while queue:
            item = queue.popleft()
            if isinstance(item, _Received):
                ledger.add(item.key, item.arrival_ns)
                sink(item.lines, item.arrival_ns / 1e9)
            elif isinstance(item, _Redelivered):
                arrival_ns = ledger.original_arrival(item.key) or item.arrival_ns
                ledger.add(item.key, arrival_ns, redelivered=True)
                sink(self._lines(item.topic, item.payload, arrival_ns), arrival_ns / 1e9)
            else:
                ledger.connected()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._health.report(f"connection refused: {reason_code}; retrying")
            return
        self._health.report(None)
        self._queue.append(_CONNECTED)
        if self._session_expected and not flags.session_present:
            log.warning(
                "the broker had no session for client id %s: what was published while the recorder was away is "
                "not recorded (session expired, or the broker restarted without persistence)",
                self.client_id,
            )
        self._session_expected = self._session.expiry_s > 0
        no_delay(client.socket())  # acknowledge each QoS 1 message at once (no Nagle delay)
        # retained messages only for a subscription the session does not hold yet: no copies after a resume
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(topic_filter, options) for topic_filter in self._filters])
        if self._stale_filters:
            client.unsubscribe(self._stale_filters)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        for topic_filter, code in zip(self._filters, reason_codes, strict=False):
            if code.is_failure:
                log.warning("subscribing to %s failed: %s", topic_filter, code)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.subscribed.set)

    def _on_unsubscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        _reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        log.info("no longer recording %s (not configured any more)", ", ".join(self._stale_filters))
        self._stale_filters = []
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._store.save_filters, self._filters)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: object) -> None:
        error = sys.exc_info()[1]  # paho calls this while handling the connect error
        self._health.report(f"{error or 'cannot connect'}; retrying with backoff")

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._stopping:
            self._health.report(f"connection lost: {reason_code}; reconnecting with backoff")
