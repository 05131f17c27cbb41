"""OpenDTU's one radio: one command on the air at a time, a newer one replaces a queued one."""

from zeropower.sim.radio import Radio, Transfer


def test_commands_are_served_one_after_another():
    radio = Radio(2.0)
    radio.send("a", 100, 10.0)
    radio.send("b", 200, 10.0)
    radio.send("c", 300, 10.5)
    assert radio.poll(10.0) == ([], [Transfer("a", 100, 10.0, 12.0)])
    assert radio.poll(11.9) == ([], [])
    assert radio.poll(14.0) == (
        [Transfer("a", 100, 10.0, 12.0), Transfer("b", 200, 12.0, 14.0)],
        [Transfer("b", 200, 12.0, 14.0), Transfer("c", 300, 14.0, 16.0)],
    )


def test_an_idle_radio_sends_at_once():
    radio = Radio(2.0)
    radio.send("a", 100, 0.0)
    radio.poll(5.0)
    radio.send("a", 50, 7.0)
    assert radio.poll(7.0) == ([], [Transfer("a", 50, 7.0, 9.0)])


def test_a_newer_command_replaces_the_queued_one_at_the_back_but_not_the_one_on_the_air():
    radio = Radio(2.0)
    radio.send("a", 100, 0.0)
    radio.poll(0.0)
    radio.send("b", 200, 0.5)
    radio.send("a", 110, 0.6)
    radio.send("b", 210, 0.7)
    assert radio.current == Transfer("a", 100, 0.0, 2.0)
    assert radio.queued == [("a", 110), ("b", 210)]
