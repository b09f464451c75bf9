"""The local run through the CLI: bad input, the JSON contract, and grouping independence."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from infscale.cli.main import main
from infscale.engine.pipeline import finish_group, order_runs, recommend_all, simulate_shard
from infscale.engine.plan import block_plan, plan_sweep, shard_ranges, simulation_groups
from infscale.readers.sweep_files import load_sweep
from infscale.storage.sql import SqlStore

SMALL_SWEEP = """\
name: small
catalog: builtin:paper
models: [gpt5, gpt5-nano, qwen3-30b-a3b]
scenarios:
  - balanced
  - {name: tight, max_total_cost: 0.02, max_total_time: 5, min_accuracy: 0.99, k_max: 16, parallelism: 2}
trials: 3000
seed: 7
"""

GOOD_CATALOG = """\
models:
  tiny:
    name: Tiny
    c_in: 0.0000001
    c_out: 0.0000004
    t_in: 0.0001
    t_out: 0.001
    mu_Lin: 512
    sigma_Lin: 32
    mu_Lout: 256
    sigma_Lout: 16
    acc_mean: 0.8
    acc_std: 0.1
    default_parallel: 2
"""

BALANCED_ONLY = "scenarios: [balanced]\ntrials: 100\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


BAD_INPUTS = [
    # (sweep text, catalog text or None, expected words in the one-line error)
    ("name: x\nscenarios: [balanced\n", None, ["sweep.yaml", "line", "invalid YAML"]),
    ("name: x\nmodels: [gpt6]\n" + BALANCED_ONLY, None, ["sweep.yaml", "models[0]", "unknown model 'gpt6'"]),
    ("name: x\nscenarios: [nightly]\ntrials: 10\n", None, ["sweep.yaml", "scenarios[0]", "unknown scenario"]),
    ("name: x\ncatalog: cat.yaml\n" + BALANCED_ONLY, GOOD_CATALOG.replace("c_out: 0.0000004", "c_out: -0.0000004"),
     ["cat.yaml", "models.tiny.c_out", ">= 0"]),
    ("name: x\ncatalog: cat.yaml\n" + BALANCED_ONLY, GOOD_CATALOG.replace("t_in: 0.0001", "t_in: -1"),
     ["cat.yaml", "models.tiny.t_in"]),
    ("name: x\ncatalog: cat.yaml\n" + BALANCED_ONLY, GOOD_CATALOG.replace("sigma_Lout: 16", "sigma_Lout: -2"),
     ["cat.yaml", "models.tiny.sigma_Lout"]),
    ("name: x\ncatalog: cat.yaml\n" + BALANCED_ONLY, GOOD_CATALOG.replace("acc_mean: 0.8", "acc_mean: 1.2"),
     ["cat.yaml", "models.tiny.acc_mean", "[0, 1]"]),
    ("name: x\nscenarios:\n  - {name: s, max_total_cost: 1, max_total_time: 9, min_accuracy: 1.5, k_max: 8, parallelism: 1}\ntrials: 5\n",
     None, ["sweep.yaml", "scenarios[0].min_accuracy", "[0, 1]"]),
    ("name: x\nscenarios:\n  - {name: s, max_total_cost: 1, max_total_time: 9, min_accuracy: 0.5, k_max: 0, parallelism: 1}\ntrials: 5\n",
     None, ["sweep.yaml", "scenarios[0].k_max", ">= 1"]),
    ("name: x\nscenarios:\n  - {name: s, max_total_cost: 1, max_total_time: 9, min_accuracy: 0.5, k_max: 8, parallelism: 0}\ntrials: 5\n",
     None, ["sweep.yaml", "scenarios[0].parallelism", ">= 1"]),
    ("name: x\nscenarios: [balanced]\ntrials: 0\n", None, ["sweep.yaml", "trials", ">= 1"]),
    ("!!python/object/apply:os.system ['echo pwned']\n", None, ["sweep.yaml", "line 1", "tag"]),
    # Merged statistics no longer grow with trials (engine.batches): a k_max too large still fails.
    ("name: x\nscenarios:\n  - {name: s, max_total_cost: 1, max_total_time: 1, min_accuracy: 0.5, k_max: 1000000,"
     " parallelism: 1}\ntrials: 1000\n", None, ["sweep.yaml", "k_max", "memory limit"]),
    ("name: x\nscenarios: [balanced]\ntrials: 10\ntrails: 5\n", None, ["sweep.yaml", "trails", "unknown field"]),
]


@pytest.mark.parametrize("sweep_text,catalog_text,words", BAD_INPUTS)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path, capsys, monkeypatch, command, sweep_text, catalog_text, words
):
    monkeypatch.chdir(tmp_path)
    sweep = write(tmp_path, "sweep.yaml", sweep_text)
    if catalog_text is not None:
        write(tmp_path, "cat.yaml", catalog_text)
    db = tmp_path / "out.db"
    argv = [command, str(sweep)] + (["--db", f"sqlite:///{db}"] if command == "run" else [])
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not db.exists(), "a rejected sweep must not create or touch the database"
    assert not (tmp_path / "infscale.db").exists()


def test_missing_file_and_bad_workers(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", str(tmp_path / "nope.yaml"), "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 2 and "nope.yaml" in err and "cannot read" in err
    sweep = write(tmp_path, "s.yaml", SMALL_SWEEP)
    code, _, err = run_cli(capsys, "run", str(sweep), "--workers", "0")
    assert code == 2 and "--workers" in err and ">= 1" in err
    assert not (tmp_path / "x.db").exists()


def test_user_catalog_in_reference_format_runs(tmp_path, capsys):
    write(tmp_path, "cat.yaml", GOOD_CATALOG)
    sweep = write(tmp_path, "s.yaml", "name: mine\ncatalog: cat.yaml\nmodels: all\n" + BALANCED_ONLY.replace("100", "2000"))
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", f"sqlite:///{tmp_path}/c.db", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {r["model"] for r in doc["results"]} == {"tiny"}


def test_run_json_contract_and_queries(tmp_path, capsys):
    sweep = write(tmp_path, "s.yaml", SMALL_SWEEP)
    db = f"sqlite:///{tmp_path}/r.db"
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", db, "--json", "--workers", "2")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"sweep", "status", "results", "recommendations"} and doc["status"] == "done"
    assert len(doc["results"]) == 3 * 2 * 4
    keys = {"model", "scenario", "method", "status", "k", "total_cost", "total_time", "accuracy", "reason"}
    for row in doc["results"]:
        assert keys <= set(row)
        assert row["method"] in {"max_accuracy", "max_cube", "utopia", "knee"}
        assert row["status"] in {"ok", "infeasible", "no_knee"}
        if row["status"] == "ok":
            assert row["k"] >= 1 and row["total_cost"] > 0 and 0 <= row["accuracy"] <= 1
        else:
            assert row["k"] is None and row["reason"]
    # The tight scenario's accuracy 0.99 within 16 inferences and 2 cents is out of reach for all.
    tight = [r for r in doc["results"] if r["scenario"] == "tight"]
    assert all(r["status"] == "infeasible" for r in tight)
    assert all("max_total_cost" in r["reason"] or "min_accuracy" in r["reason"] for r in tight)
    recs = {(r["scenario"], r["method"]): r for r in doc["recommendations"]}
    assert len(recs) == 2 * 4
    best = max((r for r in doc["results"] if r["scenario"] == "balanced" and r["status"] == "ok"),
               key=lambda r: (r["accuracy"], -r["k"]))
    assert recs["balanced", "max_accuracy"]["model"] == best["model"]
    assert recs["balanced", "max_accuracy"]["k"] == best["k"]

    code, out2, _ = run_cli(capsys, "results", "--db", db, "--json")
    assert code == 0 and json.loads(out2) == doc
    code, out3, _ = run_cli(capsys, "results", "--db", db, "--json", "--model", "gpt5", "--scenario", "balanced")
    sub = json.loads(out3)["results"]
    assert {(r["model"], r["scenario"]) for r in sub} == {("gpt5", "balanced")}

    code, out4, _ = run_cli(capsys, "curves", "--db", db, "--model", "gpt5", "--scenario", "balanced", "--json")
    assert code == 0
    curves = json.loads(out4)
    assert curves["k"] == list(range(4, 129, 4))
    for name in ("cost", "time", "accuracy"):
        for stat in ("mean", "se", "p05", "p50", "p95"):
            assert len(curves[f"{name}_{stat}"]) == len(curves["k"])
    assert np.all(np.diff(curves["cost_mean"]) > 0) and np.all(np.diff(curves["accuracy_mean"]) >= 0)
    assert all(0 <= p <= 1 for p in curves["feasible_probability"])
    chosen = next(r for r in doc["results"] if r["model"] == "gpt5" and r["scenario"] == "balanced"
                  and r["method"] == "max_accuracy")
    j = curves["k"].index(chosen["k"])
    assert curves["accuracy_mean"][j] == chosen["accuracy"]

    code, _, err = run_cli(capsys, "curves", "--db", db, "--model", "gpt6", "--scenario", "balanced")
    assert code == 2 and len(err.strip().splitlines()) == 1

    code, out5, _ = run_cli(capsys, "results", "--db", db)
    assert code == 0 and "scenario balanced" in out5 and "across models" in out5


def test_block_grouping_and_order_do_not_change_stored_results(tmp_path):
    sweep = dataclasses.replace(load_sweep(write(tmp_path, "s.yaml", SMALL_SWEEP)), trials=14 * 1024 - 100)
    n_blocks = block_plan(sweep).n_blocks
    assert n_blocks == 14
    stores = []
    for variant, per_shard in (("one", 14), ("seven", 2), ("shuffled", 1)):
        runs = []
        for group in simulation_groups(sweep):
            parts = [simulate_shard(sweep, group, blocks) for blocks in shard_ranges(n_blocks, per_shard)]
            if variant == "shuffled":
                random.Random(3).shuffle(parts)
            runs.extend(finish_group(sweep, group, parts))
        ordered = order_runs(sweep, runs)
        from infscale.engine.pipeline import SweepResult

        store = SqlStore(f"sqlite:///{tmp_path}/{variant}.db")
        store.save_local_result(plan_sweep(sweep), SweepResult(ordered, recommend_all(sweep, ordered)))
        stores.append(tmp_path / f"{variant}.db")
    dumps = [_dump(path) for path in stores]
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]["curve_points"]) > 0


def _dump(path: Path) -> dict[str, list[tuple]]:
    """Every stored result value, without ids and timestamps that differ by construction."""
    con = sqlite3.connect(path)
    try:
        return {
            "curve_points": con.execute(
                "SELECT r.model_key, r.scenario_name, c.* FROM curve_points c JOIN runs r ON r.id = c.run_id "
                "ORDER BY r.model_key, r.scenario_name, c.k").fetchall(),
            "choices": con.execute(
                "SELECT r.model_key, r.scenario_name, c.method, c.status, c.k, c.total_cost, c.total_time, "
                "c.accuracy, c.reason FROM choices c JOIN runs r ON r.id = c.run_id "
                "ORDER BY r.model_key, r.scenario_name, c.method").fetchall(),
            "recommendations": con.execute(
                "SELECT scenario_name, method, status, model_key, k, total_cost, total_time, accuracy, reason "
                "FROM recommendations ORDER BY scenario_name, method").fetchall(),
        }
    finally:
        con.close()
