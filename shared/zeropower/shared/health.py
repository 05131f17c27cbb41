"""Health check of a running service: is its retained availability ``online`` on the broker.

``python -m zeropower.shared.health meter`` (or ``controller``, ``actuator/opendtu``, ``recorder``, ``sim``)
reads the MQTT settings the way the service does (environment, ``.env``, ``--config``/``ZEROPOWER_CONFIG``),
connects with the same credentials, and exits 0 when the service's availability topic says ``online``,
1 otherwise (broker unreachable, login refused, ``offline``, or nothing published yet). A service publishes
``online`` only once it is connected and subscribed, and the broker replaces it with ``offline`` (its last
will) when its connection dies, so this checks the whole chain a container health check cares about.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import aiomqtt

from zeropower.shared.mqtt import ONLINE, tls_context
from zeropower.shared.service import add_config_argument, settings_or_exit
from zeropower.shared.settings import MqttSettings, ServiceSettings
from zeropower.shared.topics import Topics

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1


async def read_availability(settings: MqttSettings, service_id: str, timeout_s: float) -> str | None:
    """The retained availability of ``service_id`` (``online``/``offline``), None when none arrives in time.

    Raises aiomqtt.MqttError when the broker cannot be reached or refuses the login.
    """
    topic = Topics(settings.topic_prefix).availability(service_id)
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        identifier=f"zeropower-health-{service_id.replace('/', '-')}-{os.getpid()}",
        timeout=timeout_s,
        tls_context=tls_context(settings) if settings.tls else None,
        tls_insecure=settings.tls_insecure if settings.tls else None,
    )
    async with client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    payload = message.payload
                    return payload.decode(errors="replace") if isinstance(payload, bytes | bytearray) else str(payload)
        except TimeoutError:
            return None
    return None


def check(settings: MqttSettings, service_id: str, timeout_s: float) -> tuple[int, str]:
    """The exit status and a one-line explanation for the service's health."""
    try:
        availability = asyncio.run(read_availability(settings, service_id, timeout_s))
    except aiomqtt.MqttError as error:
        return EXIT_UNHEALTHY, f"MQTT broker {settings.host}:{settings.port}: {error}"
    topic = Topics(settings.topic_prefix).availability(service_id)
    if availability == ONLINE:
        return EXIT_HEALTHY, f"{topic} is {ONLINE}"
    if availability is None:
        return EXIT_UNHEALTHY, f"nothing on {topic} within {timeout_s:g} s (service not connected yet?)"
    return EXIT_UNHEALTHY, f"{topic} is {availability!r}"


def main() -> None:
    """Command line: check one service and exit with 0 (healthy) or 1 (unhealthy)."""
    parser = argparse.ArgumentParser(
        prog="python -m zeropower.shared.health", description="Exit 0 when a zeropower service is online."
    )
    parser.add_argument("service_id", help="meter, controller, actuator/<actuator_id>, recorder, sim, ...")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker (default 5)")
    add_config_argument(parser)
    arguments = parser.parse_args()
    settings = settings_or_exit("shared.health", ServiceSettings, arguments.config)
    status, explanation = check(settings.mqtt, arguments.service_id, arguments.timeout)
    print(explanation)
    sys.exit(status)


if __name__ == "__main__":
    main()
