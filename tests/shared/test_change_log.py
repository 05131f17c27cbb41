"""Rate-limited logging of conditions (ChangeLogger) and of one-off events (EventLogger)."""

import logging

from zeropower.shared.change_log import ChangeLogger, EventLogger

log = logging.getLogger("test")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_condition_is_logged_when_it_starts_changes_and_ends_at_most_once_a_quiet_period(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    logger = ChangeLogger(log, "meter", quiet_s=60, clock=clock)
    for _ in range(100):
        logger.report("timeout")
    for clock.now, problem in ((10, "refused"), (20, "stalled"), (30, "refused")):
        logger.report(problem)  # within the quiet period: waits for the next call after it
    clock.now = 61
    logger.report("refused")
    logger.report(None)
    clock.now = 130
    logger.report(None)
    logged = ["meter: timeout", "meter: refused (2 more changes in the last 61 s)", "meter: recovered"]
    assert messages(caplog) == logged


def test_every_event_gets_its_own_line_until_a_flood(caplog):
    clock = Clock()
    logger = EventLogger(log, "command refused", burst=3, period_s=60, clock=clock)
    for n in range(10):
        logger.report(f"bad {n}")
    clock.now = 61
    logger.report("bad 10")
    assert messages(caplog) == [
        "command refused: bad 0",
        "command refused: bad 1",
        "command refused: bad 2",
        "command refused: bad 10 (7 more not logged)",
    ]


def test_an_event_text_is_cut_to_a_readable_length(caplog):
    EventLogger(log, "command refused").report("x" * 10_000)
    (line,) = messages(caplog)
    assert len(line) < 400
    assert line.endswith("...")
