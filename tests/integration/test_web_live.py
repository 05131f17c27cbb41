"""The web UI in headless Chromium with the real system behind it: simulator, meter, controller, actuator, API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.helpers import REPO
from tests.integration.conftest import ROOF, SERVICES, System, running_system, with_heater
from zeropower.sim.broker import free_port

pytestmark = [pytest.mark.integration, needs_chromium]

STARTUP_MS = 90_000  # five Python processes starting on a loaded 2-core machine
STEP_MS = 30_000
WATTS = re.compile(r"^-?\d{1,3}(,\d{3})* W$")  # en-US: "1,234 W"
WATTS_DE = re.compile(r"\d{1,3}(\.\d{3})* W")  # de-DE: "1.234 W"


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """The real system with a heater (actuator-pwm on the simulator's heater), so every part of the page shows."""
    configure = lambda config: with_heater(config, tmp_path)  # noqa: E731
    async with running_system(tmp_path, configure, (*SERVICES, "actuator_pwm")) as running:
        yield running


async def test_page_shows_the_simulated_system_and_switches_it_off(system: System):
    port = free_port()
    system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
    await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
    base_url = f"http://127.0.0.1:{port}"
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    async with chromium_page(base_url, STEP_MS) as page:
        await page.goto("/")
        await expect(page.locator("#connection")).to_have_text("live", timeout=STARTUP_MS)
        await expect(page.locator("#mode")).to_have_text("regulating", timeout=STARTUP_MS)
        await expect(page.locator("#grid")).to_have_text(WATTS, timeout=STARTUP_MS)  # the meter reading the sim
        inverters = page.locator("#inverters tr")
        for name in ("roof", "balcony"):  # the actuator's device states from the simulated OpenDTU, by name
            row = inverters.filter(has_text=name)
            await expect(row.locator("td").nth(1)).to_have_text(WATTS, timeout=STARTUP_MS)
            await expect(row.locator(".health")).to_have_text("producing")  # its state in words
        await expect(page.locator("#inverters")).not_to_contain_text(ROOF)  # names, not serials
        for service in ("meter", "controller", "actuator/opendtu", "actuator/heater", "api"):
            await expect(page.locator("#services")).to_contain_text(f"{service}: online")
        await expect(page.locator("#imported-today")).to_have_text(re.compile(r"^\d+ Wh$"))
        # the energy flow from the live figures: the sun, the grid's direction in words, the heater taking surplus
        await expect(page.locator("#flow-sun .value")).to_have_text(WATTS)
        await expect(page.locator("#flow-heater .value")).to_have_text(WATTS, timeout=STARTUP_MS)
        await expect(page.locator("#flow-house .value")).to_have_text(WATTS)
        # the chart: the API's samples, a line with more than one point
        await expect(page.locator("#chart path.grid")).to_have_attribute("d", re.compile("L"), timeout=STARTUP_MS)
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.screenshot(path=artifacts / "web-ui-live-en-light-1280.png", full_page=True)

    async with chromium_page(base_url, STEP_MS, locale="de-DE") as page:  # German, a reload: the chart is not empty
        await page.goto("/")
        await expect(page.locator("#mode")).to_have_text("regelt", timeout=STARTUP_MS)
        await expect(page.locator("#chart path.output")).to_have_attribute("d", re.compile("L.*L"))
        await expect(page.locator("#flow-heater .value")).to_have_text(WATTS_DE)
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                await page.screenshot(path=artifacts / f"web-ui-live-de-{scheme}-{width}.png", full_page=True)

    async with chromium_page(base_url, STEP_MS) as page:
        await page.goto("/")
        await expect(page.locator("#mode")).to_have_text("regulating", timeout=STARTUP_MS)
        mark = system.probe.mark()
        await page.locator("#switch").click()
        await system.probe.wait_for(system.topics.set_enabled(), lambda m: m.text == "off", since=mark, timeout=30)
        await expect(page.locator("#mode")).to_have_text("paused")
        await expect(page.locator("#enabled")).to_have_text("OFF")
        await expect(page.locator("#switch")).to_have_text("Switch on")
        await page.screenshot(path=artifacts / "web-ui-live.png", full_page=True)
    for service in ("api", "controller", "meter", "actuator_pwm"):
        assert "Traceback" not in system.log(service), system.log(service)
