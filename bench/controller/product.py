"""zeropower itself: the controller's pure logic and the OpenDTU actuator's command policy, fed as the services do.

The controller service hands ``set_actuator`` the actuators' announced devices, every device state,
every grid reading (``on_grid``) and a 1 s ``tick``, and publishes each decision's setpoints; the
actuator-opendtu service passes them to its CommandPolicy (3 s between raises, 2 s between reductions,
changes under 10 W skipped) and sends what ``next_commands`` returns, then publishes the inverter's state
again (its telemetry unchanged, with the new last command and command budget) after its debounce. All of
the plant's inverters are announced by one actuator, as one OpenDTU serves them. The heater's (PWM)
actuator applies its setpoint at once.
"""

from __future__ import annotations

from bench.controller.plant import HEATER_ID, HEATER_RATED_W, Telemetry
from bench.controller.protocol import Setup
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.actuator_opendtu.policy import CommandPolicy
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuSettings
from zeropower.controller.logic import Decision, ZeroExportController
from zeropower.controller.service import REGULATING_MODES
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import DeviceInfo, DeviceState, GridReading

OPENDTU = "opendtu"
PWM = "pwm"


def controller_settings(setup: Setup) -> ControllerSettings:
    """The product's defaults, with the dead time an installer configured (by default the true one)."""
    options = setup.product
    chosen = {"learn_dynamics": options.learn_dynamics, "forecast_load": options.forecast_load}
    given = {name: value for name, value in chosen.items() if value is not None}
    dead_time_s = setup.preset.dead_time_s if options.dead_time_s is None else options.dead_time_s
    return ControllerSettings(dead_time_s=dead_time_s, **given)


def actuator_settings(setup: Setup) -> ActuatorOpenDtuSettings:
    """actuator-opendtu for the plant's inverters: its defaults, at the run's command budget if one is given."""
    per_hour = setup.product.commands_per_hour
    budget = {} if per_hour is None else {"commands_per_hour": per_hour}
    inverters = [
        InverterSettings(
            serial=spec.device_id, name=spec.name, max_w=spec.nameplate_w, nameplate_w=spec.nameplate_w, **budget
        )
        for spec in setup.inverters
    ]
    return ActuatorOpenDtuSettings(actuator_id=OPENDTU, inverters=inverters)


def announced(settings: ActuatorOpenDtuSettings) -> list[DeviceInfo]:
    """The devices the actuator announces, as its service builds them."""
    return [
        inverter.device_info(device_id, settings.pacing) for device_id, inverter in settings.inverters_by_id.items()
    ]


class Zeropower:
    """ZeroExportController + CommandPolicy behind the bench's Controller interface."""

    perfect_actuator = False

    def __init__(self, setup: Setup) -> None:
        self._now = 0.0
        self._logic = ZeroExportController(controller_settings(setup), self._clock)
        self.target_w = self._logic.settings.target_w
        self._policy: CommandPolicy | None = None
        self._debounce_s = 0.0
        self._states: dict[str, DeviceState] = {}  # each inverter's state as the actuator last published it
        if setup.heater:
            heater = DeviceInfo(device_id=HEATER_ID, name="heater", kind="consumer", min_w=0, max_w=HEATER_RATED_W)
            self._logic.set_actuator(PWM, [heater])
        else:
            settings = actuator_settings(setup)
            self._policy = CommandPolicy(settings, self._clock)
            self._debounce_s = settings.telemetry_debounce_s
            self._logic.set_actuator(OPENDTU, announced(settings))

    def _clock(self) -> float:
        return self._now

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        self._now = now_s
        for state in states:
            heater = state.device_id == HEATER_ID
            published = DeviceState(
                timestamp=now_s,
                actuator_id=PWM if heater else OPENDTU,
                device_id=state.device_id,
                reachable=state.reachable,
                producing=not heater and state.power_w > 0,
                power_w=state.power_w,
                limit_w=None if heater else state.limit_w,
                duty=state.power_w / HEATER_RATED_W if heater else None,
                updated_at=now_s,
                commands_left=None if self._policy is None else self._policy.commands_left(state.device_id),
            )
            self._states[state.device_id] = published
            self._logic.on_device_state(published)

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        self._now = now_s
        commands = self._publish(self._logic.on_grid(GridReading(timestamp=now_s, power_w=grid_w)))
        tick = self._logic.tick()
        if tick.state.mode not in REGULATING_MODES:  # as the service: ticks carry setpoints only then
            commands.update(self._publish(tick))
        if self._policy is not None:
            sent = {command.device_id: command.limit_w for command in self._policy.next_commands()}
            commands.update(sent)
            self._republish(now_s, sent)
        return commands

    def _republish(self, now_s: float, sent: dict[str, float]) -> None:
        """The actuator's state of each inverter just commanded, published again after its debounce."""
        assert self._policy is not None
        self._now = now_s + self._debounce_s
        for device_id, limit_w in sent.items():
            known = self._states.get(device_id)
            if known is None:
                continue
            self._states[device_id] = known.model_copy(
                update={
                    "timestamp": self._now,
                    "last_command_w": limit_w,
                    "last_command_at": now_s,
                    "commands_left": self._policy.commands_left(device_id),
                }
            )
            self._logic.on_device_state(self._states[device_id])

    def _publish(self, decision: Decision) -> dict[str, float]:
        """Hand the setpoints to the actuators; returns the heater's (applied at once)."""
        if self._policy is not None and OPENDTU in decision.setpoints:
            self._policy.on_setpoints(decision.setpoints[OPENDTU], dry_run=decision.dry_run)
        return dict(decision.setpoints.get(PWM, {}))
