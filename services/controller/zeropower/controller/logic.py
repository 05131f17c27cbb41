"""The zero-export decision logic: a pure class with an injected clock and no I/O.

It is stepped on every fresh grid reading (event-driven) and on a periodic tick (for staleness).
Inverters (slow: dead time, limits) and consumers (diverters: fast, their draw follows within a reading)
are driven by one loop. See docs/services/controller.md for the algorithm.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from zeropower.controller.allocation import FULL_TOLERANCE_W, Share, allocate
from zeropower.controller.dynamics import DynamicsEstimator
from zeropower.controller.forecast import LoadForecast
from zeropower.controller.model import Dynamics, OutputModel
from zeropower.controller.settings import ControllerSettings
from zeropower.controller.storage import (
    StorageRange,
    by_room,
    delivers_more,
    falls_short,
    lasting_charge_w,
    split_absorption,
    storage_range,
    within_delivery,
)
from zeropower.shared.budget import CommandBucket, command_due_at
from zeropower.shared.messages import ControllerMode, ControllerState, DeviceInfo, DeviceState, GridReading, Pacing

Clock = Callable[[], float]

#: The pacing of an actuator that announces a budget but no pacing: every change goes out at once.
IMMEDIATE = Pacing(min_change_w=0, raise_interval_s=0, reduce_interval_s=0, refresh_interval_s=86400)
#: fewest-commands allocation: a change one inverter ramps within this long goes to one inverter; a larger
#: one to all, so their ramps run side by side (another command takes about this long on the DTU's radio), s.
RAMP_ALONE_S = 2.0
#: A cut smaller than this is a trim: it goes out only while the inverter's command budget keeps, after it, the
#: tokens a raise needs (else another inverter takes it, or it waits); a larger cut may take the last token.
#: Trims around the target had spent the tokens a step of the load then lacked (docs/benchmark.md, point 17), W.
TRIM_W = 50.0
#: The load forecast anticipates only over a dead time at least this long, in s: within a shorter one the
#: controller follows a change itself about as soon, and the forecast only added its errors (on the benchmark's
#: fast preset, 3 s: 5-26 % more curtailment for about the same export; docs/benchmark.md, point 15).
FORECAST_MIN_HORIZON_S = 5.0
#: The load forecast's horizon follows the dead time once it moves by more than this (and a fifth), in s.
HORIZON_TOLERANCE_S = 1.0
#: A battery's setpoint counts as still on its way this long after its announced response time, in s.
UNANSWERED_GRACE_S = 2.0
#: Device states kept for devices not (yet) announced: a retained state may arrive before its announcement.
UNANNOUNCED_KEPT = 256


@dataclass
class Decision:
    """What one step decided: the controller's state and the setpoints per actuator.

    ``unreachable``: why each enabled device that cannot be counted on now is not, by the device it names.
    """

    state: ControllerState
    setpoints: dict[str, dict[str, float]]
    dry_run: bool
    unreachable: dict[str, str] = field(default_factory=dict)


#: How far the time a DTU reports for one telemetry sample moves between its publishes, in s (see _is_new_sample).
UPDATED_AT_JITTER_S = 1.0


@dataclass
class _Device:
    """What the controller knows about one device: an inverter, a consumer (diverter) or a storage (battery)."""

    actuator_id: str
    info: DeviceInfo
    telemetry: DeviceState | None = None
    telemetry_at: float | None = None
    sample: DeviceState | None = None  # the state that brought the newest telemetry sample
    setpoint_w: float | None = None
    short_of: tuple[float, float] | None = None  # a battery's (setpoint, power it showed) when it fell short of it
    model: OutputModel = field(init=False)  # an inverter's limits and output over time
    learner: DynamicsEstimator | None = None  # learns an inverter's dead time and ramp
    learned_from: Dynamics | None = None  # the configured dynamics the learner started from
    budget: CommandBucket | None = None  # the inverter's command budget as its actuator keeps it
    setpoint_at: float = -math.inf  # when the setpoint last changed
    sent_w: float | None = None  # the last limit the actuator sent, as it paces and budgets (mirrored)
    sent_at: float = -math.inf

    def __post_init__(self) -> None:
        self.model = OutputModel(self.info.max_w)

    @property
    def is_consumer(self) -> bool:
        return self.info.kind == "consumer"

    @property
    def is_storage(self) -> bool:
        return self.info.kind == "storage"

    @property
    def is_inverter(self) -> bool:
        return self.info.kind == "inverter"

    @property
    def word(self) -> str:
        """What it is, in a word for messages."""
        return {"consumer": "diverter", "storage": "battery"}.get(self.info.kind, "inverter")

    @property
    def sun_cap_w(self) -> float | None:
        """What the sun allows, while telemetry shows it limiting an inverter's output."""
        return self.model.sun_cap_w


@dataclass
class _Grid:
    power_w: float | None = None
    received_at: float | None = None
    problem: str | None = None


