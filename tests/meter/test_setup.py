"""The meter service set up from the broker: waiting, picking a setup up, replacing it, refusing junk, YAML wins."""

import json
import logging

from tests.helpers import service_running
from tests.meter.conftest import FakeDevice
from zeropower.meter.drivers.shelly_gen2 import ShellyGen2Config
from zeropower.meter.service import run
from zeropower.meter.settings import MeterServiceSettings, MeterSettings
from zeropower.shared.messages import SetupStatus
from zeropower.shared.setup import MAX_SETUP_BYTES
from zeropower.shared.topics import Topics

EM_STATUS = {"id": 0, "total_act_power": -300.5}


def setup_of(device: FakeDevice) -> str:
    return json.dumps({"driver": {"type": "shelly_gen2", "url": device.url}, "poll_interval_s": 0.05})


def status(message) -> SetupStatus:
    return SetupStatus.model_validate_json(message.payload)


def power(message) -> float | None:
    return json.loads(message.payload)["power_w"]


async def test_waits_then_reads_the_meter_set_up_and_replaces_it_with_the_next(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", EM_STATUS)
    second = FakeDevice()
    await second.start()
    second.json("/rpc/EM.GetStatus", {"id": 0, "total_act_power": 123.0})
    try:
        async with service_running(run, MeterServiceSettings(mqtt=mqtt_settings)):
            waiting = await probe.wait_for(topics.setup_status("meter"), lambda m: status(m).source == "waiting")
            assert (status(waiting).section, status(waiting).running) == ("meter", None)
            assert not probe.on(topics.grid_power())  # nothing is read, nothing published

            await probe.publish(topics.setup("meter"), setup_of(device), retain=True)
            set_up = await probe.wait_for(topics.setup_status("meter"), lambda m: status(m).source == "setup")
            assert status(set_up).running == f"Shelly Gen2 {device.url} (EM 0)"
            await probe.wait_for(topics.grid_power(), lambda m: power(m) == -300.5)

            await probe.publish(topics.setup("meter"), setup_of(second), retain=True)
            await probe.wait_for_new(topics.setup_status("meter"), lambda m: second.url in status(m).running)
            mark = probe.mark()
            await probe.wait_for(topics.grid_power(), lambda m: power(m) == 123.0, since=mark)
            requests_then = len(device.seen("/rpc/EM.GetStatus"))
            for _ in range(5):  # the first meter is no longer read
                await probe.wait_for_new(topics.grid_power(), lambda m: power(m) == 123.0)
            assert len(device.seen("/rpc/EM.GetStatus")) == requests_then
    finally:
        await second.stop()


async def test_junk_setup_is_refused_once_and_the_meter_keeps_reading(mqtt_settings, probe, device, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.meter")
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", EM_STATUS)
    async with service_running(run, MeterServiceSettings(mqtt=mqtt_settings)):
        await probe.publish(topics.setup("meter"), setup_of(device), retain=True)
        await probe.wait_for(topics.grid_power(), lambda m: power(m) == -300.5)
        junk = {
            b'{"driver": {"password": "s3cret",}': "not JSON (JSONDecodeError at position 33)",
            b'["s3cret"]': "not a JSON object of the meter section",
            b'{"driver": {"type": "shelly_gen2"}}': "meter.driver.shelly_gen2.url: Field required",
            b'{"driver": {"type": "shelly_gen2", "url": "http://x", "password": "s3cret", "pasword": 1}}': (
                "meter.driver.shelly_gen2.pasword: Extra inputs are not permitted"
            ),
            b"9" * (MAX_SETUP_BYTES + 1): f"{MAX_SETUP_BYTES + 1} bytes, more than {MAX_SETUP_BYTES}",
        }
        for payload, expected in junk.items():
            await probe.publish(topics.setup("meter"), payload, retain=True)
            refused = await probe.wait_for_new(topics.setup_status("meter"), lambda m: status(m).error is not None)
            assert expected in status(refused).error
            assert status(refused).error.startswith("refused, the current one stays")
            assert status(refused).running == f"Shelly Gen2 {device.url} (EM 0)"
            await probe.wait_for_new(topics.grid_power(), lambda m: power(m) == -300.5)
        await probe.publish(topics.setup("meter"), b"", retain=True)  # cleared: it keeps reading
        await probe.wait_for_new(topics.setup_status("meter"), lambda m: "cleared" in status(m).error)
        await probe.wait_for_new(topics.grid_power(), lambda m: power(m) == -300.5)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1  # one line a minute for a flood of changing junk
    assert "s3cret" not in caplog.text


async def test_a_meter_in_the_config_file_ignores_the_setup_and_says_so(mqtt_settings, probe, device):
    topics = Topics(mqtt_settings.topic_prefix)
    device.json("/rpc/EM.GetStatus", EM_STATUS)
    other = {"driver": {"type": "shelly_gen2", "url": "http://127.0.0.1:9"}}
    await probe.publish(topics.setup("meter"), json.dumps(other), retain=True)
    configured = MeterSettings(driver=ShellyGen2Config(type="shelly_gen2", url=device.url), poll_interval_s=0.05)
    async with service_running(run, MeterServiceSettings(mqtt=mqtt_settings, meter=configured)):
        yaml = await probe.wait_for(topics.setup_status("meter"), lambda m: status(m).source == "yaml")
        assert (status(yaml).running, status(yaml).error) == (f"Shelly Gen2 {device.url} (EM 0)", None)
        for _ in range(5):
            await probe.wait_for_new(topics.grid_power(), lambda m: power(m) == -300.5)
    assert all(status(m).source == "yaml" for m in probe.on(topics.setup_status("meter")))
