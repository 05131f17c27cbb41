"""Payload models of zeropower's topics: JSON, units in field names, Unix timestamps in seconds."""

from __future__ import annotations

import time
from typing import Annotated, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

OnOff = Literal["on", "off"]
ModelT = TypeVar("ModelT", bound=BaseModel)

#: The largest power (W) and energy (Wh) a message may carry: far beyond any household, small enough that
#: sums over any number of devices stay finite. Each service applies its own, tighter plausibility checks.
MAX_POWER_W = 1e6
MAX_ENERGY_WH = 1e12
#: Any other measured number (voltage, current, power factor) is finite and within this bound.
MAX_MAGNITUDE = 1e9
#: Timestamps lie between 1970 and the year 2286 (Unix seconds).
MAX_TIMESTAMP = 1e10
#: A grid reading carries at most this many phases.
MAX_PHASES = 3
#: A device's command budget is at most one command a second.
MAX_COMMANDS_PER_HOUR = 3600

PowerW = Annotated[float, Field(ge=-MAX_POWER_W, le=MAX_POWER_W)]
EnergyWh = Annotated[float, Field(ge=0, le=MAX_ENERGY_WH)]
Magnitude = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
UnixTime = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP)]

#: Wire payloads: unknown keys rejected, numbers must be JSON numbers (no strings, no booleans), finite.
WIRE = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class Message(BaseModel):
    """Base of every payload: strict keys and types, finite bounded numbers, a timestamp."""

    model_config = WIRE

    timestamp: UnixTime = Field(default_factory=time.time, description="Unix time in seconds when measured/sent.")


class PhaseReading(BaseModel):
    """One phase of a grid meter; fields the meter does not report are None."""

    model_config = WIRE

    power_w: PowerW | None = Field(None, description="Active power in W, positive = import.")
    voltage_v: Magnitude | None = Field(None, description="Voltage in V.")
    current_a: Magnitude | None = Field(None, description="Current in A.")
    power_factor: Magnitude | None = Field(None, description="Power factor (-1..1).")


class GridReading(Message):
    """A grid meter reading; ``power_w`` is None when the reading is missing, and ``error`` says why."""

    power_w: PowerW | None = Field(description="Grid power in W: positive = import, negative = export.")
    phases: list[PhaseReading] = Field(
        default_factory=list, max_length=MAX_PHASES, description="Per-phase values, if the meter has them."
    )
    energy_import_wh: EnergyWh | None = Field(
        None,
        description="Energy imported in Wh, netted across phases as a utility meter bills: the meter's own counter "
        "when it has a netted one, else the meter service's integral of power_w since it started.",
    )
    energy_export_wh: EnergyWh | None = Field(
        None, description="Energy exported in Wh, netted across phases; the same source as energy_import_wh."
    )
    energy_since: UnixTime | None = Field(
        None,
        description="Unix time the counters started from 0: the meter service's start for its integral; None for "
        "a meter's own counters (started long ago).",
    )
    error: str | None = Field(None, description="Why the reading is missing; None for a valid reading.")

    @model_validator(mode="after")
    def _missing_needs_error(self) -> Self:
        if self.power_w is None and not self.error:
            raise ValueError("a missing reading (power_w null) must say why in 'error'")
        return self

    @property
    def valid(self) -> bool:
        """True when the reading carries a number."""
        return self.power_w is not None


#: inverter: the setpoint is the output limit; consumer: the setpoint is the power to draw (a surplus diverter);
#: storage: the setpoint is the power at the battery's terminals, positive = charge, negative = discharge.
DeviceKind = Literal["inverter", "consumer", "storage"]


class Pacing(BaseModel):
    """How an actuator spaces the commands to one device, announced so the controller plans with the same rules.

    The controller mirrors what the actuator sends (its model of the inverter, its dynamics learner and the
    command budget count the commands actually sent, when they are sent), see ``zeropower.shared.budget``.
    """

    model_config = WIRE

    min_change_w: float = Field(
        ge=0, le=MAX_POWER_W, description="Changes smaller than this against the last command sent are not sent, in W."
    )
    raise_interval_s: float = Field(ge=0, le=3600, description="Shortest time between two commands when raising, in s.")
    reduce_interval_s: float = Field(
        ge=0, le=3600, description="Shortest time between two commands when lowering, in s."
    )
    refresh_interval_s: float = Field(
        gt=0, le=86400, description="The last command is sent again this often (from a full budget), in s."
    )


