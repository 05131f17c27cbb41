"""The zero-export decision logic: a pure class with an injected clock and no I/O.

It is stepped on every fresh grid reading (event-driven) and on a periodic tick (for staleness).
See docs/services/controller.md for the algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from zeropower.controller.allocation import Share, allocate
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import ControllerMode, ControllerState, DeviceInfo, DeviceState, GridReading

Clock = Callable[[], float]


@dataclass
class Decision:
    """What one step decided: the controller's state and the setpoints per actuator."""

    state: ControllerState
    setpoints: dict[str, dict[str, float]]
    dry_run: bool


@dataclass
class _Device:
    """What the controller knows about one inverter."""

    actuator_id: str
    info: DeviceInfo
    telemetry: DeviceState | None = None
    telemetry_at: float | None = None
    setpoint_w: float | None = None
    output_before_w: float | None = None  # output before the changes still in flight
    changed_at: float | None = None  # time of the newest change still in flight
    sun_cap_w: float | None = None  # what the sun allows, when telemetry showed it limiting the output

    @property
    def in_flight(self) -> bool:
        return self.changed_at is not None


@dataclass
class _Grid:
    power_w: float | None = None
    received_at: float | None = None
    problem: str | None = None


class ZeroExportController:
    """Turns grid readings and inverter telemetry into inverter limits."""

    def __init__(self, settings: ControllerSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._devices: dict[str, _Device] = {}
        self._grid = _Grid()
        self._started_at = clock()
        self._regulation = "waiting for the first grid reading"  # what the newest regulating step did
        self.enabled = settings.enabled_on_start

    @property
    def settle_timeout_s(self) -> float:
        """A change in flight that telemetry never confirms counts as done after this long."""
        return 2 * self.settings.dead_time_s + 10

    # ---- inputs -------------------------------------------------------------------------------

    def set_actuator(self, actuator_id: str, devices: list[DeviceInfo]) -> None:
        """Register (or replace, or with an empty list remove) the devices behind one actuator."""
        for device_id in [key for key, dev in self._devices.items() if dev.actuator_id == actuator_id]:
            if device_id not in {info.device_id for info in devices}:
                del self._devices[device_id]
        for info in devices:
            known = self._devices.get(info.device_id)
            if known is None or known.actuator_id != actuator_id:
                self._devices[info.device_id] = _Device(actuator_id, info)
            else:
                known.info = info

    def set_enabled(self, enabled: bool) -> None:
        """Switch zero-export control on or off."""
        self.enabled = enabled

    def on_device_state(self, state: DeviceState) -> None:
        """Take in an inverter's telemetry; it may confirm a limit change in flight."""
        device = self._devices.get(state.device_id)
        if device is None or device.actuator_id != state.actuator_id:
            return
        now = self._clock()
        device.telemetry = state
        device.telemetry_at = now
        self._update_sun_cap(device)
        if not device.in_flight or state.power_w is None:
            return
        tolerance = self.settings.settle_tolerance_w
        off_new = abs(state.power_w - self._expected_output(device, device.setpoint_w))
        off_old = abs(state.power_w - (device.output_before_w or 0.0))
        if off_new <= tolerance and off_new < off_old:
            self._settle(device)  # the output shows the change
        elif (
            state.limit_w is not None and abs(state.power_w - self._expected_output(device, state.limit_w)) <= tolerance
        ):
            device.output_before_w = state.power_w  # steady at the old limit: the change has not arrived yet

    def on_grid(self, reading: GridReading) -> Decision:
        """Step on a grid reading; a missing one (power_w None) is remembered as the problem."""
        now = self._clock()
        if reading.power_w is None or not math.isfinite(reading.power_w):
            self._grid.problem = f"meter reading missing: {reading.error or 'no value'}"
        else:
            self._grid.power_w = reading.power_w
            self._grid.received_at = now
            self._grid.problem = None
        return self._step(now, fresh_reading=reading.power_w is not None)

    def tick(self) -> Decision:
        """Step without new data (detects stale grid data)."""
        return self._step(self._clock(), fresh_reading=False)

    # ---- the step -----------------------------------------------------------------------------

    def _step(self, now: float, *, fresh_reading: bool) -> Decision:
        settings = self.settings
        enabled = [d for d in self._devices.values() if d.info.enabled]
        grid_age = None if self._grid.received_at is None else now - self._grid.received_at
        if not enabled:
            return self._decide(now, "idle", "no inverter announced by any actuator yet", grid_age)
        if not self.enabled:
            for device in enabled:
                self._set(device, device.info.max_w, now, track=False)
            return self._decide(now, "paused", "zero export is switched off: inverters at their maximum", grid_age)
        if grid_age is None and now - self._started_at <= settings.stale_after_s:
            return self._decide(now, "idle", "waiting for the first grid reading", grid_age)
        if grid_age is None or grid_age > settings.stale_after_s:
            for device in enabled:
                safe = settings.failsafe_limit_w if settings.failsafe_limit_w is not None else device.info.min_w
                self._set(device, min(max(safe, device.info.min_w), device.info.max_w), now, track=False)
            why = self._grid.problem or "no grid reading received"
            age = "never" if grid_age is None else f"{grid_age:.0f} s ago"
            reason = f"grid data stale (last valid {age}, limit {settings.stale_after_s:g} s): {why}"
            return self._decide(now, "fail-safe", f"{reason}; inverters at their safe limit", grid_age)
        mode: ControllerMode = "dry-run" if settings.dry_run else "regulating"
        if fresh_reading:
            self._regulation = self._regulate(now, enabled)
        return self._decide(now, mode, self._grid.problem or self._regulation, grid_age)

    def _regulate(self, now: float, enabled: list[_Device]) -> str:
        controllable = self._controllable(now, enabled)
        if not controllable:
            return "no inverter reachable: all at their minimum until they report again"
        error = (self._grid.power_w or 0.0) - self.settings.target_w
        in_flight = sum(
            self._expected_output(d, d.setpoint_w) - (d.output_before_w or 0.0) for d in controllable if d.in_flight
        )
        error_used = _consistent_error(error, error - in_flight)
        waiting = any(d.in_flight for d in controllable)
        if error_used < -self.settings.deadband_w or (error_used > self.settings.deadband_w and not waiting):
            return self._correct(now, controllable, error_used)
        for device in controllable:  # anti-windup: keep limits near what the sun allows
            if device.setpoint_w is not None:
                self._set(device, min(device.setpoint_w, self._available(device)), now, track=False)
        if waiting and abs(error) > self.settings.deadband_w:
            return f"waiting for {in_flight:+.0f} W of limit changes in flight to take effect"
        return "within deadband"

    def _controllable(self, now: float, enabled: list[_Device]) -> list[_Device]:
        """Reachable inverters (settling their old changes); unreachable ones go to their minimum."""
        controllable = []
        for device in enabled:
            if not self._reachable(device, now):
                self._set(device, device.info.min_w, now, track=False)
                continue
            if device.changed_at is not None and now - device.changed_at >= self._settle_after_s(device):
                self._settle(device)
            controllable.append(device)
        return controllable

    def _correct(self, now: float, controllable: list[_Device], error_w: float) -> str:
        """Move the total limit by a share of the error and split it over the inverters."""
        shares = [Share(d.info.device_id, d.info.min_w, self._available(d), d.info.priority) for d in controllable]
        current = sum(
            min(self._setpoint_or_output(d), share.available_w) for d, share in zip(controllable, shares, strict=True)
        )
        change = (self.settings.cut_gain if error_w < 0 else self.settings.raise_gain) * error_w
        for device_id, limit_w in allocate(current + change, shares, self.settings.allocation).items():
            self._set(self._devices[device_id], limit_w, now, track=True)
        if change < 0:
            if current + change <= sum(share.min_w for share in shares):
                return f"exporting {-error_w:.0f} W beyond target with all inverters at their minimum"
            return f"export: cut limits by {-change:.0f} W"
        if current + change >= sum(share.available_w for share in shares):
            return "importing with all inverters at what they can deliver"
        return f"import: raised limits by {change:.0f} W"

    # ---- device model ---------------------------------------------------------------------------

    def _reachable(self, device: _Device, now: float) -> bool:
        if device.telemetry is None or device.telemetry_at is None:
            return True  # not heard of yet: assume it follows its limit
        fresh = now - device.telemetry_at <= self.settings.device_stale_after_s
        return fresh and device.telemetry.reachable

    def _measured_output(self, device: _Device) -> float | None:
        return device.telemetry.power_w if device.telemetry is not None else None

    def _update_sun_cap(self, device: _Device) -> None:
        """Learn from telemetry whether the sun, not the limit, decides the output.

        Output clearly below the limit in force means sun-limited, unless a raise is still in flight
        (the output may just be ramping up): then what was known before is kept.
        """
        telemetry = device.telemetry
        if telemetry is None or telemetry.power_w is None:
            return
        limit = telemetry.limit_w if telemetry.limit_w is not None else device.setpoint_w
        if limit is None or telemetry.power_w >= limit - self.settings.sun_limit_margin_w:
            device.sun_cap_w = None
            return
        raising = device.in_flight and (device.setpoint_w or 0.0) > (device.output_before_w or 0.0)
        if not raising:
            device.sun_cap_w = telemetry.power_w

    def _available(self, device: _Device) -> float:
        """The highest limit worth setting now: the maximum, or a little above a sun-limited output."""
        if device.sun_cap_w is None:
            return device.info.max_w
        return max(device.info.min_w, min(device.info.max_w, device.sun_cap_w + self.settings.sun_limit_headroom_w))

    def _expected_output(self, device: _Device, limit_w: float | None) -> float:
        """Output once a limit has taken effect: the limit, unless the sun gives less."""
        limit = device.info.max_w if limit_w is None else limit_w
        return limit if device.sun_cap_w is None else min(limit, device.sun_cap_w)

    def _setpoint_or_output(self, device: _Device) -> float:
        if device.setpoint_w is not None:
            return device.setpoint_w
        output = self._measured_output(device)
        return output if output is not None else device.info.max_w

    def _set(self, device: _Device, limit_w: float, now: float, *, track: bool) -> None:
        """Set a new limit; with ``track`` the change is followed as in flight until it shows."""
        limit_w = round(limit_w, 1)
        if device.setpoint_w is not None and abs(limit_w - device.setpoint_w) < 0.5:
            return
        if not track:
            self._settle(device)
        elif not device.in_flight:
            measured = self._measured_output(device)
            device.output_before_w = (
                measured if measured is not None else self._expected_output(device, device.setpoint_w)
            )
            device.changed_at = now
        else:
            device.changed_at = now
        device.setpoint_w = limit_w

    def _settle_after_s(self, device: _Device) -> float:
        """How long an unconfirmed change stays in flight.

        A small one (which an actuator may skip, and telemetry can hardly tell from noise) one dead time,
        a larger one until ``settle_timeout_s``.
        """
        change = abs(self._expected_output(device, device.setpoint_w) - (device.output_before_w or 0.0))
        return self.settings.dead_time_s if change < self.settings.settle_tolerance_w else self.settle_timeout_s

    @staticmethod
    def _settle(device: _Device) -> None:
        device.changed_at = None
        device.output_before_w = None

    # ---- output -------------------------------------------------------------------------------

    def _decide(self, now: float, mode: ControllerMode, reason: str, grid_age: float | None) -> Decision:
        setpoints: dict[str, dict[str, float]] = {}
        for device in self._devices.values():
            if device.info.enabled and device.setpoint_w is not None:
                setpoints.setdefault(device.actuator_id, {})[device.info.device_id] = device.setpoint_w
        enabled = [d for d in self._devices.values() if d.info.enabled]
        state = ControllerState(
            timestamp=now,
            enabled=self.enabled,
            mode=mode,
            reason=reason,
            grid_power_w=self._grid.power_w,
            grid_age_s=None if grid_age is None else round(grid_age, 3),
            target_w=self.settings.target_w,
            output_w=sum(self._measured_output(d) or 0.0 for d in enabled),
            limit_w=sum(d.setpoint_w or 0.0 for d in enabled),
            setpoints_w={d.info.device_id: d.setpoint_w for d in enabled if d.setpoint_w is not None},
        )
        return Decision(state=state, setpoints=setpoints, dry_run=self.settings.dry_run)


def _consistent_error(now_w: float, after_in_flight_w: float) -> float:
    """The error to act on while limit changes are in flight.

    ``now_w`` holds if the changes already took effect, ``after_in_flight_w`` if they have not yet.
    Act only on what both agree on: the smaller of the two when they have the same sign, else nothing.
    """
    if now_w * after_in_flight_w <= 0:
        return 0.0
    return now_w if abs(now_w) < abs(after_in_flight_w) else after_in_flight_w
