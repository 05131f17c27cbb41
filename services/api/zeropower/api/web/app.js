"use strict";
// The zeropower page: live state over server-sent events, the on/off switch and the tuning form.

const HISTORY_MS = 5 * 60 * 1000;
const $ = (id) => document.getElementById(id);
const watts = (value) => (value == null ? "–" : `${Math.round(value)} W`);
const energy = (value) => {
  if (value == null) return "–";
  return Math.abs(value) < 1000 ? `${Math.round(value)} Wh` : `${(value / 1000).toFixed(2)} kWh`;
};
const percent = (value) => (value == null ? "–" : `${Math.round(value * 100)} %`);
const history = [];  // {t: performance.now() (monotonic, ms), grid, output}
let current = null;

// PUT JSON; with a token configured, ask for it on a 401 (again while it is wrong) and keep it in localStorage.
async function put(path, body) {
  for (;;) {
    const token = localStorage.getItem("zeropower-token");
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method: "PUT", headers, body: JSON.stringify(body) });
    if (response.status !== 401) return response;
    localStorage.removeItem("zeropower-token");
    const entered = prompt(token ? "Wrong token. API token" : "API token");
    if (!entered) return response;
    localStorage.setItem("zeropower-token", entered);
  }
}

// The error's text from a JSON answer ({"detail": ...}), or the HTTP status.
async function problem(response) {
  const answer = await response.json().catch(() => ({}));
  return typeof answer.detail === "string" ? answer.detail : `failed (${response.status})`;
}

function render(state) {
  current = state;
  const enabled = $("enabled");
  enabled.textContent = state.enabled == null ? "?" : state.enabled.toUpperCase();
  enabled.className = state.enabled ?? "";
  const button = $("switch");
  button.disabled = state.enabled == null;
  button.textContent = state.enabled === "on" ? "Switch off" : "Switch on";
  $("mode").textContent = state.mode ?? "–";
  $("reason").textContent = state.reason ?? "–";
  $("grid").textContent = state.grid_power_w == null ? state.grid_error ?? "–" : watts(state.grid_power_w);
  $("output").textContent = watts(state.output_w);
  $("limit").textContent = watts(state.limit_w);
  $("target").textContent = watts(state.target_w);
  $("diverter").textContent = watts(state.diverter_power_w);
  const today = state.energy_today;
  $("energy-date").textContent = today.date;
  $("exported-today").textContent = energy(today.exported_wh);
  $("imported-today").textContent = energy(today.imported_wh);
  $("diverted-today").textContent = energy(today.diverted_wh);
  $("imported").textContent = energy(state.grid_energy_import_wh);
  $("exported").textContent = energy(state.grid_energy_export_wh);
  renderInverters(state);
  renderDiverters(state);
  $("services").replaceChildren(...Object.entries(state.availability).map(([service, status]) => {
    const item = document.createElement("li");
    item.textContent = `${service}: ${status}`;
    item.className = status === "online" ? "on" : "off";
    return item;
  }));
  history.push({ t: performance.now(), grid: state.grid_power_w, output: state.output_w });
  while (history[0].t < performance.now() - HISTORY_MS) history.shift();
  drawChart();
}

// [device id, device state] of every device of one kind ("inverter" or "consumer").
function devicesOf(state, kind) {
  return Object.values(state.actuators).flatMap((devices) => Object.entries(devices))
    .filter(([, device]) => device.kind === kind);
}

function fillTable(id, rows) {
  $(id).replaceChildren(...rows.map((cells) => {
    const row = document.createElement("tr");
    for (const text of cells) row.insertCell().textContent = text;
    return row;
  }));
}

function renderInverters(state) {
  const rows = devicesOf(state, "inverter").map(([id, device]) =>
    [id, watts(device.power_w), watts(device.limit_w), watts(state.setpoints_w[id])]);
  rows.push(["Sum", watts(state.output_w), watts(state.limit_w), ""]);
  fillTable("inverters", rows);
}