class StorageInfo(BaseModel):
    """What a storage device (a battery) holds and how it answers; its power limits are the device's min_w/max_w."""

    model_config = WIRE

    capacity_wh: float = Field(gt=0, le=MAX_ENERGY_WH, description="Usable energy between 0 and 100 % SoC in Wh.")
    min_soc_pct: float = Field(
        ge=0, le=100, description="Reserve: the actuator lets it discharge only above this state of charge, in %."
    )
    max_soc_pct: float = Field(
        ge=0, le=100, description="The actuator lets it charge only below this state of charge, in %."
    )
    response_time_s: float = Field(
        ge=0,
        le=3600,
        description="Time from a setpoint to the new power at its terminals (write pacing, dead time, ramp), in s.",
    )

    @model_validator(mode="after")
    def _soc_range(self) -> Self:
        if self.min_soc_pct >= self.max_soc_pct:
            raise ValueError(f"min_soc_pct ({self.min_soc_pct:g} %) must be below max_soc_pct ({self.max_soc_pct:g} %)")
        return self


class DeviceInfo(BaseModel):
    """One controllable device as an actuator announces it.

    For kind ``storage`` the setpoint range runs from ``min_w`` = minus the highest discharge power to ``max_w`` =
    the highest charge power, and ``storage`` says what it holds; ``min_w`` is negative for storage only.
    """

    model_config = WIRE

    device_id: str = Field(description="Unique id, e.g. the inverter serial.")
    name: str = Field(description="Human-readable name.")
    kind: DeviceKind = Field(
        "inverter",
        description="What the setpoint means: an inverter's output limit, a consumer's power draw, or a storage "
        "device's power at its terminals (positive = charge, negative = discharge).",
    )
    min_w: float = Field(
        ge=-MAX_POWER_W,
        le=MAX_POWER_W,
        description="Lowest setpoint in W the device accepts; for storage minus its highest discharge power "
        "(negative for storage only).",
    )
    max_w: float = Field(
        ge=0,
        le=MAX_POWER_W,
        description="Highest setpoint in W; above 0, except for storage that cannot charge (a battery inverter on "
        "the DC side: 0).",
    )
    enabled: bool = Field(True, description="False: the controller leaves this device out.")
    priority: int = Field(0, description="Lower is used first when allocating by priority.")
    commands_per_hour: int | None = Field(
        None,
        ge=1,
        le=MAX_COMMANDS_PER_HOUR,
        description="Most commands the actuator sends the device in any hour; None: no budget announced.",
    )
    pacing: Pacing | None = Field(
        None, description="How the actuator spaces commands to the device; None: every change is sent at once."
    )
    storage: StorageInfo | None = Field(
        None,
        # left out of the JSON when None: a receiver from before storage (extra keys forbidden) still reads it
        exclude_if=lambda value: value is None,
        description="A storage device's capacity, SoC bounds and response time; set for kind storage only.",
    )

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_w > self.max_w:
            raise ValueError(f"min_w ({self.min_w:g} W) must not exceed max_w ({self.max_w:g} W)")
        if self.kind == "storage":
            if self.storage is None:
                raise ValueError("a storage device must say what it holds in 'storage'")
        else:
            if self.max_w <= 0:
                raise ValueError(f"max_w ({self.max_w:g} W) must be above 0 (0 only for storage that cannot charge)")
            if self.min_w < 0:
                raise ValueError(f"min_w ({self.min_w:g} W) may be negative for kind storage only")
            if self.storage is not None:
                raise ValueError(f"'storage' is for kind storage only, not {self.kind}")
        return self


class ActuatorAnnouncement(Message):
    """An actuator's retained self-description, so the controller discovers it."""

    actuator_id: str = Field(description="The actuator instance's id (part of its topics).")
    driver: str = Field(description="The device protocol it speaks, e.g. 'opendtu'.")
    devices: list[DeviceInfo] = Field(description="The devices it controls.")


