"""Setup in the browser, real system: meter and inverters configured from scratch, then the loop regulates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.helpers import REPO
from tests.integration.conftest import BALCONY, ROOF, TARGET_W, running_system
from zeropower.sim.broker import free_port

pytestmark = [pytest.mark.integration, needs_chromium]

STARTUP_MS = 90_000  # Python processes starting on a loaded 2-core machine
WATTS = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d)? W")


@pytest.mark.timeout(300)
async def test_meter_and_inverters_set_up_in_the_browser_then_the_loop_regulates(tmp_path: Path):
    shelly_url = {}

    def configure(config: dict[str, Any]) -> None:
        shelly_url["url"] = f"http://127.0.0.1:{config['sim']['shelly']['port']}"
        del config["meter"], config["actuator_opendtu"]

    async with running_system(tmp_path, configure) as system:
        port = free_port()
        system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
        await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
        await system.probe.wait_for(
            system.topics.setup_status("meter"), lambda m: b'"waiting"' in m.payload, timeout=60
        )
        async with chromium_page(f"http://127.0.0.1:{port}", 30_000) as page:
            await page.goto("/setup")
            meter, inverters = page.locator("#meter"), page.locator("#actuator_opendtu")
            await expect(meter.locator(".source")).to_have_text("Not set up yet: the service waits for this setup.")

            await meter.locator('[name="driver.type"]').select_option("shelly_gen2")
            await meter.locator('[name="driver.shelly_gen2.url"]').fill(shelly_url["url"])
            await meter.locator(".read").click()
            await expect(meter.locator(".result")).to_have_text(re.compile(rf"^Grid power now: {WATTS.pattern}$"))
            await meter.locator(".save").click()
            await expect(meter.locator(".result")).to_have_text("Saved: the service takes it up without a restart.")

            await inverters.locator('[name="inverters.0.serial"]').fill(ROOF)
            await inverters.locator('[name="inverters.0.name"]').fill("roof")
            await inverters.locator('[name="inverters.0.max_w"]').fill("800")
            await inverters.get_by_role("button", name="Add").click()
            await inverters.locator('[name="inverters.1.serial"]').fill(BALCONY)
            await inverters.locator('[name="inverters.1.max_w"]').fill("400")
            await inverters.locator(".read").click()
            result = inverters.locator(".result")
            await expect(result).to_contain_text(re.compile(rf"roof: {WATTS.pattern}"), timeout=STARTUP_MS)
            await expect(result).to_contain_text(re.compile(rf"{BALCONY}: {WATTS.pattern}"))
            await inverters.locator(".save").click()
            await expect(inverters.locator(".result")).to_have_text("Saved: the service takes it up without a restart.")

            await system.probe.wait_for(  # the controller drives both inverters, set up in the browser
                system.topics.controller_state(),
                lambda m: (
                    (state := json.loads(m.payload))["mode"] == "regulating"
                    and state["setpoints_w"].keys() == {ROOF, BALCONY}
                ),
                timeout=90,
            )
            settled = await system.settled(timeout=90)
            assert abs(settled.grid_w - TARGET_W) <= 60

            await page.reload()
            await expect(meter.locator(".source")).to_have_text(
                f"Set up in the browser, running: Shelly Gen2 {shelly_url['url']} (EM 0)"
            )
            await expect(inverters.locator(".source")).to_contain_text("Set up in the browser, running: opendtu")
            artifacts = REPO / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            await page.screenshot(path=artifacts / "setup-live.png", full_page=True)
        for service in ("api", "meter", "actuator_opendtu"):
            assert "Traceback" not in system.log(service), system.log(service)


async def test_a_meter_in_the_config_file_refuses_setup_and_the_page_says_so(tmp_path: Path):
    async with running_system(tmp_path, services=("meter",)) as system:
        port = free_port()
        system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
        await system.probe.wait_for(system.topics.setup_status("meter"), lambda m: b'"yaml"' in m.payload, timeout=60)
        await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
        async with chromium_page(f"http://127.0.0.1:{port}", 30_000, locale="de-DE") as page:
            await page.goto("/setup")
            meter = page.locator("#meter")
            await expect(meter.locator(".source")).to_contain_text(
                "In YAML konfiguriert (die Konfigurationsdatei gilt; dort ändern): Shelly Gen2 http://127.0.0.1:"
            )
            await expect(meter.locator(".save")).to_be_disabled()
            await expect(meter.locator('[name="driver.shelly_gen2.url"]')).to_be_disabled()
            await expect(page.locator("#actuator_opendtu .save")).to_be_enabled()
