"""The Grafana provisioning and the "Zero Export" dashboard: its structure, and every panel's query on real data.

The integration test runs the simulated system (simulator, meter, controller, OpenDTU actuator, a heater on
actuator-pwm and a battery on actuator-battery) and the recorder as real processes into a real InfluxDB 1.x
(Debian's ``influxd``), then runs each panel's InfluxQL with Grafana's macros and the dashboard's variables filled
in, as Grafana would, and requires data from every one of them. The battery panels' queries are also run on points
written by hand, with the energy checked against a hand computation.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers import REPO, start_service, stop_services
from tests.influx import InfluxServer
from tests.integration.conftest import BATTERY_DEVICE, SERVICES, system_config, with_battery, with_heater
from zeropower.recorder.mapping import Mapper
from zeropower.recorder.rules import default_rules
from zeropower.shared.messages import DeviceState
from zeropower.sim.broker import Broker, free_port

GRAFANA = REPO / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "zero-export.json"
DATASOURCE_FILE = GRAFANA / "provisioning" / "datasources" / "influxdb.yaml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "zeropower.yaml"
COMPOSE_FILE = REPO / "docker-compose.yml"

REQUIRED_STATS = {
    "Zero Export Status",
    "Power AC",
    "Temperature",
    "Production Today",
    "Production Total",
    "Peak Power AC",
    "Peak Power DC",
    "Exported / Imported Energy",
    "Battery SoC",
    "Battery Energy",
}
REQUIRED_TIME_SERIES = {
    "Grid Power",
    "AC+DC Power & Limit",
    "Voltage",
    "Current",
    "Panel DC Voltages",
    "Temperature",
    "Power Factor",
    "Reactive Power",
    "Frequency",
    "Efficiency",
    "Control Setpoint",
    "Battery",
}
#: Grafana unit ids the dashboard may use (a typo such as "watts" would silently show plain numbers).
ELECTRICAL_UNITS = {"watt", "watth", "kwatth", "voltampreact", "volt", "amp", "hertz"}
KNOWN_UNITS = {"none", "string", "celsius", "percent", *ELECTRICAL_UNITS}

#: Grafana's macros as the integration test fills them in: the last 10 minutes in 10 s buckets.
MACROS = {"timeFilter": "time > now() - 10m", "__interval": "10s", "interval": "10s", "__interval_ms": "10000"}
#: ``$name``, ``${name}``, ``${name:format}`` and ``[[name]]``: Grafana's variable syntaxes.
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]")
#: Variables Grafana itself provides in links (not defined in the dashboard).
GRAFANA_BUILTINS = {"__url_time_range", "__from", "__to", "__dashboard", "__org", "__user"}

DATABASE = "zeropower"
#: How long the integration test waits for every panel's query to return data.
DATA_TIMEOUT_S = 60.0
#: Grafana's grid is 24 columns wide.
GRID_COLUMNS = 24
#: The battery panels tell a battery's rows from an inverter's or a heater's by this condition (only a storage
#: device reports a state of charge).
BATTERY_FILTER = '"soc_pct" >= 0'
BATTERY_PANELS = {"Battery", "Battery SoC", "Battery Energy"}


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text()))


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (panels inside rows included, rows themselves left out)."""
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            panels += panel.get("panels", [])
        else:
            panels.append(panel)
    return panels


def variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """The dashboard variables' current values."""
    return {variable["name"]: variable["current"]["value"] for variable in dashboard["templating"]["list"]}


def provisioned_datasource() -> dict[str, Any]:
    (datasource,) = yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]
    return dict(datasource)


