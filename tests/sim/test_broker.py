"""The private broker: Mosquitto when installed, else amqtt; both carry the services' traffic."""

import asyncio

import pytest

from tests.helpers import MqttProbe
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import Broker


@pytest.mark.parametrize("implementation", ["mosquitto", "amqtt"])
async def test_broker_carries_retained_and_live_messages(tmp_path, implementation):
    broker = Broker(workdir=tmp_path, prefer=implementation)
    assert broker.implementation == implementation
    with broker:
        bus = MqttBus(MqttSettings(port=broker.port), "broker-test", "t/availability")
        received: asyncio.Queue[bytes] = asyncio.Queue()

        async def collect(message: IncomingMessage) -> None:
            received.put_nowait(message.payload)

        bus.subscribe("t/live", collect)
        stop = asyncio.Event()
        task = asyncio.create_task(bus.run(stop))
        await asyncio.wait_for(bus.connected.wait(), 10)
        await bus.publish("t/state", "kept", retain=True)
        async with MqttProbe(broker.port) as probe:
            assert (await probe.wait_for("t/state")).text == "kept"
            await probe.publish("t/live", "hello")
            assert await asyncio.wait_for(received.get(), 5) == b"hello"
        stop.set()
        await asyncio.wait_for(task, 5)
    assert not broker.running