function renderDiverters(state) {
  const rows = devicesOf(state, "consumer").map(([id, device]) =>
    [id, watts(device.power_w), percent(device.duty), watts(state.setpoints_w[id]), energy(device.energy_wh)]);
  $("diverters-card").hidden = rows.length === 0;
  rows.push(["Sum", watts(state.diverter_power_w), "", watts(state.consumption_w), ""]);
  fillTable("diverters", rows);
}

// Both lines on one scale from the smallest to the largest value (0 always included).
function drawChart() {
  const values = history.flatMap((p) => [p.grid, p.output]).filter((v) => v != null);
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values);
  const y = (v) => 155 - ((v - low) / (high - low)) * 150;
  const x = (t) => 600 - ((performance.now() - t) / HISTORY_MS) * 600;
  const points = (key) => history.filter((p) => p[key] != null).map((p) => `${x(p.t)},${y(p[key])}`).join(" ");
  $("grid-line").setAttribute("points", points("grid"));
  $("output-line").setAttribute("points", points("output"));
  $("zero").setAttribute("y1", y(0));
  $("zero").setAttribute("y2", y(0));
  $("scale").textContent = `${watts(low)} … ${watts(high)}, last ${HISTORY_MS / 60000} minutes`;
}

// The controller's config into the form, except fields being edited (focused, or changed and not saved yet).
function showConfig(config) {
  for (const input of $("tuning").elements) {
    if (!(input.name in config) || input === document.activeElement || input.classList.contains("dirty")) continue;
    if (input.type === "checkbox") input.checked = config[input.name];
    else input.value = config[input.name];
  }
}

async function switchOver() {
  const wanted = current.enabled === "on" ? "off" : "on";
  const button = $("switch");
  button.disabled = true;
  button.textContent = `switching ${wanted}…`;  // render() shows the state once the controller confirms
  $("switch-error").textContent = "";
  const response = await put("/api/enabled", { enabled: wanted });
  if (!response.ok) {
    $("switch-error").textContent = await problem(response);
    button.disabled = false;
    button.textContent = current.enabled === "on" ? "Switch off" : "Switch on";
  }
}

// Send only the fields the user changed: a change made elsewhere (Home Assistant) to another field stays.
async function saveTuning(event) {
  event.preventDefault();
  const form = $("tuning");
  const changed = [...form.elements].filter((input) => input.name && input.classList.contains("dirty"));
  const body = {};
  for (const input of form.elements) {
    if (input.name) input.parentElement.querySelector(".error").textContent = "";
  }
  for (const input of changed) {
    if (input.type === "checkbox") body[input.name] = input.checked;
    else body[input.name] = input.tagName === "SELECT" ? input.value : Number(input.value);
  }
  if (changed.length === 0) {
    $("tuning-status").textContent = "nothing changed";
    return;
  }
  $("tuning-status").textContent = "saving…";
  const response = await put("/api/config/controller", body);
  const answer = await response.json();
  if (response.ok) {
    for (const input of changed) input.classList.remove("dirty");
    $("tuning-status").textContent = "sent; the controller applies it within a step";
  } else if (response.status === 422) {
    $("tuning-status").textContent = "not saved";
    for (const error of answer.detail) {
      const input = form.elements[error.loc[1]];
      if (input) input.parentElement.querySelector(".error").textContent = error.msg;
    }
  } else {
    $("tuning-status").textContent = `not saved: ${answer.detail}`;
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (event) => render(JSON.parse(event.data)));
  source.addEventListener("config", (event) => showConfig(JSON.parse(event.data)));
  source.onopen = () => { $("connection").textContent = "live"; };
  // EventSource retries by itself, except after an answer other than a stream (e.g. 429: too many open pages)
  source.onerror = () => {
    $("connection").textContent = source.readyState === EventSource.CLOSED ? "disconnected: reload" : "reconnecting…";
  };
}

$("switch").addEventListener("click", switchOver);
$("tuning").addEventListener("submit", saveTuning);
$("tuning").addEventListener("input", (event) => event.target.classList.add("dirty"));
connect();
