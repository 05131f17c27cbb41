"""Any MQTT topic: a bare number or a JSON payload with a key path, optionally import minus export."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from zeropower.meter.device_time import DeviceTime, parse_device_time
from zeropower.meter.drivers.base import Deliver
from zeropower.meter.key_path import KeyPath, resolve
from zeropower.meter.reading import MeterError, MeterValues, PowerUnit, finite_number, watts
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.settings import StrictModel

_TOPIC = r"^[^#+]+$"


class MqttMeterConfig(StrictModel):
    """A topic on the service's own broker that carries grid power (e.g. Tasmota's tele/<topic>/SENSOR)."""

    type: Literal["mqtt"] = Field(description="Driver listening to an MQTT topic.")
    topic: str = Field(pattern=_TOPIC, description="Topic with the power (import power when an export is set).")
    path: KeyPath = Field("", description="Key path in a JSON payload, e.g. 'SML/curr_w'; empty = bare number.")
    export_topic: str | None = Field(
        None, pattern=_TOPIC, description="Topic with the export power; grid = topic - export (default: same topic)."
    )
    export_path: KeyPath | None = Field(None, description="Key path of the export power in its payload.")
    unit: PowerUnit = Field("W", description="Unit of the values: W, kW or mW.")
    invert: bool = Field(False, description="Flip the sign, for a source that counts export as positive.")
    time_path: KeyPath | None = Field(
        None,
        min_length=1,
        description="Key path of the device's own time in the topic's JSON payload (e.g. 'Time' for Tasmota): "
        "ISO 8601 with or without zone, or Unix s or ms. A value counts only when that time has changed; "
        "unchanged for stale_after_s, the readings say the value is frozen.",
    )

    @model_validator(mode="after")
    def _time_needs_json(self) -> Self:
        if self.time_path is not None and not self.path:
            raise ValueError("time_path needs a JSON payload: set path too")
        return self

    @property
    def has_export(self) -> bool:
        """True when grid power is import minus a separate export value."""
        return self.export_topic is not None or self.export_path is not None


class MqttMeter:
    """Subscribes through the service's MqttBus and delivers a reading for every message.

    Retained messages are skipped: they may be hours old. With an export value, each message gives
    import minus the newest export, provided both arrived within ``stale_after_s`` (local monotonic clock).
    """

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(
        self,
        config: MqttMeterConfig,
        bus: MqttBus,
        stale_after_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._bus = bus
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._export_topic = config.export_topic or config.topic
        self._latest: dict[str, tuple[float, float]] = {}  # "import"/"export" -> (value, monotonic arrival)
        self._device_time: DeviceTime | None = None
        self._deliver: Deliver | None = None
        self.description = f"MQTT topic {config.topic}" + (
            f" minus {self._export_topic}" if config.has_export and self._export_topic != config.topic else ""
        )

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Subscribe and deliver readings until ``stop`` is set; then unsubscribe."""
        self._deliver = deliver
        topics = [self._config.topic]
        if self._config.has_export and self._export_topic != self._config.topic:
            topics.append(self._export_topic)
        for topic in topics:
            self._bus.subscribe(topic, self._on_message)
        try:
            await stop.wait()
        finally:  # a new setup replaces this meter: its topics are no longer read
            for topic in topics:
                self._bus.unsubscribe(topic, self._on_message)

    async def _on_message(self, message: IncomingMessage) -> None:
        if message.retain or self._deliver is None:
            return
        await self._deliver(self._values(message, self._clock()))

    def _values(self, message: IncomingMessage, now: float) -> MeterValues | MeterError:
        config = self._config
        try:
            if message.topic == config.topic:
                self._store("import", message, config.path, now)
            if config.has_export and message.topic == self._export_topic:
                self._store("export", message, config.export_path or "", now)
            power = self._fresh("import", config.topic, now)
            if config.has_export:
                power -= self._fresh("export", self._export_topic, now)
        except MeterError as error:
            return error
        return MeterValues(
            power_w=watts(power, config.unit, invert=config.invert),
            timestamp=self._device_time.unix if self._device_time is not None else None,
            device_time=self._device_time,
        )

    def _store(self, role: str, message: IncomingMessage, path: str, now: float) -> None:
        self._latest.pop(role, None)
        if role == "import":
            self._device_time = None
        document = _payload(message, path)
        value = _value(message, document, path)
        if role == "import" and self._config.time_path is not None:
            self._device_time = parse_device_time(
                _at(message, document, self._config.time_path), f"{message.topic} {self._config.time_path}"
            )
        self._latest[role] = (value, now)

    def _fresh(self, role: str, topic: str, now: float) -> float:
        if role not in self._latest:
            raise MeterError(f"no valid {role} value on {topic} yet")
        value, arrived = self._latest[role]
        if now - arrived > self._stale_after_s:
            raise MeterError(f"the {role} value on {topic} is older than {self._stale_after_s:g} s")
        return value


def _payload(message: IncomingMessage, path: str) -> Any:
    """The payload as JSON (as text when ``path`` is empty: then the payload is the number)."""
    if not path:
        return message.text.strip()
    try:
        return json.loads(message.payload)
    except ValueError:
        raise MeterError(f"{message.topic}: payload is not JSON: {message.text[:60]!r}") from None


def _value(message: IncomingMessage, document: Any, path: str) -> float:
    """The number at ``path`` in the payload (empty path: the payload is the number)."""
    return finite_number(_at(message, document, path), f"{message.topic} {path}" if path else message.topic)


def _at(message: IncomingMessage, document: Any, path: str) -> Any:
    try:
        return resolve(document, path)
    except MeterError as error:
        raise MeterError(f"{message.topic}: {error}") from None
