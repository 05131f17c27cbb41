"""The load forecast: the change over the next dead time, learned from the load's own history."""

from zeropower.controller.forecast import MIN_SAMPLES, STEP_W, LoadForecast


def pulses(forecast: LoadForecast, cycles: int, on_s: int = 20, off_s: int = 20, start: float = 0.0) -> float:
    """Feed a hob pulsing 1000 W on top of 200 W, one estimate a second; returns the time after the last."""
    at = start
    for _ in range(cycles):
        for load_w in [1200.0] * on_s + [200.0] * off_s:
            forecast.observe(at, load_w)
            at += 1.0
    return at


def test_a_pulsing_load_is_forecast_to_go_off_late_in_a_pulse_and_not_early():
    forecast = LoadForecast(horizon_s=8)
    at = pulses(forecast, 40)
    forecast.observe(at, 1200.0)  # a new pulse begins
    assert forecast.change_w(at + 1, 0.5) == 0  # 1 s on: it stays on for the next 8 s
    for second in range(1, 16):
        forecast.observe(at + second, 1200.0)
    assert forecast.change_w(at + 15, 0.5) == -1000  # 15 s on: it goes off within 8 s


def test_nothing_is_forecast_before_a_state_was_seen_often_enough():
    forecast = LoadForecast(horizon_s=8)
    at = pulses(forecast, MIN_SAMPLES // 10)  # ~3 pulses: each state seen a few times only
    forecast.observe(at, 1200.0)
    for second in range(1, 16):
        forecast.observe(at + second, 1200.0)
    assert forecast.change_w(at + 15, 0.5) == 0


def test_changes_smaller_than_a_step_are_not_steps():
    forecast = LoadForecast(horizon_s=8)
    forecast.observe(0.0, 500.0)
    forecast.observe(1.0, 500.0 + STEP_W)
    step_state = forecast.state(1.0)
    forecast.observe(2.0, 500.0 + STEP_W + STEP_W / 2)  # under a step: the last step stays the one at 1 s
    assert forecast.state(2.0)[1] == step_state[1]
    assert forecast.state(2.0)[0] > step_state[0]


def test_nothing_is_learned_across_a_gap_in_the_estimates():
    # The meter away for a minute at a time: the jumps seen across the gaps are neither steps nor changes
    # over the horizon, so no reversal is learned from them.
    forecast = LoadForecast(horizon_s=8)
    at = 0.0
    for _ in range(80):
        for load_w in (200.0, 1200.0):
            forecast.observe(at, load_w)
            at += 60.0
    forecast.observe(at, 200.0)
    forecast.observe(at + 60.0, 1200.0)
    assert forecast.change_w(at + 60.0, 0.5) == 0
    assert forecast.state(at + 60.0) == LoadForecast(horizon_s=8).state(at + 60.0)  # no step seen
