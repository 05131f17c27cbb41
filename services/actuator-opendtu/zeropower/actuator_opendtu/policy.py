"""Which limit goes to which inverter, and when. Pure: an injected clock, no I/O.

- A setpoint is clamped to the inverter's [minimum limit, ``max_w``].
- The pacing and the budget below are decided by ``zeropower.shared.budget.command_due_at``, which the
  controller runs too, on the pacing and budget each inverter is announced with: it plans with the commands
  actually sent.
- A change smaller than ``min_change_w`` against the last limit sent is skipped.
- Commands to one inverter are at least ``min_interval_s`` apart when raising and ``min_interval_reduce_s``
  when lowering (reductions stop export, so they may come sooner). A change that has to wait is not lost:
  when its time comes, the newest setpoint is sent, whatever arrived in between.
- The newest limit is sent again every ``refresh_interval_s`` (a restarted inverter has forgotten it).
- No setpoint for ``setpoint_timeout_s`` (counted from start until the first one): every inverter gets its
  fail-safe limit until the next setpoint arrives.
- Budget: never more than the inverter's ``commands_per_hour`` in any hour, kept by a token bucket
  (``zeropower.shared.budget``, the one the controller plans with, as the budget is announced) that holds
  ``BURST`` tokens and refills at ``commands_per_hour - BURST`` an hour (so even a full bucket spent at once
  stays within the hour's budget). Each command takes a token. A reduction may take the last one; a raise
  only one above the ``RESERVE`` (so a reduction, which stops export, can always go out), and a refresh only
  from a full bucket (it must not eat what regulation needs). A change the budget holds back is not lost
  either: the newest setpoint goes out when the token is there.
- Never held back by the budget (they take a token if there is one, but never wait for it): the first limit,
  a forced resend (an inverter back after a restart runs at 100 % until it gets its limit again; a command
  lost while the broker was away) and the change to the fail-safe limit (the controller is gone: nothing
  else will limit the inverter). None of them is frequent, so the hour's budget holds in practice; refreshes
  of the fail-safe limit are budgeted like any other refresh.
- Dry run (the newest setpoint says so): nothing is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuSettings
from zeropower.shared.budget import CommandBucket, command_due_at
from zeropower.shared.messages import ActuatorMode

Clock = Callable[[], float]


@dataclass(frozen=True)
class Command:
    """Set one inverter's limit to ``limit_w`` W."""

    device_id: str
    limit_w: float


@dataclass
class _Inverter:
    """One enabled inverter: the limit wanted, the last one sent, and its command budget."""

    settings: InverterSettings
    bucket: CommandBucket
    target_w: float | None = None
    sent_w: float | None = None
    sent_at: float | None = None
    resend: bool = False


class CommandPolicy:
    """Turns setpoints and the passing of time into limit commands (``clock`` should be monotonic)."""

    def __init__(self, settings: ActuatorOpenDtuSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._started_at = clock()
        self._setpoint_at: float | None = None
        self._dry_run = False
        self._inverters = {
            device_id: _Inverter(inverter, CommandBucket.for_budget(inverter.commands_per_hour, self._started_at))
            for device_id, inverter in settings.inverters_by_id.items()
            if inverter.enabled
        }

    def on_setpoints(self, setpoints_w: Mapping[str, float], *, dry_run: bool) -> list[str]:
        """Take in the controller's setpoints; returns the device ids ignored (unknown or disabled)."""
        self._setpoint_at = self._clock()
        self._dry_run = dry_run
        ignored = []
        for device_id, setpoint_w in setpoints_w.items():
            inverter = self._inverters.get(device_id)
            if inverter is None:
                ignored.append(device_id)
            else:
                inverter.target_w = inverter.settings.clamp(setpoint_w)
        return ignored

    def resend(self, device_id: str | None = None) -> None:
        """Send the newest limit again at the next chance: to one inverter, or to all with None."""
        for known_id, inverter in self._inverters.items():
            if device_id is None or known_id == device_id:
                inverter.resend = True

    def next_commands(self) -> list[Command]:
        """The commands due now; they count as sent."""
        now = self._clock()
        if self._dry_run:
            return []
        failsafe = self._timed_out(now)
        commands = []
        for device_id, inverter in self._inverters.items():
            target_w = self._target(inverter, failsafe=failsafe)
            if target_w is not None and self._due_at(inverter, target_w, failsafe=failsafe, now=now) <= now:
                inverter.sent_w, inverter.sent_at, inverter.resend = target_w, now, False
                inverter.bucket.take(now)
                commands.append(Command(device_id, target_w))
        return commands

    def commands_left(self, device_id: str) -> float:
        """The tokens an inverter's budget holds now."""
        return self._inverters[device_id].bucket.level(self._clock())

    def wake_at(self) -> float | None:
        """The clock time at which a command may fall due or the mode change without new input."""
        now = self._clock()
        failsafe = self._timed_out(now)
        times = [] if failsafe else [self._timeout_at()]
        if not self._dry_run:
            for inverter in self._inverters.values():
                target_w = self._target(inverter, failsafe=failsafe)
                if target_w is not None:
                    times.append(self._due_at(inverter, target_w, failsafe=failsafe, now=now))
        return min(times, default=None)

    def mode(self) -> tuple[ActuatorMode, str]:
        """The mode now, and why."""
        timeout = f"{self._settings.setpoint_timeout_s:g} s"
        if self._timed_out(self._clock()):
            since = "since start" if self._setpoint_at is None else "from the controller"
            reason = f"no setpoint {since} for {timeout}: inverters at their fail-safe limits"
            return "fail-safe", f"{reason} (dry run: nothing sent)" if self._dry_run else reason
        if self._setpoint_at is None:
            return "waiting", f"no setpoint yet; fail-safe limits after {timeout}"
        if self._dry_run:
            return "dry-run", "dry run: setpoints are checked but nothing is sent to the inverters"
        return "following", "following the controller's setpoints"

    def _target(self, inverter: _Inverter, *, failsafe: bool) -> float | None:
        return inverter.settings.failsafe_w if failsafe else inverter.target_w

    def _due_at(self, inverter: _Inverter, target_w: float, *, failsafe: bool, now: float) -> float:
        """When ``target_w`` is to be sent: at once when first or forced, else by interval or refresh and budget.

        A change to the fail-safe limit waits for its interval only, never for the budget.
        """
        if inverter.sent_w is None or inverter.sent_at is None or inverter.resend:
            return -math.inf
        return command_due_at(
            self._settings.pacing,
            inverter.bucket,
            sent_w=inverter.sent_w,
            sent_at=inverter.sent_at,
            target_w=target_w,
            budgeted=not failsafe,
        )

    def _timeout_at(self) -> float:
        last = self._setpoint_at if self._setpoint_at is not None else self._started_at
        return last + self._settings.setpoint_timeout_s

    def _timed_out(self, now: float) -> bool:
        return now >= self._timeout_at()
