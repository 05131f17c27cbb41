"""Turning raw meter values into readings: finite numbers in W, and missing readings that say why."""

from __future__ import annotations

import math
from typing import Any, Literal

from zeropower.shared.messages import GridReading

PowerUnit = Literal["W", "kW", "mW"]

_WATTS_PER_UNIT: dict[str, float] = {"W": 1.0, "kW": 1000.0, "mW": 0.001}


class MeterError(Exception):
    """The meter gave no usable value; the message names what was wrong (it becomes the reading's error)."""


def missing_reading(error: str, timestamp: float | None = None) -> GridReading:
    """A reading without a number, carrying the cause."""
    if timestamp is None:
        return GridReading(power_w=None, error=error)
    return GridReading(power_w=None, error=error, timestamp=timestamp)


def finite_number(value: Any, what: str) -> float:
    """``value`` as a finite float (JSON numbers and numeric strings); MeterError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        shown = "missing (null)" if value is None else f"a {type(value).__name__}"
        raise MeterError(f"{what} is {shown}, not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise MeterError(f"{what} is {_short(value)}, not a number") from None
    if not math.isfinite(number):
        raise MeterError(f"{what} is {_short(value)}, not a finite number")
    return number


def optional_number(document: dict[str, Any], key: str) -> float | None:
    """An extra value (voltage, counter...): None when it is absent or not a finite number."""
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
