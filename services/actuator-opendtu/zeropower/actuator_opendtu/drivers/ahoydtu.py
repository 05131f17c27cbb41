"""AhoyDTU (github.com/lumapu/ahoy): inverters addressed by name for telemetry and by index for commands.

Topics and payloads as its sources publish them (``src/publisher/pubMqtt.h``, ``pubMqttIvData.h``, field names in
``src/hm/hmDefines.h``) with "Payload as JSON" off, its default: ``<name>/available`` and ``last_success`` as
``%d``, ``<name>/ch<n>/<field>`` as ``%g`` (``71``, ``74.6``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from pydantic import Field, field_validator

from zeropower.actuator_opendtu.drivers.base import (
    LimitCommand,
    TelemetryUpdate,
    check_max_limits,
    yield_total,
)
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.dtu_values import parse_percent, parse_power, parse_unix_time
from zeropower.shared.settings import StrictModel
from zeropower.shared.topics import AhoyDtuTopics

#: AhoyDTU's ``available`` codes, its ``InverterStatus`` (``src/hm/hmInverter.h``): 0 OFF (no data for 15 min),
#: 1 STARTING (available, not producing), 2 PRODUCING, 3 WAS_PRODUCING (available), 4 WAS_ON (no data for 5 min).
CODES = ("0", "1", "2", "3", "4")
REACHABLE_CODES = frozenset({"1", "2", "3"})
PRODUCING_CODE = "2"


class AhoyDtuConfig(StrictModel):
    """Talk to an AhoyDTU; each inverter needs its ``name`` and ``index`` from AhoyDTU's setup page."""

    type: Literal["ahoydtu"] = Field("ahoydtu", description="Selects the AhoyDTU driver.")
    prefix: str = Field(
        "inverter",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="AhoyDTU's MQTT topic (its setup page), a trailing slash is ignored.",
    )

    @field_validator("prefix")
    @classmethod
    def _without_trailing_slash(cls, prefix: str) -> str:
        return prefix.rstrip("/") or prefix

    def device_ids(self, inverters: Sequence[InverterSettings]) -> list[str]:
        """Each inverter's device id, its name; ValueError naming an inverter configured wrongly."""
        check_max_limits(inverters)
        return list(self._indexes(inverters))

    def create(self, inverters: Sequence[InverterSettings]) -> AhoyDtuDriver:
        """The driver for these inverters."""
        return AhoyDtuDriver(self.prefix, self._indexes(inverters))

    @staticmethod
    def _indexes(inverters: Sequence[InverterSettings]) -> dict[str, int]:
        """Inverter name to index, checking that both are set and unique."""
        indexes: dict[str, int] = {}
        for position, inverter in enumerate(inverters):
            if inverter.name is None:
                raise ValueError(f"inverters[{position}].name is required with the ahoydtu driver")
            if inverter.index is None:
                raise ValueError(f"inverters[{position}].index is required with the ahoydtu driver")
            if inverter.name in indexes:
                raise ValueError(f"inverters[{position}].name {inverter.name!r} is used twice")
            if inverter.index in indexes.values():
                raise ValueError(f"inverters[{position}].index {inverter.index} is used twice")
            indexes[inverter.name] = inverter.index
        return indexes


def _available(name: str, text: str) -> TelemetryUpdate:
    code = text.strip()
    if code not in CODES:
        raise ValueError(f"expected an availability code 0-4, got {text[:40]!r}")
    return TelemetryUpdate(name, reachable=code in REACHABLE_CODES, producing=code == PRODUCING_CODE)


def _last_success(name: str, text: str) -> TelemetryUpdate | None:
    updated_at = parse_unix_time(text)
    return None if updated_at is None else TelemetryUpdate(name, updated_at=updated_at)


def _power(field: str) -> Callable[[str, str], TelemetryUpdate]:
    return lambda name, text: TelemetryUpdate(name, **{field: parse_power(text)})


def _power_limit(name: str, text: str) -> TelemetryUpdate:
    return TelemetryUpdate(name, limit_percent=parse_percent(text))


_READERS: dict[str, Callable[[str, str], TelemetryUpdate | None]] = {
    "available": _available,
    "last_success": _last_success,
    "ch0/P_AC": _power("power_w"),
    "ch0/P_DC": _power("dc_power_w"),
    # the limit in force in %; named so since 0.5.90 (2023), the manual's ``PowerLimit`` is older
    "ch0/active_PowerLimit": _power_limit,
    "ch0/YieldTotal": yield_total,  # kWh, retained, %g of a value rounded to 3 decimals (``1234.57``)
}
#: A DC input's power: Hoymiles inverters have at most 6 (HMT-2250), ch1-ch6; ch0 is the whole inverter.
_DC_INPUT = re.compile(r"ch([1-6])/P_DC")


class AhoyDtuDriver:
    """AhoyDTU's topics: telemetry on ``<prefix>/<name>/...``, commands on ``<prefix>/ctrl/limit/<i>``."""

    def __init__(self, prefix: str, indexes: Mapping[str, int]) -> None:
        self._topics = AhoyDtuTopics(prefix)
        self._indexes = dict(indexes)

    def subscriptions(self) -> list[str]:
        """Every topic of each configured inverter."""
        return [self._topics.inverter_all(name) for name in self._indexes]

    def parse(self, topic: str, payload: str) -> TelemetryUpdate | None:
        """Read one AhoyDTU value; None for topics not used."""
        parts = self._topics.split(topic)
        if parts is None or parts[0] not in self._indexes:
            return None
        name, subtopic = parts
        reader = _READERS.get(subtopic)
        if reader is not None:
            return reader(name, payload)
        dc_input = _DC_INPUT.fullmatch(subtopic)
        if dc_input is None:
            return None
        return TelemetryUpdate(name, dc_channel_w=(int(dc_input[1]), parse_power(payload)))

    def limit_command(self, device_id: str, limit_w: float) -> LimitCommand:
        """``ctrl/limit/<index>`` with the limit in whole W and the unit, e.g. ``600W``.

        AhoyDTU reads a payload ending in ``W`` as an absolute non-persistent limit, any other as a relative
        one (``src/publisher/pubMqtt.h``, ``handleMessage``).
        """
        return LimitCommand(self._topics.limit_command(self._indexes[device_id]), f"{round(limit_w)}W")
