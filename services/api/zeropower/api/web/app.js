"use strict";
// The zeropower page: live state over server-sent events, the on/off switch and the tuning form, in German or
// English. The controller's reasons and the API's error messages are shown as they come (English).

const GRID_STALE_S = 10;  // as the API's history: an older grid reading is a gap in the chart, not a value
const SERIES = ["grid_w", "output_w", "limit_w", "heater_w", "battery_w"];  // the chart's lines, as GET /api/history names them
// Every text of the page, per language; a function takes what the text tells.
const TEXTS = {
  en: {
    connecting: "connecting…", live: "live", reconnecting: "reconnecting…", disconnected: "disconnected: reload",
    language: "Language", setup: "Setup", zeroExport: "Zero export", on: "ON", off: "OFF",
    switchOn: "Switch on", switchOff: "Switch off", switchingOn: "switching on…", switchingOff: "switching off…",
    modes: { regulating: "regulating", paused: "paused", "fail-safe": "fail-safe", "dry-run": "dry-run", idle: "idle" },
    power: "Power", grid: "Grid", output: "Output", limit: "Limit", target: "Target", diverters: "Diverters",
    energyToday: "Energy today", exported: "Exported", imported: "Imported", produced: "Produced", diverted: "Diverted",
    meterImport: "Meter import", meterExport: "Meter export",
    history: "History", heater: "Heater", range: "Range", minutes15: "15 minutes", hour1: "1 hour", hours6: "6 hours",
    hours24: "24 hours", days7: "7 days",
    chart: (low, high, range) => `Chart of grid power, output, limit, heater and battery power over the last ${range}, from ${low} to ${high}`,
    fromInflux: (step) => `from InfluxDB, averaged over ${step} s`,
    notFromInflux: (why) => `from the API's memory only: ${why}`,
    energyFlow: "Energy flow", solar: "Solar", house: "House", exporting: "export", importing: "import",
    producing: "producing", notProducing: "not producing: no sun, or the inverter is off",
    unreachable: "unreachable: the DTU gets no answer from it", actuatorOffline: "its actuator is offline: old values",
    silent: (minutes) => `no data for ${minutes} min`, heating: "heating with surplus",
    battery: "Battery", batteries: "Batteries", batteryPower: "Battery (+ charging)", charging: "charging", discharging: "discharging",
    batteryIdle: "idle: neither charging nor discharging", chargePower: "Power (+ charging)", soc: "State of charge",
    reserve: "Reserve", atReserve: "at its reserve: no discharge", full: "full: no charge",
    socUnknown: "charge unknown: no discharge", batteryUnreachable: "unreachable: its actuator gets no answer from it",
    waiting: "off: no surplus for it", notHeating: "not drawing power: thermostat reached, or no load",
    serviceOnline: "running", serviceOffline: "stopped, or its connection to the broker is lost",
    inverters: "Inverters", device: "Device", setpoint: "Setpoint", duty: "Duty", energy: "Energy", sum: "Sum",
    services: "Services", tuning: "Tuning", targetW: "Target (W)", deadbandW: "Deadband (W)", raiseGain: "Raise gain",
    cutGain: "Cut gain", divertGain: "Divert gain", divert: "Use the diverters for surplus", onSurplus: "On surplus", useBeforeCurtail: "divert, then curtail",
    curtailFirst: "curtail, then divert", batteryOnSurplus: "Batteries on surplus",
    storageFirst: "charge, then divert", divertersFirst: "divert, then charge",
    batteryReserve: "Battery reserve kept (%)", staleAfterS: "Stale after (s)", deadTimeS: "Dead time (s)",
    forecastLoad: "Anticipate load changes", forecastQuantile: "Forecast quantile", dryRun: "Dry run", save: "Save",
    nothingChanged: "nothing changed", saving: "saving…", sent: "sent; the controller applies it within a step",
    notSaved: "not saved", notSavedBecause: (why) => `not saved: ${why}`,
    token: "API token", wrongToken: "Wrong token. API token", failed: (status) => `failed (${status})`,
  },
  de: {
    connecting: "verbinde…", live: "live", reconnecting: "verbinde erneut…", disconnected: "getrennt: Seite neu laden",
    language: "Sprache", setup: "Einrichtung", zeroExport: "Nulleinspeisung", on: "EIN", off: "AUS",
    switchOn: "Einschalten", switchOff: "Ausschalten", switchingOn: "wird eingeschaltet…",
    switchingOff: "wird ausgeschaltet…",
    modes: { regulating: "regelt", paused: "pausiert", "fail-safe": "Sicherheitsmodus", "dry-run": "Probebetrieb",
      idle: "inaktiv" },
    power: "Leistung", grid: "Netz", output: "Erzeugung", limit: "Limit", target: "Netz-Sollwert",
    diverters: "Heizstab", energyToday: "Energie heute", exported: "Einspeisung", imported: "Bezug", produced: "Erzeugt",
    diverted: "Heizstab", meterImport: "Zählerstand Bezug", meterExport: "Zählerstand Einspeisung",
    history: "Verlauf", heater: "Heizstab", range: "Zeitraum", minutes15: "15 Minuten", hour1: "1 Stunde",
    hours6: "6 Stunden", hours24: "24 Stunden", days7: "7 Tage",
    chart: (low, high, range) => `Diagramm von Netzleistung, Erzeugung, Limit, Heizstab- und Batterieleistung der letzten ${range}, von ${low} bis ${high}`,
    fromInflux: (step) => `aus InfluxDB, gemittelt über ${step} s`,
    notFromInflux: (why) => `nur aus dem Speicher der API: ${why}`,
    energyFlow: "Energiefluss", solar: "Solar", house: "Haus", exporting: "Einspeisung", importing: "Bezug",
    producing: "erzeugt", notProducing: "erzeugt nicht: keine Sonne, oder Wechselrichter aus",
    unreachable: "nicht erreichbar: die DTU bekommt keine Antwort", actuatorOffline: "sein Aktor ist offline: alte Werte",
    silent: (minutes) => `seit ${minutes} min keine Daten`, heating: "heizt mit Überschuss",
    battery: "Batterie", batteries: "Batterien", batteryPower: "Batterie (+ Laden)", charging: "lädt", discharging: "entlädt",
    batteryIdle: "ruht: lädt nicht und entlädt nicht", chargePower: "Leistung (+ Laden)", soc: "Ladestand",
    reserve: "Reserve", atReserve: "an der Reserve: keine Entladung", full: "voll: keine Ladung",
    socUnknown: "Ladestand unbekannt: keine Entladung", batteryUnreachable: "nicht erreichbar: sein Aktor bekommt keine Antwort",
    waiting: "aus: kein Überschuss dafür", notHeating: "nimmt keine Leistung auf: Thermostat erreicht oder keine Last",
    serviceOnline: "läuft", serviceOffline: "gestoppt, oder seine Verbindung zum Broker ist weg",
    inverters: "Wechselrichter", device: "Gerät", setpoint: "Vorgabe", duty: "Tastgrad", energy: "Energie",
    sum: "Summe", services: "Dienste", tuning: "Regelung", targetW: "Netz-Sollwert (W)", deadbandW: "Totband (W)",
    raiseGain: "Verstärkung Erhöhen", cutGain: "Verstärkung Absenken", divertGain: "Verstärkung Heizstab",
    divert: "Überschuss in den Heizstab",
    onSurplus: "Bei Überschuss", useBeforeCurtail: "erst Heizstab, dann begrenzen",
    curtailFirst: "erst begrenzen, dann Heizstab", batteryOnSurplus: "Akku bei Überschuss",
    storageFirst: "erst laden, dann Heizstab", divertersFirst: "erst Heizstab, dann laden",
    batteryReserve: "Akku-Reserve halten (%)", staleAfterS: "Messwert veraltet nach (s)",
    deadTimeS: "Totzeit (s)", forecastLoad: "Laständerungen vorhersagen", forecastQuantile: "Prognose-Quantil",
    dryRun: "Probebetrieb (ohne Stellbefehle)", save: "Speichern",
    nothingChanged: "nichts geändert", saving: "wird gespeichert…",
    sent: "gesendet; der Regler übernimmt es im nächsten Schritt",
    notSaved: "nicht gespeichert", notSavedBecause: (why) => `nicht gespeichert: ${why}`,
    token: "API-Token", wrongToken: "Falsches Token. API-Token", failed: (status) => `fehlgeschlagen (${status})`,
  },
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
const soc = (value) => (value == null ? "–" : `${number(value)} %`);  // a state of charge, already in %
let history = { t: [], grid_w: [], output_w: [], limit_w: [], heater_w: [], battery_w: [] };  // as GET /api/history
let historyInfo = null;  // the rest of the last GET /api/history answer
let current = null;

// Show the text of `key` in an element, and again in the other language after a switch.
function say(element, key, detail) {
  element.dataset.text = key;
  element.dataset.detail = detail ?? "";
  element.textContent = t(key, detail);
}

// Show no text in an element (and none again after a language switch).
function unsay(element) {
  delete element.dataset.text;
  element.textContent = "";
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

// A live state: shown, and its figures added to the chart as the API's history would sample them.
function render(state) {
  current = state;
  const controllerOnline = state.availability.controller === "online";
  const sample = {
    t: state.timestamp,
    grid_w: state.grid_age_s != null && state.grid_age_s <= GRID_STALE_S ? state.grid_power_w : null,
    output_w: controllerOnline ? state.output_w : null,
    limit_w: controllerOnline ? state.limit_w : null,
    heater_w: state.diverter_power_w,
    battery_w: state.storage_power_w,
  };
  if (!history.t.length || sample.t > history.t.at(-1)) {
    for (const key of ["t", ...SERIES]) history[key].push(sample[key]);
  }
  const start = state.timestamp - rangeMinutes() * 60;
  while (history.t.length && history.t[0] < start) for (const key of ["t", ...SERIES]) history[key].shift();
  show(state);
  drawChart();
}

const rangeMinutes = () => Number($("range").value);

// The chart's series for the range chosen, from the API (its memory, or InfluxDB for longer ranges).
async function loadHistory() {
  const response = await fetch(`/api/history?minutes=${rangeMinutes()}`);
  if (!response.ok) return;
  const answer = await response.json();
  const newest = answer.t.at(-1) ?? -Infinity;
  const live = history.t.findIndex((time) => time > newest);  // live samples newer than the answer stay
  history = Object.fromEntries(["t", ...SERIES].map((key) =>
    [key, [...answer[key], ...(live < 0 ? [] : history[key].slice(live))]]));
  historyInfo = answer;
  for (const option of $("range").options) option.disabled = Number(option.value) > answer.longest_minutes;
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
  $("battery").textContent = watts(state.storage_power_w);
  $("battery").hidden = $("battery-label").hidden = devicesOf(state, "storage").length === 0;
  showFlow(state);
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
  renderBatteries(state);
  $("services").replaceChildren(...Object.entries(state.availability).map(([service, status]) => {
    const item = document.createElement("li");
    const online = status === "online";
    item.textContent = `${service}: ${status} – ${t(online ? "serviceOnline" : "serviceOffline")}`;
    item.className = online ? "on" : "off";
    return item;
  }));
}

// The energy flow: the sun's output into the house, the grid's import or export, the heater's draw, the battery's
// charge or discharge; the house's own use is what is left (output + grid - heater - battery, the battery's power
// positive while charging). Each node says its power and direction in words.
function showFlow(state) {
  const grid = state.grid_power_w;
  const heater = state.diverter_power_w;
  const output = state.output_w;
  const battery = state.storage_power_w;
  // figures of slightly different moments may not add up: a house never feeds power in
  const house = grid == null || output == null ? null : Math.max(0, output + grid - (heater ?? 0) - (battery ?? 0));
  const node = (id, value) => { $(id).querySelector(".value").textContent = watts(value == null ? null : Math.abs(value)); };
  node("flow-sun", output);
  node("flow-grid", grid);
  node("flow-house", house);
  node("flow-heater", heater);
  $("flow-heater").hidden = $("arrow-heater").hidden = heater == null;
  const direction = grid == null || Math.round(grid) === 0 ? "" : grid > 0 ? "importing" : "exporting";
  const words = $("flow-grid").querySelector(".direction");
  if (direction) say(words, direction);
  else unsay(words);
  // arrows: shown while power flows, pointing the way it flows
  $("arrow-sun").className = `arrow down${output >= 1 ? " flowing" : ""}`;
  $("arrow-grid").className = `arrow${direction ? ` flowing ${direction === "importing" ? "right" : "left"}` : ""}`;
  $("arrow-heater").className = `arrow${heater >= 1 ? " flowing right" : ""}`;
  showBatteryFlow(state, battery, node);
}

// The battery's node below the house, only when a storage device exists: charging (power flows down from the
// house into it) or discharging (up into the house), in words and by the arrow, and the charge it holds.
function showBatteryFlow(state, battery, node) {
  const shown = devicesOf(state, "storage").length > 0;
  $("flow-battery").hidden = $("arrow-battery").hidden = !shown;
  if (!shown) return;
  node("flow-battery", battery);
  const direction = battery == null || Math.round(battery) === 0 ? "" : battery > 0 ? "charging" : "discharging";
  const words = $("flow-battery").querySelector(".direction");
  if (direction) say(words, direction);
  else unsay(words);
  $("flow-battery").querySelector(".soc").textContent = state.storage_soc_pct == null ? "" : soc(state.storage_soc_pct);
  $("arrow-battery").className = `arrow${direction ? ` flowing ${direction === "charging" ? "down" : "up"}` : ""}`;
}

// A device's state in plain words: its actuator's availability, its own reachability and data, what it does.
function health(state, actuatorId, id, device) {
  if (state.availability[`actuator/${actuatorId}`] === "offline") return t("actuatorOffline");
  if (!device.reachable) return t(device.kind === "storage" ? "batteryUnreachable" : "unreachable");
  const silentS = device.updated_at == null ? 0 : state.timestamp - device.updated_at;
  if (silentS > 60) return t("silent", Math.floor(silentS / 60));
  if (device.kind === "inverter") return t(device.producing ? "producing" : "notProducing");
  if (device.kind === "storage") return batteryHealth(device);
  if (device.power_w > 0) return t("heating");
  return t(state.setpoints_w[id] > 0 ? "notHeating" : "waiting");
}

// A battery's state in words: charging, discharging or idle, and why it may not do more (its actuator's rules:
// no discharge at its reserve or with an unknown charge, no charge when full).
function batteryHealth(device) {
  const power = Math.round(device.power_w ?? 0);
  const doing = t(power > 0 ? "charging" : power < 0 ? "discharging" : "batteryIdle");
  const { min_soc_pct: reserve, max_soc_pct: top } = device.storage;
  const limit = device.soc_pct == null ? "socUnknown" : device.soc_pct <= reserve ? "atReserve"
    : device.soc_pct >= top ? "full" : null;
  return limit == null || power !== 0 ? doing : t(limit);
}

// A table cell with the device's name and, below it, its state in words.
function deviceCell(state, actuatorId, id, device) {
  const cell = document.createElement("td");
  const name = document.createElement("span");
  name.textContent = device.name;
  const words = document.createElement("small");
  words.className = "health";
  words.textContent = health(state, actuatorId, id, device);
  cell.append(name, words);
  return cell;
}

// [actuator id, device id, device state] of every device of one kind ("inverter", "consumer" or "storage").
function devicesOf(state, kind) {
  return Object.entries(state.actuators).flatMap(([actuatorId, devices]) =>
    Object.entries(devices).map(([id, device]) => [actuatorId, id, device]))
    .filter(([, , device]) => device.kind === kind);
}

// Rows of cells: a cell is a text, or an element (a device's name and state).
function fillTable(id, rows) {
  $(id).replaceChildren(...rows.map((cells) => {
    const row = document.createElement("tr");
    for (const cell of cells) {
      if (typeof cell === "string") row.insertCell().textContent = cell;
      else row.append(cell);
    }
    return row;
  }));
}

function renderInverters(state) {
  const rows = devicesOf(state, "inverter").map(([actuatorId, id, device]) =>
    [deviceCell(state, actuatorId, id, device), watts(device.power_w), watts(device.limit_w), watts(state.setpoints_w[id])]);
  rows.push([t("sum"), watts(state.output_w), watts(state.limit_w), ""]);
  fillTable("inverters", rows);
}

function renderDiverters(state) {
  const rows = devicesOf(state, "consumer").map(([actuatorId, id, device]) =>
    [deviceCell(state, actuatorId, id, device), watts(device.power_w), percent(device.duty), watts(state.setpoints_w[id]),
      energy(device.energy_wh)]);
  $("diverters-card").hidden = rows.length === 0;
  rows.push([t("sum"), watts(state.diverter_power_w), "", watts(state.consumption_w), ""]);
  fillTable("diverters", rows);
}

// The batteries: power at their terminals (positive = charging), charge, reserve and the setpoint each holds.
function renderBatteries(state) {
  const rows = devicesOf(state, "storage").map(([actuatorId, id, device]) =>
    [deviceCell(state, actuatorId, id, device), watts(device.power_w), soc(device.soc_pct),
      soc(device.storage.min_soc_pct), watts(device.limit_w)]);
  $("batteries-card").hidden = rows.length === 0;
  rows.push([t("sum"), watts(state.storage_power_w), soc(state.storage_soc_pct), "", ""]);
  fillTable("batteries", rows);
}

// A round step for about `count` ticks over `span` (1, 2 or 5 times a power of ten).
function niceStep(span, count) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((factor) => factor * power).find((step) => step >= raw);
}

const MINUTE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];  // clock ticks, in minutes

