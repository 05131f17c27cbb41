"""The interface every benchmarked controller implements, and what it is told when it is built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bench.controller.plant import NAMEPLATE_W, Preset, Telemetry

#: Lowest limit every controller sets: the actuator's default of 5 % of nameplate (below ~5 % some models stop).
MIN_LIMIT_W = 0.05 * NAMEPLATE_W


@dataclass(frozen=True)
class Setup:
    """The installation a controller runs on.

    ``load_w`` and ``pv_avail_w`` are the scenario's ground truth at 1 s: only the oracle and the
    physical-limit controller may look at them. With ``heater`` the inverter is not controlled (it runs at
    its maximum) and the controller drives the heater instead. ``commands_per_hour`` is zeropower's command
    budget per inverter (None: the product's default).
    """

    preset: Preset
    load_w: Sequence[float]
    pv_avail_w: Sequence[float]
    heater: bool
    min_limit_w: float = MIN_LIMIT_W
    max_limit_w: float = NAMEPLATE_W
    commands_per_hour: int | None = None


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
