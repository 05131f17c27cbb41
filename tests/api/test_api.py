"""The API endpoints against a real Mosquitto (the gateway in-process, HTTP through ASGI)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.api.payloads import (
    BATTERY,
    HEATER,
    PWM,
    SOLARFLOW,
    battery_announcement,
    consumer_state,
    controller_state,
    publish_controller,
    pwm_announcement,
    storage_state,
)
from tests.helpers import MqttProbe, service_running, wait_until
from zeropower.controller.service import run as run_controller
from zeropower.controller.settings import ControllerServiceSettings, ControllerSettings
from zeropower.shared.messages import DeviceState, EnergyToday, GridReading, parse_message
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.topics import Topics

TOKEN = "s3cret"


async def publish_state(probe: MqttProbe, topics: Topics, gateway, *, enabled: bool) -> None:
    await probe.publish(topics.controller_state(), controller_state(enabled=enabled), retain=True)
    await wait_until(lambda: gateway.snapshot.controller is not None and gateway.snapshot.controller.enabled == enabled)


async def test_status_unknown_then_from_retained_state(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        response = await client.get("/api/status")
        assert response.status_code == 503
        assert "unknown" in response.json()["detail"]
        await publish_state(probe, topics, gateway, enabled=False)
        response = await client.get("/api/status")
        assert response.status_code == 200
        assert response.json() == {"enabled": "off"}


async def test_toggle_sends_the_opposite_of_the_controllers_state_not_retained(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        await publish_controller(probe, topics, gateway, enabled=True)
        mark = probe.mark()
        response = await client.get("/api/toggle")
        assert response.status_code == 200
        assert response.json() == {"enabled": "off"}
        command = await probe.wait_for(topics.set_enabled(), since=mark)
        assert command.text == "off"
        await publish_state(probe, topics, gateway, enabled=False)
        assert (await client.get("/api/toggle")).json() == {"enabled": "on"}
        await probe.wait_for(topics.set_enabled(), lambda m: m.text == "on", since=mark)
    # not retained: a new subscriber gets no command (its own message comes after every retained one)
    async with MqttProbe(mqtt_settings.port) as late:
        await late.publish("sentinel", "end of the retained messages")
        await late.wait_for("sentinel")
        assert not late.on(topics.set_enabled())


async def test_put_enabled(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        await publish_controller(probe, topics, gateway, enabled=True)
        mark = probe.mark()
        response = await client.put("/api/enabled", json={"enabled": "off"})
        assert response.json() == {"enabled": "off"}
        await probe.wait_for(topics.set_enabled(), lambda m: m.text == "off", since=mark)
        bad = await client.put("/api/enabled", json={"enabled": "maybe"})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "enabled"]


async def test_toggle_redirects_only_to_safe_targets(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)

    def set_enabled_since(mark: int) -> list[IncomingMessage]:
        return [m for m in probe.messages[mark:] if m.topic == topics.set_enabled()]

    async with api_client(redirect_allow_origins=["https://grafana.example.org"]) as (client, gateway):
        await publish_controller(probe, topics, gateway, enabled=True)
        toggles = probe.mark()
        response = await client.get("/api/toggle", params={"redirect": "/d/zeropower"})
        assert response.status_code == 303
        assert response.headers["location"] == "/d/zeropower"
        allowed = "https://grafana.example.org/d/zeropower?orgId=1"
        response = await client.get("/api/toggle", params={"redirect": allowed})
        assert response.status_code == 303
        assert response.headers["location"] == allowed
        await wait_until(lambda: len(set_enabled_since(toggles)) == 2)
        mark = probe.mark()
        for evil in [
            "//evil.com",
            "https://evil.com",
            "javascript:alert(1)",
            "/\\evil.com",
            "https://grafana.example.org.evil.com/",
        ]:
            rejected = await client.get("/api/toggle", params={"redirect": evil})
            assert rejected.status_code == 400, evil
            assert "redirect" in rejected.json()["detail"]
        # One more allowed toggle marks the end: everything published before it has arrived.
        await client.get("/api/toggle", params={"redirect": "/d/zeropower"})
        await wait_until(lambda: len(set_enabled_since(mark)) >= 1)
        assert len(set_enabled_since(mark)) == 1  # the evil ones were rejected before publishing


@pytest.mark.parametrize(
    "change",
    [
        ("GET", "/api/toggle", None),
        ("PUT", "/api/enabled", {"enabled": "on"}),
        ("PUT", "/api/config/controller", {"target_w": 5}),
    ],
)
async def test_token_is_required_for_changes(api_client, mqtt_settings, probe, change):
    method, path, body = change
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client(token=TOKEN) as (client, gateway):
        await publish_controller(probe, topics, gateway, enabled=True)
        for params, headers in [
            ({}, {}),
            ({"token": ""}, {}),
            ({"token": "wrong"}, {}),
            ({}, {"Authorization": "Bearer wrong"}),
            ({}, {"Authorization": "Bearer "}),
        ]:
            response = await client.request(method, path, params=params, headers=headers, json=body)
            assert response.status_code == 401, (params, headers)
        ok = await client.request(method, path, params={"token": TOKEN}, json=body)
        assert ok.status_code == 200
        ok = await client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}, json=body)
        assert ok.status_code == 200
        assert (await client.get("/api/status")).status_code == 200  # reading needs no token


async def test_config_validation_names_the_field(api_client):
    async with api_client() as (client, _gateway):
        for body, field in [
            ({"target_w": 5000}, "target_w"),
            ({"raise_gain": 0}, "raise_gain"),
            ({"dry_run": "perhaps"}, "dry_run"),
            ({"target_w": None}, "target_w"),
            ({"tick_interval_s": 1}, "tick_interval_s"),
            # the controller's bounds, and JSON types exactly (schemathesis: "5" and 1 were taken for 5.0 and true)
            ({"stale_after_s": 301}, "stale_after_s"),
            ({"dead_time_s": 121}, "dead_time_s"),
            ({"target_w": "5"}, "target_w"),
            ({"dry_run": 1}, "dry_run"),
            ({"dry_run": "true"}, "dry_run"),
        ]:
            response = await client.put("/api/config/controller", json=body)
            assert response.status_code == 422, body
            assert response.json()["detail"][0]["loc"] == ["body", field]


async def test_config_round_trip_through_the_controller(api_client, mqtt_settings, probe, tmp_path):
    topics = Topics(mqtt_settings.topic_prefix)
    controller = ControllerSettings(target_w=20, state_file=tmp_path / "controller-state.json")
    settings = ControllerServiceSettings(mqtt=mqtt_settings, controller=controller)
    async with service_running(run_controller, settings), api_client() as (client, gateway):
        await wait_until(lambda: gateway.snapshot.controller_config is not None and gateway.controller_online)
        assert (await client.get("/api/config/controller")).json()["target_w"] == 20
        response = await client.put("/api/config/controller", json={"target_w": -5, "dry_run": True})
        assert response.status_code == 200
        assert response.json()["deadband_w"] == 15
        await probe.wait_for(topics.controller_config(), lambda m: json.loads(m.payload)["target_w"] == -5)
        await wait_until(lambda: (gateway.snapshot.controller_config or {}).get("target_w") == -5)
        config = (await client.get("/api/config/controller")).json()
        assert config["target_w"] == -5
        assert config["dry_run"] is True
        state = await probe.wait_for(topics.controller_state(), lambda m: json.loads(m.payload)["target_w"] == -5)
        assert json.loads(state.payload)["target_w"] == -5
    # persistent: a restarted controller keeps what was set (in its state file; the command is not retained)
    async with service_running(run_controller, settings):
        await probe.wait_for_new(topics.controller_config(), lambda m: json.loads(m.payload)["target_w"] == -5)


async def test_state_and_metrics(api_client, mqtt_settings, probe):  # noqa: PLR0915 (one scenario)
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        await probe.publish(topics.controller_state(), controller_state(enabled=True, consumption_w=900), retain=True)
        await wait_until(lambda: gateway.snapshot.controller is not None)
        device = DeviceState(actuator_id="roof", device_id="114182912345", reachable=True, producing=True, power_w=300)
        await probe.publish(topics.device_state("roof", "114182912345"), device.model_dump_json(), retain=True)
        await probe.publish(topics.actuator_announce(PWM), pwm_announcement().model_dump_json(), retain=True)
        await wait_until(lambda: (PWM, HEATER) in gateway.snapshot.announced)
        for energy_wh in (7000.0, 7004.5):
            heater = consumer_state(880.0, duty=0.44, energy_wh=energy_wh)
            await probe.publish(topics.device_state(PWM, HEATER), heater.model_dump_json(), retain=True)
        await probe.publish(topics.availability("meter"), "online", retain=True)
        await probe.publish(topics.availability("actuator/roof"), "offline", retain=True)
        for imported in (5000, 5010):
            reading = GridReading(power_w=-120.5, energy_import_wh=imported, energy_export_wh=1200)
            await probe.publish(topics.grid_power(), reading.model_dump_json())
        await probe.publish(topics.grid_power(), "garbage")
        await wait_until(lambda: gateway.snapshot.grid is not None and gateway.counters.invalid >= 1)
        await wait_until(
            lambda: len(gateway.snapshot.devices) == 2 and "actuator/roof" in gateway.snapshot.availability
        )
        await wait_until(lambda: gateway.energy.diverted_wh == 4.5)
        state = (await client.get("/api/state")).json()
        assert state["grid_power_w"] == -120.5
        assert state["mode"] == "regulating"
        assert state["setpoints_w"] == {"114182912345": 310.0, HEATER: 900.0}
        assert state["actuators"]["roof"]["114182912345"]["power_w"] == 300
        assert state["actuators"]["roof"]["114182912345"]["kind"] == "inverter"
        assert state["actuators"]["roof"]["114182912345"]["name"] == "114182912345"  # not announced: its id
        assert state["actuators"][PWM][HEATER] | {"timestamp": 0} == {
            **consumer_state(880.0, duty=0.44, energy_wh=7004.5).model_dump(),
            "timestamp": 0,
            "kind": "consumer",
            "name": "heating rod",  # as announced
        }
        assert (state["diverter_power_w"], state["consumption_w"]) == (880.0, 900.0)
        assert state["energy_today"] == {
            "date": datetime.now().astimezone().date().isoformat(),
            "imported_wh": 10.0,
            "exported_wh": 0.0,
            "produced_wh": None,  # the roof is not announced: not known to be an inverter
            "diverted_wh": 4.5,
        }
        assert state["availability"]["meter"] == "online"
        assert state["availability"]["actuator/roof"] == "offline"
        assert state["availability"]["api"] == "online"
        assert 0 <= state["grid_age_s"] < 10
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert "zeropower_grid_power_watts -120.5" in text
        assert 'zeropower_setpoint_watts{device="114182912345"} 310.0' in text
        assert "zeropower_grid_imported_energy_wh_total 5010.0" in text
        assert "zeropower_grid_exported_energy_wh_total 1200.0" in text
        assert 'zeropower_service_available{service="meter"} 1.0' in text
        assert 'zeropower_service_available{service="actuator/roof"} 0.0' in text
        assert "zeropower_api_invalid_messages_total 1.0" in text
        assert 'zeropower_diverter_power_watts{actuator="pwm",device="heater"} 880.0' in text
        assert 'zeropower_diverter_duty_ratio{actuator="pwm",device="heater"} 0.44' in text
        assert 'zeropower_diverter_energy_wh_total{actuator="pwm",device="heater"} 7004.5' in text
        assert 'zeropower_energy_today_wh{direction="imported"} 10.0' in text
        assert 'zeropower_energy_today_wh{direction="diverted"} 4.5' in text
        assert "114182912345" not in "".join(line for line in text.splitlines() if "diverter" in line)
        assert "zeropower_api_messages_received_total" in text
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "zeropower API"
        await probe.publish(topics.actuator_announce(PWM), b"", retain=True)  # the actuator is removed
        await wait_until(lambda: not gateway.snapshot.announced)
        assert (await client.get("/api/state")).json()["diverter_power_w"] is None


async def test_a_battery_is_storage_not_an_inverter_nor_a_diverter(api_client, mqtt_settings, probe):
    """Its power (positive = charging) and SoC are shown as a battery's; none of its energy counts as produced."""
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        await probe.publish(topics.actuator_announce(BATTERY), battery_announcement().model_dump_json(), retain=True)
        await probe.publish(topics.availability(f"actuator/{BATTERY}"), "online", retain=True)
        await wait_until(lambda: (BATTERY, SOLARFLOW) in gateway.snapshot.announced)
        # a counter a battery might report (its lifetime throughput) is neither production nor diversion
        for energy_wh in (1000.0, 1500.0):
            state = storage_state(-450.0, 62.5, energy_wh=energy_wh)
            await probe.publish(topics.device_state(BATTERY, SOLARFLOW), state.model_dump_json(), retain=True)
        await wait_until(lambda: gateway.snapshot.devices.get((BATTERY, SOLARFLOW)) == state)
        answer = (await client.get("/api/state")).json()
        battery = answer["actuators"][BATTERY][SOLARFLOW]
        assert (battery["kind"], battery["name"], battery["power_w"]) == ("storage", "SolarFlow", -450.0)
        assert battery["soc_pct"] == 62.5
        assert battery["storage"] == {
            "capacity_wh": 1920.0,
            "min_soc_pct": 10.0,
            "max_soc_pct": 100.0,
            "response_time_s": 5.0,
        }
        assert (answer["storage_power_w"], answer["storage_soc_pct"]) == (-450.0, 62.5)  # discharging
        assert answer["diverter_power_w"] is None
        assert (answer["energy_today"]["produced_wh"], answer["energy_today"]["diverted_wh"]) == (None, None)
        text = (await client.get("/metrics")).text
        assert 'zeropower_storage_power_watts{actuator="battery",device="solarflow"} -450.0' in text
        assert 'zeropower_storage_soc_ratio{actuator="battery",device="solarflow"} 0.625' in text
        assert 'zeropower_storage_reserve_soc_ratio{actuator="battery",device="solarflow"} 0.1' in text
        assert "solarflow" not in "".join(line for line in text.splitlines() if "diverter" in line)
        # an unknown SoC is null, never a number; a charging battery's power is positive
        unknown = storage_state(300.0, None)
        await probe.publish(topics.device_state(BATTERY, SOLARFLOW), unknown.model_dump_json(), retain=True)
        await wait_until(lambda: gateway.snapshot.devices.get((BATTERY, SOLARFLOW)) == unknown)
        answer = (await client.get("/api/state")).json()
        assert answer["actuators"][BATTERY][SOLARFLOW]["soc_pct"] is None
        assert (answer["storage_power_w"], answer["storage_soc_pct"]) == (300.0, None)
        assert "zeropower_storage_soc_ratio{" not in (await client.get("/metrics")).text
        # its actuator killed: its retained state's figures are no longer the battery's
        await probe.publish(topics.availability(f"actuator/{BATTERY}"), "offline", retain=True)
        await wait_until(lambda: gateway.snapshot.availability.get(f"actuator/{BATTERY}") == "offline")
        answer = (await client.get("/api/state")).json()
        assert (answer["storage_power_w"], answer["storage_soc_pct"]) == (None, None)
        assert answer["actuators"][BATTERY][SOLARFLOW]["kind"] == "storage"  # still listed, as offline


