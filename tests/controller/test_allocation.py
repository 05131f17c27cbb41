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


@pytest.mark.parametrize("method", ["proportional", "priority"])
def test_what_exceeds_the_available_power_goes_up_to_the_maximum(method):
    shares = [Share("cloudy", 40, 300, max_w=800), Share("sunny", 20, 400, max_w=400)]
    assert allocate(700, shares, method) == pytest.approx({"cloudy": 300, "sunny": 400})  # what is available
    assert allocate(1000, shares, method) == pytest.approx({"cloudy": 600, "sunny": 400})  # the rest above 300 W
    assert allocate(5000, shares, method) == pytest.approx({"cloudy": 800, "sunny": 400})


@pytest.mark.parametrize("method", ["proportional", "priority"])
def test_a_full_sun_limited_share_waits_its_headroom_above_what_it_delivers(method):
    shares = [Share("shaded", 20, 100, max_w=400, headroom_w=50), Share("sunny", 40, 800, max_w=800)]
    assert allocate(900, shares, method) == pytest.approx({"shaded": 150, "sunny": 800})  # delivers 900 W
    assert allocate(1000, shares, method) == pytest.approx({"shaded": 200, "sunny": 800})  # beyond: the rest
    below = allocate(500, shares, method)  # what the limits deliver while the sun stays: 500 W
    assert min(below["shaded"], 100) + below["sunny"] == pytest.approx(500)
