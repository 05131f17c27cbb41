"""Energy imported, exported, produced and diverted today (since local midnight), from what the gateway sees on MQTT.

Imported and exported are the rises of the meter's published counters (``energy_import_wh``/
``energy_export_wh``): the one netted figure the meter service publishes for every consumer (its meter's
own netted counters, or its integral of grid power; docs/services/meter.md), never integrated again here.
A reading without counters counts nothing; the counters' rise over such a gap is counted when they return.
The first value of counters that started from 0 today (``energy_since``: the meter service's integral,
from its start) counts whole, up to what a house could draw since then, so the day holds what the meter
counted before the API saw it; unless totals saved after that start were restored, which hold it already.
A drop (the meter service restarted) is a new baseline: its first seconds are lost.
Produced is the rise of each inverter's yield counter (``energy_wh``, OpenDTU's and AhoyDTU's lifetime yield);
an inverter without one counts nothing (its power is not integrated: a silent DTU's inverter states repeat
the last output with every command). Diverted is the rise of each diverter's ``energy_wh``, or its power
integrated over time (the previous sample held until the next one) for a diverter without a counter.
Elapsed times come from the monotonic clock; the wall clock only tells the day (the machine's local date).

Nothing absurd is counted. A counter that goes down (a reset, a replaced meter, a restarted meter service
counting from 0 again), or rises by more than a
house connection could draw since it last changed (``MAX_HOUSE_POWER_W`` over the elapsed time plus
``JUMP_SLACK_S``), restarts from its new value: one interval is lost rather than a bogus jump counted. A
power outside 0..``MAX_HOUSE_POWER_W`` is not integrated, nor a gap longer than ``MAX_GAP_S``. Implausible
samples are logged, at most one line a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import MAX_ENERGY_WH, DeviceState, EnergyToday, GridReading

log = logging.getLogger("zeropower.api")

#: Power samples further apart than this (s) are not integrated: nothing is known about the gap.
MAX_GAP_S = 60.0
#: The most power a house connection draws or feeds, in W (a large three-phase connection is ~40 kW).
MAX_HOUSE_POWER_W = 100_000.0
#: Time added to the elapsed time when judging a counter's rise, in s: readings delivered late and together,
#: counters with a coarse resolution (100 kW for 10 s is 278 Wh).
JUMP_SLACK_S = 10.0
#: The most one day (25 h with a DST change) can hold at MAX_HOUSE_POWER_W, in Wh: saved totals beyond it
#: are not restored.
MAX_DAY_WH = MAX_HOUSE_POWER_W * 25

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]


def local_now() -> datetime:
    """The current time in the machine's local timezone."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class DayTotals:
    """One day's totals in Wh; None: no source of that quantity seen yet."""

    date: str
    imported_wh: float | None
    exported_wh: float | None
    produced_wh: float | None
    diverted_wh: float | None


