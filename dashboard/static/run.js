// One run: the 3-D feasible space, the curves with bands, and budget sliders that decide again
// through /api/sweeps/{id}/decide (the function behind `infscale decide`).
"use strict";

const [, , sweepText, , modelKey, scenarioName] = location.pathname.split("/").map(decodeURIComponent);
const sweepId = Number(sweepText);
const COLORS = { max_accuracy: "#d62728", max_cube: "#2ca02c", utopia: "#9467bd", knee: "#ff7f0e" };
let run = null;            // GET /api/sweeps/{id}/runs/{model}/{scenario}
let request = 0;           // the newest slider request; older answers are dropped

function buildSliders(scenario) {
  const accLow = Math.min(scenario.min_accuracy, Math.floor(20 * Math.min(...run.accuracy.mean)) / 20);
  budgetSliders(document.getElementById("sliders"), scenario, accLow, decideAgain);
}

async function decideAgain() {
  const mine = ++request;
  const values = sliderBudgets(document.getElementById("sliders"));
  const query = new URLSearchParams({ scenario: scenarioName, model: modelKey, ...values });
  const started = performance.now();
  try {
    const doc = await getJSON(`/api/sweeps/${sweepId}/decide?${query}`);
    if (mine !== request) return;
    showError(null);
    render(doc, values);
    document.body.dataset.roundTripMs = (performance.now() - started).toFixed(1);
  } catch (error) {
    if (mine === request) showError(error);
  }
}

function render(doc, values) {
  const choices = doc.results.filter((r) => r.model === modelKey);
  const body = document.querySelector("#decision tbody");
  body.replaceChildren(...METHODS.map((m) => {
    const c = choices.find((r) => r.method === m);
    const r = doc.recommendations.find((x) => x.method === m) || {};
    const tr = el("tr", { id: `choice-${m}` },
      el("td", { class: "left", text: m }), el("td", { class: "k", text: fmt.k(c) }),
      el("td", { text: c.confidence == null ? "-" : c.confidence.toFixed(2) }),
      el("td", { class: "left best-model", text: r.model || r.status || "-" }),
      el("td", { class: "best-k", text: r.status ? fmt.k(r) : "-" }), el("td", { text: fmt.acc(r.accuracy) }));
    tr.dataset.status = c.status;
    return tr;
  }));
  const mine = doc.runs.find((r) => r.model === modelKey);
  drawCube(mine, choices, values);
  drawCurves(choices, values);
  const flags = Object.entries(values).map(([k, v]) => `--${k.replaceAll("_", "-")} ${v}`).join(" ");
  document.getElementById("decide-command").textContent =
    `infscale decide --sweep ${sweepId} --scenario ${scenarioName} --model ${modelKey} ${flags}`;
  for (const [key, value] of Object.entries(values)) document.body.dataset[camel(`decided_${key}`)] = String(value);
}


// What the plots show now, so that a slider move hands plotly only what changed: unchanged
// traces keep their very objects (plotly.react then skips them) and the layouts stay the same
// objects; the curves, below the fold at first, are redrawn when they come into view.
// WebGL at the screen's own pixel ratio: plotly's default (2) draws four times the pixels on a
// plain screen, which software WebGL (no GPU) pays for on every slider move.
const CUBE_CONFIG = { displaylogo: false, plotGlPixelRatio: Math.max(1, window.devicePixelRatio || 1) };
const drawn = { traces: {}, cubeLayout: null, curveShapes: null, curvesVisible: false, pending: null };

function pointsWhere(mask) {
  const c = run.cube.trajectory;
  const pick = (xs) => xs.filter((_, i) => mask[i]);
  return { k: pick(c.k), x: pick(c.total_cost), y: pick(c.total_time), z: pick(c.accuracy) };
}

function scatter(points, name, marker) {
  return {
    type: "scatter3d", mode: "markers", name, x: points.x, y: points.y, z: points.z, customdata: points.k, marker,
    hovertemplate: "k=%{customdata}<br>cost $%{x:.4f}<br>time %{y:.2f} s<br>accuracy %{z:.4f}<extra>%{fullData.name}</extra>",
  };
}

function kept(key, build) {
  // The trace drawn last under this name if `build`'s inputs (its key) are unchanged, else a new one.
  const old = drawn.traces[key.name];
  if (old && old.key === key.value) return old.trace;
  const trace = build();
  drawn.traces[key.name] = { key: key.value, trace };
  return trace;
}

