"""InfluxDB writers, one per file, chosen by ``type``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from zeropower.recorder.writers.base import RejectedWriteError, TransientWriteError, Writer
from zeropower.recorder.writers.influxdb1 import InfluxDb1Config, InfluxDb1Writer
from zeropower.recorder.writers.influxdb2 import InfluxDb2Config, InfluxDb2Writer

InfluxConfig = Annotated[InfluxDb2Config | InfluxDb1Config, Field(discriminator="type")]

__all__ = ["InfluxConfig", "RejectedWriteError", "TransientWriteError", "Writer", "make_writer"]


def make_writer(config: InfluxDb2Config | InfluxDb1Config) -> Writer:
    """The writer for a configured InfluxDB (use it with ``async with``)."""
    if isinstance(config, InfluxDb2Config):
        return InfluxDb2Writer(config)
    return InfluxDb1Writer(config)
