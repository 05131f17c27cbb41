"""Which duty the output gets, and why. Pure: an injected clock, no I/O.

- A setpoint (W to draw) becomes the fraction W / rated_w, clamped to 0-1, and a duty through the mapping.
- Dry run (the newest setpoint command says so): the duty is computed, the output stays at 0.
- No setpoint for ``setpoint_timeout_s`` (counted from start until the first one): duty 0 (fail-safe) until
  the next setpoint arrives.
- ``enabled: false``: duty 0 whatever arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from zeropower.actuator_pwm.settings import ActuatorPwmSettings
from zeropower.shared.messages import ActuatorMode

Clock = Callable[[], float]


class DutyPolicy:
    """Turns setpoints and the passing of time into the duty to drive (``clock`` should be monotonic)."""

    def __init__(self, settings: ActuatorPwmSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._started_at = clock()
        self._setpoint_at: float | None = None
        self._setpoint_w = 0.0
        self._dry_run = False

    def on_setpoint(self, setpoint_w: float | None, *, dry_run: bool) -> None:
        """Take in a setpoint command: W to draw, or None when it has none for this device (still alive)."""
        self._setpoint_at = self._clock()
        self._dry_run = dry_run
        if setpoint_w is not None:
            self._setpoint_w = setpoint_w

    def fraction(self) -> float:
        """The newest setpoint as a fraction of the rated power, 0-1."""
        return min(max(self._setpoint_w / self._settings.rated_w, 0.0), 1.0)

    def requested_duty(self) -> float:
        """The duty the newest setpoint asks for (also in a dry run)."""
        return self._settings.mapping.duty(self.fraction())

    def duty(self) -> float | None:
        """The duty to drive now: the requested one while following, None (as found) before the first setpoint."""
        mode = self.mode()[0]
        if mode == "waiting" and self._settings.enabled:
            return None
        return self.requested_duty() if mode == "following" else 0.0

    def wake_at(self) -> float | None:
        """The clock time at which the mode changes without new input (the setpoint timeout), if any."""
        if not self._settings.enabled or self._timed_out():
            return None
        return self._timeout_at()

    def mode(self) -> tuple[ActuatorMode, str]:
        """The mode now, and why."""
        timeout = f"{self._settings.setpoint_timeout_s:g} s"
        if not self._settings.enabled:
            return "waiting", "disabled in the settings (enabled: false): the output stays at duty 0"
        if self._timed_out():
            since = "since start" if self._setpoint_at is None else "from the controller"
            return "fail-safe", f"no setpoint {since} for more than {timeout}: output at duty 0"
        if self._setpoint_at is None:
            return "waiting", f"no setpoint yet: the output stays as found; fail-safe after {timeout}"
        if self._dry_run:
            return "dry-run", "dry run: the duty is computed but the output stays at 0"
        return "following", "following the controller's setpoints"

    def _timeout_at(self) -> float:
        last = self._setpoint_at if self._setpoint_at is not None else self._started_at
        return last + self._settings.setpoint_timeout_s

    def _timed_out(self) -> bool:
        return self._clock() >= self._timeout_at()
