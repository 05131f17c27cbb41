"""The web UI in real headless Chromium, served by uvicorn in-process against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Dialog, Page, expect

from tests.api.payloads import (
    BATTERY,
    HEATER,
    PWM,
    SOLARFLOW,
    battery_announcement,
    consumer_state,
    controller_state,
    pwm_announcement,
    storage_state,
)
from tests.browser import needs_chromium
from tests.helpers import REPO, MqttProbe
from zeropower.api.settings import ApiSettings
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.messages import ActuatorAnnouncement, DeviceInfo, DeviceState, GridReading
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics

TIMEOUT_MS = 10_000
TOKEN = "s3cret"

pytestmark = needs_chromium


def announcement(actuator_id: str, *devices: DeviceInfo) -> str:
    return ActuatorAnnouncement(actuator_id=actuator_id, driver="opendtu", devices=list(devices)).model_dump_json()


async def publish_system(probe: MqttProbe, topics: Topics) -> None:
    """A regulating controller with its config, and one inverter, as retained messages."""
    await probe.publish(topics.controller_state(), controller_state(enabled=True), retain=True)
    await probe.publish(topics.controller_config(), ControllerTunables().model_dump_json(), retain=True)
    await probe.publish(topics.availability("controller"), "online", retain=True)
    device = DeviceState(
        actuator_id="dtu1", device_id="114182912345", reachable=True, producing=True, power_w=300.0, limit_w=310.0
    )
    await probe.publish(topics.device_state("dtu1", "114182912345"), device.model_dump_json(), retain=True)


async def test_page_is_live_switches_and_tunes(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe):
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_system(probe, topics)

    await page.goto("/")
    await expect(page.locator("#enabled")).to_have_text("ON", timeout=TIMEOUT_MS)
    await expect(page.locator("#services")).to_contain_text("controller: online", timeout=TIMEOUT_MS)
    await expect(page.locator("#inverters")).to_contain_text("114182912345", timeout=TIMEOUT_MS)
    await expect(page.locator("#diverters-card")).to_be_hidden()
    for power, exported in ((-350.0, 5678.0), (80.0, 5878.0), (15.0, 5878.0)):
        reading = GridReading(power_w=power, energy_import_wh=1234.0, energy_export_wh=exported)
        await probe.publish(topics.grid_power(), reading.model_dump_json())
        await expect(page.locator("#grid")).to_have_text(f"{power:.0f} W", timeout=TIMEOUT_MS)
    await expect(page.locator("#exported")).to_have_text("5.88 kWh", timeout=TIMEOUT_MS)
    await expect(page.locator("#exported-today")).to_have_text("200 Wh", timeout=TIMEOUT_MS)
    await expect(page.locator("#imported-today")).to_have_text("0 Wh", timeout=TIMEOUT_MS)
    await expect(page.locator("#diverted-today")).to_have_text("\u2013", timeout=TIMEOUT_MS)  # unknown: no diverter yet

    # a diverter: shown apart from the inverters, with its power, duty and energy
    await probe.publish(topics.actuator_announce(PWM), pwm_announcement().model_dump_json(), retain=True)
    await probe.publish(topics.controller_state(), controller_state(enabled=True, consumption_w=900), retain=True)
    for energy_wh in (7000.0, 7250.0):
        heater = consumer_state(880.0, duty=0.44, energy_wh=energy_wh)
        await probe.publish(topics.device_state(PWM, HEATER), heater.model_dump_json(), retain=True)
    await expect(page.locator("#diverters")).to_contain_text("heating rod", timeout=TIMEOUT_MS)  # by its name
    await expect(page.locator("#diverters tr").first).to_contain_text("44 %")
    await expect(page.locator("#diverters tr").first).to_contain_text("7.25 kWh")
    await expect(page.locator("#diverters tr").last).to_contain_text("900 W")  # the controller's consumption
    await expect(page.locator("#diverter")).to_have_text("880 W")
    await expect(page.locator("#diverted-today")).to_have_text("250 Wh", timeout=TIMEOUT_MS)
    await expect(page.locator("#inverters")).not_to_contain_text("heating rod")
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

    # a valid change reaches the controller's config topic, only the fields changed; the page shows what the
    # controller reports
    mark = probe.mark()
    await page.locator("input[name=cut_gain]").fill("1")
    await page.locator("input[name=target_w]").fill("-5")
    await page.locator("select[name=diverter_order]").select_option("curtail-first")
    await page.locator("#tuning button").click()
    command = await probe.wait_for(topics.controller_config_set(), since=mark)
    assert json.loads(command.payload) == {"cut_gain": 1, "target_w": -5, "diverter_order": "curtail-first"}
    config = ControllerTunables().model_dump() | json.loads(command.payload)
    await probe.publish(topics.controller_config(), json.dumps(config), retain=True)
    await expect(page.locator("input[name=target_w]")).to_have_value("-5", timeout=TIMEOUT_MS)
    await expect(page.locator("input[name=cut_gain] + .error")).to_have_text("", timeout=TIMEOUT_MS)

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=artifacts / "web-ui.png", full_page=True)


async def test_page_shows_todays_production(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe):
    """Today's production: the rises of the (announced) inverters' yield counters."""
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_system(probe, topics)
    await page.goto("/")
    await expect(page.locator("#inverters")).to_contain_text("114182912345", timeout=TIMEOUT_MS)
    await expect(page.locator("#produced-today")).to_have_text("\u2013")  # unknown: no inverter announced yet
    roof = DeviceInfo(device_id="114182912345", name="roof", min_w=40, max_w=800)
    await probe.publish(topics.actuator_announce("dtu1"), announcement("dtu1", roof), retain=True)
    await expect(page.locator("#inverters")).to_contain_text("roof", timeout=TIMEOUT_MS)
    for energy_wh in (1_234_567.0, 1_234_667.0):  # within what 100 kW give in the 10 s slack: counted
        inverter = DeviceState(
            actuator_id="dtu1",
            device_id=roof.device_id,
            reachable=True,
            producing=True,
            power_w=300.0,
            energy_wh=energy_wh,
        )
        await probe.publish(topics.device_state("dtu1", roof.device_id), inverter.model_dump_json(), retain=True)
    await expect(page.locator("#produced-today")).to_have_text("100 Wh", timeout=TIMEOUT_MS)


async def test_tuning_form_keeps_the_field_being_edited(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe):
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_system(probe, topics)
    await page.goto("/")
    target, deadband = page.locator("input[name=target_w]"), page.locator("input[name=deadband_w]")
    await expect(target).to_have_value("20", timeout=TIMEOUT_MS)
    await target.fill("-7")  # focused, not saved
    config = ControllerTunables().model_dump() | {"target_w": 35.0, "deadband_w": 11.0}
    await probe.publish(topics.controller_config(), json.dumps(config), retain=True)
    await expect(deadband).to_have_value("11", timeout=TIMEOUT_MS)
    await expect(target).to_have_value("-7")
    await deadband.focus()  # target: changed but no longer focused, still the user's value
    config |= {"target_w": 36.0, "deadband_w": 12.0, "cut_gain": 0.9}
    await probe.publish(topics.controller_config(), json.dumps(config), retain=True)
    await expect(page.locator("input[name=cut_gain]")).to_have_value("0.9", timeout=TIMEOUT_MS)
    await expect(target).to_have_value("-7")
    await expect(deadband).to_have_value("11")  # focused: not replaced either

    mark = probe.mark()
    await page.locator("#tuning button").click()  # saved: the controller's config shows again
    command = await probe.wait_for(topics.controller_config_set(), since=mark)
    assert json.loads(command.payload) == {"target_w": -7}  # not the deadband shown (11): 12 stays in force
    await expect(page.locator("#tuning-status")).to_contain_text("sent", timeout=TIMEOUT_MS)
    config |= {"target_w": -8.0}
    await probe.publish(topics.controller_config(), json.dumps(config), retain=True)
    await expect(target).to_have_value("-8", timeout=TIMEOUT_MS)
    await expect(deadband).to_have_value("12", timeout=TIMEOUT_MS)

    await page.locator("#tuning button").click()  # nothing changed: nothing sent
    await expect(page.locator("#tuning-status")).to_have_text("nothing changed", timeout=TIMEOUT_MS)
    assert [m.payload for m in probe.messages[mark:] if m.topic == topics.controller_config_set()] == [command.payload]

    mark = probe.mark()
    await page.locator("input[name=forecast_load]").uncheck()  # the load forecast (on by default), switched off
    await page.locator("#tuning button").click()
    command = await probe.wait_for(topics.controller_config_set(), since=mark)
    assert json.loads(command.payload) == {"forecast_load": False}


@pytest.mark.parametrize("api_settings", [ApiSettings(token=TOKEN)])
async def test_token_is_asked_for_and_a_wrong_one_is_an_error(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe
):
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_system(probe, topics)
    answers = ["wrong", None]  # the token typed into each prompt; None: cancel
    prompts: list[str] = []

    async def answer(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        given = answers.pop(0)
        await (dialog.dismiss() if given is None else dialog.accept(given))

    page.on("dialog", answer)
    await page.goto("/")
    await expect(page.locator("#switch")).to_have_text("Switch off", timeout=TIMEOUT_MS)
    mark = probe.mark()
    await page.locator("#switch").click()
    await expect(page.locator("#switch-error")).to_contain_text("token", timeout=TIMEOUT_MS)
    assert prompts == ["API token", "Wrong token. API token"]
    await expect(page.locator("#switch")).to_have_text("Switch off")
    assert not probe.on(topics.set_enabled())  # refused before anything was published

    answers.append(TOKEN)
    await page.locator("#switch").click()
    await probe.wait_for(topics.set_enabled(), lambda m: m.text == "off", since=mark)
    await expect(page.locator("#switch-error")).to_have_text("")
    assert prompts[2:] == ["API token"]

    answers.append("never asked")  # the right token is kept: no prompt for the next change
    await probe.publish(topics.controller_state(), controller_state(enabled=False), retain=True)
    await expect(page.locator("#switch")).to_have_text("Switch on", timeout=TIMEOUT_MS)
    await page.locator("#switch").click()
    await probe.wait_for(topics.set_enabled(), lambda m: m.text == "on", since=mark)
    assert len(prompts) == 3


async def test_assets_are_served_locally(base_url: str, page: Page):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto("/")
    await expect(page.locator("#connection")).to_have_text("live", timeout=TIMEOUT_MS)
    assert requests
    assert all(url.startswith(base_url) for url in requests)


@pytest.mark.parametrize("api_settings", [ApiSettings(max_event_streams_per_client=1)])
async def test_a_page_beyond_the_stream_limit_says_so(base_url: str, page: Page):
    """EventSource gives up after a 429 (no retry): the page says so instead of "reconnecting…" for ever."""
    async with httpx.AsyncClient() as client, client.stream("GET", f"{base_url}/api/events") as held:
        assert held.status_code == 200
        await page.goto("/")
        await expect(page.locator("#connection")).to_have_text("disconnected: reload", timeout=TIMEOUT_MS)


async def publish_battery(probe: MqttProbe, topics: Topics, power_w: float | None, soc_pct: float | None) -> None:
    """The battery actuator online, its announcement and its battery's state (power positive = charging)."""
    await probe.publish(topics.availability(f"actuator/{BATTERY}"), "online", retain=True)
    await probe.publish(topics.actuator_announce(BATTERY), battery_announcement().model_dump_json(), retain=True)
    battery = storage_state(power_w, soc_pct)
    await probe.publish(topics.device_state(BATTERY, SOLARFLOW), battery.model_dump_json(), retain=True)


