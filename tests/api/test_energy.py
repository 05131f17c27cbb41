"""Today's energy bookkeeping: counter differences, a diverter's power integrated, resets, jumps, midnight, restore."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.payloads import consumer_state
from zeropower.api.energy import JUMP_SLACK_S, MAX_DAY_WH, MAX_GAP_S, MAX_HOUSE_POWER_W, DayEnergy, DayTotals
from zeropower.shared.messages import (
    MAX_ENERGY_WH,
    MAX_POWER_W,
    MAX_TIMESTAMP,
    DeviceState,
    EnergyToday,
    GridReading,
)

TZ = timezone(timedelta(hours=1))  # "local" time east of UTC: the day starts at 23:00 UTC


class FakeClock:
    """A settable local wall clock and a monotonic clock that advance together (or the wall clock alone)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.elapsed = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.elapsed += seconds

    def step_wall(self, seconds: float) -> None:
        """Set the wall clock forward or back (NTP, a user), as monotonic time goes on unchanged."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=TZ))


def day_energy(clock: FakeClock) -> DayEnergy:
    return DayEnergy(clock, clock.monotonic)


def grid(power_w: float | None, imported: float | None = None, exported: float | None = None) -> GridReading:
    error = None if power_w is not None else "meter offline"
    return GridReading(power_w=power_w, energy_import_wh=imported, energy_export_wh=exported, error=error)


def test_nothing_seen_is_unknown(clock):
    energy = day_energy(clock)
    assert energy.totals() == DayTotals("2026-11-23", None, None, None, None)
    assert energy.message().model_dump(exclude={"timestamp"}) == {
        "date": "2026-11-23",
        "imported_wh": 0.0,
        "exported_wh": 0.0,
        "produced_wh": 0.0,
        "diverted_wh": 0.0,
    }


def test_counters_count_their_differences_and_power_is_ignored(clock):
    energy = day_energy(clock)
    energy.add_grid(grid(-500, imported=10_000, exported=2_000))  # the first counters seen: the baseline
    assert (energy.imported_wh, energy.exported_wh) == (0.0, 0.0)
    clock.advance(1)
    energy.add_grid(grid(-500, imported=10_000, exported=2_000.5))
    clock.advance(3600)  # a long gap does not matter with counters
    energy.add_grid(grid(300, imported=10_120, exported=2_400))
    assert energy.imported_wh == pytest.approx(120)
    assert energy.exported_wh == pytest.approx(400)


def test_grid_power_is_never_integrated_and_a_gap_in_the_counters_is_counted_when_they_return(clock):
    """The meter publishes the one netted counter pair; readings without it count nothing here."""
    energy = day_energy(clock)
    energy.add_grid(grid(1000))  # power alone: nothing to count
    clock.advance(36)
    energy.add_grid(grid(-2000))
    assert energy.totals() == DayTotals("2026-11-23", None, None, None, None)
    energy.add_grid(grid(500, imported=100, exported=40))  # the baseline
    clock.advance(10)
    energy.add_grid(grid(None))  # a missing reading (no counters)
    energy.add_grid(grid(500))  # counters stale for a while
    clock.advance(10)
    energy.add_grid(grid(500, imported=103, exported=40))  # the rise over the gap counts
    assert (energy.imported_wh, energy.exported_wh) == (3, 0)


def test_a_meter_service_restart_counting_from_zero_keeps_the_totals(clock):
    """The meter's integrated counters start from 0 at its restart: a new meter cycle, nothing lost or negative."""
    energy = day_energy(clock)
    for imported in (0.0, 5.0, 7.5, 0.0, 0.25, 2.0):
        energy.add_grid(grid(100, imported=imported, exported=1.0))
        clock.advance(1)
    assert energy.imported_wh == pytest.approx(7.5 + 2.0)
    assert energy.exported_wh == 0


