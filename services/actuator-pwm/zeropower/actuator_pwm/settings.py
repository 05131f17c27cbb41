"""Settings of the PWM actuator (see docs/services/actuator-pwm.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from zeropower.actuator_pwm.mapping import LinearMapping, MappingConfig
from zeropower.actuator_pwm.outputs import OutputConfig, SysfsConfig
from zeropower.shared.settings import ServiceSettings, StrictModel

_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


class ActuatorPwmSettings(StrictModel):
    """One PWM actuator instance: the load, its output, the duty mapping and the safety timings."""

    actuator_id: str = Field(
        "heater",
        min_length=1,
        pattern=_ID_PATTERN,
        description="This instance's id, part of its topics; give each instance its own.",
    )
    device_id: str = Field(
        "heater", min_length=1, pattern=_ID_PATTERN, description="The load's device id in setpoints and states."
    )
    name: str = Field("Heater", min_length=1, description="The load's human-readable name.")
    rated_w: float = Field(gt=0, description="The load's rated power in W at full duty (e.g. 1650).")
    output: OutputConfig = Field(description="The PWM output: type rpi_gpio, sysfs or sim, and its settings.")
    mapping: MappingConfig = Field(
        default_factory=LinearMapping,
        description="How a power fraction becomes a duty: type linear (default), phase_fired or table.",
    )
    enabled: bool = Field(True, description="False: announced as disabled, the output stays at duty 0.")
    priority: int = Field(0, description="Order for the controller's priority allocation (lower is used first).")
    setpoint_timeout_s: float = Field(
        45.0,
        gt=0,
        le=3600,
        description="No setpoint for this long: duty 0 (fail-safe) until the next one, in s. Keep it above "
        "actuator-opendtu's setpoint_timeout_s plus the time the inverters need to follow a limit: the heater's "
        "draw absorbs production that would otherwise be exported.",
    )
    jitter_warning_percent: float = Field(
        20.0,
        gt=0,
        description="Warn when a setpoint interval differs from the median interval by more than this, in %.",
    )
    state_interval_s: float = Field(
        1.0, gt=0, le=60, description="The device state (duty, estimated power, energy) is published this often, in s."
    )
    energy_file: Path | None = Field(
        None,
        description="File keeping the diverted-energy counter across restarts; "
        "default var/actuator-pwm/<actuator_id>-energy.json.",
    )
    energy_save_interval_s: float = Field(
        60.0, gt=0, description="The energy counter is saved this often (and on stop), in s."
    )

    @property
    def energy_path(self) -> Path:
        """The energy counter's file."""
        return self.energy_file or Path("var/actuator-pwm") / f"{self.actuator_id}-energy.json"


#: The id of the instance set up in the browser (an instance without its section in the config file).
SETUP_ACTUATOR_ID = "heater"


class ActuatorPwmSetup(ActuatorPwmSettings):
    """The section as set up in the browser: the same settings, for the one instance with the default id.

    Paths stay out of the browser's reach: the energy counter lives in its default file and a sysfs output
    under /sys/class/pwm (both are files the service writes).
    """

    @model_validator(mode="after")
    def _setup_instance(self) -> Self:
        if self.actuator_id != SETUP_ACTUATOR_ID:
            raise ValueError(
                f"actuator_id: the instance set up in the browser is {SETUP_ACTUATOR_ID!r}; "
                "configure others in the config file"
            )
        if self.energy_file is not None:
            raise ValueError("energy_file: set up in the browser, the counter stays in its default file")
        default_root = SysfsConfig.model_fields["root"].default
        if isinstance(self.output, SysfsConfig) and self.output.root != default_root:
            raise ValueError(f"output.root: set up in the browser, a sysfs output is under {default_root}")
        return self


class ActuatorPwmServiceSettings(ServiceSettings):
    """Settings of the actuator-pwm service."""

    actuator_pwm: ActuatorPwmSettings | None = Field(
        None,
        description="The actuator, its load and its PWM output; unset: set up in the browser (the retained setup "
        f"topic) as actuator {SETUP_ACTUATOR_ID!r}, waiting until then.",
    )
