"""PWM outputs, one per file, chosen by ``type`` in the settings (an explicit list, no plugin magic)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from zeropower.actuator_pwm.outputs.base import OutputError, PwmOutput
from zeropower.actuator_pwm.outputs.rpi_gpio import RpiGpioConfig, RpiGpioOutput
from zeropower.actuator_pwm.outputs.sim import Publish, SimOutput, SimOutputConfig
from zeropower.actuator_pwm.outputs.sysfs import SysfsConfig, SysfsOutput
from zeropower.shared.topics import Topics

__all__ = [
    "OutputConfig",
    "OutputError",
    "Publish",
    "PwmOutput",
    "RpiGpioConfig",
    "SimOutputConfig",
    "SysfsConfig",
    "open_output",
]

#: The output section of the settings: ``type`` picks the backend, so a bad config names the exact field.
OutputConfig = Annotated[RpiGpioConfig | SysfsConfig | SimOutputConfig, Field(discriminator="type")]


async def open_output(config: OutputConfig, *, topics: Topics, publish: Publish) -> PwmOutput:
    """Open the output for ``config`` as found (``PwmOutput.found_duty``); sim publishes through ``publish``."""
    match config:
        case RpiGpioConfig():
            output: PwmOutput = RpiGpioOutput(config)
        case SysfsConfig():
            output = await SysfsOutput.open(config)
        case SimOutputConfig():
            output = SimOutput(topics.sim_pwm_duty(config.output_id), publish)
    return output
