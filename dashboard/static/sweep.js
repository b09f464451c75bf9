// One sweep: per scenario the k each method chose per model (with confidence), the cross-model
// recommendations, and what price recalculations changed.
"use strict";

const sweepId = Number(location.pathname.split("/")[2]);

function budgetsText(s) {
  let text = `cost <= $${s.max_total_cost}, time <= ${s.max_total_time} s, accuracy >= ${s.min_accuracy}`;
  if (s.min_probability != null) text += `, P(all met) >= ${s.min_probability}`;
  return `${text}; k <= ${s.k_max}, P = ${s.parallelism}`;
}

let stored = null;   // GET /api/sweeps/{id}: the decisions as stored
let request = 0;     // the newest what-if request; older answers are dropped

function scenarioSection(doc, scenario, baseline = null) {
  const section = el("div", { class: "panel", id: `scenario-${scenario.name}` });
  section.append(el("h2", { text: `scenario ${scenario.name}` }), el("p", { class: "muted", text: budgetsText(scenario) }));
  const table = el("table", { class: "choices" });
  table.append(el("thead", {}, row(["model", ...METHODS], 1)));
  const body = el("tbody");
  for (const model of doc.models) {
    const cells = METHODS.map((m) => {
      const c = doc.results.find((r) => r.model === model && r.scenario === scenario.name && r.method === m);
      const b = baseline && baseline.results.find((r) => r.model === model && r.scenario === scenario.name && r.method === m);
      const cell = el("span", { text: c ? fmt.k(c) + fmt.conf(c.confidence) : "?" });
      if (b && c && fmt.k(b) !== fmt.k(c)) { cell.className = "moved"; cell.title = `stored: ${fmt.k(b)}`; }
      return cell;
    });
    const link = el("a", { href: `/sweeps/${sweepId}/runs/${encodeURIComponent(model)}/${encodeURIComponent(scenario.name)}`, text: model });
    body.append(row([link, ...cells], 1));
  }
  table.append(body);
  section.append(table, el("h2", { text: "across models" }));
  const recs = el("table", { class: "recommendations" });
  const mine = doc.recommendations.filter((x) => x.scenario === scenario.name);
  const withConfidence = mine.some((r) => r.confidence !== undefined);  // where recommendations carry one
  recs.append(el("thead", {}, row(["method", "model", "k", "cost", "time", "accuracy",
    ...(withConfidence ? ["confidence"] : []), "reason"], 2)));
  const recBody = el("tbody");
  for (const r of mine) {
    const b = baseline && baseline.recommendations.find((x) => x.scenario === r.scenario && x.method === r.method);
    const moved = b && (b.model !== r.model || fmt.k(b) !== fmt.k(r));
    const model = el("span", { text: r.model || "-", class: moved ? "moved" : "" });
    recBody.append(row([r.method, model, fmt.k(r), fmt.money(r.total_cost), fmt.seconds(r.total_time),
      fmt.acc(r.accuracy), ...(withConfidence ? [r.confidence == null ? "-" : r.confidence.toFixed(2)] : []),
      r.status === "ok" ? "" : r.reason], 2));
  }
  recs.append(recBody);
  section.append(recs);
  return section;
}

function changesSection(changes) {
  if (!changes.runs.length && !changes.recommendations.length) return document.createTextNode("none: no recalculation has changed this sweep");
  const box = el("div");
  if (changes.runs.length) {
    const t = el("table");
    t.append(el("thead", {}, row(["model", "scenario", "revision", "computed", "c_in $/M", "c_out $/M", ...METHODS], 2)));
    const b = el("tbody");
    for (const c of changes.runs) {
      const price = (p) => `${(p.c_in * 1e6).toFixed(3)}`;
      b.append(row([c.model, c.scenario, `${c.old_revision} -> ${c.new_revision}`, c.computed_at.slice(0, 19),
        `${price(c.old_prices)} -> ${price(c.new_prices)}`, `${(c.old_prices.c_out * 1e6).toFixed(3)} -> ${(c.new_prices.c_out * 1e6).toFixed(3)}`,
        ...METHODS.map((m) => `${c.old_k[m] ?? "-"} -> ${c.new_k[m] ?? "-"}`)], 2));
    }
    t.append(b);
    box.append(t);
  }
  if (changes.recommendations.length) {
    const t = el("table");
    t.append(el("thead", {}, row(["scenario", "method", "before", "after", "pick moved"], 2)));
    const b = el("tbody");
    for (const c of changes.recommendations) b.append(row([c.scenario, c.method, c.old, c.new, c.changed ? "yes" : "no"], 2));
    t.append(b);
    box.append(el("h2", { text: "recommendations" }), t);
  }
  return box;
}

function buildWhatIf(doc) {
  const select = document.getElementById("whatif-scenario");
  select.replaceChildren(...doc.scenarios.map((s) => el("option", { value: s.name, text: s.name })));
  const reset = () => {
    const scenario = doc.scenarios.find((s) => s.name === select.value);
    budgetSliders(document.getElementById("sliders"), scenario, Math.min(0.5, scenario.min_accuracy), decideAgain);
    document.getElementById("scenarios").replaceChildren(...doc.scenarios.map((s) => scenarioSection(doc, s)));
  };
  select.addEventListener("change", reset);
  reset();
  document.getElementById("whatif").hidden = false;
}

async function decideAgain() {
  const mine = ++request;
  const name = document.getElementById("whatif-scenario").value;
  const values = sliderBudgets(document.getElementById("sliders"));
  try {
    const doc = await getJSON(`/api/sweeps/${sweepId}/decide?${new URLSearchParams({ scenario: name, ...values })}`);
    if (mine !== request) return;
    showError(null);
    const section = document.getElementById(`scenario-${name}`);
    section.replaceWith(scenarioSection({ ...stored, ...doc }, doc.scenarios[0], stored));
    for (const [key, value] of Object.entries(values)) document.body.dataset[camel(`decided_${key}`)] = String(value);
  } catch (error) {
    if (mine === request) showError(error);
  }
}

async function load() {
  try {
    const doc = await getJSON(`/api/sweeps/${sweepId}`);
    const p = doc.progress;
    document.title = `infscale: sweep ${sweepId}`;
    document.getElementById("title").textContent = `Sweep ${sweepId}: ${p.name}`;
    document.getElementById("summary").textContent =
      `${p.status}${p.waiting ? ` (waiting: ${p.waiting})` : ""}, ${p.mode} mode, ${p.trials} trials, seed ${p.seed}; ${p.runs_done}/${p.runs_total} runs, ` +
      (p.status === "done" && p.shards_done === 0 ? "run in-process" : `${p.shards_done}/${p.shards_total} shards`) + (p.error ? `; error: ${p.error}` : "") +
      "; cells: chosen k (confidence); a model opens its run";
    stored = doc;
    document.getElementById("scenarios").replaceChildren(...doc.scenarios.map((s) => scenarioSection(doc, s)));
    document.getElementById("changes").replaceChildren(changesSection(doc.changes));
    if (p.status === "pending" || p.status === "running") setTimeout(load, 2000);
    else if (p.status === "done") buildWhatIf(doc);
  } catch (error) {
    showError(error);
  }
}

load();
