"""A Hoymiles micro-inverter: dead time before a new limit, ramped output, 2 % limit floor, sun limit."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from zeropower.sim.settings import InverterSettings

#: Lowest limit the Hoymiles protocol accepts, as a share of the nameplate power.
MIN_LIMIT_SHARE = 0.02
#: Below this share of the nameplate power on the DC side the inverter is off (night): no radio, no output.
STARTUP_SHARE = 0.01
#: AC output over DC input.
EFFICIENCY = 0.955


@dataclass(frozen=True)
class PendingLimit:
    """A limit the inverter has received and will follow at ``apply_at_s``."""

    apply_at_s: float
    limit_w: float


class InverterModel:
    """One inverter, stepped with its share of the PV power.

    A limit command takes effect after the dead time; then the output moves towards
    ``min(limit, PV share)`` at the ramp rate, but never above what the sun gives. Without sun the
    inverter is off and unreachable, and when it starts again its non-persistent limit is gone (100 %)
    and its daily yield starts from zero, as on a real Hoymiles in the morning.
    """

    def __init__(self, settings: InverterSettings) -> None:
        self.settings = settings
        self.limit_w = settings.max_w
        self.output_w = 0.0
        self.link_ok = True
        self.powered = True
        self.yield_day_wh = 0.0
        self.yield_total_wh = 0.0
        self._pending: deque[PendingLimit] = deque()

    @property
    def serial(self) -> str:
        """The inverter's serial number."""
        return self.settings.serial

    @property
    def min_limit_w(self) -> float:
        """The lowest limit it accepts in W (2 % of nameplate)."""
        return self.settings.max_w * MIN_LIMIT_SHARE

    @property
    def reachable(self) -> bool:
        """Whether a DTU can talk to it: radio link up and the inverter powered by the sun."""
        return self.link_ok and self.powered

    @property
    def producing(self) -> bool:
        """Whether it feeds power into the grid."""
        return self.output_w > 0

    @property
    def dc_power_w(self) -> float:
        """DC input power in W."""
        return self.output_w / EFFICIENCY

    @property
    def limit_share(self) -> float:
        """The limit in force as a share of the nameplate power (0.02-1)."""
        return self.limit_w / self.settings.max_w

    def settle(self, pv_w: float) -> None:
        """Start as if it had been running a while: producing what its limit and ``pv_w`` of sun allow."""
        self._update_power_state(pv_w)
        self.output_w = min(self.limit_w, pv_w * EFFICIENCY, self.settings.max_w) if self.powered else 0.0

    def command_limit(self, limit_w: float, now_s: float) -> float | None:
        """Send a limit in W; it is clamped to [2 %, nameplate] and followed after the dead time.

        Returns the clamped limit, or None when the inverter is unreachable and the command is lost.
        """
        if not self.reachable:
            return None
        clamped = min(max(limit_w, self.min_limit_w), self.settings.max_w)
        self._pending.append(PendingLimit(now_s + self.settings.dead_time_s, clamped))
        return clamped

    def step(self, now_s: float, dt_s: float, pv_w: float) -> None:
        """Advance to ``now_s`` by ``dt_s`` with ``pv_w`` of sun on its panels."""
        self._update_power_state(pv_w)
        while self._pending and self._pending[0].apply_at_s <= now_s:
            self.limit_w = self._pending.popleft().limit_w
        available_w = min(pv_w * EFFICIENCY, self.settings.max_w) if self.powered else 0.0
        target_w = min(self.limit_w, available_w)
        max_change_w = self.settings.ramp_w_per_s * dt_s
        ramped_w = self.output_w + min(max(target_w - self.output_w, -max_change_w), max_change_w)
        self.output_w = max(min(ramped_w, available_w), 0.0)
        self.yield_day_wh += self.output_w * dt_s / 3600.0
        self.yield_total_wh += self.output_w * dt_s / 3600.0

    def _update_power_state(self, pv_w: float) -> None:
        powered = pv_w >= self.settings.max_w * STARTUP_SHARE
        if powered and not self.powered:
            self.limit_w = self.settings.max_w
            self.yield_day_wh = 0.0
        if not powered:
            self._pending.clear()
        self.powered = powered
