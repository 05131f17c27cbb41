"""Learns an inverter's dead time and ramp rate from its limit commands and telemetry: pure, no I/O, no clock.

Installers rarely know how their inverter follows a new limit (an HM-600 after ~3 s, an HM-1500 after
~18 s), so one ``DynamicsEstimator`` per inverter starts from the configured values and learns the real
ones from what the controller sees anyway: the limits it sends and OpenDTU's telemetry (every ~5 s).

**Episodes.** An episode opens with a command sent while the newest telemetry sample shows the output at
a limit sent (or read back) before, the sample before it within the range of those limits; it starts
from the older of the two samples, a known state even while earlier commands are still in flight (a
controller with too short a dead time sends a command every few seconds, so the output is hardly ever
steady at the newest limit). Those earlier commands, sent up to ``dead_time_range_s[1]`` s before, are
modelled with it: for every candidate dead time the limit in force at the start is the newest one sent
that long before. Commands sent before the episode ends belong to it too. It ends, and is learned from,
when two samples in a row show the output at the last commanded limit, the newer one at least the
current dead time estimate after that command. It is dropped when a sample leaves the range of its
start and its limits (the sun took the output below them), when the output has not reached the last
limit ``dead_time_range_s[1] + 30`` s after it was sent (the sun capped a raise, the command was lost),
or when the read-back shows none of its limits (another one was set). A limit change the sun hides
therefore never teaches anything: it cannot end at the commanded limit. A train of commands (the
controller hunting) may never end so: after ``MAX_COMMANDS`` commands sent since its start it is learned
from as far as it got (if some candidate explains it, see below) and goes on as a new episode. Episodes
that move the output less than ``min_step_w`` are not counted.

**Fit.** One sample every 5 s only brackets one episode's dead time, so episodes are combined by a
bounded least-squares fit over a grid of candidates (dead time in 0.5 s steps, ramp in 20 % steps, both
within sane ranges). For every candidate the episode's output is predicted (it stays at its start until a
command's dead time has passed, then moves towards that command's limit at the ramp rate); a sample's
residual beyond ``tolerance_w / 2`` (noise, rounding), as a fraction ``r`` of the episode's largest step,
adds ``min(r², 0.04)`` to the candidate's cost. The fraction weighs every episode alike whatever its
size; the cap (a sample more than 20 % of the step off counts no more than that) keeps a cloud or a
jittery actuator from outweighing the episodes that agree, and an episode that no candidate explains
(best cost over ``MAX_MISFIT``: the sun moved the output meanwhile) is not learned from at all. A grid
rather than a gradient fit because the cost is piecewise flat (a candidate is contradicted only when a
sample falls into a ramp) and has local minima; ~2,500 candidates cost O(samples + commands) each,
once per episode: 15-60 ms on a PC (60 ms: 27 commands, 16 samples), estimated 5-10 times that on a
Raspberry Pi. Older episodes fade by ``1 - 1/memory_episodes`` each, so a replaced inverter is
relearned. The estimate is the candidate of least cost.
5 s samples leave a span of dead times the data cannot tell apart (the commands of a
closed loop come at the same phase of the telemetry, and OpenDTU's one radio sends an inverter's limit
up to a few seconds after the controller, behind the others'); the estimate is the middle of that span
(its shortest end let the first episodes, which bound the dead time only from above, teach 0 s, and the
model then took a change not yet shown for a cloud; the one nearest the configured value would stay near
it whatever the inverter does). Among ramps the data cannot tell apart, the one nearest the configured
ramp. Without commands it stays where it is.

Only telemetry is used, not the 1 s meter readings, although one episode on the meter would pin the dead
time to a second: the meter shows the sum of every inverter's output (the controller moves several at
once, each with its own dead time), a diverter absorbs the inverter's change within a reading, and the
household load moves meanwhile (the bench's switches once a minute, a hob every 10-30 s). Telemetry sees
one inverter alone and is within ±1.5 s and ±25 % after ~10 episodes (~25 under broken clouds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Commands sent after an episode's start it may hold; with the next one it is learned from and a new one opens.
MAX_COMMANDS = 16
#: Dead time candidates are this far apart, s.
DEAD_TIME_STEP_S = 0.5
#: Neighbouring ramp candidates differ by this factor.
RAMP_RATIO = 1.2
#: A sample's cost is capped at this squared fraction of the episode's step (20 % of the step off).
MAX_SAMPLE_COST = 0.04
#: An episode whose best candidate costs more than this is not learned from (two and a half samples 20 % off).
MAX_MISFIT = 0.1
#: The output is steady before a command if the newest sample is at most this old, s.
STEADY_MAX_AGE_S = 10.0


@dataclass
class _Episode:
    """Commands that may take effect after a measured output, and the telemetry samples since."""

    at_s: float  # when the output it starts from was measured
    output_w: float  # that output
    base_w: float  # the limit in force before the first of its commands
    commands: list[tuple[float, float]]  # (time, limit), sent at most the longest dead time before ``at_s``
    new: int = 1  # commands sent after ``at_s``
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, output), after ``at_s``

    @property
    def levels(self) -> list[float]:
        """Its start, and every limit that may be in force during it."""
        return [self.output_w, self.base_w, *(limit for _, limit in self.commands)]


class DynamicsEstimator:
    """Dead time and ramp rate of one inverter, learned from its commands and telemetry."""

    def __init__(
        self,
        dead_time_s: float,
        ramp_w_per_s: float,
        *,
        tolerance_w: float = 20.0,
        min_step_w: float = 50.0,
        dead_time_range_s: tuple[float, float] = (0.0, 40.0),
        ramp_range_w_per_s: tuple[float, float] = (10.0, 2000.0),
        memory_episodes: int = 100,
    ) -> None:
        """Start from the configured ``dead_time_s`` and ``ramp_w_per_s`` (clamped to the ranges).

        ``tolerance_w``: how far the output may sit from a limit and still count as at it (and steady);
        ``min_step_w``: the smallest move of the output an episode is learned from.
        """
        self._tolerance_w = tolerance_w
        self._deadzone_w = tolerance_w / 2
        self._min_step_w = min_step_w
        self._max_dead_time_s = dead_time_range_s[1]
        self._keep = 1.0 - 1.0 / memory_episodes
        steps = round((dead_time_range_s[1] - dead_time_range_s[0]) / DEAD_TIME_STEP_S)
        self._dead_times = [dead_time_range_s[0] + i * DEAD_TIME_STEP_S for i in range(steps + 1)]
        ratios = math.ceil(math.log(ramp_range_w_per_s[1] / ramp_range_w_per_s[0]) / math.log(RAMP_RATIO))
        self._ramps = [ramp_range_w_per_s[0] * RAMP_RATIO**i for i in range(ratios + 1)]
        self._dead_time_s = min(max(dead_time_s, dead_time_range_s[0]), dead_time_range_s[1])
        self._ramp_w_per_s = min(max(ramp_w_per_s, ramp_range_w_per_s[0]), ramp_range_w_per_s[1])
        self._cost = [0.0] * (len(self._dead_times) * len(self._ramps))
        # Distance of each candidate from the configured values in grid steps: decides between equal costs.
        self._distance = [
            ((dead - self._dead_time_s) / DEAD_TIME_STEP_S) ** 2
            + (math.log(ramp / self._ramp_w_per_s) / math.log(RAMP_RATIO)) ** 2
            for dead in self._dead_times
            for ramp in self._ramps
        ]
        self._episodes = 0
        self._episode: _Episode | None = None
        self._recent: list[tuple[float, float]] = []  # the newest two telemetry samples (time, output)
        self._sent: list[tuple[float, float]] = []  # commands of the longest dead time and a sample period
        self._base_w: float | None = None  # the limit in force before the first of them (or read back)
        self._limit_w: float | None = None  # the last commanded limit, else the newest read-back

    @property
    def dead_time_s(self) -> float:
        """Seconds from a limit command until the output starts to move."""
        return self._dead_time_s

    @property
    def ramp_w_per_s(self) -> float:
        """How fast the output then moves towards the new limit, W/s."""
        return self._ramp_w_per_s

    @property
    def episodes(self) -> int:
        """How many limit changes the estimate has learned from."""
        return self._episodes

    def on_command(self, at_s: float, limit_w: float) -> None:
        """Note a limit sent to the inverter at ``at_s`` (in time order: before any telemetry measured later)."""
        if self._limit_w is not None and abs(limit_w - self._limit_w) < 0.5:
            return  # the limit in force again: changes nothing
        horizon = at_s - self._max_dead_time_s - STEADY_MAX_AGE_S
        while self._sent and self._sent[0][0] < horizon:
            self._base_w = self._sent.pop(0)[1]
        if self._base_w is None:
            self._base_w = self._limit_w
        self._sent.append((at_s, limit_w))
        self._limit_w = limit_w
        episode = self._episode
        if episode is None:
            self._episode = self._open(at_s)
        elif episode.new < MAX_COMMANDS:
            episode.commands.append((at_s, limit_w))
            episode.new += 1
        else:  # a long train: learned from as far as it got, and continued as a new episode
            self._learn(episode)
            self._episode = self._open(at_s)

    def on_telemetry(self, at_s: float, output_w: float, limit_readback_w: float | None) -> None:
        """Take in the inverter's output and limit read-back measured at ``at_s``."""
        self._recent = [*self._recent[-1:], (at_s, output_w)]
        if not self._sent and limit_readback_w is not None:
            self._limit_w = limit_readback_w  # no command sent yet: the limit in force is what it reads back
        episode = self._episode
        if episode is None:
            return
        episode.samples.append((at_s, output_w))
        sent_at, limit_w = episode.commands[-1]
        tolerance = self._tolerance_w
        levels = episode.levels
        read_back_other = limit_readback_w is not None and all(
            abs(limit_readback_w - level) > tolerance for level in levels
        )
        outside = not min(levels) - tolerance <= output_w <= max(levels) + tolerance
        if outside or read_back_other or at_s - sent_at > self._max_dead_time_s + 30:
            self._episode = None  # the sun moved it, or it never got there: sun-capped, lost or overridden
            return
        if (
            len(episode.samples) >= 2
            and at_s >= sent_at + self._dead_time_s
            and all(abs(output - limit_w) <= tolerance for _, output in episode.samples[-2:])
        ):
            self._episode = None
            self._learn(episode)

    def _open(self, at_s: float) -> _Episode | None:
        """An episode with the command just sent, if the newest sample is fresh and shows the output at a limit.

        It starts from the sample before (its output within the limits): the one after is the first it learns from.
        """
        if len(self._recent) < 2 or self._base_w is None:
            return None
        (start_at, start_w), (sampled_at, output_w) = self._recent
        limits = [self._base_w, *(limit for _, limit in self._sent[:-1])]
        tolerance = self._tolerance_w
        at_limit = any(abs(output_w - limit) <= tolerance for limit in limits)
        within = min(limits) - tolerance <= start_w <= max(limits) + tolerance
        if at_s - sampled_at > STEADY_MAX_AGE_S or not at_limit or not within:
            return None
        earliest = start_at - self._max_dead_time_s
        base_w = self._base_w
        for sent_at, limit in self._sent:
            if sent_at <= earliest:
                base_w = limit
        commands = [(sent_at, limit) for sent_at, limit in self._sent if sent_at > earliest]
        return _Episode(start_at, start_w, base_w, commands, samples=[(sampled_at, output_w)])

    def _learn(self, episode: _Episode) -> None:
        """Add the episode's cost to every candidate and move the estimate to the best one."""
        step_w = max(abs(level - episode.output_w) for level in episode.levels)
        if step_w < self._min_step_w:
            return
        costs = self._episode_costs(episode, step_w)
        if min(costs) > MAX_MISFIT:
            return  # no dead time and ramp explain it: the sun or the load moved the output meanwhile
        keep = self._keep
        cost = self._cost
        for index, value in enumerate(costs):
            cost[index] = cost[index] * keep + value
        self._episodes += 1
        least = min(cost)
        ramps = len(self._ramps)
        tied = [i for i, value in enumerate(cost) if value <= least + 1e-9 * (1.0 + least)]
        spans = sorted({i // ramps for i in tied})
        middle = spans[len(spans) // 2]  # the middle of the dead times the data cannot tell apart
        best = min((i for i in tied if i // ramps == middle), key=self._distance.__getitem__)
        self._dead_time_s = self._dead_times[best // len(self._ramps)]
        self._ramp_w_per_s = self._ramps[best % len(self._ramps)]

    def _episode_costs(self, episode: _Episode, step_w: float) -> list[float]:
        """Each candidate's misfit to the episode's samples (in the order of ``_distance``)."""
        commands = episode.commands
        start_at = episode.at_s
        deadzone_w = self._deadzone_w
        costs = []
        for dead in self._dead_times:
            # The limit in force at the start; each sample with the commands that take effect before it:
            # (time, observed, [(effect time, limit)]).
            in_force, pending = episode.base_w, 0
            while pending < len(commands) and commands[pending][0] + dead <= start_at:
                in_force = commands[pending][1]
                pending += 1
            events = []
            for at, observed in episode.samples:
                effects = []
                while pending < len(commands) and commands[pending][0] + dead <= at:
                    effects.append((commands[pending][0] + dead, commands[pending][1]))
                    pending += 1
                events.append((at, observed, effects))
            for ramp in self._ramps:
                total = 0.0
                output, now, target = episode.output_w, start_at, in_force
                for at, observed, effects in events:
                    for effect_at, limit in effects:
                        change = ramp * (effect_at - now)
                        output = min(output + change, target) if target > output else max(output - change, target)
                        now, target = effect_at, limit
                    change = ramp * (at - now)
                    output = min(output + change, target) if target > output else max(output - change, target)
                    now = at
                    error = max(abs(observed - output) - deadzone_w, 0.0) / step_w
                    total += min(error * error, MAX_SAMPLE_COST)
                costs.append(total)
        return costs
