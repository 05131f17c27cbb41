"""Meter service settings: the ``meter`` section (``ZEROPOWER_METER__<FIELD>``)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from zeropower.meter.drivers import DriverConfig
from zeropower.meter.drivers.sim import SimConfig
from zeropower.shared.messages import MAX_POWER_W
from zeropower.shared.settings import ServiceSettings, StrictModel


class MeterSettings(StrictModel):
    """How often and how patiently the grid meter is read, and which driver reads it."""

    poll_interval_s: float = Field(
        1.0, gt=0, le=3600, description="Time between polls in s (polled drivers); missed ticks are skipped."
    )
    timeout_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Longest wait for one HTTP request in s; a slow answer delays the next poll, never stacks.",
    )
    stale_after_s: float = Field(
        10.0,
        gt=0,
        description="Push drivers: publish a missing reading after this many s without data. Meters with their "
        "own time (vzlogger, vzlogger_push, homeassistant, mqtt with time_path): publish a missing reading "
        "('frozen') once that time has not changed for this many s, timed on the local monotonic clock.",
    )
    max_power_w: float = Field(
        50_000.0,
        gt=0,
        le=MAX_POWER_W,
        description="Plausible grid power in W: a value beyond ±this (after unit, sign and import - export) is "
        "published as a missing reading, never as a number. A few times the house connection.",
    )
    energy_max_gap_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Meters without netted energy counters: the longest time in s between two valid readings over "
        "which the service integrates grid power into its counters (the power held until the next reading); "
        "over a longer gap, or across a missing reading, the energy is unknown and not counted. More than "
        "poll_interval_s.",
    )
    driver: DriverConfig = Field(default_factory=SimConfig, description="The meter and how to reach it (by type).")

    @model_validator(mode="after")
    def _gap_spans_a_poll(self) -> Self:
        if self.energy_max_gap_s <= self.poll_interval_s:
            raise ValueError(
                f"energy_max_gap_s ({self.energy_max_gap_s:g} s) must exceed poll_interval_s "
                f"({self.poll_interval_s:g} s), else no interval between two polls would be counted"
            )
        return self


class MeterServiceSettings(ServiceSettings):
    """Settings of the meter service."""

    meter: MeterSettings | None = Field(
        None,
        description="The grid meter; unset: set up in the browser (the retained setup topic), waiting until then.",
    )
