"use strict";
// The zeropower page: live state over server-sent events, the on/off switch and the tuning form, in German or
// English. The controller's reasons and the API's error messages are shown as they come (English).

const HISTORY_MS = 5 * 60 * 1000;
// Every text of the page, per language; a function takes what the text tells.
const TEXTS = {
  en: {
    connecting: "connecting…", live: "live", reconnecting: "reconnecting…", disconnected: "disconnected: reload",
    language: "Language", zeroExport: "Zero export", on: "ON", off: "OFF",
    switchOn: "Switch on", switchOff: "Switch off", switchingOn: "switching on…", switchingOff: "switching off…",
    modes: { regulating: "regulating", paused: "paused", "fail-safe": "fail-safe", "dry-run": "dry-run", idle: "idle" },
    power: "Power", grid: "Grid", output: "Output", limit: "Limit", target: "Target", diverters: "Diverters",
    energyToday: "Energy today", exported: "Exported", imported: "Imported", produced: "Produced", diverted: "Diverted",
    meterImport: "Meter import", meterExport: "Meter export",
    lastMinutes: "Last minutes", chart: "grid power and output", scale: (low, high, minutes) => `${low} … ${high}, last ${minutes} minutes`,
    inverters: "Inverters", device: "Device", setpoint: "Setpoint", duty: "Duty", energy: "Energy", sum: "Sum",
    services: "Services", tuning: "Tuning", targetW: "Target (W)", deadbandW: "Deadband (W)", raiseGain: "Raise gain",
    cutGain: "Cut gain", divertGain: "Divert gain", divert: "Use the diverters for surplus", onSurplus: "On surplus", useBeforeCurtail: "divert, then curtail",
    curtailFirst: "curtail, then divert", staleAfterS: "Stale after (s)", deadTimeS: "Dead time (s)",
    forecastLoad: "Anticipate load changes", forecastQuantile: "Forecast quantile", dryRun: "Dry run", save: "Save",
    nothingChanged: "nothing changed", saving: "saving…", sent: "sent; the controller applies it within a step",
    notSaved: "not saved", notSavedBecause: (why) => `not saved: ${why}`,
    token: "API token", wrongToken: "Wrong token. API token", failed: (status) => `failed (${status})`,
  },
  de: {
    connecting: "verbinde…", live: "live", reconnecting: "verbinde erneut…", disconnected: "getrennt: Seite neu laden",
    language: "Sprache", zeroExport: "Nulleinspeisung", on: "EIN", off: "AUS",
    switchOn: "Einschalten", switchOff: "Ausschalten", switchingOn: "wird eingeschaltet…",
    switchingOff: "wird ausgeschaltet…",
    modes: { regulating: "regelt", paused: "pausiert", "fail-safe": "Sicherheitsmodus", "dry-run": "Probebetrieb",
      idle: "inaktiv" },
    power: "Leistung", grid: "Netz", output: "Erzeugung", limit: "Limit", target: "Netz-Sollwert",
    diverters: "Heizstab", energyToday: "Energie heute", exported: "Einspeisung", imported: "Bezug", produced: "Erzeugt",
    diverted: "Heizstab", meterImport: "Zählerstand Bezug", meterExport: "Zählerstand Einspeisung",
    lastMinutes: "Letzte Minuten", chart: "Netzleistung und Erzeugung",
    scale: (low, high, minutes) => `${low} … ${high}, letzte ${minutes} Minuten`,
    inverters: "Wechselrichter", device: "Gerät", setpoint: "Vorgabe", duty: "Tastgrad", energy: "Energie",
    sum: "Summe", services: "Dienste", tuning: "Regelung", targetW: "Netz-Sollwert (W)", deadbandW: "Totband (W)",
    raiseGain: "Verstärkung Erhöhen", cutGain: "Verstärkung Absenken", divertGain: "Verstärkung Heizstab",
    divert: "Überschuss in den Heizstab",
    onSurplus: "Bei Überschuss", useBeforeCurtail: "erst Heizstab, dann begrenzen",
    curtailFirst: "erst begrenzen, dann Heizstab", staleAfterS: "Messwert veraltet nach (s)",
    deadTimeS: "Totzeit (s)", forecastLoad: "Laständerungen vorhersagen", forecastQuantile: "Prognose-Quantil",
    dryRun: "Probebetrieb (ohne Stellbefehle)", save: "Speichern",
    nothingChanged: "nichts geändert", saving: "wird gespeichert…",
    sent: "gesendet; der Regler übernimmt es im nächsten Schritt",
    notSaved: "nicht gespeichert", notSavedBecause: (why) => `nicht gespeichert: ${why}`,
    token: "API-Token", wrongToken: "Falsches Token. API-Token", failed: (status) => `fehlgeschlagen (${status})`,
  },
};
// The one chosen on the page, else the browser's first German or English language, else English.
const browserLanguage = navigator.languages.find((tag) => /^(de|en)\b/i.test(tag))?.slice(0, 2).toLowerCase();
let lang = localStorage.getItem("zeropower-language") ?? browserLanguage ?? "en";
const t = (key, ...args) => {
  const text = TEXTS[lang][key];
  return typeof text === "function" ? text(...args) : text;
};