def render(query: str, values: dict[str, str]) -> str:
    """A panel's InfluxQL as Grafana sends it: macros and dashboard variables replaced."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"unknown variable ${name} in {query!r}")
        return values[name]

    return VARIABLE.sub(replace, query)


def panel_queries() -> list[Any]:
    """One pytest parameter per target of every panel: (panel title, refId, InfluxQL with macros filled in)."""
    dashboard = load_dashboard()
    values = {**variables(dashboard), **MACROS}
    return [
        pytest.param(
            panel["title"],
            target["refId"],
            render(target["query"], values),
            id=f"{panel['id']}-{panel['title']}-{target['refId']}",
        )
        for panel in all_panels(dashboard)
        for target in panel["targets"]
    ]


# --- structure (no processes) ---------------------------------------------------------------------------------


def test_dashboard_has_every_required_panel() -> None:
    panels = all_panels(load_dashboard())
    titles_by_type: dict[str, set[str]] = {}
    for panel in panels:
        titles_by_type.setdefault(panel["type"], set()).add(panel["title"])
    assert titles_by_type["stat"] >= REQUIRED_STATS
    assert titles_by_type["timeseries"] >= REQUIRED_TIME_SERIES
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"


def test_every_target_is_a_raw_influxql_query_on_the_provisioned_datasource() -> None:
    uid = provisioned_datasource()["uid"]
    for panel in all_panels(load_dashboard()):
        assert panel["datasource"] == {"type": "influxdb", "uid": uid}, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), f"{panel['title']}: refIds {ref_ids} are not unique"
        for target in panel["targets"]:
            where = f"{panel['title']} {target['refId']}"
            assert target["datasource"] == {"type": "influxdb", "uid": uid}, where
            assert target["rawQuery"] is True, where
            query = target["query"]
            assert query.startswith("SELECT "), where
            assert "$timeFilter" in query, f"{where}: every query must be bounded by the dashboard's time range"
            assert all(bucket == "$__interval" for bucket in re.findall(r"time\(([^)]*)\)", query)), where


def test_every_panel_has_a_known_unit() -> None:
    for panel in all_panels(load_dashboard()):
        assert panel["fieldConfig"]["defaults"].get("unit") in KNOWN_UNITS, panel["title"]
        for override in panel["fieldConfig"]["overrides"]:
            units = [prop["value"] for prop in override["properties"] if prop["id"] == "unit"]
            assert all(unit in KNOWN_UNITS for unit in units), f"{panel['title']}: override unit {units}"


def test_panels_fit_the_grid_without_overlapping() -> None:
    boxes = [(panel["title"], panel["gridPos"]) for panel in load_dashboard()["panels"]]
    for title, box in boxes:
        assert min(box["x"], box["y"]) >= 0, title
        assert min(box["w"], box["h"]) > 0, title
        assert box["x"] + box["w"] <= GRID_COLUMNS, title
    for index, (title, a) in enumerate(boxes):
        for other, b in boxes[index + 1 :]:
            apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
            assert apart or b["y"] + b["h"] <= a["y"], f"{title} overlaps {other}"


def test_units_of_the_main_panels() -> None:
    units = {panel["title"]: panel["fieldConfig"]["defaults"]["unit"] for panel in all_panels(load_dashboard())}
    assert units["Power AC"] == units["Grid Power"] == units["AC+DC Power & Limit"] == "watt"
    assert units["Production Today"] == units["Exported / Imported Energy"] == "watth"
    assert units["Production Total"] == "kwatth"
    assert units["Voltage"] == units["Panel DC Voltages"] == "volt"
    assert (units["Current"], units["Frequency"], units["Efficiency"]) == ("amp", "hertz", "percent")
    assert units["Temperature"] == "celsius"
    assert (units["Battery"], units["Battery SoC"], units["Battery Energy"]) == ("watt", "percent", "watth")


def test_battery_panels_read_only_batteries_and_show_soc_in_percent() -> None:
    panels = {panel["title"]: panel for panel in all_panels(load_dashboard())}
    for title in BATTERY_PANELS:
        for target in panels[title]["targets"]:
            assert 'FROM "device"' in target["query"], title
            assert f"WHERE {BATTERY_FILTER} AND $timeFilter" in target["query"], title
    (soc_override,) = [
        override
        for override in panels["Battery"]["fieldConfig"]["overrides"]
        if override["matcher"] == {"id": "byFrameRefID", "options": "B"}
    ]
    properties = {prop["id"]: prop["value"] for prop in soc_override["properties"]}
    assert (properties["unit"], properties["custom.axisPlacement"]) == ("percent", "right")
    (soc_target,) = [target for target in panels["Battery"]["targets"] if target["refId"] == "B"]
    assert 'mean("soc_pct")' in soc_target["query"]
    steps = panels["Battery SoC"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(step["color"], step["value"]) for step in steps] == [("red", None), ("yellow", 15), ("green", 30)]


def test_zero_export_status_shows_on_off_and_toggles_through_the_api() -> None:
    dashboard = load_dashboard()
    (status,) = [panel for panel in all_panels(dashboard) if panel["title"] == "Zero Export Status"]
    assert 'last("enabled")' in status["targets"][0]["query"]
    assert 'FROM "controller"' in status["targets"][0]["query"]
    defaults = status["fieldConfig"]["defaults"]
    options = {key: value for mapping in defaults["mappings"] for key, value in mapping["options"].items()}
    assert (options["1"]["text"], options["1"]["color"]) == ("ON", "green")
    assert (options["0"]["text"], options["0"]["color"]) == ("OFF", "red")
    for link in [*defaults["links"], *status["links"]]:
        assert link["url"].startswith("${api_url}/api/toggle?")
        assert "redirect=${dashboard_url:percentencode}" in link["url"]
        assert "token=${api_token:percentencode}" in link["url"]
    values = variables(dashboard)
    assert values["api_url"] == "http://localhost:8000"
    assert values["dashboard_url"].endswith(f"/d/{dashboard['uid']}/zero-export")
    assert values["api_token"] == ""


def test_links_use_only_defined_variables() -> None:
    dashboard = load_dashboard()
    defined = set(variables(dashboard)) | GRAFANA_BUILTINS
    for panel in all_panels(dashboard):
        for link in [*panel.get("links", []), *panel["fieldConfig"]["defaults"].get("links", [])]:
            used = {next(g for g in match.groups() if g) for match in VARIABLE.finditer(link["url"])}
            assert used <= defined, f"{panel['title']}: {used - defined}"


def test_datasource_is_influxql_from_environment_variables() -> None:
    datasource = provisioned_datasource()
    assert datasource["type"] == "influxdb"
    assert datasource["jsonData"]["version"] == "InfluxQL"
    assert datasource["url"] == "${INFLUXDB_URL}"
    assert datasource["jsonData"]["dbName"] == "${INFLUXDB_BUCKET}"
    assert datasource["jsonData"]["httpHeaderName1"] == "Authorization"
    assert datasource["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUXDB_TOKEN}"


def test_provisioning_matches_docker_compose() -> None:
    if not COMPOSE_FILE.exists():
        pytest.skip("no docker-compose.yml")
    grafana = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = yaml.safe_load(PROVIDER_FILE.read_text())["providers"]
    assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    used = set(re.findall(r"\$\{(\w+)\}", json.dumps(provisioned_datasource())))
    assert used == {"INFLUXDB_URL", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"}
    assert used <= set(grafana["environment"]), "Grafana's environment in docker-compose.yml lacks a variable"


def test_render_fills_macros_and_variables() -> None:
    values = {"api_url": "http://pi:8000", **MACROS}
    query = 'SELECT mean("x") FROM "m" WHERE $timeFilter GROUP BY time($__interval) [[api_url]] ${api_url:raw}'
    assert render(query, values) == (
        'SELECT mean("x") FROM "m" WHERE time > now() - 10m GROUP BY time(10s) http://pi:8000 http://pi:8000'
    )
    with pytest.raises(KeyError, match="nope"):
        render("SELECT $nope", values)


# --- the battery panels on points written by hand -------------------------------------------------------------

#: Unix time in s of the first hand-written point.
T0 = 1_700_000_000
#: Battery "a": (s after T0, power_w); it charges, discharges and charges again, with a 0 W reading at each turn.
BATTERY_A = [(0, 600), (600, 600), (900, 0), (1200, -300), (1800, -300), (2100, 0), (2400, 600), (3000, 600)]


def device_state(actuator_id: str, device_id: str, at_s: float, **fields: Any) -> DeviceState:
    """A device's state ``at_s`` s after T0."""
    power_w = fields.get("power_w")
    producing = power_w is not None and power_w < 0
    return DeviceState(
        timestamp=T0 + at_s, actuator_id=actuator_id, device_id=device_id, reachable=True, producing=producing, **fields
    )


