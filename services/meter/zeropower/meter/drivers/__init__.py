"""The meter drivers: one file each, listed here explicitly, chosen by the ``type`` of the config."""

from __future__ import annotations

from typing import Annotated

import httpx
from pydantic import Field

from zeropower.meter.drivers.base import Meter, PolledMeter, PushMeter
from zeropower.meter.drivers.homeassistant import HomeAssistantConfig, HomeAssistantMeter
from zeropower.meter.drivers.http_json import HttpJsonConfig, HttpJsonMeter
from zeropower.meter.drivers.mqtt import MqttMeter, MqttMeterConfig
from zeropower.meter.drivers.shelly_gen1 import ShellyGen1Config, ShellyGen1Meter
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config, ShellyGen2Meter
from zeropower.meter.drivers.sim import SimConfig, SimMeter
from zeropower.meter.drivers.tasmota import TasmotaConfig, TasmotaMeter
from zeropower.meter.drivers.vzlogger import VzloggerConfig, VzloggerMeter
from zeropower.meter.drivers.vzlogger_push import VzloggerPushConfig, VzloggerPushMeter
from zeropower.shared.mqtt import MqttBus

__all__ = [
    "DriverConfig",
    "HomeAssistantConfig",
    "HttpJsonConfig",
    "Meter",
    "MqttMeterConfig",
    "PolledMeter",
    "PushMeter",
    "ShellyGen1Config",
    "ShellyGen2Config",
    "SimConfig",
    "TasmotaConfig",
    "VzloggerConfig",
    "VzloggerPushConfig",
    "create_meter",
]

DriverConfig = Annotated[
    SimConfig
    | ShellyGen1Config
    | ShellyGen2Config
    | TasmotaConfig
    | VzloggerConfig
    | VzloggerPushConfig
    | HomeAssistantConfig
    | HttpJsonConfig
    | MqttMeterConfig,
    Field(discriminator="type"),
]
"""Every driver's settings; ``type`` picks one, so a bad config names the driver and the field."""


def create_meter(
    config: DriverConfig, *, http: httpx.AsyncClient, bus: MqttBus, timeout_s: float, stale_after_s: float
) -> Meter:
    """The driver for ``config``: HTTP drivers share ``http``, the MQTT driver subscribes through ``bus``."""
    match config:
        case SimConfig():
            meter: Meter = SimMeter(config)
        case ShellyGen1Config():
            meter = ShellyGen1Meter(config, http, timeout_s)
        case ShellyGen2Config():
            meter = ShellyGen2Meter(config, http, timeout_s)
        case TasmotaConfig():
            meter = TasmotaMeter(config, http, timeout_s)
        case VzloggerConfig():
            meter = VzloggerMeter(config, http, timeout_s)
        case VzloggerPushConfig():
            meter = VzloggerPushMeter(config)
        case HomeAssistantConfig():
            meter = HomeAssistantMeter(config, http, timeout_s)
        case HttpJsonConfig():
            meter = HttpJsonMeter(config, http, timeout_s)
        case MqttMeterConfig():
            meter = MqttMeter(config, bus, stale_after_s)
    return meter
