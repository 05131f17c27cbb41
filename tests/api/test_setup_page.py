"""The setup page's forms in German and English, in real headless Chromium on the real app (uvicorn, Mosquitto)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, expect

from tests.api.setup_schema import TEXTS_FILE, SetupFields, load_texts, setup_models, walk
from tests.browser import needs_chromium
from tests.helpers import REPO

pytestmark = needs_chromium

# Shown in the form but not in the chosen language: a caption or legend that is its field's bare name, a help text
# that is the English description (on the German page), or any of ``texts`` in the page's visible text.
UNTRANSLATED_JS = """([lang, texts]) => {
  const forms = [...document.querySelectorAll("form")];
  const all = (selector) => forms.flatMap((form) => [...form.querySelectorAll(selector)]);
  const shown = forms.map((form) => form.innerText).join("\\n");
  return [
    ...all("[data-field]").filter((e) => e.textContent === e.dataset.field).map((e) => `label ${e.dataset.field}`),
    ...all("[data-item]").filter((e) => e.textContent.startsWith(e.dataset.item)).map((e) => `item ${e.dataset.item}`),
    ...(lang === "de" ? all("[data-help]").filter((e) => e.dataset.help && e.textContent === e.dataset.help)
      .map((e) => `help ${e.dataset.help}`) : []),
    ...texts.filter((text) => shown.includes(text)).map((text) => `shown: ${text}`),
  ];
}"""


async def served_fields(base_url: str) -> SetupFields:
    """The setup models' fields as the running API serves their schema."""
    async with httpx.AsyncClient() as client:
        schemas = (await client.get(f"{base_url}/openapi.json")).json()["components"]["schemas"]
    return walk(schemas, setup_models())


async def every_variant_speaks(page: Page, lang: str, foreign: list[str]) -> int:
    """Choose each union's every type in turn; after each, nothing in the forms may be untranslated or ``foreign``.

    Returns how many variants were shown.
    """
    shown = 0
    selects = page.locator('form select[name$=".type"]')
    for index in range(await selects.count()):
        select = selects.nth(index)
        values: list[str] = await select.evaluate("(s) => [...s.options].map((o) => o.value)")
        chosen = await select.input_value()
        for value in values:
            await select.select_option(value)
            assert await page.evaluate(UNTRANSLATED_JS, [lang, foreign]) == [], f"{lang}: {value}"
            shown += 1
        await select.select_option(chosen)
    return shown


def caption(page: Page, name: str) -> Any:
    """The label caption of the input named ``name`` (its pydantic loc)."""
    return page.locator(f'label:has([name="{name}"]) > span[data-field]')


@pytest.mark.parametrize("locale", ["de-DE"])
async def test_the_german_setup_page_shows_no_english_field_text(base_url: str, page: Page):
    found = await served_fields(base_url)
    await page.goto("/setup")
    meter, inverters, heater = page.locator("#meter"), page.locator("#actuator_opendtu"), page.locator("#actuator_pwm")
    await expect(caption(page, "poll_interval_s")).to_have_text("Abfrageintervall (s)")
    await expect(caption(page, "driver.shelly_gen2.url")).to_have_text("Adresse")
    await expect(meter.locator("legend").first).to_have_text("Zähler")
    await expect(meter.locator('[name="driver.type"] option:checked')).to_have_text(
        "Shelly Gen2/Gen3/Pro (shelly_gen2)"
    )
    await expect(meter.locator("fieldset > .help").first).to_have_text(
        "Der Netzzähler und wie er erreicht wird (je nach Typ)."
    )
    await expect(inverters.locator("legend").nth(1)).to_have_text("Wechselrichter")
    await expect(inverters.locator("legend").nth(2)).to_have_text("Wechselrichter 1")
    await expect(caption(page, "inverters.0.max_w")).to_have_text("Höchstes Limit (W)")
    await expect(inverters.get_by_role("button", name="Hinzufügen")).to_be_visible()
    await expect(caption(page, "rated_w")).to_have_text("Nennleistung (W)")
    await expect(heater.locator("legend", has_text="Kennlinie")).to_be_visible()
    await heater.locator('[name="mapping.type"]').select_option("phase_fired")
    await expect(heater.locator('[name="mapping.type"] option:checked')).to_have_text(
        "Phasenanschnitt-Steller (phase_fired)"
    )
    await expect(caption(page, "mapping.phase_fired.min_duty")).to_have_text("Kleinster Tastgrad (0\u20131)")

    english = sorted(found.descriptions)
    assert await every_variant_speaks(page, "de", english) == len(found.choices) + 1  # sim: meter and output
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0  # the long German words wrap at phone width

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=artifacts / "setup-de-390.png", full_page=True)


