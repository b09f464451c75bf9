"""Drawing the figures of `reports.series` data with matplotlib, headless.

Figures are built on `matplotlib.figure.Figure` with an explicit Agg canvas, never pyplot, so
no display, backend setting or global figure state is involved. Sizes are fixed: an image of
figure `name` saved at `dpi` is exactly `pixel_size(name, dpi)` (no tight bounding box).
Text is sized for a slide (11 pt, titles 12 pt; 150 dpi by default), and methods that choose
the same point are drawn as nested markers, largest first, so no marker hides another.
"""

from __future__ import annotations

import io
import json
import os
import re
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

from infscale.reports.series import method_label

DPI = 150
FIGURE_INCHES = {
    "cube": (11.0, 7.5), "accuracy": (10.0, 6.0), "cost_time": (10.0, 7.5), "models": (14.0, 6.5),
    "accuracy_grid": (14.0, 10.0),
}
TEXT, SMALL, TITLE = 11, 10, 12  # points: axis labels and ticks; legends and notes; titles
STYLE = {"font.size": TEXT, "axes.labelsize": TEXT, "xtick.labelsize": SMALL, "ytick.labelsize": SMALL,
         "legend.fontsize": SMALL, "axes.titlesize": TITLE, "figure.titlesize": TITLE}
MARKER_AREA = 110  # points^2 of a chosen-k marker drawn alone
NESTED_SHRINK = 0.5  # each further method at the same point is drawn with this share of the area
METHOD_STYLE = {  # colour and marker per selection method, the same in every figure
    "max_accuracy": ("#d62728", "^"),
    "max_cube": ("#9467bd", "s"),
    "utopia": ("#2ca02c", "D"),
    "knee": ("#ff7f0e", "P"),
}
NOTE_WIDTH = 90  # characters per line of a note in a figure
MEAN, BAND, FEASIBLE, BUDGET = "#1f4e79", "#6baed6", "#2ca02c", "#b22222"


def pixel_size(name: str, dpi: int = DPI) -> tuple[int, int]:
    """(width, height) in pixels of figure `name` saved at `dpi`."""
    w, h = FIGURE_INCHES[name]
    return round(w * dpi), round(h * dpi)


def file_stem(name: str, data: dict[str, Any]) -> str:
    """`<model>-<scenario>-<name>` (or `<scenario>-<name>` for all models), so that figures of
    other models and scenarios written to the same directory never overwrite each other."""
    parts = [data["model"], data["scenario"], name] if data.get("model") else [data["scenario"], name]
    return "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in parts)


def write(name: str, data: dict[str, Any], out_dir: Path, svg: bool = False, dpi: int = DPI) -> list[Path]:
    """Write `<stem>.png` (and `.svg`) and the sidecar `<stem>.json` (`file_stem`); returns the
    paths written."""
    fig = render(name, data, dpi)
    stem = file_stem(name, data)
    paths = [out_dir / f"{stem}.png"] + ([out_dir / f"{stem}.svg"] if svg else [])
    for path in paths:
        fig.savefig(path, dpi=dpi, format=path.suffix[1:])
    sidecar = out_dir / f"{stem}.json"
    sidecar.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    return paths + [sidecar]


def png_bytes(name: str, data: dict[str, Any], dpi: int = DPI) -> bytes:
    buf = io.BytesIO()
    render(name, data, dpi).savefig(buf, dpi=dpi, format="png")
    return buf.getvalue()


def png_bytes_many(figures: list[tuple[str, dict[str, Any]]], dpi: int = DPI) -> list[bytes]:
    """`png_bytes` of each (name, data), drawn by a pool of processes (one per core, forked:
    matplotlib holds the GIL nearly all the time, so threads would not help)."""
    workers = min(len(figures), os.cpu_count() or 1)
    if workers <= 1:
        return [png_bytes(name, data, dpi) for name, data in figures]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return list(pool.map(png_bytes, *zip(*figures), [dpi] * len(figures)))


def render(name: str, data: dict[str, Any], dpi: int = DPI) -> Figure:
    with rc_context(STYLE):  # text properties are fixed when each artist is made
        fig = Figure(figsize=FIGURE_INCHES[name], dpi=dpi)
        FigureCanvasAgg(fig)
        DRAW[name](fig, data)
    return fig


