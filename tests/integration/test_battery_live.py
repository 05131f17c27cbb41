"""A battery in the real system: the simulator's Zendure, actuator-battery, the API, its page and Home Assistant.

The controller discharges the battery for a load above the sun (issue 14). The API must show it as a battery (never
an inverter), in /api/state, /metrics, the page and the discovery configs.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jinja2
import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.helpers import REPO
from tests.integration.conftest import (
    BATTERY_ACTUATOR,
    BATTERY_DEVICE,
    SERVICES,
    TARGET_W,
    System,
    running_system,
    with_battery,
)
from zeropower.sim.broker import free_port
from zeropower.sim.inverter import EFFICIENCY

pytestmark = [pytest.mark.integration, needs_chromium, pytest.mark.timeout(240)]

STARTUP_MS = 90_000  # six Python processes starting on a loaded 2-core machine
#: A load 300 W above the inverters' 955 W (1000 W of sun) and the target: the controller discharges ~300 W.
DISCHARGE_W = -300.0
DEFICIT_LOAD_W = 1000 * EFFICIENCY - DISCHARGE_W + TARGET_W


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """The real system (inverters, meter, controller) with a battery and its actuator."""
    async with running_system(tmp_path, with_battery, (*SERVICES, "actuator_battery")) as running:
        yield running


def rendered(template: str, payload: bytes) -> str:
    """A Home Assistant value template rendered against a payload (``value_json`` its JSON)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return environment.from_string(template).render(value=payload.decode(), value_json=json.loads(payload))


async def test_a_discharging_battery_is_shown_as_a_battery_everywhere(system: System):
    port = free_port()
    system.start("api", {"ZEROPOWER_API__HOST": "127.0.0.1", "ZEROPOWER_API__PORT": str(port)})
    topics, probe = system.topics, system.probe
    await probe.wait_for(topics.availability("api"), lambda m: m.text == "online", timeout=60)
    base_url = f"http://127.0.0.1:{port}"
    await system.set_load(DEFICIT_LOAD_W)
    async with httpx.AsyncClient(base_url=base_url) as client:
        await system.sim_state(lambda s: abs(s.battery_w - DISCHARGE_W) < 30, timeout=60)

        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        async with chromium_page(base_url, STARTUP_MS) as page:  # the page follows the API's live state
            await page.goto("/")
            await expect(page.locator("#flow-battery")).to_contain_text("discharging", timeout=STARTUP_MS)
            await expect(page.locator("#arrow-battery")).to_have_class(re.compile("flowing up"))
            await expect(page.locator("#flow-battery .soc")).to_have_text(re.compile(r"^\d+ %$"))
            row = page.locator("#batteries tr").filter(has_text="Battery")
            await expect(row.locator(".health")).to_have_text("discharging")
            await expect(page.locator("#inverters")).to_contain_text("roof", timeout=STARTUP_MS)
            await expect(page.locator("#inverters")).not_to_contain_text("Battery")
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.screenshot(path=artifacts / "web-ui-live-battery-en-1280.png", full_page=True)

        answer = (await client.get("/api/state")).json()  # shown discharging on the page: the API has it
        battery = answer["actuators"][BATTERY_ACTUATOR][BATTERY_DEVICE]
        assert (battery["kind"], battery["name"]) == ("storage", "Battery")
        assert battery["storage"]["capacity_wh"] == 2000
        assert 50 < answer["storage_soc_pct"] < 70  # the simulator's battery started at 60 %
        assert abs(answer["storage_power_w"] - DISCHARGE_W) < 60  # negative: discharging, as the load wanders
        assert all(device["kind"] == "inverter" for device in answer["actuators"]["opendtu"].values())
        metrics = (await client.get("/metrics")).text
        assert re.search(r'zeropower_storage_power_watts\{actuator="battery",device="solarflow"\} -\d', metrics)
        assert 'zeropower_storage_reserve_soc_ratio{actuator="battery",device="solarflow"} 0.1' in metrics

        # Home Assistant: the discovery configs the API published, rendered against the real messages
        prefix = "homeassistant/sensor/zeropower/zeropower_battery_solarflow"
        soc = json.loads((await probe.wait_for(f"{prefix}_soc/config", timeout=30)).payload)
        mode = json.loads((await probe.wait_for(f"{prefix}_mode/config", timeout=30)).payload)
        device_state = await probe.wait_for_new(soc["state_topic"], timeout=30)
        assert 50 < float(rendered(soc["value_template"], device_state.payload)) < 70
        actuator_state = await probe.wait_for(mode["state_topic"], lambda m: b"following" in m.payload, timeout=30)
        assert rendered(mode["value_template"], actuator_state.payload) == "following"
        assert not probe.on("homeassistant/binary_sensor/zeropower/zeropower_battery_solarflow_producing/config")

        async with chromium_page(base_url, STARTUP_MS, locale="de-DE") as page:
            await page.goto("/")
            await expect(page.locator("#flow-battery")).to_contain_text("entlädt", timeout=STARTUP_MS)
            await page.screenshot(path=artifacts / "web-ui-live-battery-de-390.png", full_page=True)
