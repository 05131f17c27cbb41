"""Settings of the OpenDTU/AhoyDTU actuator (see docs/services/actuator-opendtu.md)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from zeropower.actuator_opendtu.drivers import DriverConfig, OpenDtuConfig
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.messages import Pacing
from zeropower.shared.settings import ServiceSettings, StrictModel


class ActuatorOpenDtuSettings(StrictModel):
    """One actuator instance: its DTU, its inverters and how often they may be commanded."""

    actuator_id: str = Field(
        "opendtu",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="This instance's id, part of its topics; give each instance its own.",
    )
    driver: DriverConfig = Field(
        default_factory=OpenDtuConfig, description="The DTU: type opendtu (default) or ahoydtu, and its prefix."
    )
    inverters: list[InverterSettings] = Field(min_length=1, description="The inverters this instance controls.")
    min_change_w: float = Field(
        10.0, ge=0, description="Setpoint changes smaller than this (against the last limit sent) are skipped, in W."
    )
    min_interval_s: float = Field(
        3.0, ge=0, description="Shortest time between two limit commands to one inverter when raising, in s."
    )
    min_interval_reduce_s: float = Field(
        2.0,
        ge=0,
        description="Shortest time between two commands to one inverter when lowering its limit, in s "
        "(reductions stop export, so they may come sooner).",
    )
    setpoint_timeout_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="No setpoint for this long: every inverter goes to its fail-safe limit, in s. Keep it well "
        "below actuator-pwm's setpoint_timeout_s: production is limited before a diverter releases its load.",
    )
    refresh_interval_s: float = Field(
        60.0,
        gt=0,
        description="The newest limit is sent again this often, in s (a restarted inverter forgets it).",
    )
    telemetry_debounce_s: float = Field(
        0.3,
        ge=0,
        le=5,
        description="Telemetry arriving within this time is published as one device state, in s.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = self.driver.device_ids(self.inverters)
        duplicates = sorted({device_id for device_id in ids if ids.count(device_id) > 1})
        if duplicates:
            raise ValueError(f"inverters: {', '.join(duplicates)} configured more than once")
        if self.min_interval_reduce_s > self.min_interval_s:
            raise ValueError("min_interval_reduce_s must not exceed min_interval_s")
        if self.refresh_interval_s < self.min_interval_s:
            raise ValueError("refresh_interval_s must be at least min_interval_s")
        return self

    @property
    def pacing(self) -> Pacing:
        """How commands to each inverter are spaced, as announced to the controller."""
        return Pacing(
            min_change_w=self.min_change_w,
            raise_interval_s=self.min_interval_s,
            reduce_interval_s=self.min_interval_reduce_s,
            refresh_interval_s=self.refresh_interval_s,
        )

    @property
    def inverters_by_id(self) -> dict[str, InverterSettings]:
        """Each inverter by its device id (serial for OpenDTU, name for AhoyDTU), in configured order."""
        return dict(zip(self.driver.device_ids(self.inverters), self.inverters, strict=True))


#: The id of the instance set up in the browser (an instance without its section in the config file).
SETUP_ACTUATOR_ID = "opendtu"


class ActuatorOpenDtuSetup(ActuatorOpenDtuSettings):
    """The section as set up in the browser: the same settings, for the one instance with the default id."""

    actuator_id: Literal["opendtu"] = Field(  # type: ignore[assignment]
        SETUP_ACTUATOR_ID,
        description="The instance set up in the browser is 'opendtu'; configure others in the config file.",
    )


class ActuatorOpenDtuServiceSettings(ServiceSettings):
    """Settings of the actuator-opendtu service."""

    actuator_opendtu: ActuatorOpenDtuSettings | None = Field(
        None,
        description="The actuator and its inverters; unset: set up in the browser (the retained setup topic) as "
        f"actuator {SETUP_ACTUATOR_ID!r}, waiting until then.",
    )