const $ = (id) => document.getElementById(id);
// Numbers as the language writes them ("1.234,5" in German); no minus before a value rounded to 0.
const number = (value, digits = 0) => new Intl.NumberFormat(lang, {
  minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: "negative",
}).format(value);
const watts = (value) => (value == null ? "–" : `${number(value)} W`);
const energy = (value) => {
  if (value == null) return "–";
  return Math.abs(value) < 1000 ? `${number(value)} Wh` : `${number(value / 1000, 2)} kWh`;
};
const percent = (value) => (value == null ? "–" : `${number(value * 100)} %`);
const history = [];  // {t: performance.now() (monotonic, ms), grid, output}
let current = null;

// Show the text of `key` in an element, and again in the other language after a switch.
function say(element, key, detail) {
  element.dataset.text = key;
  element.dataset.detail = detail ?? "";
  element.textContent = t(key, detail);
}

// The page in the language chosen: <html lang>, every text from TEXTS, numbers and the switch's state.
function translate() {
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-text]")) {
    element.textContent = t(element.dataset.text, element.dataset.detail);
  }
  for (const element of document.querySelectorAll("[data-label]")) {
    element.setAttribute("aria-label", t(element.dataset.label));
  }
  for (const button of $("languages").children) button.setAttribute("aria-pressed", button.value === lang);
  if (current) {
    show(current);
    drawChart();
  }
}

function chooseLanguage(chosen) {
  lang = chosen;
  localStorage.setItem("zeropower-language", lang);
  translate();
}

// PUT JSON; with a token configured, ask for it on a 401 (again while it is wrong) and keep it in localStorage.
async function put(path, body) {
  for (;;) {
    const token = localStorage.getItem("zeropower-token");
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method: "PUT", headers, body: JSON.stringify(body) });
    if (response.status !== 401) return response;
    localStorage.removeItem("zeropower-token");
    const entered = prompt(t(token ? "wrongToken" : "token"));
    if (!entered) return response;
    localStorage.setItem("zeropower-token", entered);
  }
}

// The error's text from a JSON answer ({"detail": ...}), or the HTTP status.
async function problem(response) {
  const answer = await response.json().catch(() => ({}));
  return typeof answer.detail === "string" ? answer.detail : t("failed", response.status);
}

function render(state) {
  current = state;
  history.push({ t: performance.now(), grid: state.grid_power_w, output: state.output_w });
  while (history[0].t < performance.now() - HISTORY_MS) history.shift();
  show(state);
  drawChart();
}

