"""A meter's own clock: only whether it changes matters, never how far off it is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zeropower.meter.reading import MeterError

#: Unix times above this are taken as milliseconds (1e11 s is the year 5138).
_MILLISECONDS_FROM = 1e11


@dataclass(frozen=True)
class DeviceTime:
    """The device's time of its newest value: ``value`` (s) to compare, ``shown`` as the device gave it.

    ``unix`` is the Unix time it means when that is known (a zone or a Unix number), else None.
    """

    value: float
    shown: str
    unix: float | None


def unix_time(seconds: float) -> DeviceTime:
    """A device time given as Unix seconds, shown in UTC."""
    try:
        shown = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):  # beyond the calendar: show the number
        shown = f"{seconds:g} s"
    return DeviceTime(seconds, shown, seconds)


def parse_device_time(raw: Any, what: str) -> DeviceTime:
    """An ISO 8601 time (with or without zone) or a Unix time in s or ms; MeterError naming ``what`` otherwise.

    A time without zone (Tasmota's local ``Time``) is compared as if it were UTC: only its change counts.
    """
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            seconds = float(raw)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise MeterError(f"{what} is {raw!r:.40}, not a time")
        return unix_time(seconds / 1000 if abs(seconds) >= _MILLISECONDS_FROM else seconds)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise MeterError(f"{what} is {raw!r:.40}, not an ISO 8601 time") from None
        if moment.tzinfo is None:
            return DeviceTime(moment.replace(tzinfo=UTC).timestamp(), raw.strip()[:40], None)
        return DeviceTime(moment.timestamp(), raw.strip()[:40], moment.timestamp())
    shown = "missing (null)" if raw is None else f"a {type(raw).__name__}"
    raise MeterError(f"{what} is {shown}, not a time")
