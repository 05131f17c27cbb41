"""The references seeing only what zeropower sees: the meter (with its noise) and the DTU's telemetry every 5 s.

``reactive`` and ``statistical`` read the true load every second. ``observed-reactive`` and
``observed-statistical`` estimate it instead as zeropower must: the meter reading plus what the inverters
give now. They know the plant's dynamics exactly (the radio, each inverter's dead time and ramp: a
``Replica`` of the plant fed with the commands actually sent) and learn only the sun from telemetry (an
output below what the replica expects is the sun's cap; one above it lifts the cap). ``observed-statistical``
keeps the in-sample load statistics but must tell the load's state from the estimate, online. The gap
between a reference and its observed version is what the sensing costs a controller that knows its
plant; the gap between the observed reference and zeropower is what zeropower's model of the plant costs.
"""

from __future__ import annotations

from collections.abc import Mapping

from bench.controller.baselines.lookahead import Reactive
from bench.controller.baselines.statistical import STEP_W, Statistical
from bench.controller.plant import ACK_S, Telemetry, inverter_model
from bench.controller.protocol import Setup
from zeropower.controller.forecast import LoadSteps
from zeropower.sim.inverter import EFFICIENCY
from zeropower.sim.radio import Radio

#: zeropower's default target (W of import) and deadband (W).
OBSERVED_TARGET_W = 20.0
OBSERVED_MIN_CHANGE_W = 15.0
#: Telemetry rounds the output to 0.1 W; a gap beyond this between it and the replica is the sun.
SUN_TOLERANCE_W = 2.0


class Replica:
    """The plant's radio and inverters as the reference knows them: exact dynamics, the sun learned from telemetry."""

    def __init__(self, setup: Setup) -> None:
        self.inverters = {spec.device_id: inverter_model(spec, setup.preset) for spec in setup.inverters}
        self.sun_cap_w: dict[str, float | None] = dict.fromkeys(self.inverters)
        self._radio = Radio(ACK_S)
        self._now_s = -1.0

    @property
    def output_w(self) -> float:
        """What the inverters give now, by the replica."""
        return sum(inverter.output_w for inverter in self.inverters.values())

    def caps_w(self) -> list[float]:
        """What each inverter could give, as far as telemetry told (its nameplate while the sun is not seen)."""
        return [
            inverter.settings.max_w if cap is None else cap
            for inverter, cap in zip(self.inverters.values(), self.sun_cap_w.values(), strict=True)
        ]

    def step(self, now_s: float) -> None:
        """Advance to ``now_s`` (once: telemetry and the meter come at the same second), as the plant does."""
        if now_s <= self._now_s:
            return
        self._now_s = now_s
        for inverter, cap in zip(self.inverters.values(), self.caps_w(), strict=True):
            inverter.step(now_s, 1.0, cap / EFFICIENCY)
        self._serve(now_s)

    def send(self, now_s: float, commands: Mapping[str, float]) -> None:
        """The commands that went on the radio's queue at ``now_s``."""
        for device_id, limit_w in commands.items():
            self._radio.send(device_id, limit_w, now_s)
            self._serve(now_s)

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """Anchor each replica to the output measured at ``now_s``; the gap is the sun's doing."""
        self.step(now_s)
        for state in states:
            inverter = self.inverters.get(state.device_id)
            if inverter is None or not state.reachable:
                continue
            if state.power_w < inverter.output_w - SUN_TOLERANCE_W:
                self.sun_cap_w[state.device_id] = state.power_w
            elif state.power_w > inverter.output_w + SUN_TOLERANCE_W:
                self.sun_cap_w[state.device_id] = None
            inverter.output_w = state.power_w

    def _serve(self, now_s: float) -> None:
        _, started = self._radio.poll(now_s)
        for transfer in started:
            self.inverters[transfer.device_id].command_limit(transfer.limit_w, transfer.start_s)


class ObservedReactive(Reactive):
    """``reactive`` with the load estimated from the meter and the replica, shared by the sun telemetry showed.

    Against the meter's noise it keeps zeropower's cushion and deadband: its target is 20 W of import and a
    limit moves only by at least 15 W.
    """

    target_w = OBSERVED_TARGET_W
    min_change_w = OBSERVED_MIN_CHANGE_W

    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._replica = Replica(setup)
        self._load_w = 0.0

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        self._replica.on_telemetry(now_s, states)

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        self._replica.step(now_s)
        self._load_w = grid_w + self._replica.output_w
        commands = super().on_meter(now_s, grid_w)
        if not self.paced:
            self.on_sent(now_s, commands)
        return commands

    def on_sent(self, now_s: float, commands: Mapping[str, float]) -> None:
        """The commands that actually went out."""
        self._replica.send(now_s, commands)

    def needed_w(self, second: int) -> float:
        return self._load_w

    def caps_w(self, second: int) -> list[float]:
        return self._replica.caps_w()


class ObservedStatistical(ObservedReactive, Statistical):
    """``statistical`` (its in-sample statistics) on the estimated load, its state told from the estimate."""

    def __init__(self, setup: Setup, quantile: float = 0.5) -> None:
        Statistical.__init__(self, setup, quantile)
        self._replica = Replica(setup)
        self._load_w = 0.0
        self._steps = LoadSteps(STEP_W)

    def needed_w(self, second: int) -> float:
        state = self._steps.observe(float(second), self._load_w)
        return self._load_w + self._statistics.change_for(state, self.quantile)