def draw_cube(fig: Figure, d: dict[str, Any]) -> None:
    """The feasible space: trajectory of means over k, budget planes, frontier, picks, utopia."""
    fig.subplots_adjust(left=0.0, right=0.66, bottom=0.06, top=0.93)
    ax = fig.add_subplot(projection="3d")
    ax.computed_zorder = False  # draw in call order: picks stay on top of the points they mark
    b, box = d["budgets"], d["axes"]
    ax.set(xlim=box["total_cost"], ylim=box["total_time"], zlim=box["accuracy"])
    _budget_planes(ax, b, box)
    ax.plot(*_in_box(d["trajectory"], box), color="0.45", lw=1.4, label="mean over k")
    ax.scatter(*_xyz(d["feasible"]), s=14, color=FEASIBLE, depthshade=False, label="feasible k")
    ax.scatter(*_xyz(d["frontier"]), s=48, facecolors="none", edgecolors="black", lw=0.9,
               depthshade=False, label="Pareto frontier")
    chosen = _ok(d["chosen"])
    for c, size in zip(chosen, nested_sizes([c["k"] for c in chosen])):
        color, marker = METHOD_STYLE[c["method"]]
        ax.scatter(c["total_cost"], c["total_time"], c["accuracy"], s=size * 1.4, color=color, marker=marker,
                   edgecolors="black", lw=0.7, depthshade=False, label=f"{method_label(c['method'])}: k={c['k']}")
    for (x, y, z), text in _labels_by_point(d["chosen"]).items():
        ax.text(x, y, z, "   " + text, fontsize=SMALL, zorder=10)
    u = d["utopia"]
    ax.scatter(u["total_cost"], u["total_time"], u["accuracy"], s=220, marker="*", color="gold",
               edgecolors="black", lw=0.7, depthshade=False, label="utopia (0, 0, 1)")
    ax.set_xlabel("total cost ($)", labelpad=8)
    ax.set_ylabel("total time (s)", labelpad=8)
    ax.set_zlabel("accuracy", labelpad=10)
    ax.view_init(elev=20, azim=-60)
    fig.legend(*ax.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.67, 0.5), frameon=False)
    fig.suptitle(_title(d, "feasible space of the means"))
    fig.text(0.01, 0.01, _note(d["chosen"], NOTE_WIDTH + 20), fontsize=SMALL, color=BUDGET, va="bottom")


def draw_accuracy(fig: Figure, d: dict[str, Any]) -> None:
    """Mean accuracy vs k with its 95% confidence band and the p05-p95 spread of trials."""
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.11, top=0.91)
    ax = fig.add_subplot()
    _accuracy_panel(ax, d)
    ax.set_xlabel("k (inferences per query)")
    ax.set_ylabel("accuracy (best of k)")
    ax.legend(loc="lower right", ncol=2)
    ax.set_title(_title(d, "accuracy vs k"))
    _put_note(ax, d["chosen"])


def draw_accuracy_grid(fig: Figure, d: dict[str, Any]) -> None:
    """One small accuracy-vs-k panel per model (shared axes), for a report's overview."""
    runs = d["models"]
    cols = min(3, len(runs))
    rows = -(-len(runs) // cols)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.93, hspace=0.35, wspace=0.08)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    for ax, run in zip(axes, runs):
        _accuracy_panel(ax, run, k_lines=False)
        # A fixed title position: placing it by the tick labels' extent is the slowest step here.
        ax.set_title(run["model"] if _ok(run["chosen"]) else f"{run['model']}: no feasible k", fontsize=TEXT, y=1.0)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    axes[0].xaxis.set_major_locator(MaxNLocator(5, integer=True))  # shared: few ticks keep it quick to draw
    axes[0].yaxis.set_major_locator(MaxNLocator(4))
    for ax in axes[(rows - 1) * cols:]:
        ax.set_xlabel("k")
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy")
    handles = {}
    for ax in axes[:len(runs)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            # One entry per method whatever its k, one per band whatever its width.
            handles.setdefault(re.sub(r": k=\d+$| \(≤ .*\)$", "", label), handle)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=5, frameon=False)
    fig.suptitle(f"sweep {d['sweep']}, scenario {d['scenario']}: accuracy vs k per model ({d['trials']} trials)")


def draw_cost_time(fig: Figure, d: dict[str, Any]) -> None:
    """Total cost and total time vs k (means, p05-p95 of trials) against their budgets."""
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.08, top=0.93, hspace=0.12)
    axes = fig.subplots(2, 1, sharex=True)
    k = d["k"]
    rows = (("total_cost", "max_total_cost", "total cost ($)", "$"), ("total_time", "max_total_time", "total time (s)", ""))
    for ax, (key, budget, ylabel, unit) in zip(axes, rows):
        band = d[key]
        ax.fill_between(k, _arr(band["p05"]), _arr(band["p95"]), color=BAND, alpha=0.3, lw=0, label="p05-p95 of trials")
        ax.plot(k, _arr(band["mean"]), color=MEAN, lw=1.6, label="mean")
        limit = d["budgets"][budget]
        ax.axhline(limit, color=BUDGET, ls="--", lw=1.2, label=f"budget {unit}{limit:g}")
        _shade_feasible(ax, k, d["feasible_k"])
        _mark_chosen(ax, d["chosen"], key)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left", ncol=2)
    axes[1].set_xlabel("k (inferences per query)")
    fig.suptitle(_title(d, "total cost and total time vs k"))
    _put_note(axes[0], d["chosen"])


