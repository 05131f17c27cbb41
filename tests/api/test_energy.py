"""Today's energy bookkeeping: counter differences, power integration, resets, midnight and restore."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.api.payloads import consumer_state
from zeropower.api.energy import MAX_GAP_S, DayEnergy, DayTotals
from zeropower.shared.messages import EnergyToday, GridReading

TZ = timezone(timedelta(hours=1))  # "local" time east of UTC: the day starts at 23:00 UTC


class FakeClock:
    """A settable local clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=TZ))


def grid(power_w: float | None, imported: float | None = None, exported: float | None = None) -> GridReading:
    error = None if power_w is not None else "meter offline"
    return GridReading(power_w=power_w, energy_import_wh=imported, energy_export_wh=exported, error=error)


def test_nothing_seen_is_unknown(clock):
    energy = DayEnergy(clock)
    assert energy.totals() == DayTotals("2026-11-23", None, None, None)
    assert energy.message().model_dump(exclude={"timestamp"}) == {
        "date": "2026-11-23",
        "imported_wh": 0.0,
        "exported_wh": 0.0,
        "diverted_wh": 0.0,
    }


def test_counters_count_their_differences_and_power_is_ignored(clock):
    energy = DayEnergy(clock)
    energy.add_grid(grid(-500, imported=10_000, exported=2_000))  # the first counters seen: the baseline
    assert (energy.imported_wh, energy.exported_wh) == (0.0, 0.0)
    clock.advance(1)
    energy.add_grid(grid(-500, imported=10_000, exported=2_000.5))
    clock.advance(3600)  # a long gap does not matter with counters
    energy.add_grid(grid(300, imported=10_120, exported=2_400))
    assert energy.imported_wh == pytest.approx(120)
    assert energy.exported_wh == pytest.approx(400)


def test_without_counters_power_is_integrated_by_direction(clock):
    energy = DayEnergy(clock)
    energy.add_grid(grid(1000))
    clock.advance(36)  # 1000 W held for 36 s: 10 Wh imported
    energy.add_grid(grid(-2000))
    clock.advance(18)  # 2000 W exported for 18 s: 10 Wh
    energy.add_grid(grid(None))  # a missing reading is skipped
    energy.add_grid(grid(0))
    assert energy.imported_wh == pytest.approx(10)
    assert energy.exported_wh == pytest.approx(10)


def test_a_gap_longer_than_max_gap_is_not_integrated(clock):
    energy = DayEnergy(clock)
    energy.add_grid(grid(1000))
    clock.advance(MAX_GAP_S + 1)
    energy.add_grid(grid(1000))
    assert energy.imported_wh == 0
    clock.advance(3.6)
    energy.add_grid(grid(0))
    assert energy.imported_wh == pytest.approx(1)


def test_a_counter_reset_restarts_from_the_new_value(clock):
    energy = DayEnergy(clock)
    for imported in (500.0, 600.0, 3.0, 10.0):  # reset between 600 and 3: that interval counts nothing
        energy.add_grid(grid(100, imported=imported, exported=0))
        clock.advance(1)
    assert energy.imported_wh == pytest.approx(107)


def test_midnight_starts_a_new_day_and_keeps_the_counter_baseline(clock):
    clock.now = datetime(2026, 11, 23, 23, 59, 59, tzinfo=TZ)
    energy = DayEnergy(clock)
    energy.add_grid(grid(100, imported=1_000, exported=50))
    clock.advance(0.5)
    energy.add_grid(grid(100, imported=1_010, exported=50))
    assert energy.totals().imported_wh == pytest.approx(10)
    clock.advance(1)  # 00:00:00.5 local (23:00 UTC): a new day
    assert energy.totals() == DayTotals("2026-11-24", 0.0, 0.0, None)
    energy.add_grid(grid(100, imported=1_015, exported=50))
    assert energy.imported_wh == pytest.approx(5)  # from the last counter of yesterday, not from zero


def test_diverted_from_energy_counters_or_integrated_power(clock):
    energy = DayEnergy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(None))  # nothing known: still unknown
    assert energy.diverted_wh is None
    energy.add_diverter(("pwm", "rod"), consumer_state(1000, duty=0.5, energy_wh=4_000))
    energy.add_diverter(("pwm2", "fan"), consumer_state(360, duty=0.2))
    clock.advance(10)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000, duty=0.5, energy_wh=4_002.5))
    energy.add_diverter(("pwm2", "fan"), consumer_state(0, duty=0))  # 360 W for 10 s: 1 Wh
    assert energy.diverted_wh == pytest.approx(3.5)


def test_restore_adds_todays_saved_totals_only(clock):
    energy = DayEnergy(clock)
    energy.add_grid(grid(1000))
    clock.advance(3.6)
    energy.add_grid(grid(0))  # 1 Wh counted before the retained totals arrived
    assert not energy.restore(EnergyToday(date="2026-11-22", imported_wh=900, exported_wh=9, diverted_wh=90))
    assert energy.imported_wh == pytest.approx(1)
    assert energy.restore(EnergyToday(date="2026-11-23", imported_wh=900, exported_wh=9, diverted_wh=90))
    message = energy.message()
    assert (message.date, message.imported_wh, message.exported_wh, message.diverted_wh) == ("2026-11-23", 901, 9, 90)
