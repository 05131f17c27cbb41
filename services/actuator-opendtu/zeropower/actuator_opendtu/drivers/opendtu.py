"""OpenDTU (github.com/tbnobody/OpenDTU): inverters addressed by serial below a base topic (commonly ``solar``).

Topics and payloads as ``src/MqttHandleInverter.cpp`` publishes them: ``status/...`` as Arduino ``String``s
(``1``, ``75.00``, ``1763900001``), ``<channel>/<field>`` with the field's digits (``305.2``); DC inputs are
numbered from 1, channel 0 is the inverter as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field

from zeropower.actuator_opendtu.drivers.base import (
    LimitCommand,
    TelemetryUpdate,
    check_max_limits,
    yield_total,
)
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.dtu_values import (
    OpenDtuPrefix,
    parse_flag,
    parse_limit,
    parse_percent,
    parse_power,
    parse_unix_time,
)
from zeropower.shared.settings import StrictModel
from zeropower.shared.topics import OpenDtuTopics


class OpenDtuConfig(StrictModel):
    """Talk to an OpenDTU; each inverter needs its ``serial``."""

    type: Literal["opendtu"] = Field("opendtu", description="Selects the OpenDTU driver.")
    prefix: OpenDtuPrefix = "solar"

    def device_ids(self, inverters: Sequence[InverterSettings]) -> list[str]:
        """Each inverter's device id, its serial; ValueError naming an inverter configured wrongly."""
        check_max_limits(inverters)
        ids = []
        for position, inverter in enumerate(inverters):
            if inverter.serial is None:
                raise ValueError(f"inverters[{position}].serial is required with the opendtu driver")
            if inverter.index is not None:
                raise ValueError(f"inverters[{position}].index is used only by the ahoydtu driver")
            ids.append(inverter.serial)
        return ids

    def create(self, inverters: Sequence[InverterSettings]) -> OpenDtuDriver:
        """The driver for these inverters."""
        return OpenDtuDriver(self.prefix, self.device_ids(inverters))


def _flag(field: str) -> Callable[[str, str], TelemetryUpdate]:
    return lambda serial, text: TelemetryUpdate(serial, **{field: parse_flag(text)})


def _power(field: str) -> Callable[[str, str], TelemetryUpdate]:
    return lambda serial, text: TelemetryUpdate(serial, **{field: parse_power(text)})


def _last_update(serial: str, text: str) -> TelemetryUpdate | None:
    updated_at = parse_unix_time(text)
    return None if updated_at is None else TelemetryUpdate(serial, updated_at=updated_at)


def _limit_absolute(serial: str, text: str) -> TelemetryUpdate:
    return TelemetryUpdate(serial, limit_w=parse_limit(text))


def _limit_relative(serial: str, text: str) -> TelemetryUpdate:
    return TelemetryUpdate(serial, limit_percent=parse_percent(text))


_READERS: dict[str, Callable[[str, str], TelemetryUpdate | None]] = {
    "status/reachable": _flag("reachable"),
    "status/producing": _flag("producing"),
    "status/last_update": _last_update,
    "status/limit_absolute": _limit_absolute,
    "status/limit_relative": _limit_relative,
    "0/power": _power("power_w"),
    "0/powerdc": _power("dc_power_w"),
    "0/yieldtotal": yield_total,
}
#: A DC input's power: Hoymiles inverters have at most 6 (HMT-2250), numbered 1-6; channel 0 is the whole inverter.
_DC_INPUT = re.compile(r"([1-6])/power")


class OpenDtuDriver:
    """OpenDTU's topics: ``<prefix>/<serial>/status/...``, ``0/power`` (AC), ``0/yieldtotal``, ``<n>/power`` (DC n)."""

    def __init__(self, prefix: str, serials: Sequence[str]) -> None:
        self._topics = OpenDtuTopics(prefix)
        self._serials = list(serials)

    def subscriptions(self) -> list[str]:
        """Every topic of each configured inverter."""
        return [self._topics.inverter_all(serial) for serial in self._serials]

    def parse(self, topic: str, payload: str) -> TelemetryUpdate | None:
        """Read one OpenDTU value; None for topics not used (names, radio statistics, commands)."""
        parts = self._topics.split(topic)
        if parts is None or parts[0] not in self._serials:
            return None
        serial, subtopic = parts
        reader = _READERS.get(subtopic)
        if reader is not None:
            return reader(serial, payload)
        dc_input = _DC_INPUT.fullmatch(subtopic)
        if dc_input is None:
            return None
        return TelemetryUpdate(serial, dc_channel_w=(int(dc_input[1]), parse_power(payload)))

    def limit_command(self, device_id: str, limit_w: float) -> LimitCommand:
        """``cmd/limit_nonpersistent_absolute`` with the limit in W as a plain number (0.1 W resolution)."""
        return LimitCommand(self._topics.limit_command(device_id), f"{round(limit_w, 1):g}")