ControllerMode = Literal["regulating", "paused", "fail-safe", "dry-run", "idle"]


class SetpointCommand(Message):
    """Setpoints for one actuator's devices."""

    setpoints_w: dict[str, PowerW] = Field(
        description="Device id to setpoint in W: an inverter's output limit, a consumer's power to draw."
    )
    dry_run: bool = Field(False, description="True: compute and report only, send nothing to devices.")
    reason: str = Field("", description="Why these setpoints (the controller's mode and reason).")
    mode: ControllerMode | None = Field(
        None,
        description="The controller's mode: setpoints come once per grid reading while regulating (or in dry "
        "run), once per tick otherwise, so a new mode may shift their cadence.",
    )


class DeviceState(Message):
    """Normalised state of one device, from its own telemetry."""

    actuator_id: str = Field(description="The actuator that controls it.")
    device_id: str = Field(description="The device's id.")
    reachable: bool = Field(description="The DTU (or the actuator itself) currently talks to the device.")
    producing: bool = Field(
        description="The inverter feeds power, a storage device discharges (always False for a consumer)."
    )
    power_w: PowerW | None = Field(
        None,
        description="AC output power in W; a consumer's (estimated) power draw; a storage device's power at its "
        "terminals (positive = charge, negative = discharge).",
    )
    dc_power_w: PowerW | None = Field(None, description="DC input power in W.")
    limit_w: PowerW | None = Field(
        None,
        description="Output limit (a storage device: the power setpoint) in force on the device in W (its read-back).",
    )
    duty: float | None = Field(None, ge=0, le=1, description="A consumer's PWM duty cycle in force (0-1).")
    energy_wh: EnergyWh | None = Field(
        None,
        description="The device's lifetime energy counter in Wh: a consumer's diverted energy, an inverter's yield.",
    )
    updated_at: UnixTime | None = Field(None, description="Unix time of the device's last data.")
    last_command_w: PowerW | None = Field(None, description="The last setpoint sent to the device in W.")
    last_command_at: UnixTime | None = Field(None, description="Unix time the last setpoint was sent.")
    commands_left: float | None = Field(
        None, ge=0, le=1000, description="Limit commands the actuator's budget holds for the device now (tokens)."
    )
    soc_pct: float | None = Field(
        None,
        ge=0,
        le=100,
        exclude_if=lambda value: value is None,  # left out when None, as DeviceInfo.storage
        description="A storage device's state of charge in %; None: unknown or too old.",
    )
    charge_limit_w: PowerW | None = Field(
        None,
        ge=0,
        exclude_if=lambda value: value is None,
        description="A storage device: the most its actuator lets it charge now in W (its SoC window, BMS); None: "
        "not reported (the controller then judges by soc_pct and the announced window).",
    )
    discharge_limit_w: PowerW | None = Field(
        None,
        ge=0,
        exclude_if=lambda value: value is None,
        description="A storage device: the most its actuator lets it discharge now in W (its reserve, BMS cut-off "
        "and hysteresis, solar passed through); None: not reported (judged by soc_pct and the announced window).",
    )


ActuatorMode = Literal["waiting", "following", "fail-safe", "dry-run"]


class ActuatorState(Message):
    """An actuator's own state."""

    actuator_id: str = Field(description="The actuator instance's id.")
    mode: ActuatorMode = Field(description="waiting (no setpoint yet), following, fail-safe or dry-run.")
    reason: str = Field(description="Why it is in this mode.")
    commands_sent: int = Field(0, ge=0, description="Limit commands sent since start.")


class ControllerState(Message):
    """The controller's retained state."""

    enabled: bool = Field(description="Zero-export control switched on.")
    mode: ControllerMode = Field(description="What the controller is doing.")
    reason: str = Field(description="Why, in words.")
    grid_power_w: float | None = Field(description="Newest valid grid power in W.")
    grid_age_s: float | None = Field(description="Age of that reading in s.")
    target_w: float = Field(description="Target grid power in W.")
    output_w: float = Field(description="Measured output of the controlled inverters in W.")
    limit_w: float = Field(description="Sum of the inverters' setpoints in W.")
    consumption_w: float = Field(0.0, description="Sum of the consumers' (diverters') setpoints in W.")
    setpoints_w: dict[str, float] = Field(description="Device id to setpoint in W.")