async def publish_everything(probe: MqttProbe, topics: Topics) -> None:
    """publish_system, a diverter, a battery charging, a grid reading over 1000 W and a service offline: every part
    of the page shown."""
    await publish_system(probe, topics)
    await probe.publish(topics.actuator_announce(PWM), pwm_announcement().model_dump_json(), retain=True)
    heater = consumer_state(880.0, duty=0.44, energy_wh=7250.0)
    await probe.publish(topics.device_state(PWM, HEATER), heater.model_dump_json(), retain=True)
    await publish_battery(probe, topics, 200.0, 62.5)
    await probe.publish(topics.availability("meter"), "offline", retain=True)
    reading = GridReading(power_w=1234.4, energy_import_wh=1234.0, energy_export_wh=5678.0)
    await probe.publish(topics.grid_power(), reading.model_dump_json())


async def visible_texts_of(page: Page, language: str) -> list[str]:
    """The dictionary's texts (not those made by a function) of ``language`` that the page shows as words,
    except in the controller's reason (English, shown as it comes)."""
    texts = await page.evaluate("(language) => JSON.parse(JSON.stringify(TEXTS[language]))", language)
    other = await page.evaluate(
        "(language) => JSON.parse(JSON.stringify(TEXTS[language]))", "de" if language == "en" else "en"
    )
    shown = await page.evaluate("document.body.innerText.replace(document.getElementById('reason').innerText, '')")

    def strings(texts: dict) -> dict[str, str]:
        return {key: value for key, value in texts.items() if isinstance(value, str)} | texts["modes"]

    return [
        text
        for key, text in strings(texts).items()
        if text != strings(other)[key] and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", shown)
    ]