def cycle(imported: float, exported: float, since: datetime) -> GridReading:
    """A reading of the meter service's integral, which started from 0 at ``since``."""
    return GridReading(power_w=0, energy_import_wh=imported, energy_export_wh=exported, energy_since=since.timestamp())


def test_counters_that_started_from_zero_today_count_whole(clock):
    """The meter counted 0.09 Wh of export before the API saw its first reading (the demo starts them together)."""
    energy = day_energy(clock)
    energy.add_grid(cycle(0.02, 0.09, since=clock.now - timedelta(seconds=5)))
    clock.advance(1)
    energy.add_grid(cycle(0.03, 0.09, since=clock.now - timedelta(seconds=6)))
    assert (energy.imported_wh, energy.exported_wh) == pytest.approx((0.03, 0.09))


def test_counters_that_started_yesterday_count_from_the_first_value_seen(clock):
    energy = day_energy(clock)
    energy.add_grid(cycle(500, 90, since=clock.now - timedelta(days=1)))
    clock.advance(1)
    energy.add_grid(cycle(501, 90, since=clock.now - timedelta(days=1)))
    assert (energy.imported_wh, energy.exported_wh) == (1, 0)


def test_a_first_value_beyond_what_could_flow_since_its_cycle_began_is_the_baseline(clock, caplog):
    energy = day_energy(clock)
    energy.add_grid(cycle(3000, 0, since=clock.now - timedelta(seconds=1)))  # 3 kWh in 1 s
    clock.advance(1)
    energy.add_grid(cycle(3001, 0, since=clock.now - timedelta(seconds=2)))
    assert energy.imported_wh == 1
    assert "grid import counter at 3000 Wh is more than could flow since it started" in caplog.text


def test_a_restart_of_the_meter_counts_on_from_its_new_cycle(clock):
    energy = day_energy(clock)
    energy.add_grid(cycle(40, 0, since=clock.now - timedelta(hours=2)))
    clock.advance(10)
    restarted = clock.now
    clock.advance(3)
    energy.add_grid(cycle(0.5, 0, since=restarted))  # a drop: the first 3 s of the new cycle are lost
    clock.advance(1)
    energy.add_grid(cycle(0.7, 0, since=restarted))
    assert energy.imported_wh == pytest.approx(40.2)


@pytest.mark.parametrize("grid_first", [True, False])
def test_restored_totals_saved_after_the_cycle_began_are_not_counted_twice(clock, grid_first):
    """The API alone restarted: its saved totals hold the cycle up to the save, whichever message arrives first."""
    energy = day_energy(clock)
    began = clock.now - timedelta(hours=4)
    saved = EnergyToday(
        timestamp=(clock.now - timedelta(seconds=30)).timestamp(),
        date="2026-11-23",
        imported_wh=30,
        exported_wh=7,
        diverted_wh=0,
    )
    if not grid_first:
        assert energy.restore(saved)
    energy.add_grid(cycle(30.2, 7, since=began))  # 0.2 Wh since the save
    if grid_first:
        assert energy.restore(saved)
    clock.advance(1)
    energy.add_grid(cycle(30.3, 7, since=began))
    assert (energy.imported_wh, energy.exported_wh) == pytest.approx((30.1, 7))  # the 0.2 Wh gap is lost, not doubled


def test_restored_totals_saved_before_the_cycle_began_add_to_it(clock):
    """Both restarted (a reboot): the new cycle began after the totals were saved."""
    energy = day_energy(clock)
    saved_at = clock.now - timedelta(seconds=60)
    saved = EnergyToday(timestamp=saved_at.timestamp(), date="2026-11-23", imported_wh=30, exported_wh=7, diverted_wh=0)
    energy.add_grid(cycle(0.4, 0, since=saved_at + timedelta(seconds=20)))
    assert energy.restore(saved)
    assert (energy.imported_wh, energy.exported_wh) == pytest.approx((30.4, 7))


