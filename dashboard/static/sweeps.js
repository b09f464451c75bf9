// The sweeps list: polls /api/sweeps every second while any sweep is still running.
"use strict";

function sweepRow(s) {
  // A sweep run in-process (`infscale run`) stores no shards: it is all or nothing.
  const local = s.status === "done" && s.shards_done === 0;
  const share = local ? 1 : s.trials_total ? s.trials_done / s.trials_total : 0;
  const bar = el("span", { class: "bar" }, el("span", { style: `width: ${(100 * share).toFixed(1)}%` }));
  const name = el("a", { href: `/sweeps/${s.id}`, text: s.name });
  const status = el("span", {}, el("span", { class: `status-${s.status}`, text: s.status }));
  // Waiting on lost shards, as `infscale status` says it: no ETA, but what it waits for.
  if (s.waiting) status.append(" ", el("span", { class: "status-waiting", text: "waiting", title: s.waiting }));
  const eta = s.waiting ? el("span", { class: "waiting", text: `waiting: ${s.waiting}` }) : fmt.eta(s.eta_seconds);
  const tr = row([
    String(s.id), name, status, s.mode, String(s.trials),
    el("span", { class: "shards", text: local ? "in-process" : `${s.shards_done}/${s.shards_total}` }), bar,
    `${s.runs_done}/${s.runs_total}`, fmt.rate(s.trials_per_second), eta,
    s.created_at.replace("T", " ").slice(0, 19), el("span", { class: "error", text: s.error || "" }),
  ], 0);
  tr.id = `sweep-${s.id}`;
  tr.dataset.status = s.status;
  if (s.waiting) tr.dataset.waiting = s.waiting;
  tr.dataset.shardsDone = s.shards_done;
  return tr;
}

async function refresh() {
  try {
    const sweeps = await getJSON("/api/sweeps");
    document.querySelector("#sweeps tbody").replaceChildren(...sweeps.map(sweepRow));
    showError(null);
    const running = sweeps.some((s) => s.status === "pending" || s.status === "running");
    setTimeout(refresh, running ? 1000 : 5000);
  } catch (error) {
    showError(error);
    setTimeout(refresh, 5000);
  }
}

refresh();
