"""The API's commands against a real Mosquitto: sent once, not retained, only what changed, never re-sent."""

from __future__ import annotations

import json

import pytest

from tests.api.payloads import controller_state, publish_controller
from tests.helpers import MqttProbe, wait_until
from zeropower.controller.settings import ControllerTunables
from zeropower.shared.topics import Topics

CHANGES = [
    ("GET", "/api/toggle", None),
    ("PUT", "/api/enabled", {"enabled": "off"}),
    ("PUT", "/api/config/controller", {"target_w": 5}),
]


async def test_commands_are_never_sent_again_after_a_reconnect(api_client, mqtt_settings, broker):
    """Issue 11: after a reconnect the API re-sent its old retained `on` and target 25 over the user's newer ones."""
    topics = Topics(mqtt_settings.topic_prefix)
    commands = {topics.set_enabled(), topics.controller_config_set()}
    # A reconnect a second after the broker is back, so the probe below listens before the API is back.
    slow = mqtt_settings.model_copy(update={"reconnect_min_s": 1.0, "reconnect_max_s": 1.0})
    async with api_client(mqtt=slow) as (client, gateway):
        async with MqttProbe(broker.port) as probe:
            await publish_controller(probe, topics, gateway, enabled=False)
            mark = probe.mark()
            assert (await client.put("/api/enabled", json={"enabled": "on"})).status_code == 200
            assert (await client.put("/api/config/controller", json={"target_w": 25})).status_code == 200
            await probe.wait_for(topics.controller_config_set(), since=mark)
            sent = [(m.topic, m.text) for m in probe.messages[mark:] if m.topic in commands]
            assert sent == [(topics.set_enabled(), "on"), (topics.controller_config_set(), '{"target_w":25.0}')]
            # the user's newer commands from another client (MQTT Explorer), and the controller following them
            await probe.publish(topics.set_enabled(), "off")
            await probe.publish(topics.controller_config_set(), '{"target_w": 40}')
            await probe.publish(topics.controller_state(), controller_state(enabled=False), retain=True)
        broker.stop()
        await wait_until(lambda: not gateway.connected)
        broker.start()
        async with MqttProbe(broker.port) as after:
            online = await after.wait_for(topics.availability("api"), lambda m: m.text == "online", timeout=15)
            assert not online.retain  # sent live: `after` was listening before the API's new session began
            # The API's session sends its retained state before `online`: anything re-sent has arrived by now.
            assert [(m.topic, m.text) for m in after.messages if m.topic in commands] == []
        assert gateway.connected
        assert (await client.get("/api/status")).json() == {"enabled": "off"}


async def test_a_config_change_sends_only_the_changed_fields(api_client, mqtt_settings, probe):
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        await publish_controller(probe, topics, gateway)
        mark = probe.mark()
        await probe.publish(topics.controller_config_set(), '{"deadband_w": 11}')  # Home Assistant, just before
        response = await client.put("/api/config/controller", json={"target_w": 25, "diverter_order": "curtail-first"})
        assert response.status_code == 200
        expected = ControllerTunables().model_dump() | {"target_w": 25.0, "diverter_order": "curtail-first"}
        assert response.json() == expected  # as it will be once the controller applied it
        command = await probe.wait_for(topics.controller_config_set(), lambda m: "target_w" in m.text, since=mark)
        assert json.loads(command.payload) == {"target_w": 25.0, "diverter_order": "curtail-first"}  # no stale deadband
        assert (await client.put("/api/config/controller", json={})).json() == ControllerTunables().model_dump()
        await client.put("/api/enabled", json={"enabled": "off"})  # the end of what the API sent
        await probe.wait_for(topics.set_enabled(), since=mark)
        sent = [m.text for m in probe.messages[mark:] if m.topic == topics.controller_config_set()]
        assert len(sent) == 2  # Home Assistant's and the API's one change; the empty change sent nothing


@pytest.mark.parametrize("change", CHANGES)
async def test_commands_are_refused_while_the_controller_is_not_online(api_client, mqtt_settings, probe, change):
    """A command is sent once: with the controller offline nobody would ever apply it, so nothing is sent."""
    method, path, body = change
    topics = Topics(mqtt_settings.topic_prefix)
    commands = {topics.set_enabled(), topics.controller_config_set()}
    async with api_client() as (client, gateway):
        await publish_controller(probe, topics, gateway)
        await probe.publish(topics.availability("controller"), "offline", retain=True)
        await wait_until(lambda: not gateway.controller_online)
        mark = probe.mark()
        refused = await client.request(method, path, json=body)
        assert refused.status_code == 503
        assert "controller is not online" in refused.json()["detail"]
        await probe.publish(topics.availability("controller"), "online", retain=True)
        await wait_until(lambda: gateway.controller_online)
        assert (await client.request(method, path, json=body)).status_code == 200
        topic = topics.controller_config_set() if path == "/api/config/controller" else topics.set_enabled()
        sent = await probe.wait_for(topic, since=mark)
        assert [m for m in probe.messages[mark:] if m.topic in commands] == [sent]
