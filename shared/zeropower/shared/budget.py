"""An inverter's command budget and pacing, kept alike by the controller (to plan) and the actuator (to enforce).

Never more than ``commands_per_hour`` in any hour: the bucket holds ``BURST`` tokens and refills at
``commands_per_hour - BURST`` an hour, so even a full bucket spent at once stays within the hour's budget.
Each command takes a token. A reduction (it stops export) may take the last one; a raise only one above
``RESERVE``, so a cut and its correction are always possible, whatever raises spent. A planner may call a
small reduction a trim (``needed``'s ``trim_w``): it leaves a raise possible after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeropower.shared.messages import Pacing

#: Tokens a bucket holds: a quick cut sequence (a cut and its correction, as a load switching off asks for)
#: and four more commands for the raises when it comes back or a load pulsing on and off. A larger burst
#: would take more of a small budget's hour; in the benchmark 6 regulated better than 3 or 4 at 120 an hour,
#: and 8 no better.
BURST = 6
#: Tokens only a reduction may take.
RESERVE = 2
#: Tolerance of the token count against rounding (a wake-up computed for a token must find it there).
_EPSILON = 1e-9


@dataclass
class CommandBucket:
    """``tokens`` at clock time ``at`` (monotonic, s), refilled at ``rate`` a second up to ``BURST``."""

    rate: float
    at: float
    tokens: float = BURST

    @classmethod
    def for_budget(cls, commands_per_hour: int, now: float) -> CommandBucket:
        """A full bucket for ``commands_per_hour`` (at least twice ``BURST``)."""
        return cls(max(commands_per_hour - BURST, 1) / 3600, now)

    def level(self, now: float) -> float:
        """The tokens at ``now``."""
        return min(BURST, self.tokens + (now - self.at) * self.rate)

    def ready_at(self, need: float) -> float:
        """When the bucket holds ``need`` tokens: since its last take (``at``) or once the refill gets there."""
        missing = need - self.tokens
        return self.at if missing <= _EPSILON else self.at + missing / self.rate

    def needed(self, change_w: float, *, trim_w: float = 0.0) -> int:
        """Tokens the bucket must hold for a change: one above the reserve for a raise, one for a reduction.

        A reduction smaller than ``trim_w`` (a trim, where a planner gives one) needs as many as leave a raise
        possible after it; a larger one (it stops an export that matters) may take the last token.
        """
        if change_w >= 0:
            return RESERVE + 1
        return RESERVE + 2 if -change_w < trim_w else 1

    def allows(self, change_w: float, now: float, *, trim_w: float = 0.0) -> bool:
        """Whether a change of ``change_w`` may be sent now (``trim_w``: see ``needed``)."""
        return self.ready_at(self.needed(change_w, trim_w=trim_w)) <= now

    def take(self, now: float) -> None:
        """Take a token, if there is one."""
        self.tokens, self.at = max(0.0, self.level(now) - 1), now

    def limit_to(self, tokens: float, now: float) -> None:
        """Hold at most ``tokens`` from ``now`` (a mirror told what the bucket it mirrors holds; never more)."""
        if tokens < self.level(now) - _EPSILON:
            self.tokens, self.at = max(0.0, tokens), now


def command_due_at(
    pacing: Pacing,
    bucket: CommandBucket,
    *,
    sent_w: float,
    sent_at: float,
    target_w: float,
    budgeted: bool = True,
) -> float:
    """When ``target_w`` goes out after ``sent_w`` was sent at ``sent_at`` (a past time: it is due).

    A change smaller than ``min_change_w`` is not sent, but the last command is sent again after
    ``refresh_interval_s`` from a full bucket. A change waits for its interval (a reduction's is shorter: it
    stops export) and, when ``budgeted``, for its tokens.
    """
    refresh_at = sent_at + pacing.refresh_interval_s
    change_w = target_w - sent_w
    if change_w == 0 or abs(change_w) < pacing.min_change_w:
        return max(refresh_at, bucket.ready_at(BURST))
    interval = pacing.reduce_interval_s if change_w < 0 else pacing.raise_interval_s
    due_at = min(sent_at + interval, refresh_at)
    if not budgeted:
        return due_at
    return max(due_at, bucket.ready_at(bucket.needed(change_w)))
