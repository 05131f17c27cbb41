"""The web UI in real headless Chromium, served by uvicorn in-process against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from playwright.async_api import Page, async_playwright, expect

from tests.api.payloads import controller_state
from tests.helpers import REPO, MqttProbe, wait_until
from zeropower.api.app import create_app
from zeropower.api.gateway import Gateway
from zeropower.api.settings import ApiSettings
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.messages import DeviceState, GridReading
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def base_url(mqtt_settings: MqttSettings) -> AsyncIterator[str]:
    """The real app (gateway connected to the test's Mosquitto) served by uvicorn on a free port."""
    gateway = Gateway(mqtt_settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(gateway, ApiSettings()),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    gateway_task = asyncio.create_task(gateway.run(stop))
    server_task = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(gateway.bus.connected.wait(), 10)
        await wait_until(lambda: server.started)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        stop.set()
        await asyncio.wait_for(asyncio.gather(server_task, gateway_task), 10)


@pytest.fixture
async def page(base_url: str) -> AsyncIterator[Page]:
    """A page in headless Chromium (the system's, never a downloaded one), 390 px wide like a phone."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=base_url, viewport={"width": 390, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


async def test_page_is_live_switches_and_tunes(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe):
    topics = Topics(mqtt_settings.topic_prefix)
    await probe.publish(topics.controller_state(), controller_state(enabled=True), retain=True)
    tunables = ControllerTunables().model_dump()
    await probe.publish(topics.controller_config(), json.dumps(tunables), retain=True)
    await probe.publish(topics.availability("controller"), "online", retain=True)
    device = DeviceState(
        actuator_id="dtu1", device_id="114182912345", reachable=True, producing=True, power_w=300.0, limit_w=310.0
    )
    await probe.publish(topics.device_state("dtu1", "114182912345"), device.model_dump_json(), retain=True)

    await page.goto("/")
    await expect(page.locator("#enabled")).to_have_text("ON", timeout=TIMEOUT_MS)
    await expect(page.locator("#services")).to_contain_text("controller: online", timeout=TIMEOUT_MS)
    await expect(page.locator("#inverters")).to_contain_text("114182912345", timeout=TIMEOUT_MS)
    for power in (-350.0, 80.0, 15.0):
        reading = GridReading(power_w=power, energy_import_wh=1234.0, energy_export_wh=5678.0)
        await probe.publish(topics.grid_power(), reading.model_dump_json())
        await expect(page.locator("#grid")).to_have_text(f"{power:.0f} W", timeout=TIMEOUT_MS)
    await expect(page.locator("#exported")).to_have_text("5.68 kWh", timeout=TIMEOUT_MS)
    await expect(page.locator("input[name=target_w]")).to_have_value("20", timeout=TIMEOUT_MS)

    # the switch publishes the command; the page shows OFF once the controller confirms it
    mark = probe.mark()
    await page.locator("#switch").click()
    await probe.wait_for(topics.set_enabled(), lambda m: m.text == "off", since=mark)
    await probe.publish(topics.controller_state(), controller_state(enabled=False), retain=True)
    await expect(page.locator("#enabled")).to_have_text("OFF", timeout=TIMEOUT_MS)
    await expect(page.locator("#mode")).to_have_text("paused", timeout=TIMEOUT_MS)

    # an invalid value: the 422 message is shown next to the field, nothing is published
    await page.locator("input[name=cut_gain]").fill("5")
    await page.locator("#tuning button").click()
    await expect(page.locator("input[name=cut_gain] + .error")).to_contain_text("1.5", timeout=TIMEOUT_MS)

    # a valid change reaches the controller's config topic; the page shows what the controller reports
    mark = probe.mark()
    await page.locator("input[name=cut_gain]").fill("1")
    await page.locator("input[name=target_w]").fill("-5")
    await page.locator("#tuning button").click()
    command = await probe.wait_for(topics.controller_config_set(), since=mark)
    assert json.loads(command.payload)["target_w"] == -5
    await page.locator("input[name=target_w]").fill("0")  # overwritten by the controller's config below
    await probe.publish(topics.controller_config(), command.payload, retain=True)
    await expect(page.locator("input[name=target_w]")).to_have_value("-5", timeout=TIMEOUT_MS)
    await expect(page.locator("input[name=cut_gain] + .error")).to_have_text("", timeout=TIMEOUT_MS)

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=artifacts / "web-ui.png", full_page=True)


async def test_assets_are_served_locally(base_url: str, page: Page):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto("/")
    await expect(page.locator("#connection")).to_have_text("live", timeout=TIMEOUT_MS)
    assert requests
    assert all(url.startswith(base_url) for url in requests)
