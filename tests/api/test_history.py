"""The chart's history: the in-memory ring, ``GET /api/history`` over a real Mosquitto, and the recorder's InfluxDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ApiFactory
from tests.api.payloads import (
    BATTERY,
    HEATER,
    PWM,
    SOLARFLOW,
    battery_announcement,
    consumer_state,
    controller_state,
    pwm_announcement,
    storage_state,
)
from tests.helpers import MqttProbe, wait_until
from tests.influx import InfluxServer
from zeropower.api.gateway import Snapshot
from zeropower.api.history import PowerHistory
from zeropower.api.influx_history import InfluxHistory, InfluxHistoryError, InfluxHistorySettings, bucket_s, columns_of
from zeropower.recorder.mapping import Mapper
from zeropower.recorder.rules import default_rules
from zeropower.shared.messages import ControllerState, DeviceInfo, DeviceState, GridReading
from zeropower.shared.settings import MqttSettings
from zeropower.shared.topics import Topics, actuator_service_id


class Clocks:
    """A wall clock and a monotonic clock the test moves."""

    def __init__(self) -> None:
        self.wall = 1_763_900_000.0
        self.monotonic = 100.0

    def step(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds


def snapshot(grid_w: float | None = -120.0, heater_w: float | None = 500.0, at: float = 100.0) -> Snapshot:
    """A controller online at 610 W output and 700 W limit, a grid reading received at ``at``, one heater."""
    state = Snapshot(
        controller=ControllerState.model_validate_json(controller_state(enabled=True)),
        grid=GridReading(power_w=grid_w),
        grid_received_at=at,
        availability={"controller": "online"},
    )
    state.controller = state.controller.model_copy(update={"output_w": 610.0, "limit_w": 700.0})
    key = (PWM, HEATER)
    state.announced[key] = DeviceInfo(device_id=HEATER, name="heating rod", kind="consumer", min_w=0, max_w=2000)
    state.devices[key] = consumer_state(heater_w)
    return state


def history(clocks: Clocks, span_s: float = 60.0, interval_s: float = 1.0) -> PowerHistory:
    return PowerHistory(span_s, interval_s, wall=lambda: clocks.wall, monotonic=lambda: clocks.monotonic)


def test_one_sample_per_interval_with_its_newest_figures_and_no_more_than_the_span():
    clocks = Clocks()
    ring = history(clocks, span_s=10.0, interval_s=1.0)
    for i in range(40):  # four messages a second for 10 s
        ring.record(snapshot(grid_w=float(i), at=clocks.monotonic))
        clocks.step(0.25)
    samples = ring.since(0)
    assert [sample.grid_w for sample in samples] == [3.0, 7.0, 11.0, 15.0, 19.0, 23.0, 27.0, 31.0, 35.0, 39.0]
    assert samples[0].t == clocks.wall - 10 + 0.75  # the time of its newest figures
    clocks.step(20.0)
    for _ in range(15):
        ring.record(snapshot(at=clocks.monotonic))
        clocks.step(1.0)
    samples = ring.since(0)
    assert len(samples) == 10  # the oldest went
    assert samples[0].t == clocks.wall - 10.0
    first = samples[0]
    assert (first.grid_w, first.output_w, first.limit_w, first.heater_w) == (-120.0, 610.0, 700.0, 500.0)
    assert ring.covers(clocks.wall - 10.0)
    assert not ring.covers(clocks.wall - 30.0)


def test_values_nobody_vouches_for_are_gaps_not_repeated():
    clocks = Clocks()
    ring = history(clocks)
    stale = snapshot(at=clocks.monotonic - 10.5)  # the meter went silent 10.5 s ago
    stale.availability["controller"] = "offline"
    stale.devices[(PWM, HEATER)] = consumer_state(None)
    ring.record(stale)
    (sample,) = ring.since(0)
    assert (sample.grid_w, sample.output_w, sample.limit_w, sample.heater_w) == (None, None, None, None)
    assert not history(clocks).covers(0)  # an empty ring covers nothing


def test_a_heater_whose_actuator_went_offline_is_a_gap_not_its_last_draw():
    """Killed (its last will says offline), actuator-pwm's retained state keeps its last draw: not a measurement."""
    clocks = Clocks()
    ring = history(clocks)
    gone = snapshot()
    gone.availability[actuator_service_id(PWM)] = "offline"
    ring.record(gone)
    (sample,) = ring.since(0)
    assert sample.heater_w is None
    assert gone.diverter_power_w() is None
    gone.availability[actuator_service_id(PWM)] = "online"
    assert gone.diverter_power_w() == 500.0


