"""The interface every benchmarked controller implements, and what it is told when it is built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bench.controller.layouts import InverterSpec, Layout
from bench.controller.plant import SINGLE, Preset, Telemetry


@dataclass(frozen=True)
class ProductOptions:
    """How zeropower is configured for a run; None: the product's default.

    ``commands_per_hour``: the command budget per inverter; ``dead_time_s``: the dead time an installer
    configured (default: the preset's true one); ``learn_dynamics``: whether it learns dead time and ramp;
    ``forecast_load``: whether it anticipates load changes from the load's history.
    """

    commands_per_hour: int | None = None
    dead_time_s: float | None = None
    learn_dynamics: bool | None = None
    forecast_load: bool | None = None


#: The product as shipped.
DEFAULTS = ProductOptions()


@dataclass(frozen=True)
class Setup:
    """The installation a controller runs on.

    ``load_w`` and ``pv_avail_w`` are the scenario's ground truth at 1 s from ``start_s`` (time of day):
    only the oracle and the physical-limit controllers may look at them. With ``heater`` the inverters are
    not controlled (they run at their maximum) and the controller drives the heater instead.
    ``product``: how zeropower is configured (the other controllers ignore it).
    """

    preset: Preset
    load_w: Sequence[float]
    pv_avail_w: Sequence[float]
    heater: bool
    layout: Layout = SINGLE
    start_s: int = 0
    product: ProductOptions = DEFAULTS

    @property
    def inverters(self) -> tuple[InverterSpec, ...]:
        """The inverters, in the order the installer configured them."""
        return self.layout.inverters

    @property
    def min_limit_w(self) -> float:
        """The lowest total limit (each inverter at 5 % of its nameplate, the actuator's default)."""
        return self.layout.min_limit_w

    @property
    def max_limit_w(self) -> float:
        """The highest total limit: all nameplates."""
        return self.layout.nameplate_w

    def caps_w(self, at: int) -> list[float]:
        """What each inverter could give at second ``at`` of the scenario (ground truth)."""
        time_of_day_s = (self.start_s + at) % 86400
        return [spec.cap_w(self.pv_avail_w[at], time_of_day_s) for spec in self.inverters]


class Controller(Protocol):
    """A zero-export controller: told the meter every 1 s and the devices' telemetry every 5 s."""

    #: Grid power in W the controller regulates to (positive = import).
    target_w: float
    #: True for the oracle: its limits are in force and followed at once.
    perfect_actuator: bool

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Take in the devices' state as OpenDTU publishes it (output and limit read-back in W)."""

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        """Take in a meter reading (W, positive = import); returns the commands to send now: device id to W."""
