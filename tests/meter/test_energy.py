"""The meter service's netted energy counters: grid power held between valid readings, gaps never counted."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeropower.meter.energy import NettedEnergy
from zeropower.meter.gate import ReadingGate
from zeropower.meter.reading import MeterError, MeterValues, PhaseValues, RawValue
from zeropower.shared.messages import GridReading, PhaseReading

AT = 1765000000.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def valid(power_w, phases=()):
    return GridReading(timestamp=AT, power_w=power_w, phases=[PhaseReading(power_w=p) for p in phases])


MISSING = GridReading(timestamp=AT, power_w=None, error="HTTP 500")


def feed(samples, max_gap_s=10.0):
    """Count ``(seconds since the previous sample, reading)`` pairs; the counters after the last one."""
    clock = Clock()
    energy = NettedEnergy(max_gap_s, clock)
    for seconds, reading in samples:
        clock.now += seconds
        energy.count(reading)
    return energy.import_wh, energy.export_wh


def test_the_power_of_a_reading_holds_until_the_next():
    assert feed([(0, valid(-3600.0)), (1, valid(-3600.0)), (2, valid(0.0))]) == (0.0, 3.0)


def test_the_previous_sample_decides_import_or_export():
    assert feed([(0, valid(3600.0)), (1, valid(-7200.0)), (1, valid(0.0))]) == (1.0, 2.0)


def test_phases_of_opposite_sign_are_netted():
    """500 W fed in on one phase while two draw 700 W: 200 W import, as a utility meter bills, no export."""
    reading = valid(200.0, phases=(-500.0, 300.0, 400.0))
    assert feed([(0, reading), (3600, reading)], max_gap_s=3600) == (200.0, 0.0)


def test_readings_carry_when_the_counters_started_from_zero():
    energy = NettedEnergy(10.0, Clock(), wall_clock=lambda: AT - 60)
    counted = energy.count(valid(100.0))
    assert (counted.energy_import_wh, counted.energy_export_wh, counted.energy_since) == (0.0, 0.0, AT - 60)
    assert energy.count(MISSING).energy_since is None  # a missing reading carries no counters


def test_a_gap_longer_than_max_gap_is_not_counted():
    assert feed([(0, valid(3600.0)), (10.5, valid(3600.0))]) == (0.0, 0.0)
    assert feed([(0, valid(3600.0)), (10, valid(3600.0))]) == pytest.approx((10.0, 0.0))  # at the limit: counted


def test_a_missing_reading_ends_the_interval():
    """The power before a failed read is not known to have held: that stretch is lost, not guessed."""
    samples = [(0, valid(3600.0)), (1, MISSING), (1, valid(3600.0)), (1, valid(0.0))]
    assert feed(samples) == pytest.approx((1.0, 0.0))  # only the last interval


def test_a_clock_that_did_not_advance_counts_nothing():
    assert feed([(0, valid(3600.0)), (0, valid(3600.0)), (-5, valid(3600.0))]) == (0.0, 0.0)


def test_a_non_finite_power_is_never_counted_and_ends_the_interval():
    nan = GridReading.model_construct(timestamp=AT, power_w=math.nan, phases=[], error=None)
    assert feed([(0, valid(3600.0)), (1, nan), (1, valid(3600.0))]) == (0.0, 0.0)


def test_the_reading_carries_the_counters_rounded_and_a_missing_one_none():
    clock = Clock()
    energy = NettedEnergy(10.0, clock)
    assert energy.count(valid(-1000.0)).energy_export_wh == 0.0
    clock.now += 1
    counted = energy.count(valid(-1000.0))
    assert (counted.energy_import_wh, counted.energy_export_wh) == (0.0, 0.2778)
    assert energy.count(MISSING) == MISSING


def test_counters_start_from_zero_at_every_start():
    """No state is kept across a restart: a new meter cycle, as Home Assistant's total_increasing takes a drop."""
    first = feed([(0, valid(3600.0)), (1, valid(3600.0))])
    assert first == (1.0, 0.0)
    assert NettedEnergy(10.0).count(valid(3600.0)).energy_import_wh == 0.0


SAMPLE = st.tuples(
    st.floats(min_value=-20.0, max_value=20.0),
    st.one_of(st.none(), st.floats(min_value=-50_000.0, max_value=50_000.0)),
)


@settings(max_examples=300, deadline=None, database=None, print_blob=True)
@given(st.lists(SAMPLE, max_size=60))
def test_counters_never_go_backwards_nor_beyond_the_largest_power(samples):
    clock = Clock()
    energy = NettedEnergy(10.0, clock)
    published = []
    for seconds, power_w in samples:
        clock.now += seconds
        reading = energy.count(MISSING if power_w is None else valid(power_w))
        if reading.valid:
            published.append((reading.energy_import_wh, reading.energy_export_wh))
    for earlier, later in itertools.pairwise(published):
        assert later[0] >= earlier[0]
        assert later[1] >= earlier[1]
    bound = 50_000.0 * sum(max(seconds, 0.0) for seconds, _ in samples) / 3600 + 1e-6
    assert energy.import_wh + energy.export_wh <= bound


def test_the_gate_publishes_netted_counters_as_they_are_and_integrates_the_others():
    values = MeterValues(
        power_w=-400.0,
        phases=[PhaseValues(power_w=-600.0), PhaseValues(power_w=200.0)],
        energy_import=RawValue(50.0, "import"),
        energy_export=RawValue(70.0, "export"),
    )
    clock = Clock()
    netted = ReadingGate("m", max_power_w=50_000, stale_after_s=10, netted_counters=True, energy_max_gap_s=10)
    integrated = ReadingGate(
        "m", max_power_w=50_000, stale_after_s=10, netted_counters=False, energy_max_gap_s=10, clock=clock
    )
    assert (netted.judge(values, AT).energy_import_wh, netted.judge(values, AT).energy_export_wh) == (50.0, 70.0)
    integrated.judge(values, AT)
    clock.now += 9
    reading = integrated.judge(values, AT + 9)
    assert (reading.energy_import_wh, reading.energy_export_wh) == (0.0, 1.0)  # 400 W for 9 s, not 50/70
    missing = integrated.judge(MeterError("HTTP 500"), AT + 10)
    assert (missing.power_w, missing.energy_import_wh, missing.energy_export_wh) == (None, None, None)
