"""The OpenAPI document is true: each failure schemathesis found, kept as a named regression test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.memory_bus import MemoryBus
from zeropower.api.app import create_app
from zeropower.api.gateway import Gateway
from zeropower.api.settings import ApiSettings
from zeropower.controller.settings import TUNABLE_FIELDS, ControllerSettings
from zeropower.shared.settings import MqttSettings

BOUNDS = ("minimum", "maximum", "exclusiveMinimum")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The app on a gateway that is never connected (every answer here comes before MQTT matters)."""
    app = create_app(Gateway(MqttSettings(), bus=MemoryBus()), ApiSettings(token="s3cret"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def operation(client: httpx.AsyncClient, method: str, path: str) -> dict[str, Any]:
    document = (await client.get("/openapi.json")).json()
    return document["paths"][path][method.lower()]


async def assert_documented(client: httpx.AsyncClient, response: httpx.Response) -> None:
    """The answer's status and media type are in the document for its operation."""
    documented = (await operation(client, response.request.method, response.request.url.path))["responses"]
    assert str(response.status_code) in documented, (response.status_code, response.text)
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in documented[str(response.status_code)].get("content", {})


@pytest.mark.parametrize("path", ["/api/enabled", "/api/config/controller"])
async def test_a_body_that_is_not_utf8_json_is_a_documented_400(client, path):
    headers = {"Content-Type": "application/json", "Authorization": "Bearer s3cret"}
    response = await client.put(path, content=b"Q\x85\x05", headers=headers)
    assert response.status_code == 400
    await assert_documented(client, response)


async def test_metrics_are_documented_as_text(client):
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    await assert_documented(client, response)


async def test_an_empty_redirect_is_refused_and_documented_as_invalid(client):
    response = await client.get("/api/toggle", params={"redirect": "", "token": "s3cret"})
    assert response.status_code == 400
    await assert_documented(client, response)
    (parameter,) = (await operation(client, "GET", "/api/toggle"))["parameters"]
    string = next(option for option in parameter["schema"]["anyOf"] if option["type"] == "string")
    assert re.fullmatch(string["pattern"], "") is None
    assert re.fullmatch(string["pattern"], "/d/zeropower") is not None


async def test_allow_names_every_method_of_a_path(client):
    assert (await client.options("/api/config/controller")).headers["allow"] == "GET, PUT"
    assert (await client.delete("/api/enabled")).headers["allow"] == "PUT"


async def test_the_event_stream_is_documented_event_by_event(client):
    answer = (await operation(client, "GET", "/api/events"))["responses"]["200"]["content"]["text/event-stream"]
    names = [option["properties"]["event"]["const"] for option in answer["schema"]["oneOf"]]
    assert names == ["state", "config"]


async def test_tunables_are_documented_with_the_controllers_bounds_and_never_null(client):
    document = (await client.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["ControllerConfigChange"]
    assert sorted(schema["properties"]) == sorted(TUNABLE_FIELDS)
    assert schema["additionalProperties"] is False
    settings = ControllerSettings.model_json_schema()["properties"]
    for name, field in schema["properties"].items():
        assert "anyOf" not in field  # null is refused, so it is not documented
        assert "default" not in field
        assert {bound: field.get(bound) for bound in BOUNDS} == {bound: settings[name].get(bound) for bound in BOUNDS}
    assert schema["properties"]["stale_after_s"]["maximum"] == 300
    assert schema["properties"]["dead_time_s"]["maximum"] == 120