function show(state) {
  const enabled = $("enabled");
  enabled.textContent = state.enabled == null ? "?" : t(state.enabled);
  enabled.className = state.enabled ?? "";
  const button = $("switch");
  button.disabled = state.enabled == null;
  button.textContent = t(state.enabled === "on" ? "switchOff" : "switchOn");
  $("mode").textContent = state.mode == null ? "–" : t("modes")[state.mode] ?? state.mode;
  $("reason").textContent = state.reason ?? "–";
  $("grid").textContent = state.grid_power_w == null ? state.grid_error ?? "–" : watts(state.grid_power_w);
  $("output").textContent = watts(state.output_w);
  $("limit").textContent = watts(state.limit_w);
  $("target").textContent = watts(state.target_w);
  $("diverter").textContent = watts(state.diverter_power_w);
  const today = state.energy_today;
  $("energy-date").textContent = new Intl.DateTimeFormat(lang, { dateStyle: "medium" })
    .format(new Date(`${today.date}T00:00`));  // local midnight of that day
  $("exported-today").textContent = energy(today.exported_wh);
  $("imported-today").textContent = energy(today.imported_wh);
  $("produced-today").textContent = energy(today.produced_wh);
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
    [device.name, watts(device.power_w), watts(device.limit_w), watts(state.setpoints_w[id])]);
  rows.push([t("sum"), watts(state.output_w), watts(state.limit_w), ""]);
  fillTable("inverters", rows);
}

function renderDiverters(state) {
  const rows = devicesOf(state, "consumer").map(([id, device]) =>
    [device.name, watts(device.power_w), percent(device.duty), watts(state.setpoints_w[id]), energy(device.energy_wh)]);
  $("diverters-card").hidden = rows.length === 0;
  rows.push([t("sum"), watts(state.diverter_power_w), "", watts(state.consumption_w), ""]);
  fillTable("diverters", rows);
}

// Both lines on one scale from the smallest to the largest value (0 always included).
function drawChart() {
  const values = history.flatMap((p) => [p.grid, p.output]).filter((v) => v != null);
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values);
  const y = (v) => 155 - ((v - low) / (high - low)) * 150;
  const x = (time) => 600 - ((performance.now() - time) / HISTORY_MS) * 600;
  const points = (key) => history.filter((p) => p[key] != null).map((p) => `${x(p.t)},${y(p[key])}`).join(" ");
  $("grid-line").setAttribute("points", points("grid"));
  $("output-line").setAttribute("points", points("output"));
  $("zero").setAttribute("y1", y(0));
  $("zero").setAttribute("y2", y(0));
  $("scale").textContent = t("scale", watts(low), watts(high), HISTORY_MS / 60000);
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
  button.textContent = t(wanted === "on" ? "switchingOn" : "switchingOff");  // render() shows the state once the controller confirms
  $("switch-error").textContent = "";
  const response = await put("/api/enabled", { enabled: wanted });
  if (!response.ok) {
    $("switch-error").textContent = await problem(response);
    button.disabled = false;
    button.textContent = t(current.enabled === "on" ? "switchOff" : "switchOn");
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
    say($("tuning-status"), "nothingChanged");
    return;
  }
  say($("tuning-status"), "saving");
  const response = await put("/api/config/controller", body);
  const answer = await response.json();
  if (response.ok) {
    for (const input of changed) input.classList.remove("dirty");
    say($("tuning-status"), "sent");
  } else if (response.status === 422) {
    say($("tuning-status"), "notSaved");
    for (const error of answer.detail) {
      const input = form.elements[error.loc[1]];
      if (input) input.parentElement.querySelector(".error").textContent = error.msg;
    }
  } else {
    say($("tuning-status"), "notSavedBecause", answer.detail);
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (event) => render(JSON.parse(event.data)));
  source.addEventListener("config", (event) => showConfig(JSON.parse(event.data)));
  source.onopen = () => say($("connection"), "live");
  // EventSource retries by itself, except after an answer other than a stream (e.g. 429: too many open pages)
  source.onerror = () => {
    say($("connection"), source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
  };
}

for (const button of $("languages").children) button.addEventListener("click", () => chooseLanguage(button.value));
$("switch").addEventListener("click", switchOver);
$("tuning").addEventListener("submit", saveTuning);
$("tuning").addEventListener("input", (event) => event.target.classList.add("dirty"));
translate();
connect();