def hand_written_states() -> list[DeviceState]:
    """Two batteries (on two actuators), an inverter and a heater, as their actuators publish them."""
    states = [device_state("battery", "a", t, power_w=p, limit_w=p, soc_pct=50 + t / 1000) for t, p in BATTERY_A]
    # stopping: the SoC without a power reading, then unreachable (neither)
    states += [device_state("battery", "a", 3100, soc_pct=55.0)]
    states += [device_state("battery", "a", 3300).model_copy(update={"reachable": False})]
    states += [device_state("garage", "b", t, power_w=1200, limit_w=1200, soc_pct=70.0) for t in (0, 3600)]
    states += [device_state("opendtu", "inv", t, power_w=800, limit_w=800, energy_wh=5e6) for t in (0, 3600)]
    states += [device_state("pwm", "heater", t, power_w=600, duty=0.5, energy_wh=1e3) for t in (0, 3600)]
    return states


@pytest.fixture
def hand_written(tmp_path: Path) -> Iterator[tuple[InfluxServer, dict[str, str]]]:
    """A real InfluxDB holding ``hand_written_states`` as the recorder maps them; and the values to render with."""
    if not InfluxServer.available():
        pytest.skip("influxd not installed (scripts/system-deps installs it)")
    mapper = Mapper(default_rules(), "zeropower", [])
    lines = [
        line
        for state in hand_written_states()
        for line in mapper.lines(f"zeropower/actuator/{state.actuator_id}/device/{state.device_id}/state",
                                 state.model_dump_json().encode(), 0)
    ]  # fmt: skip
    with InfluxServer(tmp_path / "influxdb") as influx:
        influx.create_database(DATABASE)
        httpx.post(f"{influx.url}/write", params={"db": DATABASE}, content="\n".join(lines)).raise_for_status()
        time_filter = f"time >= {T0}s AND time <= {T0 + 3600}s"
        yield influx, {**variables(load_dashboard()), **MACROS, "timeFilter": time_filter}