def test_a_battery_is_its_own_series_not_the_heaters_nor_the_output():
    """Its power (positive = charging) in battery_w; a gap without a battery and once its actuator is offline."""
    clocks = Clocks()
    ring = history(clocks)
    ring.record(snapshot())
    with_battery = snapshot()
    (device,) = battery_announcement().devices
    with_battery.announced[(BATTERY, SOLARFLOW)] = device
    with_battery.devices[(BATTERY, SOLARFLOW)] = storage_state(-450.0, 62.5)
    clocks.step(1.0)
    ring.record(with_battery)
    with_battery.availability[actuator_service_id(BATTERY)] = "offline"
    clocks.step(1.0)
    ring.record(with_battery)
    none, discharging, gone = ring.since(0)
    assert (none.battery_w, discharging.battery_w, gone.battery_w) == (None, -450.0, None)
    assert (discharging.heater_w, discharging.output_w) == (500.0, 610.0)  # neither changed by the battery


def test_a_wall_clock_set_back_keeps_the_samples_in_order():
    clocks = Clocks()
    ring = history(clocks)
    for _ in range(5):
        ring.record(snapshot(at=clocks.monotonic))
        clocks.step(1.0)
    clocks.wall -= 3.5  # NTP sets the clock back; the monotonic clock runs on
    ring.record(snapshot(at=clocks.monotonic))
    times = [sample.t for sample in ring.since(0)]
    assert times == sorted(times)
    assert len(times) == 3  # the two samples now in the future went, the new one came
    assert times[-1] == clocks.wall


async def test_history_endpoint_serves_what_arrived_and_survives_bad_messages(
    api_client: ApiFactory, mqtt_settings: MqttSettings, probe: MqttProbe
):
    topics = Topics(mqtt_settings.topic_prefix)
    async with api_client() as (client, gateway):
        gateway.history.interval_s = 0.0  # every message a sample, so the test needs no second per sample
        await probe.publish(topics.availability("controller"), "online", retain=True)
        await probe.publish(topics.actuator_announce(PWM), pwm_announcement().model_dump_json(), retain=True)
        await probe.publish(topics.device_state(PWM, HEATER), consumer_state(450.0).model_dump_json(), retain=True)
        await wait_until(lambda: gateway.snapshot.devices and gateway.controller_online)
        for payload in (b"{", b'{"power_w": "NaN"}', b'{"power_w": 1e300}', b"\xff", b"[]"):  # refused
            await probe.publish(topics.grid_power(), payload)
        await probe.publish(topics.controller_state(), b'{"output_w": Infinity}')
        for power in (-250.0, 35.5):
            await probe.publish(topics.grid_power(), GridReading(power_w=power).model_dump_json())
        await probe.publish(topics.controller_state(), controller_state(enabled=True))
        await wait_until(lambda: len(gateway.history.since(0)) == 3)
        assert gateway.counters.invalid == 6

        answer = (await client.get("/api/history", params={"minutes": 5})).json()
        assert answer["source"] == "memory"
        assert answer["problem"] is None
        assert (answer["minutes"], answer["longest_minutes"]) == (5, 60)
        assert answer["grid_w"] == [-250.0, 35.5, 35.5]
        output = ControllerState.model_validate_json(controller_state(enabled=True)).output_w
        assert answer["output_w"] == [None, None, output]
        assert answer["heater_w"] == [450.0, 450.0, 450.0]
        assert answer["battery_w"] == [None, None, None]  # no battery
        assert answer["t"] == sorted(answer["t"])
        assert answer["now"] - 5 < answer["t"][0] <= answer["now"]

        state = (await client.get("/api/state")).json()
        assert abs(state["timestamp"] - time.time()) < 5  # the chart places live samples on the API's clock
        for minutes in ("0", "10081", "x"):
            assert (await client.get("/api/history", params={"minutes": minutes})).status_code == 422


# ---- the recorder's InfluxDB ----------------------------------------------------------------------------


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """A real influxd (Debian's InfluxDB 1.x) on free ports with database ``zeropower``."""
    if not InfluxServer.available():
        pytest.skip("influxd not installed (scripts/system-deps installs it)")
    with InfluxServer(tmp_path / "influxdb") as server:
        server.create_database("zeropower")
        yield server


def record(influx: InfluxServer, messages: list[tuple[str, str]], at_ns: int) -> None:
    """Write messages into InfluxDB as the recorder maps them (its default rules)."""
    mapper = Mapper(default_rules(), "zeropower", ["solar"])
    lines = [line for topic, payload in messages for line in mapper.lines(topic, payload.encode(), at_ns)]
    response = httpx.post(
        f"{influx.url}/write", params={"db": "zeropower", "precision": "ns"}, content="\n".join(lines)
    )
    response.raise_for_status()


def recorded_system(influx: InfluxServer, minutes_ago: float) -> None:
    """Grid, controller and two heaters as they were ``minutes_ago``, with their messages' own timestamps."""
    topics = Topics()
    at = time.time() - minutes_ago * 60
    state = ControllerState.model_validate_json(controller_state(enabled=True))
    messages = [
        (topics.grid_power(), GridReading(timestamp=at, power_w=-80.0).model_dump_json()),
        (
            topics.controller_state(),
            state.model_copy(update={"timestamp": at, "output_w": 900.0, "limit_w": 950.0}).model_dump_json(),
        ),
    ]
    for device, power in (("heater", 300.0), ("boiler", 200.0)):
        device_state = DeviceState(
            actuator_id=PWM, device_id=device, reachable=True, producing=False, power_w=power, updated_at=at
        )
        messages.append(
            (topics.device_state(PWM, device), device_state.model_copy(update={"timestamp": at}).model_dump_json())
        )
    battery = storage_state(-450.0, 62.5).model_copy(update={"timestamp": at, "updated_at": at})
    messages.append((topics.device_state(BATTERY, SOLARFLOW), battery.model_dump_json()))
    record(influx, messages, int(at * 1e9))


