"""'Read it now': one reading from a meter, and the telemetry of inverters, from a setup not yet saved."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
from pydantic import BaseModel, Field

from zeropower.actuator_opendtu.settings import ActuatorOpenDtuSettings
from zeropower.actuator_opendtu.telemetry import InverterTelemetry
from zeropower.meter.drivers import PushMeter, create_meter
from zeropower.meter.reading import MeterError, MeterValues
from zeropower.meter.service import read_or_explain
from zeropower.meter.settings import MeterSettings
from zeropower.shared.messages import DeviceState
from zeropower.shared.mqtt import IncomingMessage, MqttBus

#: Longest wait for a meter's answer, or a push meter's first message, in s.
METER_WAIT_S = 6.0
#: Longest wait for every inverter's telemetry, in s (OpenDTU publishes every 5 s by default).
TELEMETRY_WAIT_S = 6.0


class MeterReadBody(BaseModel):
    """One reading of the meter as set up: the power, or why there is none."""

    meter: str = Field(description="What was read (no secrets).")
    power_w: float | None = Field(description="Grid power in W (positive = import) as the driver read it; null: none.")
    error: str | None = Field(description="Why there is no reading, as the meter service would say it.")


class InverterReadBody(BaseModel):
    """One inverter's telemetry as the DTU sent it within the wait, or that none came."""

    device_id: str = Field(description="The inverter's device id (OpenDTU: serial; AhoyDTU: name).")
    name: str = Field(description="Its name in the setup (the device id when unnamed).")
    heard: bool = Field(description="Whether any of its telemetry arrived within the wait.")
    state: DeviceState | None = Field(description="What arrived, normalised as actuator-opendtu publishes it.")


class InvertersReadBody(BaseModel):
    """The telemetry of every inverter in the setup."""

    waited_s: float = Field(description="How long the API listened, in s.")
    inverters: list[InverterReadBody] = Field(description="One entry per inverter, in setup order.")


async def read_meter(config: MeterSettings, bus: MqttBus) -> MeterReadBody:
    """Build the meter's driver from ``config`` and read it once (a push meter: its first message)."""
    async with httpx.AsyncClient() as http:
        meter = create_meter(
            config.driver, http=http, bus=bus, timeout_s=config.timeout_s, stale_after_s=config.stale_after_s
        )
        try:
            async with asyncio.timeout(METER_WAIT_S):
                result = await (_first_push(meter) if isinstance(meter, PushMeter) else read_or_explain(meter))
        except TimeoutError:
            result = MeterError(f"nothing from {meter.description} within {METER_WAIT_S:g} s")
    if isinstance(result, MeterValues):
        return MeterReadBody(meter=meter.description, power_w=result.power_w, error=None)
    return MeterReadBody(meter=meter.description, power_w=None, error=str(result))


async def _first_push(meter: PushMeter) -> MeterValues | MeterError:
    stop = asyncio.Event()
    first: asyncio.Future[MeterValues | MeterError] = asyncio.get_running_loop().create_future()

    async def deliver(result: MeterValues | MeterError) -> None:
        if not first.done():
            first.set_result(result)

    task = asyncio.create_task(meter.run(deliver, stop))
    try:
        await asyncio.wait({first, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await task
    if first.done():
        return first.result()
    error = task.exception() if not task.cancelled() else None
    return MeterError(f"{meter.description} stopped: {type(error).__name__}: {error}")


async def read_inverters(config: ActuatorOpenDtuSettings, bus: MqttBus) -> InvertersReadBody:
    """Listen to the DTU's telemetry of every inverter in ``config`` until each has its power, at most a while."""
    driver = config.driver.create(config.inverters)
    inverters = config.inverters_by_id
    telemetry = {device_id: InverterTelemetry(inv.nameplate_w) for device_id, inv in inverters.items()}
    complete = asyncio.Event()

    async def on_message(message: IncomingMessage) -> None:
        try:
            update = driver.parse(message.topic, message.text)
        except ValueError:
            return  # garbage from the DTU: the actuator would skip it too
        if update is not None and update.device_id in telemetry:
            telemetry[update.device_id].apply(update, time.time())
            states = [item.state(config.actuator_id, device_id) for device_id, item in telemetry.items()]
            if all(state.power_w is not None for state in states):
                complete.set()

    subscriptions = driver.subscriptions()
    for topic_filter in subscriptions:
        bus.subscribe(topic_filter, on_message)
    started = time.monotonic()
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TELEMETRY_WAIT_S):
                await complete.wait()
    finally:
        for topic_filter in subscriptions:
            bus.unsubscribe(topic_filter, on_message)
    return InvertersReadBody(
        waited_s=round(time.monotonic() - started, 1),
        inverters=[
            InverterReadBody(
                device_id=device_id,
                name=inverter.name or device_id,
                heard=telemetry[device_id].seen,
                state=telemetry[device_id].state(config.actuator_id, device_id) if telemetry[device_id].seen else None,
            )
            for device_id, inverter in inverters.items()
        ],
    )
