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
from tests.integration.conftest import BALCONY, HEATER_W, ROOF, SERVICES, TARGET_W, running_system, with_heater
from zeropower.shared.messages import SimState
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
            heater = page.locator("#actuator_pwm")  # its actuator does not run in this test
            await expect(heater.locator("h2")).to_have_text("Heizstab (PWM-Ausgang)")
            await expect(heater.locator(".source")).to_have_text("Der Dienst hat sich nicht gemeldet (läuft er?).")
            await expect(heater.locator(".note")).to_contain_text("keinen Test, der den Heizstab einschaltet")


@pytest.mark.timeout(300)
async def test_the_heater_set_up_in_the_browser_takes_the_surplus_and_a_new_setup_replaces_it(tmp_path: Path):
    def configure(config: dict[str, Any]) -> None:
        with_heater(config, tmp_path)
        del config["actuator_pwm"]  # the simulator's heater is there; its actuator waits for the setup

    async with running_system(tmp_path, configure, (*SERVICES, "actuator_pwm")) as system:
        port = free_port()
        system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
        await system.probe.wait_for(system.topics.availability("api"), lambda m: m.text == "online", timeout=60)
        status_topic = system.topics.setup_status("actuator/heater")
        await system.probe.wait_for(status_topic, lambda m: b'"waiting"' in m.payload, timeout=60)
        await system.controller_mode("regulating", timeout=90)
        async with chromium_page(f"http://127.0.0.1:{port}", 30_000) as page:
            await page.goto("/setup")
            heater = page.locator("#actuator_pwm")
            await expect(heater.locator(".source")).to_have_text("Not set up yet: the service waits for this setup.")
            await expect(heater.locator(".read")).to_have_count(0)  # nothing to test that would switch it on

            await heater.locator('[name="rated_w"]').fill(f"{HEATER_W:g}")
            await heater.locator('[name="output.type"]').select_option("sim")
            await heater.locator('[name="mapping.type"]').select_option("phase_fired")
            await heater.locator(".save").click()
            await expect(heater.locator(".result")).to_have_text("Saved: the service takes it up without a restart.")
            await expect(heater.locator(".source")).to_have_text(  # the actuator's own report, without a reload
                f"Set up in the browser, running: Heater ({HEATER_W:g} W) on sim output heater, phase_fired mapping"
            )
            await system.sim_state(lambda s: s.heater_w > HEATER_W - 30, timeout=90)  # the surplus goes into it

            mark = system.probe.mark()
            await heater.locator('[name="name"]').fill("Boiler")
            await heater.locator('[name="mapping.type"]').select_option("table")  # without its points: refused
            await heater.locator(".save").click()
            await expect(heater.locator(".result")).to_have_text("Not saved: see the fields marked.")
            await expect(heater.locator(".field-error")).not_to_have_count(0)
            await heater.locator('[name="mapping.type"]').select_option("phase_fired")
            await heater.locator(".save").click()
            await expect(heater.locator(".source")).to_contain_text("running: Boiler (600 W) on sim output heater")
            duty = system.topics.sim_pwm_duty("heater")
            off = await system.probe.wait_for(duty, lambda m: m.text == "0", since=mark)  # the old one off first
            announced = await system.probe.wait_for(
                system.topics.actuator_announce("heater"), lambda m: b"Boiler" in m.payload, since=mark
            )
            assert system.probe.messages.index(off) < system.probe.messages.index(announced)
            await system.sim_state(lambda s: s.heater_w > HEATER_W - 30, timeout=90)  # and the new one takes over
            settled: SimState = await system.settled(timeout=90)
            assert abs(settled.grid_w - TARGET_W) <= 60
            artifacts = REPO / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            await page.screenshot(path=artifacts / "setup-heater-live.png", full_page=True)
        assert "Traceback" not in system.log("actuator_pwm"), system.log("actuator_pwm")
