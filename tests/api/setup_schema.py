"""What the setup page shows of the settings models: every field, description and choice its forms can build.

Walked from the API's own OpenAPI schema, starting at the models the page's sections name (``data-schema``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.helpers import REPO
from zeropower.api.app import create_app
from zeropower.api.gateway import Gateway
from zeropower.api.settings import ApiSettings
from zeropower.shared.settings import MqttSettings

WEB = REPO / "services/api/zeropower/api/web"
TEXTS_FILE = WEB / "setup-texts.json"


def setup_models() -> list[str]:
    """The models the setup page builds its sections from, as setup.html names them."""
    return re.findall(r'data-schema="(\w+)"', (WEB / "setup.html").read_text())


def openapi_schemas() -> dict[str, Any]:
    """The API's OpenAPI components, as the page fetches them (the app is built, not run)."""
    return create_app(Gateway(MqttSettings()), ApiSettings()).openapi()["components"]["schemas"]


def load_texts() -> dict[str, Any]:
    """The page's field texts (setup-texts.json)."""
    return json.loads(TEXTS_FILE.read_text(encoding="utf-8"))


@dataclass
class SetupFields:
    """Everything of the models the page can show: fields, descriptions, choices, list items."""

    fields: set[tuple[str, str]] = field(default_factory=set)  # (model, field name)
    descriptions: dict[str, set[str]] = field(default_factory=dict)  # English description -> where
    choices: set[str] = field(default_factory=set)  # the `type` values of every union
    options: set[str] = field(default_factory=set)  # every enum value
    items: set[str] = field(default_factory=set)  # fields that are lists of objects


def walk(schemas: dict[str, Any], models: list[str]) -> SetupFields:
    """Every property of every model reachable from ``models`` (through $ref, anyOf, oneOf and list items)."""
    found = SetupFields()
    seen: set[str] = set()

    def referenced(schema: dict[str, Any]) -> list[str]:
        names = [schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else []
        for key in ("anyOf", "oneOf"):
            for option in schema.get(key, []):
                names += referenced(option)
        if isinstance(schema.get("items"), dict):
            names += referenced(schema["items"])
        return names

    def visit(model: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, prop in schemas[model].get("properties", {}).items():
            found.fields.add((model, name))
            if "description" in prop:
                found.descriptions.setdefault(prop["description"], set()).add(f"{model}.{name}")
            if "discriminator" in prop:
                found.choices |= set(prop["discriminator"]["mapping"])
            for option in [prop, *prop.get("anyOf", [])]:
                found.options |= {str(value) for value in option.get("enum", [])}
            if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
                found.items.add(name)
            for child in referenced(prop):
                visit(child)

    for model in models:
        visit(model)
    return found


def label_key(texts: dict[str, Any], model: str, name: str) -> str:
    """The key of a field's label: ``Model.field`` where one field name means different things, else the name."""
    return f"{model}.{name}" if f"{model}.{name}" in texts["labels"] else name


def gaps(texts: dict[str, Any], found: SetupFields) -> list[str]:
    """What the page would show untranslated, and what the texts keep that no field uses any more."""
    problems = []
    used_labels = {label_key(texts, model, name) for model, name in found.fields}
    for key in sorted(used_labels):
        missing = [lang for lang in ("de", "en") if not texts["labels"].get(key, {}).get(lang)]
        if missing:
            problems.append(f"label {key!r}: no {'/'.join(missing)}")
    for description, where in sorted(found.descriptions.items()):
        if not texts["help"].get(description):
            problems.append(f"help for {sorted(where)}: no German for {description!r}")
        elif texts["help"][description] == description:
            problems.append(f"help for {sorted(where)}: the German is the English {description!r}")
    for kind, needed in (("choices", found.choices), ("items", found.items)):
        for key in sorted(needed):
            missing = [lang for lang in ("de", "en") if not texts[kind].get(key, {}).get(lang)]
            if missing:
                problems.append(f"{kind} {key!r}: no {'/'.join(missing)}")
    known = {
        "labels": used_labels,
        "help": set(found.descriptions),
        "choices": found.choices | found.options,
        "items": found.items,
    }
    for kind, keys in known.items():
        problems += [
            f"{kind} {key!r}: used by no field (renamed or removed?)" for key in sorted(set(texts[kind]) - keys)
        ]
    return problems
