"""Settings of the battery actuator (see docs/services/actuator-battery.md)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from zeropower.actuator_battery.drivers import DriverConfig, FitCheck
from zeropower.actuator_battery.drivers.base import MAX_VOLTAGE_V
from zeropower.shared.messages import MAX_POWER_W, DeviceInfo, Pacing, StorageInfo
from zeropower.shared.settings import ServiceSettings, StrictModel

_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


class BatteryConfig(StrictModel):
    """One battery: its protocol, its limits, and the SoC window zeropower may use."""

    device_id: str = Field(
        min_length=1, pattern=_ID_PATTERN, description="The battery's device id in setpoints and states."
    )
    name: str = Field("Battery", min_length=1, description="Human-readable name.")
    driver: DriverConfig = Field(
        description="How to reach it: type zendure, marstek_venus or opendtu (a battery-powered Hoymiles behind "
        "OpenDTU), and that driver's settings."
    )
    capacity_wh: float = Field(gt=0, le=1e7, description="Usable energy between 0 and 100 % SoC in Wh (e.g. 1920).")
    max_charge_w: float = Field(
        ge=0,
        le=MAX_POWER_W,
        description="Highest charging power zeropower asks for, at its AC terminals, in W. 0: it cannot charge "
        "from AC (required for the opendtu driver: a battery inverter only feeds).",
    )
    max_discharge_w: float = Field(
        gt=0, le=MAX_POWER_W, description="Highest discharging power zeropower asks for, at its AC terminals, in W."
    )
    reserve_soc_pct: float = Field(
        10.0, ge=0, lt=100, description="No discharge at or below this state of charge, in % (the reserve)."
    )
    max_soc_pct: float = Field(100.0, gt=0, le=100, description="No charge at or above this state of charge, in %.")
    resume_soc_pct: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Once the discharge stopped at the reserve (or the minimum voltage), it resumes only above "
        "this state of charge, in % (hysteresis; above reserve_soc_pct). None: just above the reserve.",
    )
    min_voltage_v: float | None = Field(
        None,
        gt=0,
        le=MAX_VOLTAGE_V,
        description="No discharge at or below this battery voltage (from the BMS), in V; None: no voltage "
        "bound. Set, an unknown or stale voltage means no discharge.",
    )
    resume_voltage_v: float | None = Field(
        None,
        gt=0,
        le=MAX_VOLTAGE_V,
        description="Once stopped, the discharge resumes only above this battery voltage, in V (hysteresis; "
        "above min_voltage_v, which it needs). None: just above min_voltage_v.",
    )
    response_time_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Announced time from a setpoint to the new power at the terminals (write pacing, the device's "
        "dead time and ramp), in s.",
    )
    enabled: bool = Field(True, description="False: announced as disabled, held at 0 W whatever arrives.")
    priority: int = Field(0, description="Order for the controller's allocation (lower is used first).")

    @model_validator(mode="after")
    def _soc_window(self) -> Self:
        if self.reserve_soc_pct >= self.max_soc_pct:
            raise ValueError(
                f"reserve_soc_pct ({self.reserve_soc_pct:g} %) must be below max_soc_pct ({self.max_soc_pct:g} %)"
            )
        if self.resume_soc_pct is not None and self.resume_soc_pct <= self.reserve_soc_pct:
            raise ValueError(
                f"resume_soc_pct ({self.resume_soc_pct:g} %) must be above reserve_soc_pct ({self.reserve_soc_pct:g} %)"
            )
        if self.resume_voltage_v is not None:
            if self.min_voltage_v is None:
                raise ValueError("resume_voltage_v needs min_voltage_v (the voltage the discharge stops at)")
            if self.resume_voltage_v <= self.min_voltage_v:
                raise ValueError(
                    f"resume_voltage_v ({self.resume_voltage_v:g} V) must be above min_voltage_v "
                    f"({self.min_voltage_v:g} V)"
                )
        return self

    def resume_soc(self) -> float:
        """The state of charge above which a stopped discharge resumes, in %."""
        return self.reserve_soc_pct if self.resume_soc_pct is None else self.resume_soc_pct

    def resume_voltage(self) -> float:
        """The voltage above which a stopped discharge resumes, in V (0 without a voltage bound)."""
        if self.resume_voltage_v is not None:
            return self.resume_voltage_v
        return self.min_voltage_v if self.min_voltage_v is not None else 0.0


def device_info(battery: BatteryConfig, pacing: Pacing) -> DeviceInfo:
    """The battery as actuator-battery announces it: kind storage, its limits, what it holds, its pacing."""
    return DeviceInfo(
        device_id=battery.device_id,
        name=battery.name,
        kind="storage",
        min_w=-battery.max_discharge_w,
        max_w=battery.max_charge_w,
        enabled=battery.enabled,
        priority=battery.priority,
        pacing=pacing,
        storage=StorageInfo(
            capacity_wh=battery.capacity_wh,
            min_soc_pct=battery.reserve_soc_pct,
            max_soc_pct=battery.max_soc_pct,
            response_time_s=battery.response_time_s,
        ),
    )


class ActuatorBatterySettings(StrictModel):
    """One battery actuator instance: its batteries and the safety timings they share."""

    actuator_id: str = Field(
        "battery",
        min_length=1,
        pattern=_ID_PATTERN,
        description="This instance's id, part of its topics; give each instance its own.",
    )
    batteries: list[BatteryConfig] = Field(min_length=1, description="The batteries this instance drives.")
    poll_interval_s: float = Field(2.0, gt=0, le=60, description="Each battery is read this often, in s.")
    soc_stale_after_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A state of charge older than this (monotonic clock) counts as unknown: no discharge, in s.",
    )
    discharge_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="No setpoint for a discharging battery for this long: 0 W, in s. Short: when the load drops, "
        "a discharge the controller no longer trims is exported.",
    )
    charge_timeout_s: float = Field(
        45.0,
        gt=0,
        le=3600,
        description="No setpoint for a charging battery for this long: 0 W, in s. Keep it above actuator-opendtu's "
        "setpoint_timeout_s plus the inverters' time to follow: the charge absorbs production that would "
        "otherwise be exported (as actuator-pwm's 45 s).",
    )
    min_change_w: float = Field(
        10.0,
        ge=0,
        le=1000,
        description="Setpoint changes smaller than this against the last write are not written, in W.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.discharge_timeout_s > self.charge_timeout_s:
            raise ValueError("discharge_timeout_s must not exceed charge_timeout_s: a discharge stops first")
        if self.soc_stale_after_s <= self.poll_interval_s:
            raise ValueError("soc_stale_after_s must exceed poll_interval_s, or every SoC would count as stale")
        seen: set[str] = set()
        for index, battery in enumerate(self.batteries):
            if battery.device_id in seen:
                raise ValueError(f"batteries[{index}].device_id {battery.device_id!r} is configured more than once")
            seen.add(battery.device_id)
            fit = FitCheck(
                max_charge_w=battery.max_charge_w,
                max_discharge_w=battery.max_discharge_w,
                min_voltage_v=battery.min_voltage_v,
                discharge_timeout_s=self.discharge_timeout_s,
                charge_timeout_s=self.charge_timeout_s,
            )
            try:
                battery.driver.check_fit(fit)
            except ValueError as error:
                raise ValueError(f"batteries[{index}].{error}") from None
        return self


class ActuatorBatteryServiceSettings(ServiceSettings):
    """Settings of the actuator-battery service."""

    actuator_battery: ActuatorBatterySettings = Field(description="The actuator and its batteries.")
