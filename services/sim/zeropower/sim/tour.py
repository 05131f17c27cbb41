"""The guided tour ``make demo`` prints at start: what to watch in the first two minutes and what to try."""

from __future__ import annotations

from dataclasses import dataclass

from zeropower.shared.topics import Topics


@dataclass(frozen=True)
class TourFacts:
    """What the tour names: the demo's ports, its household and the meter's process id."""

    mqtt_port: int
    api_port: int
    meter_pid: int
    heater_w: float
    battery_w: float
    battery_wh: float
    panels_w: float
    inverters_w: float
    start_h: float
    seconds_per_hour: float
    kettle_w: float
    kettle_at_s: float
    stale_after_s: float


def tour(facts: TourFacts, topics: Topics) -> str:
    """The tour as plain text (a dozen lines), every command in it ready to paste."""
    pub = f"mosquitto_pub -h 127.0.0.1 -p {facts.mqtt_port} -t"
    api = f"http://127.0.0.1:{facts.api_port}"
    return "\n".join(
        [
            f"Guided tour: a sunny day from {facts.start_h:02.0f}:00, an hour every {facts.seconds_per_hour:.0f} s;"
            f" {facts.panels_w:.0f} W of panels, {facts.inverters_w:.0f} W of inverters,"
            f" a {facts.heater_w:.0f} W heater, a {facts.battery_w:.0f} W battery of only {facts.battery_wh:.0f} Wh.",
            "Watch the status line (or the web UI) in the first two minutes:",
            _when("from the start") + "the battery charges from the surplus (storage first) until it is full",
            _when("once it is full") + "the heater takes the surplus (use before curtail)",
            _when("within a minute")
            + f"the heater is at its {facts.heater_w:.0f} W: the inverter limit drops below what the sun gives,"
            " no export",
            _when(f"at {facts.kettle_at_s:.0f} s")
            + f"a {facts.kettle_w:.0f} W kettle: the battery discharges instead of importing, the heater hands"
            " its power back, the limits rise; after it the battery charges again",
            "Try:",
            f"  web UI {api}/ (switch, target, live state); toggle: curl {api}/api/toggle",
            f"  {pub} {topics.set_enabled()} -m off   (on: back; off: no limit, heater off)",
            f"  {pub} {topics.controller_config_set()} -m '{{\"target_w\": 200}}'   (or the web UI's form)",
            f"  {pub} {topics.sim_set('load_w')} -m 150   (auto: back to the profile)",
            f"  pull the meter: kill -STOP {facts.meter_pid}: fail-safe after {facts.stale_after_s:.0f} s;"
            f" kill -CONT {facts.meter_pid} brings it back",
        ]
    )


def _when(label: str) -> str:
    return f"  {label:<17}"
