"""``make demo``'s program runs the whole system, prints the tour, shows the main feature and stops cleanly."""

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, exit_status
from zeropower.shared.messages import ActuatorAnnouncement, ControllerState, SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.topics import Topics
from zeropower.sim.broker import free_port, wait_for_port
from zeropower.sim.demo import SERVICES, demo_config
from zeropower.sim.inverter import EFFICIENCY

pytestmark = pytest.mark.integration

TOPICS = Topics()
FIRST_MINUTES_S = 120.0  # the issue: both must show within the demo's first two minutes
CURTAILED_W = 100.0  # the limit holds back at least this much of what the sun offers
HAND_BACK_SLACK_S = 20.0  # the tour's kettle comes at 90 s: the hand-back may show just after the two minutes
TARGET_W = float(demo_config(Path("demo"), 0, 0, 0, 0)["controller"]["target_w"])  # type: ignore[index]
KETTLE_END_S = 150.0  # the tour's kettle runs 90-150 s: the demo runs past it to see the discharge end
WATCHED_S = KETTLE_END_S + 30.0  # by then the battery has stopped discharging and charges again
CHARGING_W = 100.0  # the battery's power beyond this counts as charging or discharging (it reports whole watts)
FULL_PCT = 99.0  # the Zendure reports whole %: the controller sees 100 % (full) from 99.5 %
COVERED_W = 50.0  # the kettle is covered: the grid within this of the target while the battery discharges...
COVERED_FOR = 5  # ...for this many simulator states (1 s apart) in a row
#: "Never discharging into export": while the battery discharges, the grid stays above the target less this.
#: The grid wanders around the target by the controller's deadband (15 W), the household's load noise (15 W
#: standard deviation, followed one meter reading late, at half the error per reading) and the meter's 2 W
#: noise per phase: 60 W is four standard deviations of the load's wander below the deadband.
DISCHARGE_EXPORT_TOLERANCE_W = 60.0
#: ...except while the battery cannot have followed a drop of the house's need (load + heater - output: the
#: kettle ending, the sun returning behind a cloud) yet: one meter reading (1 s), actuator-battery's Zendure
#: write interval (4 s) and poll (2 s), the battery's dead time (1 s) and ramp (400 W/s: 3 s for the kettle's
#: 1200 W), and a second integral step (the controller moves half the error per reading).
BATTERY_FOLLOWS_S = 12.0


def demo_command(workdir: Path, mqtt_port: int, api_port: int, duration_s: float) -> list[str]:
    """``python -m zeropower.sim.demo`` on private ports, stopping by itself after ``duration_s``."""
    return [
        sys.executable,
        "-m",
        "zeropower.sim.demo",
        "--duration",
        str(duration_s),
        "--workdir",
        str(workdir),
        "--mqtt-port",
        str(mqtt_port),
        "--api-port",
        str(api_port),
    ]


def start_demo(command: list[str], output: Path) -> subprocess.Popen[bytes]:
    """Start the demo with its terminal output going to ``output``."""
    with output.open("wb") as stdout:
        return subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT)


def assert_clean_logs(workdir: Path) -> None:
    for service in SERVICES:
        log = (workdir / f"{service}.log").read_text()
        assert "Traceback" not in log, f"{service}:\n{log}"
        assert " ERROR " not in log, f"{service}:\n{log}"
        assert " WARNING " not in log, f"{service}:\n{log}"


