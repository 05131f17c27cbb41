"""The command budget's token bucket, shared by the controller (to plan) and actuator-opendtu (to enforce)."""

import pytest

from zeropower.shared.budget import BURST, RESERVE, CommandBucket


def test_a_full_bucket_spent_at_once_stays_within_the_hours_budget():
    bucket = CommandBucket.for_budget(120, now=0.0)
    sent = []
    now = 0.0
    while now < 3600:
        if bucket.allows(-100, now):
            bucket.take(now)
            sent.append(now)
        now += 1.0
    assert len(sent) <= 120
    assert len(sent) >= 120 - 2  # and it is not wasted


def test_raises_leave_the_reserve_to_reductions():
    bucket = CommandBucket.for_budget(120, now=0.0)
    for _ in range(BURST - RESERVE):
        assert bucket.allows(+100, 0.0)
        bucket.take(0.0)
    assert not bucket.allows(+100, 0.0)
    assert bucket.allows(-100, 0.0)
    assert bucket.ready_at(bucket.needed(+100)) == pytest.approx(3600 / (120 - BURST))


def test_a_trim_leaves_a_raise_possible_a_larger_cut_takes_the_last_token():
    bucket = CommandBucket.for_budget(120, now=0.0)
    while bucket.allows(+100, 0.0) and bucket.ready_at(bucket.needed(-10, trim_w=25)) <= 0.0:
        bucket.take(0.0)
    assert bucket.level(0.0) == RESERVE + 1  # the trims stopped where one more would have taken the raise's token
    assert bucket.needed(+10, trim_w=25) == bucket.needed(+10)  # raises keep the reserve anyway
    for _ in range(RESERVE + 1):
        assert bucket.allows(-30, 0.0)
        bucket.take(0.0)
    assert bucket.level(0.0) == 0


def test_the_level_refills_up_to_the_burst():
    bucket = CommandBucket.for_budget(240, now=0.0)
    bucket.take(0.0)
    assert bucket.level(0.0) == BURST - 1
    assert bucket.level(1e6) == BURST
    assert bucket.ready_at(1) == 0.0  # since the take


def test_a_mirror_is_limited_to_what_the_bucket_it_mirrors_holds_never_raised():
    bucket = CommandBucket.for_budget(240, now=0.0)
    bucket.limit_to(2.5, now=10.0)
    assert bucket.level(10.0) == 2.5
    bucket.limit_to(5.0, now=20.0)
    assert bucket.level(20.0) == pytest.approx(2.5 + 10 * bucket.rate)
    bucket.limit_to(-1.0, now=20.0)
    assert bucket.level(20.0) == 0.0