def battery_queries(title: str) -> list[str]:
    (panel,) = [panel for panel in all_panels(load_dashboard()) if panel["title"] == title]
    return [target["query"] for target in panel["targets"]]


def test_battery_energy_integrates_charge_and_discharge_apart(
    hand_written: tuple[InfluxServer, dict[str, str]],
) -> None:
    """By hand, trapezoids between readings: battery a charges 100 Wh (600 W for 600 s) + 25 Wh (600 -> 0 W in
    300 s) + 25 Wh (0 -> 600 W in 300 s) + 100 Wh = 250 Wh, and discharges 12.5 + 50 (300 W for 600 s) + 12.5 = 75 Wh;
    battery b charges 1200 W for 1 h = 1200 Wh. The inverter's 800 Wh and the heater's 600 Wh are no battery's.
    Integrating ``WHERE power_w > 0`` instead would bridge a's discharge as 600 W: 500 Wh charged."""
    influx, values = hand_written
    (query,) = battery_queries("Battery Energy")
    (row,) = influx.rows(render(query, values), DATABASE)
    assert row["Charged"] == pytest.approx(1200 + 250)
    assert row["Discharged"] == pytest.approx(75)


def test_battery_panels_show_batteries_only(hand_written: tuple[InfluxServer, dict[str, str]]) -> None:
    influx, values = hand_written
    for query in battery_queries("Battery"):
        series = influx.query(render(query, values), DATABASE)
        assert {s["tags"]["device_id"] for s in series} == {"a", "b"}, query
    (query,) = battery_queries("Battery SoC")
    socs = {row["device_id"]: row["SoC"] for row in influx.rows(render(query, values), DATABASE)}
    assert socs == {"a": 55.0, "b": 70.0}


