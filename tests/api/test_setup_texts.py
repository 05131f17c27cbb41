"""The setup page's field texts (web/setup-texts.json) cover every field the page can show, in German and English.

A new or renamed field, a changed description or a new union choice fails here until it is translated.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.setup_schema import SetupFields, gaps, load_texts, openapi_schemas, setup_models, walk


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return openapi_schemas()


@pytest.fixture(scope="module")
def found(schemas: dict[str, Any]) -> SetupFields:
    return walk(schemas, setup_models())


def test_the_walk_reaches_every_model_and_variant_of_the_three_sections(found: SetupFields):
    assert setup_models() == ["MeterSettings", "ActuatorOpenDtuSetup", "ActuatorPwmSetup"]
    models = {model for model, _ in found.fields}
    assert {"ShellyGen2Config", "VzloggerPushConfig", "InverterSettings", "AhoyDtuConfig", "SysfsConfig"} <= models
    assert {"TableMapping", "PhaseFiredMapping", "SimOutputConfig", "RpiGpioConfig"} <= models
    assert {"shelly_gen2", "tasmota", "opendtu", "ahoydtu", "rpi_gpio", "sysfs", "linear", "table"} <= found.choices
    assert found.items == {"inverters"}
    assert len(found.descriptions) > 100


def test_every_field_has_a_german_and_english_label_and_german_help(found: SetupFields):
    assert gaps(load_texts(), found) == []


def test_a_new_field_a_changed_description_and_a_new_choice_are_gaps(schemas: dict[str, Any]):
    """The check itself: what a settings model change does to the texts is reported, old texts too."""
    changed = copy.deepcopy(schemas)
    meter = changed["MeterSettings"]["properties"]
    meter["backoff_s"] = {"type": "number", "description": "Wait this long after an error, in s."}
    meter["poll_interval_s"]["description"] += " Reworded."
    changed["ShellyGen2Config"]["properties"]["type"]["const"] = "shelly_gen4"
    meter["driver"]["discriminator"]["mapping"]["shelly_gen4"] = "#/components/schemas/ShellyGen2Config"
    problems = gaps(load_texts(), walk(changed, setup_models()))
    assert "label 'backoff_s': no de/en" in problems
    assert "help for ['MeterSettings.backoff_s']: no German for 'Wait this long after an error, in s.'" in problems
    assert any(
        p.startswith("help for ['MeterSettings.poll_interval_s']: no German for 'Time between") for p in problems
    )
    old = "Time between polls in s (polled drivers); missed ticks are skipped."
    assert f"help {old!r}: used by no field (renamed or removed?)" in problems  # the outdated German, named
    assert "choices 'shelly_gen4': no de/en" in problems
    assert len(problems) == 5, problems


def test_no_label_is_the_bare_field_name():
    for key, label in load_texts()["labels"].items():
        assert key.rpartition(".")[2] not in label.values(), key
