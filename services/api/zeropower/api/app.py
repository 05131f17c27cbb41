"""The HTTP API: FastAPI endpoints over the gateway's MQTT state and commands."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from zeropower.api.events import install_web
from zeropower.api.gateway import Gateway
from zeropower.api.metrics import registry_for
from zeropower.api.settings import ApiSettings
from zeropower.controller.settings import ControllerTunablesUpdate
from zeropower.shared.messages import OnOff, on_off


class EnabledBody(BaseModel):
    """Zero-export control on or off."""

    enabled: OnOff = Field(description="`on` or `off`.")


def redirect_target(url: str, allowed_origins: list[str]) -> str:
    """Return ``url`` if it is a relative path (``/...``) or on an allowed origin; raise 400 otherwise."""
    if any(ord(char) < 0x20 or char == "\\" for char in url):
        raise HTTPException(400, "redirect: control characters and backslashes are not allowed")
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {item.rstrip("/").lower() for item in allowed_origins}
    if parts.scheme in {"http", "https"} and parts.netloc and origin in allowed:
        return url
    raise HTTPException(
        400, f"redirect: only a relative path (/...) or an origin in api.redirect_allow_origins is allowed, not {url!r}"
    )


def create_app(gateway: Gateway, settings: ApiSettings) -> FastAPI:  # noqa: PLR0915 (endpoints are closures)
    """The FastAPI application serving ``gateway``'s state and commands."""
    app = FastAPI(title="zeropower API", description="Zero-export control over MQTT.", version="0.1.0")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "PUT"],
            allow_headers=["Authorization", "Content-Type"],
        )
    registry = registry_for(gateway)

    def require_token(request: Request) -> None:
        """Reject the request with 401 unless the configured token is given (Bearer header or ?token=)."""
        if settings.token is None:
            return
        given = request.query_params.get("token") or None  # an empty ?token= counts as none given
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            given = header[7:].strip() or given
        expected = settings.token.get_secret_value()
        if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "a valid token is required: Authorization: Bearer <token> or ?token=<token>")

    authorized = [Depends(require_token)]

    def require_controller() -> None:
        """Refuse with 503 unless the controller is online: a command is sent once, a controller down never gets it."""
        if not gateway.controller_online:
            raise HTTPException(503, "the controller is not online: the command would be lost; nothing was changed")

    async def publish_enabled(enabled: bool) -> dict[str, OnOff]:
        require_controller()
        if not await gateway.set_enabled(enabled):
            raise HTTPException(503, "not connected to the MQTT broker; nothing was changed")
        return {"enabled": on_off(enabled)}

    @app.get("/api/toggle", dependencies=authorized, response_model=None)
    async def toggle(
        redirect: Annotated[str | None, Query(description="Where to send the browser afterwards (303).")] = None,
    ) -> dict[str, OnOff] | RedirectResponse:
        """Switch zero-export control to the other state (as the controller reports it) and answer the new state."""
        target = redirect_target(redirect, settings.redirect_allow_origins) if redirect is not None else None
        current = gateway.enabled
        if current is None:
            raise HTTPException(503, "the current state is unknown: no controller state received")
        answer = await publish_enabled(not current)
        return RedirectResponse(target, status_code=303) if target is not None else answer

    @app.put("/api/enabled", dependencies=authorized)
    async def put_enabled(body: EnabledBody) -> dict[str, OnOff]:
        """Switch zero-export control on or off."""
        return await publish_enabled(body.enabled == "on")

    @app.get("/api/status")
    async def status() -> dict[str, OnOff]:
        """Whether zero-export control is on, from the controller's retained state."""
        controller = gateway.snapshot.controller
        if controller is None:
            raise HTTPException(503, "the controller's state is unknown (no retained controller state received)")
        return {"enabled": on_off(controller.enabled)}

    @app.get("/api/state")
    async def state() -> dict[str, Any]:
        """Grid power, the controller's mode and setpoints, every device's state, today's energy, availability."""
        snapshot = gateway.snapshot
        controller = snapshot.controller
        grid = snapshot.grid
        actuators: dict[str, dict[str, Any]] = {}
        for key, device in sorted(snapshot.devices.items()):
            actuators.setdefault(key[0], {})[key[1]] = {**device.model_dump(), "kind": snapshot.kind(key)}
        consumers = snapshot.consumers().values()
        diverter_power = [device.power_w for device in consumers if device.power_w is not None]
        received_at = snapshot.grid_received_at
        return {
            "enabled": None if gateway.enabled is None else on_off(gateway.enabled),
            "grid_power_w": grid.power_w if grid else None,
            "grid_error": grid.error if grid else None,
            "grid_age_s": None if received_at is None else round(time.monotonic() - received_at, 3),
            "grid_energy_import_wh": grid.energy_import_wh if grid else None,
            "grid_energy_export_wh": grid.energy_export_wh if grid else None,
            "mode": controller.mode if controller else None,
            "reason": controller.reason if controller else None,
            "target_w": controller.target_w if controller else None,
            "limit_w": controller.limit_w if controller else None,
            "output_w": controller.output_w if controller else None,
            "consumption_w": controller.consumption_w if controller else None,
            "setpoints_w": controller.setpoints_w if controller else {},
            "diverter_power_w": sum(diverter_power) if diverter_power else None,
            "energy_today": asdict(gateway.energy.totals()),
            "actuators": actuators,
            "availability": dict(sorted(snapshot.availability.items())),
        }

    @app.get("/api/config/controller")
    async def get_controller_config() -> dict[str, Any]:
        """The controller's effective tunables (as it last published them)."""
        config = gateway.snapshot.controller_config
        if config is None:
            raise HTTPException(503, "the controller's config is unknown (no retained controller config received)")
        return config

    @app.put("/api/config/controller", dependencies=authorized)
    async def put_controller_config(body: ControllerTunablesUpdate) -> dict[str, Any]:  # type: ignore[valid-type]
        """Change some of the controller's tunables: only the fields given are sent, the others keep their value.

        Answers the config as it will be once the controller has applied the change.
        """
        current = gateway.snapshot.controller_config
        if current is None:
            raise HTTPException(503, "the controller's config is unknown (is the controller running?)")
        changes = body.changes()
        if changes:
            require_controller()
            if not await gateway.change_controller_config(body):
                raise HTTPException(503, "not connected to the MQTT broker; nothing was changed")
        return {**current, **changes}

    @app.get("/healthz")
    async def healthz() -> Response:
        """200 while connected to the MQTT broker, 503 otherwise."""
        if gateway.connected:
            return Response('{"status": "ok"}', media_type="application/json")
        return Response(
            '{"status": "not connected to the MQTT broker"}', status_code=503, media_type="application/json"
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    install_web(app, gateway, state)
    return app
