"use strict";
// The language both pages speak, and their texts in it. Loaded before a page's own script, which defines TEXTS
// (its texts per language; a function takes what the text tells) and translate() (its elements in `lang`).

// The one chosen on either page, else the browser's first German or English language, else English.
const browserLanguage = navigator.languages.find((tag) => /^(de|en)\b/i.test(tag))?.slice(0, 2).toLowerCase();
let lang = localStorage.getItem("zeropower-language") ?? browserLanguage ?? "en";
const t = (key, ...args) => {
  const text = TEXTS[lang][key];
  return typeof text === "function" ? text(...args) : text;
};

// Switch to `chosen`, remember it for both pages, and translate the page.
function chooseLanguage(chosen) {
  lang = chosen;
  localStorage.setItem("zeropower-language", lang);
  translate();
}
