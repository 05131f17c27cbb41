"""A Zendure SolarFlow on HTTP (the zenSDK local API), its battery the plant's ``BatteryModel``.

Paths, field names and JSON shapes as documented in github.com/Zendure/zenSDK (``README.md``,
``docs/en_properties.md``, ``docs/openapi.yaml``, commit f7858bf): ``GET /properties/report`` answers
``{"timestamp", "messageId", "sn", "version", "product", "properties": {...}, "packData": [...]}``;
``POST /properties/write`` takes ``{"sn", "properties": {...}}``. ``acMode`` 1 charges from AC at ``inputLimit``
W, 2 feeds the house at ``outputLimit`` W (as the official Home Assistant integration drives it,
github.com/Zendure/Zendure-HA ``custom_components/zendure_ha/device.py``). The zenSDK does not document the
write's answer body; this emulator answers like its ``/rpc`` writes: ``{"timestamp", "messageId", "success",
"code", "sn"}``. A request of more than 512 bytes is refused (the device reads no more).

Not emulated: panels on the DC inputs (``solarInputPower`` is 0), mDNS, ``/rpc``, ``socSet``/``minSoc``.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from aiohttp import web

from zeropower.sim.battery import BatteryModel
from zeropower.sim.plant import Plant
from zeropower.sim.settings import ZendureSettings

MAX_REQUEST_BYTES = 512
#: Writable properties this emulator takes, with their documented or plausible ranges.
WRITABLE = {"acMode": (1, 2), "inputLimit": (0, 20_000), "outputLimit": (0, 20_000), "smartMode": (0, 1)}


class ZendureEmulator:
    """HTTP server answering like a Zendure SolarFlow; each request reads or commands the plant's battery now."""

    def __init__(self, plant: Plant, settings: ZendureSettings) -> None:
        if plant.battery is None:
            raise ValueError("the Zendure emulator needs the plant's battery (sim.battery)")
        self._plant = plant
        self._battery: BatteryModel = plant.battery
        self._settings = settings
        self._message_ids = itertools.count(1)
        self.properties: dict[str, int] = {"acMode": 2, "inputLimit": 0, "outputLimit": 0, "smartMode": 0}
        self.writes: list[dict[str, Any]] = []  # every accepted write's properties, for tests
        self.written_at: list[float] = []  # when each was accepted (monotonic)
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/properties/report", self._report)
        app.router.add_post("/properties/write", self._write)
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def port(self) -> int:
        """The port the server listens on (useful when configured as 0)."""
        return int(self._runner.addresses[0][1])

    async def start(self, port: int | None = None) -> None:
        """Start listening (on ``port`` instead of the configured one if given); OSError when impossible."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._settings.host, self._settings.port if port is None else port).start()
        except OSError:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()

    def _answer(self, **extra: Any) -> dict[str, Any]:
        return {
            "timestamp": int(time.time()),
            "messageId": next(self._message_ids),
            "sn": self._settings.serial,
        } | extra

    async def _report(self, _: web.Request) -> web.Response:
        battery = self._battery
        power_w = round(battery.power_w)
        state = 1 if power_w > 0 else 2 if power_w < 0 else 0
        settings = battery.settings
        properties = {
            "electricLevel": round(battery.soc_pct),
            "packState": state,
            "packNum": 1,
            "outputPackPower": max(power_w, 0),
            "packInputPower": max(-power_w, 0),
            "gridInputPower": max(power_w, 0),
            "outputHomePower": max(-power_w, 0),
            "solarInputPower": 0,
            "chargeMaxLimit": round(settings.max_charge_w),
            "inverseMaxPower": round(settings.max_discharge_w),
            "socLimit": 1 if battery.soc_pct >= 100 else 2 if battery.soc_pct <= settings.empty_pct else 0,
            "is_error": 0,
            "rssi": -58,
            "ts": int(time.time()),
            **self.properties,
        }
        pack = {
            "sn": f"{self._settings.serial}P1",
            "socLevel": round(battery.soc_pct),
            "state": state,
            "power": power_w,
        }
        body = self._answer(version=2, product=self._settings.product, properties=properties, packData=[pack])
        return web.json_response(body)

    async def _write(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._bad("body is not JSON")
        if not isinstance(body, dict) or body.get("sn") != self._settings.serial:
            return self._bad("sn missing or not this device's")
        properties = body.get("properties")
        if not isinstance(properties, dict) or not properties:
            return self._bad("properties missing")
        for key, value in properties.items():
            bounds = WRITABLE.get(key)
            if bounds is None:
                return self._bad(f"{key} is not writable here")
            if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
                return self._bad(f"{key} {value!r} out of range {bounds}")
        self.properties.update(properties)
        self.writes.append(dict(properties))
        self.written_at.append(time.monotonic())
        mode = self.properties["acMode"]
        power_w = self.properties["inputLimit"] if mode == 1 else -self.properties["outputLimit"]
        self._battery.command(float(power_w), self._plant.now_s)
        return web.json_response(self._answer(success=True, code=200))

    def _bad(self, why: str) -> web.Response:
        return web.json_response(self._answer(success=False, code=400, message=why), status=400)