class SimState(Message):
    """The simulator's ground truth, for the demo and tests."""

    load_w: float = Field(description="Household load in W.")
    pv_available_w: float = Field(description="PV power the panels could deliver in W.")
    output_w: float = Field(description="Inverters' AC output in W.")
    limit_w: float = Field(description="Sum of the limits in force in W.")
    heater_w: float = Field(0.0, description="The simulated heater's power draw in W (from its PWM duty).")
    battery_w: float = Field(0.0, description="The simulated battery's power in W (positive = charge, 0 without one).")
    battery_soc_pct: float | None = Field(
        None, ge=0, le=100, description="The simulated battery's state of charge in %; None without one."
    )
    grid_w: float = Field(description="Grid power in W (positive = import).")
    exported_wh: float = Field(description="Energy exported since start in Wh, netted across phases (grid_w < 0).")
    imported_wh: float = Field(description="Energy imported since start in Wh, netted across phases (grid_w > 0).")


class RecorderState(Message):
    """The recorder's health: what reached InfluxDB, what waits in the spool, what was lost and why."""

    received: int = Field(ge=0, description="MQTT messages received since start.")
    written: int = Field(ge=0, description="Points InfluxDB accepted since start.")
    spooled: int = Field(ge=0, description="Points waiting in the on-disk spool now.")
    dropped: int = Field(ge=0, description="Points dropped since start because the spool was full.")
    rejected: int = Field(ge=0, description="Points InfluxDB refused for good since start (e.g. field type conflict).")
    lag_s: float = Field(ge=0, description="Age of the oldest point not yet written in s; 0 when all are written.")


class EnergyToday(Message):
    """The API's energy totals since local midnight, retained so a restarted API continues the day."""

    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The local date (YYYY-MM-DD) they count.")
    imported_wh: EnergyWh = Field(description="Energy imported from the grid today in Wh.")
    exported_wh: EnergyWh = Field(description="Energy exported to the grid today in Wh.")
    produced_wh: EnergyWh = Field(
        0.0, description="Energy the inverters produced today in Wh (0 in totals saved before it was counted)."
    )
    diverted_wh: EnergyWh = Field(description="Energy the consumers (diverters) drew today in Wh.")


SetupSource = Literal["yaml", "setup", "waiting"]


class SetupStatus(Message):
    """Where a service's section comes from: the config file, the browser's setup, or nowhere yet."""

    section: str = Field(max_length=64, description="The settings section, e.g. meter or actuator_opendtu.")
    source: SetupSource = Field(
        description="yaml: the section is in the config file or environment (a setup is ignored); setup: from "
        "the retained setup topic; waiting: neither yet, nothing is run."
    )
    running: str | None = Field(None, max_length=1000, description="What the service runs now, in words (no secrets).")
    error: str | None = Field(
        None,
        max_length=1000,
        description="Why the newest setup was not used (the current config stays); None if it was.",
    )


class InvalidMessageError(ValueError):
    """A payload that does not match its model; the message names the field and the problem."""


def parse_message(model: type[ModelT], payload: bytes | str) -> ModelT:
    """Validate a JSON payload against its model; raises InvalidMessageError naming the first bad field."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "payload"
        raise InvalidMessageError(f"invalid {model.__name__}: {where}: {problem['msg']}") from None


def parse_on_off(payload: bytes | str) -> bool:
    """Parse an on/off command; raises ValueError naming the payload when it is neither."""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    word = text.strip().strip('"').lower()
    if word in {"on", "true", "1", "enable", "enabled"}:
        return True
    if word in {"off", "false", "0", "disable", "disabled"}:
        return False
    raise ValueError(f"expected 'on' or 'off', got {text[:40]!r}")


def on_off(enabled: bool) -> OnOff:
    """The on/off word for a flag."""
    return "on" if enabled else "off"
