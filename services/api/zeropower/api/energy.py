"""Energy imported, exported and diverted today (since local midnight), from what the gateway sees on MQTT.

Each quantity is summed from counter differences when its source reports an energy counter (the meter's
``energy_import_wh``/``energy_export_wh``, a diverter's ``energy_wh``), else from its power integrated over
time (the previous sample held until the next one). A counter that goes down (a reset or a replaced meter)
restarts from its new value, so one sample interval is lost rather than a bogus jump counted; a gap longer
than ``MAX_GAP_S`` between power samples is not integrated. The day is the machine's local date.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from zeropower.shared.messages import DeviceState, EnergyToday, GridReading

#: Power samples further apart than this (s) are not integrated: nothing is known about the gap.
MAX_GAP_S = 60.0

Clock = Callable[[], datetime]


def local_now() -> datetime:
    """The current time in the machine's local timezone."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class DayTotals:
    """One day's totals in Wh; None: no source of that quantity seen yet."""

    date: str
    imported_wh: float | None
    exported_wh: float | None
    diverted_wh: float | None


@dataclass
class _Source:
    """The previous sample of one source of one quantity: its counter, its power and when it came."""

    counter_wh: float | None = None
    power_w: float | None = None
    at: float | None = None

    def advance(self, at: float, power_w: float | None, counter_wh: float | None) -> float:
        """Take a new sample; return the energy in Wh since the previous one."""
        energy_wh = 0.0
        if counter_wh is not None:
            if self.counter_wh is not None and counter_wh >= self.counter_wh:
                energy_wh = counter_wh - self.counter_wh
        elif self.power_w is not None and self.at is not None and 0 < at - self.at <= MAX_GAP_S:
            energy_wh = self.power_w * (at - self.at) / 3600
        self.counter_wh, self.power_w, self.at = counter_wh, power_w, at
        return energy_wh


class DayEnergy:
    """Today's imported, exported and diverted energy in Wh; None for a quantity no source reported yet."""

    def __init__(self, clock: Clock = local_now) -> None:
        self._clock = clock
        self.date = clock().date().isoformat()
        self.imported_wh: float | None = None
        self.exported_wh: float | None = None
        self.diverted_wh: float | None = None
        self._imported = _Source()
        self._exported = _Source()
        self._diverters: dict[Hashable, _Source] = {}

    def add_grid(self, reading: GridReading) -> None:
        """Count a grid reading (positive power = import); a missing reading is skipped."""
        if reading.power_w is None:
            return
        at = self._today()
        power_w = reading.power_w
        imported = self._imported.advance(at, max(power_w, 0.0), reading.energy_import_wh)
        exported = self._exported.advance(at, max(-power_w, 0.0), reading.energy_export_wh)
        self.imported_wh = (self.imported_wh or 0.0) + imported
        self.exported_wh = (self.exported_wh or 0.0) + exported

    def add_diverter(self, key: Hashable, state: DeviceState) -> None:
        """Count one consumer device's state (its energy counter, else its power draw)."""
        if state.power_w is None and state.energy_wh is None:
            return
        at = self._today()
        source = self._diverters.setdefault(key, _Source())
        self.diverted_wh = (self.diverted_wh or 0.0) + source.advance(at, state.power_w, state.energy_wh)

    def restore(self, saved: EnergyToday) -> bool:
        """Add totals saved earlier today (before a restart) to what is counted since; False for another day."""
        self._today()
        if saved.date != self.date:
            return False
        self.imported_wh = (self.imported_wh or 0.0) + saved.imported_wh
        self.exported_wh = (self.exported_wh or 0.0) + saved.exported_wh
        self.diverted_wh = (self.diverted_wh or 0.0) + saved.diverted_wh
        return True

    def totals(self) -> DayTotals:
        """Today's date and totals (rolled over at midnight even without new samples)."""
        self._today()
        return DayTotals(self.date, self.imported_wh, self.exported_wh, self.diverted_wh)

    def message(self) -> EnergyToday:
        """Today's totals as the retained message (unknown quantities as 0)."""
        self._today()
        return EnergyToday(
            date=self.date,
            imported_wh=round(self.imported_wh or 0.0, 3),
            exported_wh=round(self.exported_wh or 0.0, 3),
            diverted_wh=round(self.diverted_wh or 0.0, 3),
        )

    def _today(self) -> float:
        """Start a new day at local midnight (totals back to zero, sources kept); return the time in Unix s."""
        now = self._clock()
        date = now.date().isoformat()
        if date != self.date:
            self.date = date
            self.imported_wh = None if self.imported_wh is None else 0.0
            self.exported_wh = None if self.exported_wh is None else 0.0
            self.diverted_wh = None if self.diverted_wh is None else 0.0
        return now.timestamp()