def test_demo_runs_and_stops_cleanly(tmp_path):
    result = subprocess.run(
        demo_command(tmp_path, free_port(), free_port(), 20),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MQTT broker" in result.stdout
    assert "grid" in result.stdout
    assert re.search(r"battery +[+-]\d+ W +\d+ %", result.stdout)  # the battery's power and state of charge
    assert re.search(r"exported +\d+\.\d\d Wh \| imported +\d+\.\d\d Wh", result.stdout)  # the meter's counters
    assert result.stdout.rstrip().endswith("stopped")
    assert "web UI and REST API: http://127.0.0.1:" in result.stdout
    assert_clean_logs(tmp_path)


def announced(probe: MqttProbe, kind: str) -> dict[str, float]:
    """Device id to announced maximum of every device of ``kind`` announced so far."""
    maxima = {}
    for message in probe.messages:
        if message.topic.startswith(f"{TOPICS.prefix}/actuator/") and message.topic.endswith("/announce"):
            for device in ActuatorAnnouncement.model_validate_json(message.payload).devices:
                if device.kind == kind:
                    maxima[device.device_id] = device.max_w
    return maxima


def regulating(message: IncomingMessage) -> ControllerState | None:
    state = ControllerState.model_validate_json(message.payload)
    return state if state.mode == "regulating" else None


def sim_states(probe: MqttProbe, started: float) -> list[tuple[float, SimState]]:
    """Every simulator state so far, with its arrival in s since ``started``."""
    return [
        (at - started, SimState.model_validate_json(message.payload))
        for message, at in zip(probe.messages, probe.arrivals, strict=True)
        if message.topic == TOPICS.sim_state()
    ]


def need_w(state: SimState) -> float:
    """What the house needs beyond its own production: load and heater less the inverters' output, in W."""
    return state.load_w + state.heater_w - state.output_w


def discharges_into_export(states: list[tuple[float, SimState]], target_w: float) -> list[str]:
    """The states in which the battery discharged while the grid was below the target less the tolerance, and
    the house's need had not dropped within the time the battery takes to follow."""
    faults = []
    for index, (at, state) in enumerate(states):
        if state.battery_w > -CHARGING_W or state.grid_w >= target_w - DISCHARGE_EXPORT_TOLERANCE_W:
            continue
        recent = [need_w(s) for t, s in states[: index + 1] if at - t <= BATTERY_FOLLOWS_S]
        if max(recent) - need_w(state) > DISCHARGE_EXPORT_TOLERANCE_W:
            continue  # the need just dropped: the battery has not had the time to follow
        faults.append(f"{at:.0f} s: {state}")
    return faults


@dataclass
class Watch:
    """The demo's broker probe and when each event showed, in s since the demo started."""

    probe: MqttProbe
    started: float
    at: dict[str, float] = field(default_factory=dict)

    def left(self, slack_s: float = 0.0) -> float:
        """Time left of the first two minutes (and ``slack_s``)."""
        return self.started + FIRST_MINUTES_S + slack_s - time.monotonic()

    async def sim(self, event: str, predicate: Callable[[SimState], bool], timeout: float, since: int = 0) -> SimState:
        """Wait for a simulator state meeting ``predicate``; note when it came as ``event``."""
        message = await self.probe.wait_for(
            TOPICS.sim_state(), lambda m: predicate(SimState.model_validate_json(m.payload)), timeout, since
        )
        self.at[event] = self.probe.arrivals[self.probe.messages.index(message)] - self.started
        return SimState.model_validate_json(message.payload)

    async def controller(
        self, event: str, predicate: Callable[[ControllerState], bool], timeout: float, since: int = 0
    ) -> ControllerState:
        """Wait for a regulating controller state meeting ``predicate``; note when it came as ``event``."""
        message = await self.probe.wait_for(
            TOPICS.controller_state(), lambda m: (s := regulating(m)) is not None and predicate(s), timeout, since
        )
        self.at[event] = self.probe.arrivals[self.probe.messages.index(message)] - self.started
        return ControllerState.model_validate_json(message.payload)


async def watch_the_morning(watch: Watch) -> tuple[float, dict[str, float], float]:
    """The battery charges, fills, the heater takes the surplus, the limits drop; the heater's and inverters'
    maxima and the limit when they first dropped."""
    charging = await watch.sim("battery charging", lambda s: s.battery_w >= CHARGING_W, watch.left())
    assert charging.heater_w == 0
    # Storage first: the heater gets power only once the battery is full (it could take all of the surplus).
    heating = await watch.sim("heater on", lambda s: s.heater_w > 0, watch.left())
    assert heating.battery_soc_pct is not None
    assert heating.battery_soc_pct >= FULL_PCT
    await watch.controller("heater in the controller's state", lambda s: s.consumption_w > 0, watch.left())
    heater_w = sum(announced(watch.probe, "consumer").values())
    inverters = announced(watch.probe, "inverter")
    assert heater_w > 0
    assert inverters

    def limited_with_heater_full(state: ControllerState) -> bool:
        return (
            state.consumption_w >= heater_w - 1
            and state.limit_w < sum(inverters.values())
            and any(state.setpoints_w[serial] < max_w for serial, max_w in inverters.items())
        )

    def curtailed(sim: SimState) -> bool:
        offered_w = min(sim.pv_available_w * EFFICIENCY, sum(inverters.values()))
        return sim.heater_w >= 0.95 * heater_w and offered_w - sim.limit_w >= CURTAILED_W

    limited = await watch.controller("limited with the heater full", limited_with_heater_full, watch.left())
    await watch.sim("sun held back", curtailed, watch.left())
    return heater_w, inverters, limited.limit_w


async def watch_the_kettle(watch: Watch, heater_w: float, inverters: dict[str, float], limited_w: float) -> float:
    """The kettle: the battery discharges and covers it, the heater gives way, the limits rise; after it the
    battery charges again. The battery's power while it covered the kettle."""
    slack = HAND_BACK_SLACK_S
    await watch.sim(
        "kettle on the battery", lambda s: s.load_w >= 2000 and s.battery_w <= -CHARGING_W, watch.left(slack)
    )
    kettle = watch.probe.mark()
    streak = 0

    def covered(state: SimState) -> bool:  # the demo's battery (2400 W) covers all of the kettle
        nonlocal streak
        discharging = state.load_w >= 2000 and state.battery_w <= -CHARGING_W
        streak = streak + 1 if discharging and abs(state.grid_w - TARGET_W) <= COVERED_W else 0
        return streak >= COVERED_FOR

    cover = await watch.sim("kettle covered", covered, watch.left(slack))
    # The heater hands its power back and the limits rise (to their maximum, or by 100 W at least): the
    # battery's discharge is replaced by the sun, as the inverters regulate as if it were import. Later than
    # with the heater alone (there the raise came within seconds): the battery covers the kettle at once, so
    # the raise waits for the inverters' command budget and the sun is behind a cloud around 100 s.
    raised_w = min(limited_w + 100, sum(inverters.values()) - 1)
    await watch.controller(
        "heater handed back, limits risen",
        lambda s: s.consumption_w <= 0.2 * heater_w and s.limit_w >= raised_w,
        watch.left(slack + 20),
        since=kettle,
    )
    await watch.sim(
        "charging again",
        lambda s: s.load_w < 1000 and s.battery_w >= CHARGING_W,
        watch.started + WATCHED_S - time.monotonic(),
        since=kettle,
    )
    return cover.battery_w


@pytest.mark.timeout(WATCHED_S + 90)
async def test_demo_shows_battery_then_heater_taking_the_surplus_then_limits_and_the_kettle_on_the_battery(
    tmp_path,
):
    """Within two minutes the battery charges from the surplus, then, once it is full, the heater takes power,
    then, with the heater full, the inverters are limited; at the tour's kettle the battery discharges instead
    of importing, the heater hands its power back and the limits rise; the battery never discharges into
    export."""
    mqtt_port, api_port = free_port(), free_port()
    output = tmp_path / "stdout.txt"
    demo = start_demo(demo_command(tmp_path, mqtt_port, api_port, WATCHED_S + 10), output)
    started = time.monotonic()
    states: list[tuple[float, SimState]] = []
    try:
        await asyncio.to_thread(wait_for_port, mqtt_port, 30.0)
        async with MqttProbe(mqtt_port) as probe:
            watch = Watch(probe, started)
            try:
                heater_w, inverters, limited_w = await watch_the_morning(watch)
                covered_w = await watch_the_kettle(watch, heater_w, inverters, limited_w)
            finally:
                states = sim_states(probe, started)
                trace = (
                    f"{at:6.1f} s grid {s.grid_w:+6.0f} load {s.load_w:5.0f} output {s.output_w:5.0f}"
                    f" limit {s.limit_w:5.0f} heater {s.heater_w:4.0f} battery {s.battery_w:+6.0f}"
                    f" soc {s.battery_soc_pct}"
                    for at, s in states
                )
                (tmp_path / "trace.txt").write_text("\n".join(trace))
                print(", ".join(f"{event} at {at:.0f} s" for event, at in watch.at.items()))
    finally:
        demo.send_signal(signal.SIGINT)  # as Ctrl-C
        returncode = await asyncio.to_thread(exit_status, demo, 30.0)
    discharged = [(at, s) for at, s in states if s.battery_w <= -CHARGING_W]
    lowest_at, lowest = min(discharged, key=lambda item: item[1].grid_w)
    exported_wh = sum(max(-s.grid_w, 0.0) for _, s in discharged) / 3600  # states 1 s apart
    print(
        f"the battery covered the kettle with {-covered_w:.0f} W; while it discharged the grid was"
        f" {lowest.grid_w:+.0f} W at the lowest ({lowest_at:.0f} s), {exported_wh:.2f} Wh exported"
    )
    assert watch.at["battery charging"] < watch.at["heater on"] <= watch.at["sun held back"]  # the truth, in order
    assert discharges_into_export(states, TARGET_W) == []
    stdout_text = output.read_text()
    assert returncode == 0, stdout_text
    assert stdout_text.rstrip().endswith("stopped")
    assert "Guided tour" in stdout_text
    assert f"web UI http://127.0.0.1:{api_port}/" in stdout_text
    assert f"curl http://127.0.0.1:{api_port}/api/toggle" in stdout_text
    pub = f"mosquitto_pub -h 127.0.0.1 -p {mqtt_port} -t"
    for topic in (TOPICS.set_enabled(), TOPICS.controller_config_set(), TOPICS.sim_set("load_w")):
        assert f"{pub} {topic} -m" in stdout_text
    assert "kill -STOP " in stdout_text
    assert_clean_logs(tmp_path)
