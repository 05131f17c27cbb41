"""Which power a battery gets, and why. Pure: an injected monotonic clock, no I/O.

- A setpoint (W at the terminals, positive = charge) is clamped to the battery's limits.
- No discharge while the SoC (and, with ``min_voltage_v``, the battery voltage) is unknown or its reading older
  than ``soc_stale_after_s``; no charge at/above ``max_soc_pct``.
- Cut-off with hysteresis, a state of its own: at/below the reserve SoC or ``min_voltage_v`` the discharge stops,
  and it resumes only above ``resume_soc_pct`` and ``resume_voltage_v`` (by default just above the stop values),
  so a value that wanders around a bound does not start and stop it. While stopped, a battery whose driver reports
  the DC solar into its battery side (``solar_w``) may still pass that through (OpenDTU-OnBattery's solar
  pass-through, see ``passthrough_w``), but not at/below the stop values: there the sun recharges it first.
- A stop state (no discharge allowed at all: cut-off without pass-through, SoC or voltage unknown or stale, a
  timeout, dry run, disabled, found discharging, back from an outage) is a *standby* decision: a device whose
  0 W is not a true 0 (a Hoymiles at its lowest limit still feeds) is switched off for it, never for a setpoint
  of 0 in ordinary regulation.
- Setpoints stop (for this battery): a discharge goes to 0 after ``discharge_timeout_s`` (it would be exported
  when the load drops), a charge is held until ``charge_timeout_s`` (it absorbs production the inverters'
  own fail-safe limits first) and then goes to 0.
- Unreachable: nothing is written (nothing can be); once it answers again, 0 until the next setpoint: the
  setpoint from before the outage is never replayed.
- At start nothing is adopted: a battery found discharging goes to 0 at once (no one vouches for it), one
  found charging is held until ``charge_timeout_s``, then 0; the first setpoint takes over.
- Dry run, or ``enabled: false``: 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from zeropower.actuator_battery.drivers.base import BatteryReading
from zeropower.actuator_battery.settings import ActuatorBatterySettings, BatteryConfig
from zeropower.shared.messages import ActuatorMode

Clock = Callable[[], float]
#: A measured power within this of 0 counts as idle, in W (the devices report whole watts and some noise).
IDLE_W = 5.0
#: The AC power a battery inverter may feed per W of DC solar on its battery side, when passing solar through: its
#: efficiency, taken low (Hoymiles datasheets give 95-96.7 % peak, less at low load), so the power passed through
#: comes from the panels, not from a battery that is stopped. OpenDTU-OnBattery converts with its configured
#: conduction losses likewise (``PowerLimiter::dcPowerBusToInverterAc``).
PASSTHROUGH_EFFICIENCY = 0.94


@dataclass(frozen=True)
class Decision:
    """The power to write (None: write nothing, leave the battery as it is), the mode and why."""

    target_w: float | None
    mode: ActuatorMode
    reason: str
    #: A stop state: the battery must deliver nothing at all (not just 0 W of regulation).
    standby: bool = False


@dataclass(frozen=True)
class Guarded:
    """A setpoint within the limits, the SoC window and the cut-off: the power, why it changed, a stop state."""

    target_w: float
    why: str | None
    standby: bool


class BatteryPolicy:
    """Turns setpoints, readings and the passing of time into the power one battery should have."""

    def __init__(
        self, battery: BatteryConfig, settings: ActuatorBatterySettings, clock: Clock, *, min_discharge_w: float = 0.0
    ) -> None:
        self._battery = battery
        self._min_discharge_w = min_discharge_w  # the device's floor while it runs (driver's min_discharge_w)
        self._settings = settings
        self._clock = clock
        self._started_at = clock()
        self._setpoint_w: float | None = None
        self._setpoint_at: float | None = None
        self._dry_run = False
        self._reading: BatteryReading | None = None
        self._found: BatteryReading | None = None  # the first reading, before any setpoint
        self._unreachable: str | None = None
        self._recovered = False  # answered again after an outage, no setpoint since
        self._cut_off = True  # stopped at the reserve/min voltage until above the resume values; so until read

    # ---- inputs ---------------------------------------------------------------------------------

    def on_setpoint(self, setpoint_w: float, *, dry_run: bool) -> None:
        """A setpoint for this battery from a live command."""
        self._setpoint_w, self._setpoint_at, self._dry_run = setpoint_w, self._clock(), dry_run
        self._recovered = False

    def on_reading(self, reading: BatteryReading) -> None:
        """A fresh reading: the battery answers."""
        if self._unreachable is not None:
            self._unreachable = None
            if self._reading is not None:  # it answered before: back from an outage (else: found at last)
                self._recovered = True
                self._setpoint_w = self._setpoint_at = None  # never replayed after the outage
        if self._found is None:
            self._found = reading
        self._reading = reading
        self._update_cut_off(reading)

    def _update_cut_off(self, reading: BatteryReading) -> None:
        """Stop at/below the stop values, resume only above the resume values (unknown values change nothing)."""
        battery = self._battery
        soc = reading.soc_pct
        volt = reading.voltage_v if battery.min_voltage_v is not None else None
        if soc is None and volt is None:
            return
        low = (soc is not None and soc <= battery.reserve_soc_pct) or (
            volt is not None and battery.min_voltage_v is not None and volt <= battery.min_voltage_v
        )
        high = (soc is None or soc > battery.resume_soc()) and (volt is None or volt > battery.resume_voltage())
        if low:
            self._cut_off = True
        elif high:
            self._cut_off = False

    def on_error(self, cause: str) -> None:
        """The battery did not answer or refused: unreachable until it answers again."""
        self._unreachable = cause

    # ---- state ----------------------------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        """Whether the newest request was answered (False before the first one)."""
        return self._unreachable is None and self._reading is not None

    def _fresh(self) -> BatteryReading | None:
        """The newest reading if it is no older than ``soc_stale_after_s``."""
        reading = self._reading
        if reading is None or self._clock() - reading.measured_at > self._settings.soc_stale_after_s:
            return None
        return reading

    def soc_pct(self) -> float | None:
        """The SoC to count on now: None when unknown or older than ``soc_stale_after_s``."""
        reading = self._fresh()
        return None if reading is None else reading.soc_pct

    @property
    def cut_off(self) -> bool:
        """Whether the discharge is stopped at the reserve or minimum voltage (until above the resume values)."""
        return self._cut_off

    def passthrough_w(self) -> float:
        """The AC power a stopped battery may still feed: its DC solar (``solar_w``) passed through, in W.

        As OpenDTU-OnBattery's solar pass-through (``PowerLimiter.cpp``: ``getSolarPassthroughPower`` gives 0 at
        or below the stop threshold, the NO_DISCHARGE state passes only solar between the stop and the start
        threshold): nothing at/below the reserve or minimum voltage, the sun recharges the battery first; between
        them and the resume values the panels' power goes through the inverter instead of into the battery.
        Less than the device's floor is nothing: at its floor it would draw the rest from the battery.
        """
        reading = self._fresh()
        if reading is None or reading.solar_w is None or reading.solar_w <= 0:
            return 0.0
        battery = self._battery
        if reading.soc_pct is not None and reading.soc_pct <= battery.reserve_soc_pct:
            return 0.0
        volt = reading.voltage_v
        if battery.min_voltage_v is not None and (volt is None or volt <= battery.min_voltage_v):
            return 0.0
        allowed = min(battery.max_discharge_w, reading.solar_w * PASSTHROUGH_EFFICIENCY)
        return float(int(allowed)) if allowed >= max(self._min_discharge_w, 1.0) else 0.0

    def wake_at(self) -> float | None:
        """The next clock time at which the decision changes without new input (a timeout or the SoC ageing)."""
        times = []
        if self._setpoint_at is not None:
            times += [
                self._setpoint_at + self._settings.discharge_timeout_s,
                self._setpoint_at + self._settings.charge_timeout_s,
            ]
        else:
            times += [
                self._started_at + self._settings.discharge_timeout_s,
                self._started_at + self._settings.charge_timeout_s,
            ]
        if self._reading is not None:
            times.append(self._reading.measured_at + self._settings.soc_stale_after_s)
        now = self._clock()
        later = [t for t in times if t > now]
        return min(later) if later else None

    # ---- the decision ---------------------------------------------------------------------------

    def decide(self) -> Decision:
        """The power the battery should have now, the mode and the reason."""
        overriding = self._overriding()
        if overriding is not None:
            return overriding
        now = self._clock()
        if self._setpoint_at is None:
            return self._before_first_setpoint(now)
        settings = self._settings
        wanted = self._setpoint_w or 0.0
        age = now - self._setpoint_at
        if wanted < 0 and age >= settings.discharge_timeout_s:
            return Decision(
                0.0, "fail-safe", f"no setpoint for {settings.discharge_timeout_s:g} s: discharge stopped", standby=True
            )
        if wanted > 0 and age >= settings.charge_timeout_s:
            return Decision(
                0.0, "fail-safe", f"no setpoint for {settings.charge_timeout_s:g} s: charge stopped", standby=True
            )
        if self._dry_run:
            return Decision(0.0, "dry-run", "dry run: the power is computed, the battery is held at 0 W", standby=True)
        guarded = self.guarded(wanted)
        why = guarded.why
        return Decision(
            guarded.target_w,
            "following",
            "following the controller's setpoints" + (f" ({why})" if why else ""),
            standby=guarded.standby,
        )

    def _overriding(self) -> Decision | None:
        """What overrides any setpoint: the battery disabled, unreachable, or just back."""
        if not self._battery.enabled:
            return Decision(0.0, "waiting", "disabled in the settings (enabled: false): held at 0 W", standby=True)
        if self._unreachable is not None:
            return Decision(None, "fail-safe", f"battery unreachable: {self._unreachable}; 0 W once it answers")
        if self._recovered:
            return Decision(0.0, "fail-safe", "battery answers again: 0 W until the next setpoint", standby=True)
        return None

    def guarded(self, wanted_w: float) -> Guarded:
        """``wanted_w`` within the limits, the SoC window and the cut-off, why it was changed, and a stop state."""
        battery = self._battery
        target = min(max(wanted_w, -battery.max_discharge_w), battery.max_charge_w)
        why = None if target == wanted_w else f"clamped to {target:g} W"
        allowed_w, why_not = self._discharge_allowance()
        if target < 0 and -target > allowed_w:
            target, why = -allowed_w, why_not
        stopped = allowed_w == 0 and target <= 0  # nothing may be discharged: a stop state
        if stopped and why is None:
            why = why_not
        soc = self.soc_pct()
        if target > 0 and soc is not None and soc >= battery.max_soc_pct:
            return Guarded(0.0, f"no charge: state of charge {soc:g} % at or above {battery.max_soc_pct:g} %", False)
        return Guarded(target, why, stopped)

    def _discharge_allowance(self) -> tuple[float, str | None]:
        """The most the battery may discharge now in W, and why it is less than its maximum (None: it is not)."""
        battery = self._battery
        reading = self._fresh()
        unknown = self._reading is None
        if reading is None or (reading.soc_pct is None and battery.min_voltage_v is None):
            has_soc = self._reading is not None and self._reading.soc_pct is not None
            state = "unknown" if unknown or not has_soc else "stale"
            return 0.0, f"no discharge: state of charge {state}"
        if battery.min_voltage_v is not None and reading.voltage_v is None:
            return 0.0, "no discharge: battery voltage unknown"
        if not self._cut_off:
            return battery.max_discharge_w, None
        stopped = self._cut_off_reason(reading)
        passthrough_w = self.passthrough_w()
        if passthrough_w > 0:
            return passthrough_w, f"solar pass-through only, {passthrough_w:g} W: {stopped}"
        return 0.0, f"no discharge: {stopped}"

    def _cut_off_reason(self, reading: BatteryReading) -> str:
        battery = self._battery
        soc, volt = reading.soc_pct, reading.voltage_v
        if soc is not None and soc <= battery.reserve_soc_pct:
            return f"state of charge {soc:g} % at or below the reserve {battery.reserve_soc_pct:g} %"
        if battery.min_voltage_v is not None and volt is not None and volt <= battery.min_voltage_v:
            return f"battery voltage {volt:g} V at or below {battery.min_voltage_v:g} V"
        resume = []
        if soc is not None:
            resume.append(f"the state of charge ({soc:g} %) is above {battery.resume_soc():g} %")
        if battery.min_voltage_v is not None and volt is not None:
            resume.append(f"the voltage ({volt:g} V) is above {battery.resume_voltage():g} V")
        return "stopped at the reserve until " + " and ".join(resume)

    def limits(self) -> tuple[float, float]:
        """What the battery may do now as (charge W, discharge W), both ≥ 0: what ``guarded`` lets through."""
        if self._overriding() is not None:
            return 0.0, 0.0
        battery = self._battery
        return self.guarded(battery.max_charge_w).target_w, -self.guarded(-battery.max_discharge_w).target_w

    def _before_first_setpoint(self, now: float) -> Decision:
        settings = self._settings
        found = self._found
        found_w = None if found is None else found.power_w
        if found_w is not None and found_w < -IDLE_W:
            return Decision(
                0.0, "waiting", f"found discharging {-found_w:g} W at start, no setpoint yet: 0 W", standby=True
            )
        since_start = now - self._started_at
        if found_w is not None and found_w > IDLE_W:
            if since_start >= settings.charge_timeout_s:
                return Decision(
                    0.0,
                    "fail-safe",
                    f"no setpoint since start for {settings.charge_timeout_s:g} s: 0 W",
                    standby=True,
                )
            return Decision(None, "waiting", f"found charging {found_w:g} W, no setpoint yet: held as found")
        if since_start >= settings.discharge_timeout_s:
            return Decision(
                0.0, "fail-safe", f"no setpoint since start for {settings.discharge_timeout_s:g} s: 0 W", standby=True
            )
        return Decision(None, "waiting", "no setpoint yet: the battery stays as found")


def write_due_at(
    target_w: float,
    written_w: float | None,
    written_at: float,
    *,
    min_change_w: float,
    min_interval_s: float,
    refresh_interval_s: float,
) -> float:
    """When ``target_w`` is to be written, given the last write (``written_w`` at ``written_at``; None: unknown).

    A change under ``min_change_w`` that keeps the direction (and does not go to 0) waits for the refresh the
    device's watchdog needs (inf: none); any write waits for the driver's pacing after the last one.
    """
    if written_w is not None:
        change = abs(target_w - written_w)
        unchanged = change == 0 or (change < min_change_w and target_w != 0 and (written_w > 0) == (target_w > 0))
        if unchanged:
            return max(written_at + refresh_interval_s, written_at + min_interval_s)
    return written_at + min_interval_s
