"""The Home Assistant driver against a local server shaped like HA's REST API."""

import pytest
from pydantic import ValidationError

from zeropower.meter.drivers.homeassistant import HomeAssistantConfig, HomeAssistantMeter
from zeropower.meter.reading import MeterError

ENTITY = "sensor.grid_power"
PATH = f"/api/states/{ENTITY}"


def meter_for(device, http, **config):
    settings = HomeAssistantConfig(type="homeassistant", url=device.url, entity_id=ENTITY, token="tok3n", **config)
    return HomeAssistantMeter(settings, http, timeout_s=2)


def state(value, unit="W", **extra):
    attributes = {"unit_of_measurement": unit} if unit is not None else {}
    return {
        "entity_id": ENTITY,
        "state": value,
        "attributes": attributes,
        "last_updated": "2023-11-14T22:13:20+00:00",
        **extra,
    }


async def test_watts_with_bearer_token_and_report_time(device, http):
    device.json(PATH, state("-71", last_updated="2023-11-14T22:13:20.000000+00:00"))
    reading = await meter_for(device, http).read()
    assert reading.power_w == -71
    assert reading.timestamp == 1700000000.0
    assert reading.device_time.value == 1700000000.0
    assert device.seen(PATH)[-1].headers["Authorization"] == "Bearer tok3n"


async def test_kilowatts_are_converted_and_last_reported_wins(device, http):
    device.json(
        PATH,
        state(
            "1.25",
            unit="kW",
            last_updated="2023-11-14T22:00:00+00:00",
            last_reported="2023-11-14T22:13:21+00:00",
        ),
    )
    reading = await meter_for(device, http).read()
    assert reading.power_w == 1250
    assert reading.timestamp == 1700000001.0


async def test_invert(device, http):
    device.json(PATH, state("300"))
    assert (await meter_for(device, http, invert=True).read()).power_w == -300


@pytest.mark.parametrize("value", ["unavailable", "unknown"])
async def test_unavailable_and_unknown_are_missing(device, http, value):
    device.json(PATH, state(value))
    with pytest.raises(MeterError, match=f"{ENTITY} is {value}"):
        await meter_for(device, http).read()


@pytest.mark.parametrize(("unit", "shown"), [("A", "'A'"), ("kWh", "'kWh'"), (None, "None")])
async def test_unexpected_unit_is_missing(device, http, unit, shown):
    device.json(PATH, state("5", unit=unit))
    with pytest.raises(MeterError, match=f"{ENTITY} has unit {shown}; expected W or kW"):
        await meter_for(device, http).read()


async def test_non_numeric_state(device, http):
    device.json(PATH, state("nan"))
    with pytest.raises(MeterError, match=f"{ENTITY} state is 'nan', not a number"):
        await meter_for(device, http).read()


async def test_bad_token_and_unknown_entity(device, http):
    device.status(PATH, 401, "401: Unauthorized")
    with pytest.raises(MeterError, match=r"HTTP 401 Unauthorized .*check user name and password or token"):
        await meter_for(device, http).read()
    device.status(PATH, 404, '{"message":"Entity not found."}')
    with pytest.raises(MeterError, match=r"HTTP 404 Not Found .*Entity not found"):
        await meter_for(device, http).read()


def test_entity_id_is_checked():
    with pytest.raises(ValidationError, match="entity_id"):
        HomeAssistantConfig(type="homeassistant", url="http://ha:8123", entity_id="grid power", token="t")


@pytest.mark.parametrize(
    ("times", "match"),
    [
        ({"last_updated": None}, f"{ENTITY} last_updated is missing"),
        ({"last_reported": "yesterday"}, f"{ENTITY} last_reported is 'yesterday', not an ISO 8601 time"),
    ],
)
async def test_a_report_time_is_required(device, http, times, match):
    device.json(PATH, state("5", **times))
    with pytest.raises(MeterError, match=match):
        await meter_for(device, http).read()
