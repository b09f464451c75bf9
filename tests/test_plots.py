"""Plots and the HTML report, drawn headless from a small stored sweep.

The drawn data are checked against the store through the JSON sidecars (the dict each figure
is drawn from) and, for the 2-D figures, through the figure's artists; never through pixels.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infscale.cli.main import main
from infscale.reports import plots, series
from infscale.engine.plan import plan_sweep
from infscale.scheduler.local import run_local
from infscale.readers.sweep_files import load_sweep
from infscale.storage.sql import SqlStore

REPO = Path(__file__).resolve().parents[1]
SWEEP_YAML = """\
name: plots-test
catalog: builtin:paper
models: [gpt5, gpt5-nano]
scenarios:
  - balanced
  - name: impossible          # no model reaches the accuracy: every run infeasible
    max_total_cost: 0.01
    max_total_time: 5
    min_accuracy: 0.999
    k_max: 16
    parallelism: 4
  - name: short               # grid {4, 8}: two frontier points at most, so no knee
    max_total_cost: 0.5
    max_total_time: 60
    min_accuracy: 0.88
    k_max: 8
    parallelism: 4
trials: 2000
seed: 11
knee: curvature               # the paper's knee: with fewer than 3 frontier points there is none
"""
RUN_FIGURES = ("cube", "accuracy", "cost_time")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """(database URL, sweep id) of the sweep above, run and stored in SQLite."""
    root = tmp_path_factory.mktemp("plots")
    (root / "sweep.yaml").write_text(SWEEP_YAML)
    sweep = load_sweep(root / "sweep.yaml")
    url = f"sqlite:///{root / 'plots.db'}"
    with SqlStore(url) as store:
        sweep_id = store.save_local_result(plan_sweep(sweep), run_local(sweep, workers=1))
    return url, sweep_id


def plot(stored: tuple[str, int], out: Path, *extra: str) -> None:
    url, sweep_id = stored
    assert main(["plot", "--db", url, "--sweep", str(sweep_id), "--out", str(out), *extra]) == 0


def sidecar(out: Path, name: str) -> dict:
    (path,) = out.glob(f"*-{name}.json")
    return json.loads(path.read_text())


def assert_image(path: Path, name: str, dpi: int = plots.DPI) -> None:
    assert path.stat().st_size > 1000
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == plots.pixel_size(name, dpi)


@pytest.mark.parametrize("scenario", ["balanced", "impossible", "short"])
def test_run_plots_render_at_their_size_and_draw_the_stored_data(stored, tmp_path, scenario):
    plot(stored, tmp_path, "--model", "gpt5", "--scenario", scenario, "--svg")
    for name in RUN_FIGURES:
        assert_image(tmp_path / f"gpt5-{scenario}-{name}.png", name)
        assert (tmp_path / f"gpt5-{scenario}-{name}.svg").read_text().lstrip().startswith("<?xml")
    url, sweep_id = stored
    with SqlStore(url) as store:
        curves = store.curves(sweep_id, "gpt5", scenario)
        choices = store.choices(sweep_id, model="gpt5", scenario=scenario)
    c = curves.curves
    means = {"total_cost": c.cost.mean, "total_time": c.time.mean, "accuracy": c.accuracy.mean}

    cube = sidecar(tmp_path, "cube")
    for part, mask in (("trajectory", np.ones_like(curves.feasible)), ("feasible", curves.feasible),
                       ("frontier", curves.on_frontier)):
        assert cube[part]["k"] == c.k[mask].tolist()
        for axis, values in means.items():
            np.testing.assert_array_equal(cube[part][axis], values[mask])
    assert cube["utopia"] == {"total_cost": 0.0, "total_time": 0.0, "accuracy": 1.0}

    for name in RUN_FIGURES:
        drawn = {p["method"]: p for p in sidecar(tmp_path, name)["chosen"]}
        assert len(drawn) == len(choices) == 4
        for row in choices:
            point = drawn[row.method]
            assert (point["status"], point["k"], point["reason"]) == (row.status, row.k, row.reason)
            if row.status != "ok":
                assert point["total_cost"] is point["total_time"] is point["accuracy"] is None
                continue
            j = int(np.flatnonzero(c.k == row.k)[0])  # the chosen point sits on the curves at its k
            assert (point["total_cost"], point["total_time"], point["accuracy"]) == (
                row.total_cost, row.total_time, row.accuracy) == tuple(float(means[a][j]) for a in means)

    acc = sidecar(tmp_path, "accuracy")
    np.testing.assert_array_equal(acc["mean"], c.accuracy.mean)
    np.testing.assert_allclose(acc["ci95_low"], c.accuracy.mean - 1.96 * c.accuracy.se, rtol=0, atol=1e-15)
    np.testing.assert_allclose(acc["ci95_high"], c.accuracy.mean + 1.96 * c.accuracy.se, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(acc["p05"], c.accuracy.p05)
    np.testing.assert_array_equal(acc["p95"], c.accuracy.p95)
    assert acc["feasible_k"] == c.k[curves.feasible].tolist()

    cost_time = sidecar(tmp_path, "cost_time")
    for axis, metric in (("total_cost", c.cost), ("total_time", c.time)):
        for stat in ("mean", "p05", "p95"):
            np.testing.assert_array_equal(cost_time[axis][stat], getattr(metric, stat))


def test_accuracy_figure_draws_its_sidecar(stored, tmp_path):
    """The artists hold the sidecar's numbers: the mean line and one marker per chosen k."""
    plot(stored, tmp_path, "--model", "gpt5-nano", "--scenario", "balanced")
    data = sidecar(tmp_path, "accuracy")
    ax = plots.render("accuracy", data).axes[0]
    line = next(l for l in ax.get_lines() if l.get_label() == "mean accuracy")
    np.testing.assert_array_equal(line.get_xydata(), np.column_stack((data["k"], data["mean"])))
    markers = {coll.get_label(): coll.get_offsets() for coll in ax.collections}
    for point in data["chosen"]:
        label = f"{series.method_label(point['method'])}: k={point['k']}"
        np.testing.assert_array_equal(markers[label], [[point["k"], point["accuracy"]]])


