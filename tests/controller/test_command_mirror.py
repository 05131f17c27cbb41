"""The controller plans with the commands the actuator actually sends: its mirror of the actuator's pacing and budget.

The actuator-opendtu service announces each inverter's pacing and budget; the controller's model, dynamics
learner and budget count a setpoint as a command only when and as the actuator's ``CommandPolicy`` sends it.
Both run here on one clock, the policy woken whenever it asks to be (as its service's timer does).
"""

import random

import pytest

from zeropower.actuator_opendtu.policy import CommandPolicy
from zeropower.actuator_opendtu.settings import ActuatorOpenDtuSettings
from zeropower.controller.logic import ZeroExportController
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import DeviceState, GridReading

ROOF, BALCONY = "114182912345", "112182954321"


class FakeClock:
    def __init__(self, now: float = 5000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def roof_state(limit_w: float, **reported: float | None) -> DeviceState:
    """The roof inverter at its limit, as actuator-opendtu reports it (with ``reported``'s extra fields)."""
    return DeviceState(
        actuator_id="opendtu",
        device_id=ROOF,
        reachable=True,
        producing=True,
        power_w=limit_w,
        limit_w=limit_w,
        **reported,
    )


def test_the_controller_counts_exactly_the_commands_the_actuator_sends():
    clock = FakeClock()
    actuator = ActuatorOpenDtuSettings(
        inverters=[
            {"serial": ROOF, "max_w": 800, "min_w": 40, "commands_per_hour": 3600},
            {"serial": BALCONY, "max_w": 400, "min_w": 20, "commands_per_hour": 240},
        ]
    )
    policy = CommandPolicy(actuator, clock)
    controller = ZeroExportController(ControllerSettings(dead_time_s=8, learn_dynamics=False), clock)
    controller.set_actuator(
        "opendtu",
        [inverter.device_info(device_id, actuator.pacing) for device_id, inverter in actuator.inverters_by_id.items()],
    )
    rng = random.Random(7)
    sent = {ROOF: 800.0, BALCONY: 400.0}  # the plant: each inverter gives the last limit sent, at once
    load_w, commands, held_back = 900.0, 0, 0
    start = clock.now
    while clock.now < start + 1800:
        if rng.random() < 0.4:  # a load stepping every few seconds, so the pacing and the budget bind
            load_w = rng.choice([200.0, 600.0, 900.0, 1300.0])
        decision = controller.on_grid(GridReading(timestamp=clock.now, power_w=load_w - sum(sent.values())))
        held_back += sum(d.setpoint_w != d.sent_w for d in controller._devices.values())
        policy.on_setpoints(decision.setpoints["opendtu"], dry_run=False)
        second_ends = clock.now + 1
        while True:
            for command in policy.next_commands():
                sent[command.device_id] = command.limit_w
                commands += 1
            wake = policy.wake_at()
            if wake is None or wake > second_ends:
                break
            clock.now = max(clock.now, wake)
        clock.now = second_ends
        controller.tick()  # the controller takes in what went out since its last step
        for device_id in (ROOF, BALCONY):
            mirrored, kept = controller._devices[device_id], policy._inverters[device_id]
            assert mirrored.sent_w == kept.sent_w
            assert mirrored.sent_at == pytest.approx(kept.sent_at)
            assert mirrored.budget.level(clock.now) == pytest.approx(kept.bucket.level(clock.now))
    assert commands > 300, commands  # the load kept both busy (561) ...
    assert held_back > 200, held_back  # ... and 406 setpoints waited for the pacing or the budget


def test_a_resend_the_controller_cannot_foresee_reaches_its_mirror_with_the_device_state():
    # Before: an inverter back after a restart (or a reconnect) got its limit again from the actuator alone,
    # and the controller planned with a token the actuator no longer had.
    clock = FakeClock()
    actuator = ActuatorOpenDtuSettings(inverters=[{"serial": ROOF, "max_w": 800, "min_w": 40}])
    policy = CommandPolicy(actuator, clock)
    controller = ZeroExportController(ControllerSettings(dead_time_s=8, learn_dynamics=False), clock)
    controller.set_actuator("opendtu", [actuator.inverters_by_id[ROOF].device_info(ROOF, actuator.pacing)])

    def report(commands_left: float) -> None:
        controller.on_device_state(roof_state(500, commands_left=commands_left))

    report(policy.commands_left(ROOF))
    clock.now += 3  # past the pacing the mirror assumes for the limit it adopted
    decision = controller.on_grid(GridReading(timestamp=clock.now, power_w=-300))
    policy.on_setpoints(decision.setpoints["opendtu"], dry_run=False)
    assert len(policy.next_commands()) == 1
    mirror = controller._devices[ROOF].budget
    assert mirror.level(clock.now) == pytest.approx(policy.commands_left(ROOF))
    clock.now += 1
    policy.resend(ROOF)  # the inverter came back: the actuator sends its limit again on its own
    assert len(policy.next_commands()) == 1
    assert mirror.level(clock.now) == pytest.approx(policy.commands_left(ROOF) + 1)  # the mirror cannot know
    report(policy.commands_left(ROOF))
    assert mirror.level(clock.now) == pytest.approx(policy.commands_left(ROOF))
    report(6)  # a report never gives back tokens the mirror saw spent (it may be older than a send)
    assert mirror.level(clock.now) == pytest.approx(policy.commands_left(ROOF))


@pytest.mark.parametrize("last_command_s_ago", [None, 1.0])
def test_the_mirror_starts_from_the_last_command_the_actuator_reports(last_command_s_ago):
    # Before: an adopted limit counted as sent when adopted, so the mirror held the first cut back by the
    # reduce interval while a fresh actuator sent it at once; the dynamics learner, timing that command 2-3 s
    # late, learned a dead time of 2.5 s instead of 8 s from it (bench: `single`, steps, typical).
    clock = FakeClock()
    actuator = ActuatorOpenDtuSettings(inverters=[{"serial": ROOF, "max_w": 800, "min_w": 40}])
    policy = CommandPolicy(actuator, clock)
    controller = ZeroExportController(
        ControllerSettings(dead_time_s=8, learn_dynamics=False), clock, wall_clock=lambda: 1763900000.0 + clock.now
    )
    controller.set_actuator("opendtu", [actuator.inverters_by_id[ROOF].device_info(ROOF, actuator.pacing)])
    if last_command_s_ago is not None:  # an actuator that has been running: its last command paces the next
        policy.on_setpoints({ROOF: 800}, dry_run=False)
        assert len(policy.next_commands()) == 1
        clock.now += last_command_s_ago
    sent_at = None if last_command_s_ago is None else 1763900000.0 + clock.now - last_command_s_ago
    controller.on_device_state(
        roof_state(800, last_command_w=None if sent_at is None else 800, last_command_at=sent_at)
    )
    for _ in range(4):
        decision = controller.on_grid(GridReading(timestamp=clock.now, power_w=-300))
        policy.on_setpoints(decision.setpoints["opendtu"], dry_run=False)
        policy.next_commands()
        controller.tick()  # the controller takes in what went out since its last step
        mirrored, kept = controller._devices[ROOF], policy._inverters[ROOF]
        assert (mirrored.sent_w, mirrored.sent_at) == (kept.sent_w, pytest.approx(kept.sent_at))
        clock.now += 0.5
