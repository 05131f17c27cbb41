"""A home battery: state of charge, efficiency, charge and discharge limits, dead time and ramp."""

from __future__ import annotations

import math
from collections import deque

from zeropower.sim.settings import BatterySettings


class BatteryModel:
    """Follows a power setpoint (positive = charge, negative = discharge) after its dead time, at its ramp.

    Its BMS keeps it within its bounds: no charging at 100 %, no discharging at or below ``empty_pct``. A
    charge stores the power times the square root of the round-trip efficiency; a discharge takes the power
    over it from the cells.
    """

    def __init__(self, settings: BatterySettings) -> None:
        self.settings = settings
        self.soc_pct = settings.soc_pct
        self.setpoint_w = 0.0
        self.power_w = 0.0
        self._pending: deque[tuple[float, float]] = deque()  # (time it takes effect, setpoint)

    def command(self, power_w: float, now_s: float) -> None:
        """A new setpoint, followed after the dead time (clamped to the charge and discharge limits)."""
        clamped = min(max(power_w, -self.settings.max_discharge_w), self.settings.max_charge_w)
        self._pending.append((now_s + self.settings.dead_time_s, clamped))

    @property
    def energy_wh(self) -> float:
        """Energy stored now in Wh."""
        return self.settings.capacity_wh * self.soc_pct / 100.0

    @property
    def can_discharge(self) -> bool:
        """Whether its BMS lets it discharge (above ``empty_pct``)."""
        return self.soc_pct > self.settings.empty_pct

    @property
    def can_charge(self) -> bool:
        """Whether its BMS lets it charge (below 100 %)."""
        return self.soc_pct < 100.0

    def flow(self, power_w: float, dt_s: float) -> None:
        """DC-coupled: ``power_w`` into (+) or out of (-) the battery for ``dt_s``, as its DC side dictates."""
        self.power_w = power_w
        self._move(dt_s)

    def step(self, now_s: float, dt_s: float) -> None:
        """Advance to ``now_s`` by ``dt_s``: follow the setpoint in force within the BMS's bounds, move the charge."""
        while self._pending and self._pending[0][0] <= now_s:
            self.setpoint_w = self._pending.popleft()[1]
        aim = self.setpoint_w
        if aim > 0 and self.soc_pct >= 100.0:
            aim = 0.0
        if aim < 0 and self.soc_pct <= self.settings.empty_pct:
            aim = 0.0
        step_w = self.settings.ramp_w_per_s * dt_s
        self.power_w += max(-step_w, min(step_w, aim - self.power_w))
        self._move(dt_s)

    def _move(self, dt_s: float) -> None:
        """Move the charge by the power in force for ``dt_s``, with the efficiency's loss on each way."""
        one_way = math.sqrt(self.settings.round_trip_efficiency)
        cells_wh = self.power_w * dt_s / 3600.0
        cells_wh = cells_wh * one_way if cells_wh > 0 else cells_wh / one_way
        self.soc_pct = min(max(self.soc_pct + 100.0 * cells_wh / self.settings.capacity_wh, 0.0), 100.0)
