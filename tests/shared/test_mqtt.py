"""The MQTT bus against a real Mosquitto: availability, reconnects, re-subscription, retained state."""

import asyncio
import contextlib
import logging
import socket
import sys

import pytest

from tests.helpers import MqttProbe, wait_until
from zeropower.shared.mqtt import (
    TAKEOVER_COUNT,
    TAKEOVER_WINDOW_S,
    IncomingMessage,
    MqttBus,
    TakeoverWatch,
    _acked,
    default_client_id,
)
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import Broker


@contextlib.asynccontextmanager
async def running(bus: MqttBus):
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_availability_online_then_offline_on_clean_stop(mqtt_settings: MqttSettings, probe: MqttProbe):
    bus = MqttBus(mqtt_settings, "test-bus", "t/svc/availability")
    async with running(bus):
        await probe.wait_for("t/svc/availability", lambda m: m.text == "online" and m.retain is False)
    await probe.wait_for("t/svc/availability", lambda m: m.text == "offline")


async def test_handlers_receive_and_bad_handlers_do_not_stop_the_loop(mqtt_settings, probe):
    bus = MqttBus(mqtt_settings, "test-bus", "t/svc/availability")
    got: asyncio.Queue[str] = asyncio.Queue()

    async def broken(_: IncomingMessage) -> None:
        raise RuntimeError("boom")

    async def good(message: IncomingMessage) -> None:
        got.put_nowait(message.text)

    bus.subscribe("t/in/#", broken)
    bus.subscribe("t/in/#", good)
    async with running(bus):
        await asyncio.wait_for(bus.connected.wait(), 5)
        await probe.publish("t/in/a", "1")
        await probe.publish("t/in/b", "2")
        assert [await asyncio.wait_for(got.get(), 5) for _ in range(2)] == ["1", "2"]


async def test_reconnect_resubscribes_and_republishes_retained(broker: Broker, mqtt_settings):
    bus = MqttBus(mqtt_settings, "test-bus", "t/svc/availability")
    got: asyncio.Queue[str] = asyncio.Queue()

    async def collect(message: IncomingMessage) -> None:
        got.put_nowait(message.text)

    bus.subscribe("t/cmd", collect)
    async with running(bus):
        await asyncio.wait_for(bus.connected.wait(), 5)
        await bus.publish("t/state", "state-1", retain=True)
        broker.stop()  # no persistence: the broker forgets every retained message
        await asyncio.sleep(0.3)
        assert not bus.connected.is_set()
        assert await bus.publish("t/lost", "x") is False
        broker.start()
        await asyncio.wait_for(bus.connected.wait(), 10)
        async with MqttProbe(broker.port) as probe:
            await probe.wait_for("t/state", lambda m: m.text == "state-1" and m.retain)
            await probe.wait_for("t/svc/availability", lambda m: m.text == "online")
            await probe.publish("t/cmd", "after-restart")
            assert await asyncio.wait_for(got.get(), 5) == "after-restart"


async def test_last_will_when_the_process_dies(broker: Broker, mqtt_settings, probe, tmp_path):
    script = tmp_path / "bus.py"
    script.write_text(
        "import asyncio\n"
        "from zeropower.shared.mqtt import MqttBus\n"
        "from zeropower.shared.settings import MqttSettings\n"
        f"bus = MqttBus(MqttSettings(port={broker.port}, keepalive_s=5), 'test-will', 't/will/availability')\n"
        "asyncio.run(bus.run(asyncio.Event()))\n"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, str(script))
    try:
        await probe.wait_for("t/will/availability", lambda m: m.text == "online")
        process.kill()  # no DISCONNECT: the broker must publish the last will
        await process.wait()
        await probe.wait_for("t/will/availability", lambda m: m.text == "offline", timeout=15)
    finally:
        if process.returncode is None:
            process.kill()


async def test_unreachable_broker_is_retried_and_stop_still_works():
    settings = MqttSettings(port=1, reconnect_min_s=0.05, reconnect_max_s=0.1)
    bus = MqttBus(settings, "nobody", "t/x/availability")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    await asyncio.sleep(0.3)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 2)


@pytest.mark.parametrize("payload", [b"\xff\xfe", b""])
async def test_odd_payloads_are_delivered_as_bytes(mqtt_settings, probe, payload):
    bus = MqttBus(mqtt_settings, "test-bus", "t/svc/availability")
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def collect(message: IncomingMessage) -> None:
        got.put_nowait(message.payload)

    bus.subscribe("t/odd", collect)
    async with running(bus):
        await asyncio.wait_for(bus.connected.wait(), 5)
        await probe.publish("t/odd", payload or b"x")
        assert await asyncio.wait_for(got.get(), 5) == (payload or b"x")


