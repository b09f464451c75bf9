"""One self-contained HTML page of a finished sweep.

Everything is inline: CSS in a <style> element, images as base64 data URIs, no scripts, fonts
or links to anything outside the file, so it opens offline and can be mailed as one file.
Per scenario: the chosen k per model and method (infeasible runs and missing knees with their
reasons), the cross-model recommendation, the models figure (every frontier) and the accuracy
grid (accuracy vs k of every model). Two figures per scenario keep a paper-sized sweep (27
runs) under 1 MB and a few seconds; `infscale plot` draws each run's cube and cost/time figures.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from html import escape
from typing import Any, Sequence

from infscale.engine.errors import InfscaleError
from infscale.reports import plots, series
from infscale.reports.series import method_label
from infscale.reports.text import METHOD_ORDER, status_text

REPORT_DPI = 72
SCENARIO_FIGURES = ((series.MODELS_FIGURE, series.models_figure), (series.ACCURACY_GRID_FIGURE, series.accuracy_grid_figure))

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #1f4e79; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
small { color: #555; }
.bad { background: #fdecea; color: #8a1c1c; }
.warn { background: #fff6e0; color: #7a5200; }
.meta { color: #555; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
details { margin: .4em 0; } summary { cursor: pointer; font-weight: 600; }
"""


def sweep_report(store: Any, sweep_id: int, now: datetime | None = None) -> str:
    """The whole page for stored sweep `sweep_id` (which must be done)."""
    sweep = store.sweep(sweep_id)
    if sweep.status != "done":
        detail = f": {sweep.error}" if sweep.error else ""
        raise InfscaleError(f"sweep {sweep_id} is {sweep.status}, not done{detail}; nothing to report yet")
    spec = store.sweep_spec(sweep_id)
    now = now or datetime.now(timezone.utc)
    title = f"infscale report: sweep {sweep_id} {spec.name!r}"
    parts = [
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">generated {now.strftime("%Y-%m-%d %H:%M:%S %Z")} by infscale</p>',
        _parameters(sweep, spec),
    ]
    figures = [(name, build(store, sweep_id, s.name)) for s in spec.scenarios for name, build in SCENARIO_FIGURES]
    images = iter(plots.png_bytes_many(figures, REPORT_DPI))  # in parallel: drawing is most of the time
    for scenario in spec.scenarios:
        drawn = {name: _image(name, data, next(images)) for name, data in figures if data["scenario"] == scenario.name}
        parts.append(_scenario_section(store, sweep_id, spec, scenario, drawn))
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _parameters(sweep: Any, spec: Any) -> str:
    rows = [
        ("sweep file", sweep.source), ("mode", sweep.mode), ("trials per run", f"{sweep.trials:,}"),
        ("seed", sweep.seed), ("catalog", spec.catalog), ("status", sweep.status),
        ("created", _time(sweep.created_at)), ("finished", _time(sweep.finished_at)),
        ("models", ", ".join(f"{m.key} ({m.name})" for m in spec.models)),
    ]
    head = "<h2>Sweep parameters</h2>\n<table>\n" + "\n".join(
        f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>" for name, value in rows
    ) + "\n</table>"
    scen = [
        "<table>", "<tr><th>scenario</th><th>max total cost</th><th>max total time</th><th>min accuracy</th>"
        "<th>P(all budgets met) at least</th><th>k searched</th><th>parallelism</th></tr>",
    ]
    for s in spec.scenarios:
        prob = "-" if s.min_probability is None else f"{s.min_probability:g}"
        k = f"{s.k_grid.value}: {_k_range(s.grid())}"
        scen.append(
            f'<tr><td><a href="#{_anchor(s.name)}">{escape(s.name)}</a></td><td class="num">${s.max_total_cost:g}</td>'
            f'<td class="num">{s.max_total_time:g} s</td><td class="num">{s.min_accuracy:g}</td>'
            f'<td class="num">{prob}</td><td>{escape(k)}</td><td class="num">{s.parallelism}</td></tr>'
        )
    scen.append("</table>")
    return head + "\n<h3>Scenarios</h3>\n" + "\n".join(scen)


