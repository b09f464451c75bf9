"""Drawing the figures of `reports.series` data with matplotlib, headless.

Figures are built on `matplotlib.figure.Figure` with an explicit Agg canvas, never pyplot, so
no display, backend setting or global figure state is involved. Sizes are fixed: an image of
figure `name` saved at `dpi` is exactly `pixel_size(name, dpi)` (no tight bounding box).
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from infscale.reports.series import method_label

DPI = 90
FIGURE_INCHES = {"cube": (8.0, 6.5), "accuracy": (8.0, 4.8), "cost_time": (8.0, 6.0), "models": (12.0, 5.0)}
METHOD_STYLE = {  # colour and marker per selection method, the same in every figure
    "max_accuracy": ("#d62728", "^"),
    "max_cube": ("#9467bd", "s"),
    "utopia": ("#2ca02c", "D"),
    "knee": ("#ff7f0e", "P"),
}
NOTE_WIDTH = 110  # characters per line of a note in a figure
MEAN, BAND, FEASIBLE, BUDGET = "#1f4e79", "#6baed6", "#2ca02c", "#b22222"


def pixel_size(name: str, dpi: int = DPI) -> tuple[int, int]:
    """(width, height) in pixels of figure `name` saved at `dpi`."""
    w, h = FIGURE_INCHES[name]
    return round(w * dpi), round(h * dpi)


def write(name: str, data: dict[str, Any], out_dir: Path, svg: bool = False, dpi: int = DPI) -> list[Path]:
    """Write `<name>.png` (and `.svg`) and the sidecar `<name>.json`; returns the paths written."""
    fig = render(name, data, dpi)
    paths = [out_dir / f"{name}.png"] + ([out_dir / f"{name}.svg"] if svg else [])
    for path in paths:
        fig.savefig(path, dpi=dpi, format=path.suffix[1:])
    sidecar = out_dir / f"{name}.json"
    sidecar.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    return paths + [sidecar]


def png_bytes(name: str, data: dict[str, Any], dpi: int = DPI) -> bytes:
    buf = io.BytesIO()
    render(name, data, dpi).savefig(buf, dpi=dpi, format="png")
    return buf.getvalue()


def render(name: str, data: dict[str, Any], dpi: int = DPI) -> Figure:
    fig = Figure(figsize=FIGURE_INCHES[name], dpi=dpi)
    FigureCanvasAgg(fig)
    DRAW[name](fig, data)
    return fig


def draw_cube(fig: Figure, d: dict[str, Any]) -> None:
    """The feasible space: trajectory of means over k, budget planes, frontier, picks, utopia."""
    fig.subplots_adjust(left=0.0, right=0.7, bottom=0.03, top=0.95)
    ax = fig.add_subplot(projection="3d")
    ax.computed_zorder = False  # draw in call order: picks stay on top of the points they mark
    b, box = d["budgets"], d["axes"]
    ax.set(xlim=box["total_cost"], ylim=box["total_time"], zlim=box["accuracy"])
    _budget_planes(ax, b, box)
    ax.plot(*_in_box(d["trajectory"], box), color="0.45", lw=1.2, label="mean over k")
    ax.scatter(*_xyz(d["feasible"]), s=10, color=FEASIBLE, depthshade=False, label="feasible k")
    ax.scatter(*_xyz(d["frontier"]), s=36, facecolors="none", edgecolors="black", lw=0.8,
               depthshade=False, label="Pareto frontier")
    for c in _ok(d["chosen"]):
        color, marker = METHOD_STYLE[c["method"]]
        ax.scatter(c["total_cost"], c["total_time"], c["accuracy"], s=90, color=color, marker=marker,
                   edgecolors="black", lw=0.6, depthshade=False, label=f"{method_label(c['method'])}: k={c['k']}")
    for (x, y, z), text in _labels_by_point(d["chosen"]).items():
        ax.text(x, y, z, "  " + text, fontsize=7, zorder=10)
    u = d["utopia"]
    ax.scatter(u["total_cost"], u["total_time"], u["accuracy"], s=180, marker="*", color="gold",
               edgecolors="black", lw=0.6, depthshade=False, label="utopia (0, 0, 1)")
    ax.set_xlabel("total cost ($)", fontsize=8)
    ax.set_ylabel("total time (s)", fontsize=8)
    ax.set_zlabel("accuracy", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.view_init(elev=20, azim=-60)
    fig.legend(*ax.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.75, 0.5), fontsize=7,
               frameon=False)
    fig.suptitle(_title(d, "feasible space of the means"), fontsize=10)
    fig.text(0.01, 0.01, _note(d["chosen"]), fontsize=7, color=BUDGET, va="bottom")


def draw_accuracy(fig: Figure, d: dict[str, Any]) -> None:
    """Mean accuracy vs k with its 95% confidence band and the p05-p95 spread of trials."""
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.11, top=0.9)
    ax = fig.add_subplot()
    k = d["k"]
    ax.fill_between(k, _arr(d["p05"]), _arr(d["p95"]), color=BAND, alpha=0.25, lw=0, label="p05-p95 of trials")
    ax.fill_between(k, _arr(d["ci95_low"]), _arr(d["ci95_high"]), color=MEAN, alpha=0.45, lw=0,
                    label="mean ± 1.96 SE")
    ax.plot(k, _arr(d["mean"]), color=MEAN, lw=1.3, label="mean accuracy")
    ax.axhline(d["budgets"]["min_accuracy"], color=BUDGET, ls="--", lw=1,
               label=f"min accuracy {d['budgets']['min_accuracy']:g}")
    _shade_feasible(ax, k, d["feasible_k"])
    _mark_chosen(ax, d["chosen"], "accuracy")
    ax.set_xlabel("k (inferences per query)")
    ax.set_ylabel("accuracy (best of k)")
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    ax.set_title(_title(d, "accuracy vs k"), fontsize=10)
    _put_note(ax, d["chosen"])


def draw_cost_time(fig: Figure, d: dict[str, Any]) -> None:
    """Total cost and total time vs k (means, p05-p95 of trials) against their budgets."""
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.09, top=0.92, hspace=0.12)
    axes = fig.subplots(2, 1, sharex=True)
    k = d["k"]
    rows = (("total_cost", "max_total_cost", "total cost ($)", "$"), ("total_time", "max_total_time", "total time (s)", ""))
    for ax, (key, budget, ylabel, unit) in zip(axes, rows):
        band = d[key]
        ax.fill_between(k, _arr(band["p05"]), _arr(band["p95"]), color=BAND, alpha=0.3, lw=0, label="p05-p95 of trials")
        ax.plot(k, _arr(band["mean"]), color=MEAN, lw=1.3, label="mean")
        limit = d["budgets"][budget]
        ax.axhline(limit, color=BUDGET, ls="--", lw=1, label=f"budget {unit}{limit:g}")
        _shade_feasible(ax, k, d["feasible_k"])
        _mark_chosen(ax, d["chosen"], key)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left", fontsize=7, ncol=2)
    axes[1].set_xlabel("k (inferences per query)")
    fig.suptitle(_title(d, "total cost and total time vs k"), fontsize=10)
    _put_note(axes[0], d["chosen"])


def draw_models(fig: Figure, d: dict[str, Any]) -> None:
    """Every model's frontier in cost vs accuracy and time vs accuracy, and the cross-model picks."""
    fig.subplots_adjust(left=0.06, right=0.74, bottom=0.11, top=0.9, wspace=0.08)
    axes = fig.subplots(1, 2, sharey=True)
    b = d["budgets"]
    panels = (("total_cost", "max_total_cost", "total cost ($, log)"), ("total_time", "max_total_time", "total time (s, log)"))
    for ax, (key, budget, xlabel) in zip(axes, panels):
        for m in d["models"]:
            f = m["frontier"]
            label = m["model"] if m["status"] == "ok" else f"{m['model']} (infeasible)"
            ax.plot(_arr(f[key]), _arr(f["accuracy"]), marker="o", ms=3, lw=1, label=label)
        for r in _ok(d["recommendations"]):
            color, marker = METHOD_STYLE[r["method"]]
            ax.scatter(r[key], r["accuracy"], s=110, color=color, marker=marker, edgecolors="black", lw=0.7,
                       zorder=5, label=f"{method_label(r['method'])}:\n{r['model']} k={r['k']}")
        ax.axvline(b[budget], color=BUDGET, ls="--", lw=1, label="budgets")
        ax.axhline(b["min_accuracy"], color=BUDGET, ls="--", lw=1)
        _log_axis(ax)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("mean accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.75, 0.5), fontsize=7,
               frameon=False, title="frontier per model;\ncross-model picks", title_fontsize=7)
    fig.suptitle(f"sweep {d['sweep']}, scenario {d['scenario']}: Pareto frontier of every model "
                 f"({d['trials']} trials)", fontsize=10)
    _put_note(axes[0], d["recommendations"], width=NOTE_WIDTH // 2)


DRAW: dict[str, Callable[[Figure, dict[str, Any]], None]] = {
    "cube": draw_cube, "accuracy": draw_accuracy, "cost_time": draw_cost_time, "models": draw_models,
}


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


def _mark_chosen(ax: Axes, chosen: list[dict[str, Any]], key: str) -> None:
    for c in _ok(chosen):
        color, marker = METHOD_STYLE[c["method"]]
        ax.axvline(c["k"], color=color, ls=":", lw=0.9)
        ax.scatter(c["k"], c[key], s=60, color=color, marker=marker, edgecolors="black", lw=0.6, zorder=5,
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
        ax.text(0.01, 0.98, note, transform=ax.transAxes, va="top", fontsize=7, color=BUDGET, zorder=10,
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
