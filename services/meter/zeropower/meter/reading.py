"""What a driver hands the service: plain numbers in W, raw counters, the device's own time; or why not."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from zeropower.shared.messages import GridReading

if TYPE_CHECKING:
    from zeropower.meter.device_time import DeviceTime

PowerUnit = Literal["W", "kW", "mW"]
EnergyUnit = Literal["Wh", "kWh"]
#: Wh per energy unit.
WH_PER_UNIT: dict[str, float] = {"Wh": 1.0, "kWh": 1000.0}

_WATTS_PER_UNIT: dict[str, float] = {"W": 1.0, "kW": 1000.0, "mW": 0.001}

#: A number written as text: optional sign, digits, optional fraction; no exponent, underscore, hex, inf or nan.
_PLAIN_DECIMAL = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*")


class MeterError(Exception):
    """The meter gave no usable value; the message names what was wrong (it becomes the reading's error)."""


@dataclass(frozen=True)
class RawValue:
    """A value as the device sent it and where it was found; the service checks it before publishing.

    ``wh_per_unit``: an energy counter's Wh per unit it is sent in (1000 for kWh).
    """

    value: Any
    what: str
    wh_per_unit: float = 1.0


@dataclass(frozen=True)
class PhaseValues:
    """One phase's extras as read (finite, not yet bounded); None where the meter has none."""

    power_w: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    power_factor: float | None = None


@dataclass(frozen=True)
class MeterValues:
    """One read of the meter, before the service's checks (plausibility, frozen device time).

    ``power_w`` is grid power in W, positive = import, after unit, sign and import - export: finite but not
    yet bounded. ``energy_import``/``energy_export`` are the meter's own counters in Wh, handed in only by a
    driver whose ``netted_counters`` is True: they count this power, netted across phases. ``timestamp`` is
    the device's own time of measurement (Unix s), None for the time the request was sent. ``device_time`` is
    the device's clock for meters that have one: only its change counts.
    """

    power_w: float
    phases: Sequence[PhaseValues] = ()
    energy_import: RawValue | None = None
    energy_export: RawValue | None = None
    timestamp: float | None = None
    device_time: DeviceTime | None = None


def missing_reading(error: str, timestamp: float | None = None) -> GridReading:
    """A reading without a number, carrying the cause."""
    if timestamp is None:
        return GridReading(power_w=None, error=error)
    return GridReading(power_w=None, error=error, timestamp=timestamp)


def finite_number(value: Any, what: str) -> float:
    """``value`` as a finite float; MeterError naming ``what`` otherwise.

    JSON numbers are numbers (in any notation); text must be a plain decimal such as ``-312.4``: Python's
    float() would also take ``1_2_3``, ``1e308``, ``inf`` and ``nan``, which no meter means.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        shown = "missing (null)" if value is None else f"a {type(value).__name__}"
        raise MeterError(f"{what} is {shown}, not a number")
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise MeterError(f"{what} is {_short(value)}, not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise MeterError(f"{what} is {_short(value)}, not a finite number") from None
    if not math.isfinite(number):
        raise MeterError(f"{what} is {_short(value)}, not a finite number")
    return number


def optional_number(document: dict[str, Any], key: str) -> float | None:
    """An extra value (voltage, current...): None when it is absent or not a finite number."""
    try:
        return finite_number(document.get(key), key)
    except MeterError:
        return None


def watts(value: float, unit: PowerUnit, *, invert: bool = False) -> float:
    """Convert ``value`` in ``unit`` to W, flipping the sign when the source counts export as positive."""
    converted = value * _WATTS_PER_UNIT[unit]
    return -converted if invert else converted


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
