"""The gateway's handlers on hostile input: none raises, today's totals stay finite and always publishable."""

from __future__ import annotations

import asyncio
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.memory_bus import MemoryBus
from tests.api.payloads import (
    HEATER,
    PWM,
    SOLARFLOW,
    battery_announcement,
    consumer_state,
    pwm_announcement,
    storage_state,
)
from zeropower.api.gateway import Gateway, Snapshot
from zeropower.shared.messages import MAX_ENERGY_WH, MAX_POWER_W, EnergyToday, GridReading, parse_message
from zeropower.shared.settings import MqttSettings

PREFIX = "zp"
POWERS = st.none() | st.floats(-MAX_POWER_W, MAX_POWER_W)
COUNTERS = st.none() | st.floats(0, MAX_ENERGY_WH)


def grid_payloads() -> st.SearchStrategy[bytes]:
    def reading(power_w: float | None, imported: float | None, exported: float | None) -> bytes:
        error = None if power_w is not None else "meter offline"
        return (
            GridReading(power_w=power_w, energy_import_wh=imported, energy_export_wh=exported, error=error)
            .model_dump_json()
            .encode()
        )

    return st.builds(reading, POWERS, COUNTERS, COUNTERS)


def heater_payloads() -> st.SearchStrategy[bytes]:
    states = st.builds(consumer_state, POWERS, duty=st.none() | st.floats(0, 1), energy_wh=COUNTERS)
    return states.map(lambda state: state.model_dump_json().encode())


def saved_totals() -> st.SearchStrategy[bytes]:
    totals = st.floats(0, MAX_ENERGY_WH)
    saved = st.builds(EnergyToday, date=st.dates().map(str), imported_wh=totals, exported_wh=totals, diverted_wh=totals)
    return saved.map(lambda message: message.model_dump_json().encode())


TOPICS = {
    "grid": f"{PREFIX}/meter/grid",
    "heater": f"{PREFIX}/actuator/{PWM}/device/{HEATER}/state",
    "announce": f"{PREFIX}/actuator/{PWM}/announce",
    "energy": f"{PREFIX}/api/energy_today",
    "state": f"{PREFIX}/controller/state",
    "config": f"{PREFIX}/controller/config",
    "availability": f"{PREFIX}/controller/availability",
}
MESSAGES = st.lists(
    st.one_of(
        st.tuples(st.just("grid"), grid_payloads()),
        st.tuples(st.just("heater"), heater_payloads()),
        st.tuples(st.just("energy"), saved_totals()),
        st.tuples(st.sampled_from(sorted(TOPICS)), st.binary(max_size=64)),  # anything at all, anywhere
    ),
    max_size=40,
)


async def feed(messages: list[tuple[str, bytes]]) -> tuple[Gateway, MemoryBus]:
    bus = MemoryBus()
    gateway = Gateway(MqttSettings(topic_prefix=PREFIX), bus=bus)  # type: ignore[arg-type]
    gateway.energy_publish_s = 0  # publish today's totals after every message
    await bus.deliver(TOPICS["announce"], pwm_announcement().model_dump_json().encode(), retain=True)
    for name, payload in messages:
        assert await bus.deliver(TOPICS[name], payload, retain=name == "energy") == 1
        totals = gateway.energy.totals()
        for total in (totals.imported_wh, totals.exported_wh, totals.diverted_wh):
            assert total is None or math.isfinite(total)
        gateway.energy.message()  # always builds
    published = len(bus.published)
    await bus.deliver(TOPICS["grid"], GridReading(power_w=None, error="end of test").model_dump_json().encode())
    assert bus.published[published:], "today's totals are still published after all that"
    return gateway, bus


@settings(max_examples=200, deadline=None, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES)
def test_no_handler_raises_and_energy_today_is_always_published(messages):
    _gateway, bus = asyncio.run(feed(messages))
    for message in bus.published:
        assert message.topic == TOPICS["energy"]
        assert message.retain
        parse_message(EnergyToday, message.payload)


def test_the_issues_jump_is_not_counted_and_publishing_goes_on():
    """Issue 11: a counter of 1e308 made the total infinite and every publish raise; now 5e6 -> 1e12 is a jump."""
    messages = [
        ("grid", GridReading(power_w=100, energy_import_wh=5e6).model_dump_json().encode()),
        ("grid", GridReading(power_w=100, energy_import_wh=1e12).model_dump_json().encode()),
        ("grid", GridReading(power_w=100, energy_import_wh=1e12).model_dump_json().encode()),
        ("grid", b'{"timestamp": 1, "power_w": 100, "energy_import_wh": 1e308}'),  # rejected by the message model
    ]
    gateway, bus = asyncio.run(feed(messages))
    assert gateway.energy.imported_wh == 0
    assert gateway.counters.invalid == 1
    published = [parse_message(EnergyToday, p.payload) for p in bus.published if p.topic == TOPICS["energy"]]
    assert [message.imported_wh for message in published] == [0, 0, 0, 0]


def test_batteries_soc_together_is_weighted_by_capacity_and_their_power_summed():
    """Two batteries: 2 kWh at 80 % and 6 kWh at 20 % hold 35 % together; a battery without a SoC is left out."""
    snapshot = Snapshot()
    for actuator_id, capacity_wh in (("small", 2000.0), ("large", 6000.0), ("blind", 9000.0)):
        for device in battery_announcement(capacity_wh).devices:
            snapshot.announced[(actuator_id, SOLARFLOW)] = device
    snapshot.devices[("small", SOLARFLOW)] = storage_state(-200.0, 80.0)
    snapshot.devices[("large", SOLARFLOW)] = storage_state(500.0, 20.0)
    snapshot.devices[("blind", SOLARFLOW)] = storage_state(None, None, reachable=False)
    assert snapshot.storage_soc_pct() == 35.0
    assert snapshot.storage_power_w() == 300.0  # positive: charging, on balance
    assert snapshot.diverter_power_w() is None
    snapshot.availability["actuator/large"] = "offline"
    assert (snapshot.storage_soc_pct(), snapshot.storage_power_w()) == (80.0, -200.0)
