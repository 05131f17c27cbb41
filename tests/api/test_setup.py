"""Setup in the browser, API side: read, validate, store, test a section; secrets hidden; YAML wins."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.helpers import MqttProbe, service_running
from tests.meter.conftest import FakeDevice
from zeropower.actuator_pwm.service import run as run_heater
from zeropower.actuator_pwm.settings import ActuatorPwmServiceSettings
from zeropower.api import setup_probes
from zeropower.api.setup_secrets import HIDDEN, hide_url_secrets, restore_secrets
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config
from zeropower.meter.service import run as run_meter
from zeropower.meter.settings import MeterServiceSettings, MeterSettings
from zeropower.shared.messages import SetpointCommand
from zeropower.shared.topics import OpenDtuTopics, Topics

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOF = "114182912345"


@pytest.fixture
async def device():
    fake = FakeDevice()
    await fake.start()
    fake.json("/rpc/EM.GetStatus", {"id": 0, "total_act_power": -300.5})
    yield fake
    await fake.stop()


def shelly(url: str, **extra) -> dict:
    return {"driver": {"type": "shelly_gen2", "url": url, **extra}, "poll_interval_s": 0.05}


def section(answer, name: str) -> dict:
    return next(item for item in answer.json() if item["section"] == name)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:pw@192.168.1.50/x", f"http://admin:{HIDDEN}@192.168.1.50/x"),
        ("http://192.168.1.50/cm?user=admin&password=pw", f"http://192.168.1.50/cm?user=admin&password={HIDDEN}"),
        ("http://h/api?apikey=k&channel=1", f"http://h/api?apikey={HIDDEN}&channel=1"),
        ("http://192.168.1.50", "http://192.168.1.50"),
        ("not a url: pw", "not a url: pw"),
    ],
)
def test_secrets_in_urls_are_hidden(url, shown):
    assert hide_url_secrets(url) == shown


def test_hidden_secrets_sent_back_are_restored_and_changed_ones_kept():
    stored = {"driver": {"url": "http://admin:pw@h/", "password": "pw"}, "inverters": [{"token": "t"}]}
    shown = {"driver": {"url": f"http://admin:{HIDDEN}@h/", "password": HIDDEN}, "inverters": [{"token": HIDDEN}]}
    assert restore_secrets(shown, stored) == stored
    changed = {"driver": {"url": f"http://root:{HIDDEN}@h/", "password": "new"}, "inverters": [{"token": HIDDEN}, {}]}
    assert restore_secrets(changed, stored) == {
        "driver": {"url": f"http://root:{HIDDEN}@h/", "password": "new"},  # another user: not the stored password
        "inverters": [{"token": "t"}, {}],
    }
    assert restore_secrets({"password": HIDDEN}, None) == {"password": HIDDEN}


async def test_a_meter_set_up_through_the_api_runs_and_its_secrets_stay_hidden(
    api_client, mqtt_settings, probe, device
):
    topics = Topics(mqtt_settings.topic_prefix)
    async with (
        api_client(token=TOKEN) as (client, _),
        service_running(run_meter, MeterServiceSettings(mqtt=mqtt_settings)),
    ):
        await wait_for_source(client, "meter", "waiting")
        answer = await client.get("/api/setup")
        assert section(answer, "meter")["editable"] is True
        assert section(answer, "meter")["config"] is None
        assert section(answer, "actuator_opendtu")["status"] is None  # no actuator running

        assert (await client.put("/api/setup/meter", json=shelly(device.url))).status_code == 401
        bad = await client.put("/api/setup/meter", json={"driver": {"type": "shelly_gen2"}}, headers=AUTH)
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "driver", "shelly_gen2", "url"]
        assert not probe.on(topics.setup("meter"))

        url = device.url.replace("http://", "http://admin:urlpw@")
        saved = await client.put("/api/setup/meter", json=shelly(url, password="shellypw"), headers=AUTH)
        assert saved.status_code == 200, saved.text
        async with MqttProbe(mqtt_settings.port) as late:  # retained: a new subscriber gets it
            stored = await late.wait_for(topics.setup("meter"))
        assert stored.retain is True
        assert json.loads(stored.payload)["driver"]["password"] == "shellypw"
        shown = saved.json()["config"]
        assert shown["driver"]["password"] == HIDDEN
        assert shown["driver"]["url"] == url.replace("urlpw", HIDDEN) + "/"
        assert shown["max_power_w"] == 50_000  # the defaults filled in
        assert "shellypw" not in saved.text
        assert "urlpw" not in saved.text

        await probe.wait_for(topics.grid_power(), lambda m: json.loads(m.payload)["power_w"] == -300.5)
        await wait_for_source(client, "meter", "setup")

        shown["poll_interval_s"] = 0.1  # the form sends back what it was shown, one field changed
        mark = probe.mark()
        assert (await client.put("/api/setup/meter", json=shown, headers=AUTH)).status_code == 200
        again = json.loads((await probe.wait_for(topics.setup("meter"), since=mark)).payload)
        assert (again["driver"]["password"], again["driver"]["url"], again["poll_interval_s"]) == (
            "shellypw",
            url + "/",
            0.1,
        )


async def wait_for_source(client, name: str, source: str, timeout: float = 10.0) -> None:
    """Poll GET /api/setup until the section's status has ``source`` (the service reported it, the API has it)."""
    deadline = time.monotonic() + timeout
    while (section(await client.get("/api/setup"), name)["status"] or {}).get("source") != source:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} never reported source {source}")
        await asyncio.sleep(0.02)


