"""Marstek Venus C/E (and A/D) over the vendor's local "Open API": JSON-RPC-style messages in UDP datagrams.

Why this protocol and not Modbus: it is the one the vendor documents and ships itself (the Open API PDF, Rev 1.0
2025-08-09 to Rev 3.1 2026-09; Marstek's own Home Assistant integration and client library use it), it needs no
RS485 gateway, and its power command carries a countdown after which the battery stops following it on its own.
The Modbus register map (ViperRNMC/marstek_venus_modbus ``README.md``) is community-collected, differs between
four hardware versions (``registers/a.yaml``, ``d.yaml``, ``e_v12.yaml``, ``e_v3.yaml``) and has no such watchdog.

Sources (facts only; "PDF" = the vendor document as transcribed in a repository):

- Transport: UDP, device port 30000 by default (set in the Marstek app, which also enables the API; 49152-65535
  recommended). PDF Rev 1.0 §2.2.1, techmhe/marstek-local-api-network-relay ``docs/marstek_device_openapi.MD``.
  The vendor's client library sends from local port 30000 too (MarstekEnergy/aiomarstek
  ``aiomarstek/udp_client.py``, ``bind(("0.0.0.0", 30000))``) and users report replies only reach that port
  (SDBeu/marstek-battery-rotation ``CLAUDE.md``: "source and destination must be the same"), hence
  ``local_port`` 30000 by default.
- Envelope: request ``{"id": number|string, "method": str, "params": object}``; reply ``{"id", "src": str,
  "result": object}`` or ``{"id", "src", "error": {"code", "message"[, "data"]}}`` with JSON-RPC codes -32700
  parse error, -32600 invalid request, -32601 method not found, -32602 invalid params, -32603 internal.
  PDF Rev 1.0 §2.1 (same file); ``data`` observed as an integer (402, 412, 424) in real replies
  (taurgis/has-marstek-local-api ``docs/marstek_device_openapi.MD`` §4.3). One transcription calls ``id`` a
  16-bit integer, so ids here stay in 1..65535.
- ``ES.GetMode`` ``{"id": 0}`` → ``mode`` ("Auto", "AI", "Manual", "Passive", "UPS"; some firmware sends the
  integers 0-4 in that order), ``ongrid_power`` W, ``offgrid_power`` W, ``bat_soc`` %, each "number or null";
  Rev 3.1 adds CT keys that are zeros outside Auto/AI. PDF Rev 1.0 §3.6.3; integer modes and Rev 3.1 keys:
  taurgis/has-marstek-local-api ``docs/marstek_device_openapi.MD`` §3.6.3. It is the status call the vendor's
  own library polls (aiomarstek ``udp_client.py`` ``get_device_status``) and the only one that carries the mode.
  ``ES.GetStatus`` has the same two values plus ``bat_power``, but ``bat_power`` is missing on Venus E/A
  firmware (taurgis ``tests/test_issue_firmware_payloads.py``: fw 144, 147, 150) and its scale varied (÷10
  before fw 154: jaapp/ha-marstek ``docs/DESIGN.md``), so it is not used.
- Sign of ``ongrid_power``: positive = the battery feeds the house (discharging), negative = it draws from the
  grid (charging). Venus E: jaapp/ha-marstek-local-api issue 47 ("goes negative for charging and positive for
  discharging"), issue 72 ("until the grid power goes below 0 (i.e. battery is in fact charging)"); Venus A/D:
  MarstekEnergy/ha_marstek ``docs/MARSTEK_OPEN_API_QUIRKS.md`` §3.1 (positive = export); taurgis derives
  battery power as ``pv_power - ongrid_power``. For a Venus A/D (PV on DC inputs) it is the AC port's power,
  which is what ``BatteryReading.power_w`` means for a DC-coupled battery inverter.
- ``ES.SetMode`` ``{"id": 0, "config": {"mode": "Passive", "passive_cfg": {"power": W, "cd_time": s}}}`` →
  ``{"id": 0, "set_result": bool}``. PDF Rev 1.0 §3.6.2. Passive power: positive = discharge, negative =
  charge, the same as manual schedules (jaapp/ha-marstek ``custom_components/marstek_local_api/services.yaml``:
  "negative values for charging ... positive values for discharging"), i.e. the opposite of ours. Integers in
  every vendor example; the vendor's integration accepts -10000..10000 W and cd_time 1..86400 s
  (MarstekEnergy/ha_marstek ``custom_components/marstek/services.py``). ``ES.GetMode`` does not echo
  ``passive_cfg`` (PDF; taurgis §3.6.3). What the device does when ``cd_time`` runs out is not specified beyond
  "power countdown"; it stops following that power (a transcription says it returns to the previous mode).
  Auto is ``{"mode": "Auto", "auto_cfg": {"enable": 1}}``, AI likewise with ``ai_cfg``.
- Pacing: Marstek's integration waits 4 s between consecutive requests (2 s at least) and times out after 5 s
  (MarstekEnergy/ha_marstek ``custom_components/marstek/const.py`` ``DEFAULT_REQUEST_DELAY``,
  ``MIN_REQUEST_DELAY``, ``DEFAULT_REQUEST_TIMEOUT``), never sends requests in parallel and warns that bursts
  disturb the device (``docs/MARSTEK_OPEN_API_QUIRKS.md`` §1). Replies take ~0.1 s when they come (logs in
  taurgis/has-marstek-local-api issue 3: 108 ms; jaapp issue 142: 93 ms), but datagrams are lost silently.
- Field reports that shape the reading: the device may acknowledge Passive and take it up only on a repeat
  (jaapp issue 72, repeat after 10 s), and may leave Passive on its own while acknowledging
  (jaapp issue 145, Venus E v3 fw 148). So a reading says which setpoint is in force only while the device
  itself reports Passive and our countdown has not run out; otherwise ``setpoint_w`` is None.

Retries: every request here is idempotent (a read, or a SetMode whose repeat only restarts the same countdown),
so a timed-out request is sent again up to ``attempts`` times with a fresh id; a reply to any of those ids is
accepted. A reply that answers but is wrong (error object, bad type, NaN, out of range) is not retried.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import logging
import math
import random
import socket
import time
from collections.abc import Callable
from typing import Any, Literal, Self, cast

from pydantic import Field, model_validator

from zeropower.actuator_battery.drivers.base import BatteryError, BatteryReading, FitCheck
from zeropower.shared.settings import StrictModel

log = logging.getLogger(__name__)

#: Largest power magnitude the vendor's integration lets through ES.SetMode Passive (and a bound on readings).
MAX_POWER_W = 10_000
#: ES.GetMode's integer modes (some firmware), in the vendor's order.
INTEGER_MODES = ("Auto", "AI", "Manual", "Passive", "UPS")
#: How much of a stray datagram the error message quotes.
QUOTE_CHARS = 120


class MarstekVenusSettings(StrictModel):
    """A Marstek Venus C/D/E (or A) battery with the Open API enabled in the Marstek app."""

    type: Literal["marstek_venus"] = Field(description="Driver for Marstek Venus batteries over the local Open API.")
    host: str = Field(min_length=1, description="The battery's IP address (give it a fixed one in the router).")
    port: int = Field(30000, ge=1, le=65535, description="The Open API's UDP port as set in the Marstek app.")
    local_port: int = Field(
        30000,
        ge=0,
        le=65535,
        description="UDP port to send from. The device answers the port it is asked from; 30000 is what the "
        "vendor's own client uses and what field reports say works. 0 = any free port. Only one program on "
        "this host can use a given port: stop other Marstek clients (Home Assistant integrations) or pick "
        "another port if the device accepts it.",
    )
    timeout_s: float = Field(
        2.0, gt=0, le=30, description="Time to wait for each reply in s (replies take ~0.1 s when they come)."
    )
    attempts: int = Field(
        2,
        ge=1,
        le=5,
        description="Sends of one request before giving up (datagrams get lost; every request "
        "this driver sends is safe to repeat).",
    )
    request_gap_s: float = Field(
        2.0,
        ge=0,
        le=10,
        description="Least time between two requests in s. Marstek's own integration waits 4 s and allows no "
        "less than 2 s; bursts are reported to disturb the device. 0 only for the emulator.",
    )
    countdown_s: int = Field(
        45,
        ge=1,
        le=3600,
        description="Passive mode's cd_time sent with a charge or 0 W, in s: the device keeps that power this long "
        "after the last command, then returns to its own mode. At least the service's charge_timeout_s, so a "
        "killed actuator's charge (which absorbs production) lasts as long as a living one holds it.",
    )
    discharge_countdown_s: int = Field(
        10,
        ge=1,
        le=3600,
        description="Passive mode's cd_time sent with a discharge, in s: a killed actuator (or a lost network) "
        "leaves a discharge running at most this long. At most the service's discharge_timeout_s, so the device "
        "never discharges longer than the service itself would; room for two writes at the pacing "
        "(4 x request_gap_s). The service re-sends every power well within its countdown.",
    )
    release_mode: Literal["Auto", "AI"] = Field(
        "Auto", description="Mode set on release: Auto (self-consumption on the device's own meter) or AI."
    )

    def check_fit(self, fit: FitCheck) -> None:
        """Its countdowns must end a discharge no later, and a charge no sooner, than the service's timeouts."""
        if self.discharge_countdown_s > fit.discharge_timeout_s:
            raise ValueError(
                f"driver.discharge_countdown_s ({self.discharge_countdown_s} s) must not exceed "
                f"discharge_timeout_s ({fit.discharge_timeout_s:g} s): after a crash of this service the battery "
                "would discharge longer than the service itself lets it"
            )
        if self.countdown_s < fit.charge_timeout_s:
            raise ValueError(
                f"driver.countdown_s ({self.countdown_s} s) must be at least charge_timeout_s "
                f"({fit.charge_timeout_s:g} s): after a crash of this service the battery would stop a charge "
                "(which absorbs production) before the inverters are limited"
            )

    @model_validator(mode="after")
    def _countdowns(self) -> Self:
        if self.discharge_countdown_s > self.countdown_s:
            raise ValueError("discharge_countdown_s must not exceed countdown_s: a discharge ends first")
        if self.discharge_countdown_s < 4 * self.request_gap_s:
            raise ValueError(
                f"discharge_countdown_s ({self.discharge_countdown_s} s) must leave room for two writes at the "
                f"pacing: at least 4 x request_gap_s ({4 * self.request_gap_s:g} s)"
            )
        return self


