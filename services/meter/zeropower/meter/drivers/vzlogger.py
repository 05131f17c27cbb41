"""vzlogger's local HTTP server: ``GET http://<host>:<port>/<uuid>``."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field, HttpUrl

from zeropower.meter.device_time import unix_time
from zeropower.meter.http import JsonHttp, base_url, shown_url
from zeropower.meter.key_path import resolve
from zeropower.meter.reading import MeterError, MeterValues, finite_number
from zeropower.shared.settings import StrictModel


class VzloggerConfig(StrictModel):
    """A vzlogger with ``"local": {"enabled": true, "port": 8080}`` and a channel measuring grid power."""

    type: Literal["vzlogger"] = Field(description="Driver polling vzlogger's local HTTP server.")
    url: HttpUrl = Field(description="vzlogger's local server, e.g. http://raspberrypi:8080.")
    uuid: str = Field(min_length=1, description="The channel's uuid (signed power in W, e.g. OBIS 16.7.0).")


class VzloggerMeter:
    """Reads the newest tuple ``[timestamp_ms, value]`` of one channel."""

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(self, config: VzloggerConfig, client: httpx.AsyncClient, timeout_s: float) -> None:
        self._uuid = config.uuid
        self._url = f"{base_url(config.url)}/{config.uuid}"
        self._http = JsonHttp(client, timeout_s)
        self.description = f"vzlogger {shown_url(config.url)} (channel {config.uuid})"

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import, with vzlogger's own time of the value (watched for change).

        vzlogger keeps serving its newest tuple when its meter falls silent (``"buffer": -1``), so only a
        tuple time that changes makes a reading valid (checked by the service).
        """
        document = await self._http.get_json(self._url)
        channel = resolve(document, "data/0")
        if not isinstance(channel, dict):
            raise MeterError("data/0 in vzlogger's answer is not an object")
        if "tuples" not in channel:
            raise MeterError(f"vzlogger has no values for channel {self._uuid} yet (no 'tuples')")
        tuples = channel["tuples"]
        if not isinstance(tuples, list) or not tuples:
            raise MeterError(f"vzlogger's 'tuples' for channel {self._uuid} is empty or not a list")
        newest = tuples[-1]
        if not isinstance(newest, list) or len(newest) < 2:
            raise MeterError(f"vzlogger's newest tuple {newest!r:.60} is not [timestamp_ms, value]")
        timestamp_ms = finite_number(newest[0], "the newest tuple's timestamp")
        power = finite_number(newest[1], "the newest tuple's value")
        return MeterValues(power_w=power, timestamp=timestamp_ms / 1000, device_time=unix_time(timestamp_ms / 1000))
