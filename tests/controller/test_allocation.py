import pytest

from zeropower.controller.allocation import Share, allocate

SHARES = [Share("a", 40, 800, priority=1), Share("b", 20, 400, priority=0)]


@pytest.mark.parametrize(
    ("total", "method", "expected"),
    [
        (1200, "proportional", {"a": 800, "b": 400}),
        (5000, "proportional", {"a": 800, "b": 400}),  # clamped to what they can deliver
        (0, "proportional", {"a": 40, "b": 20}),  # never below the minimum
        (60 + 570, "proportional", {"a": 40 + 380, "b": 20 + 190}),  # rest split 760:380
        (60 + 570, "priority", {"a": 40 + 190, "b": 400}),  # b (priority 0) fills first
        (60 + 100, "priority", {"a": 40, "b": 120}),
    ],
)
def test_allocate(total, method, expected):
    result = allocate(total, SHARES, method)
    assert result == pytest.approx(expected)
    assert sum(result.values()) == pytest.approx(min(max(total, 60), 1200))


def test_allocate_with_no_headroom_gives_minimums():
    assert allocate(500, [Share("a", 50, 50)], "proportional") == {"a": 50}
