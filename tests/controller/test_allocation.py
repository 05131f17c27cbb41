import pytest

from zeropower.controller.allocation import Share, allocate

SHARES = [Share("a", 40, 800, priority=1), Share("b", 20, 400, priority=0)]
NOW = {"a": 300.0, "b": 200.0}  # what each limit stands for before the change
METHODS = ["fewest-commands", "proportional", "priority"]


@pytest.mark.parametrize(
    ("total", "method", "expected"),
    [
        (1200, "proportional", {"a": 800, "b": 400}),
        (5000, "proportional", {"a": 800, "b": 400}),  # clamped to what they can deliver
        (0, "proportional", {"a": 40, "b": 20}),  # never below the minimum
        (60 + 570, "proportional", {"a": 40 + 380, "b": 20 + 190}),  # rest split 760:380
        (60 + 570, "priority", {"a": 40 + 190, "b": 400}),  # b (priority 0) fills first
        (60 + 100, "priority", {"a": 40, "b": 120}),
        (700, "fewest-commands", {"a": 500, "b": 200}),  # +200 W: one command, to the one with most room
        (1100, "fewest-commands", {"a": 800, "b": 300}),  # +600 W: a is full at 800 W, b takes the rest
        (300, "fewest-commands", {"a": 100, "b": 200}),  # -200 W: one command, to the one furthest above min
        (5000, "fewest-commands", {"a": 800, "b": 400}),
        (0, "fewest-commands", {"a": 40, "b": 20}),
    ],
)
def test_allocate(total, method, expected):
    result = allocate(total, SHARES, method, NOW, alone_w=5000)
    assert result == pytest.approx(expected)
    assert sum(result.values()) == pytest.approx(min(max(total, 60), 1200))


def test_fewest_commands_spreads_a_change_beyond_what_one_ramps_alone():
    # a 300 W + b 200 W now: a 150 W raise goes to one inverter; a 400 W raise to both, each the same share
    # (4/7) of its room (a: 500 W, b: 200 W), so both ramps run at once; so does a 400 W cut (10/11 of what
    # each has above its minimum: 260 W, 180 W).
    assert allocate(650, SHARES, "fewest-commands", NOW, alone_w=200) == pytest.approx({"a": 450, "b": 200})
    assert allocate(900, SHARES, "fewest-commands", NOW, alone_w=200) == pytest.approx(
        {"a": 300 + 500 * 4 / 7, "b": 200 + 200 * 4 / 7}
    )
    assert allocate(100, SHARES, "fewest-commands", NOW, alone_w=200) == pytest.approx(
        {"a": 300 - 260 * 10 / 11, "b": 200 - 180 * 10 / 11}
    )


def test_allocate_with_no_headroom_gives_minimums():
    for method in METHODS:
        assert allocate(500, [Share("a", 50, 50)], method, {"a": 50}) == {"a": 50}


@pytest.mark.parametrize("method", METHODS)
def test_what_exceeds_the_available_power_goes_up_to_the_maximum(method):
    shares = [Share("cloudy", 40, 300, max_w=800), Share("sunny", 20, 400, max_w=400)]
    now = {"cloudy": 300, "sunny": 100}
    assert allocate(700, shares, method, now) == pytest.approx({"cloudy": 300, "sunny": 400})  # what is available
    assert allocate(1000, shares, method, now) == pytest.approx({"cloudy": 600, "sunny": 400})  # the rest above
    assert allocate(5000, shares, method, now) == pytest.approx({"cloudy": 800, "sunny": 400})


@pytest.mark.parametrize("method", METHODS)
def test_a_full_sun_limited_share_waits_its_headroom_above_what_it_delivers(method):
    shares = [Share("shaded", 20, 100, max_w=400, headroom_w=50), Share("sunny", 40, 800, max_w=800)]
    now = {"shaded": 100, "sunny": 400}
    assert allocate(900, shares, method, now) == pytest.approx({"shaded": 150, "sunny": 800})  # delivers 900 W
    assert allocate(1000, shares, method, now) == pytest.approx({"shaded": 200, "sunny": 800})  # beyond: the rest
    below = allocate(500, shares, method, now)  # what the limits deliver while the sun stays: 500 W
    assert min(below["shaded"], 100) + below["sunny"] == pytest.approx(500)
