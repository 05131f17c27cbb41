"""The simulator service: the plant in real time, a Shelly Pro 3EM on HTTP, an OpenDTU on MQTT, ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import Protocol

from zeropower.shared.messages import SimState
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.service import run_service
from zeropower.shared.topics import OpenDtuTopics, Topics
from zeropower.sim.controls import SimControls
from zeropower.sim.dcbattery import BmsPublisher
from zeropower.sim.marstek import MarstekVenusEmulator
from zeropower.sim.opendtu import OpenDtuEmulator
from zeropower.sim.plant import Plant
from zeropower.sim.settings import SimServiceSettings, SimSettings
from zeropower.sim.shelly import ShellyEmulator
from zeropower.sim.zendure import ZendureEmulator

log = logging.getLogger("zeropower.sim")

SERVICE_ID = "sim"


async def run_plant(
    plant: Plant, step_s: float, stop: asyncio.Event, clock: Callable[[], float] = time.monotonic
) -> None:
    """Step the plant in real time until ``stop`` is set (late wake-ups are caught up in steps of ``step_s``)."""
    last = clock()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), step_s)
        now = clock()
        remaining_s = now - last
        last = now
        while remaining_s > 0:
            dt_s = min(remaining_s, step_s)
            plant.step(dt_s)
            remaining_s -= dt_s


def sim_state(plant: Plant) -> SimState:
    """The plant's ground truth as a message."""
    return SimState(
        load_w=round(plant.load_w, 1),
        pv_available_w=round(plant.pv_available_w, 1),
        output_w=round(plant.output_w, 1),
        limit_w=round(plant.limit_w, 1),
        heater_w=round(plant.heater_w, 1),
        battery_w=round(plant.battery_w, 1),
        battery_soc_pct=None if plant.battery is None else round(plant.battery.soc_pct, 2),
        grid_w=round(plant.grid_w, 1),
        exported_wh=round(plant.exported_wh, 3),
        imported_wh=round(plant.imported_wh, 3),
    )


async def publish_states(plant: Plant, bus: MqttBus, topic: str, interval_s: float, stop: asyncio.Event) -> None:
    """Publish the ground truth every ``interval_s`` until ``stop`` is set."""
    while not stop.is_set():
        await bus.publish(topic, sim_state(plant))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


class BatteryServer(Protocol):
    """A device protocol serving the plant's battery."""

    async def stop(self) -> None:
        """Stop serving."""
        ...


async def start_battery_server(plant: Plant, sim: SimSettings) -> BatteryServer | None:
    """Serve the plant's battery (if any) as the device ``battery.protocol`` names; SystemExit if its port is taken."""
    battery = plant.battery
    if battery is None or sim.battery is None or sim.battery.protocol == "opendtu":
        return None  # a DC-coupled battery is served by the OpenDTU emulator and the BMS publisher
    if sim.battery.protocol == "marstek_venus":
        # stamped on the plant's clock, as the Zendure's commands (its countdowns run in real time, as the plant)
        marstek = MarstekVenusEmulator(battery, sim.marstek, clock=lambda: plant.now_s)
        try:
            await marstek.start()
        except OSError as error:
            raise SystemExit(
                f"zeropower.sim: cannot serve the Marstek Venus on {sim.marstek.host}:{sim.marstek.port} (UDP): "
                f"{error.strerror}"
            ) from None
        log.info("battery as Marstek %s on udp://%s:%d", sim.marstek.device, sim.marstek.host, marstek.port)
        return marstek
    zendure = ZendureEmulator(plant, sim.zendure)
    try:
        await zendure.start()
    except OSError as error:
        raise SystemExit(
            f"zeropower.sim: cannot serve the Zendure on {sim.zendure.host}:{sim.zendure.port}: {error.strerror}"
        ) from None
    log.info("battery as Zendure %s on http://%s:%d", sim.zendure.serial, sim.zendure.host, zendure.port)
    return zendure


async def run(settings: SimServiceSettings, stop: asyncio.Event) -> None:
    """Run the simulator until ``stop`` is set."""
    sim = settings.sim
    topics = Topics(settings.mqtt.topic_prefix)
    host = socket.gethostname()
    plant = Plant(sim)
    bus = MqttBus.for_service(settings.mqtt, SERVICE_ID)
    dtu_bus = MqttBus(
        settings.mqtt,
        client_id=f"zeropower-{SERVICE_ID}-opendtu-{host}",
        availability_topic=OpenDtuTopics(sim.opendtu.prefix).dtu_status(),
    )
    dtu = OpenDtuEmulator(plant, dtu_bus, sim.opendtu)
    controls = SimControls(plant, dtu, bus, topics)  # it subscribes its handlers on the bus
    bms = BmsPublisher(plant.battery_inverter, dtu_bus) if plant.battery_inverter is not None else None
    controls.bms = bms
    shelly = ShellyEmulator(plant, sim.shelly, random.Random(f"{sim.seed}-shelly"))
    try:
        await shelly.start()
    except OSError as error:
        raise SystemExit(
            f"zeropower.sim: cannot serve the Shelly on {sim.shelly.host}:{sim.shelly.port}: {error.strerror}"
        ) from None
    try:
        battery_server = await start_battery_server(plant, sim)
    except BaseException:
        await shelly.stop()
        raise
    log.info(
        "Shelly Pro 3EM on http://%s:%d, OpenDTU on MQTT prefix %s with %s",
        sim.shelly.host,
        shelly.port,
        sim.opendtu.prefix,
        ", ".join(f"{i.serial} ({i.name}, {i.max_w:g} W)" for i in sim.inverters),
    )
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(bus.run(stop))
            group.create_task(run_plant(plant, sim.step_s, stop))
            group.create_task(dtu.run(stop))
            if bms is not None:
                group.create_task(bms.run(stop))
            group.create_task(publish_states(plant, bus, topics.sim_state(), sim.state_interval_s, stop))
    finally:
        await shelly.stop()
        if battery_server is not None:
            await battery_server.stop()


def main() -> None:
    """Entry point of ``python -m zeropower.sim``."""
    run_service(SERVICE_ID, SimServiceSettings, run)
