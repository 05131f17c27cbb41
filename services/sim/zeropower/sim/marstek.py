"""A Marstek Venus E on its local Open API (JSON in UDP datagrams), backed by the simulator's battery model.

It answers what a Venus E 3.0 answers (facts from the sources listed in the production driver,
``zeropower.actuator_battery.drivers.marstek_venus``): ``Marstek.GetDevice``, ``ES.GetMode`` (the firmware 144
shape: mode, ongrid_power, offgrid_power, bat_soc), ``ES.GetStatus`` (without ``bat_power``, as Venus E
firmware leaves it out), ``Bat.GetStatus`` and ``ES.SetMode`` for Auto, AI, Manual and Passive; ``PV.GetStatus``
and anything else get ``-32601 Method not found`` like a Venus E. Replies go to the sender's address and port.

What it does on a command:
- Passive: the battery follows ``-power`` (the device's positive = discharge) until ``cd_time`` runs out; then it
  idles and the mode goes back to what it was before Passive (the documents only say "power countdown"; one
  transcription says the previous mode returns).
- Auto and AI: the real device regulates on its own meter; this one has none and idles (0 W).
- Manual: the schedule is checked and stored, not run; the battery idles.
Signs: ``ongrid_power`` positive = the battery feeds the house (discharging), negative = it charges.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, cast

from zeropower.sim.battery import BatteryModel
from zeropower.sim.settings import MarstekEmulatorSettings

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
}
#: Largest |power| accepted in passive_cfg (the vendor's Home Assistant integration's range).
MAX_PASSIVE_W = 10_000
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class MarstekVenusEmulator:
    """UDP server answering like a Marstek Venus E; every request reads the battery model at that moment."""

    def __init__(
        self,
        battery: BatteryModel,
        settings: MarstekEmulatorSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` stamps the battery's commands: the plant's ``now_s`` in the simulator (countdowns: real time)."""
        self._battery = battery
        self._settings = settings
        self._clock = clock
        self._transport: asyncio.DatagramTransport | None = None
        self._countdown: asyncio.TimerHandle | None = None
        #: The mode ES.GetMode reports.
        self.mode = "Auto"
        self._mode_before_passive = "Auto"
        #: The power the device was told in its own sign (positive = discharge); 0 when idle.
        self.device_power_w = 0
        #: When the current Passive countdown runs out (monotonic s), or None.
        self.countdown_ends: float | None = None
        self.manual_slots: dict[int, dict[str, Any]] = {}
        #: Every method asked for, in order (for tests).
        self.requests: list[str] = []
        self._charged_wh = 0.0
        self._discharged_wh = 0.0
        self._counted_at: float | None = None

    @property
    def port(self) -> int:
        """The UDP port it listens on (useful when configured as 0)."""
        assert self._transport is not None
        return int(self._transport.get_extra_info("sockname")[1])

    @property
    def src(self) -> str:
        """The device name in every reply: model and Bluetooth MAC."""
        return f"{self._settings.device}-{self._settings.ble_mac}"

    async def start(self) -> None:
        """Listen on the configured host and port; OSError when that is impossible (port taken)."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Server(self), local_addr=(self._settings.host, self._settings.port)
        )

    async def stop(self) -> None:
        """Stop listening and cancel a running countdown."""
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def handle(self, data: bytes) -> dict[str, Any] | None:
        """The reply to one datagram, or None where the device stays silent (a GetDevice for another MAC)."""
        self._count_energy()
        request_id: int | str | None = None
        try:
            request_id, method, params = _parse_request(data)
            self.requests.append(method)
            handler = self._methods().get(method)
            if handler is None:
                raise _RpcError(METHOD_NOT_FOUND, method)
            result = handler(params)
        except _RpcError as error:
            log.debug("Marstek emulator: error %s: %s", error.code, error)
            reply_id = request_id if error.request_id is None else error.request_id
            return {"id": reply_id, "src": self.src, "error": {"code": error.code, "message": MESSAGES[error.code]}}
        if result is None:
            return None
        return {"id": request_id, "src": self.src, "result": result}

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]]:
        return {
            "Marstek.GetDevice": self._get_device,
            "ES.GetMode": self._es_get_mode,
            "ES.GetStatus": self._es_get_status,
            "Bat.GetStatus": self._bat_get_status,
            "ES.SetMode": self._es_set_mode,
        }

    def _get_device(self, params: dict[str, Any]) -> dict[str, Any] | None:
        ble_mac = params.get("ble_mac")
        if not isinstance(ble_mac, str):
            raise _InvalidParamsError("ble_mac must be a string")
        if ble_mac not in ("0", self._settings.ble_mac):
            return None
        return {
            "device": self._settings.device,
            "ver": self._settings.firmware,
            "ble_mac": self._settings.ble_mac,
            "wifi_mac": self._settings.wifi_mac,
            "wifi_name": "zeropower-sim",
            "ip": self._settings.host,
        }

    def _es_get_mode(self, params: dict[str, Any]) -> dict[str, Any]:
        _instance(params)
        return {
            "id": 0,
            "mode": self.mode,
            "ongrid_power": self._ongrid_w(),
            "offgrid_power": 0,
            "bat_soc": round(self._battery.soc_pct),
        }

    def _es_get_status(self, params: dict[str, Any]) -> dict[str, Any]:
        _instance(params)
        return {
            "id": 0,
            "bat_soc": round(self._battery.soc_pct),
            "bat_cap": round(self._battery.settings.capacity_wh),
            "pv_power": 0,
            "ongrid_power": self._ongrid_w(),
            "offgrid_power": 0,
            "total_pv_energy": 0,
            "total_grid_output_energy": round(self._discharged_wh),
            "total_grid_input_energy": round(self._charged_wh),
            "total_load_energy": 0,
        }

    def _bat_get_status(self, params: dict[str, Any]) -> dict[str, Any]:
        _instance(params)
        battery = self._battery
        return {
            "id": 0,
            "soc": round(battery.soc_pct),
            "charg_flag": battery.soc_pct < 100.0,
            "dischrg_flag": battery.soc_pct > battery.settings.empty_pct,
            "bat_temp": 25.0,
            "bat_capacity": round(battery.energy_wh, 1),
            "rated_capacity": float(battery.settings.capacity_wh),
        }

    def _es_set_mode(self, params: dict[str, Any]) -> dict[str, Any]:
        _instance(params)
        config = params.get("config")
        if not isinstance(config, dict):
            raise _InvalidParamsError("config must be an object")
        mode = config.get("mode")
        if mode == "Passive":
            cfg = _cfg(config, "passive_cfg")
            power, countdown = cfg.get("power"), cfg.get("cd_time")
            if not _is_int(power) or abs(power) > MAX_PASSIVE_W:
                raise _InvalidParamsError(f"passive_cfg.power {power!r}")
            if not _is_int(countdown) or countdown < 1:
                raise _InvalidParamsError(f"passive_cfg.cd_time {countdown!r}")
            self._passive(power, countdown)
        elif mode in ("Auto", "AI"):
            if _cfg(config, f"{mode.lower()}_cfg").get("enable") != 1:
                raise _InvalidParamsError(f"{mode.lower()}_cfg.enable must be 1")
            self._own_mode(mode)
        elif mode == "Manual":
            slot = _manual_slot(_cfg(config, "manual_cfg"))
            self.manual_slots[slot["time_num"]] = slot
            self._own_mode("Manual")
        else:
            raise _InvalidParamsError(f"mode {mode!r}")
        return {"id": 0, "set_result": True}

    def _passive(self, device_power_w: int, countdown_s: int) -> None:
        if self.mode != "Passive":
            self._mode_before_passive = self.mode
        self.mode = "Passive"
        self.device_power_w = device_power_w
        self._battery.command(-float(device_power_w), self._clock())
        if self._countdown is not None:
            self._countdown.cancel()
        self.countdown_ends = self._clock() + countdown_s
        self._countdown = asyncio.get_running_loop().call_later(countdown_s, self._countdown_over)

    def _countdown_over(self) -> None:
        log.info("Marstek emulator: Passive countdown over, idle in %s", self._mode_before_passive)
        self._countdown = None
        self._own_mode(self._mode_before_passive)

    def _own_mode(self, mode: str) -> None:
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None
        self.countdown_ends = None
        self.mode = mode
        self.device_power_w = 0
        self._battery.command(0.0, self._clock())

    def _ongrid_w(self) -> int:
        return round(0.0 - self._battery.power_w)

    def _count_energy(self) -> None:
        """Charged and discharged energy, integrated between requests (rough, like the counters' 1 Wh steps)."""
        now = self._clock()
        if self._counted_at is not None:
            energy_wh = self._battery.power_w * (now - self._counted_at) / 3600.0
            if energy_wh > 0:
                self._charged_wh += energy_wh
            else:
                self._discharged_wh -= energy_wh
        self._counted_at = now


class _Server(asyncio.DatagramProtocol):
    def __init__(self, emulator: MarstekVenusEmulator) -> None:
        self._emulator = emulator
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # asyncio's UDP transport, not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._emulator.handle(data)
        if reply is not None and self._transport is not None:
            self._transport.sendto(json.dumps(reply, separators=(",", ":")).encode(), addr)


class _RpcError(ValueError):
    """A request the device answers with a JSON-RPC error."""

    def __init__(self, code: int, detail: str, request_id: int | str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.request_id = request_id


class _InvalidParamsError(_RpcError):
    """The method exists but its params are not as documented (-32602)."""

    def __init__(self, detail: str) -> None:
        super().__init__(INVALID_PARAMS, detail)


def _parse_request(data: bytes) -> tuple[int | str, str, dict[str, Any]]:
    """Id, method and params of a request; _RpcError for what the device answers with parse or request errors."""
    try:
        request = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _RpcError(PARSE_ERROR, str(error)) from error
    if not isinstance(request, dict):
        raise _RpcError(INVALID_REQUEST, "not an object")
    request_id, method, params = request.get("id"), request.get("method"), request.get("params")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        raise _RpcError(INVALID_REQUEST, f"id {request_id!r}")
    if not isinstance(method, str) or not isinstance(params, dict):
        raise _RpcError(INVALID_REQUEST, f"method {method!r} or params {params!r}", request_id)
    return request_id, method, params


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _instance(params: dict[str, Any]) -> None:
    if params.get("id") != 0 or not _is_int(params.get("id")):
        raise _InvalidParamsError("params.id must be 0 (the one instance)")


def _cfg(config: dict[str, Any], key: str) -> dict[str, Any]:
    cfg = config.get(key)
    if not isinstance(cfg, dict):
        raise _InvalidParamsError(f"{key} must be an object")
    return cfg


def _manual_slot(cfg: dict[str, Any]) -> dict[str, Any]:
    slot, week, power, enable = cfg.get("time_num"), cfg.get("week_set"), cfg.get("power"), cfg.get("enable")
    if not _is_int(slot) or not 0 <= slot <= 9:
        raise _InvalidParamsError(f"manual_cfg.time_num {slot!r}")
    for key in ("start_time", "end_time"):
        value = cfg.get(key)
        if not isinstance(value, str) or not _HH_MM.match(value):
            raise _InvalidParamsError(f"manual_cfg.{key} {value!r}")
    if not _is_int(week) or not 0 <= week <= 127:
        raise _InvalidParamsError(f"manual_cfg.week_set {week!r}")
    if not _is_int(power) or abs(power) > MAX_PASSIVE_W:
        raise _InvalidParamsError(f"manual_cfg.power {power!r}")
    if not _is_int(enable) or enable not in (0, 1):
        raise _InvalidParamsError(f"manual_cfg.enable {enable!r}")
    return dict(cfg)
