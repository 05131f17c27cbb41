"""The web UI in headless Chromium with the real system behind it: simulator, meter, controller, actuator, API."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.helpers import REPO
from tests.integration.conftest import ROOF, System
from zeropower.sim.broker import free_port

pytestmark = [pytest.mark.integration, needs_chromium]

STARTUP_MS = 90_000  # five Python processes starting on a loaded 2-core machine
STEP_MS = 30_000
WATTS = re.compile(r"^-?\d{1,3}(,\d{3})* W$")  # en-US: "1,234 W"


async def test_page_shows_the_simulated_system_and_switches_it_off(system: System):
    port = free_port()
    system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
    await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
    async with chromium_page(f"http://127.0.0.1:{port}", STEP_MS) as page:
        await page.goto("/")
        await expect(page.locator("#connection")).to_have_text("live", timeout=STARTUP_MS)
        await expect(page.locator("#mode")).to_have_text("regulating", timeout=STARTUP_MS)
        await expect(page.locator("#grid")).to_have_text(WATTS, timeout=STARTUP_MS)  # the meter reading the sim
        inverters = page.locator("#inverters tr")
        for name in ("roof", "balcony"):  # the actuator's device states from the simulated OpenDTU, by name
            await expect(inverters.filter(has_text=name).locator("td").nth(1)).to_have_text(WATTS, timeout=STARTUP_MS)
        await expect(page.locator("#inverters")).not_to_contain_text(ROOF)  # names, not serials
        for service in ("meter", "controller", "actuator/opendtu", "api"):
            await expect(page.locator("#services")).to_contain_text(f"{service}: online")
        await expect(page.locator("#imported-today")).to_have_text(re.compile(r"^\d+ Wh$"))

        mark = system.probe.mark()
        await page.locator("#switch").click()
        await system.probe.wait_for(system.topics.set_enabled(), lambda m: m.text == "off", since=mark, timeout=30)
        await expect(page.locator("#mode")).to_have_text("paused")
        await expect(page.locator("#enabled")).to_have_text("OFF")
        await expect(page.locator("#switch")).to_have_text("Switch on")

        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        await page.screenshot(path=artifacts / "web-ui-live.png", full_page=True)
    for service in ("api", "controller", "meter"):
        assert "Traceback" not in system.log(service), system.log(service)
