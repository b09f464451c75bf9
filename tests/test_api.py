"""The Python API and `infscale decide`: a round trip through the database, and deciding again
under new budgets equals a fresh run of the same sweep with those budgets, on every method."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

import infscale
from infscale.cli.main import main
from infscale.engine.errors import InfscaleError, SpecError
from infscale.engine.prices import PriceQuote, Prices
from infscale.engine.whatif import BudgetError
from infscale.engine.pipeline import simulate_shard
from infscale.engine.plan import plan_sweep, simulation_groups
from infscale.scheduler.reduce import reduce_group
from infscale.scheduler.submit import shard_messages
from infscale.storage.errors import NotFound
from infscale.storage.sql import SqlStore
from infscale.storage.rows import ChoiceRow, RecommendationRow

SCENARIOS = [
    {"name": "balanced", "max_total_cost": 0.5, "max_total_time": 60, "min_accuracy": 0.88, "k_max": 64, "parallelism": 4},
    {"name": "tight", "max_total_cost": 0.02, "max_total_time": 8, "min_accuracy": 0.95, "k_max": 24, "parallelism": 2,
     "k_grid": "all"},
]
SWEEP = {
    "name": "api", "catalog": "builtin:paper", "models": ["gpt5", "gpt5-nano", "qwen3-30b-a3b"],
    "scenarios": SCENARIOS, "trials": 4096, "seed": 11,
}
NEW_BUDGETS = [  # (max_total_cost, max_total_time, min_accuracy, accuracy_tolerance): loose, tight, one
    # binding each, none feasible; the paper's argmax (tolerance 0) and a wide tolerance
    (2.0, 300.0, 0.5, 0.001),
    (0.05, 20.0, 0.96, 0.001),
    (0.2, 1000.0, 0.9, 0.0),
    (10.0, 6.0, 0.9, 0.001),
    (10.0, 1000.0, 0.999, 0.001),
    (0.001, 1.0, 0.99, 0.001),
    (2.0, 300.0, 0.5, 0.02),
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, infscale.Sweep]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    return url, infscale.run(SWEEP, db=url, workers=1)


def test_round_trip_through_the_database(stored: tuple[str, infscale.Sweep], capsys: Any) -> None:
    url, sweep = stored
    db = infscale.open_database(url)
    assert [s.id for s in db.sweeps()] == [sweep.id] and db.sweeps()[0].status == "done"
    again = db.sweep()  # the latest finished sweep
    results = again.results()
    assert all(isinstance(r, ChoiceRow) for r in results) and len(results) == 3 * 2 * 4
    # The CLI's JSON and the API's rows are the same stored choices.
    assert main(["results", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["scenario"], r["method"], r["k"]) for r in doc["results"]] == [
        (r.model, r.scenario, r.method, r.k) for r in results
    ]
    recs = again.recommendations(scenario="balanced")
    assert all(isinstance(r, RecommendationRow) for r in recs) and [r.method for r in recs] == [
        "max_accuracy", "max_cube", "utopia", "knee"
    ]
    # CSV and pandas carry every row and value, missing numbers as empty cells / NaN.
    rows = list(csv.DictReader(io.StringIO(results.to_csv())))
    assert len(rows) == len(results)
    for row, r in zip(rows, results):
        assert row["k"] == ("" if r.k is None else str(r.k))
        assert (float(row["total_cost"]) if row["total_cost"] else None) == r.total_cost
    frame = results.to_pandas()
    assert list(frame.columns)[:6] == ["sweep_id", "run_id", "model", "scenario", "method", "status"]
    assert frame["accuracy"].tolist()[0] == results[0].accuracy


def test_curves_mark_the_chosen_k(stored: tuple[str, infscale.Sweep], capsys: Any) -> None:
    url, sweep = stored
    run = sweep.curves("gpt5", "balanced")
    frame = run.to_pandas()
    assert frame["k"].tolist() == run.curves.k.tolist()
    for choice in run.choices:
        if choice.status == "ok":
            marked = frame.loc[frame["k"] == choice.k, "chosen_by"].item().split()
            assert choice.method in marked
    assert sum(len(m.split()) for m in frame["chosen_by"]) == sum(c.status == "ok" for c in run.choices)
    assert main(["curves", "--db", url, "--model", "gpt5", "--scenario", "balanced", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["chosen"] == {c.method: c.k for c in run.choices}
    assert main(["curves", "--db", url, "--model", "gpt5", "--scenario", "balanced", "--csv"]) == 0
    assert capsys.readouterr().out == run.to_csv()


def test_price_history_as_rows(tmp_path: Path) -> None:
    db = infscale.open_database(f"sqlite:///{tmp_path / 'prices.db'}", create=True)
    db.store.import_prices([PriceQuote("gpt5", Prices(1e-6, 8e-6))], "first")
    db.store.import_prices([PriceQuote("gpt5", Prices(2e-6, 8e-6))], "second")
    history = db.price_history("gpt5")
    assert [(p.source, p.prices.c_in) for p in history] == [("first", 1e-6), ("second", 2e-6)]
    rows = list(csv.DictReader(io.StringIO(history.to_csv())))
    assert [(r["source"], float(r["c_in"]), r["t_in"]) for r in rows] == [("first", 1e-6, ""), ("second", 2e-6, "")]


def test_errors_are_the_typed_one_line_errors(stored: tuple[str, infscale.Sweep], tmp_path: Path) -> None:
    url, sweep = stored
    db = infscale.open_database(url)
    with pytest.raises(NotFound, match="sweep 99 does not exist"):
        db.sweep(99)
    with pytest.raises(NotFound, match="no model 'nope'"):
        sweep.curves("nope", "balanced")
    with pytest.raises(SpecError, match=r"scenarios\[0\]\.min_accuracy: must be in \[0, 1\], got 1.2"):
        infscale.run({**SWEEP, "scenarios": [{**SCENARIOS[0], "min_accuracy": 1.2}]}, db=url)
    with pytest.raises(SpecError, match="budgets: max_total_time: must be > 0, got 0"):
        sweep.decide(max_total_time=0)
    with pytest.raises(InfscaleError, match="no finished sweep"):
        infscale.open_database(f"sqlite:///{tmp_path / 'empty.db'}", create=True).sweep()
    with pytest.raises(InfscaleError, match="no database at"):  # reading never creates one
        infscale.open_database(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()
    other = infscale.open_database(f"sqlite:///{tmp_path / 'pending.db'}", create=True)
    pending = other.store.create_sweep(plan_sweep(infscale.api.load_sweep_spec(SWEEP)))
    with pytest.raises(InfscaleError, match=f"sweep {pending} is pending: deciding again needs a finished sweep"):
        other.sweep(pending).decide(max_total_cost=0.1)


@pytest.mark.parametrize("budgets", NEW_BUDGETS)
def test_decide_equals_a_fresh_run_with_the_new_budgets(
    stored: tuple[str, infscale.Sweep], budgets: tuple[float, float, float, float], tmp_path: Path
) -> None:
    _, sweep = stored
    cost, time, accuracy, tolerance = budgets
    decided = sweep.decide(max_total_cost=cost, max_total_time=time, min_accuracy=accuracy, accuracy_tolerance=tolerance)
    moved = [
        {**s, "max_total_cost": cost, "max_total_time": time, "min_accuracy": accuracy, "accuracy_tolerance": tolerance}
        for s in SCENARIOS
    ]
    fresh = infscale.run({**SWEEP, "scenarios": moved}, db=f"sqlite:///{tmp_path / 'fresh.db'}", workers=1)
    assert _decision(decided.results) == _decision(fresh.results())
    assert _decision(decided.recommendations) == _decision(fresh.recommendations())
    # The recommendations' confidence comes from the curves alone: the fresh run's, exactly.
    assert [r.confidence for r in decided.recommendations] == [r.confidence for r in fresh.recommendations()]
    assert {(s.max_total_cost, s.max_total_time, s.min_accuracy, s.accuracy_tolerance) for s in decided.scenarios} == {
        budgets
    }


def test_decide_one_scenario_leaves_the_others(stored: tuple[str, infscale.Sweep]) -> None:
    _, sweep = stored
    decided = sweep.decide(max_total_cost=0.05, scenario="balanced")
    assert {r.scenario for r in decided.results} == {"balanced"}
    assert {r.scenario for r in decided.recommendations} == {"balanced"}
    same = sweep.decide(scenario="tight")  # no budget moved: the stored decisions, with their confidence
    assert list(same.results) == list(sweep.results(scenario="tight"))
    assert _decision(same.recommendations) == _decision(sweep.recommendations(scenario="tight"))


def test_cli_decide_prints_what_the_api_decides(stored: tuple[str, infscale.Sweep], capsys: Any) -> None:
    url, sweep = stored
    args = ["decide", "--db", url, "--scenario", "balanced", "--max-total-cost", "0.1", "--min-accuracy", "0.96"]
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    decided = sweep.decide(max_total_cost=0.1, min_accuracy=0.96, scenario="balanced")
    assert [(r["model"], r["method"], r["status"], r["k"]) for r in doc["results"]] == [
        (r.model, r.method, r.status, r.k) for r in decided.results
    ]
    assert [(r["method"], r["model"], r["k"]) for r in doc["recommendations"]] == [
        (r.method, r.model, r.k) for r in decided.recommendations
    ]
    assert main(args + ["--csv"]) == 0
    assert capsys.readouterr().out == decided.results.to_csv()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "cost <= $0.1, time <= 60 s, accuracy >= 0.96" in text and "decided again" in text


def test_decide_refuses_to_move_a_chance_constraint(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'chance.db'}"
    chance = {**SCENARIOS[0], "name": "chance", "min_probability": 0.9}
    sweep = infscale.run({**SWEEP, "models": ["gpt5"], "scenarios": [chance], "trials": 2048}, db=url, workers=1)
    with pytest.raises(BudgetError, match="chance constraint"):
        sweep.decide(max_total_cost=0.3)
    assert main(["decide", "--db", url, "--max-total-cost", "0.3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infscale: error: scenario 'chance' has a chance constraint") and err.count("\n") == 1


def test_decide_on_stored_trial_blocks_has_the_fresh_runs_confidence(tmp_path: Path) -> None:
    """A distributed sweep stores its shards' partials: a moved choice then gets the confidence a
    fresh run with the new budgets computes, bit for bit (the shards here run in this process)."""
    spec = infscale.api.load_sweep_spec(SWEEP)
    url = f"sqlite:///{tmp_path / 'shards.db'}"
    store = SqlStore(url)
    plan = plan_sweep(spec, 1)
    sweep_id = store.create_sweep(plan, status="running")
    groups = {g.key: g for g in simulation_groups(spec)}
    for message in shard_messages(sweep_id, plan):
        blocks = range(*message["blocks"])
        partial = simulate_shard(spec, groups[message["group_key"]], blocks)
        store.save_partial(sweep_id, message["group_key"], message["shard_index"], partial, 0.0)
    for key in groups:
        reduce_group(store, sweep_id, spec, key, send=lambda messages: None)
    sweep = infscale.open_database(url).sweep(sweep_id)
    assert sweep.info.status == "done" and set(sweep.trial_blocks()) == set(groups)
    cost, time, accuracy, tolerance = NEW_BUDGETS[1]
    decided = sweep.decide(max_total_cost=cost, max_total_time=time, min_accuracy=accuracy, accuracy_tolerance=tolerance)
    moved = [
        {**s, "max_total_cost": cost, "max_total_time": time, "min_accuracy": accuracy, "accuracy_tolerance": tolerance}
        for s in SCENARIOS
    ]
    fresh = infscale.run({**SWEEP, "scenarios": moved}, db=f"sqlite:///{tmp_path / 'fresh.db'}", workers=1)
    assert [_decision([r]) + [r.confidence] for r in decided.results] == [
        _decision([r]) + [r.confidence] for r in fresh.results()
    ]
    assert any(r.confidence is not None for r in decided.results)
    without = sweep.decide(max_total_cost=cost, max_total_time=time, min_accuracy=accuracy,
                           accuracy_tolerance=tolerance, confidence=False)
    assert _decision(without.results) == _decision(decided.results)
    assert all(r.confidence is None for r in without.results)


def test_legacy_mode_keeps_the_notebooks_argmax(tmp_path: Path) -> None:
    legacy = {**SWEEP, "models": ["gpt5"], "scenarios": [SCENARIOS[0]], "trials": 500, "mode": "legacy"}
    sweep = infscale.run(legacy, db=f"sqlite:///{tmp_path / 'legacy.db'}", workers=1)
    with pytest.raises(SpecError, match="budgets: accuracy_tolerance: legacy mode keeps the notebook's argmax"):
        sweep.decide(accuracy_tolerance=0.01)
    moved = sweep.decide(max_total_cost=0.2)
    fresh = infscale.run({**legacy, "scenarios": [{**SCENARIOS[0], "max_total_cost": 0.2}]},
                         db=f"sqlite:///{tmp_path / 'fresh.db'}", workers=1)
    assert _decision(moved.results) == _decision(fresh.results())


def _decision(rows: Any) -> list[tuple[Any, ...]]:
    """What a decision is, without the confidence (which needs the trial blocks)."""
    return [
        tuple(getattr(r, f, None) for f in ("model", "scenario", "method", "status", "k", "total_cost", "total_time",
                                              "accuracy", "reason"))
        for r in rows
    ]