@pytest.mark.parametrize(
    ("locale", "lang", "texts"),
    [
        (
            "de-DE",
            "de",
            {
                "h2": "Energiefluss",
                "#flow-grid": "1.234 W Bezug",  # the direction in words, not by color alone
                "#chart-card h2": "Verlauf",
                "#enabled": "EIN",
                "#switch": "Ausschalten",
                "#mode": "regelt",
                "#grid": "1.234 W",
                "#exported": "5,68 kWh",
                "#diverters tr >> nth=0": "44 %",
            },
        ),
        (
            "en-US",
            "en",
            {
                "h2": "Energy flow",
                "#flow-grid": "1,234 W import",
                "#chart-card h2": "History",
                "#enabled": "ON",
                "#switch": "Switch off",
                "#mode": "regulating",
                "#grid": "1,234 W",
                "#exported": "5.68 kWh",
                "#diverters tr >> nth=0": "44 %",
            },
        ),
    ],
)
async def test_page_speaks_the_browsers_language(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, lang: str, texts: dict[str, str]
):
    await publish_everything(probe, Topics(mqtt_settings.topic_prefix))
    await page.goto("/")
    await expect(page.locator("#grid")).to_have_text(texts["#grid"], timeout=TIMEOUT_MS)
    await expect(page.locator("#diverters-card")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    for selector, text in texts.items():
        await expect(page.locator(selector).first).to_contain_text(text)
    await expect(page.locator("#reason")).to_have_text("grid within the deadband")  # the controller's, as it comes
    other = "en" if lang == "de" else "de"
    assert await visible_texts_of(page, other) == []
    unfilled = await page.evaluate(
        "(lang) => [...document.querySelectorAll('[data-text]')]"
        ".filter((element) => element.textContent !== TEXTS[lang][element.dataset.text])"
        ".map((element) => element.dataset.text)",
        lang,
    )
    assert unfilled == []  # every label, heading and option from the dictionary


@pytest.mark.parametrize("locale", ["en-US"])
async def test_language_switch_is_remembered(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe):
    await publish_everything(probe, Topics(mqtt_settings.topic_prefix))
    await page.goto("/")
    await expect(page.locator("#grid")).to_have_text("1,234 W", timeout=TIMEOUT_MS)
    await page.locator("#tuning button").click()
    await expect(page.locator("#tuning-status")).to_have_text("nothing changed")

    await page.get_by_role("button", name="DE", exact=True).click()
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("#grid")).to_have_text("1.234 W")
    await expect(page.locator("#tuning-status")).to_have_text("nichts geändert")  # a message shown before, too
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#tuning button")).to_have_text("Speichern")
    await expect(page.get_by_role("button", name="DE", exact=True)).to_have_attribute("aria-pressed", "true")
    await page.reload()
    await expect(page.locator("#grid")).to_have_text("1.234 W", timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("h2", has_text="Wechselrichter")).to_be_visible()

    await page.get_by_role("button", name="EN", exact=True).click()
    await page.reload()
    await expect(page.locator("#grid")).to_have_text("1,234 W", timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#tuning button")).to_have_text("Save")


def luminance(rgb: list[float]) -> float:
    """WCAG's relative luminance of an sRGB color (0-255 per channel)."""
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# Each text's color and the background it is drawn on (its nearest ancestor with one), as [r, g, b].
COLORS_JS = """(selectors) => selectors.map((selector) => {
  const rgb = (color) => color.match(/[\\d.]+/g).slice(0, 3).map(Number);
  let element = document.querySelector(selector);
  const color = rgb(getComputedStyle(element).color);
  while (getComputedStyle(element).backgroundColor === "rgba(0, 0, 0, 0)") element = element.parentElement;
  return [color, rgb(getComputedStyle(element).backgroundColor)];
})"""
TEXTS = ["body", "#connection", "#enabled", "#switch", "#reason", "dt", "#diverters td", "#services li.on",
         "#services li.off", ".legend span", "#switch-error", "label span", "td .health", "#flow-grid .direction",
         "#flow-house .value", "#batteries td", "#flow-battery .direction", "#flow-battery .soc"]  # fmt: skip


@pytest.mark.parametrize("locale", ["de-DE"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_colors_follow_the_color_scheme_and_are_readable(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, scheme: str
):
    await publish_everything(probe, Topics(mqtt_settings.topic_prefix))
    await page.emulate_media(color_scheme=scheme)
    await page.goto("/")
    await expect(page.locator("#services li.off")).to_have_text(
        "meter: offline \u2013 gestoppt, oder seine Verbindung zum Broker ist weg", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#grid")).to_have_text("1.234 W", timeout=TIMEOUT_MS)

    colors = await page.evaluate(COLORS_JS, TEXTS)
    text, background = (luminance(rgb) for rgb in colors[0])
    assert (background < 0.05 and text > 0.6) if scheme == "dark" else (background > 0.8 and text < 0.05)
    for selector, (color, behind) in zip(TEXTS, colors, strict=True):
        lighter, darker = sorted((luminance(color), luminance(behind)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, f"{selector}: {color} on {behind}"  # WCAG AA

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=artifacts / f"web-ui-de-{scheme}-{width}.png", full_page=True)


@pytest.mark.parametrize("locale", ["de-DE"])  # the longer words
@pytest.mark.parametrize("width", [1280, 390])
async def test_device_tables_fit_their_cards(page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, width: int):
    # Before: the inverter and diverter tables were cut off on the right at 1280 and at 390 px ("Limit Se…").
    await publish_everything(probe, Topics(mqtt_settings.topic_prefix))
    await page.set_viewport_size({"width": width, "height": 900})
    await page.goto("/")
    await expect(page.locator("#diverters tr >> nth=0")).to_contain_text("44 %", timeout=TIMEOUT_MS)
    overflows = await page.evaluate(
        "[...document.querySelectorAll('.card table')].map(t => t.parentElement)"
        ".map(card => card.scrollWidth - card.clientWidth)  // the card scrolls: its table (or a cell) sticks out"
    )
    assert len(overflows) == 3  # inverters, diverters, batteries
    assert all(overflow <= 0 for overflow in overflows), overflows


@pytest.mark.parametrize("locale", ["de-DE"])
@pytest.mark.parametrize("width", [1280, 390])
async def test_energy_flow_fits_and_says_the_direction(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, width: int
):
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_everything(probe, topics)
    await page.set_viewport_size({"width": width, "height": 900})
    await page.goto("/")
    await expect(page.locator("#flow-grid")).to_contain_text("1.234 W Bezug", timeout=TIMEOUT_MS)
    await expect(page.locator("#arrow-grid")).to_have_class(re.compile("right"))  # into the house
    # 300 W output + 1,234 W import - 880 W heater - 200 W into the battery
    await expect(page.locator("#flow-house")).to_contain_text("454 W")
    overflows = await page.evaluate(
        "[...document.querySelectorAll('.node')].map(n => [n.id, n.scrollWidth - n.clientWidth])"
    )
    assert all(overflow <= 0 for _, overflow in overflows), overflows

    await probe.publish(topics.grid_power(), GridReading(power_w=-95.0).model_dump_json())
    await expect(page.locator("#flow-grid")).to_contain_text("95 W Einspeisung", timeout=TIMEOUT_MS)
    await expect(page.locator("#arrow-grid")).to_have_class(re.compile("left"))  # out to the grid
    # 300 W output - 95 W export - 880 W heater: figures of different moments; no negative house, and no minus
    await expect(page.locator("#flow-house")).to_contain_text("0 W")


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "en-US",
            {
                "discharging": "450 W discharging",
                "charging": "300 W charging",
                "row": "SolarFlowdischarging",
                "reserve": "at its reserve: no discharge",
                "unknown": "charge unknown: no discharge",
            },
        ),
        (
            "de-DE",
            {
                "discharging": "450 W entlädt",
                "charging": "300 W lädt",
                "row": "SolarFlowentlädt",
                "reserve": "an der Reserve: keine Entladung",
                "unknown": "Ladestand unbekannt: keine Entladung",
            },
        ),
    ],
)
async def test_a_battery_shows_in_the_flow_and_the_device_list(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, locale: str, words: dict[str, str]
):
    """Charge or discharge in words and by the arrow, its state of charge; nothing of it without a battery."""
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_system(probe, topics)
    await probe.publish(topics.grid_power(), GridReading(power_w=100.0).model_dump_json())
    await page.goto("/")
    await expect(page.locator("#grid")).to_have_text("100 W", timeout=TIMEOUT_MS)
    for hidden in (
        "#flow-battery",
        "#arrow-battery",
        "#batteries-card",
        "#flow-heater",
        "#arrow-heater",
        "#legend-battery",
        "#battery",
        "#battery-label",
    ):
        await expect(page.locator(hidden)).to_be_hidden()  # no battery, no heater: not even an empty node

    await publish_battery(probe, topics, -450.0, 62.5)
    battery = page.locator("#flow-battery")
    await expect(battery).to_contain_text(words["discharging"], timeout=TIMEOUT_MS)
    await expect(battery.locator(".soc")).to_have_text("63 %")
    await expect(page.locator("#arrow-battery")).to_have_class(re.compile("flowing up"))  # into the house
    await expect(page.locator("#legend-battery")).to_be_visible()  # and its line in the chart
    await expect(page.locator("#flow-house")).to_contain_text("850 W")  # 300 W output + 100 W import + 450 W
    await expect(page.locator("#batteries tr").first).to_contain_text(words["row"])  # a battery, in words
    await expect(page.locator("#batteries tr").first).to_contain_text("10 %")  # its reserve
    await expect(page.locator("#inverters")).not_to_contain_text("SolarFlow")
    await expect(page.locator("#output")).to_have_text("300 W")  # the controller's inverters' output alone
    await expect(page.locator("#battery")).to_have_text("-450 W")  # the power card: negative, discharging
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=artifacts / f"web-ui-battery-{locale[:2]}-{width}.png", full_page=True)

    await publish_battery(probe, topics, 300.0, 64.0)
    await expect(battery).to_contain_text(words["charging"], timeout=TIMEOUT_MS)
    await expect(page.locator("#arrow-battery")).to_have_class(re.compile("flowing down"))  # out of the house
    await expect(page.locator("#flow-house")).to_contain_text("100 W")  # 300 W + 100 W - 300 W

    await publish_battery(probe, topics, 0.0, 10.0)  # idle at its reserve: the reason in words, no arrow
    await expect(page.locator("#batteries tr").first).to_contain_text(words["reserve"], timeout=TIMEOUT_MS)
    await expect(battery.locator(".direction")).to_have_text("")
    await expect(page.locator("#arrow-battery")).not_to_have_class(re.compile("flowing"))
    await publish_battery(probe, topics, 0.0, None)  # its charge unknown: no number shown as its charge
    await expect(page.locator("#batteries tr").first).to_contain_text(words["unknown"], timeout=TIMEOUT_MS)
    await expect(battery.locator(".soc")).to_have_text("")

    await probe.publish(topics.actuator_announce(BATTERY), b"", retain=True)  # removed: its kind is unknown now
    await probe.publish(topics.device_state(BATTERY, SOLARFLOW), b"", retain=True)
    await expect(page.locator("#flow-battery")).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(page.locator("#batteries-card")).to_be_hidden()


async def test_chart_starts_with_the_apis_history_and_has_axes(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe
):
    topics = Topics(mqtt_settings.topic_prefix)
    await publish_everything(probe, topics)
    for power in (-300.0, 450.0, 120.0):  # one sample a second in the API's memory, before the page is open
        await asyncio.sleep(1.1)
        await probe.publish(topics.grid_power(), GridReading(power_w=power).model_dump_json())
    await asyncio.sleep(0.5)
    await page.goto("/")
    await expect(page.locator("#grid")).to_have_text("120 W", timeout=TIMEOUT_MS)
    grid_path = page.locator("#chart path.grid")
    await expect(grid_path).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){3,}$"))
    await expect(page.locator("#chart path.heater")).to_have_attribute("d", re.compile("L"))
    labels = await page.evaluate("[...document.querySelectorAll('#chart text')].map((text) => text.textContent)")
    assert {"-500 W", "0 W", "500 W", "1,500 W"} <= set(labels), labels  # the power axis, 0 included
    assert any(re.fullmatch(r"\d\d:\d\d( [AP]M)?", label) for label in labels), labels  # the clock axis
    label = await page.locator("#chart").get_attribute("aria-label")
    assert label == (
        "Chart of grid power, output, limit, heater and battery power over the last 1 hour, from -500 W to 1,500 W"
    )
    await expect(page.locator("#legend-battery")).to_be_visible()  # publish_everything has a battery
    await expect(page.locator("#chart path.battery")).to_have_attribute("d", re.compile("L"))

    await page.locator("#range").select_option("15")  # another range: loaded again, same samples
    await expect(page.locator("#chart")).to_have_attribute("aria-label", re.compile("last 15 minutes"))
    await expect(grid_path).to_have_attribute("d", re.compile(r"(L[\d.]+,[\d.]+){3,}$"))
    await expect(page.locator("#range option[value='10080']")).to_be_disabled()  # no InfluxDB: memory's hour only


@pytest.mark.parametrize("locale", ["de-DE", "en-US"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
async def test_axe_finds_no_serious_or_critical_violation(
    page: Page, mqtt_settings: MqttSettings, probe: MqttProbe, scheme: str, width: int
):
    """axe-core (bundled by axe-playwright-python, pinned in constraints.txt) on the page with every part shown."""
    await publish_everything(probe, Topics(mqtt_settings.topic_prefix))
    await page.emulate_media(color_scheme=scheme)
    await page.set_viewport_size({"width": width, "height": 900})
    await page.goto("/")
    await expect(page.locator("#diverters tr >> nth=0")).to_contain_text("44 %", timeout=TIMEOUT_MS)
    results = await Axe().run(page)
    violations = results.response["violations"]
    assert results.response["testEngine"]["version"] == "4.12.1"
    grave = [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in violations
        if violation["impact"] in {"serious", "critical"}
    ]
    assert grave == []
