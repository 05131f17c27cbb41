"""An OpenDTU on MQTT: publishes the plant's inverters in OpenDTU's topic tree and obeys its limit commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.topics import OPENDTU_LIMIT_ABSOLUTE, OPENDTU_LIMIT_RELATIVE, OPENDTU_POWER, OpenDtuTopics
from zeropower.sim.dcbattery import DcBatteryInverter
from zeropower.sim.inverter import EFFICIENCY, InverterModel
from zeropower.sim.plant import Plant
from zeropower.sim.settings import OpenDtuSettings

log = logging.getLogger("zeropower.sim.opendtu")

#: MPP voltage of a panel in V, and how much it rises with the irradiation.
PANEL_VOLTAGE_V = 31.0
PANEL_VOLTAGE_RISE_V = 5.0


def number(value: float, digits: int) -> str:
    """A value as OpenDTU publishes it: plain text with a fixed number of decimals."""
    return f"{value:.{digits}f}"


def parse_limit(payload: str) -> float:
    """A limit command's payload as a number; ValueError for anything else (OpenDTU then ignores it)."""
    value = float(payload.strip())
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a limit: {payload[:40]!r}")
    return value


class OpenDtuEmulator:
    """Publishes each inverter's data every ``publish_interval_s`` and queues limit commands at the plant's radio.

    Like OpenDTU it ignores commands delivered as retained (a stale limit stored on the broker must never
    be applied at start-up) and commands whose payload is not a number. It runs the bus it is given: the
    DTU's own connection, whose availability topic is to be ``dtu/status``. With ``publishing`` off it
    publishes nothing but still takes commands, as a DTU whose telemetry hung (a fault to test against).
    """

    def __init__(
        self, plant: Plant, bus: MqttBus, settings: OpenDtuSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self._plant = plant
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._topics = OpenDtuTopics(settings.prefix)
        self._last_update: dict[str, int] = {}
        self._battery_readback_w: float | None = None  # the battery inverter's limit as last acknowledged
        self._battery_pending: tuple[float, float] | None = None  # (limit, when it is acknowledged)
        self.publishing = True
        bus.subscribe(self._topics.all_limit_commands(), self._on_command)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the DTU's MQTT connection and publish every interval until ``stop`` is set.

        The connection closes only after the last round of publishing, so no publish is cut off mid-flight.
        """
        disconnect = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._bus.run(disconnect))
            try:
                while not stop.is_set():
                    await self.publish()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._settings.publish_interval_s)
            finally:
                disconnect.set()

    async def publish(self) -> None:
        """Publish every inverter's topics and the totals once (nothing while ``publishing`` is off)."""
        if not self.publishing:
            return
        inverters = list(self._plant.inverters.values())
        for inverter in inverters:
            await self._publish_inverter(inverter)
        if self._plant.battery_inverter is not None:
            await self._publish_battery_inverter(self._plant.battery_inverter)
        live = [inverter for inverter in inverters if inverter.reachable]
        await self._send(self._topics.ac_total("power"), number(sum(i.output_w for i in live), 1))
        await self._send(self._topics.ac_total("yieldday"), number(sum(i.yield_day_wh for i in inverters), 0))
        await self._send(self._topics.ac_total("is_valid"), "1" if len(live) == len(inverters) else "0")
        await self._send(self._topics.dc_total("power"), number(sum(i.dc_power_w for i in live), 1))

    async def _publish_inverter(self, inverter: InverterModel) -> None:
        serial = inverter.serial
        if inverter.reachable:
            self._last_update[serial] = int(self._clock())
        values = {
            "name": inverter.settings.name,
            "status/reachable": "1" if inverter.reachable else "0",
            "status/producing": "1" if inverter.producing else "0",
            "status/last_update": str(self._last_update.get(serial, 0)),
            "status/limit_relative": number(self._plant.readback_w[serial] / inverter.settings.max_w * 100, 2),
            "status/limit_absolute": number(self._plant.readback_w[serial], 2),
        }
        if inverter.reachable:
            values |= _ac_values(inverter) | _dc_values(inverter)
        for subtopic, payload in values.items():
            await self._send(self._topics.inverter(serial, subtopic), payload)

    async def _publish_battery_inverter(self, inverter: DcBatteryInverter) -> None:
        """The battery-powered inverter as OpenDTU publishes any inverter: its DC input is the battery."""
        serial = inverter.serial
        if inverter.reachable:
            self._last_update[serial] = int(self._clock())
        readback_w = self.battery_readback_w(inverter)
        values = {
            "name": inverter.settings.name,
            "status/reachable": "1" if inverter.reachable else "0",
            "status/producing": "1" if inverter.producing else "0",
            "status/last_update": str(self._last_update.get(serial, 0)),
            "status/limit_relative": number(readback_w / inverter.settings.max_w * 100, 2),
            "status/limit_absolute": number(readback_w, 2),
        }
        if inverter.reachable:
            power_w = inverter.output_w
            values |= {
                "0/power": number(power_w, 1),
                "0/powerdc": number(inverter.dc_power_w, 1),
                "0/voltage": number(230.0, 1),
                "0/yieldtotal": number(inverter.yield_total_wh / 1000, 3),
                "1/power": number(inverter.dc_power_w, 1),
                "1/voltage": number(inverter.voltage_v, 1),
            }
        for subtopic, payload in values.items():
            await self._send(self._topics.inverter(serial, subtopic), payload)

    def battery_readback_w(self, inverter: DcBatteryInverter) -> float:
        """The battery inverter's limit as the DTU reads it back: a command's limit once it is acknowledged."""
        pending = self._battery_pending
        if pending is not None and self._plant.now_s >= pending[1]:
            self._battery_readback_w, self._battery_pending = pending[0], None
        return inverter.limit_w if self._battery_readback_w is None else self._battery_readback_w

    def _command_battery_inverter(self, inverter: DcBatteryInverter, command: str, message: IncomingMessage) -> None:
        """A limit (ignored when retained, as OpenDTU) or ``cmd/power`` (applied even retained, as OpenDTU does)."""
        if command not in {OPENDTU_LIMIT_ABSOLUTE, OPENDTU_LIMIT_RELATIVE, OPENDTU_POWER}:
            log.info("ignoring %s: not emulated", message.topic)
            return
        if message.retain and command != OPENDTU_POWER:
            log.warning("ignoring retained command on %s (OpenDTU ignores retained limits)", message.topic)
            return
        try:
            value = parse_limit(message.text)
        except ValueError:
            log.warning("ignoring %s: payload %r is not a number", message.topic, message.text[:40])
            return
        now_s = self._plant.now_s
        if command == OPENDTU_POWER:
            inverter.command_power(value > 0, now_s)
            log.info("battery inverter %s switched %s", inverter.serial, "on" if value > 0 else "off")
            return
        limit_w = value if command == OPENDTU_LIMIT_ABSOLUTE else value / 100 * inverter.settings.max_w
        taken_w = inverter.command_limit(limit_w, now_s)
        if taken_w is not None:
            self._battery_pending = (taken_w, now_s + self._settings.command_s)

    async def _send(self, topic: str, payload: str) -> None:
        await self._bus.publish(topic, payload, retain=self._settings.retain)

    async def _on_command(self, message: IncomingMessage) -> None:
        parts = self._topics.split(message.topic)
        if parts is None:
            return
        serial, command = parts
        battery_inverter = self._plant.battery_inverter
        if battery_inverter is not None and serial == battery_inverter.serial:
            self._command_battery_inverter(battery_inverter, command, message)
            return
        if command not in {OPENDTU_LIMIT_ABSOLUTE, OPENDTU_LIMIT_RELATIVE}:
            log.info("ignoring %s: only non-persistent limits are emulated", message.topic)
            return
        if message.retain:
            log.warning("ignoring retained command on %s (OpenDTU ignores retained commands)", message.topic)
            return
        inverter = self._plant.inverters.get(serial)
        if inverter is None:
            log.warning("ignoring %s: no inverter with serial %s", message.topic, serial)
            return
        try:
            value = parse_limit(message.text)
        except ValueError:
            log.warning("ignoring %s: payload %r is not a limit", message.topic, message.text[:40])
            return
        limit_w = value if command == OPENDTU_LIMIT_ABSOLUTE else value / 100 * inverter.settings.max_w
        self._plant.command_limit(serial, limit_w)
        log.debug("limit %.0f W for %s queued; %d command(s) waiting", limit_w, serial, len(self._plant.radio.queued))


def _ac_values(inverter: InverterModel) -> dict[str, str]:
    """The AC/global channel ``0/`` of a producing inverter."""
    power_w = inverter.output_w
    voltage_v = 230.0 + 0.003 * power_w
    return {
        "0/power": number(power_w, 1),
        "0/powerdc": number(inverter.dc_power_w, 1),
        "0/voltage": number(voltage_v, 1),
        "0/current": number(power_w / voltage_v, 2),
        "0/frequency": number(50.0, 2),
        "0/powerfactor": number(1.0 if power_w > 0 else 0.0, 3),
        "0/reactivepower": number(0.0, 1),
        "0/temperature": number(25.0 + 20.0 * power_w / inverter.settings.max_w, 1),
        "0/efficiency": number(EFFICIENCY * 100 if power_w > 0 else 0.0, 3),
        "0/yieldday": number(inverter.yield_day_wh, 0),
        "0/yieldtotal": number(inverter.yield_total_wh / 1000, 3),
    }


def _dc_values(inverter: InverterModel) -> dict[str, str]:
    """The DC channels ``1/``..``n/``: the panels share the DC power equally."""
    channels = inverter.settings.dc_channels
    panel_w = inverter.settings.max_w / channels
    power_w = inverter.dc_power_w / channels
    irradiation = power_w / panel_w
    voltage_v = PANEL_VOLTAGE_V + PANEL_VOLTAGE_RISE_V * min(irradiation, 1.0)
    values: dict[str, str] = {}
    for channel in range(1, channels + 1):
        values |= {
            f"{channel}/name": f"panel {channel}",
            f"{channel}/power": number(power_w, 1),
            f"{channel}/voltage": number(voltage_v, 1),
            f"{channel}/current": number(power_w / voltage_v, 2),
            f"{channel}/yieldday": number(inverter.yield_day_wh / EFFICIENCY / channels, 0),
            f"{channel}/yieldtotal": number(inverter.yield_total_wh / EFFICIENCY / channels / 1000, 3),
            f"{channel}/irradiation": number(irradiation * 100, 3),
        }
    return values