@dataclass
class _Source:
    """One source of one quantity: its counter (and since when it has had that value), its power and when."""

    name: str
    counter_wh: float | None = None
    counter_since: float = 0.0  # monotonic time the counter was first seen at its value
    power_w: float | None = None
    at: float | None = None  # monotonic time of the previous sample

    def advance(
        self, at: float, power_w: float | None, counter_wh: float | None, *, first_whole_up_to: float = 0.0
    ) -> tuple[float, str | None]:
        """Take a new sample; return the energy in Wh since the previous one, and what was implausible.

        ``first_whole_up_to``: a first counter value up to this many Wh counts whole (a counter that started
        from 0 today); any other first value is the baseline.
        """
        energy_wh, problem = 0.0, None
        if counter_wh is not None:
            energy_wh, problem = self._count(at, counter_wh, first_whole_up_to)
        else:
            self.counter_wh = None
            if self.power_w is not None and self.at is not None and 0 < at - self.at <= MAX_GAP_S:
                energy_wh = self.power_w * (at - self.at) / 3600
        if power_w is not None and not 0 <= power_w <= MAX_HOUSE_POWER_W:
            problem = problem or f"{self.name}: {power_w:g} W is outside 0..{MAX_HOUSE_POWER_W:.0f} W, not counted"
            power_w = None
        self.power_w, self.at = power_w, at
        return energy_wh, problem

    def _count(self, at: float, counter_wh: float, first_whole_up_to: float) -> tuple[float, str | None]:
        """The counter's rise since the previous sample; a drop or an implausible rise restarts from the new value."""
        previous = self.counter_wh
        if previous == counter_wh:
            return 0.0, None
        self.counter_wh, since, self.counter_since = counter_wh, self.counter_since, at
        if previous is None:
            return self._first(counter_wh, first_whole_up_to)
        if counter_wh < previous:
            return 0.0, None
        rise = counter_wh - previous
        elapsed = at - since
        if rise > MAX_HOUSE_POWER_W * (elapsed + JUMP_SLACK_S) / 3600:
            return 0.0, (
                f"{self.name} counter jumped by {rise:.0f} Wh in {elapsed:.0f} s, more than "
                f"{MAX_HOUSE_POWER_W / 1000:.0f} kW could: not counted, counting on from {counter_wh:.0f} Wh"
            )
        return rise, None

    def _first(self, counter_wh: float, whole_up_to: float) -> tuple[float, str | None]:
        """A first counter value: counted whole up to ``whole_up_to``, else the baseline."""
        if counter_wh <= whole_up_to:
            return counter_wh, None
        if whole_up_to > 0:
            return 0.0, f"{self.name} counter at {counter_wh:.0f} Wh is more than could flow since it started"
        return 0.0, None


