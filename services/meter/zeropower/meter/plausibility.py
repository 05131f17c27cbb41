"""Bounding what a driver read before it goes on the wire: implausible power is a missing reading."""

from __future__ import annotations

import math

from zeropower.meter.reading import MeterError, MeterValues, PhaseValues, RawValue, finite_number, missing_reading
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import MAX_MAGNITUDE, MAX_PHASES, MAX_TIMESTAMP, GridReading, PhaseReading

#: The largest plausible energy counter in Wh (10 GWh: a household meter's register holds at most 1 GWh).
MAX_COUNTER_WH = 1e10


class Plausibility:
    """Turns a driver's values into a reading whose every number is plausible and within the message bounds.

    Grid power outside ±``max_power_w`` (or not finite after conversion) makes the reading missing. Counters
    that are not plain numbers or outside 0..MAX_COUNTER_WH are left out and logged through ``counters_log``;
    phase extras out of bounds are left out; a timestamp out of bounds is replaced by the time of request.
    """

    def __init__(self, max_power_w: float, counters_log: ChangeLogger) -> None:
        self._max_power_w = max_power_w
        self._counters_log = counters_log

    def reading(self, values: MeterValues, requested_at: float) -> GridReading:
        """The reading for ``values``: valid and bounded, or missing with an error naming value and bound."""
        power = values.power_w
        if not math.isfinite(power) or abs(power) > self._max_power_w:
            return missing_reading(
                f"grid power {power:g} W is outside the plausible range ±{self._max_power_w:g} W (meter.max_power_w)",
                requested_at,
            )
        energy_import, energy_export = self._counters(values)
        timestamp = values.timestamp
        if timestamp is None or not 0 <= timestamp <= MAX_TIMESTAMP:
            timestamp = requested_at
        phases = values.phases if len(values.phases) <= MAX_PHASES else ()
        return GridReading(
            timestamp=timestamp,
            power_w=power,
            phases=[self._phase(phase) for phase in phases],
            energy_import_wh=energy_import,
            energy_export_wh=energy_export,
        )

    def _counters(self, values: MeterValues) -> tuple[float | None, float | None]:
        """Both counters in Wh, or neither (one implausible counter casts doubt on the other)."""
        if values.energy_import is None and values.energy_export is None:
            return None, None
        try:
            counters = _counter(values.energy_import), _counter(values.energy_export)
        except MeterError as error:
            self._counters_log.report(f"{error}; publishing readings without energy counters")
            return None, None
        self._counters_log.report(None)
        return counters

    def _phase(self, phase: PhaseValues) -> PhaseReading:
        return PhaseReading(
            power_w=_within(phase.power_w, self._max_power_w),
            voltage_v=_within(phase.voltage_v, MAX_MAGNITUDE),
            current_a=_within(phase.current_a, MAX_MAGNITUDE),
            power_factor=_within(phase.power_factor, MAX_MAGNITUDE),
        )


def _counter(raw: RawValue | None) -> float | None:
    if raw is None:
        return None
    value = finite_number(raw.value, f"energy counter {raw.what}") * raw.wh_per_unit
    if not 0 <= value <= MAX_COUNTER_WH:
        raise MeterError(f"energy counter {raw.what} is {value:g} Wh, outside 0..{MAX_COUNTER_WH:g} Wh")
    return value


def _within(value: float | None, bound: float) -> float | None:
    return value if value is not None and math.isfinite(value) and abs(value) <= bound else None
