"use strict";
// The setup page: one form per section, built from the API's OpenAPI schema (the services' own settings
// models), filled with what is stored; "read it now" tests it, "save" stores it (retained) for the service, and
// the service's own verdict (running it, or why not) shows as soon as it reports.

// Every text of the page, per language; a function takes what the text tells.
const TEXTS = {
  en: {
    title: "zeropower setup", back: "← Overview", language: "Language", meter: "Grid meter",
    inverters: "Inverters (OpenDTU / AhoyDTU)", heater: "Heater (PWM output)",
    heaterNote: "There is no test that switches the heater on. After saving, the actuator opens the output at duty 0 "
      + "(the previous one is switched off and closed first) and the line above says whether that worked.",
    readMeter: "Read it now", readInverters: "Read it now",
    save: "Save", add: "Add", remove: "Remove", reading: "Reading…", saving: "Saving…",
    saved: "Saved: the service takes it up without a restart.", invalid: "Not saved: see the fields marked.",
    waiting: "Not set up yet: the service waits for this setup.", unknown: "The service has not reported (is it running?).",
    yaml: (running) => `Configured in YAML (the config file wins; change it there): ${running}`,
    running: (running) => `Set up in the browser, running: ${running}`,
    refused: (error) => `The service did not take the stored setup: ${error}`,
    power: (w) => `Grid power now: ${w} W`, noPower: (error) => `No reading: ${error}`,
    heard: (name, w, reachable) => `${name}: ${w} W${reachable === false ? " (not reachable)" : ""}`,
    notHeard: (name, s) => `${name}: nothing arrived from the DTU within ${s} s`,
    token: "API token", wrongToken: "Wrong token. API token", failed: (status) => `failed (${status})`,
  },
  de: {
    title: "zeropower einrichten", back: "← Übersicht", language: "Sprache", meter: "Netzzähler",
    inverters: "Wechselrichter (OpenDTU / AhoyDTU)", heater: "Heizstab (PWM-Ausgang)",
    heaterNote: "Es gibt keinen Test, der den Heizstab einschaltet. Nach dem Speichern öffnet der Aktor den Ausgang "
      + "mit Tastgrad 0 (der bisherige wird zuerst ausgeschaltet und geschlossen); die Zeile darüber sagt, ob das klappte.",
    readMeter: "Jetzt lesen", readInverters: "Jetzt lesen",
    save: "Speichern", add: "Hinzufügen", remove: "Entfernen", reading: "Lese…", saving: "Speichere…",
    saved: "Gespeichert: der Dienst übernimmt es ohne Neustart.", invalid: "Nicht gespeichert: siehe markierte Felder.",
    waiting: "Noch nicht eingerichtet: der Dienst wartet darauf.", unknown: "Der Dienst hat sich nicht gemeldet (läuft er?).",
    yaml: (running) => `In YAML konfiguriert (die Konfigurationsdatei gilt; dort ändern): ${running}`,
    running: (running) => `Im Browser eingerichtet, läuft: ${running}`,
    refused: (error) => `Der Dienst hat die gespeicherte Einrichtung nicht übernommen: ${error}`,
    power: (w) => `Netzleistung jetzt: ${w} W`, noPower: (error) => `Kein Messwert: ${error}`,
    heard: (name, w, reachable) => `${name}: ${w} W${reachable === false ? " (nicht erreichbar)" : ""}`,
    notHeard: (name, s) => `${name}: von der DTU kam in ${s} s nichts`,
    token: "API-Token", wrongToken: "Falsches Token. API-Token", failed: (status) => `fehlgeschlagen (${status})`,
  },
};

const number = (value) => new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value);

// The forms' texts (setup-texts.json): a label per field, German help per English description, names of the
// choices. Whatever is missing shows as the field's name, its English description, the bare value.
let fieldTexts = { labels: {}, items: {}, choices: {}, help: {} };
const fieldLabel = (model, name) => (fieldTexts.labels[`${model}.${name}`] ?? fieldTexts.labels[name])?.[lang] ?? name;
const itemLabel = (name, n) => `${fieldTexts.items[name]?.[lang] ?? name} ${n}`;
const helpText = (description) => (lang === "en" ? description : fieldTexts.help[description] ?? description);
const choiceText = (value) => {
  const name = fieldTexts.choices[value]?.[lang];
  return !name || name === value ? value : `${name} (${value})`;
};