def draw_models(fig: Figure, d: dict[str, Any]) -> None:
    """Every model's frontier in cost vs accuracy and time vs accuracy, and the cross-model picks."""
    fig.subplots_adjust(left=0.06, right=0.72, bottom=0.1, top=0.91, wspace=0.08)
    axes = fig.subplots(1, 2, sharey=True)
    b = d["budgets"]
    panels = (("total_cost", "max_total_cost", "total cost ($, log)"), ("total_time", "max_total_time", "total time (s, log)"))
    picks = _ok(d["recommendations"])
    sizes = nested_sizes([(r["model"], r["k"]) for r in picks])
    for ax, (key, budget, xlabel) in zip(axes, panels):
        for m in d["models"]:
            f = m["frontier"]
            label = m["model"] if m["status"] == "ok" else f"{m['model']} (infeasible)"
            ax.plot(_arr(f[key]), _arr(f["accuracy"]), marker="o", ms=4, lw=1.2, label=label)
        for n, (r, size) in enumerate(zip(picks, sizes)):
            color, marker = METHOD_STYLE[r["method"]]
            ax.scatter(r[key], r["accuracy"], s=size * 1.3, color=color, marker=marker, edgecolors="black", lw=0.7,
                       zorder=5 + n, label=f"{method_label(r['method'])}:\n{r['model']} k={r['k']}")
        ax.axvline(b[budget], color=BUDGET, ls="--", lw=1.2, label="budgets")
        ax.axhline(b["min_accuracy"], color=BUDGET, ls="--", lw=1.2)
        _log_axis(ax)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("mean accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.73, 0.5),
               frameon=False, title="frontier per model;\ncross-model picks")
    fig.suptitle(f"sweep {d['sweep']}, scenario {d['scenario']}: Pareto frontier of every model "
                 f"({d['trials']} trials)")
    _put_note(axes[0], d["recommendations"], width=NOTE_WIDTH // 2)


DRAW: dict[str, Callable[[Figure, dict[str, Any]], None]] = {
    "cube": draw_cube, "accuracy": draw_accuracy, "cost_time": draw_cost_time, "models": draw_models,
    "accuracy_grid": draw_accuracy_grid,
}


def nested_sizes(points: list[Any]) -> list[float]:
    """Marker areas for picks drawn in this order: the n-th pick of an already marked point is
    NESTED_SHRINK^n as large, so every method's marker shows around the ones drawn over it."""
    seen: dict[Any, int] = {}
    sizes = []
    for point in points:
        n = seen[point] = seen.get(point, -1) + 1
        sizes.append(MARKER_AREA * NESTED_SHRINK ** n)
    return sizes


def _budget_planes(ax: Axes, b: dict[str, float], box: dict[str, list[float]]) -> None:
    """The planes cost = Cmax, time = Tmax and accuracy = Amin across the axes box."""
    (x_lo, x_hi), (y_lo, y_hi), (z_lo, z_hi) = box["total_cost"], box["total_time"], box["accuracy"]
    u, v = np.meshgrid([0.0, 1.0], [0.0, 1.0])
    style = dict(color=BUDGET, alpha=0.08, lw=0.6, edgecolor=BUDGET, shade=False)
    ax.plot_surface(np.full_like(u, b["max_total_cost"]), y_lo + u * (y_hi - y_lo), z_lo + v * (z_hi - z_lo), **style)
    ax.plot_surface(x_lo + u * (x_hi - x_lo), np.full_like(u, b["max_total_time"]), z_lo + v * (z_hi - z_lo), **style)
    ax.plot_surface(x_lo + u * (x_hi - x_lo), y_lo + v * (y_hi - y_lo), np.full_like(u, b["min_accuracy"]), **style)
    ax.plot([], [], color=BUDGET, alpha=0.3, lw=6, label="budget planes:")
    ax.plot([], [], lw=0, label=f"  ${b['max_total_cost']:g}, {b['max_total_time']:g} s, acc {b['min_accuracy']:g}")


def _log_axis(ax: Axes) -> None:
    """Log x axis ticked at 1, 2, 5 x 10^n with plain numbers (costs span orders of magnitude)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _shade_feasible(ax: Axes, k: list[int], feasible_k: list[int]) -> None:
    """Shade each run of consecutive feasible grid points, half a grid step either side."""
    step = float(np.min(np.diff(k))) if len(k) > 1 else 1.0
    feasible = set(feasible_k)
    runs: list[list[int]] = []
    for j, kj in enumerate(k):
        if kj in feasible:
            if runs and runs[-1][1] == j - 1:
                runs[-1][1] = j
            else:
                runs.append([j, j])
    for n, (a, b) in enumerate(runs):
        ax.axvspan(k[a] - step / 2, k[b] + step / 2, color=FEASIBLE, alpha=0.1, lw=0,
                   label="feasible k" if n == 0 else None)


def _accuracy_panel(ax: Axes, d: dict[str, Any], k_lines: bool = True) -> None:
    """Accuracy vs k of one run: spread, confidence band, mean, budget, feasible k, picks."""
    k = d["k"]
    low, high = _arr(d["ci95_low"]), _arr(d["ci95_high"])
    half = np.nanmax(high - low) / 2 if np.isfinite(high - low).any() else float("nan")
    ax.fill_between(k, _arr(d["p05"]), _arr(d["p95"]), color=BAND, alpha=0.25, lw=0, label="p05-p95 of trials")
    # With many trials the band is thinner than the line: its label gives its half-width.
    ax.fill_between(k, low, high, color=MEAN, alpha=0.45, lw=0, label=f"mean ± 1.96 SE (≤ ±{half:.1g})")
    ax.plot(k, _arr(d["mean"]), color=MEAN, lw=1.6, label="mean accuracy")
    ax.axhline(d["budgets"]["min_accuracy"], color=BUDGET, ls="--", lw=1.2,
               label=f"min accuracy {d['budgets']['min_accuracy']:g}")
    _shade_feasible(ax, k, d["feasible_k"])
    _mark_chosen(ax, d["chosen"], "accuracy", k_lines)


def _mark_chosen(ax: Axes, chosen: list[dict[str, Any]], key: str, k_lines: bool = True) -> None:
    """A marker per chosen k (nested where methods agree), and a dotted line at its k."""
    ok = _ok(chosen)
    for n, (c, size) in enumerate(zip(ok, nested_sizes([c["k"] for c in ok]))):
        color, marker = METHOD_STYLE[c["method"]]
        if k_lines:
            ax.axvline(c["k"], color=color, ls=":", lw=1.1)
        ax.scatter(c["k"], c[key], s=size, color=color, marker=marker, edgecolors="black", lw=0.7, zorder=5 + n,
                   label=f"{method_label(c['method'])}: k={c['k']}")


def _labels_by_point(chosen: list[dict[str, Any]]) -> dict[tuple[float, float, float], str]:
    """One label per chosen point: methods that picked the same k share it."""
    out: dict[tuple[float, float, float], list[str]] = {}
    for c in _ok(chosen):
        out.setdefault((c["total_cost"], c["total_time"], c["accuracy"], c["k"]), []).append(method_label(c["method"]))
    return {key[:3]: f"k={key[3]}: " + ", ".join(names) for key, names in out.items()}


def _note(chosen: list[dict[str, Any]], width: int = NOTE_WIDTH) -> str:
    """Why nothing (or not everything) is marked: no feasible k, or no knee. Empty if all chosen."""
    if any(c["status"] == "infeasible" for c in chosen):
        return textwrap.fill(f"no feasible k: {chosen[0]['reason']}", width)
    return "\n".join(textwrap.fill(f"{method_label(c['method'])}: {c['status'].replace('_', ' ')}: {c['reason']}",
                                    width) for c in chosen if c["status"] != "ok")


def _put_note(ax: Axes, chosen: list[dict[str, Any]], width: int = NOTE_WIDTH) -> None:
    if note := _note(chosen, width):
        ax.text(0.01, 0.98, note, transform=ax.transAxes, va="top", fontsize=SMALL, color=BUDGET, zorder=20,
                bbox=dict(facecolor="white", edgecolor=BUDGET, alpha=0.9, lw=0.5))


def _title(d: dict[str, Any], what: str) -> str:
    return f"{d['model']} under {d['scenario']}: {what} ({d['trials']} trials, sweep {d['sweep']})"


def _ok(chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in chosen if c["status"] == "ok"]


def _xyz(points: dict[str, list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _arr(points["total_cost"]), _arr(points["total_time"]), _arr(points["accuracy"])


def _in_box(points: dict[str, list], box: dict[str, list[float]]) -> tuple[np.ndarray, ...]:
    """Coordinates with points outside the axes box set to NaN (not drawn; a line breaks there)."""
    xyz = _xyz(points)
    inside = np.ones(xyz[0].shape, dtype=bool)
    for values, (lo, hi) in zip(xyz, (box["total_cost"], box["total_time"], box["accuracy"])):
        inside &= (values >= lo) & (values <= hi)
    return tuple(np.where(inside, values, np.nan) for values in xyz)


def _arr(values: list) -> np.ndarray:
    """Sidecar lists back to arrays; null (undefined) becomes NaN, which matplotlib leaves out."""
    return np.asarray(values, dtype=np.float64)
