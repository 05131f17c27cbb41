"""python -m zeropower.shared.health, the zeropower containers' health check, against the secured broker.

The containers run it as ``<service>-health``: a connection of its own (client id = user name), so a health
check never replaces the service's connection.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from pydantic import SecretStr

from tests.deploy.broker import SecuredBroker, password_of
from tests.deploy.test_mosquitto import TAKEOVER_LINE
from zeropower.shared.health import read_availability
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings

pytestmark = pytest.mark.integration


def settings(broker: SecuredBroker, user: str, password: str | None = None) -> MqttSettings:
    return MqttSettings(
        port=broker.port,
        username=user,
        password=SecretStr(password or password_of(user)),
        reconnect_min_s=0.1,
        reconnect_max_s=0.2,
    )


async def health(broker: SecuredBroker, service_id: str, user: str, password: str | None = None) -> tuple[int, str]:
    """Run the health check command as a container would: MQTT settings from the environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZEROPOWER_")}
    env |= {
        "ZEROPOWER_MQTT__HOST": "127.0.0.1",
        "ZEROPOWER_MQTT__PORT": str(broker.port),
        "ZEROPOWER_MQTT__USERNAME": user,
        "ZEROPOWER_MQTT__PASSWORD": password or password_of(user),
        "ZEROPOWER_METER__DRIVER__TYPE": "sim",  # the service's own settings are there too, and ignored
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zeropower.shared.health", service_id, "--timeout", "2",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_online_service_is_healthy_and_stopped_one_is_not(broker):
    bus = MqttBus.for_service(settings(broker, "meter"), "meter")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    await asyncio.wait_for(bus.connected.wait(), 10)
    status, output = await health(broker, "meter", "meter-health")
    assert (status, output.strip()) == (0, "zeropower/meter/availability is online")
    assert bus.connected.is_set()
    assert TAKEOVER_LINE not in broker.log()  # the service kept its connection
    stop.set()
    await asyncio.wait_for(task, 5)
    status, output = await health(broker, "meter", "meter-health")
    assert status == 1
    assert "'offline'" in output


async def test_actuator_checks_its_own_availability(broker):
    bus = MqttBus.for_service(settings(broker, "actuator-opendtu"), "actuator/opendtu")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    await asyncio.wait_for(bus.connected.wait(), 10)
    assert await read_availability(settings(broker, "actuator-opendtu-health"), "actuator/opendtu", 5) == "online"
    assert await read_availability(settings(broker, "meter-health"), "actuator/opendtu", 1) is None  # not its own
    stop.set()
    await asyncio.wait_for(task, 5)
    assert TAKEOVER_LINE not in broker.log()


async def test_never_started_service_is_unhealthy(broker):
    status, output = await health(broker, "controller", "controller-health")
    assert status == 1
    assert "nothing on zeropower/controller/availability" in output


async def test_wrong_password_is_unhealthy(broker):
    status, output = await health(broker, "meter", "meter-health", password="wrong")
    assert status == 1
    assert "not authori" in output.lower()


async def test_unreachable_broker_is_unhealthy(broker):
    broker.stop()
    status, output = await health(broker, "meter", "meter-health")
    assert status == 1
    assert f"127.0.0.1:{broker.port}" in output