async def test_influx_history_reads_what_the_recorder_writes(influx: InfluxServer):
    recorded_system(influx, minutes_ago=90)
    recorded_system(influx, minutes_ago=30)
    step = bucket_s(180, 1.0)
    assert step == 15  # 180 minutes in 720 buckets
    reader = InfluxHistory(InfluxHistorySettings(url=influx.url))
    columns = await reader.read(
        180, step, [(PWM, "heater"), (PWM, "boiler"), (PWM, "it's \\ odd")], [(BATTERY, SOLARFLOW)]
    )
    assert len(columns.t) == 2
    assert columns.t[1] - columns.t[0] == pytest.approx(3600, abs=step)
    assert columns.grid_w == [-80.0, -80.0]
    assert columns.output_w == [900.0, 900.0]
    assert columns.limit_w == [950.0, 950.0]
    assert columns.heater_w == [500.0, 500.0]  # both diverters summed, the battery not among them
    assert columns.battery_w == [-450.0, -450.0]  # discharging
    without = await reader.read(180, step, [(PWM, "heater")])
    assert (without.heater_w, without.battery_w) == ([300.0, 300.0], [None, None])


async def test_history_endpoint_takes_influx_when_memory_is_short_and_memory_when_it_fails(
    api_client: ApiFactory, influx: InfluxServer
):
    recorded_system(influx, minutes_ago=100)
    async with api_client(history={"influxdb": {"url": influx.url}}) as (client, gateway):
        heater = DeviceInfo(device_id="heater", name="heater", kind="consumer", min_w=0, max_w=2000)
        gateway.snapshot.announced[(PWM, "heater")] = heater  # the boiler is not announced: not a diverter now
        answer = (await client.get("/api/history", params={"minutes": 120})).json()
        assert answer["source"] == "influxdb"
        assert answer["longest_minutes"] == 7 * 24 * 60
        assert answer["step_s"] == 10
        assert (answer["grid_w"], answer["output_w"], answer["heater_w"]) == ([-80.0], [900.0], [300.0])
        assert answer["battery_w"] == [None]  # the battery is not announced now: not a battery's series
        (device,) = battery_announcement().devices
        gateway.snapshot.announced[(BATTERY, SOLARFLOW)] = device
        answer = (await client.get("/api/history", params={"minutes": 120})).json()
        assert (answer["heater_w"], answer["battery_w"]) == ([300.0], [-450.0])

        influx.stop()  # InfluxDB down: the memory's samples, and why
        answer = (await client.get("/api/history", params={"minutes": 120})).json()
        assert answer["source"] == "memory"
        assert "unreachable" in answer["problem"]
        assert answer["t"] == []


async def test_influx_values_beyond_the_bounds_are_gaps_and_errors_are_named(influx: InfluxServer):
    at = int((time.time() - 60) * 1e9)
    body = f"grid power_w=1e9 {at}\ngrid power_w=-50 {at + 10**9}\ncontroller output_w=7,limit_w=8 {at}"
    async with httpx.AsyncClient() as client:
        written = await client.post(f"{influx.url}/write", params={"db": "zeropower"}, content=body)
    written.raise_for_status()
    columns = await InfluxHistory(InfluxHistorySettings(url=influx.url)).read(5, 1, [])
    assert columns.grid_w == [None, -50.0]  # beyond the wire's bounds: a gap, not a number
    assert columns.output_w == [7.0, None]
    with pytest.raises(InfluxHistoryError, match="database nope: not executed"):  # InfluxDB 1.6's words
        await InfluxHistory(InfluxHistorySettings(url=influx.url, database="nope")).read(5, 1, [])


@pytest.mark.parametrize(
    "answer",
    [
        None,
        [],
        {"results": "x"},
        {"results": [{}]},  # one result for two statements
        {"results": [{"series": [{"columns": ["grid_w"], "values": [[1.0]]}]}, {}]},  # no time column
        {"results": [{"series": ["x"]}, {}]},
    ],
)
def test_answers_that_are_not_a_history_are_refused(answer: object):
    with pytest.raises(InfluxHistoryError):
        columns_of(answer, 2)


def test_rows_that_are_not_numbers_are_skipped():
    rows = [
        [10, 1.0],
        [11, "5"],
        [12, True],
        [True, 3.0],
        ["x", 4.0],
        [13, None],
        [14],
        [1e11, 2.0],
        [15, float("nan")],
    ]
    columns = columns_of({"results": [{"series": [{"columns": ["time", "grid_w"], "values": rows}]}]}, 1)
    assert (columns.t, columns.grid_w) == ([10.0], [1.0])  # a time without a valid value is no sample
