"""The firehose: every message on the recorder's topic filters, received and mapped on paho-mqtt's own thread.

The recorder's hot path bypasses the asyncio MQTT stack (aiomqtt's queue and iterator, ``MqttBus`` dispatch),
which costs about twice paho's own receive path. paho's network thread maps each message to lines (the
mapping is pure) and appends them to a FIFO; the event loop takes them over at most every 10 ms, not per
message, and hands them to the pipeline in arrival order. The service's availability and state still go
through ``MqttBus``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from zeropower.recorder.mapping import Mapper
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


class FirehoseReceiver:
    """A paho-mqtt connection of its own, subscribed to ``filters``, kept up by paho's reconnect."""

    def __init__(self, settings: MqttSettings, filters: list[str], mapper: Mapper, sink: Sink) -> None:
        self._settings = settings
        self._filters = filters
        self._mapper = mapper
        self._sink = sink
        self._queue: deque[tuple[list[str], float]] = deque()
        self._wake_pending = False
        self._last_ns = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._health = ChangeLogger(log, f"MQTT broker {settings.host}:{settings.port} (recording)")
        self.subscribed = asyncio.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        settings = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"zeropower-recorder-firehose-{socket.gethostname()}"
        )
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set_context(tls_context(settings))
            client.tls_insecure_set(settings.tls_insecure)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    async def run(self, stop: asyncio.Event) -> None:
        """Receive until ``stop`` is set; then disconnect and hand over what has arrived so far."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._settings.host, self._settings.port, keepalive=self._settings.keepalive_s)
        self._client.loop_start()
        try:
            await stop.wait()
        finally:
            self._stopping = True
            self._client.disconnect()
            try:
                await asyncio.wait_for(asyncio.to_thread(self._client.loop_stop), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("MQTT receive thread did not stop within %.0f s", STOP_TIMEOUT_S)
            self._drain()

    # paho's network thread from here on, except _drain

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        arrival_ns = max(time.time_ns(), self._last_ns + 1)  # unique, so no point overwrites another
        self._last_ns = arrival_ns
        try:
            lines = self._mapper.lines(message.topic, message.payload, arrival_ns)
        except Exception:
            log.exception("mapping a message on %s failed", message.topic)
            lines = []
        self._queue.append((lines, arrival_ns / 1e9))
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._loop.call_later, HANDOVER_DELAY_S, self._drain)

    def _drain(self) -> None:
        """On the event loop: everything queued, to the sink in order (cleared flag first: no wake-up is lost)."""
        self._wake_pending = False
        queue, sink = self._queue, self._sink
        while queue:
            lines, arrival = queue.popleft()
            sink(lines, arrival)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._health.report(f"connection refused: {reason_code}; retrying")
            return
        self._health.report(None)
        no_delay(client.socket())  # acknowledge each QoS 1 message at once (no Nagle delay)
        client.subscribe([(topic_filter, 1) for topic_filter in self._filters])

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