# --- every panel's query on real data -------------------------------------------------------------------------


def missing_values(series: list[dict[str, Any]]) -> list[str]:
    """Why a query result would leave a panel empty: no series, or result columns that are null throughout."""
    if not series:
        return ["no series"]
    empty = []
    for column in {column for s in series for column in s["columns"]} - {"time"}:
        if not any(
            row[s["columns"].index(column)] is not None for s in series if column in s["columns"] for row in s["values"]
        ):
            empty.append(f"column {column!r} has only nulls")
    return empty


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InfluxServer, float]]:
    """The simulated system and the recorder writing into a real InfluxDB; yields it and the time it started."""
    if not InfluxServer.available():
        pytest.skip("influxd not installed (scripts/system-deps installs it)")
    workdir = tmp_path_factory.mktemp("grafana")
    with InfluxServer(workdir / "influxdb") as influx, Broker(workdir=workdir) as broker:
        influx.create_database(DATABASE)
        config: dict[str, Any] = system_config(broker.port, free_port())
        config["sim"]["opendtu"] = {"publish_interval_s": 1}
        with_heater(config, workdir)  # the surplus goes into a heater: the diverter panels have data
        with_battery(config)  # and into a battery (a 2 kWh one at 60 %): the battery panels have data
        # the heater's 600 W first, the rest of the 880 W surplus into the battery: both draw
        config["controller"]["surplus_order"] = "diverters-first"
        config["recorder"] = {
            "influxdb": {"type": "influxdb1", "url": influx.url, "database": DATABASE, "timeout_s": 5},
            "flush_interval_s": 0.2,
            "spool": {"directory": str(workdir / "spool")},
        }
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        env = {"ZEROPOWER_CONFIG": str(config_file)}
        names = (*SERVICES, "actuator_pwm", "actuator_battery", "recorder")
        processes = {name: start_service(name, env, workdir / f"{name}.log") for name in names}
        try:
            yield influx, time.monotonic()
        finally:
            stop_services(processes.values())
            for name, process in processes.items():
                log = (workdir / f"{name}.log").read_text(errors="replace")
                assert process.returncode == 0, f"{name} exited with {process.returncode}:\n{log[-2000:]}"


@pytest.mark.integration
@pytest.mark.parametrize(("title", "ref_id", "query"), panel_queries())
def test_panel_query_returns_data(recorded: tuple[InfluxServer, float], title: str, ref_id: str, query: str) -> None:
    """Each query yields a non-null value in every column (polled until it appears, no fixed wait)."""
    influx, started = recorded
    deadline = started + DATA_TIMEOUT_S
    while True:
        problems = missing_values(influx.query(query, DATABASE))
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not problems, f"{title} ({ref_id}) shows no data: {problems}\n{query}"


@pytest.mark.integration
def test_the_surplus_reaches_both_the_heater_and_the_battery(recorded: tuple[InfluxServer, float]) -> None:
    """The battery does not take the whole surplus (the heater's panels would show only zeros), nor the heater."""
    influx, started = recorded
    values = {**MACROS, "timeFilter": "time > now() - 10s"}
    query = 'SELECT mean("power_w") AS "power_w" FROM "device" WHERE {} AND $timeFilter GROUP BY "device_id"'
    deadline = started + DATA_TIMEOUT_S
    while True:
        heater = influx.rows(render(query.format('"duty" >= 0'), values), DATABASE)
        battery = influx.rows(render(query.format(BATTERY_FILTER), values), DATABASE)
        drawing = {row["device_id"] for row in heater + battery if row["power_w"] > 100}
        if len(drawing) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [row["device_id"] for row in battery] == [BATTERY_DEVICE]
    assert len(drawing) == 2, f"heater {heater}, battery {battery}"
