"""Zendure SolarFlow 800 / 800 Pro / 2400 AC (and others with the zenSDK local API) over HTTP.

Source: Zendure's own zenSDK documentation, github.com/Zendure/zenSDK (commit f7858bf, 2026-03-10):
``README.md`` (the API), ``docs/en_properties.md`` (the properties, their units and ranges) and
``docs/openapi.yaml`` (the JSON shapes). How the properties drive the power: the official Home Assistant
integration, github.com/Zendure/Zendure-HA ``custom_components/zendure_ha/device.py`` (class ``ZendureZenSdk``:
``charge``, ``discharge``, ``power_off``) and ``const.py`` (``AcMode``: 1 input, 2 output).

- ``GET /properties/report`` answers ``{"timestamp", "messageId", "sn", "version", "product", "properties":
  {...}, "packData": [...]}``. Used here: ``electricLevel`` (average SoC of the packs, int %, 0-100),
  ``gridInputPower`` (W taken from the AC side to charge), ``outputHomePower`` (W fed to the house), ``acMode``
  (1 = input/charge, 2 = output/discharge), ``inputLimit`` (AC charge limit, W) and ``outputLimit`` (output
  limit, W). Every one is a non-negative int.
- ``POST /properties/write`` with ``{"sn": <device serial>, "properties": {...}}`` (``sn`` required; the device
  reads at most 512 bytes). Charging P W: ``acMode 1, inputLimit P, outputLimit 0``; discharging: ``acMode 2,
  outputLimit P, inputLimit 0``; ``smartMode 1`` keeps the values out of flash ("recommended for frequent
  configuration changes"; the device restores its flash values after a reboot). Answers: 200 written, 400 bad
  request, 401 unauthorized.
- Pacing: the zenSDK documents none. The official integration writes as often as every 2.2 s after a change
  and every 4 s otherwise (``SmartMode.TIMEFAST``/``TIMEZERO``), with ``smartMode 1``; ``min_write_interval_s``
  defaults to 4 s.
- Current firmware (EN 18031) has the local HTTP API off by default: add HEMS in the Zendure app to enable it.
  There is no authentication to configure.

Power at the battery's AC terminals, positive = charging: ``gridInputPower - outputHomePower``. On a SolarFlow
with panels on its DC inputs ``outputHomePower`` also carries their production: the value is what the device
exchanges with the house, which is what the grid sees.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import httpx
from pydantic import Field, HttpUrl

from zeropower.actuator_battery.drivers.base import BatteryError, BatteryReading, FitCheck
from zeropower.shared.settings import StrictModel

#: AcMode in the official integration's const.py: 1 = input (charge from AC), 2 = output (discharge).
AC_MODE_INPUT = 1
AC_MODE_OUTPUT = 2
#: The highest power any property may carry before the answer counts as garbage, in W (a SolarFlow 2400 AC
#: does 2400 W; a few stacked devices stay far below).
MAX_PLAUSIBLE_W = 20_000
#: The device reads at most this many bytes of a request (zenSDK README, "Updates").
MAX_REQUEST_BYTES = 512


class ZendureConfig(StrictModel):
    """A Zendure device with the zenSDK local HTTP API (SolarFlow 800 / 800 Pro / 2400 AC, Hyper 2000)."""

    type: Literal["zendure"] = Field(description="Driver for Zendure devices with the zenSDK local HTTP API.")
    url: HttpUrl = Field(description="The device's address, e.g. http://192.168.1.60 (mDNS: _zendure._tcp).")
    serial: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9]+$",
        description="The device's serial number (sn in /properties/report), sent with every write.",
    )
    timeout_s: float = Field(2.0, gt=0, le=30, description="Deadline of each HTTP request in s.")
    min_write_interval_s: float = Field(
        4.0,
        ge=1,
        le=300,
        description="Shortest time between two power writes in s (the zenSDK documents none; the official "
        "integration writes every 2.2-4 s).",
    )

    def check_fit(self, fit: FitCheck) -> None:
        """Every limit and timeout fits: it charges and discharges, and has no countdown of its own."""


class ZendureBattery:
    """Reads ``/properties/report`` and writes the power through ``/properties/write``."""

    def __init__(self, config: ZendureConfig, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._base = str(config.url).rstrip("/")
        self._client = client or httpx.AsyncClient()
        self._own_client = client is None
        self.min_write_interval_s = config.min_write_interval_s
        self.min_discharge_w = 0.0  # its 0 W is a true 0

    async def read(self) -> BatteryReading:
        """The SoC, the power at the AC terminals and the setpoint in force, from one report."""
        answer = await self._request("GET", "/properties/report")
        measured_at = time.monotonic()
        if not isinstance(answer, dict):
            raise BatteryError(f"/properties/report is not a JSON object: {_shown(answer)}")
        serial = answer.get("sn")
        if serial is not None and serial != self._config.serial:
            raise BatteryError(f"/properties/report is from device {_shown(serial)}, not {self._config.serial}")
        properties = answer.get("properties")
        if not isinstance(properties, dict):
            raise BatteryError(f"/properties/report has no 'properties' object: {_shown(properties)}")
        soc = _int(properties, "electricLevel", 100)
        charging = _int(properties, "gridInputPower", MAX_PLAUSIBLE_W)
        feeding = _int(properties, "outputHomePower", MAX_PLAUSIBLE_W)
        mode = _int(properties, "acMode", AC_MODE_OUTPUT, optional=True)
        input_limit = _int(properties, "inputLimit", MAX_PLAUSIBLE_W, optional=True)
        output_limit = _int(properties, "outputLimit", MAX_PLAUSIBLE_W, optional=True)
        if mode is not None and mode not in {AC_MODE_INPUT, AC_MODE_OUTPUT}:
            raise BatteryError(f"acMode {mode} is neither 1 (input) nor 2 (output)")
        setpoint: float | None = None
        if mode == AC_MODE_INPUT and input_limit is not None:
            setpoint = float(input_limit)
        elif mode == AC_MODE_OUTPUT and output_limit is not None:
            setpoint = -float(output_limit) if output_limit else 0.0
        return BatteryReading(
            measured_at=measured_at, soc_pct=float(soc), power_w=float(charging - feeding), setpoint_w=setpoint
        )

    def holds_for_s(self, power_w: float) -> float | None:
        """None: the zenSDK has no watchdog, the device keeps a power until told otherwise."""
        return None

    async def set_power(self, power_w: float, *, standby: bool = False) -> None:
        """Charge (acMode 1, inputLimit) or discharge (acMode 2, outputLimit) at ``power_w``, in RAM (smartMode 1).

        Its 0 W is a true 0: ``standby`` changes nothing.
        """
        watts = round(abs(power_w))
        if power_w > 0 and watts > 0:
            properties = {"acMode": AC_MODE_INPUT, "inputLimit": watts, "outputLimit": 0, "smartMode": 1}
        else:
            properties = {"acMode": AC_MODE_OUTPUT, "outputLimit": watts, "inputLimit": 0, "smartMode": 1}
        await self._write(properties)

    async def release(self) -> None:
        """Idle, and kept in flash (smartMode 0): the zenSDK documents no hand-back to the app's own modes.

        As the official integration's ``power_off``: after a reboot the device restores these values.
        """
        await self._write({"acMode": AC_MODE_OUTPUT, "outputLimit": 0, "inputLimit": 0, "smartMode": 0})

    async def close(self) -> None:
        """Close the HTTP connections (when this driver made its client)."""
        if self._own_client:
            await self._client.aclose()

    async def _write(self, properties: dict[str, int]) -> None:
        body = json.dumps({"sn": self._config.serial, "properties": properties}, separators=(",", ":"))
        if len(body) > MAX_REQUEST_BYTES:  # the device would cut it off
            raise BatteryError(f"write of {len(body)} bytes exceeds the device's {MAX_REQUEST_BYTES}")
        answer = await self._request("POST", "/properties/write", content=body)
        if isinstance(answer, dict) and answer.get("success") is False:
            raise BatteryError(f"/properties/write refused {properties}: {_shown(answer)}")

    async def _request(self, method: str, path: str, content: str | None = None) -> Any:
        url = self._base + path
        timeout = self._config.timeout_s
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = await self._client.request(method, url, content=content, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            raise BatteryError(f"no answer from {url} within {timeout:g} s") from None
        except httpx.HTTPError as error:
            raise BatteryError(f"{method} {url} failed: {type(error).__name__}: {error}") from None
        if not response.is_success:
            detail = response.text.strip().replace("\n", " ")[:120]
            raise BatteryError(f"HTTP {response.status_code} from {method} {url}" + (f": {detail}" if detail else ""))
        if not response.content.strip():
            return None
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise BatteryError(f"answer from {url} is not JSON: {response.text[:60]!r}") from None


def _int(properties: dict[str, Any], key: str, top: int, *, optional: bool = False) -> int | None:
    """A property as documented: a plain int (not a bool, not a float) from 0 to ``top``."""
    value = properties.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BatteryError(f"{key} is not an integer: {_shown(value)}")
    if not 0 <= value <= top:
        raise BatteryError(f"{key} {value} is outside 0-{top}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