def test_a_diverter_gap_longer_than_max_gap_is_not_integrated(clock):
    energy = day_energy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000))
    clock.advance(MAX_GAP_S + 1)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000))
    assert energy.diverted_wh == 0
    clock.advance(3.6)
    energy.add_diverter(("pwm", "rod"), consumer_state(0))
    assert energy.diverted_wh == pytest.approx(1)


def test_a_counter_reset_restarts_from_the_new_value(clock):
    energy = day_energy(clock)
    for imported in (500.0, 600.0, 3.0, 10.0):  # reset between 600 and 3: that interval counts nothing
        energy.add_grid(grid(100, imported=imported, exported=0))
        clock.advance(1)
    assert energy.imported_wh == pytest.approx(107)


def test_a_counter_jump_beyond_a_house_connection_restarts_from_the_new_value(clock, caplog):
    energy = day_energy(clock)
    energy.add_grid(grid(100, imported=5e6, exported=0))
    clock.advance(1)
    energy.add_grid(grid(100, imported=1e12 - 1, exported=0))  # the jump: 5 MWh to 1 TWh in a second
    clock.advance(1)
    energy.add_grid(grid(100, imported=1e12 - 0.5, exported=0))  # counted on from the new value
    clock.advance(1)
    energy.add_grid(grid(100, imported=2e12 / 3, exported=0))  # down: a reset, also from the new value
    clock.advance(1)
    energy.add_grid(grid(100, imported=1e12, exported=0))  # and up again beyond reason
    assert energy.imported_wh == pytest.approx(0.5)
    assert energy.message().imported_wh == 0.5
    jumps = [record for record in caplog.records if "jumped" in record.getMessage()]
    assert len(jumps) == 1  # logged once, not on every absurd reading (at most one line a minute)
    assert jumps[0].levelno == logging.WARNING
    assert "grid import counter jumped by" in jumps[0].getMessage()


def test_a_counter_may_rise_as_much_as_a_house_connection_since_it_last_changed(clock):
    energy = day_energy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(None, energy_wh=4_000))
    for _ in range(60):  # a coarse counter (whole kWh) unchanged for a minute of readings
        clock.advance(1)
        energy.add_diverter(("pwm", "rod"), consumer_state(None, energy_wh=4_000))
    energy.add_diverter(("pwm", "rod"), consumer_state(None, energy_wh=5_000))  # 1 kWh: 60 kW for 60 s
    assert energy.diverted_wh == pytest.approx(1_000)
    clock.advance(1)
    most = MAX_HOUSE_POWER_W * (1 + JUMP_SLACK_S) / 3600
    energy.add_diverter(("pwm", "rod"), consumer_state(None, energy_wh=5_000 + most * 0.99))
    assert energy.diverted_wh == pytest.approx(1_000 + most * 0.99)
    clock.advance(1)
    energy.add_diverter(("pwm", "rod"), consumer_state(None, energy_wh=5_000 + most * 0.99 + most * 1.01))
    assert energy.diverted_wh == pytest.approx(1_000 + most * 0.99)  # beyond: not counted


@pytest.mark.parametrize("power_w", [MAX_HOUSE_POWER_W * 1.01, MAX_POWER_W, -1000.0])
def test_a_diverter_power_beyond_a_house_connection_or_negative_is_not_integrated(clock, power_w):
    energy = day_energy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(power_w))
    clock.advance(36)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000))
    clock.advance(36)
    energy.add_diverter(("pwm", "rod"), consumer_state(0))
    assert energy.diverted_wh == pytest.approx(10)  # only the plausible 1000 W for 36 s
    assert energy.message().diverted_wh == 10


def test_wall_clock_steps_change_the_day_but_not_the_elapsed_time(clock):
    energy = day_energy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000))
    clock.step_wall(-3600)  # the wall clock is set back an hour (same day)
    clock.advance(36)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000))
    clock.step_wall(+7200)  # and forward two hours
    clock.advance(36)
    energy.add_diverter(("pwm", "rod"), consumer_state(0))
    assert energy.diverted_wh == pytest.approx(20)


