"""An explicit model of one inverter's output over time: the limits sent, dead time, ramp, the sun's cap.

The controller sends a limit; the inverter follows it after the dead time, moving at its ramp rate, but
never above what the sun gives. Telemetry (every few seconds) anchors the model to a measured output.
From these the model answers, for any time, which limit is in force and what output to expect. It does
not know the dead time exactly (the actuator may hold a command back a few seconds, the radio takes about
2 s): every estimate is an interval over the earliest and the latest plausible dead time, and, while the
newest telemetry is older than the last decision, over whether the sun came out from behind a cloud (to at
most what it gave in the last minutes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: A command may take effect this much sooner than the dead time (clock and radio jitter), in s.
EARLIER_S = 1.0
#: ... or this much later: the actuator holds a raise back up to 3 s after its previous command.
LATER_S = 3.0
#: The sun coming out from behind a cloud gives at most the highest output measured this long before, in s.
#: Clouds pass in minutes; over 15 minutes the sun's course changes its power by a few percent. (On the
#: benchmark 5 minutes and an hour did as well.)
SUN_MEMORY_S = 900.0


@dataclass(frozen=True)
class Dynamics:
    """How the inverter follows a limit: after ``dead_time_s``, at ``ramp_w_per_s``."""

    dead_time_s: float
    ramp_w_per_s: float


@dataclass(frozen=True)
class Anchor:
    """A measured output: ``output_w`` at ``at`` (s, the controller's monotonic clock)."""

    at: float
    output_w: float


@dataclass
class OutputModel:
    """The limits sent to one inverter and its measured output, projected to any time.

    ``limits`` holds (time sent, limit) of every command that may still shape the output after the
    anchor; ``base_limit_w`` is the limit in force before the first of them.
    """

    max_w: float
    base_limit_w: float | None = None
    limits: deque[tuple[float, float]] = field(default_factory=deque)
    anchor: Anchor | None = None
    sun_cap_w: float | None = None  # the output the sun allows, while telemetry shows it below every limit
    fresh: bool = False  # telemetry arrived since the last decision
    # outputs measured in the last SUN_MEMORY_S, each higher than every one measured after it: the first is
    # the highest (a sliding maximum)
    recent_highs: deque[Anchor] = field(default_factory=deque)

    # ---- inputs ---------------------------------------------------------------------------------

    def adopt(self, limit_w: float) -> None:
        """Take ``limit_w`` as the limit in force since long ago (a restart changes nothing)."""
        self.base_limit_w = limit_w
        self.limits.clear()

    def command(self, at: float, limit_w: float) -> None:
        """A new limit sent at ``at``."""
        self.limits.append((at, limit_w))

    def measure(
        self, at: float, output_w: float, readback_w: float | None, margin_w: float, dynamics: Dynamics
    ) -> None:
        """Telemetry: the output (and the limit read back) at ``at``. Learns whether the sun limits the output.

        Sun-limited means the output is clearly below every limit that may be in force (the one in force by
        the latest plausible dead time, each limit sent since, and the read-back, which runs ahead of the
        output) and not rising (an output still ramping up to its limit is not limited by the sun). A limit
        sent within the earliest plausible dead time (as the read-back may be) is in force only if the
        output shows it: one the output is clearly above has not taken effect yet.
        """
        previous = self.anchor
        rising = previous is not None and output_w > previous.output_w + margin_w
        earliest, latest = self._delays(dynamics)
        known = [self.limit_in_force(at, latest)]
        known += [limit for sent_at, limit in self.limits if at - latest < sent_at <= at - earliest]
        too_new = [readback_w] + [limit for sent_at, limit in self.limits if sent_at > at - earliest]
        known += [limit for limit in too_new if limit is not None and output_w <= limit + margin_w]
        known = [limit for limit in known if limit is not None]
        lowest = min(known) if known else self.max_w
        self.sun_cap_w = output_w if output_w < lowest - margin_w and not rising else None
        self.anchor = Anchor(at, output_w)
        self._remember_high(self.anchor)
        self.fresh = True
        self._forget_before(at - dynamics.dead_time_s - LATER_S - self.max_w / dynamics.ramp_w_per_s)

    # ---- projections ----------------------------------------------------------------------------

    @property
    def newest_limit_w(self) -> float | None:
        """The newest limit sent (or adopted)."""
        return self.limits[-1][1] if self.limits else self.base_limit_w

    def limit_in_force(self, at: float, dead_time_s: float) -> float | None:
        """The newest limit sent at least ``dead_time_s`` before ``at``."""
        in_force = self.base_limit_w
        for sent_at, limit in self.limits:
            if sent_at > at - dead_time_s:
                break
            in_force = limit
        return in_force

    def final_output_w(self) -> float:
        """The output once every limit sent has taken effect (the sun's cap kept)."""
        return self._capped(self.newest_limit_w)

    def expected_output_w(self, at: float, dynamics: Dynamics) -> float:
        """The most likely output at ``at``: each limit taking effect after the dead time itself."""
        if self._settled(dynamics) and self.anchor is not None:
            return self.anchor.output_w
        return self._output_at(at, dynamics.dead_time_s, dynamics.ramp_w_per_s)

    def output_range(self, at: float, dynamics: Dynamics) -> tuple[float, float]:
        """The lowest and highest output at ``at`` over the plausible dead times."""
        outputs = [self._output_at(at, delay, dynamics.ramp_w_per_s) for delay in self._delays(dynamics)]
        return min(outputs), max(outputs)

    def output_now(self, at: float, dynamics: Dynamics) -> tuple[float, float]:
        """The lowest and highest output the inverter may give at ``at``.

        Over every plausible case: each change already shows (an inverter can be quicker than its
        configured dead time), the earliest and the latest dead time with the ramp from the newest
        measurement, and, for a sun-limited inverter without telemetry since the last decision, the sun
        came out (its output then is the limit in force, but at most the highest measured in the last
        ``SUN_MEMORY_S``: on a clear day nothing hides behind the sun-limited output). Once the newest
        measurement was taken after every change had shown, it is the output (a small gap to the limit is
        measurement, not a change to come).
        """
        if self._settled(dynamics) and self.anchor is not None:
            outputs = [self.anchor.output_w]
        else:
            outputs = [self.final_output_w(), *self.output_range(at, dynamics)]
        if self.sun_cap_w is not None and not self.fresh:
            outputs += [self._sun_out_in_force(at, delay) for delay in self._delays(dynamics)]
        return min(outputs), max(outputs)

    @property
    def recent_high_w(self) -> float | None:
        """The highest output measured in the last ``SUN_MEMORY_S``."""
        return self.recent_highs[0].output_w if self.recent_highs else None

    def _sun_out_in_force(self, at: float, dead_time_s: float) -> float:
        """The output if the sun came out: the limit in force, at most what the sun gave recently."""
        in_force = self.limit_in_force(at, dead_time_s)
        limit = self.max_w if in_force is None else in_force
        high = self.recent_high_w
        return limit if high is None else min(limit, high)

    # ---- internals ------------------------------------------------------------------------------

    @staticmethod
    def _delays(dynamics: Dynamics) -> tuple[float, float]:
        return max(0.0, dynamics.dead_time_s - EARLIER_S), dynamics.dead_time_s + LATER_S

    def _capped(self, limit_w: float | None) -> float:
        limit = self.max_w if limit_w is None else limit_w
        return limit if self.sun_cap_w is None else min(limit, self.sun_cap_w)

    def _output_at(self, at: float, dead_time_s: float, ramp_w_per_s: float) -> float:
        """The output at ``at`` if commands take effect after ``dead_time_s``: ramped from the anchor."""
        if self.anchor is None or self.anchor.at > at:
            return self._capped(self.limit_in_force(at, dead_time_s))
        time, output = self.anchor.at, self.anchor.output_w
        aim = self._capped(self.limit_in_force(time, dead_time_s))
        for sent_at, limit in self.limits:
            effective = sent_at + dead_time_s
            if effective <= time:
                continue
            if effective > at:
                break
            output = _toward(output, aim, ramp_w_per_s * (effective - time))
            time, aim = effective, self._capped(limit)
        return _toward(output, aim, ramp_w_per_s * (at - time))

    def _settled(self, dynamics: Dynamics) -> bool:
        """Whether the anchor was measured after every limit sent took effect and the output ramped to it.

        Then the measured output is the truth (a small gap to the limit is measurement, not a change to come).
        """
        if self.anchor is None:
            return not self.limits
        previous = self.base_limit_w
        for sent_at, limit in self.limits:
            ramp_s = abs(limit - (previous if previous is not None else limit)) / dynamics.ramp_w_per_s
            if sent_at + dynamics.dead_time_s + LATER_S + ramp_s > self.anchor.at:
                return False
            previous = limit
        return True

    def _remember_high(self, measured: Anchor) -> None:
        highs = self.recent_highs
        while highs and highs[-1].output_w <= measured.output_w:
            highs.pop()
        highs.append(measured)
        while highs[0].at < measured.at - SUN_MEMORY_S:
            highs.popleft()

    def _forget_before(self, horizon: float) -> None:
        """Drop limits superseded before ``horizon``: they can no longer shape the output after the anchor."""
        while len(self.limits) > 1 and self.limits[1][0] <= horizon:
            self.base_limit_w = self.limits.popleft()[1]
        if len(self.limits) == 1 and self.limits[0][0] <= horizon:
            self.base_limit_w = self.limits.popleft()[1]


def _toward(value: float, aim: float, step: float) -> float:
    """``value`` moved towards ``aim`` by at most ``step``."""
    return value + max(-step, min(step, aim - value))
