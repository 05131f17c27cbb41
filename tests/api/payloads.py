"""Payloads the API tests publish, and publishing a running controller's retained topics."""

from tests.helpers import MqttProbe, wait_until
from zeropower.api.gateway import Gateway
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.messages import ActuatorAnnouncement, ControllerState, DeviceInfo, DeviceState, StorageInfo
from zeropower.shared.topics import Topics

PWM, HEATER = "pwm", "heater"  # the PWM actuator and its consumer device (a heating rod)
BATTERY, SOLARFLOW = "battery", "solarflow"  # the battery actuator and its storage device


def controller_state(*, enabled: bool, consumption_w: float = 0.0) -> str:
    """A controller state as the controller publishes it, regulating or paused."""
    setpoints = {"114182912345": 310.0} | ({HEATER: consumption_w} if consumption_w else {})
    return ControllerState(
        enabled=enabled,
        mode="regulating" if enabled else "paused",
        reason="grid within the deadband" if enabled else "switched off",
        grid_power_w=-120.0,
        grid_age_s=0.1,
        target_w=20.0,
        output_w=300.0,
        limit_w=310.0,
        consumption_w=consumption_w,
        setpoints_w=setpoints,
    ).model_dump_json()


def pwm_announcement(rated_w: float = 2000.0) -> ActuatorAnnouncement:
    """The PWM actuator's announcement: one consumer device."""
    heater = DeviceInfo(device_id=HEATER, name="heating rod", kind="consumer", min_w=0, max_w=rated_w)
    return ActuatorAnnouncement(actuator_id=PWM, driver="pwm", devices=[heater])


def consumer_state(power_w: float | None, *, duty: float | None = None, energy_wh: float | None = None) -> DeviceState:
    """The PWM actuator's state of its consumer device: estimated draw, duty and its energy counter."""
    return DeviceState(
        actuator_id=PWM,
        device_id=HEATER,
        reachable=True,
        producing=False,
        power_w=power_w,
        duty=duty,
        energy_wh=energy_wh,
    )


def battery_announcement(capacity_wh: float = 1920.0, reserve_pct: float = 10.0) -> ActuatorAnnouncement:
    """The battery actuator's announcement: one storage device, as actuator-battery announces a Zendure."""
    storage = StorageInfo(capacity_wh=capacity_wh, min_soc_pct=reserve_pct, max_soc_pct=100.0, response_time_s=5.0)
    battery = DeviceInfo(
        device_id=SOLARFLOW, name="SolarFlow", kind="storage", min_w=-800.0, max_w=1000.0, storage=storage
    )
    return ActuatorAnnouncement(actuator_id=BATTERY, driver="battery", devices=[battery])


def storage_state(
    power_w: float | None, soc_pct: float | None, *, reachable: bool = True, energy_wh: float | None = None
) -> DeviceState:
    """The battery actuator's state of its battery: power at the terminals (positive = charging) and SoC."""
    return DeviceState(
        actuator_id=BATTERY,
        device_id=SOLARFLOW,
        reachable=reachable,
        producing=power_w is not None and power_w < 0,
        power_w=power_w,
        limit_w=power_w,
        soc_pct=soc_pct,
        energy_wh=energy_wh,
    )


async def publish_controller(probe: MqttProbe, topics: Topics, gateway: Gateway, *, enabled: bool = True) -> None:
    """What a running controller keeps retained: its state, its config (the defaults) and availability online."""
    await probe.publish(topics.controller_state(), controller_state(enabled=enabled), retain=True)
    await probe.publish(topics.controller_config(), ControllerTunables().model_dump_json(), retain=True)
    await probe.publish(topics.availability("controller"), "online", retain=True)
    await wait_until(
        lambda: (
            gateway.enabled == enabled and gateway.snapshot.controller_config is not None and gateway.controller_online
        )
    )
