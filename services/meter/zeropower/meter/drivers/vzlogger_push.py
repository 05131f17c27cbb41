"""vzlogger pushing to zeropower as if it were InfluxDB: ``POST /write?db=...`` with line protocol."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Literal

import line_protocol_parser
from pydantic import Field

from zeropower.meter.device_time import unix_time
from zeropower.meter.drivers.base import Deliver
from zeropower.meter.reading import MeterError, MeterValues, finite_number
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.settings import StrictModel

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

#: Seconds per unit of the ``precision`` query parameter (InfluxDB 1.x and 2.x spellings).
_SECONDS_PER_TICK = {"n": 1e-9, "ns": 1e-9, "u": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_BIND_RETRY_S = 5.0


class VzloggerPushConfig(StrictModel):
    """An HTTP endpoint in the meter service that vzlogger's ``"api": "influxdb"`` channel writes to."""

    type: Literal["vzlogger_push"] = Field(description="Driver receiving vzlogger's InfluxDB line protocol.")
    listen_host: str = Field("0.0.0.0", description="Address to listen on (0.0.0.0 = every interface).")
    listen_port: int = Field(
        8080, ge=1, le=65535, description="Port to listen on; vzlogger's host is <this host>:<port>."
    )
    measurement: str = Field("vzlogger", min_length=1, description="vzlogger's measurement_name of the grid channel.")
    uuid: str | None = Field(
        None, description="Only accept lines with this uuid tag (vzlogger's send_uuid); unset = any."
    )


class VzloggerPushMeter:
    """Serves ``POST /write`` (InfluxDB 1.x) and ``POST /api/v2/write``, answering 204 like InfluxDB.

    The newest matching line of each request becomes a reading; a request with a line that cannot be
    used gets 400 with the reason and turns into a missing reading.
    """

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(self, config: VzloggerPushConfig) -> None:
        self._config = config
        self._deliver: Deliver | None = None
        self.listening = asyncio.Event()
        wanted = f"measurement {config.measurement!r}" + (f", uuid {config.uuid}" if config.uuid else "")
        self.description = f"vzlogger push on {config.listen_host}:{config.listen_port} ({wanted})"
        self._bind_problem = ChangeLogger(log, f"listening on {config.listen_host}:{config.listen_port}")

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, retrying while the port is taken."""
        from aiohttp import web  # noqa: PLC0415  (imported only when this driver runs: aiohttp is ~13 MB of RSS)

        self._deliver = deliver
        app = web.Application()
        app.router.add_post("/write", self._write)
        app.router.add_post("/api/v2/write", self._write)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)  # stop promptly on SIGTERM
        await runner.setup()
        try:
            while not stop.is_set():
                try:
                    await web.TCPSite(runner, self._config.listen_host, self._config.listen_port).start()
                except OSError as error:
                    self._bind_problem.report(f"{error.strerror or error}; retrying every {_BIND_RETRY_S:g} s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), _BIND_RETRY_S)
                    continue
                self._bind_problem.report(None)
                self.listening.set()
                await stop.wait()
        finally:
            self.listening.clear()
            await runner.cleanup()

    async def _write(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415  (already loaded by run)

        try:
            body = (await request.read()).decode()
            reading = self._newest_reading(body, request.query.get("precision", "ns"))
        except (MeterError, UnicodeDecodeError) as error:
            message = f"vzlogger push: {error}"
            if self._deliver is not None:
                await self._deliver(MeterError(message))
            return web.json_response({"error": message}, status=400)
        if reading is not None and self._deliver is not None:
            await self._deliver(reading)
        return web.Response(status=204)

    def _newest_reading(self, body: str, precision: str) -> MeterValues | None:
        """The newest line for our measurement (and uuid); None when no line matches.

        A line's time is vzlogger's time of the value, watched for change; a line without one is stamped
        with the time it arrived.
        """
        if precision not in _SECONDS_PER_TICK:
            raise MeterError(f"unknown precision {precision!r}")
        newest: MeterValues | None = None
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                point = line_protocol_parser.parse_line(line)
            except line_protocol_parser.LineFormatError as error:
                raise MeterError(f"line {number} is not line protocol: {error}") from None
            if point["measurement"] != self._config.measurement:
                continue
            if self._config.uuid is not None and point["tags"].get("uuid") != self._config.uuid:
                continue
            if "value" not in point["fields"]:
                fields = ", ".join(sorted(point["fields"]))
                raise MeterError(f"line {number} has no field 'value' (fields: {fields})")
            power = finite_number(point["fields"]["value"], f"line {number} value")
            tick = point["time"]
            if tick is None:
                values = MeterValues(power_w=power)
            else:
                seconds = tick * _SECONDS_PER_TICK[precision]
                values = MeterValues(power_w=power, timestamp=seconds, device_time=unix_time(seconds))
            if newest is None or _newer(values, newest):
                newest = values
        return newest


def _newer(candidate: MeterValues, newest: MeterValues) -> bool:
    """True when ``candidate`` is at least as new (a line without time counts as now)."""
    if candidate.timestamp is None:
        return True
    return newest.timestamp is not None and candidate.timestamp >= newest.timestamp
