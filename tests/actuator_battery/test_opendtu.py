"""The opendtu battery driver against a real Mosquitto: OpenDTU's and the BMS's topics published by the probe."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from tests.helpers import MqttProbe
from zeropower.actuator_battery.drivers import BatteryError, BatteryReading, open_driver
from zeropower.actuator_battery.drivers.opendtu import OpenDtuBattery, OpenDtuBatteryConfig, read_number
from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings

SERIAL = "116180000001"
INVERTER = f"solar/{SERIAL}"
BMS = "daly_bms"
CHARGER = "victron/mppt/power"


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def config(**changes: object) -> OpenDtuBatteryConfig:
    fields = {
        "type": "opendtu",
        "serial": SERIAL,
        "nameplate_w": 800,
        "soc": {"topic": BMS, "path": "soc_percent"},
        "voltage": {"topic": BMS, "path": "total_voltage"},
        "solar": {"topic": CHARGER},
        "min_write_interval_s": 0,
    }
    return OpenDtuBatteryConfig.model_validate(fields | changes)


class Rig:
    """The driver on its own bus, a probe playing OpenDTU and the BMS, a clock the test moves."""

    def __init__(self, driver: OpenDtuBattery, probe: MqttProbe, clock: FakeClock) -> None:
        self.driver = driver
        self.probe = probe
        self.clock = clock

    async def inverter(self, power_w: float = 300.0, *, reachable: str = "1", retain: bool = False) -> None:
        for subtopic, payload in (
            ("status/reachable", reachable),
            ("status/producing", "1" if power_w > 0 else "0"),
            ("0/power", f"{power_w:.1f}"),
        ):
            await self.probe.publish(f"{INVERTER}/{subtopic}", payload, retain=retain)

    async def bms(self, payload: str, *, retain: bool = False, topic: str = BMS) -> None:
        await self.probe.publish(topic, payload, retain=retain)

    async def settled(self) -> None:
        """Wait until the driver's bus has taken everything the probe sent (a marker it echoes back)."""
        marker = f"marker/{id(self)}/{self.clock.now}"
        seen = asyncio.Event()

        async def on_marker(_message: object) -> None:
            seen.set()

        bus = self.driver._bus
        bus.subscribe(marker, on_marker)
        try:
            async with asyncio.timeout(5):
                while not seen.is_set():  # the subscription may not be in place for the first one
                    await self.probe.publish(marker, "x")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(seen.wait(), 0.2)
        finally:
            bus.unsubscribe(marker, on_marker)

    def commands(self, since: int) -> list[tuple[str, str, bool]]:
        return [
            (m.topic.removeprefix(f"{INVERTER}/"), m.text, m.retain)
            for m in self.probe.messages[since:]
            if m.topic.startswith(f"{INVERTER}/cmd/")
        ]


@pytest.fixture
async def rig(mqtt_settings: MqttSettings, probe: MqttProbe) -> AsyncIterator[Rig]:
    clock = FakeClock()
    bus = MqttBus(mqtt_settings, client_id="battery-driver-test", availability_topic="test/driver/availability")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    driver = OpenDtuBattery(config(), bus, clock)
    await asyncio.wait_for(bus.connected.wait(), 5)
    rig = Rig(driver, probe, clock)
    await rig.settled()
    try:
        yield rig
    finally:
        await driver.close()
        stop.set()
        await task


BMS_50 = '{"total_voltage": 52.4, "current": -11.1, "soc_percent": 50.0}'


