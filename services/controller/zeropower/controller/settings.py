"""Controller settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, create_model, field_validator
from pydantic.fields import FieldInfo

from zeropower.shared.messages import MAX_POWER_W, WIRE
from zeropower.shared.settings import ServiceSettings, StrictModel

Allocation = Literal["fewest-commands", "proportional", "priority"]
DiverterOrder = Literal["use-before-curtail", "curtail-first"]
SurplusOrder = Literal["storage-first", "diverters-first"]


class ControllerSettings(StrictModel):
    """Tunables of the zero-export loop (see docs/services/controller.md)."""

    target_w: float = Field(20.0, ge=-1000, le=1000, description="Grid power to regulate to in W (>0 = small import).")
    deadband_w: float = Field(15.0, ge=0, le=500, description="No change while |grid - target| is within this, in W.")
    raise_gain: float = Field(
        0.7, gt=0, le=1, description="Share of an import above target made up per step (measured rise)."
    )
    cut_gain: float = Field(1.0, gt=0, le=1.5, description="Share of an export cut away per step (1 = immediately).")
    stale_after_s: float = Field(
        10.0, gt=0, le=300, description="Grid data older than this triggers the fail-safe, in s (at most 5 min)."
    )
    dead_time_s: float = Field(
        8.0,
        ge=0,
        le=120,
        description="Time an inverter needs to follow a new limit, in s; changes in flight are not stacked.",
    )
    ramp_w_per_s: float = Field(
        100.0,
        gt=0,
        le=10000,
        description="How fast an inverter's output moves towards a new limit once it follows it, in W/s.",
    )
    learn_dynamics: bool = Field(
        True,
        description="Learn each inverter's dead time and ramp from its telemetry, starting from dead_time_s and "
        "ramp_w_per_s (off: use them as configured).",
    )
    forecast_load: bool = Field(
        True,
        description="Anticipate load changes: learn from the load's history how it goes on after a step (a "
        "pulsing hob goes off again) and place the limits for the load one dead time ahead, where that is at "
        "least 5 s (off: for the load now).",
    )
    forecast_quantile: float = Field(
        0.6,
        ge=0.05,
        le=0.95,
        description="Which quantile of the learned load changes to place the limits for: 0.5 = the median; "
        "lower = less export, more curtailment; higher = the reverse.",
    )
    settle_tolerance_w: float = Field(
        25.0, ge=0, le=1000, description="Telemetry within this of the expected output confirms a limit change, in W."
    )
    sun_limit_margin_w: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="Output this far below the applied limit means the inverter is sun-limited, in W.",
    )
    sun_limit_headroom_w: float = Field(
        50.0,
        ge=0,
        le=1000,
        description="A sun-limited inverter giving all it can has its limit at least this far above its "
        "output, and smaller moves of its limit are not sent, in W.",
    )
    device_stale_after_s: float = Field(
        60.0, gt=0, le=3600, description="An inverter without telemetry for this long counts as unreachable, in s."
    )
    allocation: Allocation = Field(
        "fewest-commands",
        description="Split over inverters: a change to those with the most room for it first, in the fewest "
        "commands (fewest-commands); proportional to headroom; or by priority (lowest first).",
    )
    divert_gain: float = Field(
        0.5, gt=0, le=1, description="Share of the error a diverter (consumer) takes per grid reading."
    )
    divert: bool = Field(
        True,
        description="Use the diverters (heaters) for surplus. Off: each is released as the inverters take over "
        "its draw (never at once, which would export it for a dead time), then stays off.",
    )
    diverter_order: DiverterOrder = Field(
        "use-before-curtail",
        description="On surplus, raise diverters before curtailing inverters (use-before-curtail), or the reverse.",
    )
    surplus_order: SurplusOrder = Field(
        "storage-first",
        description="On surplus, charge the batteries before raising the diverters (storage-first), or the reverse; "
        "on a deficit batteries discharge (above their reserve) before the grid is drawn from.",
    )
    battery_reserve_soc_pct: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Keep the batteries at least this charged, e.g. for the night, in %: no discharge at or below "
        "it (nor solar passed through a DC-coupled battery inverter). Each battery's own reserve "
        "(actuator_battery) applies too; 0 = only those.",
    )
    failsafe_limit_w: float | None = Field(
        None,
        ge=0,
        le=MAX_POWER_W,
        description="Limit per inverter when grid data is stale; unset = each inverter's minimum.",
    )
    dry_run: bool = Field(False, description="Compute and publish only; actuators send nothing to devices.")
    enabled_on_start: bool = Field(True, description="Control state until a zeropower/set/enabled message arrives.")
    tick_interval_s: float = Field(
        1.0, gt=0, le=5, description="How often staleness is checked without new data, in s."
    )
    state_file: Path = Field(
        Path("var/controller/state.json"),
        description="File keeping the on/off switch and the tunables changed at run time across restarts "
        "(relative to the working directory).",
    )


class ControllerServiceSettings(ServiceSettings):
    """Settings of the controller service."""

    controller: ControllerSettings = Field(default_factory=ControllerSettings, description="The control loop.")


#: The tunables that may be changed at run time (the API's ``/api/config/controller``, MQTT ``config/set``).
TUNABLE_FIELDS = (
    "target_w",
    "deadband_w",
    "raise_gain",
    "cut_gain",
    "divert_gain",
    "divert",
    "diverter_order",
    "surplus_order",
    "battery_reserve_soc_pct",
    "stale_after_s",
    "dead_time_s",
    "forecast_load",
    "forecast_quantile",
    "dry_run",
)


class TunablesUpdateBase(StrictModel):
    """Base of ControllerTunablesUpdate: only the fields given are changed; ``null`` is not allowed.

    A command on the wire: JSON types only (``"5"`` is not 5, ``1`` is not true), as every message.
    """

    model_config = WIRE

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null (leave the field out to keep its value)")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields that were given, with their values."""
        return self.model_dump(exclude_unset=True)


def _tunable_fields(*, optional: bool) -> dict[str, Any]:
    """The tunables' Field definitions taken from ControllerSettings (bounds, defaults, descriptions)."""
    fields: dict[str, Any] = {}
    for name in TUNABLE_FIELDS:
        info = ControllerSettings.model_fields[name]
        if optional:
            fields[name] = (info.annotation | None, FieldInfo.merge_field_infos(info, default=None))
        else:
            fields[name] = (info.annotation, info)
    return fields


#: The run-time tunables of the loop: the same fields, bounds and defaults as ControllerSettings.
ControllerTunables: type[StrictModel] = create_model(
    "ControllerTunables",
    __base__=StrictModel,
    __doc__="The controller's run-time tunables (bounds as in ControllerSettings).",
    **_tunable_fields(optional=False),
)

#: A partial change of the tunables, validated with the same bounds.
ControllerTunablesUpdate: type[TunablesUpdateBase] = create_model(
    "ControllerTunablesUpdate",
    __base__=TunablesUpdateBase,
    __doc__="A partial change of the controller's tunables: fields left out keep their value.",
    **_tunable_fields(optional=True),
)


def tunables_of(settings: ControllerSettings) -> StrictModel:
    """The tunables part of the controller's settings."""
    return ControllerTunables.model_validate(settings.model_dump(include=set(TUNABLE_FIELDS)))
