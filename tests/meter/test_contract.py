"""What every HTTP driver must do with a failing device: a MeterError that names the cause and the URL."""

import socket

import httpx
import pytest

from zeropower.meter.drivers import (
    HomeAssistantConfig,
    HttpJsonConfig,
    ShellyGen1Config,
    ShellyGen2Config,
    TasmotaConfig,
    VzloggerConfig,
    create_meter,
)
from zeropower.meter.reading import MeterError
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings

TIMEOUT_S = 0.3


def config_and_path(kind, url):
    """Each HTTP driver's config and the path it requests first."""
    return {
        "shelly_gen1": (ShellyGen1Config(type="shelly_gen1", url=url), "/status"),
        "shelly_gen2": (ShellyGen2Config(type="shelly_gen2", url=url), "/rpc/EM.GetStatus"),
        "tasmota": (TasmotaConfig(type="tasmota", url=url, power_key="curr_w"), "/cm"),
        "vzlogger": (VzloggerConfig(type="vzlogger", url=url, uuid="abc"), "/abc"),
        "homeassistant": (
            HomeAssistantConfig(type="homeassistant", url=url, entity_id="sensor.grid", token="t"),
            "/api/states/sensor.grid",
        ),
        "http_json": (HttpJsonConfig(type="http_json", url=f"{url}/json", path="power"), "/json"),
    }[kind]


DRIVERS = ["shelly_gen1", "shelly_gen2", "tasmota", "vzlogger", "homeassistant", "http_json"]


def make(config, http):
    bus = MqttBus(MqttSettings(), client_id="unused", availability_topic="unused")
    return create_meter(config, http=http, bus=bus, timeout_s=TIMEOUT_S, stale_after_s=10)


@pytest.mark.parametrize("kind", DRIVERS)
async def test_http_500(device, http, kind):
    config, path = config_and_path(kind, device.url)
    device.status(path, 500, "internal error")
    with pytest.raises(MeterError, match=rf"HTTP 500 Internal Server Error from http://127\.0\.0\.1:\d+{path}"):
        await make(config, http).read()


@pytest.mark.parametrize("kind", DRIVERS)
async def test_timeout(device, http, kind):
    config, path = config_and_path(kind, device.url)
    device.hang(path)
    with pytest.raises(MeterError, match=rf"no answer from http://127\.0\.0\.1:\d+{path} within 0\.3 s"):
        await make(config, http).read()


@pytest.mark.parametrize("kind", DRIVERS)
async def test_not_json(device, http, kind):
    config, path = config_and_path(kind, device.url)
    device.json(path, "<html>login</html>")
    with pytest.raises(MeterError, match="is not JSON: '<html>login</html>'"):
        await make(config, http).read()


@pytest.mark.parametrize("kind", DRIVERS)
async def test_nobody_listening(http, kind):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        config, path = config_and_path(kind, url)
        with pytest.raises(MeterError, match=f"request to {url}{path} failed: ConnectError"):
            await make(config, http).read()


@pytest.mark.parametrize("kind", DRIVERS)
async def test_description_names_the_address(kind):
    config, _ = config_and_path(kind, "http://192.168.1.50")
    async with httpx.AsyncClient() as http:
        assert "http://192.168.1.50" in make(config, http).description


@pytest.mark.parametrize("kind", DRIVERS)
async def test_json_nested_beyond_the_parser_is_not_json(device, http, kind):
    config, path = config_and_path(kind, device.url)
    device.json(path, "[" * 100_000)
    with pytest.raises(MeterError, match=r"is not JSON: '\[\[\["):
        await make(config, http).read()


@pytest.mark.parametrize("kind", DRIVERS)
async def test_a_description_never_shows_credentials_in_the_url(http, kind):
    """Descriptions go into logs, stale readings' errors and the retained setup status that every service reads."""
    config, _ = config_and_path(kind, "http://admin:hunter2@192.168.1.50")
    if kind == "http_json":
        config = config.model_copy(update={"url": "http://admin:hunter2@192.168.1.50/json?apikey=s3cret"})
    description = make(config, http).description
    assert "192.168.1.50" in description
    assert "hunter2" not in description
    assert "s3cret" not in description
