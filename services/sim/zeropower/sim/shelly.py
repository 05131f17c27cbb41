"""A Shelly Pro 3EM on HTTP (Gen2 RPC, plus the Gen1 3EM ``/status``), measuring the plant's grid connection."""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from zeropower.sim.auth import BasicAuthenticator, DigestAuthenticator
from zeropower.sim.plant import Plant
from zeropower.sim.profiles import PHASES
from zeropower.sim.settings import ShellySettings

NOMINAL_VOLTAGE_V = 230.0
#: Grid impedance seen as voltage change per W on a phase: import lowers, export raises the voltage.
VOLTAGE_PER_W = 0.002
#: Reactive power of a household phase: a constant part plus a share of its load (motors, power supplies).
REACTIVE_BASE_VAR = 25.0
REACTIVE_SHARE = 0.2
FIRMWARE = ("20231219-134001/1.1.0-g34b5d4f", "1.1.0")


@dataclass(frozen=True)
class PhaseMeasurement:
    """What the meter measures on one phase; power positive = import."""

    power_w: float
    voltage_v: float
    current_a: float
    apparent_va: float
    power_factor: float
    frequency_hz: float


def measure_phase(power_w: float, load_w: float, rng: random.Random) -> PhaseMeasurement:
    """Plausible electrical values for a phase with the given active power and household load."""
    reactive_var = REACTIVE_BASE_VAR + REACTIVE_SHARE * load_w
    apparent_va = math.hypot(power_w, reactive_var)
    voltage_v = NOMINAL_VOLTAGE_V - VOLTAGE_PER_W * power_w + rng.gauss(0.0, 0.3)
    return PhaseMeasurement(
        power_w=power_w,
        voltage_v=voltage_v,
        current_a=apparent_va / voltage_v,
        apparent_va=apparent_va,
        power_factor=power_w / apparent_va if apparent_va > 0 else 1.0,
        frequency_hz=50.0 + rng.gauss(0.0, 0.01),
    )


class ShellyEmulator:
    """HTTP server answering like a Shelly Pro 3EM; every request reads the plant at that moment."""

    def __init__(self, plant: Plant, settings: ShellySettings, rng: random.Random) -> None:
        self._plant = plant
        self._settings = settings
        self._rng = rng
        password = settings.password.get_secret_value() if settings.password else None
        self._digest = DigestAuthenticator(settings.device_id, password) if password else None
        self._basic = BasicAuthenticator(settings.device_id, password) if password else None
        app = web.Application()
        app.router.add_get("/shelly", self._device_info)
        app.router.add_get("/rpc/EM.GetStatus", self._gen2(self._em_status))
        app.router.add_get("/rpc/EMData.GetStatus", self._gen2(self._emdata_status))
        app.router.add_get("/status", self._gen1_status)
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def port(self) -> int:
        """The port the server listens on (useful when configured as 0)."""
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        """Start listening on the configured host and port; OSError when that is impossible (port taken)."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._settings.host, self._settings.port).start()
        except OSError:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()

    def measure(self) -> list[PhaseMeasurement]:
        """Phases a, b, c as measured now: the plant's grid power plus measurement noise."""
        noise_w = self._settings.noise_w
        return [
            measure_phase(power_w + self._rng.gauss(0.0, noise_w) if noise_w else power_w, load_w, self._rng)
            for power_w, load_w in zip(self._plant.phase_grid_w, self._plant.phase_load_w, strict=True)
        ]

    async def _device_info(self, _: web.Request) -> web.Response:
        device_id = self._settings.device_id
        auth = self._digest is not None
        return web.json_response(
            {
                "name": None,
                "id": device_id,
                "mac": device_id.rpartition("-")[2].upper(),
                "slot": 0,
                "model": "SPEM-003CEBEU",
                "gen": 2,
                "fw_id": FIRMWARE[0],
                "ver": FIRMWARE[1],
                "app": "Pro3EM",
                "auth_en": auth,
                "auth_domain": device_id if auth else None,
                "profile": "triphase",
            }
        )

    def _gen2(self, build: Callable[[], dict[str, Any]]) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap an RPC status builder with Digest auth and the ``id=0`` argument check."""

        async def handler(request: web.Request) -> web.Response:
            digest = self._digest
            if digest and not digest.verify(request.method, request.raw_path, request.headers.get(hdrs.AUTHORIZATION)):
                return web.Response(status=401, headers={hdrs.WWW_AUTHENTICATE: digest.challenge()})
            component_id = request.query.get("id")
            if component_id is None:
                return _rpc_error(-103, "Missing required argument 'id'!")
            if component_id != "0":
                return _rpc_error(-105, f"Argument 'id', value {component_id} not found!")
            return web.json_response(build())

        return handler

    def _em_status(self) -> dict[str, Any]:
        phases = self.measure()
        status: dict[str, Any] = {"id": 0}
        for name, phase in zip(PHASES, phases, strict=True):
            status |= {
                f"{name}_current": round(phase.current_a, 3),
                f"{name}_voltage": round(phase.voltage_v, 1),
                f"{name}_act_power": round(phase.power_w, 1),
                f"{name}_aprt_power": round(phase.apparent_va, 1),
                f"{name}_pf": round(phase.power_factor, 2),
                f"{name}_freq": round(phase.frequency_hz, 1),
            }
        return status | {
            "n_current": None,
            "total_current": round(sum(phase.current_a for phase in phases), 3),
            "total_act_power": round(sum(phase.power_w for phase in phases), 3),
            "total_aprt_power": round(sum(phase.apparent_va for phase in phases), 3),
            "user_calibrated_phase": [],
        }

    def _emdata_status(self) -> dict[str, Any]:
        plant = self._plant
        status: dict[str, Any] = {"id": 0}
        for index, name in enumerate(PHASES):
            status |= {
                f"{name}_total_act_energy": round(plant.phase_imported_wh[index], 2),
                f"{name}_total_act_ret_energy": round(plant.phase_exported_wh[index], 2),
            }
        return status | {
            "total_act": round(sum(plant.phase_imported_wh), 2),
            "total_act_ret": round(sum(plant.phase_exported_wh), 2),
        }

    async def _gen1_status(self, request: web.Request) -> web.Response:
        basic = self._basic
        if basic and not basic.verify(request.headers.get(hdrs.AUTHORIZATION)):
            return web.Response(status=401, headers={hdrs.WWW_AUTHENTICATE: basic.challenge()})
        phases = self.measure()
        plant = self._plant
        emeters = [
            {
                "power": round(phase.power_w, 2),
                "pf": round(phase.power_factor, 2),
                "current": round(phase.current_a, 2),
                "voltage": round(phase.voltage_v, 2),
                "is_valid": True,
                "total": round(plant.phase_imported_wh[index], 1),
                "total_returned": round(plant.phase_exported_wh[index], 1),
            }
            for index, phase in enumerate(phases)
        ]
        return web.json_response({"emeters": emeters, "total_power": round(sum(phase.power_w for phase in phases), 2)})


def _rpc_error(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=400)