def test_midnight_starts_a_new_day_and_keeps_the_counter_baseline(clock):
    clock.now = datetime(2026, 11, 23, 23, 59, 59, tzinfo=TZ)
    energy = day_energy(clock)
    energy.add_grid(grid(100, imported=1_000, exported=50))
    clock.advance(0.5)
    energy.add_grid(grid(100, imported=1_010, exported=50))
    assert energy.totals().imported_wh == pytest.approx(10)
    clock.advance(1)  # 00:00:00.5 local (23:00 UTC): a new day
    assert energy.totals() == DayTotals("2026-11-24", 0.0, 0.0, None, None)
    energy.add_grid(grid(100, imported=1_015, exported=50))
    assert energy.imported_wh == pytest.approx(5)  # from the last counter of yesterday, not from zero


def test_diverted_from_energy_counters_or_integrated_power(clock):
    energy = day_energy(clock)
    energy.add_diverter(("pwm", "rod"), consumer_state(None))  # nothing known: still unknown
    assert energy.diverted_wh is None
    energy.add_diverter(("pwm", "rod"), consumer_state(1000, duty=0.5, energy_wh=4_000))
    energy.add_diverter(("pwm2", "fan"), consumer_state(360, duty=0.2))
    clock.advance(10)
    energy.add_diverter(("pwm", "rod"), consumer_state(1000, duty=0.5, energy_wh=4_002.5))
    energy.add_diverter(("pwm2", "fan"), consumer_state(0, duty=0))  # 360 W for 10 s: 1 Wh
    assert energy.diverted_wh == pytest.approx(3.5)


def inverter_state(power_w: float, energy_wh: float | None) -> DeviceState:
    return DeviceState(
        actuator_id="opendtu",
        device_id="114182912345",
        reachable=True,
        producing=True,
        power_w=power_w,
        energy_wh=energy_wh,
    )


def test_produced_from_each_inverters_yield_counter_only(clock):
    energy = day_energy(clock)
    roof, balcony = ("opendtu", "114182912345"), ("opendtu", "116180400144")
    energy.add_inverter(roof, inverter_state(600, None))  # OpenDTU has no counter yet: its power is not integrated
    assert energy.produced_wh is None
    energy.add_inverter(roof, inverter_state(600, 1_234_567))  # the first counter: the baseline
    energy.add_inverter(balcony, inverter_state(300, 98_000))
    clock.advance(60)
    energy.add_inverter(roof, inverter_state(600, 1_234_577))
    energy.add_inverter(roof, inverter_state(650, 1_234_577))  # a command's echo: the same counter
    energy.add_inverter(balcony, inverter_state(300, 98_005))
    assert energy.produced_wh == pytest.approx(15)
    clock.advance(1)
    energy.add_inverter(balcony, inverter_state(300, 198_005))  # 100 kWh in a second: not counted
    assert energy.produced_wh == pytest.approx(15)
    assert energy.message().produced_wh == 15


def test_restore_adds_todays_saved_totals_only(clock):
    energy = day_energy(clock)
    energy.add_grid(grid(1000, imported=50, exported=0))
    clock.advance(3.6)
    energy.add_grid(grid(0, imported=51, exported=0))  # 1 Wh counted before the retained totals arrived
    assert not energy.restore(EnergyToday(date="2026-11-22", imported_wh=900, exported_wh=9, diverted_wh=90))
    assert energy.imported_wh == pytest.approx(1)
    saved = EnergyToday(date="2026-11-23", imported_wh=900, exported_wh=9, produced_wh=3_000, diverted_wh=90)
    assert energy.restore(saved)
    message = energy.message()
    assert (message.date, message.imported_wh, message.exported_wh) == ("2026-11-23", 901, 9)
    assert (message.produced_wh, message.diverted_wh) == (3_000, 90)


