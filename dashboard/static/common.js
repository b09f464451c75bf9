// Shared by every page: JSON fetching with one-line errors, and number formatting.
"use strict";

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

const fmt = {
  money: (v) => (v == null ? "-" : `$${v.toFixed(4)}`),
  seconds: (v) => (v == null ? "-" : `${v.toFixed(2)} s`),
  acc: (v) => (v == null ? "-" : v.toFixed(4)),
  conf: (v) => (v == null ? "" : ` (${v.toFixed(2)})`),
  k: (c) => (c.status === "ok" ? String(c.k) : c.status === "no_knee" ? "none" : "-"),
  eta: (s) => (s == null ? "-" : s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`),
  rate: (r) => (r == null ? "-" : r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s`),
};

// snake_case -> camelCase, as `dataset` names data-snake-case attributes.
function camel(name) { return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase()); }

const METHODS = ["max_accuracy", "max_cube", "utopia", "knee"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function row(cells, leftColumns = 1) {
  return el("tr", {}, ...cells.map((cell, i) => {
    const td = el("td", i < leftColumns ? { class: "left" } : {});
    td.append(cell instanceof Node ? cell : String(cell));
    return td;
  }));
}

// Budget sliders: cost and time from 5% to 3x the scenario's budget, minimum accuracy from
// `accuracyLow` to 1, and the accuracy tolerance; `onChange` runs on every move.
const SLIDERS = [
  // [budget key, label, lower bound as a share of the stored budget, upper bound share, decimals]
  ["max_total_cost", "max total cost ($)", 0.05, 3, 4],
  ["max_total_time", "max total time (s)", 0.05, 3, 2],
];

function budgetSliders(container, scenario, accuracyLow, onChange) {
  const add = (id, label, min, max, step, value, decimals) => {
    const input = el("input", { type: "range", id, min, max, step, value: String(value) });
    const shown = el("span", { id: `${id}-value`, text: Number(value).toFixed(decimals) });
    input.addEventListener("input", () => { shown.textContent = Number(input.value).toFixed(decimals); onChange(); });
    container.append(el("label", {}, label, input, shown));
  };
  container.replaceChildren();
  for (const [key, label, lo, hi, decimals] of SLIDERS) {
    const budget = scenario[key];
    add(key, label, budget * lo, budget * hi, budget / 200, budget, decimals);
  }
  add("min_accuracy", "min accuracy", accuracyLow, 1, 0.0005, scenario.min_accuracy, 4);
  if (scenario.accuracy_tolerance != null) {
    add("accuracy_tolerance", "accuracy tolerance", 0, 0.02, 0.0001, scenario.accuracy_tolerance, 4);
  }
}

function sliderBudgets(container) {
  const out = {};
  for (const input of container.querySelectorAll("input")) out[input.id] = Number(input.value);
  return out;
}