def _scenario_section(store: Any, sweep_id: int, spec: Any, scenario: Any, images: dict[str, str]) -> str:
    name = scenario.name
    choices = store.choices(sweep_id, scenario=name)
    recs = store.recommendations(sweep_id, scenario=name)
    out = [
        f'<h2 id="{_anchor(name)}">Scenario {escape(name)}</h2>',
        f"<p>total cost &le; ${scenario.max_total_cost:g}, total time &le; {scenario.max_total_time:g} s, "
        f"accuracy &ge; {scenario.min_accuracy:g}" + (
            f", P(all met) &ge; {scenario.min_probability:g}" if scenario.min_probability is not None else ""
        ) + f"; k up to {scenario.k_max}, parallelism {scenario.parallelism}</p>",
        "<h3>Chosen k per model</h3>",
        _choices_table(spec, choices),
        "<h3>Across models</h3>",
        _recommendations_table(recs),
        images[series.MODELS_FIGURE],
        "<h3>Accuracy vs k per model</h3>",
        images[series.ACCURACY_GRID_FIGURE],
        f"<p><small>Each run's 3-D feasible space and cost and time vs k: "
        f"<code>infscale plot --sweep {sweep_id} --scenario {escape(name)} --model MODEL --out DIR</code></small></p>",
    ]
    return "\n".join(out)


def _choices_table(spec: Any, choices: Sequence[Any]) -> str:
    head = "<tr><th>model</th>" + "".join(f"<th>{escape(method_label(m))}</th>" for m in METHOD_ORDER) + "</tr>"
    rows = ["<table>", head]
    for m in spec.models:
        mine = {c.method: c for c in choices if c.model == m.key}
        if not mine:
            rows.append(f'<tr><td>{escape(m.key)}</td><td class="bad" colspan="{len(METHOD_ORDER)}">'
                        "no stored result</td></tr>")
        elif all(c.status == "infeasible" for c in mine.values()):
            reason = next(iter(mine.values())).reason
            rows.append(f'<tr><td>{escape(m.key)}</td><td class="bad" colspan="{len(METHOD_ORDER)}">'
                        f"<b>infeasible</b>: {escape(reason)}</td></tr>")
        else:
            rows.append(f"<tr><td>{escape(m.key)}</td>" + "".join(_pick_cell(mine.get(x)) for x in METHOD_ORDER) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _recommendations_table(recs: Sequence[Any]) -> str:
    rows = ["<table>", "<tr><th>method</th><th>model</th><th>k</th><th>total cost</th><th>total time</th>"
            "<th>accuracy</th></tr>"]
    if recs and len({(r.status, r.reason) for r in recs}) == 1 and recs[0].status != "ok":
        # Every method failed for the same reason (no feasible k): say it once.
        rows.append(f'<tr><td>every method</td><td class="{_status_class(recs[0].status)}" colspan="5">'
                    f"<b>{escape(status_text(recs[0].status))}</b>: {escape(recs[0].reason)}</td></tr>")
        recs = []
    for r in recs:
        label = escape(method_label(r.method))
        if r.status == "ok":
            rows.append(
                f'<tr><td>{label}</td><td>{escape(r.model)}</td><td class="num">{r.k}</td>'
                f'<td class="num">${r.total_cost:.4f}</td><td class="num">{r.total_time:.2f} s</td>'
                f'<td class="num">{r.accuracy:.4f}'
                + ("" if r.confidence is None else f"<br><small>confidence {r.confidence:.2f}</small>")
                + "</td></tr>"
            )
        else:
            rows.append(f'<tr><td>{label}</td><td class="{_status_class(r.status)}" colspan="5">'
                        f"<b>{escape(status_text(r.status))}</b>: {escape(r.reason)}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _pick_cell(c: Any) -> str:
    if c is None:
        return '<td class="bad">missing</td>'
    if c.status != "ok":
        return f'<td class="{_status_class(c.status)}"><b>{escape(status_text(c.status))}</b><br><small>{escape(c.reason)}</small></td>'
    confidence = "" if c.confidence is None else f" · confidence {c.confidence:.2f}"
    return (f'<td class="num"><b>k = {c.k}</b><br><small>${c.total_cost:.4f} · {c.total_time:.2f} s · '
            f"{c.accuracy:.4f}{confidence}</small></td>")


def _image(name: str, data: dict[str, Any], png: bytes) -> str:
    payload = base64.b64encode(png).decode("ascii")
    w, h = plots.pixel_size(name, REPORT_DPI)
    alt = f"{name}: {data['model'] or 'all models'} under {data['scenario']}"
    return f'<img width="{w}" height="{h}" alt="{escape(alt)}" src="data:image/png;base64,{payload}">'


def _status_class(status: str) -> str:
    return "warn" if status == "no_knee" else "bad"


def _anchor(name: str) -> str:
    return "scenario-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def _k_range(grid: Any) -> str:
    ks = [str(k) for k in grid]
    return ", ".join(ks) if len(ks) <= 3 else f"{ks[0]}, {ks[1]}, ..., {ks[-1]}"


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S %Z")