@pytest.mark.parametrize("scenario", ["balanced", "impossible"])
def test_models_plot_draws_every_frontier_and_the_cross_model_picks(stored, tmp_path, scenario):
    plot(stored, tmp_path, "--scenario", scenario)
    assert_image(tmp_path / f"{scenario}-models.png", "models")
    assert_image(tmp_path / f"{scenario}-accuracy_grid.png", "accuracy_grid")
    data = sidecar(tmp_path, "models")
    url, sweep_id = stored
    with SqlStore(url) as store:
        spec = store.sweep_spec(sweep_id)
        recs = store.recommendations(sweep_id, scenario=scenario)
        runs = {m.key: store.curves(sweep_id, m.key, scenario) for m in spec.models}
    assert [m["model"] for m in data["models"]] == [m.key for m in spec.models]
    for drawn in data["models"]:
        run = runs[drawn["model"]]
        front = run.on_frontier
        assert drawn["frontier"]["k"] == run.curves.k[front].tolist()
        np.testing.assert_array_equal(drawn["frontier"]["total_cost"], run.curves.cost.mean[front])
        np.testing.assert_array_equal(drawn["frontier"]["accuracy"], run.curves.accuracy.mean[front])
        assert drawn["status"] == ("ok" if run.feasible.any() else "infeasible")
    assert [(r["method"], r["status"], r["model"], r["k"]) for r in data["recommendations"]] == [
        (r.method, r.status, r.model, r.k) for r in recs
    ]
    for drawn, row in zip(data["recommendations"], recs):
        assert (drawn["total_cost"], drawn["total_time"], drawn["accuracy"]) == (
            row.total_cost, row.total_time, row.accuracy)
        if row.status == "ok":  # the pick sits on its model's stored curves at its k
            c = runs[row.model].curves
            j = int(np.flatnonzero(c.k == row.k)[0])
            assert (row.total_cost, row.total_time, row.accuracy) == (
                c.cost.mean[j], c.time.mean[j], c.accuracy.mean[j])