async def test_the_english_setup_page_and_switching_the_language_keeps_what_was_typed(base_url: str, page: Page):
    found = await served_fields(base_url)
    await page.goto("/setup")
    url = page.locator('[name="driver.shelly_gen2.url"]')
    await expect(caption(page, "poll_interval_s")).to_have_text("Poll interval (s)")
    await expect(caption(page, "driver.shelly_gen2.url")).to_have_text("Address")
    help_of_url = page.locator('label:has([name="driver.shelly_gen2.url"]) > .help')
    await expect(help_of_url).to_have_text("The Shelly's address, e.g. http://192.168.1.50.")
    await expect(page.locator("#actuator_opendtu legend").nth(2)).to_have_text("Inverter 1")
    german = sorted(set(load_texts()["help"].values()))
    assert await every_variant_speaks(page, "en", german) == len(found.choices) + 1

    await url.fill("http://192.168.1.77")
    await page.get_by_role("button", name="DE", exact=True).click()
    await expect(caption(page, "driver.shelly_gen2.url")).to_have_text("Adresse")
    await expect(help_of_url).to_have_text("Adresse des Shelly, z. B. http://192.168.1.50.")
    await expect(page.locator("#actuator_opendtu legend").nth(2)).to_have_text("Wechselrichter 1")
    await expect(page.locator('#meter [name="driver.type"] option:checked')).to_have_text(
        "Shelly Gen2/Gen3/Pro (shelly_gen2)"
    )
    await expect(page.get_by_role("button", name="Entfernen")).to_be_visible()
    assert await page.evaluate(UNTRANSLATED_JS, ["de", sorted(found.descriptions)]) == []
    await expect(url).to_have_value("http://192.168.1.77")  # the form is not rebuilt


@pytest.mark.parametrize("locale", ["de-DE"])
async def test_a_field_not_yet_translated_shows_its_name_and_english_description(page: Page):
    """A new field before its texts: the page still works, that field in its raw form, every other in German."""
    texts = json.loads(TEXTS_FILE.read_text(encoding="utf-8"))
    del texts["labels"]["poll_interval_s"]
    english = "Time between polls in s (polled drivers); missed ticks are skipped."
    del texts["help"][english]

    async def served(route: Route) -> None:
        await route.fulfill(json=texts)

    await page.route("**/web/setup-texts.json", served)
    await page.goto("/setup")
    await expect(caption(page, "timeout_s")).to_have_text("Zeitlimit je Anfrage (s)")
    await expect(caption(page, "poll_interval_s")).to_have_text("poll_interval_s")
    await expect(page.locator('label:has([name="poll_interval_s"]) > .help')).to_have_text(english)
    assert await page.evaluate(UNTRANSLATED_JS, ["de", []]) == ["label poll_interval_s", f"help {english}"]


async def test_an_error_of_the_chosen_variant_as_a_whole_is_shown_in_its_group(base_url: str, page: Page):
    """pydantic locates a rule across a variant's fields at the variant (``driver.tasmota``), not at a field."""
    await page.goto("/setup")
    meter = page.locator("#meter")
    await meter.locator('[name="driver.type"]').select_option("tasmota")
    await meter.locator('[name="driver.tasmota.url"]').fill("http://192.168.1.60")
    await meter.locator('[name="driver.tasmota.power_key"]').fill("curr_w")
    await meter.locator('[name="driver.tasmota.energy_import_key"]').fill("Total_in")  # without the export counter
    await meter.get_by_role("button", name="Save").click()
    error = meter.locator("fieldset .field-error")
    await expect(error).to_contain_text("set both energy_import_key and energy_export_key, or neither")
    await expect(error).to_be_visible()