async def test_a_section_in_the_config_file_refuses_setup(api_client, mqtt_settings, device):
    configured = MeterSettings(driver=ShellyGen2Config(type="shelly_gen2", url=device.url))
    async with (
        api_client() as (client, _),
        service_running(run_meter, MeterServiceSettings(mqtt=mqtt_settings, meter=configured)),
    ):
        await wait_for_source(client, "meter", "yaml")
        assert section(await client.get("/api/setup"), "meter")["editable"] is False
        refused = await client.put("/api/setup/meter", json=shelly(device.url))
        assert refused.status_code == 409
        assert refused.json()["detail"] == "meter is configured in the config file (YAML wins): change it there"


async def test_reading_a_meter_now_gives_its_power_or_the_exact_error(api_client, device):
    async with api_client() as (client, _):
        read = await client.post("/api/setup/meter/read", json=shelly(device.url))
        assert read.json() == {"meter": f"Shelly Gen2 {device.url} (EM 0)", "power_w": -300.5, "error": None}
        device.status("/rpc/EM.GetStatus", 401)
        failed = (await client.post("/api/setup/meter/read", json=shelly(device.url))).json()
        assert failed["power_w"] is None
        assert failed["error"].startswith(f"HTTP 401 Unauthorized from {device.url}/rpc/EM.GetStatus")


async def test_reading_inverters_now_shows_their_telemetry_or_that_none_came(api_client, probe, monkeypatch):
    monkeypatch.setattr(setup_probes, "TELEMETRY_WAIT_S", 2.0)
    dtu = OpenDtuTopics("solar")
    body = {"inverters": [{"serial": ROOF, "name": "roof", "max_w": 800}, {"serial": "1", "max_w": 600}]}
    await probe.publish(dtu.inverter(ROOF, "0/power"), "305.2", retain=True)
    await probe.publish(dtu.inverter(ROOF, "status/reachable"), "1", retain=True)
    async with api_client() as (client, gateway):
        read = (await client.post("/api/setup/actuator_opendtu/read", json=body)).json()
        roof, other = read["inverters"]
        assert (roof["name"], roof["heard"], roof["state"]["power_w"], roof["state"]["reachable"]) == (
            "roof",
            True,
            305.2,
            True,
        )
        assert (other["device_id"], other["heard"], other["state"]) == ("1", False, None)
        assert 1.5 <= read["waited_s"] <= 3.0
        assert all(not topic.startswith("solar/") for topic, _ in gateway.bus._subscriptions)  # unsubscribed