function drawCube(decided, choices, values) {
  const feasible = decided.feasible, frontier = decided.on_frontier;
  const traces = [
    kept({ name: "infeasible", value: feasible.join() }, () =>
      scatter(pointsWhere(feasible.map((f) => !f)), "infeasible", { size: 2.5, color: "#b0b7c3" })),
    kept({ name: "feasible", value: `${feasible.join()}|${frontier.join()}` }, () =>
      scatter(pointsWhere(feasible.map((f, i) => f && !frontier[i])), "feasible", { size: 3.5, color: "#3e63dd" })),
    kept({ name: "frontier", value: frontier.join() }, () =>
      scatter(pointsWhere(frontier), "Pareto frontier", { size: 5, color: "#f5a623" })),
  ];
  for (const method of METHODS) {  // one trace per method, empty when it chose none: a fixed set of traces
    const c = choices.find((x) => x.method === method && x.status === "ok");
    traces.push(kept({ name: method, value: c ? `${c.k}|${c.total_cost}|${c.total_time}|${c.accuracy}` : "" }, () =>
      scatter(c ? { k: [c.k], x: [c.total_cost], y: [c.total_time], z: [c.accuracy] } : { k: [], x: [], y: [], z: [] },
        c ? `${method} k=${c.k}` : method, { size: 8, symbol: "diamond", color: COLORS[method] })));
  }
  traces.push(kept({ name: "budgets", value: `${values.max_total_cost}|${values.max_total_time}|${values.min_accuracy}` },
    () => budgetBox(values.max_total_cost, values.max_total_time, values.min_accuracy)));
  drawn.cubeLayout ||= cubeLayout();
  Plotly.react("cube", traces, drawn.cubeLayout, CUBE_CONFIG);
}

function cubeLayout() {
  const all = run.cube.trajectory;
  const costMax = Number(document.getElementById("max_total_cost").max);
  const timeMax = Number(document.getElementById("max_total_time").max);
  const accLow = Number(document.getElementById("min_accuracy").min);
  return {
    margin: { l: 0, r: 0, t: 0, b: 0 }, uirevision: "keep-camera", legend: { x: 0, y: 1 },
    scene: {
      // Cost and time both grow with k, so the points lie near the plane cost/time = constant:
      // look at that plane face on, not along it.
      camera: { eye: { x: 1.45, y: -1.45, z: 0.75 } }, aspectmode: "cube",
      xaxis: { title: { text: "total cost ($)" }, range: [0, Math.min(costMax, Math.max(...all.total_cost))] },
      yaxis: { title: { text: "total time (s)" }, range: [0, Math.min(timeMax, Math.max(...all.total_time))] },
      zaxis: { title: { text: "accuracy" }, range: [accLow, 1] },
    },
  };
}

function budgetBox(cost, time, acc) {
  // The edges of the box of feasible means: cost <= budget, time <= budget, accuracy >= minimum.
  const corners = [[0, 0], [cost, 0], [cost, time], [0, time], [0, 0]];
  const x = [], y = [], z = [];
  for (const level of [acc, 1]) { for (const [c, t] of corners) { x.push(c); y.push(t); z.push(level); } x.push(null); y.push(null); z.push(null); }
  for (const [c, t] of corners.slice(0, 4)) { x.push(c, c, null); y.push(t, t, null); z.push(acc, 1, null); }
  return { type: "scatter3d", mode: "lines", name: "budgets", x, y, z, line: { color: "#1d2330", width: 2 }, hoverinfo: "skip" };
}

