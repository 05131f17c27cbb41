"""``make demo``'s program runs the whole system, prints the tour, shows the main feature and stops cleanly."""

import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import MqttProbe, exit_status
from zeropower.shared.messages import ActuatorAnnouncement, ControllerState, SimState
from zeropower.shared.mqtt import IncomingMessage
from zeropower.shared.topics import Topics
from zeropower.sim.broker import free_port, wait_for_port
from zeropower.sim.demo import SERVICES
from zeropower.sim.inverter import EFFICIENCY

pytestmark = pytest.mark.integration

TOPICS = Topics()
FIRST_MINUTES_S = 120.0  # the issue: both must show within the demo's first two minutes
CURTAILED_W = 100.0  # the limit holds back at least this much of what the sun offers
HAND_BACK_SLACK_S = 20.0  # the tour's kettle comes at 90 s: the hand-back may show just after the two minutes


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


@pytest.mark.timeout(FIRST_MINUTES_S + 90)
async def test_demo_shows_the_heater_taking_the_surplus_then_the_inverters_limited(tmp_path):
    """Within two minutes the heater takes power, then, with the heater full, the inverters are limited; at the
    tour's kettle the heater hands its power back first and the limits rise."""
    mqtt_port, api_port = free_port(), free_port()
    output = tmp_path / "stdout.txt"
    demo = start_demo(demo_command(tmp_path, mqtt_port, api_port, FIRST_MINUTES_S + 30), output)
    started = time.monotonic()

    def left() -> float:
        return started + FIRST_MINUTES_S - time.monotonic()

    try:
        await asyncio.to_thread(wait_for_port, mqtt_port, 30.0)
        async with MqttProbe(mqtt_port) as probe:
            await probe.wait_for(
                TOPICS.sim_state(), lambda m: SimState.model_validate_json(m.payload).heater_w > 0, left()
            )
            took = await probe.wait_for(
                TOPICS.controller_state(), lambda m: (s := regulating(m)) is not None and s.consumption_w > 0, left()
            )
            heater_took_at = probe.arrivals[probe.messages.index(took)] - started
            heater_w = sum(announced(probe, "consumer").values())
            inverters = announced(probe, "inverter")
            assert heater_w > 0
            assert inverters

            def limited_with_heater_full(message: IncomingMessage) -> bool:
                state = regulating(message)
                return (
                    state is not None
                    and state.consumption_w >= heater_w - 1
                    and state.limit_w < sum(inverters.values())
                    and any(state.setpoints_w[serial] < max_w for serial, max_w in inverters.items())
                )

            def curtailed(message: IncomingMessage) -> bool:
                sim = SimState.model_validate_json(message.payload)
                offered_w = min(sim.pv_available_w * EFFICIENCY, sum(inverters.values()))
                return sim.heater_w >= 0.95 * heater_w and offered_w - sim.limit_w >= CURTAILED_W

            limited = await probe.wait_for(TOPICS.controller_state(), limited_with_heater_full, left())
            truth = await probe.wait_for(TOPICS.sim_state(), curtailed, left())
            limited_at = probe.arrivals[probe.messages.index(limited)] - started
            curtailed_at = probe.arrivals[probe.messages.index(truth)] - started
            limited_w = regulating(limited).limit_w

            def handed_back(message: IncomingMessage) -> bool:  # the tour's kettle: the heater gives way first
                state = regulating(message)
                return state is not None and state.consumption_w <= 0.2 * heater_w and state.limit_w >= limited_w + 100

            back = await probe.wait_for(TOPICS.controller_state(), handed_back, left() + HAND_BACK_SLACK_S)
            handed_back_at = probe.arrivals[probe.messages.index(back)] - started
    finally:
        demo.send_signal(signal.SIGINT)  # as Ctrl-C
        returncode = await asyncio.to_thread(exit_status, demo, 30.0)
    stdout_text = output.read_text()
    print(
        f"heater took power at {heater_took_at:.0f} s; limits below maximum with the heater full at {limited_at:.0f} s;"
        f" at least {CURTAILED_W:.0f} W of sun held back at {curtailed_at:.0f} s;"
        f" the heater handed its power back and the limits rose at {handed_back_at:.0f} s"
    )
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