class DayEnergy:
    """Today's imported, exported, produced and diverted energy in Wh; None for a quantity no source reported yet."""

    def __init__(self, clock: Clock = local_now, monotonic: Monotonic = time.monotonic) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self.date = clock().date().isoformat()
        self.imported_wh: float | None = None
        self.exported_wh: float | None = None
        self.produced_wh: float | None = None
        self.diverted_wh: float | None = None
        self._imported = _Source("grid import")
        self._exported = _Source("grid export")
        self._devices: dict[tuple[str, str], _Source] = {}
        self._restored_from: float | None = None  # Unix time the restored totals were saved
        # counted from 0 of a meter cycle before totals were restored: (its start, imported Wh, exported Wh)
        self._cycle_credit: tuple[float, float, float] | None = None
        self._implausible = ChangeLogger(log, "energy today")

    def add_grid(self, reading: GridReading) -> None:
        """Count the rise of each counter a grid reading carries; a reading without counters counts nothing."""
        if reading.energy_import_wh is None and reading.energy_export_wh is None:
            return
        at = self._now()
        whole_up_to = self._whole_up_to(reading.energy_since)
        imported = exported = _Counted(0.0, 0.0, None)
        if reading.energy_import_wh is not None:
            imported = _count_grid(self._imported, at, reading.energy_import_wh, whole_up_to)
            self.imported_wh = (self.imported_wh or 0.0) + imported.energy_wh
        if reading.energy_export_wh is not None:
            exported = _count_grid(self._exported, at, reading.energy_export_wh, whole_up_to)
            self.exported_wh = (self.exported_wh or 0.0) + exported.energy_wh
        since = reading.energy_since
        if since is not None and (imported.whole_wh or exported.whole_wh) and self._restored_from is None:
            known = self._cycle_credit
            before = known[1:] if known is not None and known[0] == since else (0.0, 0.0)
            self._cycle_credit = (since, before[0] + imported.whole_wh, before[1] + exported.whole_wh)
        self._implausible.report(imported.problem or exported.problem)

    def _whole_up_to(self, since: float | None) -> float:
        """How much a first counter value may count whole: what a house could draw since its cycle began.

        Nothing unless the cycle began today (``since``, Unix) and after the restored totals were saved.
        """
        if since is None or (self._restored_from is not None and since <= self._restored_from):
            return 0.0
        local = self._clock()
        if datetime.fromtimestamp(since, tz=local.tzinfo).date().isoformat() != self.date:
            return 0.0
        elapsed = local.timestamp() - since
        return 0.0 if elapsed < 0 else MAX_HOUSE_POWER_W * (elapsed + JUMP_SLACK_S) / 3600

    def add_diverter(self, key: tuple[str, str], state: DeviceState) -> None:
        """Count one consumer device's state (its energy counter, else its power draw)."""
        if state.power_w is None and state.energy_wh is None:
            return
        diverted_wh = self._advance("diverter", key, state.power_w, state.energy_wh)
        self.diverted_wh = (self.diverted_wh or 0.0) + diverted_wh

    def add_inverter(self, key: tuple[str, str], state: DeviceState) -> None:
        """Count one inverter's state: the rise of its yield counter (nothing without one)."""
        if state.energy_wh is None:
            return
        self.produced_wh = (self.produced_wh or 0.0) + self._advance("inverter", key, None, state.energy_wh)

    def _advance(self, kind: str, key: tuple[str, str], power_w: float | None, counter_wh: float | None) -> float:
        """Advance a device's source by one sample; the energy it counts (implausible samples logged)."""
        at = self._now()
        source = self._devices.setdefault(key, _Source(f"{kind} {'/'.join(key)}"))
        energy_wh, problem = source.advance(at, power_w, counter_wh)
        self._implausible.report(problem)
        return energy_wh

    def restore(self, saved: EnergyToday) -> bool:
        """Add totals saved earlier today (before a restart) to what is counted since, once.

        False for another day, a second time, or totals beyond what a day can hold.
        """
        self._now()
        if saved.date != self.date or self._restored_from is not None:
            return False
        if max(saved.imported_wh, saved.exported_wh, saved.produced_wh, saved.diverted_wh) > MAX_DAY_WH:
            log.warning("not continuing today's saved energy totals: beyond the %.0f Wh a day can hold", MAX_DAY_WH)
            return False
        self._restored_from = saved.timestamp
        credit = self._cycle_credit
        if credit is not None and credit[0] <= saved.timestamp:  # the saved totals hold that cycle's start
            self.imported_wh = (self.imported_wh or 0.0) - credit[1]
            self.exported_wh = (self.exported_wh or 0.0) - credit[2]
        self._cycle_credit = None
        self.imported_wh = (self.imported_wh or 0.0) + saved.imported_wh
        self.exported_wh = (self.exported_wh or 0.0) + saved.exported_wh
        self.produced_wh = (self.produced_wh or 0.0) + saved.produced_wh
        self.diverted_wh = (self.diverted_wh or 0.0) + saved.diverted_wh
        return True

    def totals(self) -> DayTotals:
        """Today's date and totals (rolled over at midnight even without new samples)."""
        self._now()
        return DayTotals(self.date, self.imported_wh, self.exported_wh, self.produced_wh, self.diverted_wh)

    def message(self) -> EnergyToday:
        """Today's totals as the retained message (unknown quantities as 0)."""
        self._now()
        return EnergyToday(
            date=self.date,
            imported_wh=_bounded(self.imported_wh),
            exported_wh=_bounded(self.exported_wh),
            produced_wh=_bounded(self.produced_wh),
            diverted_wh=_bounded(self.diverted_wh),
        )

    def _now(self) -> float:
        """Start a new day at local midnight (totals back to zero, sources kept); return the monotonic time."""
        date = self._clock().date().isoformat()
        if date != self.date:
            self.date = date
            self._cycle_credit = None
            self.imported_wh = None if self.imported_wh is None else 0.0
            self.exported_wh = None if self.exported_wh is None else 0.0
            self.produced_wh = None if self.produced_wh is None else 0.0
            self.diverted_wh = None if self.diverted_wh is None else 0.0
        return self._monotonic()


@dataclass(frozen=True)
class _Counted:
    """What one grid counter's sample counted: the energy, the part of it a first value counted whole, why not."""

    energy_wh: float
    whole_wh: float
    problem: str | None


def _count_grid(source: _Source, at: float, counter_wh: float, whole_up_to: float) -> _Counted:
    """Advance a grid counter; its first value counts whole up to ``whole_up_to``."""
    first = source.counter_wh is None
    energy_wh, problem = source.advance(at, None, counter_wh, first_whole_up_to=whole_up_to)
    return _Counted(energy_wh, energy_wh if first else 0.0, problem)


def _bounded(total_wh: float | None) -> float:
    """A total for EnergyToday: 0 when unknown, rounded, at most its bound (a flood of plausible steps)."""
    return min(round(total_wh or 0.0, 3), MAX_ENERGY_WH)
