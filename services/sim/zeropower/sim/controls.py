"""Commands to the simulator over MQTT: load, PV, radio links, and the PWM output the simulated heater follows."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from zeropower.shared.messages import parse_on_off
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.topics import Topics
from zeropower.sim.dcbattery import BmsPublisher
from zeropower.sim.opendtu import OpenDtuEmulator
from zeropower.sim.plant import Plant

log = logging.getLogger("zeropower.sim.controls")

AUTO = "auto"


def parse_override(payload: str) -> float | None:
    """A forced value in W (a number >= 0), or None for ``auto`` (back to the profile)."""
    text = payload.strip().strip('"')
    if text.lower() == AUTO:
        return None
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a number >= 0 or 'auto', got {payload[:40]!r}")
    return value


class SimControls:
    """Applies ``<p>/sim/set/load_w``, ``pv_w`` and ``reachable/<serial>`` to the plant, ``dtu_telemetry`` to the DTU.

    With a DC-coupled battery also ``battery_solar_w`` (its DC solar, W or ``auto``: the configured one) and ``bms``
    (``on``/``off``: its BMS bridge publishes or falls silent).

    Retained commands are ignored: a forgotten retained override would silently bend every later run.
    """

    def __init__(self, plant: Plant, dtu: OpenDtuEmulator, bus: MqttBus, topics: Topics) -> None:
        self._plant = plant
        self._dtu = dtu
        bus.subscribe(topics.sim_set("load_w"), self._on_load)
        bus.subscribe(topics.sim_set("pv_w"), self._on_pv)
        bus.subscribe(topics.sim_set_reachable("+"), self._on_reachable)
        bus.subscribe(topics.sim_set_dtu_telemetry(), self._on_dtu_telemetry)
        self.bms: BmsPublisher | None = None  # set by the service when the battery is DC-coupled
        if plant.battery_inverter is not None:
            bus.subscribe(topics.sim_set("battery_solar_w"), self._on_battery_solar)
            bus.subscribe(topics.sim_set("bms"), self._on_bms)
        if plant.heater is not None:
            bus.subscribe(topics.sim_pwm_duty(plant.heater.settings.output_id), self._on_duty)

    async def _on_load(self, message: IncomingMessage) -> None:
        self._apply_override(message, "load", self._plant.set_load_w)

    async def _on_pv(self, message: IncomingMessage) -> None:
        self._apply_override(message, "PV", self._plant.set_pv_w)

    async def _on_reachable(self, message: IncomingMessage) -> None:
        link_ok = self._switch(message)
        if link_ok is None:
            return
        serial = message.topic.rpartition("/")[2]
        inverter = self._plant.inverters.get(serial)
        if inverter is None:
            log.warning("ignoring %s: no inverter with serial %s", message.topic, serial)
            return
        inverter.link_ok = link_ok
        log.info("radio link to %s %s", serial, "up" if link_ok else "down")

    async def _on_dtu_telemetry(self, message: IncomingMessage) -> None:
        publishing = self._switch(message)
        if publishing is None:
            return
        self._dtu.publishing = publishing
        log.info("the DTU's telemetry %s", "flows" if publishing else "stopped (commands still go out)")

    async def _on_battery_solar(self, message: IncomingMessage) -> None:
        inverter = self._plant.battery_inverter
        if inverter is not None:
            self._apply_override(message, "DC solar of the battery", lambda w: setattr(inverter, "solar_w", w or 0.0))

    async def _on_bms(self, message: IncomingMessage) -> None:
        publishing = self._switch(message)
        if publishing is None or self.bms is None:
            return
        self.bms.publishing = publishing
        log.info("the BMS bridge %s", "publishes" if publishing else "fell silent")

    def _switch(self, message: IncomingMessage) -> bool | None:
        """An ``on``/``off`` command, or None (logged) when retained or neither."""
        if self._refuse_retained(message):
            return None
        try:
            return parse_on_off(message.payload)
        except ValueError as error:
            log.warning("ignoring %s: %s", message.topic, error)
            return None

    async def _on_duty(self, message: IncomingMessage) -> None:
        """The PWM output's duty cycle (retained: it is the pin's state, not a command)."""
        heater = self._plant.heater
        if heater is None:
            return
        try:
            duty = float(message.text)
            if not 0.0 <= duty <= 1.0:  # also refuses NaN
                raise ValueError
        except ValueError:
            log.warning("ignoring %s: expected a duty cycle 0-1, got %r", message.topic, message.text[:40])
            return
        heater.set_duty(duty)

    def _apply_override(self, message: IncomingMessage, what: str, apply: Callable[[float | None], None]) -> None:
        if self._refuse_retained(message):
            return
        try:
            value = parse_override(message.text)
        except ValueError:
            log.warning("ignoring %s: expected a number >= 0 or 'auto', got %r", message.topic, message.text[:40])
            return
        apply(value)
        log.info("%s %s", what, "from the profile" if value is None else f"forced to {value:g} W")

    @staticmethod
    def _refuse_retained(message: IncomingMessage) -> bool:
        if message.retain:
            log.warning("ignoring retained command on %s: publish it without the retain flag", message.topic)
        return message.retain
