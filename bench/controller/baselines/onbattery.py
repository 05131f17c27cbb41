"""OpenDTU-OnBattery's dynamic power limiter as published: event-driven, waits for its change to show.

After a command it waits until the limit read-back shows every limit applied, then for inverter data newer
than that, then for a meter reading newer than that; then ``target_output = current_output + grid - target``
over all inverters. Target 0 W; changes under a 30 W hysteresis are not sent (assumed, as the limiter's
default hysteresis). The change is allocated greedily (``PowerLimiterClass::updateInverterLimits``): an
increase to the inverters that can increase most first, each taking what it can (up to its nameplate), a
reduction to those that can reduce most first (down to their minimum limit), each new limit counted from
the inverter's output now. A command to an unreachable inverter is lost and sent again once it reports.
"""

from __future__ import annotations

from bench.controller.layouts import InverterSpec
from bench.controller.plant import Telemetry
from bench.controller.protocol import Setup

TARGET_W = 0.0
HYSTERESIS_W = 30.0


def allocate(change_w: float, outputs_w: dict[str, float], inverters: tuple[InverterSpec, ...]) -> dict[str, float]:
    """New limits for the inverters that take part of ``change_w`` (W, + raise / - cut), greedily."""
    room = {
        spec.device_id: spec.nameplate_w - outputs_w[spec.device_id]
        if change_w > 0
        else outputs_w[spec.device_id] - spec.min_limit_w
        for spec in inverters
    }
    left = abs(change_w)
    limits: dict[str, float] = {}
    for device_id in sorted(room, key=lambda device: -room[device]):
        part = min(left, max(room[device_id], 0.0))
        if part <= 0:
            continue
        limits[device_id] = outputs_w[device_id] + (part if change_w > 0 else -part)
        left -= part
    return limits


class OnBatteryLimiter:
    """The dynamic power limiter for the (solar-powered) inverters."""

    perfect_actuator = False
    target_w = TARGET_W

    def __init__(self, setup: Setup) -> None:
        self._inverters = setup.inverters
        self._min, self._max = setup.min_limit_w, setup.max_limit_w
        self._limits = {spec.device_id: spec.nameplate_w for spec in self._inverters}
        self._outputs: dict[str, float] = {}
        self._data_at: float | None = None  # the oldest of the inverters' newest data
        self._pending: dict[str, float] = {}  # limits sent, not yet read back
        self._applied_at: float | None = None  # when the read-back showed the last of them

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        for state in states:
            if state.device_id not in self._limits:
                continue
            self._outputs[state.device_id] = state.power_w
            if not state.reachable:
                self._pending, self._applied_at = {}, None  # the command is lost; send again when it is back
            elif self._pending.get(state.device_id) == state.limit_w:
                del self._pending[state.device_id]
                if not self._pending:
                    self._applied_at = now_s
        if len(self._outputs) == len(self._limits):
            self._data_at = now_s

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        if self._pending or self._data_at is None:
            return {}
        if self._applied_at is not None and not self._data_at > self._applied_at:
            return {}  # wait for inverter data newer than the applied limits (the meter reading is newer still)
        output = sum(self._outputs.values())
        target = round(min(max(output + grid_w - TARGET_W, self._min), self._max))
        if abs(target - sum(self._limits.values())) < HYSTERESIS_W:
            return {}
        new = {
            device_id: round(limit)
            for device_id, limit in allocate(target - output, self._outputs, self._inverters).items()
            if round(limit) != self._limits[device_id]
        }
        self._limits.update(new)
        self._pending = dict(new)
        self._applied_at = None
        return new