class ZeroExportController:
    """Turns grid readings and device telemetry into inverter limits and diverter power."""

    def __init__(self, settings: ControllerSettings, clock: Clock, wall_clock: Clock = time.time) -> None:
        """``clock`` (monotonic) times every age and timeout; ``wall_clock`` only stamps the state."""
        self.settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._devices: dict[str, _Device] = {}
        self._offline: set[str] = set()  # actuators whose availability says offline
        self._unannounced: OrderedDict[tuple[str, str], tuple[DeviceState, float]] = OrderedDict()
        self._grid = _Grid()
        self._started_at = clock()
        self._failsafe_since: float | None = None
        self._regulation = "waiting for the first grid reading"  # what the newest regulating step did
        self._forecast: LoadForecast | None = None  # how the load goes on, learned from its history
        self.enabled = settings.enabled_on_start

    @property
    def settle_timeout_s(self) -> float:
        """A change in flight that telemetry never confirms counts as done after this long."""
        return 2 * self.settings.dead_time_s + 10

    def dynamics(self, device: _Device) -> Dynamics:
        """How an inverter follows a limit: as learned from its telemetry, else as configured."""
        learner = self._learner(device)
        if learner is None:
            return Dynamics(self.settings.dead_time_s, self.settings.ramp_w_per_s)
        return Dynamics(learner.dead_time_s, learner.ramp_w_per_s)

    def learned_dynamics(self) -> dict[str, tuple[Dynamics, int]]:
        """Each inverter's dynamics learned from telemetry so far, with the number of limit changes behind it."""
        learned = {}
        for device_id, device in self._devices.items():
            if device.learner is not None and device.learner.episodes:
                learned[device_id] = (self.dynamics(device), device.learner.episodes)
        return learned

    def _learner(self, device: _Device) -> DynamicsEstimator | None:
        """The inverter's dynamics learner: it starts from the configured values, and again when they change."""
        if not self.settings.learn_dynamics:
            return None
        configured = Dynamics(self.settings.dead_time_s, self.settings.ramp_w_per_s)
        if device.learner is None or device.learned_from != configured:
            device.learner = DynamicsEstimator(
                configured.dead_time_s, configured.ramp_w_per_s, tolerance_w=self.settings.settle_tolerance_w
            )
            device.learned_from = configured
        return device.learner

    # ---- inputs -------------------------------------------------------------------------------

    def set_actuator(self, actuator_id: str, devices: list[DeviceInfo]) -> None:
        """Register (or replace, or with an empty list remove) the devices behind one actuator."""
        for device_id in [key for key, dev in self._devices.items() if dev.actuator_id == actuator_id]:
            if device_id not in {info.device_id for info in devices}:
                del self._devices[device_id]
        for info in devices:
            known = self._devices.get(info.device_id)
            if known is None or known.actuator_id != actuator_id:
                known = self._devices[info.device_id] = _Device(actuator_id, info)
                reported = self._unannounced.pop((actuator_id, info.device_id), None)
                if reported is not None:
                    self._take_device_state(self._devices[info.device_id], *reported)
            else:
                budget_changed = known.info.commands_per_hour != info.commands_per_hour
                known.info = info
                known.model.max_w = info.max_w
                if budget_changed:
                    known.budget = None
            if known.budget is None and info.commands_per_hour is not None and info.kind == "inverter":
                known.budget = CommandBucket.for_budget(info.commands_per_hour, self._clock())

    def set_actuator_online(self, actuator_id: str, online: bool) -> None:
        """Note an actuator's availability: the devices of an offline one cannot be commanded."""
        if online:
            self._offline.discard(actuator_id)
        else:
            self._offline.add(actuator_id)

    def is_online(self, actuator_id: str) -> bool:
        """False when the actuator's availability says offline (unknown counts as online)."""
        return actuator_id not in self._offline

    def set_enabled(self, enabled: bool) -> None:
        """Switch zero-export control on or off."""
        self.enabled = enabled

    def on_device_state(self, state: DeviceState) -> None:
        """Take in a device's telemetry; an inverter's may confirm a limit change in flight."""
        now = self._clock()
        device = self._devices.get(state.device_id)
        if device is None or device.actuator_id != state.actuator_id:
            key = (state.actuator_id, state.device_id)
            self._unannounced.pop(key, None)
            self._unannounced[key] = (state, now)
            while len(self._unannounced) > UNANNOUNCED_KEPT:
                self._unannounced.popitem(last=False)
            return
        self._take_device_state(device, state, now)

    def _take_device_state(self, device: _Device, state: DeviceState, now: float) -> None:
        """Keep the state; only a new sample is a measurement (and makes the telemetry fresh).

        An actuator publishes its state again when it sends a command (the last command, the budget left),
        with the telemetry it last had: taken as measured now, an output seconds old would hide the changes
        that have shown since.
        """
        if device.setpoint_w is None:
            self._adopt(device, state, now)
        new_sample = _is_new_sample(device.sample, state)
        device.telemetry = state
        if device.budget is not None and state.commands_left is not None:
            # The mirror counts the sends it can foresee; the actuator also resends on its own (a reconnect, an
            # inverter back after a restart), and a restarted controller starts from a full bucket.
            device.budget.limit_to(state.commands_left, now)
        if not new_sample:
            return
        device.sample = state
        device.telemetry_at = now
        if device.is_storage and state.power_w is not None:
            self._judge_delivery(device, state.power_w, now)
        if device.is_inverter and state.power_w is not None:
            dynamics = self.dynamics(device)
            device.model.measure(now, state.power_w, state.limit_w, self.settings.sun_limit_margin_w, dynamics)
            learner = self._learner(device)
            if learner is not None:
                learner.on_telemetry(now, state.power_w, state.limit_w)

    def _adopt(self, device: _Device, state: DeviceState, now: float) -> None:
        """Take a device's reported state as its setpoint in force: a restart changes nothing by itself.

        An inverter's limit read-back (else the last limit its actuator sent), a consumer's or battery's power. The
        mirror of the actuator's commands starts from the last command it reports (its pacing runs from
        then); without one, the actuator sends its first command at once.
        """
        reported = state.limit_w if device.is_inverter else state.power_w
        if reported is None and device.is_inverter:
            reported = state.last_command_w
        if reported is None:
            return
        device.setpoint_w = round(min(max(reported, device.info.min_w), device.info.max_w), 1)
        device.setpoint_at = now
        if state.last_command_w is None or state.last_command_at is None:
            device.sent_w, device.sent_at = None, -math.inf
        else:
            device.sent_w = state.last_command_w
            device.sent_at = now - max(0.0, self._wall_clock() - state.last_command_at)
        device.model.adopt(device.setpoint_w)

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
        enabled = [d for d in self._devices.values() if d.info.enabled and self.is_online(d.actuator_id)]
        for device in enabled:
            # Setpoints the actuator held back went out when they fell due; one due this very moment goes
            # out with whatever a step on a fresh reading decides (the actuator sends the newest). An actuator
            # that sent nothing yet sends the first setpoint it gets at once: see _decide.
            if device.sent_w is not None:
                self._mirror_send(device, now, due_before=now if fresh_reading else math.inf)
        grid_age = None if self._grid.received_at is None else now - self._grid.received_at
        stale = grid_age is None or grid_age > settings.stale_after_s
        if not (stale and self.enabled):
            self._failsafe_since = None
        if not enabled:
            return self._decide(now, "idle", self._nothing_controlled(), grid_age)
        if not self.enabled:
            self._set_all(enabled, now, inverter=lambda d: d.info.max_w)
            reason = "zero export is switched off: inverters at their maximum, diverters off"
            return self._decide(now, "paused", reason, grid_age)
        if grid_age is None and now - self._started_at <= settings.stale_after_s:
            return self._decide(now, "idle", "waiting for the first grid reading", grid_age)
        if stale:
            return self._decide(now, "fail-safe", self._fail_safe(now, enabled, grid_age), grid_age)
        mode: ControllerMode = "dry-run" if settings.dry_run else "regulating"
        if fresh_reading:
            self._regulation = self._regulate(now, enabled)
        return self._decide(now, mode, self._grid.problem or self._regulation, grid_age)

    def _nothing_controlled(self) -> str:
        offline = sorted({d.actuator_id for d in self._devices.values() if not self.is_online(d.actuator_id)})
        if offline:
            return f"nothing is controlled: actuator {', '.join(offline)} offline"
        if self._devices:
            return "nothing is controlled: every announced device is disabled"
        return "no device announced by any actuator yet"

    def _fail_safe(self, now: float, devices: list[_Device], grid_age: float | None) -> str:
        """Grid data stale: inverters to their safe limit; diverters keep their draw until that took effect.

        A diverter's draw (a battery's charge) absorbs production: released at once, it would be exported until
        the inverters follow their new limit. So diverters and charging batteries hold until telemetry newer
        than the fail-safe shows every reachable inverter at its safe limit, or ``settle_timeout_s`` has
        passed. A discharging battery stops at once: without the grid a discharge may already be exported.
        """
        settings = self.settings
        if self._failsafe_since is None:
            self._failsafe_since = now
        safe = settings.failsafe_limit_w
        inverters = [d for d in devices if d.is_inverter]
        for device in inverters:
            self._set(device, min(max(safe or 0.0, device.info.min_w), device.info.max_w), now)
        for device in devices:
            if device.is_storage and (device.setpoint_w or 0.0) < 0:
                self._set(device, 0.0, now)
        held_for = now - self._failsafe_since
        limited = held_for >= self.settle_timeout_s or all(self._output_limited(d, now) for d in inverters)
        consumers = [d for d in devices if not d.is_inverter]
        if limited:
            for device in consumers:
                self._set(device, 0.0, now)
        why = self._grid.problem or "no grid reading received"
        age = "never" if grid_age is None else f"{grid_age:.0f} s ago"
        reason = f"grid data stale (last valid {age}, limit {settings.stale_after_s:g} s): {why}; "
        if limited or not consumers:
            return f"{reason}inverters at their safe limit, diverters off"
        return (
            f"{reason}inverters going to their safe limit; diverters keep their draw until the inverters "
            f"follow (at most {self.settle_timeout_s - held_for:.0f} s more)"
        )

    def _output_limited(self, device: _Device, now: float) -> bool:
        """Telemetry newer than the fail-safe shows the inverter at its limit (or it cannot be reached)."""
        if not self._reachable(device, now):
            return True
        telemetry = device.telemetry
        since = self._failsafe_since if self._failsafe_since is not None else now
        if telemetry is None or telemetry.power_w is None or device.telemetry_at is None:
            return False
        fresh = device.telemetry_at >= since
        return fresh and telemetry.power_w <= (device.setpoint_w or 0.0) + self.settings.settle_tolerance_w

    def _set_all(self, devices: list[_Device], now: float, inverter: Callable[[_Device], float]) -> None:
        """Outside regulation: consumers off, each inverter at the limit ``inverter`` gives it."""
        for device in devices:
            self._set(device, inverter(device) if device.is_inverter else 0.0, now)

    def _regulate(self, now: float, enabled: list[_Device]) -> str:
        """One regulating step: diverters and batteries take their share of the error first, then the inverters."""
        controllable = self._controllable(now, enabled)
        consumers = [d for d in controllable if d.is_consumer]
        storages = [d for d in controllable if d.is_storage]
        inverters = [d for d in controllable if d.is_inverter]
        if not controllable:
            return "no device reachable: inverters at their minimum until they report again"
        error = (self._grid.power_w or 0.0) - self.settings.target_w
        absorbed = sum(d.setpoint_w or 0.0 for d in consumers + storages)  # in force when the grid was read
        storage_in_flight = self._storage_in_flight(now, storages)  # ...or, of the batteries, on its way
        reasons = []
        if consumers and not (storages and self.settings.divert):
            before = sum(d.setpoint_w or 0.0 for d in consumers)
            reasons.append(self._divert(now, consumers, error, inverters_take_over=bool(inverters)))
            if storages:  # switched off, the diverters released part of the import: the batteries take the rest
                error += sum(d.setpoint_w or 0.0 for d in consumers) - before
        if storages:
            absorbing = consumers if self.settings.divert else []
            rise = self._rise_within(now, inverters, max(_response_s(d) for d in storages))
            reasons.append(self._absorb(now, absorbing, storages, error, inverters_rise_w=rise))
        if inverters:
            # The inverters regulate a virtual grid that counts the fast devices' distance from where they
            # should settle: diverters at their maximum (use before curtail) or off (curtail first, switched
            # off), batteries charging all they may. Whatever the fast devices absorb now, the inverters thus
            # move until one side reaches its bound. A battery still on its way to its setpoint may not show
            # it in this reading yet: the virtual grid lies anywhere between the two.
            preferred = sum(d.info.max_w for d in consumers) if self._use_before_curtail else 0.0
            preferred += sum(lasting_charge_w(d.info, d.telemetry, self._storage_range(d, now)) for d in storages)
            virtual = error + preferred - absorbed
            reasons.append(self._regulate_inverters(now, inverters, virtual, absorbed, unsure_w=storage_in_flight))
        for device in inverters:
            device.model.fresh = False
        return "; ".join(reason for reason in reasons if reason) or "within deadband"

    @property
    def _use_before_curtail(self) -> bool:
        return self.settings.divert and self.settings.diverter_order == "use-before-curtail"

    def _divert(self, now: float, consumers: list[_Device], error_w: float, *, inverters_take_over: bool) -> str:
        """Integral step of the diverters on the real grid error (their draw follows within a reading).

        Switched off (``divert``), they only give way, as the inverters take over their draw, down to 0; with
        no inverter to take it over they are off at once (as when zero export is paused).
        """
        current = sum(d.setpoint_w or 0.0 for d in consumers)
        if not self.settings.divert and not inverters_take_over:
            for device in consumers:
                self._set(device, 0.0, now)
            return "diverters switched off"
        if not self.settings.divert:  # any import above the target is released whole (it cannot turn into export)
            wanted = current - max(error_w, 0.0)
        elif abs(error_w) > self.settings.deadband_w:
            wanted = current - self.settings.divert_gain * error_w
        else:
            wanted = current
        if abs(wanted - current) >= 0.5:
            shares = [Share(d.info.device_id, d.info.min_w, d.info.max_w, d.info.priority) for d in consumers]
            drawing = {d.info.device_id: d.setpoint_w or 0.0 for d in consumers}
            for device_id, power_w in allocate(wanted, shares, self.settings.allocation, drawing).items():
                self._set(self._devices[device_id], power_w, now)
        new = sum(d.setpoint_w or 0.0 for d in consumers)
        if not self.settings.divert:
            return (
                "" if new < 0.5 else f"diverters switched off: {new:.0f} W left to release as the inverters take over"
            )
        return f"diverting {new:.0f} W ({new - current:+.0f} W)" if abs(new - current) >= 0.5 else ""

    @staticmethod
    def _judge_delivery(device: _Device, measured_w: float, now: float) -> None:
        """A battery's new reading, once it had its response time (+2 s) to show its setpoint: short of it or not.

        Short: remembered (``short_of``) until a settled reading shows it delivers more than it did.
        """
        if device.setpoint_w is None or now < device.setpoint_at + _response_s(device) + UNANSWERED_GRACE_S:
            return
        if falls_short(device.setpoint_w, measured_w):
            device.short_of = (device.setpoint_w, measured_w)
        elif device.short_of is not None and delivers_more(*device.short_of, measured_w):
            device.short_of = None

    def _storage_range(self, device: _Device, now: float) -> StorageRange:
        """What a battery may do now: by its state, and near what it delivers once it fell short of its setpoint."""
        age = None if device.telemetry_at is None else now - device.telemetry_at
        allowed = storage_range(
            device.info, device.telemetry, age, reserve_soc_pct=self.settings.battery_reserve_soc_pct
        )
        return allowed if device.short_of is None else within_delivery(allowed, *device.short_of)

    @staticmethod
    def _storage_in_flight(now: float, storages: list[_Device]) -> float:
        """What the batteries have still to show of setpoints changed within their response time, in W.

        Their setpoints minus their measured power (more charge positive): the grid reading does not show it
        yet, or the measurement is a poll old and it does.
        """
        in_flight = 0.0
        for device in storages:
            measured = device.telemetry.power_w if device.telemetry is not None else None
            if measured is not None and now - device.setpoint_at <= _response_s(device) + UNANSWERED_GRACE_S:
                in_flight += (device.setpoint_w or 0.0) - measured
        return in_flight

    def _rise_within(self, now: float, inverters: list[_Device], horizon_s: float) -> float:
        """How much the inverters' output is expected to rise over the next ``horizon_s`` (0 if it is not), in W.

        Only a rise: a battery that counted on a fall its inverters then took longer to show would discharge
        into export meanwhile.
        """
        rise = 0.0
        for device in inverters:
            dynamics = self.dynamics(device)
            rise += device.model.expected_output_w(now + horizon_s, dynamics)
            rise -= device.model.expected_output_w(now, dynamics)
        return max(rise, 0.0)

    def _absorb(
        self,
        now: float,
        consumers: list[_Device],
        storages: list[_Device],
        error_w: float,
        *,
        inverters_rise_w: float,
    ) -> str:
        """Integral step of batteries and diverters together on the grid error, on one axis (``storage.py``).

        The total they take from the house (a discharge negative) moves by ``divert_gain`` of the error beyond
        the deadband; the error counts what the batteries have still to show of a setpoint changed within
        their response time (a battery follows in seconds, not within a reading), and the inverters' rise the
        model expects by the time they show a new one (``inverters_rise_w``): as the inverters take over a
        deficit the batteries bridged, the discharge gives way as the output comes, not a reading after it
        showed as export. Below 0 the total is the batteries' discharge, above 0 it fills batteries and
        diverters in ``surplus_order``. Every step clamps it to what each battery may do now: one that filled
        up, ran down to its reserve or whose state of charge went stale moves its share to the others at once,
        and nothing winds up beyond its bounds.
        """
        ranges = {d.info.device_id: self._storage_range(d, now) for d in storages}
        stored = sum(d.setpoint_w or 0.0 for d in storages)
        current = stored + sum(d.setpoint_w or 0.0 for d in consumers)
        ahead = error_w - inverters_rise_w  # the grid by the time the batteries show a new setpoint
        predicted = ahead + self._storage_in_flight(now, storages)
        wanted = current
        if abs(predicted) > self.settings.deadband_w:
            # A discharge meeting an export is cut whole (cut_gain), as inverter limits are; the rest by divert_gain.
            cut_w = min(max(-predicted, 0.0), max(-stored, 0.0))
            wanted = current + self.settings.cut_gain * cut_w - self.settings.divert_gain * (predicted + cut_w)
        # The battery's power in the estimate of what is still to come may be a poll old: it can shrink a step
        # but never turn it against the error (less charge on an export, more discharge on an import). The
        # inverters' rise may stop a discharge before the export shows, but never charge from the grid.
        if ahead < 0:
            wanted = max(wanted, current)
            if error_w > 0:
                wanted = min(wanted, max(current, 0.0))
        elif ahead > 0:
            wanted = min(wanted, current)
        else:
            wanted = current
        limits = (sum(r.low_w for r in ranges.values()), sum(r.high_w for r in ranges.values()))
        batteries_w, diverters_w = split_absorption(
            wanted,
            limits,
            sum(d.info.max_w for d in consumers),
            storage_first=self.settings.surplus_order == "storage-first",
        )
        for device_id, power_w in by_room(batteries_w, ranges).items():
            self._set(self._devices[device_id], power_w, now)
        if consumers:
            shares = [Share(d.info.device_id, d.info.min_w, d.info.max_w, d.info.priority) for d in consumers]
            drawing = {d.info.device_id: d.setpoint_w or 0.0 for d in consumers}
            for device_id, power_w in allocate(diverters_w, shares, self.settings.allocation, drawing).items():
                self._set(self._devices[device_id], power_w, now)
        stored_now = sum(d.setpoint_w or 0.0 for d in storages)
        drawn_before, drawn_now = current - stored, sum(d.setpoint_w or 0.0 for d in consumers)
        parts = []
        if abs(stored_now - stored) >= 0.5:
            doing = "charging" if stored_now >= 0 else "discharging"
            parts.append(f"batteries {doing} {abs(stored_now):.0f} W ({stored_now - stored:+.0f} W)")
        if abs(drawn_now - drawn_before) >= 0.5:
            parts.append(f"diverting {drawn_now:.0f} W ({drawn_now - drawn_before:+.0f} W)")
        parts += [
            f"battery {d.info.name} {ranges[d.info.device_id].why_not}"
            for d in storages
            if ranges[d.info.device_id].why_not
        ]
        return "; ".join(parts)

    def _regulate_inverters(
        self, now: float, inverters: list[_Device], error: float, consumption_w: float, *, unsure_w: float = 0.0
    ) -> str:
        """Put the total limit where the load needs it: the output now plus the error (W above target).

        ``unsure_w``: how much more the error may be (less if negative), a battery's change in flight.

        Each inverter's model gives the range of its output now over every plausible case (changes shown
        or not yet, the dead time's spread, the sun come out); the total limit the load needs lies in the
        same range shifted by the error, and by the change the load forecast expects over the dead time.
        Within it (and the deadband) the limits stay, so changes in flight are never stacked and none is
        undone before it shows; outside it they move to its nearest end.
        """
        ranges = [d.model.output_now(now, self.dynamics(d)) for d in inverters]
        ahead = self._load_change_ahead(now, inverters, consumption_w)
        lowest = sum(low for low, _ in ranges) + error + min(unsure_w, 0.0) + ahead
        highest = sum(high for _, high in ranges) + error + max(unsure_w, 0.0) + ahead
        stands_for = self._stands_for(inverters)
        current = sum(stands_for.values())
        deadband = self.settings.deadband_w
        anticipating = f"anticipating a load change of {ahead:+.0f} W; " if ahead else ""
        if lowest - deadband > current:
            return anticipating + self._correct(now, inverters, stands_for, lowest)
        if highest + deadband < current:
            return anticipating + self._correct(now, inverters, stands_for, highest)
        if abs(error) > deadband and highest - lowest > deadband:
            awaited = (highest if error < 0 else lowest) - error - sum(d.model.final_output_w() for d in inverters)
            return f"waiting for {-awaited:+.0f} W of limit changes in flight to take effect"
        return ""

    @property
    def forecast_horizon_s(self) -> float | None:
        """How far ahead the load forecast looks, in s (None: no forecast yet)."""
        return None if self._forecast is None else self._forecast.horizon_s

    def _load_change_ahead(self, now: float, inverters: list[_Device], consumption_w: float) -> float:
        """The change of the load over the next dead time the forecast expects (0 when off or still learning).

        Nothing either while the dead time is under ``FORECAST_MIN_HORIZON_S`` (it keeps learning). The load
        is estimated as the grid less the diverters' draw plus each inverter's most likely output.
        The horizon is the inverters' dead time (learned, else configured; weighted by their maximum, as the
        output follows); the forecast starts learning anew when that moves by more than a second and a fifth
        (learning settles the dead time within minutes).
        """
        settings = self.settings
        if not settings.forecast_load:
            return 0.0
        horizon_s = sum(self.dynamics(d).dead_time_s * d.info.max_w for d in inverters) / sum(
            d.info.max_w for d in inverters
        )
        known = self._forecast
        if known is None or abs(horizon_s - known.horizon_s) > max(HORIZON_TOLERANCE_S, 0.2 * known.horizon_s):
            self._forecast = LoadForecast(round(horizon_s))
        output = sum(d.model.expected_output_w(now, self.dynamics(d)) for d in inverters)
        self._forecast.observe(now, (self._grid.power_w or 0.0) - consumption_w + output)
        if horizon_s < FORECAST_MIN_HORIZON_S:
            return 0.0
        return self._forecast.change_w(now, settings.forecast_quantile)

    def _controllable(self, now: float, enabled: list[_Device]) -> list[_Device]:
        """Reachable devices; unreachable inverters go to their minimum, consumers off."""
        controllable = []
        for device in enabled:
            if not self._reachable(device, now):
                self._set(device, device.info.min_w if device.is_inverter else 0.0, now)
                continue
            controllable.append(device)
        return controllable

    def _correct(self, now: float, inverters: list[_Device], stands_for: dict[str, float], wanted: float) -> str:
        """Move the total from what the limits stand for towards ``wanted`` (cuts at once) and split it."""
        current = sum(stands_for.values())
        shares = [
            Share(
                device_id=d.info.device_id,
                min_w=d.info.min_w,
                available_w=self._available(d),
                priority=d.info.priority,
                max_w=d.info.max_w,
                headroom_w=0.0 if d.sun_cap_w is None else self.settings.sun_limit_headroom_w,
            )
            for d in inverters
        ]
        sun_limited = all(d.sun_cap_w is not None for d in inverters)
        # A raise of sun-limited inverters changes no output now: it only puts the limits where the load is
        # when the sun returns, so it goes the whole way.
        raising = wanted > current
        gain = (1.0 if sun_limited else self.settings.raise_gain) if raising else self.settings.cut_gain
        total = current + gain * (wanted - current)
        before = sum(self._setpoint_or_output(d) for d in inverters)
        limits, waits = self._allocate(total, shares, stands_for, raising, now)
        for device_id, limit_w in limits.items():
            device = self._devices[device_id]
            if not self._keeps_sun_limited_limit(device, limit_w):
                self._set(device, limit_w, now)
        floor = sum(share.min_w for share in shares)
        ceiling = sum(share.max_w or share.available_w for share in shares)
        moved = sum(d.setpoint_w or 0.0 for d in inverters) - before
        if not raising:
            beyond = self.settings.target_w - (self._grid.power_w or 0.0)
            if total <= floor and beyond > 0:
                return f"exporting {beyond:.0f} W beyond target with all inverters at their minimum"
            if moved < -0.5:
                return f"cut limits by {-moved:.0f} W"
            return _held_by_budget(waits, raising) or "limits where the load needs them"
        if moved < 0.5:
            return _held_by_budget(waits, raising) or "inverters at what they can deliver"
        if total >= ceiling:
            return f"import: raised limits by {moved:.0f} W to what the inverters can deliver"
        return f"import: raised limits by {moved:.0f} W"

    def _allocate(
        self, total_w: float, shares: list[Share], stands_for: dict[str, float], raising: bool, now: float
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Split ``total_w`` over the inverters that move with the change and whose budget lets them move now.

        An inverter keeps its limit when its share would move its output against the change (a raise takes
        no output away, a cut gives none: no commands to shuffle output between inverters) or when its
        command budget would hold the move back; the others take its share. Returns the limits, and the
        seconds until its budget allows the move for each inverter (by name) the budget held back.
        """
        held: dict[str, float] = {}
        waits: dict[str, float] = {}
        ramps = [self.dynamics(self._devices[share.device_id]).ramp_w_per_s for share in shares]
        alone_w = RAMP_ALONE_S * max(ramps, default=0.0)
        while True:
            free = [share for share in shares if share.device_id not in held]
            kept = sum(held.values())
            limits = allocate(total_w - kept, free, self.settings.allocation, stands_for, alone_w) if free else {}
            blocked = {}
            for device_id, limit_w in limits.items():
                device = self._devices[device_id]
                wait = self._budget_wait(device, limit_w, now)
                if wait is not None and abs(limit_w - (device.setpoint_w or 0.0)) > FULL_TOLERANCE_W:
                    waits[device.info.name] = wait
                if wait is not None or not self._moves_with(device, limit_w, raising):
                    blocked[device_id] = stands_for[device_id]
            if not blocked:
                return limits, waits
            held.update(blocked)

    def _moves_with(self, device: _Device, limit_w: float, raising: bool) -> bool:
        """Whether a new limit moves the inverter's output the change's way (or not at all).

        A sun-limited inverter's limit may come down to its output on a raise: that moves no output.
        """
        if device.setpoint_w is None:
            return True
        if raising:
            return limit_w >= min(device.setpoint_w, self._available(device)) - FULL_TOLERANCE_W
        return limit_w <= device.setpoint_w + FULL_TOLERANCE_W

    @staticmethod
    def _budget_wait(device: _Device, limit_w: float, now: float) -> float | None:
        """Seconds until the inverter's budget allows the move to ``limit_w`` (None: it does now).

        A cut under ``TRIM_W`` (a trim) waits until the budget keeps a raise possible after it.
        """
        budget, setpoint = device.budget, device.setpoint_w
        if budget is None or setpoint is None:
            return None
        change_w = limit_w - (setpoint if device.sent_w is None else device.sent_w)
        if budget.allows(change_w, now, trim_w=TRIM_W):
            return None
        return budget.ready_at(budget.needed(change_w, trim_w=TRIM_W)) - now

    def _keeps_sun_limited_limit(self, device: _Device, limit_w: float) -> bool:
        """Whether a sun-limited inverter keeps its limit: a small move above its output changes nothing now.

        It only places the limit for when the sun returns; not sending it saves commands on cloudy days.
        """
        cap, setpoint = device.sun_cap_w, device.setpoint_w
        if cap is None or setpoint is None or min(limit_w, setpoint) <= cap:
            return False
        return abs(limit_w - setpoint) < self.settings.sun_limit_headroom_w

    # ---- device model ---------------------------------------------------------------------------

    def _reachable(self, device: _Device, now: float) -> bool:
        return self._unreachable_because(device, now) is None

    def _unreachable_because(self, device: _Device, now: float) -> str | None:
        """Why a device cannot be counted on now (None: it can; one not heard of yet follows its setpoint)."""
        if device.telemetry is None or device.telemetry_at is None:
            return None
        if now - device.telemetry_at > self.settings.device_stale_after_s:
            return f"no telemetry for over {self.settings.device_stale_after_s:g} s"
        if not device.telemetry.reachable:
            return "reported unreachable"
        return None

    def _measured_output(self, device: _Device) -> float | None:
        return device.telemetry.power_w if device.telemetry is not None else None

    def _available(self, device: _Device) -> float:
        """What an inverter can deliver now: its maximum, or a sun-limited output (its limit waits above that).

        Allocation fills every inverter up to this first; only what is left goes beyond, up to the maximum.
        """
        if device.sun_cap_w is None:
            return device.info.max_w
        return max(device.info.min_w, min(device.info.max_w, device.sun_cap_w))

    def _stands_for(self, inverters: list[_Device]) -> dict[str, float]:
        """The output each inverter's limit stands for, in the allocation's terms.

        What it delivers (a sun-limited inverter's limit above its output delivers nothing more); once every
        inverter is at what it can deliver, the limit itself: beyond that the limits wait where the load is
        for when the sun returns.
        """
        placed = {d.info.device_id: (self._setpoint_or_output(d), self._available(d)) for d in inverters}
        if all(limit >= available - FULL_TOLERANCE_W for limit, available in placed.values()):
            return {device_id: limit for device_id, (limit, _) in placed.items()}
        return {device_id: min(limit, available) for device_id, (limit, available) in placed.items()}

    def _setpoint_or_output(self, device: _Device) -> float:
        if device.setpoint_w is not None:
            return device.setpoint_w
        output = self._measured_output(device)
        return output if output is not None else device.info.max_w

    def _set(self, device: _Device, limit_w: float, now: float) -> None:
        """Set a new limit (or a consumer's power); an inverter's actuator sends it as its pacing allows."""
        limit_w = round(limit_w, 1)
        if device.setpoint_w is not None and abs(limit_w - device.setpoint_w) < 0.5:
            return
        device.setpoint_w, device.setpoint_at = limit_w, now
        if device.is_inverter:
            device.model.command(now, limit_w)
        self._mirror_send(device, now)

    def _mirror_send(self, device: _Device, now: float, due_before: float = math.inf) -> None:
        """Record what the inverter's actuator sends of its setpoint, by the pacing and budget it announced.

        The actuator sends the newest setpoint once its interval and budget allow, skips small changes and
        refreshes the last limit from a full budget (``command_due_at``, which it runs too). The dynamics
        learner and the budget count the commands actually sent, at the time they go out. (The inverter's
        model takes each setpoint when it is decided: a pending one is on its way, its delay within the
        model's spread of dead times.)
        """
        setpoint = device.setpoint_w
        if not device.is_inverter or setpoint is None:
            return
        at = now
        if device.budget is not None and device.sent_w is not None:
            due = command_due_at(
                device.info.pacing or IMMEDIATE,
                device.budget,
                sent_w=device.sent_w,
                sent_at=device.sent_at,
                target_w=setpoint,
            )
            if due > now or due >= due_before:
                return
            at = max(due, device.setpoint_at, device.sent_at)
            if setpoint == device.sent_w:  # a refresh: the same limit again
                device.budget.take(at)
                device.sent_at = at
                return
        elif setpoint == device.sent_w:
            return
        device.sent_w, device.sent_at = setpoint, at
        if device.budget is not None:
            device.budget.take(at)
        learner = self._learner(device)
        if learner is not None:
            learner.on_command(at, setpoint)

    # ---- output -------------------------------------------------------------------------------

    def _decide(self, now: float, mode: ControllerMode, reason: str, grid_age: float | None) -> Decision:
        """The state, and setpoints for every online actuator with an enabled device (empty ones feed its watchdog)."""
        setpoints: dict[str, dict[str, float]] = {}
        for device in self._devices.values():
            if device.info.enabled and self.is_online(device.actuator_id):
                wanted = setpoints.setdefault(device.actuator_id, {})
                if device.setpoint_w is not None:
                    wanted[device.info.device_id] = device.setpoint_w
                    if device.sent_w is None:
                        self._mirror_send(device, now)  # the first setpoint an actuator gets goes out at once
        enabled = [d for d in self._devices.values() if d.info.enabled]
        inverters = [d for d in enabled if d.is_inverter]
        offline = sorted({d.actuator_id for d in enabled if not self.is_online(d.actuator_id)})
        if offline and setpoints:
            reason = f"{reason} (actuator {', '.join(offline)} offline: its devices are not controlled)"
        state = ControllerState(
            timestamp=self._wall_clock(),
            enabled=self.enabled,
            mode=mode,
            reason=reason,
            grid_power_w=self._grid.power_w,
            grid_age_s=None if grid_age is None else round(grid_age, 3),
            target_w=self.settings.target_w,
            output_w=sum(self._measured_output(d) or 0.0 for d in inverters),
            limit_w=sum(d.setpoint_w or 0.0 for d in inverters),
            consumption_w=sum(d.setpoint_w or 0.0 for d in enabled if d.is_consumer),
            setpoints_w={d.info.device_id: d.setpoint_w for d in enabled if d.setpoint_w is not None},
        )
        unreachable = {
            f"{d.word} {d.info.name} ({d.info.device_id})": (
                f"{why}: left out ({'an inverter at its minimum' if d.is_inverter else 'at 0'}) until it reports again"
            )
            for d in enabled
            if (why := self._unreachable_because(d, now)) is not None
        }
        return Decision(state=state, setpoints=setpoints, dry_run=self.settings.dry_run, unreachable=unreachable)


def _response_s(device: _Device) -> float:
    """How long a battery takes to show a new setpoint, as its actuator announced it (0 for other devices)."""
    return device.info.storage.response_time_s if device.info.storage is not None else 0.0


def _is_new_sample(sample: DeviceState | None, state: DeviceState) -> bool:
    """Whether a state brings a telemetry sample newer than ``sample``'s: another output, or a later time of it.

    OpenDTU computes ``status/last_update`` anew at every publish (its clock now, less the sample's age in
    whole seconds: ``MqttHandleInverter.cpp``) and publishes it every publish interval, the data only when new,
    so one sample's time moves between two adjacent seconds: a time at most that far from the sample's is
    the same sample (so is the state an actuator publishes again with a command).
    """
    if sample is None or sample.power_w != state.power_w:
        return True
    if sample.updated_at is None or state.updated_at is None:
        return sample.updated_at != state.updated_at
    return abs(state.updated_at - sample.updated_at) > UPDATED_AT_JITTER_S


def _held_by_budget(waits: dict[str, float], raising: bool) -> str:
    """Why no limit moved, if command budgets held the change back: which inverters and for how long."""
    if not waits:
        return ""
    change, names = "raise" if raising else "cut", ", ".join(sorted(waits))
    return f"{change} held back by the command budget of {names} (next command in {min(waits.values()):.0f} s)"
