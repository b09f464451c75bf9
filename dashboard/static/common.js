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