// A caption, help or option that translate() fills in again in the language chosen.
function caption(model, name) {
  const span = Object.assign(document.createElement("span"), { textContent: fieldLabel(model, name) });
  Object.assign(span.dataset, { model, field: name });
  return span;
}
function help(description) {
  const small = Object.assign(document.createElement("small"), { className: "help", textContent: helpText(description) });
  small.dataset.help = description;
  return small;
}
function choice(value) {
  const option = new Option(choiceText(value), value);
  option.dataset.choice = value;
  return option;
}
function legend(model, name, n) {
  const element = document.createElement("legend");
  Object.assign(element.dataset, n === undefined ? { model, field: name } : { item: name, n });
  element.textContent = n === undefined ? fieldLabel(model, name) : itemLabel(name, n);
  return element;
}

let schemas = {};
const refName = (ref) => (typeof ref === "string" ? ref : ref?.$ref)?.split("/").pop();
const resolve = (schema) => (schema.$ref ? schemas[refName(schema)] : schema);
// An optional field is anyOf [X, null]: X, and whether null is allowed.
function unwrap(schema) {
  const options = schema.anyOf?.filter((option) => option.type !== "null");
  if (options?.length === 1) return { schema: { ...resolve(options[0]), description: schema.description }, nullable: true };
  return { schema: resolve(schema), nullable: false };
}

// A form node: its element, and a function giving its value as JSON. `loc` is pydantic's error location.
// `model` is the schema's name the field belongs to (a label may be the model's own: MeterSettings.driver).
function field(model, name, raw, value, loc, errors) {
  const { schema, nullable } = unwrap(raw);
  if (schema.oneOf && schema.discriminator) return union(model, name, schema, value, loc, errors);
  if (schema.type === "object" && schema.properties) {
    const ref = refName(raw) ?? refName(raw.anyOf?.find((option) => option.$ref));
    return object(ref ?? model, schema, value ?? {}, loc, errors, legend(model, name));
  }
  if (schema.type === "array" && resolve(schema.items).properties) return list(model, name, schema, value ?? [], loc, errors);
  const label = document.createElement("label");
  let input;
  if (schema.enum) {
    input = document.createElement("select");
    if (nullable) input.add(new Option("", ""));
    for (const option of schema.enum) input.add(choice(option));
  } else {
    input = document.createElement("input");
    input.type = schema.type === "boolean" ? "checkbox" : schema.type === "number" || schema.type === "integer" ? "number"
      : schema.format === "password" ? "password" : "text";
    if (input.type === "number") input.step = "any";
  }
  input.name = loc.join(".");
  const shown = value === undefined ? schema.default ?? raw.default : value;
  if (input.type === "checkbox") input.checked = Boolean(shown);
  else input.value = Array.isArray(shown) ? shown.join(", ") : shown ?? "";
  label.append(caption(model, name), input);
  if (schema.description ?? raw.description) label.append(help(schema.description ?? raw.description));
  errors.set(input.name, label);
  const get = () => {
    if (input.type === "checkbox") return input.checked;
    const text = input.value.trim();
    if (text === "") return nullable ? null : undefined;
    if (schema.type === "array") return text.split(",").map((item) => Number(item.trim()));
    if (input.type === "number") return Number(text);
    return text;
  };
  return { element: label, get };
}

// The model's fields; in a fieldset under `title` (a legend) when given.
function object(model, schema, value, loc, errors, title) {
  const box = document.createElement(title ? "fieldset" : "div");
  if (title) box.append(title);
  const children = Object.entries(schema.properties).filter(([key, property]) => !(key === "type" && property.const))
    .map(([key, property]) => [key, field(model, key, property, value[key], [...loc, key], errors)]);
  for (const [, child] of children) box.append(child.element);
  errors.set(loc.join("."), box);
  const get = () => Object.fromEntries(children.map(([key, child]) => [key, child.get()]).filter(([, v]) => v !== undefined));
  return { element: box, get };
}