async def test_a_cancellation_lost_in_an_acknowledged_call_is_raised():
    async def wait_for_like_python_311():  # returns when cancelled, as wait_for does if the ack came with it
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    call = asyncio.create_task(_acked(wait_for_like_python_311()))
    await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await asyncio.create_task(_acked(asyncio.sleep(0))) is None  # no cancellation: nothing raised


async def test_a_command_is_acknowledged_at_qos_1_and_never_sent_again(mqtt_settings, broker, probe):
    # Commands (set/enabled, config/set) go once: a reconnect re-sends only retained state, never a command
    # someone else may have replaced since.
    bus = MqttBus(mqtt_settings, "command-test", f"{mqtt_settings.topic_prefix}/t/availability")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    try:
        await asyncio.wait_for(bus.connected.wait(), 5)
        assert await bus.publish(f"{mqtt_settings.topic_prefix}/set/enabled", "off", acknowledged=True)
        await probe.wait_for(f"{mqtt_settings.topic_prefix}/set/enabled", lambda m: m.text == "off")
        assert bus._retained == {}  # nothing to re-send after a reconnect
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def test_default_client_id_is_one_per_installation_service_and_host():
    host = socket.gethostname()
    default = MqttSettings()
    assert default_client_id(default, "meter") == f"zeropower-meter-{host}"
    assert default_client_id(default, "actuator/opendtu") == f"zeropower-actuator-opendtu-{host}"
    assert default_client_id(default, "actuator/garage") == f"zeropower-actuator-garage-{host}"
    assert default_client_id(MqttSettings(topic_prefix="home/solar"), "meter") == f"home-solar-meter-{host}"
    assert default_client_id(default, "meter") == default_client_id(MqttSettings(), "meter")  # after a restart
    assert MqttBus.for_service(default, "meter")._client_id == f"zeropower-meter-{host}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def short_connection(watch: TakeoverWatch, clock: FakeClock) -> bool:
    watch.connected()
    clock.now += 0.3
    return watch.lost()


def test_takeover_is_connections_lost_at_once_several_times_in_a_row():
    clock = FakeClock()
    watch = TakeoverWatch(clock)
    reported = [short_connection(watch, clock) for _ in range(TAKEOVER_COUNT + 3)]
    assert reported == [False] * (TAKEOVER_COUNT - 1) + [True, False, False, False]  # reported once
    assert watch.suspected
    assert watch.held()  # the connection held: the takeover is over, once
    assert not watch.suspected
    assert not watch.held()


def test_a_connection_that_lasts_or_a_failed_connect_is_no_takeover():
    clock = FakeClock()
    watch = TakeoverWatch(clock)
    for _ in range(TAKEOVER_COUNT - 1):
        short_connection(watch, clock)
    watch.connected()
    clock.now += TAKEOVER_WINDOW_S  # lost only after the window (a keepalive timeout is later still)
    assert not watch.lost()
    for _ in range(TAKEOVER_COUNT - 1):
        short_connection(watch, clock)
    assert not watch.lost()  # the broker refused or was unreachable: no connection to take over
    assert [short_connection(watch, clock) for _ in range(TAKEOVER_COUNT)][-1]


async def test_two_buses_with_one_client_id_each_report_the_takeover_once(mqtt_settings, caplog):
    caplog.set_level(logging.INFO, logger="zeropower.shared.mqtt")
    first, second = (MqttBus(mqtt_settings, "same-id", f"t/{name}/availability") for name in ("a", "b"))
    connects = {"first": 0, "second": 0}

    def counting(name: str):
        async def hook() -> None:
            connects[name] += 1

        return hook

    first.on_connect(counting("first"))
    second.on_connect(counting("second"))

    def takeovers() -> list[str]:
        return [r.getMessage() for r in caplog.records if "closed our connection" in r.getMessage()]

    def backoff_lines() -> int:
        return sum("reconnecting with backoff" in r.getMessage() for r in caplog.records)

    async with running(first), running(second) as stop_second:
        await wait_until(lambda: len(takeovers()) == 2, timeout=30)
        assert all("client id 'same-id'" in message for message in takeovers())
        assert all("Stop the other instance" in message for message in takeovers())
        seen, lines = dict(connects), backoff_lines()
        await wait_until(lambda: all(connects[name] >= seen[name] + 3 for name in connects), timeout=30)
        assert len(takeovers()) == 2  # still the same two lines while the fight goes on,
        assert backoff_lines() == lines  # and no line per disconnect
        stop_second.set()
        await wait_until(lambda: "the takeover is over" in caplog.text, timeout=TAKEOVER_WINDOW_S + 20)
    assert caplog.text.count("the takeover is over") == 1