async def test_a_reading_gathers_inverter_bms_and_charger_with_the_oldest_arrival(rig: Rig):
    with pytest.raises(BatteryError, match="no status/reachable"):
        await rig.driver.read()
    await rig.inverter(300)
    await rig.settled()
    with pytest.raises(BatteryError, match="no soc on daly_bms yet"):
        await rig.driver.read()
    rig.clock.now += 1
    await rig.bms(BMS_50)
    await rig.settled()
    with pytest.raises(BatteryError, match="no solar on victron/mppt/power"):
        await rig.driver.read()
    rig.clock.now += 1
    await rig.bms("212.5", topic=CHARGER)
    await rig.settled()
    reading = await rig.driver.read()
    assert reading == BatteryReading(
        measured_at=500.0, soc_pct=50.0, power_w=-300.0, setpoint_w=-0.0, voltage_v=52.4, solar_w=212.5
    )
    rig.clock.now += 1
    await rig.inverter(250)
    await rig.settled()
    assert (await rig.driver.read()).measured_at == 501.0  # now the BMS is the oldest


async def test_retained_values_of_unknown_age_are_not_taken(rig: Rig):
    await rig.inverter(300, retain=True)
    await rig.bms(BMS_50, retain=True)
    await rig.bms("100", retain=True, topic=CHARGER)
    # a later subscriber gets them as retained: a second driver on the same bus
    late = OpenDtuBattery(config(), rig.driver._bus, rig.clock)
    try:
        await rig.settled()
        with pytest.raises(BatteryError, match="no status/reachable"):
            await late.read()
    finally:
        await late.close()