// A union chosen by `type` (pydantic's loc carries the chosen type: driver.shelly_gen2.url).
// Its legend and description, then the type (with the chosen variant's description) and the variant's fields.
function union(model, name, schema, value, loc, errors) {
  const box = document.createElement("fieldset");
  box.append(legend(model, name));
  if (schema.description) box.append(help(schema.description));
  const select = document.createElement("select");
  select.name = [...loc, "type"].join(".");
  const mapping = schema.discriminator.mapping;
  for (const type of Object.keys(mapping)) select.add(choice(type));
  // what is stored, else the driver the settings default to (the first of the union), but a real meter over "sim"
  const first = Object.keys(mapping).find((type) => mapping[type] === schema.oneOf[0].$ref);
  select.value = value?.type ?? (first === "sim" && mapping.shelly_gen2 ? "shelly_gen2" : first);
  const label = document.createElement("label");
  const typeHelp = help("");  // the chosen variant's own description, if it has one
  label.append(caption(model, "type"), select, typeHelp);
  const holder = document.createElement("div");
  box.append(label, holder);
  let current;
  const show = () => {
    const variantName = refName(mapping[select.value]);
    const variant = schemas[variantName];
    typeHelp.dataset.help = variant.properties.type?.description ?? "";
    typeHelp.textContent = helpText(typeHelp.dataset.help);
    typeHelp.hidden = !typeHelp.dataset.help;
    current = object(variantName, variant, value?.type === select.value ? value : {}, [...loc, select.value], errors);
    holder.replaceChildren(...current.element.childNodes);
    // the variant's own errors (a rule across its fields: loc driver.tasmota) under its fields, not in its
    // emptied box
    errors.set([...loc, select.value].join("."), holder);
  };
  select.addEventListener("change", show);
  show();
  return { element: box, get: () => ({ type: select.value, ...current.get() }) };
}

// A button whose text translate() sets in the language chosen.
function textButton(key) {
  const button = Object.assign(document.createElement("button"), { type: "button", textContent: t(key) });
  button.dataset.text = key;
  return button;
}

function list(model, name, schema, value, loc, errors) {
  const box = document.createElement("fieldset");
  box.append(legend(model, name));
  if (schema.description) box.append(help(schema.description));
  const items = [];
  const holder = document.createElement("div");
  const add = (item) => {
    const node = object(refName(schema.items), resolve(schema.items), item, [...loc, items.length], errors,
      legend(model, name, items.length + 1));
    const remove = textButton("remove");
    remove.addEventListener("click", () => { items.splice(items.indexOf(node), 1); node.element.remove(); });
    node.element.append(remove);
    items.push(node);
    holder.append(node.element);
  };
  for (const item of value.length ? value : [{}]) add(item);
  const more = textButton("add");
  more.addEventListener("click", () => add({}));
  box.append(holder, more);
  errors.set(loc.join("."), box);
  return { element: box, get: () => items.map((item) => item.get()) };
}

// Send JSON; with a token configured, ask for it on a 401 (again while it is wrong) and keep it in localStorage.
async function send(method, path, body) {
  for (;;) {
    const token = localStorage.getItem("zeropower-token");
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method, headers, body: JSON.stringify(body) });
    if (response.status !== 401) return response;
    localStorage.removeItem("zeropower-token");
    const entered = prompt(t(token ? "wrongToken" : "token"));
    if (!entered) return response;
    localStorage.setItem("zeropower-token", entered);
  }
}

const cards = {};  // section -> {card, form node, errors}

function showSource(card, info) {
  const source = card.querySelector(".source");
  const status = info.status;
  source.classList.toggle("error", Boolean(status?.error));
  source.textContent = !status ? t("unknown") : status.source === "yaml" ? t("yaml", status.running)
    : status.error ? t("refused", status.error) : status.source === "setup" ? t("running", status.running) : t("waiting");
  for (const control of card.querySelectorAll("form input, form select, form button, .actions button")) {
    control.disabled = !info.editable;
  }
}

function build(info) {
  const card = document.getElementById(info.section);
  const errors = new Map();
  const node = object(card.dataset.schema, schemas[card.dataset.schema], info.config ?? {}, [], errors);
  card.querySelector("form").replaceChildren(node.element);
  cards[info.section] = { card, node, errors, info };
  showSource(card, info);
}