function band(x, low, high, name, color) {
  return [
    { x, y: high, mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
    { x, y: low, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: color, name },
  ];
}

function chosenLines(choices, yref) {
  return choices.filter((c) => c.status === "ok").map((c) => ({
    type: "line", x0: c.k, x1: c.k, yref, y0: 0, y1: 1, line: { color: COLORS[c.method], dash: "dot", width: 1.5 },
  }));
}

function curveShapes(choices, values) {
  return {
    accuracy: [...chosenLines(choices, "paper"),
      { type: "line", xref: "paper", x0: 0, x1: 1, y0: values.min_accuracy, y1: values.min_accuracy, line: { color: "#b42318", width: 1 } }],
    cost_time: [...chosenLines(choices, "paper"),
      { type: "line", xref: "paper", x0: 0, x1: 1, y0: values.max_total_cost, y1: values.max_total_cost, line: { color: "#2ca02c", dash: "dash", width: 1 } },
      { type: "line", xref: "paper", yref: "y2", x0: 0, x1: 1, y0: values.max_total_time, y1: values.max_total_time, line: { color: "#d62728", dash: "dash", width: 1 } }],
  };
}

function drawCurves(choices, values) {
  // Only the marked k and the budget lines move with a slider: a relayout of the shapes, and
  // none while the plots are out of view (they catch up as they scroll in).
  drawn.pending = curveShapes(choices, values);
  if (drawn.curveShapes === null) firstCurves(drawn.pending);
  else if (drawn.curvesVisible) catchUpCurves();
}

function catchUpCurves() {
  const shapes = drawn.pending;
  if (shapes === null || JSON.stringify(shapes) === JSON.stringify(drawn.curveShapes)) return;
  for (const id of ["accuracy", "cost_time"]) Plotly.relayout(id, { shapes: shapes[id] });
  drawn.curveShapes = shapes;
}

function firstCurves(shapes) {
  const a = run.accuracy;
  Plotly.react("accuracy", [
    ...band(a.k, a.p05, a.p95, "p05-p95 of trials", "rgba(62,99,221,0.12)"),
    ...band(a.k, a.ci95_low, a.ci95_high, "95% CI of the mean", "rgba(62,99,221,0.35)"),
    { x: a.k, y: a.mean, mode: "lines+markers", name: "mean accuracy", marker: { size: 3 }, line: { color: "#3e63dd" } },
  ], {
    margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "k" } }, yaxis: { title: { text: "accuracy" } },
    shapes: shapes.accuracy, legend: { orientation: "h", y: -0.25 },
  }, { displaylogo: false });
  const ct = run.cost_time;
  const lower = (t) => ({ ...t, xaxis: "x2", yaxis: "y2" });
  Plotly.react("cost_time", [
    ...band(ct.k, ct.total_cost.p05, ct.total_cost.p95, "cost p05-p95", "rgba(44,160,44,0.2)"),
    { x: ct.k, y: ct.total_cost.mean, mode: "lines", name: "mean cost ($)", line: { color: "#2ca02c" } },
    ...band(ct.k, ct.total_time.p05, ct.total_time.p95, "time p05-p95", "rgba(214,39,40,0.15)").map(lower),
    lower({ x: ct.k, y: ct.total_time.mean, mode: "lines", name: "mean time (s)", line: { color: "#d62728" } }),
  ], {
    // Two panels, cost above and time below: both grow linearly in k, so one axis pair would hide one.
    margin: { l: 55, r: 10, t: 10, b: 40 }, grid: { rows: 2, columns: 1, subplots: [["xy"], ["x2y2"]] },
    xaxis: { matches: "x2", showticklabels: false }, xaxis2: { title: { text: "k" } },
    yaxis: { title: { text: "cost ($)" } }, yaxis2: { title: { text: "time (s)" } },
    shapes: shapes.cost_time, legend: { orientation: "h", y: -0.25 },
  }, { displaylogo: false });
  drawn.curveShapes = shapes;
  new IntersectionObserver((entries) => {
    drawn.curvesVisible = entries.some((e) => e.isIntersecting);
    if (drawn.curvesVisible) catchUpCurves();
  }).observe(document.getElementById("accuracy"));
}

function drawRevisions(revisions) {
  const table = document.getElementById("revisions");
  table.replaceChildren(el("thead", {}, row(["revision", "computed", "c_in $/M tokens", "c_out $/M tokens", ...METHODS], 2)));
  const body = el("tbody");
  for (const r of revisions) {
    body.append(row([String(r.revision), r.computed_at.slice(0, 19).replace("T", " "), (r.prices.c_in * 1e6).toFixed(3),
      (r.prices.c_out * 1e6).toFixed(3), ...METHODS.map((m) => r.k[m] ?? "-")], 2));
  }
  table.append(body);
}

async function load() {
  try {
    run = await getJSON(`/api/sweeps/${sweepId}/runs/${encodeURIComponent(modelKey)}/${encodeURIComponent(scenarioName)}`);
    document.title = `infscale: ${modelKey} / ${scenarioName}`;
    document.getElementById("title").textContent = `${modelKey} under ${scenarioName}`;
    document.getElementById("sweep-link").href = `/sweeps/${sweepId}`;
    document.getElementById("sweep-link").textContent = `sweep ${sweepId}`;
    document.getElementById("summary").textContent = `sweep ${sweepId}, ${run.cube.trials} trials; k <= ${run.scenario.k_max}, P = ${run.scenario.parallelism}`;
    buildSliders(run.scenario);
    drawRevisions(run.revisions);
    await decideAgain();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
  }
}

load();
