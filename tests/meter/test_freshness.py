"""The frozen-value watch: only a change of the device's own time makes a value new (monotonic timing)."""

from zeropower.meter.device_time import unix_time
from zeropower.meter.freshness import NEW, REPEAT, FreshnessWatch


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


T1, T2 = unix_time(1700000000.0), unix_time(1700000002.0)


def test_the_first_device_time_is_only_a_starting_point():
    clock = Clock()
    watch = FreshnessWatch(10, clock)
    first = watch.judge(T1)
    assert first.publish
    assert first.error == "waiting for the device time to advance (it shows 2023-11-14T22:13:20.000+00:00)"
    clock.now += 1
    assert watch.judge(T1) == first
    assert watch.judge(T2) == NEW


def test_a_repeat_is_skipped_until_it_is_frozen():
    clock = Clock()
    watch = FreshnessWatch(10, clock)
    watch.judge(T1)
    assert watch.judge(T2) == NEW
    clock.now += 9.9
    assert watch.judge(T2) == REPEAT
    clock.now += 3600
    frozen = watch.judge(T2)
    assert frozen.publish
    assert frozen.error == (
        "the meter's value is frozen: its device time has stayed at 2023-11-14T22:13:22.000+00:00 for 3610 s "
        "(meter.stale_after_s is 10 s)"
    )
    assert watch.judge(T1) == NEW  # any change is news


def test_a_device_time_that_never_moves_after_the_start_is_frozen_too():
    clock = Clock()
    watch = FreshnessWatch(10, clock)
    watch.judge(T1)  # e.g. vzlogger serving an hour-old tuple
    clock.now += 12
    assert watch.judge(T1).error == (
        "the meter's value is frozen: its device time has stayed at 2023-11-14T22:13:20.000+00:00 for at least "
        "12 s (meter.stale_after_s is 10 s)"
    )


def test_a_clock_stepped_back_counts_as_new():
    clock = Clock()
    watch = FreshnessWatch(10, clock)
    watch.judge(T2)
    assert watch.judge(T1) == NEW
    clock.now += 1
    assert watch.judge(T2) == NEW
