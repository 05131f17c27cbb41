"""End to end over real Mosquitto with a heater: simulator → meter → controller → PWM and OpenDTU actuators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    HEATER_W,
    MAX_OUTPUT_W,
    SERVICES,
    TARGET_W,
    System,
    running_system,
    with_heater,
)
from zeropower.shared.messages import ControllerState, SimState

pytestmark = pytest.mark.integration


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """The four core services plus actuator-pwm, with a simulated heater."""
    configure = lambda config: with_heater(config, tmp_path)  # noqa: E731
    async with running_system(tmp_path, configure, (*SERVICES, "actuator_pwm")) as running:
        yield running


def controller_states(system: System, since: int) -> list[ControllerState]:
    """The controller's states since a probe mark, in order (one per decision)."""
    topic = system.topics.controller_state()
    return [ControllerState.model_validate_json(m.payload) for m in system.probe.messages[since:] if m.topic == topic]


def near_target(state: SimState) -> bool:
    return abs(state.grid_w - TARGET_W) <= 60


async def test_export_goes_into_the_heater_before_curtailment_and_the_heater_gives_way_first(system: System):
    await system.controller_mode("regulating")
    await system.set_load(900)  # 300 W of surplus: all of it fits into the heater, nothing stays curtailed
    await system.sim_state(
        lambda s: near_target(s) and s.limit_w >= MAX_OUTPUT_W - 1 and abs(s.heater_w - 280) <= 80, timeout=90
    )

    before_drop = system.probe.mark()
    await system.set_load(200)  # 1000 W of surplus: the heater takes 600 W at once, then the inverters are cut
    await system.sim_state(
        lambda s: near_target(s) and s.limit_w < MAX_OUTPUT_W - 300 and s.heater_w > HEATER_W - 30, timeout=60
    )
    decisions = controller_states(system, since=before_drop)
    first_cut = next(state for state in decisions if state.limit_w < MAX_OUTPUT_W - 1)
    # the heater is at its maximum by the decision that first curtails (the same one, when a single reading
    # shows more surplus than the heater can take)
    assert first_cut.consumption_w >= HEATER_W - 1, [(s.consumption_w, s.limit_w, s.reason) for s in decisions]

    await system.set_load(900)  # +700 W: the heater gives way first, then the inverters are raised again
    risen = await system.sim_state(lambda s: s.load_w > 850)
    assert risen.limit_w < MAX_OUTPUT_W - 300
    given_way = await system.sim_state(lambda s: s.heater_w < HEATER_W / 2, timeout=10)
    assert given_way.limit_w < MAX_OUTPUT_W - 300, "the heater must give way before the inverters are raised"
    await system.sim_state(
        lambda s: near_target(s) and s.limit_w >= MAX_OUTPUT_W - 1 and abs(s.heater_w - 280) <= 80, timeout=90
    )
