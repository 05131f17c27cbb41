"""End to end over real Mosquitto with a heater: simulator → meter → controller → PWM and OpenDTU actuators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SERVICES, TARGET_W, System, running_system
from zeropower.shared.messages import SetpointCommand, SimState

pytestmark = pytest.mark.integration

HEATER_W = 600.0
MAX_OUTPUT_W = 1200.0


def with_heater(config: dict[str, Any], workdir: Path) -> None:
    """A 600 W heater behind a phase-fired controller, driven by actuator-pwm's sim output."""
    config["sim"]["heater"] = {"rated_w": HEATER_W, "controller": "phase_fired"}
    config["sim"]["pv"]["power_w"] = 1300  # the inverters could deliver their 1200 W
    config["actuator_pwm"] = {
        "rated_w": HEATER_W,
        "output": {"type": "sim"},
        "mapping": {"type": "phase_fired"},
        "energy_file": str(workdir / "heater-energy.json"),
    }


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """The four core services plus actuator-pwm, with a simulated heater."""
    configure = lambda config: with_heater(config, tmp_path)  # noqa: E731
    async with running_system(tmp_path, configure, (*SERVICES, "actuator_pwm")) as running:
        yield running


def setpoint_commands(system: System, since: int) -> list[tuple[str, float]]:
    """The controller's setpoint commands since a probe mark, in order: (actuator, total W)."""
    commands = []
    for message in system.probe.messages[since:]:
        for actuator in ("opendtu", "heater"):
            if message.topic == system.topics.actuator_setpoints(actuator):
                total = sum(SetpointCommand.model_validate_json(message.payload).setpoints_w.values())
                commands.append((actuator, total))
    return commands


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
    commands = setpoint_commands(system, since=before_drop)
    first_cut = next(i for i, (actuator, total) in enumerate(commands) if actuator == "opendtu" and total < 1199)
    heater_full = next(i for i, (actuator, total) in enumerate(commands) if actuator == "heater" and total >= 599)
    assert heater_full <= first_cut, f"the heater must reach its maximum before any curtailment: {commands}"

    await system.set_load(900)  # +700 W: the heater gives way first, then the inverters are raised again
    risen = await system.sim_state(lambda s: s.load_w > 850)
    assert risen.limit_w < MAX_OUTPUT_W - 300
    given_way = await system.sim_state(lambda s: s.heater_w < HEATER_W / 2, timeout=10)
    assert given_way.limit_w < MAX_OUTPUT_W - 300, "the heater must give way before the inverters are raised"
    await system.sim_state(
        lambda s: near_target(s) and s.limit_w >= MAX_OUTPUT_W - 1 and abs(s.heater_w - 280) <= 80, timeout=90
    )