class _Refs(HTMLParser):
    """Every tag name and every URL-valued attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "data", "action")]


def test_report_is_self_contained_and_covers_the_sweep(stored, tmp_path):
    url, sweep_id = stored
    out = tmp_path / "report.html"
    assert main(["report", "--db", url, "--sweep", str(sweep_id), "--out", str(out)]) == 0
    page = out.read_text()
    assert "http://" not in page and "https://" not in page and "url(" not in page
    refs = _Refs()
    refs.feed(page)
    assert not refs.tags & {"script", "link", "iframe", "object", "embed"}
    images = [v for tag, k, v in refs.urls if k == "src"]
    assert images and all(v.startswith("data:image/png;base64,") for v in images)
    assert all(v.startswith("#") for tag, k, v in refs.urls if k == "href")
    for v in images:
        with Image.open(io.BytesIO(base64.b64decode(v.split(",", 1)[1]))) as image:
            assert image.format == "PNG"

    with SqlStore(url) as store:
        spec = store.sweep_spec(sweep_id)
        choices = store.choices(sweep_id)
    sections = re.split(r'<h2 id="scenario-', page)[1:]
    assert [s.split('"', 1)[0] for s in sections] == [s.name for s in spec.scenarios]
    for scenario, section in zip(spec.scenarios, sections):
        for m in spec.models:
            row = re.search(rf"<tr><td>{re.escape(m.key)}</td>(.*?)</tr>", section).group(1)
            mine = [c for c in choices if c.model == m.key and c.scenario == scenario.name]
            if all(c.status == "infeasible" for c in mine):
                assert "<b>infeasible</b>" in row
            else:
                shown = re.findall(r"<b>(k = \d+|no knee)</b>", row)
                assert shown == [f"k = {c.k}" if c.status == "ok" else "no knee" for c in mine]
        assert f'alt="models: all models under {scenario.name}"' in section
        assert f'alt="accuracy_grid: all models under {scenario.name}"' in section
    assert "no knee" in page and "infeasible" in page


@pytest.mark.parametrize("argv, says", [
    (["plot", "--sweep", "999", "--model", "gpt5", "--scenario", "balanced"], "sweep 999 does not exist"),
    (["plot", "--sweep", "999", "--scenario", "balanced"], "sweep 999 does not exist"),
    (["plot", "--model", "nosuch", "--scenario", "balanced"], "no model 'nosuch'"),
    (["plot", "--model", "gpt5", "--scenario", "nosuch"], "no scenario 'nosuch'"),
    (["plot", "--scenario", "nosuch"], "no scenario 'nosuch'"),
    (["report", "--sweep", "999"], "sweep 999 does not exist"),
])
def test_missing_sweep_or_run_is_one_line_and_exit_2(stored, tmp_path, capsys, argv, says):
    url, sweep_id = stored
    out = tmp_path / "out"
    if "--sweep" not in argv:
        argv = [*argv, "--sweep", str(sweep_id)]
    assert main([*argv, "--db", url, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("infscale: error: ")
    assert says in captured.err
    assert not out.exists()  # nothing written before the input is validated


def test_figures_of_several_models_and_scenarios_share_a_directory(stored, tmp_path):
    """Model and scenario are in the file names: a second plot never overwrites the first."""
    for model in ("gpt5", "gpt5-nano"):
        for scenario in ("balanced", "short"):
            plot(stored, tmp_path, "--model", model, "--scenario", scenario)
    plot(stored, tmp_path, "--scenario", "balanced")
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(names) == 2 * 2 * len(RUN_FIGURES) + 2
    for model in ("gpt5", "gpt5-nano"):
        for scenario in ("balanced", "short"):
            data = json.loads((tmp_path / f"{model}-{scenario}-accuracy.json").read_text())
            assert (data["model"], data["scenario"]) == (model, scenario)


def test_dpi_sets_the_pixel_size(stored, tmp_path):
    plot(stored, tmp_path, "--model", "gpt5", "--scenario", "balanced", "--dpi", "60")
    for name in RUN_FIGURES:
        assert_image(tmp_path / f"gpt5-balanced-{name}.png", name, dpi=60)


@pytest.mark.parametrize("value", ["0", "5", "601", "100000", "high"])
def test_dpi_out_of_range_is_one_line_and_nothing_drawn(stored, tmp_path, capsys, value):
    url, sweep_id = stored
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", "--db", url, "--sweep", str(sweep_id), "--model", "gpt5", "--scenario", "balanced",
              "--out", str(tmp_path / "out"), "--dpi", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --dpi" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _chosen_markers(fig) -> list[tuple[tuple[float, ...], float, float]]:
    """(position, area, zorder) of every chosen-k marker (labelled 'method: k=...') of a figure."""
    out = []
    for ax in fig.axes:
        for coll in ax.collections:
            if re.search(r": k=\d+$", coll.get_label()):
                offsets = getattr(coll, "_offsets3d", None)
                position = tuple(float(v[0]) for v in offsets) if offsets is not None else tuple(coll.get_offsets()[0])
                out.append((position, float(coll.get_sizes()[0]), coll.get_zorder()))
    return out


@pytest.mark.parametrize("name", ["cube", "accuracy", "cost_time"])
def test_methods_choosing_the_same_k_are_all_visible(stored, tmp_path, name):
    """Where methods agree (max cube and utopia-closest both pick k=4 for gpt5 under balanced), the
    markers are nested: each one drawn over another is smaller, so none is hidden."""
    plot(stored, tmp_path, "--model", "gpt5", "--scenario", "balanced")
    data = sidecar(tmp_path, name)
    ok = [c for c in data["chosen"] if c["status"] == "ok"]
    assert len({c["k"] for c in ok}) < len(ok), "the fixture should have two methods at one k"
    markers = _chosen_markers(plots.render(name, data))
    assert len(markers) == len(ok) * (2 if name == "cost_time" else 1)
    by_position: dict = {}
    for position, area, zorder in markers:
        by_position.setdefault(position, []).append((zorder, area))
    for stack in by_position.values():
        areas = [area for _, area in sorted(stack, key=lambda t: t[0])]  # drawing order (stable: call order)
        assert all(later < earlier for earlier, later in zip(areas, areas[1:])), stack


def test_models_figure_nests_cross_model_picks_at_the_same_point(stored, tmp_path):
    plot(stored, tmp_path, "--scenario", "balanced")
    data = sidecar(tmp_path, "models")
    picks = [(r["model"], r["k"]) for r in data["recommendations"] if r["status"] == "ok"]
    sizes = plots.nested_sizes(picks)
    for i, point in enumerate(picks):
        earlier = [sizes[j] for j in range(i) if picks[j] == point]
        assert all(sizes[i] < s for s in earlier)
    assert plots.nested_sizes([4, 4, 8, 4]) == [plots.MARKER_AREA, plots.MARKER_AREA * plots.NESTED_SHRINK,
                                                plots.MARKER_AREA, plots.MARKER_AREA * plots.NESTED_SHRINK ** 2]


def test_empty_database_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["plot", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--scenario", "balanced",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no database at" in err and not (tmp_path / "empty.db").exists()


def test_cli_starts_without_matplotlib():
    code = "import sys, infscale.cli.main as m; m.build_parser(); print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