@pytest.mark.parametrize(
    "junk",
    [
        '{"total_voltage": 52.4, "soc_percent": NaN}',
        '{"total_voltage": 52.4, "soc_percent": 1e308}',
        '{"total_voltage": 52.4, "soc_percent": 1e400}',
        '{"total_voltage": 52.4, "soc_percent": "50"}',
        '{"total_voltage": 52.4, "soc_percent": true}',
        '{"total_voltage": 52.4, "soc_percent": null}',
        '{"total_voltage": 52.4}',
        '{"total_voltage": 52.4, "soc_percent": 150}',
        "[1, 2, 3]",
        "not json",
        "",
        "\xff\xfe",
        "[" * 100000,
    ],
)
async def test_junk_on_the_bms_topic_is_dropped_with_one_log_line_and_the_soc_ages(
    rig: Rig, junk: str, caplog: pytest.LogCaptureFixture
):
    await rig.inverter(300)
    await rig.bms(BMS_50)
    await rig.bms("0", topic=CHARGER)
    await rig.settled()
    good = await rig.driver.read()
    caplog.set_level(logging.WARNING, logger="zeropower.actuator_battery.drivers.opendtu")
    for _ in range(20):
        rig.clock.now += 1
        await rig.bms(junk)
    await rig.bms(junk, retain=True)  # retained junk too
    await rig.inverter(300)
    await rig.bms("0", topic=CHARGER)
    await rig.settled()
    reading = await rig.driver.read()
    assert reading.soc_pct == good.soc_pct
    assert reading.measured_at == good.measured_at  # the last good SoC keeps its age: it goes stale
    lines = [r for r in caplog.records if "soc" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert "soc: ignored" in lines[0].getMessage()


async def test_a_discharge_switches_it_on_after_its_limit_and_regulation_never_switches_it_off(rig: Rig):
    driver = rig.driver
    assert driver.min_discharge_w == 40  # 5 % of 800 W
    mark = rig.probe.mark()
    await driver.set_power(-300)
    await driver.set_power(-200)
    await driver.set_power(0)  # regulation: at its floor, still on
    await driver.set_power(-10)
    await driver.set_power(0, standby=True)  # a stop state: off
    await driver.set_power(-10)  # off, below its floor: stays off
    await driver.set_power(0)
    await driver.set_power(-300)
    await rig.settled()
    assert rig.commands(mark) == [
        ("cmd/limit_nonpersistent_absolute", "300", False),
        ("cmd/power", "1", False),
        ("cmd/limit_nonpersistent_absolute", "200", False),
        ("cmd/limit_nonpersistent_absolute", "40", False),
        ("cmd/limit_nonpersistent_absolute", "40", False),
        ("cmd/power", "0", False),
        ("cmd/limit_nonpersistent_absolute", "300", False),
        ("cmd/power", "1", False),
    ]


async def test_the_read_back_waits_for_the_command_then_tells_a_lost_one(rig: Rig):
    await rig.inverter(0)
    await rig.bms(BMS_50)
    await rig.bms("0", topic=CHARGER)
    await rig.settled()
    await rig.driver.set_power(-300)
    await rig.probe.publish(f"{INVERTER}/status/limit_relative", "37.50")  # 300 W of 800 W
    await rig.inverter(300)
    await rig.settled()
    assert (await rig.driver.read()).setpoint_w is None  # the command may still be on its way
    rig.clock.now += 10
    assert (await rig.driver.read()).setpoint_w == -300
    await rig.probe.publish(f"{INVERTER}/status/limit_relative", "100.00")  # it restarted: its persistent limit
    await rig.settled()
    assert (await rig.driver.read()).setpoint_w == -800
    await rig.driver.set_power(0, standby=True)
    rig.clock.now += 10
    assert (await rig.driver.read()).setpoint_w == -800  # still producing after the power-off: not taken
    await rig.inverter(0)
    await rig.settled()
    assert (await rig.driver.read()).setpoint_w == 0


async def test_unreachable_is_an_error_and_afterwards_a_discharge_switches_it_on_again(rig: Rig):
    await rig.inverter(300)
    await rig.bms(BMS_50)
    await rig.bms("0", topic=CHARGER)
    await rig.settled()
    await rig.driver.set_power(-300)
    await rig.probe.publish(f"{INVERTER}/status/reachable", "0")
    await rig.settled()
    with pytest.raises(BatteryError, match="not reachable"):
        await rig.driver.read()
    await rig.inverter(0)  # back, not producing: it may have restarted
    await rig.settled()
    mark = rig.probe.mark()
    await rig.driver.set_power(-300)
    await rig.settled()
    assert [c[:2] for c in rig.commands(mark)] == [("cmd/limit_nonpersistent_absolute", "300"), ("cmd/power", "1")]


async def test_a_command_without_the_broker_fails_as_a_battery_error(mqtt_settings: MqttSettings):
    bus = MqttBus(mqtt_settings, client_id="never-connected", availability_topic="test/x")
    driver = open_driver(config(), bus)
    with pytest.raises(BatteryError, match="not connected"):
        await driver.set_power(-300)


@pytest.mark.parametrize(
    ("payload", "path", "value"),
    [
        (b"52.3", None, 52.3),
        (b" 7 \n", None, 7.0),
        (b'{"soc": {"soc_percent": 18.9}}', "soc.soc_percent", 18.9),
        (b'{"cells": [3.3, 3.4]}', "cells.1", 3.4),
        (b'{"data": {"soc": 80}}', "data.soc", 80.0),
    ],
)
def test_numbers_are_read_from_plain_or_json_payloads(payload, path, value):
    assert read_number(payload, path) == value


@pytest.mark.parametrize(
    ("payload", "path", "cause"),
    [
        (b"NaN", None, "not a number"),
        (b"Infinity", None, "not a number"),
        (b'"50"', None, "str"),
        (b"true", None, "bool"),
        (b"1e400", None, "finite"),
        (b'{"soc": 1}', "data.soc", "no 'data'"),
        (b'{"cells": [1]}', "cells.3", "no '3'"),
        (b"x" * 70000, None, "too large"),
    ],
)
def test_junk_numbers_name_the_cause(payload, path, cause):
    with pytest.raises(ValueError, match=cause):
        read_number(payload, path)


def test_the_config_takes_an_unquoted_serial_and_trims_the_prefix():
    parsed = config(serial=116180000001, prefix="solar/")
    assert (parsed.serial, parsed.prefix, parsed.min_limit_w) == (SERIAL, "solar", 40.0)
    with pytest.raises(ValueError, match="min_percent"):
        config(min_percent=1)
    with pytest.raises(ValueError, match="topic"):
        config(soc={"topic": "bms/#"})
