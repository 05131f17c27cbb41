"""A simulated output for the demo and tests: the duty goes to the simulator's heater over MQTT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import Field

from zeropower.shared.settings import StrictModel

Publish = Callable[[str, str], Awaitable[object]]
"""Publishes a retained text payload on a topic."""


class SimOutputConfig(StrictModel):
    """Publish the duty for ``zeropower.sim``, whose heater follows it."""

    type: Literal["sim"] = Field("sim", description="Simulated output: the duty is published for the simulator.")
    output_id: str = Field(
        "heater",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The simulated output's id, part of its topic <prefix>/sim/pwm/<output_id>/duty.",
    )


class SimOutput:
    """Publishes each duty (0-1, plain number text) retained on the simulator's PWM topic."""

    found_duty = None  # the simulator keeps the retained duty of a previous process

    def __init__(self, topic: str, publish: Publish) -> None:
        self.description = f"simulated PWM on {topic}"
        self._topic = topic
        self._publish = publish

    async def set_duty(self, duty: float) -> None:
        """Publish ``duty``, e.g. ``0.4213``."""
        await self._publish(self._topic, f"{round(duty, 4):g}")

    async def close(self) -> None:
        """Publish duty 0."""
        await self.set_duty(0.0)
