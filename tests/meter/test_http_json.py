"""The generic HTTP JSON driver: key paths, units, sign, import minus export, every auth kind."""

import pytest
from aiohttp import web
from pydantic import ValidationError

from tests.meter.conftest import DigestGuard, basic_auth_of
from zeropower.meter.drivers.http_json import HttpJsonConfig, HttpJsonMeter
from zeropower.meter.reading import MeterError

DOCUMENT = {"emeters": [{"power": 12.5}, {"power": -3}], "meter": {"in": 0.5, "out": 0.1}, "saldo": "-250"}


def meter_for(device, http, **config):
    settings = HttpJsonConfig(type="http_json", url=f"{device.url}/rest?x=1", **config)
    return HttpJsonMeter(settings, http, timeout_s=2)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"path": "emeters/0/power"}, 12.5),
        ({"path": "emeters/[1]/power"}, -3),
        ({"path": "emeters.1.power"}, -3),
        ({"path": "emeters/-1/power", "invert": True}, 3),
        ({"path": "saldo"}, -250),
        ({"path": "meter/in", "export_path": "meter/out", "unit": "kW"}, 400),
        ({"path": "emeters/0/power", "unit": "mW"}, 0.0125),
    ],
)
async def test_paths_units_and_sign(device, http, config, expected):
    device.json("/rest", DOCUMENT)
    reading = await meter_for(device, http, **config).read()
    assert reading.power_w == pytest.approx(expected)
    assert device.seen("/rest")[-1].query == {"x": "1"}


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("emeters/2/power", r"index 2 is out of range at emeters \(2 items\)"),
        ("emeters/first/power", "emeters is a list, so 'first' must be an index"),
        ("meter/total", r"no key 'total' at meter \(keys there: in, out\)"),
        ("saldo/value", "cannot look up 'value': saldo is str"),
        ("meter", "meter is a dict, not a number"),
    ],
)
async def test_path_errors_name_the_place(device, http, path, match):
    device.json("/rest", DOCUMENT)
    with pytest.raises(MeterError, match=match):
        await meter_for(device, http, path=path).read()


async def test_basic_auth(device, http):
    device.json("/rest", DOCUMENT)
    await meter_for(device, http, path="saldo", auth="basic", username="u", password="p").read()
    assert basic_auth_of(device.seen("/rest")[-1]) == ("u", "p")


async def test_bearer_auth(device, http):
    device.json("/rest", DOCUMENT)
    await meter_for(device, http, path="saldo", auth="bearer", token="abc").read()
    assert device.seen("/rest")[-1].headers["Authorization"] == "Bearer abc"


async def test_digest_auth(device, http):
    guard = DigestGuard("user", "pass", realm="reader")

    async def document(_: web.Request) -> web.Response:
        return web.json_response(DOCUMENT)

    device.route("/rest", guard.protect(document))
    reading = await meter_for(device, http, path="saldo", auth="digest", username="user", password="pass").read()
    assert reading.power_w == -250


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"auth": "basic", "username": "u"}, "auth basic needs username and password"),
        ({"auth": "digest", "password": "p"}, "auth digest needs username and password"),
        ({"auth": "bearer"}, "auth bearer needs token"),
        ({"path": "a//b"}, "empty part"),
        ({"unit": "MW"}, "unit"),
    ],
)
def test_config_errors(config, match):
    with pytest.raises(ValidationError, match=match):
        HttpJsonConfig(**{"type": "http_json", "url": "http://x/", "path": "p", **config})