def test_totals_saved_before_production_was_counted_restore_it_as_zero(clock):
    """A retained EnergyToday of an earlier version has no ``produced_wh``: it parses, production counts on from 0."""
    saved = EnergyToday.model_validate_json(
        '{"timestamp": 1.0, "date": "2026-11-23", "imported_wh": 900, "exported_wh": 9, "diverted_wh": 90}'
    )
    energy = day_energy(clock)
    assert energy.restore(saved)
    assert energy.totals().produced_wh == 0


def test_restore_happens_once_and_only_with_totals_a_day_can_hold(clock):
    saved = EnergyToday(date="2026-11-23", imported_wh=900, exported_wh=9, diverted_wh=90)
    energy = day_energy(clock)
    assert energy.restore(saved)
    assert not energy.restore(saved)  # delivered again after a reconnect: not added twice
    assert energy.imported_wh == 900
    absurd = day_energy(clock)
    assert not absurd.restore(saved.model_copy(update={"exported_wh": MAX_DAY_WH + 1}))
    assert absurd.totals() == DayTotals("2026-11-23", None, None, None, None)
    assert absurd.restore(saved.model_copy(update={"exported_wh": MAX_DAY_WH}))


# ---- hostile input ------------------------------------------------------------------------

POWERS = st.none() | st.floats(-MAX_POWER_W, MAX_POWER_W)
COUNTERS = st.none() | st.floats(0, MAX_ENERGY_WH)
TOTALS = st.floats(0, MAX_ENERGY_WH)
STEPS = st.floats(0, 1e6)  # seconds between two samples (monotonic)
WALL_STEPS = st.floats(-3 * 86400, 3 * 86400)  # wall clock set back or forward


def grid_readings() -> st.SearchStrategy[GridReading]:
    since = st.none() | st.floats(0, MAX_TIMESTAMP)  # when the counters started from 0: any time, also today
    readings = st.builds(grid, POWERS, COUNTERS, COUNTERS)
    return st.builds(lambda reading, start: reading.model_copy(update={"energy_since": start}), readings, since)


def diverter_states() -> st.SearchStrategy[tuple[tuple[str, str], object]]:
    keys = st.sampled_from([("pwm", "rod"), ("pwm", "fan")])
    states = st.builds(consumer_state, POWERS, energy_wh=COUNTERS)
    return st.tuples(keys, states)


def saved_totals() -> st.SearchStrategy[EnergyToday]:
    dates = st.sampled_from(["2026-11-22", "2026-11-23", "2026-11-24"])
    return st.builds(EnergyToday, date=dates, imported_wh=TOTALS, exported_wh=TOTALS, diverted_wh=TOTALS)


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("grid"), grid_readings()),
        st.tuples(st.just("diverter"), diverter_states()),
        st.tuples(st.just("restore"), saved_totals()),
        st.tuples(st.just("advance"), STEPS),
        st.tuples(st.just("wall"), WALL_STEPS),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_hostile_input_keeps_the_totals_finite_and_plausible(events):
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=TZ))
    energy = day_energy(clock)
    elapsed, samples = 0.0, 0
    for kind, value in events:
        if kind == "grid":
            energy.add_grid(value)
            samples += 1
        elif kind == "diverter":
            energy.add_diverter(*value)
            samples += 1
        elif kind == "restore":
            energy.restore(value)
        elif kind == "advance":
            clock.advance(value)
            elapsed += value
        else:
            clock.step_wall(value)
        message = energy.message()  # always builds: every total within EnergyToday's bounds
        # What a house connection could have drawn in the whole run, plus one day's restored totals and one
        # first counter value counted whole (a cycle begun today: at most a day's worth and the slack).
        whole = MAX_DAY_WH + MAX_HOUSE_POWER_W * JUMP_SLACK_S / 3600
        bound = MAX_DAY_WH + whole + 2 * MAX_HOUSE_POWER_W * (elapsed + JUMP_SLACK_S * samples) / 3600
        for total in (energy.imported_wh, energy.exported_wh, energy.diverted_wh):
            assert total is None or (math.isfinite(total) and 0 <= total <= bound)
        assert message.date == energy.totals().date
