"""Settings of one inverter behind the DTU, with its limit range."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from zeropower.shared.messages import MAX_COMMANDS_PER_HOUR, MAX_POWER_W, DeviceInfo, Pacing
from zeropower.shared.settings import StrictModel

#: Lowest limit when neither ``min_w`` nor ``min_percent`` is set: below ~5 % some models become unstable.
DEFAULT_MIN_PERCENT = 5.0
#: Hoymiles' protocol floor for a limit, in % of the nameplate (3rd-generation models).
PROTOCOL_FLOOR_PERCENT = 2.0
#: Limit commands per hour and inverter: the default (one per 15 s on average) and the lowest accepted, twice
#: the command policy's burst (its bucket refills at the budget less the burst).
DEFAULT_COMMANDS_PER_HOUR = 240
MIN_COMMANDS_PER_HOUR = 12


class InverterSettings(StrictModel):
    """One Hoymiles inverter: how the DTU names it and the range its limit may take."""

    serial: str | None = Field(
        None,
        pattern=r"^[0-9A-Za-z]+$",
        description="Serial number as OpenDTU shows it (required for OpenDTU; informative for AhoyDTU).",
    )
    name: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[^/#+]+$",
        description="AhoyDTU: the inverter name from its setup page (required, part of its topics). "
        "OpenDTU: a display name (default: the serial).",
    )
    index: int | None = Field(
        None, ge=0, description="AhoyDTU only: the inverter's number on its setup page (in ctrl/limit/<index>)."
    )
    max_w: float = Field(gt=0, description="Highest limit zeropower sets, in W (at most the nameplate).")
    nameplate_w: float | None = Field(
        None,
        gt=0,
        le=MAX_POWER_W,
        description="Rated AC power in W (e.g. 800 for an HM-800); turns the relative limit read-back into W.",
    )
    min_w: float | None = Field(None, ge=0, description="Lowest limit in W; the inverter is never switched off.")
    min_percent: float | None = Field(
        None,
        ge=PROTOCOL_FLOOR_PERCENT,
        le=100,
        description=f"Lowest limit in % of nameplate_w (or max_w when unset), instead of min_w; "
        f"default {DEFAULT_MIN_PERCENT:g} % when neither is set.",
    )
    enabled: bool = Field(True, description="False: announced as disabled, never commanded; telemetry still read.")
    priority: int = Field(0, description="Order for the controller's priority allocation (lower is used first).")
    failsafe_limit_w: float | None = Field(
        None, ge=0, description="Limit in W applied when setpoints stop arriving; default: the minimum limit."
    )
    commands_per_hour: int = Field(
        DEFAULT_COMMANDS_PER_HOUR,
        ge=MIN_COMMANDS_PER_HOUR,
        le=MAX_COMMANDS_PER_HOUR,
        description="Most limit commands to this inverter in any hour (a hard budget; reductions keep a reserve); "
        "about 120 for HMS-xxxW models with built-in WiFi, which accept ~2 a minute.",
    )

    @field_validator("serial", "name", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        """Accept an unquoted serial such as 114182912345 (YAML reads it as a number)."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def rated_w(self) -> float:
        """The nameplate power in W, or ``max_w`` when the nameplate is not configured."""
        return self.nameplate_w if self.nameplate_w is not None else self.max_w

    @property
    def min_limit_w(self) -> float:
        """The lowest limit in W, from ``min_w`` or ``min_percent`` (default 5 %)."""
        if self.min_w is not None:
            return self.min_w
        percent = self.min_percent if self.min_percent is not None else DEFAULT_MIN_PERCENT
        return round(self.rated_w * percent / 100, 1)

    @property
    def failsafe_w(self) -> float:
        """The limit in W applied in fail-safe."""
        return self.failsafe_limit_w if self.failsafe_limit_w is not None else self.min_limit_w

    @property
    def label(self) -> str:
        """A human-readable name: the configured name, else the serial."""
        return self.name or self.serial or "?"

    def device_info(self, device_id: str, pacing: Pacing) -> DeviceInfo:
        """How the actuator announces this inverter to the controller, with the actuator's pacing."""
        return DeviceInfo(
            device_id=device_id,
            name=self.label,
            min_w=self.min_limit_w,
            max_w=self.max_w,
            enabled=self.enabled,
            priority=self.priority,
            commands_per_hour=self.commands_per_hour,
            pacing=pacing,
        )

    def clamp(self, limit_w: float) -> float:
        """The limit moved into [min_limit_w, max_w]."""
        return min(max(limit_w, self.min_limit_w), self.max_w)

    @model_validator(mode="after")
    def _consistent_limits(self) -> Self:
        if self.min_w is not None and self.min_percent is not None:
            raise ValueError("set min_w or min_percent, not both")
        if self.nameplate_w is not None and self.max_w > self.nameplate_w:
            raise ValueError(f"max_w ({self.max_w:g} W) must not exceed nameplate_w ({self.nameplate_w:g} W)")
        floor_w = self.rated_w * PROTOCOL_FLOOR_PERCENT / 100
        if self.min_w is not None and self.min_w < floor_w:
            raise ValueError(
                f"min_w ({self.min_w:g} W) is below {PROTOCOL_FLOOR_PERCENT:g} % of {self.rated_w:g} W, "
                "the lowest limit Hoymiles inverters accept (below ~5 % some switch off)"
            )
        if self.min_limit_w >= self.max_w:
            raise ValueError(f"the minimum limit ({self.min_limit_w:g} W) must be below max_w ({self.max_w:g} W)")
        if not self.min_limit_w <= self.failsafe_w <= self.max_w:
            raise ValueError(
                f"failsafe_limit_w ({self.failsafe_w:g} W) must lie between the minimum limit "
                f"({self.min_limit_w:g} W) and max_w ({self.max_w:g} W)"
            )
        return self
