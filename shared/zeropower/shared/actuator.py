"""What every actuator shares: taking setpoint commands in, and publishing its retained state."""

from __future__ import annotations

import logging

from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import (
    ActuatorMode,
    ActuatorState,
    InvalidMessageError,
    SetpointCommand,
    parse_message,
)
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.topics import Topics


def live_setpoints(message: IncomingMessage, problems: ChangeLogger) -> SetpointCommand | None:
    """The command in a setpoint message; None (reported once to ``problems``) if retained or invalid."""
    if message.retain:
        problems.report(f"ignoring a retained message on {message.topic}: setpoints must be live")
        return None
    try:
        command = parse_message(SetpointCommand, message.payload)
    except InvalidMessageError as error:
        problems.report(f"ignoring {message.topic}: {error}")
        return None
    problems.report(None)
    return command


class ActuatorStateReporter:
    """Publishes ``<p>/actuator/<id>/state`` on changes only, and logs each new mode with its reason."""

    def __init__(self, bus: MqttBus, topics: Topics, actuator_id: str, log: logging.Logger) -> None:
        self._bus = bus
        self._topic = topics.actuator_state(actuator_id)
        self._actuator_id = actuator_id
        self._log = log
        self._published: tuple[str, str, int] | None = None
        self.commands_sent = 0

    async def report(self, mode: ActuatorMode, reason: str) -> None:
        """Publish the state (retained) unless it is what was published last."""
        if self._published is None or self._published[:2] != (mode, reason):
            self._log.info("mode %s: %s", mode, reason)
        current = (mode, reason, self.commands_sent)
        if current == self._published:
            return
        self._published = current
        state = ActuatorState(actuator_id=self._actuator_id, mode=mode, reason=reason, commands_sent=self.commands_sent)
        await self._bus.publish(self._topic, state, retain=True)
