"""Battery drivers, one per file, chosen by the ``type`` key of the battery's settings (an explicit list)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from zeropower.actuator_battery.drivers.base import BatteryDriver, BatteryError, BatteryReading, FitCheck
from zeropower.actuator_battery.drivers.marstek_venus import MarstekVenusBattery, MarstekVenusSettings
from zeropower.actuator_battery.drivers.opendtu import OpenDtuBattery, OpenDtuBatteryConfig
from zeropower.actuator_battery.drivers.zendure import ZendureBattery, ZendureConfig
from zeropower.shared.mqtt import MqttBus

__all__ = [
    "BatteryDriver",
    "BatteryError",
    "BatteryReading",
    "DriverConfig",
    "FitCheck",
    "MarstekVenusSettings",
    "OpenDtuBatteryConfig",
    "ZendureConfig",
    "open_driver",
]

#: The driver section of a battery: ``type`` picks the protocol, so a bad config names the exact field.
#: Add a driver's config here as a union member and a case below; each config's ``check_fit(FitCheck)`` refuses a
#: battery's settings the device cannot follow.
DriverConfig = Annotated[ZendureConfig | MarstekVenusSettings | OpenDtuBatteryConfig, Field(discriminator="type")]


def open_driver(config: DriverConfig, bus: MqttBus) -> BatteryDriver:
    """The driver for ``config`` (it connects on its first request; an MQTT driver subscribes on ``bus``)."""
    match config:
        case ZendureConfig():
            return ZendureBattery(config)
        case MarstekVenusSettings():
            return MarstekVenusBattery(config)
        case OpenDtuBatteryConfig():
            return OpenDtuBattery(config, bus)


def describe_driver(config: DriverConfig) -> str:
    """The device for logs, without secrets."""
    match config:
        case ZendureConfig(serial=serial, url=url):
            return f"Zendure {serial} at {str(url).rstrip('/')}"
        case MarstekVenusSettings(host=host, port=port):
            return f"Marstek Venus at {host}:{port} (UDP Open API)"
        case OpenDtuBatteryConfig(prefix=prefix, serial=serial):
            return f"battery-powered Hoymiles {serial} via OpenDTU at {prefix}/{serial}"
