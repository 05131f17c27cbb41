"""The cadence monitor: one warning per jitter episode, recovery after a calm stretch."""

from zeropower.actuator_pwm.cadence import CALM_INTERVALS, MIN_INTERVALS, CadenceMonitor


def feed(monitor: CadenceMonitor, times: list[float]) -> list[bool]:
    return [monitor.observe(at) for at in times]


def test_a_steady_cadence_is_quiet():
    monitor = CadenceMonitor(20, reset_after_s=10)
    assert not any(feed(monitor, [i * 1.0 + (0.1 if i % 2 else 0) for i in range(30)]))
    assert monitor.problem is None


def test_an_episode_is_reported_once_and_ends_after_calm_intervals():
    monitor = CadenceMonitor(20, reset_after_s=10)
    times = [float(i) for i in range(MIN_INTERVALS + 1)]
    assert not any(feed(monitor, times))
    at = times[-1]
    changes = []
    for interval in (1.5, 0.5, 1.6):  # three irregular intervals: one episode
        at += interval
        changes.append(monitor.observe(at))
    assert changes == [True, False, False]
    assert monitor.problem is not None
    assert "50 % off the median 1.00 s" in monitor.problem
    calm = feed(monitor, [at + i for i in range(1, CALM_INTERVALS + 1)])
    assert calm == [False] * (CALM_INTERVALS - 1) + [True]
    assert monitor.problem is None


def test_a_gap_beyond_the_timeout_starts_afresh():
    monitor = CadenceMonitor(20, reset_after_s=10)
    feed(monitor, [float(i) for i in range(10)])
    assert not any(feed(monitor, [100.0, 100.5, 101.0, 101.5]))
    assert monitor.problem is None


def test_a_new_pace_starts_afresh():
    monitor = CadenceMonitor(20, reset_after_s=10)
    assert not any(monitor.observe(float(i), "regulating") for i in range(10))  # one per grid reading
    # zero export switched off: the controller sends at once, then on its own tick, 0.1 s out of phase
    paused = [monitor.observe(at, "paused") for at in (9.1, 10.1, 11.1, 12.1, 13.1, 14.1, 15.1)]
    assert not any(paused)
    assert monitor.problem is None
    assert monitor.observe(15.2, "paused")  # a jitter within one pace is still reported
