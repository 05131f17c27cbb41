"""The HTTP API: FastAPI endpoints over the gateway's MQTT state and commands."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and toggle's refers to a local.

import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Response, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import WithJsonSchema

from zeropower.api.auth import DOCUMENTED_SCHEMES, TokenGuard
from zeropower.api.errors import error_responses, method_not_allowed
from zeropower.api.events import EVENTS_PATH, install_web
from zeropower.api.gateway import Gateway
from zeropower.api.history_routes import install_history
from zeropower.api.limits import BodyLimit, StreamLimit
from zeropower.api.metrics import registry_for
from zeropower.api.models import ControllerConfigChange, EnabledBody, HealthBody
from zeropower.api.redirects import redirect_pattern, redirect_target
from zeropower.api.settings import ApiSettings
from zeropower.api.setup import SetupStore, install_setup
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.messages import on_off

REDIRECTED = {
    303: {
        "description": "Switched; the browser is sent to `redirect`.",
        "headers": {"Location": {"description": "The `redirect` given.", "schema": {"type": "string"}}},
    }
}


def create_app(gateway: Gateway, settings: ApiSettings) -> FastAPI:  # noqa: PLR0915 (endpoints are closures)
    """The FastAPI application serving ``gateway``'s state and commands.

    In front of it, outermost first: CORS (when configured), the token check (when a token is set), the body size
    limit and the limit of live-event streams; none of them reads a body before deciding.
    """
    app = FastAPI(title="zeropower API", description="Zero-export control over MQTT.", version="0.1.0")
    app.add_exception_handler(405, method_not_allowed)
    registry = registry_for(gateway)
    guarded = settings.token is not None
    security = [Security(scheme) for scheme in DOCUMENTED_SCHEMES] if guarded else []
    unauthorized = error_responses(401) if guarded else {}
    allowed_redirects = redirect_pattern(settings.redirect_allow_origins)

    def require_controller() -> None:
        """Refuse with 503 unless the controller is online: a command is sent once, a controller down never gets it."""
        if not gateway.controller_online:
            raise HTTPException(503, "the controller is not online: the command would be lost; nothing was changed")

    async def publish_enabled(enabled: bool) -> EnabledBody:
        require_controller()
        if not await gateway.set_enabled(enabled):
            raise HTTPException(503, "not connected to the MQTT broker; nothing was changed")
        return EnabledBody(enabled=on_off(enabled))

    @app.get(
        "/api/toggle",
        dependencies=security,
        response_model=EnabledBody,
        responses={**REDIRECTED, **unauthorized, **error_responses(400, 503)},
    )
    async def toggle(
        redirect: Annotated[
            Annotated[str, WithJsonSchema({"type": "string", "pattern": allowed_redirects})] | None,
            Query(description="Where to send the browser afterwards (303): a path, or a URL on an allowed origin."),
        ] = None,
    ) -> EnabledBody | RedirectResponse:
        """Switch zero-export control to the other state (as the controller reports it) and answer the new state."""
        target = redirect_target(redirect, allowed_redirects) if redirect is not None else None
        current = gateway.enabled
        if current is None:
            raise HTTPException(503, "the current state is unknown: no controller state received")
        answer = await publish_enabled(not current)
        return RedirectResponse(target, status_code=303) if target is not None else answer

    @app.put("/api/enabled", dependencies=security, responses={**unauthorized, **error_responses(400, 413, 503)})
    async def put_enabled(body: EnabledBody) -> EnabledBody:
        """Switch zero-export control on or off."""
        return await publish_enabled(body.enabled == "on")

    @app.put(
        "/api/config/controller",
        dependencies=security,
        response_model=ControllerTunables,
        responses={**unauthorized, **error_responses(400, 413, 503)},
    )
    async def put_controller_config(body: ControllerConfigChange) -> dict[str, Any]:
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

    @app.get("/api/status", responses=error_responses(503))
    async def status() -> EnabledBody:
        """Whether zero-export control is on, from the controller's retained state."""
        controller = gateway.snapshot.controller
        if controller is None:
            raise HTTPException(503, "the controller's state is unknown (no retained controller state received)")
        return EnabledBody(enabled=on_off(controller.enabled))

    @app.get("/api/state")
    async def state() -> dict[str, Any]:
        """Grid power, the controller's mode and setpoints, every device's state, today's energy, availability."""
        snapshot = gateway.snapshot
        controller = snapshot.controller
        grid = snapshot.grid
        actuators: dict[str, dict[str, Any]] = {}
        for key, device in sorted(snapshot.devices.items()):
            described: dict[str, Any] = {"kind": snapshot.kind(key), "name": snapshot.name(key)}
            info = snapshot.announced.get(key)
            if info is not None and info.storage is not None:  # a battery: its SoC (null: unknown) and what it holds
                described |= {"soc_pct": device.soc_pct, "storage": info.storage.model_dump()}
            actuators.setdefault(key[0], {})[key[1]] = {**device.model_dump(), **described}
        received_at = snapshot.grid_received_at
        return {
            "timestamp": time.time(),
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
            "diverter_power_w": snapshot.diverter_power_w(),
            "storage_power_w": snapshot.storage_power_w(),
            "storage_soc_pct": snapshot.storage_soc_pct(),
            "energy_today": asdict(gateway.energy.totals()),
            "actuators": actuators,
            "availability": dict(sorted(snapshot.availability.items())),
        }

    @app.get("/api/config/controller", response_model=ControllerTunables, responses=error_responses(503))
    async def get_controller_config() -> dict[str, Any]:
        """The controller's effective tunables (as it last published them)."""
        config = gateway.snapshot.controller_config
        if config is None:
            raise HTTPException(503, "the controller's config is unknown (no retained controller config received)")
        return config

    @app.get("/healthz", responses={503: {"model": HealthBody, "description": "Not connected to the MQTT broker."}})
    async def healthz() -> JSONResponse:
        """200 while connected to the MQTT broker, 503 otherwise."""
        if gateway.connected:
            return JSONResponse(HealthBody(status="ok").model_dump())
        return JSONResponse(HealthBody(status="not connected to the MQTT broker").model_dump(), status_code=503)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    setup_commands = install_setup(app, SetupStore(gateway.bus, gateway.topics), security, unauthorized)
    install_web(app, gateway, state)
    install_history(app, gateway, settings.history)
    # add_middleware puts each in front of those added before it
    app.add_middleware(
        StreamLimit,
        path=EVENTS_PATH,
        per_client=settings.max_event_streams_per_client,
        total=settings.max_event_streams,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.token is not None:
        commands = {toggle, put_enabled, put_controller_config, *setup_commands}
        routes = [route for route in app.routes if getattr(route, "endpoint", None) in commands]
        app.add_middleware(TokenGuard, token=settings.token, routes=routes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "PUT", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