class MarstekVenusBattery:
    """One Marstek Venus reached over its Open API; positive power = charging (the opposite of the device's)."""

    def __init__(self, settings: MarstekVenusSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        #: The vendor's pacing is per request; the service reads and writes one after the other, so polls still
        #: get their turn, and a setpoint (a discharge cut) waits for one gap at most, not two.
        self.min_write_interval_s = settings.request_gap_s
        self.min_discharge_w = 0.0  # its 0 W is a true 0
        self._endpoint: _Endpoint | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(random.randrange(1, 60_000))
        self._last_sent: float | None = None
        self._setpoint_w: float | None = None  # our sign; the last power the device acknowledged
        self._setpoint_until = 0.0  # monotonic time the device's countdown for it runs out, at the latest
        #: The mode the last read reported ("Auto", "AI", "Manual", "Passive", "UPS", or another string; None).
        self.mode: str | None = None

    @property
    def description(self) -> str:
        """Where the battery is, for logs."""
        return f"Marstek Venus at {self._settings.host}:{self._settings.port} (UDP)"

    async def read(self) -> BatteryReading:
        """State of charge and AC power from ``ES.GetMode``; ``setpoint_w`` while our Passive command is in force."""
        result = await self._call("ES.GetMode", {"id": 0})
        now = self._clock()
        where = f"{self.description}: ES.GetMode"
        soc = _number(result, "bat_soc", 0.0, 100.0, where)
        ongrid = _number(result, "ongrid_power", -MAX_POWER_W, MAX_POWER_W, where)
        if soc is None and ongrid is None:
            raise BatteryError(f"{self.description}: ES.GetMode reply carries neither bat_soc nor ongrid_power")
        self.mode = _mode(result.get("mode"), where)
        in_force = (
            (self.mode or "").lower() == "passive" and self._setpoint_w is not None and now < self._setpoint_until
        )
        return BatteryReading(
            measured_at=now,
            soc_pct=soc,
            power_w=None if ongrid is None else 0.0 - ongrid,
            setpoint_w=self._setpoint_w if in_force else None,
        )

    def holds_for_s(self, power_w: float) -> float:
        """The Passive countdown sent with ``power_w``: the device drops it this long after the last write, in s."""
        settings = self._settings
        return float(settings.discharge_countdown_s if round(power_w) < 0 else settings.countdown_s)

    async def set_power(self, power_w: float, *, standby: bool = False) -> None:
        """Passive mode at ``power_w`` (rounded to whole W) with the countdown for its direction.

        Its 0 W is a true 0: ``standby`` changes nothing.
        """
        if not math.isfinite(power_w) or abs(power_w) > MAX_POWER_W:
            raise ValueError(f"power_w must be a number within ±{MAX_POWER_W} W, not {power_w!r}")
        device_w = -round(power_w)
        countdown = round(self.holds_for_s(power_w))
        config = {"mode": "Passive", "passive_cfg": {"power": device_w, "cd_time": countdown}}
        sent_at = self._clock()
        self._setpoint_w = None  # unknown until acknowledged: a lost reply may hide an applied command
        await self._set_mode(config, f"Passive power={device_w} W cd_time={countdown} s")
        self._setpoint_w = 0.0 - device_w
        self._setpoint_until = sent_at + countdown

    async def release(self) -> None:
        """Back to the configured own mode (Auto or AI); the device's manual schedules cannot be restored."""
        mode = self._settings.release_mode
        self._setpoint_w = None
        await self._set_mode({"mode": mode, f"{mode.lower()}_cfg": {"enable": 1}}, mode)

    async def close(self) -> None:
        """Close the socket."""
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    async def _set_mode(self, config: dict[str, Any], what: str) -> None:
        result = await self._call("ES.SetMode", {"id": 0, "config": config})
        accepted = result.get("set_result")
        if not isinstance(accepted, bool):
            raise BatteryError(f"{self.description}: ES.SetMode {what}: set_result is {accepted!r}, not true/false")
        if not accepted:
            raise BatteryError(f"{self.description}: the device refused ES.SetMode {what} (set_result false)")

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one request (repeated on silence) and return its validated ``result`` object."""
        async with self._lock:
            endpoint = await self._open()
            ids: set[int] = set()
            ignored: list[str] = []
            silence: list[str] = []
            for _ in range(self._settings.attempts):
                await self._pace()
                request_id = next(self._ids) % 65_535 + 1
                ids.add(request_id)
                reply = endpoint.expect(ids)
                payload = json.dumps({"id": request_id, "method": method, "params": params}, separators=(",", ":"))
                self._last_sent = self._clock()
                endpoint.send(payload.encode())
                try:
                    message = await asyncio.wait_for(reply, self._settings.timeout_s)
                except TimeoutError:
                    silence.append(f"no reply in {self._settings.timeout_s:g} s")
                except ConnectionRefusedError:
                    silence.append("refused (ICMP port unreachable: API off or wrong port?)")
                except OSError as error:
                    silence.append(f"network error: {error}")
                else:
                    return _result(method, message, self.description)
                finally:
                    ignored.extend(endpoint.drain_ignored())
                    endpoint.forget()
                log.debug("%s: %s id %d: %s", self.description, method, request_id, silence[-1])
            causes = "; ".join(dict.fromkeys(silence))
            stray = f"; ignored {len(ignored)} other datagram(s), last: {ignored[-1]}" if ignored else ""
            raise BatteryError(
                f"{self.description}: {method} failed after {self._settings.attempts} attempt(s): {causes}{stray}"
            )

    async def _pace(self) -> None:
        if self._last_sent is None:
            return
        wait = self._last_sent + self._settings.request_gap_s - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _open(self) -> _Endpoint:
        if self._endpoint is not None and not self._endpoint.closed:
            return self._endpoint
        settings = self._settings
        loop = asyncio.get_running_loop()
        try:
            _, endpoint = await loop.create_datagram_endpoint(
                _Endpoint,
                local_addr=("0.0.0.0", settings.local_port),
                remote_addr=(settings.host, settings.port),
                family=socket.AF_INET,
            )
        except OSError as error:
            raise BatteryError(
                f"{self.description}: cannot open UDP from local port {settings.local_port}: {error}"
                + (" (another Marstek client on this host?)" if error.errno == errno.EADDRINUSE else "")
            ) from error
        self._endpoint = endpoint
        return endpoint


class _Endpoint(asyncio.DatagramProtocol):
    """A connected UDP socket (the kernel drops datagrams from other addresses) handing replies to one waiter."""

    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self._waiter: asyncio.Future[dict[str, Any]] | None = None
        self._ids: set[int] = set()
        self._ignored: list[str] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # asyncio's UDP transport, not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("socket closed"))

    def expect(self, ids: set[int]) -> asyncio.Future[dict[str, Any]]:
        """A future for the next reply whose id is one of ``ids``."""
        self._waiter = asyncio.get_running_loop().create_future()
        self._ids = ids
        return self._waiter

    def forget(self) -> None:
        """No reply is awaited any more."""
        self._waiter = None

    def drain_ignored(self) -> list[str]:
        """Why each datagram since the last call was not a reply (and clear the list)."""
        ignored, self._ignored = self._ignored, []
        return ignored

    def send(self, data: bytes) -> None:
        """Send one datagram to the device."""
        assert self._transport is not None
        self._transport.sendto(data)

    def close(self) -> None:
        """Close the socket."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            # NaN and Infinity are parsed (Python's default) so that a reply carrying them fails by name below.
            message = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            self._ignored.append(f"not JSON: {data[:QUOTE_CHARS]!r}")
            return
        if not isinstance(message, dict):
            self._ignored.append(f"not a JSON object: {data[:QUOTE_CHARS]!r}")
            return
        reply_id = message.get("id")
        if "method" in message:
            self._ignored.append(f"an echo of a request (method {str(message['method'])[:40]!r})")
            return
        matches = isinstance(reply_id, int) and not isinstance(reply_id, bool) and reply_id in self._ids
        if not matches or self._waiter is None or self._waiter.done():
            self._ignored.append(f"reply id {str(reply_id)[:40]!r} is not the request's {sorted(self._ids)}")
            return
        self._waiter.set_result(message)

    def error_received(self, exc: Exception) -> None:
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


def _result(method: str, message: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``result`` object of a reply, or BatteryError naming what is wrong with it."""
    src = message.get("src")
    if src is not None and not isinstance(src, str):
        raise BatteryError(f"{where}: {method} reply has a src that is not a string: {src!r}")
    error = message.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise BatteryError(f"{where}: {method} failed with a malformed error: {error!r}")
        code, text = error.get("code"), error.get("message")
        hint = " (not available on this model or firmware)" if code == -32601 else ""
        raise BatteryError(f"{where}: {method} answered error {code!r} {text!r}{hint}")
    result = message.get("result")
    if not isinstance(result, dict):
        raise BatteryError(f"{where}: {method} reply has no result object: {str(message)[:QUOTE_CHARS]}")
    return result


def _number(result: dict[str, Any], key: str, low: float, high: float, where: str) -> float | None:
    """A documented "number or null" field: None if absent or null, else a finite number within its range."""
    value = result.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BatteryError(f"{where}: {key} is {value!r}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise BatteryError(f"{where}: {key} is {value!r}, not a finite number")
    if not low <= number <= high:
        raise BatteryError(f"{where}: {key} {value!r} is outside {low:g}..{high:g}")
    return number


def _mode(value: Any, where: str) -> str | None:
    """ES.GetMode's mode as a name: the documented strings, or the integers some firmware sends."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(INTEGER_MODES):
        return INTEGER_MODES[value]
    raise BatteryError(f"{where}: mode is {value!r}, neither a mode name nor 0..{len(INTEGER_MODES) - 1}")
