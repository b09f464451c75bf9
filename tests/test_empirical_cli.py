"""The empirical model through the real command: `data: FILE` read with the eval-log readers of
`infscale fit`, stored with the sweep, and every bad data file one line naming the file and
the field (and row), exit 2, nothing written.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from infscale.engine.empirical_data import MAX_SAMPLES
from tests.test_bad_input import assert_one_line, run

REPO = Path(__file__).resolve().parent.parent
CATALOG = """\
models:
  emp:
    c_in: 1.0e-6
    c_out: 4.0e-6
    lengths: empirical
    accuracy_model: empirical
    data: {data}
"""
SWEEP = """\
name: emp
catalog: cat.yaml
scenarios:
  - {name: s, max_total_cost: 0.5, max_total_time: 120, min_accuracy: 0.5, k_max: 16, parallelism: 4}
trials: 3000
seed: 5
"""


def sweep_with(directory: Path, data: str, log: str | None = None, name: str = "log.jsonl") -> Path:
    if log is not None:
        (directory / name).write_text(log)
    (directory / "cat.yaml").write_text(CATALOG.format(data=data))
    (directory / "sweep.yaml").write_text(SWEEP)
    return directory / "sweep.yaml"


def rows(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


GOOD = {"query": "q1", "correct": 1, "input_tokens": 100, "output_tokens": 50, "latency_s": 1.5}


@pytest.mark.parametrize("data, log, name, needles", [
    ("missing.jsonl", None, "log.jsonl", ["missing.jsonl", "cannot read eval log"]),
    ("log.csv", "id,correct,input_tokens\nq1,1,10\n", "log.csv", ["log.csv", "query", "no query column"]),
    ("log.jsonl", rows(GOOD, {"id": "q2", "correct": 0}), "log.jsonl", ["log.jsonl", "row 2, query"]),
    ("log.jsonl", rows({k: v for k, v in GOOD.items() if k != "correct"}), "log.jsonl",
     ["log.jsonl", "correct or score", "no correct or score column"]),
    ("log.jsonl", rows(GOOD, {**GOOD, "output_tokens": None}), "log.jsonl", ["log.jsonl", "row 2, output_tokens", "missing"]),
    ("log.jsonl", rows(GOOD, {**GOOD, "input_tokens": -3}), "log.jsonl", ["log.jsonl", "row 2, input_tokens", ">= 0"]),
    ("log.jsonl", rows(GOOD, {**GOOD, "correct": 2}), "log.jsonl", ["log.jsonl", "row 2, correct"]),
    ("log.jsonl", rows({**GOOD, "model": "a"}, {**GOOD, "model": "b"}), "log.jsonl", ["log.jsonl", "model", "several models"]),
    ("log.txt", "query\n", "log.txt", ["log.txt", "unknown eval log format"]),
    ("log.csv", "too-big", "log.csv", ["log.csv", f"over the limit of {MAX_SAMPLES}"]),
], ids=["missing", "csv-no-query-column", "row-without-query", "no-correct-column", "row-without-output-tokens",
        "negative-tokens", "correct-outside-0-1", "several-models", "unknown-format", "too-many-samples"])
def test_a_bad_data_file_is_one_line_naming_it_and_nothing_is_written(
    tmp_path: Path, data: str, log: str | None, name: str, needles: list[str]
) -> None:
    if log == "too-big":
        log = "query,correct\n" + "".join(f"q{i % 50},1\n" for i in range(MAX_SAMPLES + 1))
    sweep = sweep_with(tmp_path, data, log, name)
    for command in (["run", str(sweep), "--db", f"sqlite:///{tmp_path / 'out.db'}"], ["validate", str(sweep)]):
        assert_one_line(run(command, tmp_path), *needles)
        assert not (tmp_path / "out.db").exists()


def test_the_stored_sweep_carries_the_data(tmp_path: Path) -> None:
    shutil.copy(REPO / "examples" / "eval-log.jsonl", tmp_path / "log.jsonl")
    sweep = sweep_with(tmp_path, "log.jsonl")
    db = f"sqlite:///{tmp_path / 'out.db'}"
    done = run(["run", str(sweep), "--db", db, "--json"], tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    (tmp_path / "log.jsonl").unlink()
    # The spec in the database holds the samples themselves (base64 arrays), not the path.
    with sqlite3.connect(tmp_path / "out.db") as connection:
        (spec,) = connection.execute("SELECT spec FROM sweeps").fetchone()
    data = json.loads(spec)["models"][0]["data"]
    assert set(data) == {"source", "counts", "score", "input_tokens", "output_tokens", "latency_s"}
    # Read back without the file: the curves are there, and the rebuilt spec runs again alike.
    again = run(["results", "--sweep", "1", "--db", db, "--json"], tmp_path)
    assert again.returncode == 0, again.stderr.decode()
    from infscale.engine.pipeline import run_sweep
    from infscale.storage.sql import SqlStore

    with SqlStore(db) as store:
        spec = store.sweep_spec(1)
        stored = store.curves(1, "emp", "s").curves
    fresh = run_sweep(spec).runs[0].curves
    assert fresh.accuracy.mean.tobytes() == stored.accuracy.mean.tobytes()
    assert fresh.time.mean.tobytes() == stored.time.mean.tobytes()


def test_the_readme_example_loads_and_its_empirical_exact_means_match_its_monte_carlo() -> None:
    from dataclasses import replace

    from infscale.engine.pipeline import run_sweep
    from infscale.engine.specs import Mode
    from infscale.readers.sweep_files import load_sweep

    sweep = load_sweep(REPO / "examples" / "empirical.yaml")
    model = sweep.model("from-log")
    assert (model.data.n_queries, model.data.n_samples) == (100, 500) and model.times_from_data
    mc = run_sweep(replace(sweep, models=(model,), trials=4 * 1024))
    exact = run_sweep(replace(sweep, models=(model,), trials=0, mode=Mode.EXACT))
    for got, want in zip(mc.runs, exact.runs):
        for metric in ("cost", "time", "accuracy"):
            a, b = getattr(got.curves, metric), getattr(want.curves, metric)
            assert (abs(a.mean - b.mean) <= 4 * a.se + 1e-12).all(), (got.scenario.name, metric)