function clearErrors(entry) {
  for (const old of entry.card.querySelectorAll(".field-error")) old.remove();
}

// pydantic's 422: each problem next to its field (its loc without "body"), else under the form.
function showErrors(entry, detail) {
  for (const problem of Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail) }]) {
    const loc = problem.loc.filter((part, i) => i > 0 || part !== "body");
    let target;
    for (let n = loc.length; n >= 0 && !target; n -= 1) target = entry.errors.get(loc.slice(0, n).join("."));
    const message = Object.assign(document.createElement("span"), { className: "field-error", textContent: problem.msg });
    (target ?? entry.card.querySelector("form")).append(message);
  }
}

async function act(section, kind) {
  const entry = cards[section];
  const result = entry.card.querySelector(".result");
  clearErrors(entry);
  result.classList.remove("error");
  result.textContent = t(kind === "read" ? "reading" : "saving");
  const response = await send(kind === "read" ? "POST" : "PUT", `/api/setup/${section}${kind === "read" ? "/read" : ""}`,
    entry.node.get());
  const answer = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    result.classList.add("error");
    result.textContent = response.status === 422 ? t("invalid") : `${t("failed", response.status)}: ${answer.detail}`;
    if (response.status === 422) showErrors(entry, answer.detail);
    return;
  }
  if (kind === "save") {
    result.textContent = t("saved");
    const before = JSON.stringify(entry.info.status);
    entry.info = answer;
    showSource(entry.card, answer);
    followStatus(section, before);
  } else if (section === "meter") {
    result.classList.toggle("error", answer.power_w === null);
    result.textContent = answer.power_w === null ? t("noPower", answer.error) : t("power", number(answer.power_w));
  } else {
    result.classList.toggle("error", answer.inverters.some((inverter) => !inverter.heard));
    result.textContent = answer.inverters.map((inverter) => (inverter.heard
      ? t("heard", inverter.name, inverter.state.power_w === null ? "?" : number(inverter.state.power_w), inverter.state.reachable)
      : t("notHeard", inverter.name, number(answer.waited_s)))).join("\n");
  }
}

// After a save: GET /api/setup until the service's status changed (it runs the setup, or says why not), 10 s at most.
async function followStatus(section, before) {
  for (let tries = 0; tries < 20; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const info = (await (await fetch("/api/setup")).json()).find((item) => item.section === section);
    cards[section].info = info;
    showSource(cards[section].card, info);
    if (JSON.stringify(info.status) !== before) return;
  }
}

// The page's texts in the language chosen; the forms keep what was typed.
function translate() {
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-text]")) element.textContent = t(element.dataset.text);
  for (const element of document.querySelectorAll("[data-label]")) element.setAttribute("aria-label", t(element.dataset.label));
  for (const button of document.getElementById("languages").children) button.setAttribute("aria-pressed", button.value === lang);
  for (const element of document.querySelectorAll("form [data-field]")) {
    element.textContent = fieldLabel(element.dataset.model, element.dataset.field);
  }
  for (const element of document.querySelectorAll("form [data-item]")) {
    element.textContent = itemLabel(element.dataset.item, element.dataset.n);
  }
  for (const element of document.querySelectorAll("form [data-help]")) element.textContent = helpText(element.dataset.help);
  for (const option of document.querySelectorAll("form option[data-choice]")) option.text = choiceText(option.dataset.choice);
  for (const entry of Object.values(cards)) showSource(entry.card, entry.info);
}

async function load() {
  translate();
  const [openapi, texts] = await Promise.all([fetch("/openapi.json"), fetch("/web/setup-texts.json")]);
  schemas = (await openapi.json()).components.schemas;
  if (texts.ok) fieldTexts = await texts.json().catch(() => fieldTexts);  // else: names, English descriptions
  for (const info of await (await fetch("/api/setup")).json()) build(info);
  translate();
}

for (const button of document.getElementById("languages").children) {
  button.addEventListener("click", () => chooseLanguage(button.value));
}
for (const card of document.querySelectorAll("[data-section]")) {
  card.querySelector(".read")?.addEventListener("click", () => act(card.dataset.section, "read"));
  card.querySelector(".save").addEventListener("click", () => act(card.dataset.section, "save"));
}
load();