def heater(output_id: str = "boiler", **extra) -> dict:
    return {"rated_w": 2000, "output": {"type": "sim", "output_id": output_id}, **extra}


async def test_a_heater_set_up_through_the_api_is_driven(api_client, mqtt_settings, probe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the energy counter of a heater set up in the browser: its default file
    topics = Topics(mqtt_settings.topic_prefix)
    async with (
        api_client(token=TOKEN) as (client, _),
        service_running(run_heater, ActuatorPwmServiceSettings(mqtt=mqtt_settings)),
    ):
        await wait_for_source(client, "actuator_pwm", "waiting")
        shown = section(await client.get("/api/setup"), "actuator_pwm")
        assert (shown["editable"], shown["config"], shown["status"]["running"]) == (True, None, None)

        assert (await client.put("/api/setup/actuator_pwm", json=heater())).status_code == 401
        refusals = {
            "rated_w": (heater(rated_w="2000"), ["body", "rated_w"]),  # strict: a form sends a number as a number
            "energy_file": (heater(energy_file="/etc/passwd"), ["body"]),
            "actuator_id": (heater(actuator_id="boiler"), ["body"]),
            "pin": (
                {"rated_w": 2000, "output": {"type": "rpi_gpio", "pin": 99}},
                ["body", "output", "rpi_gpio", "pin"],
            ),
        }
        for name, (body, loc) in refusals.items():
            refused = await client.put("/api/setup/actuator_pwm", json=body, headers=AUTH)
            assert refused.status_code == 422, name
            assert refused.json()["detail"][0]["loc"] == loc, name
            assert name in json.dumps(refused.json()["detail"]), name
        assert not probe.on(topics.setup("actuator_pwm"))

        saved = await client.put("/api/setup/actuator_pwm", json=heater(name="Boiler"), headers=AUTH)
        assert saved.status_code == 200, saved.text
        config = saved.json()["config"]
        assert (config["name"], config["setpoint_timeout_s"], config["mapping"]) == (
            "Boiler",
            45.0,
            {"type": "linear", "min_duty": 0.0, "max_duty": 1.0},
        )  # the defaults filled in
        async with MqttProbe(mqtt_settings.port) as late:
            stored = await late.wait_for(topics.setup("actuator_pwm"))
        assert stored.retain is True
        await wait_for_source(client, "actuator_pwm", "setup")
        running = section(await client.get("/api/setup"), "actuator_pwm")["status"]["running"]
        assert running == "Boiler (2000 W) on sim output boiler, linear mapping"
        await probe.wait_for(topics.actuator_state("heater"), lambda m: b'"waiting"' in m.payload)
        command = SetpointCommand(setpoints_w={"heater": 500})
        await probe.publish(topics.actuator_setpoints("heater"), command.model_dump_json())
        await probe.wait_for(topics.sim_pwm_duty("boiler"), lambda m: m.text == "0.25")


async def test_a_heater_in_the_config_file_refuses_setup(api_client, mqtt_settings, tmp_path):
    configured = {"rated_w": 2000, "output": {"type": "sim"}, "energy_file": str(tmp_path / "energy.json")}
    async with (
        api_client(token=TOKEN) as (client, _),
        service_running(run_heater, ActuatorPwmServiceSettings(mqtt=mqtt_settings, actuator_pwm=configured)),
    ):
        await wait_for_source(client, "actuator_pwm", "yaml")
        assert section(await client.get("/api/setup"), "actuator_pwm")["editable"] is False
        refused = await client.put("/api/setup/actuator_pwm", json=heater(), headers=AUTH)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "actuator_pwm is configured in the config file (YAML wins): change it there"
