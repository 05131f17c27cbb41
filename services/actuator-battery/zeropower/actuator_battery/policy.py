"""Which power a battery gets, and why. Pure: an injected monotonic clock, no I/O.

- A setpoint (W at the terminals, positive = charge) is clamped to the battery's limits.
- No discharge while the SoC is unknown, older than ``soc_stale_after_s`` or at/below the reserve; no charge
  at/above ``max_soc_pct``.
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


@dataclass(frozen=True)
class Decision:
    """The power to write (None: write nothing, leave the battery as it is), the mode and why."""

    target_w: float | None
    mode: ActuatorMode
    reason: str


class BatteryPolicy:
    """Turns setpoints, readings and the passing of time into the power one battery should have."""

    def __init__(self, battery: BatteryConfig, settings: ActuatorBatterySettings, clock: Clock) -> None:
        self._battery = battery
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

    def on_error(self, cause: str) -> None:
        """The battery did not answer or refused: unreachable until it answers again."""
        self._unreachable = cause

    # ---- state ----------------------------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        """Whether the newest request was answered (False before the first one)."""
        return self._unreachable is None and self._reading is not None

    def soc_pct(self) -> float | None:
        """The SoC to count on now: None when unknown or older than ``soc_stale_after_s``."""
        reading = self._reading
        if reading is None or reading.soc_pct is None:
            return None
        if self._clock() - reading.measured_at > self._settings.soc_stale_after_s:
            return None
        return reading.soc_pct

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
            return Decision(0.0, "fail-safe", f"no setpoint for {settings.discharge_timeout_s:g} s: discharge stopped")
        if wanted > 0 and age >= settings.charge_timeout_s:
            return Decision(0.0, "fail-safe", f"no setpoint for {settings.charge_timeout_s:g} s: charge stopped")
        if self._dry_run:
            return Decision(0.0, "dry-run", "dry run: the power is computed, the battery is held at 0 W")
        target, why = self.guarded(wanted)
        return Decision(target, "following", "following the controller's setpoints" + (f" ({why})" if why else ""))

    def _overriding(self) -> Decision | None:
        """What overrides any setpoint: the battery disabled, unreachable, or just back."""
        if not self._battery.enabled:
            return Decision(0.0, "waiting", "disabled in the settings (enabled: false): held at 0 W")
        if self._unreachable is not None:
            return Decision(None, "fail-safe", f"battery unreachable: {self._unreachable}; 0 W once it answers")
        if self._recovered:
            return Decision(0.0, "fail-safe", "battery answers again: 0 W until the next setpoint")
        return None

    def guarded(self, wanted_w: float) -> tuple[float, str | None]:
        """``wanted_w`` within the limits and the SoC window, and why it was changed (None: it was not)."""
        battery = self._battery
        target = min(max(wanted_w, -battery.max_discharge_w), battery.max_charge_w)
        why = None if target == wanted_w else f"clamped to {target:g} W"
        soc = self.soc_pct()
        if target < 0:
            if soc is None:
                state = "unknown" if self._reading is None or self._reading.soc_pct is None else "stale"
                return 0.0, f"no discharge: state of charge {state}"
            if soc <= battery.reserve_soc_pct:
                return (
                    0.0,
                    f"no discharge: state of charge {soc:g} % at or below the reserve {battery.reserve_soc_pct:g} %",
                )
        if target > 0 and soc is not None and soc >= battery.max_soc_pct:
            return 0.0, f"no charge: state of charge {soc:g} % at or above {battery.max_soc_pct:g} %"
        return target, why

    def limits(self) -> tuple[float, float]:
        """What the battery may do now as (charge W, discharge W), both ≥ 0: what ``guarded`` lets through."""
        if self._overriding() is not None:
            return 0.0, 0.0
        battery = self._battery
        return self.guarded(battery.max_charge_w)[0], -self.guarded(-battery.max_discharge_w)[0]

    def _before_first_setpoint(self, now: float) -> Decision:
        settings = self._settings
        found = self._found
        found_w = None if found is None else found.power_w
        if found_w is not None and found_w < -IDLE_W:
            return Decision(0.0, "waiting", f"found discharging {-found_w:g} W at start, no setpoint yet: 0 W")
        since_start = now - self._started_at
        if found_w is not None and found_w > IDLE_W:
            if since_start >= settings.charge_timeout_s:
                return Decision(0.0, "fail-safe", f"no setpoint since start for {settings.charge_timeout_s:g} s: 0 W")
            return Decision(None, "waiting", f"found charging {found_w:g} W, no setpoint yet: held as found")
        if since_start >= settings.discharge_timeout_s:
            return Decision(0.0, "fail-safe", f"no setpoint since start for {settings.discharge_timeout_s:g} s: 0 W")
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