async def test_cors_only_for_configured_origins(api_client):
    async with api_client(cors_origins=["https://ui.example.org"]) as (client, _gateway):
        allowed = await client.get("/api/state", headers={"Origin": "https://ui.example.org"})
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example.org"
        other = await client.get("/api/state", headers={"Origin": "https://evil.com"})
        assert "access-control-allow-origin" not in other.headers
    async with api_client() as (client, _gateway):
        response = await client.get("/api/state", headers={"Origin": "https://ui.example.org"})
        assert "access-control-allow-origin" not in response.headers


async def test_energy_today_is_restored_at_start_and_published_retained(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    today = datetime.now().astimezone().date().isoformat()
    saved = EnergyToday(date=today, imported_wh=100, exported_wh=20, diverted_wh=5)
    await probe.publish(topics.energy_today(), saved.model_dump_json(), retain=True)
    async with api_client() as (client, gateway):
        await wait_until(lambda: gateway.energy.imported_wh == 100)
        assert (await client.get("/api/state")).json()["energy_today"]["diverted_wh"] == 5
        gateway.energy_publish_s = 0  # publish on every reading
        for imported in (7000, 7003):
            reading = GridReading(power_w=50, energy_import_wh=imported, energy_export_wh=0)
            await probe.publish(topics.grid_power(), reading.model_dump_json())
        message = await probe.wait_for(
            topics.energy_today(), lambda m: parse_message(EnergyToday, m.payload).imported_wh == 103
        )
        published = parse_message(EnergyToday, message.payload)
        assert (published.date, published.exported_wh, published.diverted_wh) == (today, 20, 5)
        assert gateway.energy.imported_wh == 103  # its own publish coming back is not restored again
    async with MqttProbe(mqtt_settings.port) as late:  # retained for the next start
        retained = await late.wait_for(topics.energy_today())
        assert retained.retain is True
        assert parse_message(EnergyToday, retained.payload).imported_wh == 103
