"""Battery drivers, one per file, chosen by the ``type`` key of the battery's settings (an explicit list)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from zeropower.actuator_battery.drivers.base import BatteryDriver, BatteryError, BatteryReading
from zeropower.actuator_battery.drivers.marstek_venus import MarstekVenusBattery, MarstekVenusSettings
from zeropower.actuator_battery.drivers.opendtu import OpenDtuBattery, OpenDtuBatteryConfig
from zeropower.actuator_battery.drivers.zendure import ZendureBattery, ZendureConfig
from zeropower.shared.mqtt import MqttBus

__all__ = [
    "BatteryDriver",
    "BatteryError",
    "BatteryReading",
    "DriverConfig",
    "MarstekVenusSettings",
    "OpenDtuBatteryConfig",
    "ZendureConfig",
    "open_driver",
]

#: The driver section of a battery: ``type`` picks the protocol, so a bad config names the exact field.
#: Add a driver's config here as a union member and a case below.
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


def check_driver_fits(
    config: DriverConfig, *, max_charge_w: float, max_discharge_w: float, min_voltage_v: float | None
) -> None:
    """ValueError naming the field when a battery's limits ask what its driver cannot do."""
    if not isinstance(config, OpenDtuBatteryConfig):
        return
    if max_charge_w > 0:
        raise ValueError(
            f"max_charge_w must be 0 with the opendtu driver, not {max_charge_w:g} W: a battery inverter on the DC "
            "side cannot charge from AC"
        )
    if max_discharge_w > config.nameplate_w:
        raise ValueError(
            f"max_discharge_w ({max_discharge_w:g} W) must not exceed driver.nameplate_w ({config.nameplate_w:g} W)"
        )
    if min_voltage_v is not None and config.voltage is None:
        raise ValueError("min_voltage_v needs driver.voltage (the topic the battery's voltage is published on)")
    if config.soc is None and min_voltage_v is None:
        raise ValueError(
            "the opendtu driver needs driver.soc (the BMS's state of charge), or driver.voltage with min_voltage_v"
        )


def describe_driver(config: DriverConfig) -> str:
    """The device for logs, without secrets."""
    match config:
        case ZendureConfig(serial=serial, url=url):
            return f"Zendure {serial} at {str(url).rstrip('/')}"
        case MarstekVenusSettings(host=host, port=port):
            return f"Marstek Venus at {host}:{port} (UDP Open API)"
        case OpenDtuBatteryConfig(prefix=prefix, serial=serial):
            return f"battery-powered Hoymiles {serial} via OpenDTU at {prefix}/{serial}"
