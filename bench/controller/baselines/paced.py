"""A reference's limits sent through the product's actuator: its pacing and its command budget.

``reactive`` and ``statistical`` send an inverter a limit whenever its share moves, up to every second.
zeropower's limits go through actuator-opendtu's ``CommandPolicy`` instead: 3 s between raises, 2 s between
reductions, changes under 10 W skipped, and a budget of 240 commands an hour per inverter of which a raise
leaves the last two tokens to cuts. ``Paced`` hands a reference's newest limits to the very same policy
every second and sends what it sends, so the reference keeps its knowledge (the true load now, and for
``statistical`` the load's statistics) but meets the actuator zeropower meets. The gap between a reference
and its paced version is what the actuator costs any controller; the gap between the paced reference and
zeropower is zeropower's own.
"""

from __future__ import annotations

from bench.controller.plant import Telemetry
from bench.controller.product import actuator_settings
from bench.controller.protocol import Controller, Setup
from zeropower.actuator_opendtu.policy import CommandPolicy


class Paced:
    """``reference``'s limits through actuator-opendtu's command policy with the product's defaults."""

    perfect_actuator = False

    def __init__(self, reference: Controller, setup: Setup) -> None:
        self._reference = reference
        self.target_w = reference.target_w
        self._now = 0.0
        self._policy = CommandPolicy(actuator_settings(setup), lambda: self._now)
        self._wanted: dict[str, float] = {}
        reference.paced = True  # an observing reference learns what was sent from on_sent

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        self._reference.on_telemetry(now_s, states)

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        """The reference decides; the policy gets its newest limits every second (as the controller's
        setpoints reach it with every grid reading) and says which go out now."""
        self._now = now_s
        self._wanted.update(self._reference.on_meter(now_s, grid_w))
        self._policy.on_setpoints(self._wanted, dry_run=False)
        sent = {command.device_id: command.limit_w for command in self._policy.next_commands()}
        self._reference.on_sent(now_s, sent)
        return sent
