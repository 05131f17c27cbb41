"""DTU drivers, one per file, chosen by ``type`` in the settings (an explicit list, no plugin magic)."""

from typing import Annotated

from pydantic import Field

from zeropower.actuator_opendtu.drivers.ahoydtu import AhoyDtuConfig
from zeropower.actuator_opendtu.drivers.base import DtuDriver, LimitCommand, TelemetryUpdate
from zeropower.actuator_opendtu.drivers.opendtu import OpenDtuConfig

#: The driver section of the settings: ``type`` picks the driver, so a bad config names the exact field.
DriverConfig = Annotated[OpenDtuConfig | AhoyDtuConfig, Field(discriminator="type")]

__all__ = ["AhoyDtuConfig", "DriverConfig", "DtuDriver", "LimitCommand", "OpenDtuConfig", "TelemetryUpdate"]
