"""A battery-powered (DC-coupled) Hoymiles inverter behind OpenDTU, with the battery's BMS read over MQTT.

The set-up of OpenDTU-OnBattery's "battery-powered inverter": the inverter's DC inputs hang on a battery (and
possibly a solar charge controller feeding the same battery); the inverter's limit is the discharge power. It
cannot charge from AC, so the battery's ``max_charge_w`` must be 0. This inverter must **not** also be listed in
actuator-opendtu: two services would fight over its limit.

Sources (facts only):

- OpenDTU's MQTT layout and commands: hoylabs/OpenDTU-OnBattery (commit 1bfc0cc, 2026-03-31; OpenDTU's own
  handler, unchanged in the fork) ``src/MqttHandleInverter.cpp``: per inverter ``<prefix>/<serial>/``
  ``status/reachable``, ``status/producing`` (``0``/``1``), ``status/limit_relative`` (%),
  ``status/limit_absolute`` (W, computed from a maximum power read from the inverter some time after boot, so the
  relative one times the nameplate is used when ``nameplate_w`` is set), ``0/power`` (AC output, W). Commands on
  ``cmd/limit_nonpersistent_absolute`` (W; ignored when retained) and ``cmd/power`` (a number: > 0 on, else off;
  **not** ignored when retained, so never published retained). /work/shared/reference/opendtu.md: a limit's
  radio round trip ~2 s, OpenDTU publishes every 5 s, the protocol floor is 2 % of the nameplate and some models
  are unstable below ~5 %.
- How OpenDTU-OnBattery stops and starts a battery-powered inverter (same commit):
  ``src/PowerLimiterBatteryInverter.cpp`` keeps a running inverter at least at its "lower power limit" (default
  10 W, ``include/defaults.h``) and puts it in standby (``cmd/power`` off: ``sendPowerControlRequest(false)``,
  ``src/PowerLimiterInverter.cpp``) when less than that is wanted and "Allow Standby" is set (default on); it
  wakes it only for at least its lower limit, sending the limit first and the power-on after it.
  ``src/PowerLimiter.cpp`` asks 0 W of the battery inverters in its STOP state (battery at/below the stop
  threshold), so they go to standby then.
- The BMS over MQTT: as OpenDTU-OnBattery's MQTT battery provider (``src/battery/mqtt/Provider.cpp``, ``src/Utils.cpp``
  ``getNumericValueFromMqttPayload``): a topic per value, a plain number or a JSON document with a path to the
  number (OnBattery separates the keys with ``/``, zeropower with ``.``), SoC refused outside 0-100 %, a voltage
  unit factor. A real bridge: dreadnought/python-daly-bms ``bin/daly-bms-cli --soc --mqtt`` publishes (retained)
  to ``daly_bms`` ``{"total_voltage": 57.7, "current": -11.1, "soc_percent": 99.1}`` (``README.md``), i.e.
  ``soc.path: soc_percent``, ``voltage.path: total_voltage``; with ``--all`` the same keys below ``soc``.

Choices:

- Standby only for stop states. The service passes ``standby=True`` when nothing may be discharged at all (the
  reserve or minimum voltage reached without solar to pass through, an unknown or stale SoC/voltage, a setpoint
  timeout, its stop, back from an outage, found discharging at start): the inverter is switched off
  (``cmd/power 0``), since at its lowest limit it still feeds. For ordinary regulation (a setpoint of 0 or below
  the floor while discharge is allowed) it stays on at its floor (``min_discharge_w``): unlike OnBattery's
  default, it is never switched off to regulate, because a Hoymiles switched on again soft-starts slowly (the
  reference: minutes to full power) and the controller's setpoints cross 0 often. It is switched on (limit first,
  then ``cmd/power 1``) only for a discharge of at least its floor, as OnBattery does.
- Ages: every value carries its arrival on the monotonic clock; ``measured_at`` is the oldest of the inverter's
  (``0/power``, ``status/reachable``) and each configured BMS/charger value, so one silent source makes the whole
  reading stale (no discharge after ``soc_stale_after_s``). Retained messages (handed over at subscription, of
  unknown age: e.g. daly-bms-cli publishes retained) are not taken; the next live one is.
- Garbage (not a number, NaN, 1e308, a string or boolean, a missing key, out of range) is dropped with one log
  line a minute naming the field; the last good value keeps its age and goes stale. It does not make the
  battery "unreachable": the service would then write nothing, and a discharge would run on.
- No watchdog: OpenDTU's non-persistent limit and the on/off state stay as set when this service dies; a restart
  of the service switches a discharging inverter off at once. An inverter that restarts forgets the
  non-persistent limit and starts at its persistent one: set that (OpenDTU's limit dialog, "persistent") to a
  low value.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from zeropower.actuator_battery.drivers.base import MAX_VOLTAGE_V, BatteryError, BatteryReading, FitCheck
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.dtu_values import MAX_LIMIT_W, OpenDtuPrefix, parse_flag, parse_limit, parse_percent, parse_power
from zeropower.shared.messages import MAX_POWER_W
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.settings import StrictModel
from zeropower.shared.topics import OpenDtuTopics

log = logging.getLogger(__name__)

#: Hoymiles' protocol floor for a limit, in % of the nameplate (reference: 3rd-generation models).
PROTOCOL_FLOOR_PERCENT = 2.0
#: A BMS or charger payload larger than this is refused unread, in bytes.
MAX_PAYLOAD_BYTES = 65536
#: The read-back of a command is compared only this long after it, in s: the radio's ~2-4 s and OpenDTU's 5 s
#: publish interval (reference), so a command still on its way is not taken as lost.
READBACK_AFTER_S = 10.0
#: A limit read back within this of the one sent counts as the one sent, in W (OpenDTU rounds the relative limit).
READBACK_TOLERANCE_W = 1.5


class MqttValue(StrictModel):
    """A number published on an MQTT topic: the whole payload, or a value at a path in a JSON payload."""

    topic: str = Field(min_length=1, pattern=r"^[^#+]+$", description="The topic it is published on (no wildcards).")
    path: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[^.]+(\.[^.]+)*$",
        description="Keys to the number in a JSON payload, separated by dots (e.g. soc_percent or soc.soc_percent; "
        "a list index as a number); none: the payload is a plain number.",
    )
    scale: float = Field(
        1.0, gt=0, le=1e6, description="Factor the value is multiplied by (0.001 for a voltage in mV)."
    )


class OpenDtuBatteryConfig(StrictModel):
    """A battery-powered Hoymiles inverter behind OpenDTU; its BMS's SoC and/or voltage from MQTT topics."""

    type: Literal["opendtu"] = Field(description="Driver for a battery-powered Hoymiles inverter behind OpenDTU.")
    prefix: OpenDtuPrefix = "solar"
    serial: str = Field(pattern=r"^[0-9A-Za-z]+$", description="The inverter's serial number as OpenDTU shows it.")
    nameplate_w: float = Field(
        gt=0,
        le=MAX_LIMIT_W,
        description="The inverter's rated AC power in W (800 for an HM-800): its relative limit read-back times "
        "this, and the base of min_percent.",
    )
    min_percent: float = Field(
        5.0,
        ge=PROTOCOL_FLOOR_PERCENT,
        le=50,
        description="Lowest limit while it runs, in % of nameplate_w: the protocol's floor is 2 %, some models "
        "are unstable below ~5 %. It feeds at least this much while on; it is switched off only for stop states.",
    )
    soc: MqttValue | None = Field(
        None, description="The BMS's state of charge in % (e.g. topic daly_bms, path soc_percent)."
    )
    voltage: MqttValue | None = Field(
        None,
        description="The battery's voltage in V (e.g. topic daly_bms, path total_voltage); needed for min_voltage_v.",
    )
    solar: MqttValue | None = Field(
        None,
        description="DC solar power into the battery side in W (a charge controller's output, e.g. a Victron "
        "MPPT over MQTT): passed through while the battery is stopped (solar pass-through).",
    )
    min_write_interval_s: float = Field(
        3.0,
        ge=0,
        le=60,
        description="Least time between two commands, in s: OpenDTU queues them on one radio, ~2 s each "
        "(one every 3-10 s is realistic for a Hoymiles).",
    )

    @field_validator("serial", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        """Accept an unquoted serial such as 116180000001 (YAML reads it as a number)."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def min_limit_w(self) -> float:
        """The lowest limit while it runs, in W."""
        return round(self.nameplate_w * self.min_percent / 100, 1)

    def check_fit(self, fit: FitCheck) -> None:
        """A battery inverter on the DC side cannot charge from AC, feeds at most its nameplate, needs a BMS value."""
        if fit.max_charge_w > 0:
            raise ValueError(
                f"max_charge_w must be 0 with the opendtu driver, not {fit.max_charge_w:g} W: a battery inverter on "
                "the DC side cannot charge from AC"
            )
        if fit.max_discharge_w > self.nameplate_w:
            raise ValueError(
                f"max_discharge_w ({fit.max_discharge_w:g} W) must not exceed driver.nameplate_w "
                f"({self.nameplate_w:g} W)"
            )
        if fit.min_voltage_v is not None and self.voltage is None:
            raise ValueError("min_voltage_v needs driver.voltage (the topic the battery's voltage is published on)")
        if self.soc is None and fit.min_voltage_v is None:
            raise ValueError(
                "driver.soc (the BMS's state of charge) is required by the opendtu driver, or driver.voltage with "
                "min_voltage_v"
            )


@dataclass
class _Value:
    """The newest good value of one source and its arrival (monotonic s)."""

    value: float | None = None
    at: float = -math.inf


def read_number(payload: bytes, path: str | None) -> float:
    """The number in ``payload`` (plain, or at the dotted ``path`` in JSON); ValueError naming what is wrong.

    JSON numbers only: no strings, booleans, ``NaN``/``Infinity``; finite after reading (``1e400`` is refused).
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes is too large")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    try:
        node: Any = json.loads(payload, parse_constant=no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON or a number: {payload[:40]!r}") from error
    for key in path.split(".") if path else []:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise ValueError(f"no {key!r} at {path!r}")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ValueError(f"{type(node).__name__} {str(node)[:40]!r} is not a number")
    value = float(node)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return value


class OpenDtuBattery:
    """One battery-powered Hoymiles: telemetry and BMS values gathered from MQTT, limit and on/off sent to OpenDTU."""

    def __init__(self, config: OpenDtuBatteryConfig, bus: MqttBus, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._bus = bus
        self._clock = clock
        self._dtu = OpenDtuTopics(config.prefix)
        self.min_write_interval_s = config.min_write_interval_s
        self.min_discharge_w = config.min_limit_w
        self._inverter: dict[str, _Value] = {name: _Value() for name in ("power", "reachable", "producing", "limit")}
        self._sources: dict[str, MqttValue] = {
            name: source
            for name, source in (("soc", config.soc), ("voltage", config.voltage), ("solar", config.solar))
            if source is not None
        }
        self._bms: dict[str, _Value] = {name: _Value() for name in self._sources}
        self._problems = {
            name: ChangeLogger(log, f"battery inverter {config.serial}: {name}")
            for name in (*self._inverter, *self._sources)
        }
        self._running: bool | None = None  # what we switched it to: on, off, or not known (never, or it was away)
        self._command: tuple[float, bool, float] | None = None  # the last request (W, standby, monotonic time)
        self._handlers: list[tuple[str, Callable[[IncomingMessage], Any]]] = [
            (self._dtu.inverter_all(config.serial), self._on_inverter)
        ]
        for name, source in self._sources.items():
            self._handlers.append((source.topic, self._bms_handler(name)))
        for topic_filter, handler in self._handlers:
            bus.subscribe(topic_filter, handler)

    # ---- inputs ---------------------------------------------------------------------------------

    async def _on_inverter(self, message: IncomingMessage) -> None:
        parts = self._dtu.split(message.topic)
        if parts is None or message.retain:  # a stored value of unknown age
            return
        readers: dict[str, tuple[str, Callable[[str], float]]] = {
            "0/power": ("power", parse_power),
            "status/reachable": ("reachable", lambda text: float(parse_flag(text))),
            "status/producing": ("producing", lambda text: float(parse_flag(text))),
        }
        if parts[1] == "status/limit_relative":
            readers[parts[1]] = ("limit", lambda text: parse_percent(text) * self._config.nameplate_w / 100)
        if parts[1] == "status/limit_absolute" and self._inverter["limit"].at == -math.inf:
            readers[parts[1]] = ("limit", parse_limit)  # only until a relative one came: that one is reliable
        reader = readers.get(parts[1])
        if reader is None:
            return
        name, parse = reader
        self._take(self._inverter, name, lambda: parse(message.text))
        if name == "reachable" and self._inverter["reachable"].value == 0:
            self._running = None  # it may restart while away: its on/off state is not known any more

    def _bms_handler(self, name: str) -> Callable[[IncomingMessage], Any]:
        source = self._sources[name]
        low, high = {"soc": (0.0, 100.0), "voltage": (0.0, MAX_VOLTAGE_V), "solar": (-MAX_POWER_W, MAX_POWER_W)}[name]

        def parse(payload: bytes) -> float:
            value = read_number(payload, source.path) * source.scale
            if not low <= value <= high:
                raise ValueError(f"{value:g} is not within {low:g}..{high:g}")
            return value

        async def handle(message: IncomingMessage) -> None:
            if message.topic == source.topic and not message.retain:
                self._take(self._bms, name, lambda: parse(message.payload))

        return handle

    def _take(self, values: dict[str, _Value], name: str, parse: Callable[[], float]) -> None:
        """Store a parsed value with its arrival; on garbage keep the last good one (it ages) and log once."""
        try:
            value = parse()
        except ValueError as error:
            self._problems[name].report(f"ignored: {error}")
            return
        values[name] = _Value(value, self._clock())
        self._problems[name].report(None)

    # ---- the driver contract --------------------------------------------------------------------

    def holds_for_s(self, power_w: float) -> float | None:
        """None: OpenDTU and the inverter have no watchdog; a limit and an on/off state last until changed."""
        return None

    async def read(self) -> BatteryReading:
        """The inverter's output (as a discharge) and the BMS's values; BatteryError while one is missing."""
        serial = self._config.serial
        inverter = self._inverter
        if inverter["reachable"].value is None:
            raise BatteryError(f"no status/reachable from OpenDTU for inverter {serial} yet")
        if inverter["reachable"].value == 0:
            raise BatteryError(f"inverter {serial} not reachable (OpenDTU status/reachable 0)")
        if inverter["power"].value is None:
            raise BatteryError(f"no 0/power from OpenDTU for inverter {serial} yet")
        for name, value in self._bms.items():
            if value.value is None:
                problem = self._problems[name].problem
                raise BatteryError(
                    f"no {name} on {self._sources[name].topic} yet" + (f" ({problem})" if problem else "")
                )
        ages = [inverter["power"].at, inverter["reachable"].at, *(value.at for value in self._bms.values())]
        return BatteryReading(
            measured_at=min(ages),
            soc_pct=self._bms["soc"].value if "soc" in self._bms else None,
            power_w=-inverter["power"].value,
            setpoint_w=self._readback(),
            voltage_v=self._bms["voltage"].value if "voltage" in self._bms else None,
            solar_w=self._bms["solar"].value if "solar" in self._bms else None,
        )

    def _readback(self) -> float | None:
        """The setpoint in force, from the limit and on/off read back; None while a command may still be on its way.

        A running inverter holds the request when its limit is the request raised to the floor; one switched off
        (or kept off) holds it when it no longer produces. Anything else is reported as what it does, so the
        service sees the request was lost and sends it again.
        """
        limit = self._inverter["limit"].value
        producing = self._inverter["producing"].value
        command = self._command
        if command is None:
            if producing is None:
                return None
            return -(limit or 0.0) if producing else 0.0
        requested_w, standby, sent_at = command
        if self._clock() - sent_at < READBACK_AFTER_S:
            return None
        if standby or not self._running:
            return requested_w if producing == 0 else -(limit or 0.0)
        expected = self._limit_for(requested_w)
        if limit is not None and abs(limit - expected) <= READBACK_TOLERANCE_W:
            return requested_w
        return None if limit is None else -limit

    def _limit_for(self, power_w: float) -> float:
        """The limit for a discharge of ``-power_w`` while running: at least the floor, at most the nameplate."""
        return round(min(max(-power_w, self.min_discharge_w), self._config.nameplate_w), 1)

    async def set_power(self, power_w: float, *, standby: bool = False) -> None:
        """Discharge at ``-power_w`` W (at least the floor while it runs); ``standby``: switch it off.

        Off, it is switched on only for a discharge of at least its floor: the limit first, then ``cmd/power 1``.
        A charge cannot be done (DC-coupled): a positive power is taken as 0.
        """
        serial = self._config.serial
        producing = self._inverter["producing"].value
        if self._running is None and producing is not None:
            self._running = producing == 1  # as found (at start, or back from an outage)
        if standby:
            await self._send(self._dtu.power_command(serial), "0")
            self._running = False
        elif power_w < 0 and (self._running or -power_w >= self.min_discharge_w):
            await self._send(self._dtu.limit_command(serial), f"{self._limit_for(power_w):g}")
            if not self._running:
                await self._send(self._dtu.power_command(serial), "1")
                self._running = True
        elif self._running:
            await self._send(self._dtu.limit_command(serial), f"{self.min_discharge_w:g}")  # 0 W: at its floor
        self._command = (min(power_w, 0.0), standby, self._clock())

    async def _send(self, topic: str, payload: str) -> None:
        """Publish a command once, never retained (OpenDTU would apply a retained ``cmd/power`` again)."""
        if not await self._bus.publish(topic, payload, acknowledged=True):
            raise BatteryError(f"MQTT broker did not take {topic} {payload}: not connected")

    async def release(self) -> None:
        """Switch it off: a battery inverter has no mode of its own to hand back to, and off never exports."""
        await self.set_power(0.0, standby=True)

    async def close(self) -> None:
        """Stop listening to OpenDTU and the BMS."""
        for topic_filter, handler in self._handlers:
            self._bus.unsubscribe(topic_filter, handler)
        self._handlers = []