const SVG = "http://www.w3.org/2000/svg";
function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text != null) element.textContent = text;
  return element;
}

// The chart in the svg's own pixels: a power axis (W, 0 always included) with grid lines, a time axis with clock
// labels, a line per series broken where a value is unknown or samples are far apart.
function drawChart() {
  const chart = $("chart");
  const width = chart.clientWidth || 600;
  const height = chart.clientHeight || 220;
  const left = 64, right = 8, top = 8, bottom = 22;
  const now = current?.timestamp ?? historyInfo?.now ?? Date.now() / 1000;
  const span = rangeMinutes() * 60;
  const values = SERIES.flatMap((key) => history[key]).filter((v) => v != null);
  const step = niceStep(Math.max(100, ...values) - Math.min(0, ...values), 4);
  const low = Math.floor(Math.min(0, ...values) / step) * step;
  const high = Math.ceil(Math.max(100, ...values) / step) * step;
  const x = (time) => left + ((time - (now - span)) / span) * (width - left - right);
  const y = (value) => top + ((high - value) / (high - low)) * (height - top - bottom);
  const parts = [];
  for (let value = low; value <= high + step / 2; value += step) {
    parts.push(svgElement("line", { class: value === 0 ? "zero" : "rule", x1: left, x2: width - right, y1: y(value), y2: y(value) }));
    parts.push(svgElement("text", { class: "axis", x: left - 6, y: y(value) + 4, "text-anchor": "end" }, watts(value)));
  }
  const minutes = MINUTE_STEPS.find((m) => m * 60 >= span / Math.max(2, Math.floor((width - left) / 90))) ?? 1440;
  const clock = new Intl.DateTimeFormat(lang, span > 86400 ? { weekday: "short", hour: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
  const offset = new Date().getTimezoneOffset() * 60;  // ticks on round local times
  for (let tick = Math.ceil((now - span - offset) / (minutes * 60)) * minutes * 60 + offset; tick <= now; tick += minutes * 60) {
    parts.push(svgElement("line", { class: "rule", x1: x(tick), x2: x(tick), y1: top, y2: height - bottom }));
    const labelX = Math.min(Math.max(x(tick), left + 18), width - right - 18);  // a label near an end stays whole
    parts.push(svgElement("text", { class: "axis", x: labelX, y: height - 6, "text-anchor": "middle" }, clock.format(new Date(tick * 1000))));
  }
  const gapS = Math.max(10, 5 * (historyInfo?.step_s ?? 1));
  for (const key of SERIES) {
    let path = "";
    history.t.forEach((time, i) => {
      const value = history[key][i];
      if (value == null || time < now - span) return;
      const joined = i > 0 && history[key][i - 1] != null && time - history.t[i - 1] <= gapS && path;
      path += `${joined ? "L" : "M"}${x(time).toFixed(1)},${y(value).toFixed(1)}`;
    });
    parts.push(svgElement("path", { class: `series ${key.replace("_w", "")}`, d: path }));
  }
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.replaceChildren(...parts);
  const range = $("range").selectedOptions[0].textContent;
  chart.setAttribute("aria-label", t("chart", watts(low), watts(high), range));
  // the battery's line and its legend only where there is a battery, or was one within the range
  $("legend-battery").hidden = !(current && devicesOf(current, "storage").length) && !history.battery_w.some((v) => v != null);
  const note = $("history-note");
  if (historyInfo?.source === "influxdb") say(note, "fromInflux", historyInfo.step_s);
  else if (historyInfo?.problem) say(note, "notFromInflux", historyInfo.problem);
  else unsay(note);
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
$("range").addEventListener("change", loadHistory);
new ResizeObserver(() => drawChart()).observe($("chart"));
$("tuning").addEventListener("input", (event) => event.target.classList.add("dirty"));
translate();
connect();
loadHistory();
