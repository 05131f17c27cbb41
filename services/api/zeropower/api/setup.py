"""Setup in the browser: read, validate and store a service's section on its retained setup topic, and test it.

The sections are validated with the very models the services read from YAML; a service whose section is in
its config file reports so (``source: yaml``) and its setup is refused (409).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError

from zeropower.actuator_opendtu.settings import SETUP_ACTUATOR_ID, ActuatorOpenDtuSetup
from zeropower.actuator_pwm.settings import SETUP_ACTUATOR_ID as SETUP_HEATER_ID
from zeropower.actuator_pwm.settings import ActuatorPwmSetup
from zeropower.api.errors import error_responses
from zeropower.api.events import WEB_DIR
from zeropower.api.setup_probes import InvertersReadBody, MeterReadBody, read_inverters, read_meter
from zeropower.api.setup_secrets import hidden, restore_secrets, revealed
from zeropower.meter.settings import MeterSettings
from zeropower.shared.messages import SetupStatus
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.setup import MAX_SETUP_BYTES, parse_setup
from zeropower.shared.topics import Topics, actuator_service_id


@dataclass(frozen=True)
class Section:
    """A section that can be set up in the browser.

    Its settings model, the service that reads it, and what storing it does (the PUT endpoint's description).
    """

    model: type[BaseModel]
    service_id: str
    stored: str


SECTIONS = {
    "meter": Section(
        MeterSettings,
        "meter",
        "Validate the meter's section and store it (retained): the meter service runs it without a restart.",
    ),
    "actuator_opendtu": Section(
        ActuatorOpenDtuSetup,
        actuator_service_id(SETUP_ACTUATOR_ID),
        "Validate actuator-opendtu's section and store it (retained): the actuator runs it without a restart.",
    ),
    "actuator_pwm": Section(
        ActuatorPwmSetup,
        actuator_service_id(SETUP_HEATER_ID),
        "Validate the heater's section (actuator-pwm) and store it (retained): the actuator switches to it "
        "without a restart, the previous output at duty 0 and closed first; whether the output opened is in "
        "the actuator's setup status.",
    ),
}


class SectionSetupBody(BaseModel):
    """A section's setup: where the service takes it from, and what is stored (secrets hidden)."""

    section: str = Field(description="The settings section (the YAML key), e.g. meter.")
    status: SetupStatus | None = Field(description="The service's own report; null until it reported (not running).")
    editable: bool = Field(description="False when the service runs the section from its config file (YAML wins).")
    config: dict[str, Any] | None = Field(
        description="The stored setup with every default filled in and each secret as **********; null: none stored."
    )
    stored_error: str | None = Field(description="Why the stored setup is not valid; null when it is or none is.")


@dataclass
class SetupStore:
    """The retained setups and the services' setup status, as received; stores a setup retained."""

    bus: MqttBus
    topics: Topics
    stored: dict[str, bytes] = field(default_factory=dict)
    status: dict[str, SetupStatus] = field(default_factory=dict)

    def install(self) -> None:
        """Subscribe to every section's setup and status topic."""
        for name, section in SECTIONS.items():
            self.bus.subscribe(self.topics.setup(name), self._setup_of(name))
            self.bus.subscribe(self.topics.setup_status(section.service_id), self._on_status)

    def _setup_of(self, name: str) -> Callable[[IncomingMessage], Awaitable[None]]:
        """The handler of one section's setup topic: keeps what is stored (an empty payload: none)."""

        async def on_setup(message: IncomingMessage) -> None:
            if message.payload:
                self.stored[name] = message.payload
            else:
                self.stored.pop(name, None)

        return on_setup

    async def _on_status(self, message: IncomingMessage) -> None:
        if message.payload:  # a status the API cannot read fails this handler, logged by the bus once a minute
            status = SetupStatus.model_validate_json(message.payload)
            self.status[status.section] = status

    def body(self, name: str) -> SectionSetupBody:
        """What the API shows of one section."""
        model, status = SECTIONS[name].model, self.status.get(name)
        config, problem = None, None
        if name in self.stored:
            try:
                config = hidden(parse_setup(model, name, self.stored[name]).model_dump(mode="json"))
            except ValueError as error:
                problem = str(error)
        editable = status is None or status.source != "yaml"
        return SectionSetupBody(section=name, status=status, editable=editable, config=config, stored_error=problem)

    def submitted(self, name: str, body: dict[str, Any]) -> tuple[BaseModel, dict[str, Any]]:
        """The submitted section with its hidden secrets restored, validated; 422 naming the field otherwise.

        Strictly, as JSON: a form sends each value with its type (``"5"`` is no number, ``0`` no boolean).
        """
        restored = restore_secrets(body, self._stored_values(name))
        try:
            return SECTIONS[name].model.model_validate_json(json.dumps(restored), strict=True), restored
        except ValidationError as error:
            raise RequestValidationError(
                [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors(include_url=False)]
            ) from None

    def _stored_values(self, name: str) -> Any:
        """The stored setup as the API shows it (defaults filled in, URLs normalised), secrets revealed."""
        try:
            return revealed(parse_setup(SECTIONS[name].model, name, self.stored[name]).model_dump())
        except (KeyError, ValueError):  # none stored, or not valid: nothing to restore from
            return None

    async def store(self, name: str, config: dict[str, Any]) -> bool:
        """Publish a valid setup, retained; False when the broker did not acknowledge it."""
        payload = json.dumps(config, separators=(",", ":")).encode()
        if len(payload) > MAX_SETUP_BYTES:
            raise HTTPException(413, f"the setup is {len(payload)} bytes, more than {MAX_SETUP_BYTES}")
        return await self.bus.publish(self.topics.setup(name), payload, retain=True)


def install_setup(
    app: FastAPI, store: SetupStore, security: list[Any], unauthorized: dict[int | str, dict[str, Any]]
) -> set[Callable[..., Awaitable[Any]]]:
    """The setup endpoints; returns those that change or probe something (the token guards them)."""
    store.install()

    @app.get("/setup", include_in_schema=False)
    async def setup_page() -> FileResponse:
        return FileResponse(WEB_DIR / "setup.html")

    async def section_body(request: Request, name: str) -> tuple[BaseModel, dict[str, Any]]:
        return store.submitted(name, await request.json())

    @app.get("/api/setup")
    async def get_setup() -> list[SectionSetupBody]:
        """Every section that can be set up in the browser: where it comes from and what is stored."""
        return [store.body(name) for name in SECTIONS]

    def put_setup(name: str, section: Section) -> Callable[..., Awaitable[SectionSetupBody]]:
        """The PUT endpoint of one section; its body typed with the section's model, for the page's forms."""

        async def put_section_setup(request: Request, body: section.model) -> SectionSetupBody:
            return await save(request, name)

        return app.put(
            f"/api/setup/{name}",
            dependencies=security,
            responses={**unauthorized, **error_responses(400, 413, 503), 409: {"description": "Configured in YAML."}},
            operation_id=f"put_{name}_setup",
            description=section.stored,
        )(put_section_setup)

    puts = {put_setup(name, section) for name, section in SECTIONS.items()}

    async def save(request: Request, name: str) -> SectionSetupBody:
        status = store.status.get(name)
        if status is not None and status.source == "yaml":
            raise HTTPException(409, f"{name} is configured in the config file (YAML wins): change it there")
        _, restored = await section_body(request, name)
        if not await store.store(name, restored):
            raise HTTPException(503, "not connected to the MQTT broker; nothing was stored")
        store.stored[name] = json.dumps(restored).encode()
        return store.body(name)

    @app.post("/api/setup/meter/read", dependencies=security, responses={**unauthorized, **error_responses(400, 413)})
    async def read_meter_setup(request: Request, body: MeterSettings) -> MeterReadBody:
        """Read the meter once as set up in the body (not stored): its power in W, or the exact error."""
        config, _ = await section_body(request, "meter")
        return await read_meter(cast(MeterSettings, config), store.bus)

    @app.post(
        "/api/setup/actuator_opendtu/read",
        dependencies=security,
        responses={**unauthorized, **error_responses(400, 413)},
    )
    async def read_inverters_setup(request: Request, body: ActuatorOpenDtuSetup) -> InvertersReadBody:
        """Listen a few seconds for the DTU's telemetry of each inverter in the body (not stored)."""
        config, _ = await section_body(request, "actuator_opendtu")
        return await read_inverters(cast(ActuatorOpenDtuSetup, config), store.bus)

    return puts | {read_meter_setup, read_inverters_setup}
