"""Prices over time: price files, the price history, recalculation as new revisions, the queries
on revisions, and the nightly job on real Celery workers over a real Redis.

The central check: doubling GPT-5's prices recomputes GPT-5's runs only, its maximal-accuracy
k under `balanced` drops to what the cost budget now allows (predicted from the stored curves:
cost is linear in the prices, exactly), and the new revision equals a fresh `infscale run` with
the new prices and the same seed, bit for bit.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import yaml

from infscale.cli.main import main
from infscale.reports.documents import results_document
from infscale.engine.catalog import PAPER_MODELS, builtin_scenarios
from infscale.engine.errors import InfscaleError
from infscale.workers.broker import exclusive
from infscale.storage.rows import StoredCurves
from infscale.storage.sql import SqlStore
from tests.services import REPO, RedisServer, Worker, free_port
from tests.test_distributed import curve_arrays, redis_server, results_of  # noqa: F401 (a fixture)

SAMPLE = REPO / "tests/data/litellm_sample.json"
LITELLM_CATALOG = REPO / "examples/catalog-litellm.yaml"
SCENARIOS = ("balanced", "latency-critical", "accuracy-critical")

SWEEP = """\
name: prices
catalog: {catalog}
models: all
scenarios: builtin:paper
trials: 2048
seed: 42
"""

SMALL_SWEEP = """\
name: small
catalog: {catalog}
models: [gpt5, gpt5-nano]
scenarios: [balanced]
trials: 1024
seed: 5
"""


# --- helpers ------------------------------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def catalog_text(factor: float = 1.0, model: str = "gpt5") -> str:
    """builtin:paper as a catalog file, with `model`'s prices multiplied by `factor`."""
    models = {key: dict(fields) for key, fields in PAPER_MODELS.items()}
    models[model]["c_in"] *= factor
    models[model]["c_out"] *= factor
    return yaml.safe_dump({"models": models}, sort_keys=False)


def cli(*argv: str) -> tuple[int, str, str]:
    """`infscale ARGV` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv: str) -> Any:
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def as_json(document: Any) -> Any:
    return json.loads(json.dumps(document))


def counts(url: str) -> dict[str, int]:
    path = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("model_prices", "runs", "curve_points", "choices", "recommendations")}


def choice(rows: list, model: str, scenario: str, method: str) -> Any:
    return next(c for c in rows if (c.model, c.scenario, c.method) == (model, scenario, method))


def assert_same_curves(got: StoredCurves, want: StoredCurves) -> None:
    assert got.curves.trials == want.curves.trials
    for name, a, b in curve_arrays(got, want):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{got.model}/{got.scenario}: {name} differs"


# --- the recalculation on SQLite (one flow, many checks) -----------------------------------------


@dataclass
class Flow:
    directory: Path
    url: str
    store: SqlStore
    sweep_id: int
    prices: Path  # the catalog with GPT-5's prices doubled (the price source)
    before: dict[str, StoredCurves]  # GPT-5's curves per scenario, revision 1
    choices_before: list
    recommendations_before: list
    counts_before: dict[str, int]
    between: datetime  # after the sweep, before the recalculation
    recalc: dict[str, Any]  # `recalc --json`


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    directory = tmp_path_factory.mktemp("flow")
    url = f"sqlite:///{directory / 'infscale.db'}"
    sweep = write(directory, "sweep.yaml", SWEEP.format(catalog="builtin:paper"))
    prices = write(directory, "doubled.yaml", catalog_text(2.0))
    assert cli("run", str(sweep), "--db", url, "--workers", "2")[0] == 0
    store = SqlStore(url)
    sweep_id = store.latest_sweep_id()
    before = {s: store.curves(sweep_id, "gpt5", s) for s in SCENARIOS}
    choices_before, recs_before, counts_before = store.choices(sweep_id), store.recommendations(sweep_id), counts(url)
    time.sleep(0.01)
    between = datetime.now(timezone.utc)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INFSCALE_PRICE_SOURCE", str(prices))
        env.delenv("INFSCALE_PRICE_CATALOG", raising=False)
        document = cli_json("recalc", "--db", url, "--in-process", "--workers", "2")
    yield Flow(directory, url, store, sweep_id, prices, before, choices_before, recs_before, counts_before,
               between, document)
    store.close()


def test_recalc_recomputes_only_the_model_whose_prices_changed(flow: Flow) -> None:
    assert flow.recalc["prices"]["changed"] == list(PAPER_MODELS)  # the first versions of all nine
    assert flow.recalc["sweeps"] == [{"sweep": flow.sweep_id, "models": ["gpt5"], "runs": 3, "stored": True}]
    revisions = {(m.model, m.scenario): m.revision for m in flow.store.run_models(flow.sweep_id)}
    assert {key for key, rev in revisions.items() if rev == 2} == {("gpt5", s) for s in SCENARIOS}
    assert all(rev == 1 for (model, _), rev in revisions.items() if model != "gpt5")
    # Other models' rows are the very same rows, with the same values; old revisions stay.
    others = [c for c in flow.store.choices(flow.sweep_id) if c.model != "gpt5"]
    assert others == [c for c in flow.choices_before if c.model != "gpt5"]
    added = {t: counts(flow.url)[t] - n for t, n in flow.counts_before.items()}
    grid_sizes = sum(s.grid().size for s in builtin_scenarios().values())
    assert added == {"model_prices": 9, "runs": 3, "curve_points": grid_sizes, "choices": 12, "recommendations": 12}


def test_doubled_prices_lower_max_accuracy_k_to_what_the_cost_budget_allows(flow: Flow) -> None:
    scenario = builtin_scenarios()["balanced"]
    old = flow.before["balanced"].curves
    # Cost is linear in the prices: with the same draws, every mean cost doubles exactly.
    new_cost = 2.0 * old.cost.mean
    feasible = (
        (new_cost <= scenario.max_total_cost) & (old.time.mean <= scenario.max_total_time)
        & (old.accuracy.mean >= scenario.min_accuracy)
    )
    expected = int(old.k[np.argmax(np.where(feasible, old.accuracy.mean, -np.inf))])
    largest_within_cost = int(old.k[new_cost <= scenario.max_total_cost].max())
    assert expected == largest_within_cost  # the cost budget is what binds
    old_k = choice(flow.choices_before, "gpt5", "balanced", "max_accuracy").k
    new = choice(flow.store.choices(flow.sweep_id), "gpt5", "balanced", "max_accuracy")
    assert new.k == expected < old_k, (old_k, new.k, expected)
    assert new.total_cost <= scenario.max_total_cost < 2.0 * choice(
        flow.choices_before, "gpt5", "balanced", "max_accuracy").total_cost
    now = flow.store.curves(flow.sweep_id, "gpt5", "balanced").curves
    assert np.array_equal(now.cost.mean, new_cost)
    assert np.array_equal(now.time.mean, old.time.mean) and np.array_equal(now.accuracy.mean, old.accuracy.mean)


def test_recomputed_revision_equals_a_fresh_run_with_the_new_prices(flow: Flow) -> None:
    fresh_url = f"sqlite:///{flow.directory / 'fresh.db'}"
    sweep = write(flow.directory, "fresh.yaml", SWEEP.format(catalog=flow.prices.name))
    assert cli("run", str(sweep), "--db", fresh_url, "--workers", "1")[0] == 0
    with SqlStore(fresh_url) as fresh:
        fresh_id = fresh.latest_sweep_id()
        for model in PAPER_MODELS:
            for scenario in SCENARIOS:
                assert_same_curves(flow.store.curves(flow.sweep_id, model, scenario),
                                   fresh.curves(fresh_id, model, scenario))
        assert results_of(flow.store.choices(flow.sweep_id)) == results_of(fresh.choices(fresh_id))
        assert results_of(flow.store.recommendations(flow.sweep_id)) == results_of(fresh.recommendations(fresh_id))
        assert [m.spec for m in flow.store.run_models(flow.sweep_id)] == [
            m.spec for m in fresh.run_models(fresh_id)
        ]


def test_history_results_as_of_and_diff_report_the_change(flow: Flow) -> None:
    old_k = choice(flow.choices_before, "gpt5", "balanced", "max_accuracy").k
    new_k = choice(flow.store.choices(flow.sweep_id), "gpt5", "balanced", "max_accuracy").k

    history = cli_json("history", "--model", "gpt5", "--scenario", "balanced", "--db", flow.url)
    assert [r["revision"] for r in history["revisions"]] == [1, 2]
    assert [r["prices"]["c_out"] for r in history["revisions"]] == [1e-05, 2e-05]
    assert [r["choices"][0]["k"] for r in history["revisions"]] == [old_k, new_k]
    code, text, _ = cli("history", "--model", "gpt5", "--scenario", "balanced", "--db", flow.url)
    assert code == 0 and "revision 2" in text and "$20/M out" in text

    as_of_before = cli_json("results", "--as-of", flow.between.isoformat(), "--db", flow.url)
    now = cli_json("results", "--db", flow.url)
    assert as_of_before == as_json(results_document(flow.sweep_id, flow.choices_before, flow.recommendations_before))
    store = flow.store
    assert now == as_json(results_document(flow.sweep_id, store.choices(flow.sweep_id), store.recommendations(flow.sweep_id)))
    assert as_of_before != now
    today = cli_json("results", "--as-of", datetime.now(timezone.utc).date().isoformat(), "--db", flow.url)
    assert today == now  # a date means the end of that day
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    code, _, err = cli("results", "--as-of", yesterday, "--db", flow.url)
    assert code == 2 and "no finished sweep stored by" in err

    for argv in ((), ("--since", flow.between.isoformat()), ("--since", yesterday)):  # yesterday: before the sweep
        diff = cli_json("diff", *argv, "--db", flow.url)
        assert [(r["model"], r["scenario"]) for r in diff["runs"]] == [("gpt5", s) for s in SCENARIOS]
        max_accuracy = next(c for c in diff["runs"][0]["choices"] if c["method"] == "max_accuracy")
        assert (max_accuracy["old_k"], max_accuracy["new_k"]) == (old_k, new_k)
        assert max_accuracy["new_total_cost"] < 2 * max_accuracy["old_total_cost"]
        moved = {(r["scenario"], r["method"]) for r in diff["recommendations"] if r["changed"]}
        assert moved == {
            (r.scenario, r.method) for r in flow.recommendations_before
            if (r.model, r.k) != next((n.model, n.k) for n in flow.store.recommendations(flow.sweep_id)
                                      if (n.scenario, n.method) == (r.scenario, r.method))
        }
    assert cli_json("diff", "--since", datetime.now(timezone.utc).isoformat(), "--db", flow.url)["runs"] == []
    code, text, _ = cli("diff", "--db", flow.url)
    assert code == 0 and f"k {old_k:>5} -> {new_k:<5}" in text and "(k changed)" in text


def test_a_second_recalc_adds_nothing(flow: Flow) -> None:
    before = counts(flow.url)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INFSCALE_PRICE_SOURCE", str(flow.prices))
        code, text, _ = cli("recalc", "--db", flow.url, "--in-process")
        document = cli_json("recalc", "--db", flow.url, "--in-process")
    assert code == 0 and "nothing changed" in text
    assert document["changed"] is False and document["sweeps"] == []
    assert document["prices"]["changed"] == [] and len(document["prices"]["unchanged"]) == 9
    assert counts(flow.url) == before


# --- price files --------------------------------------------------------------------------------


def test_litellm_sample_imports_the_mapped_models_and_reports_the_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0  # only db upgrade (or run) creates a database
    document = cli_json("prices", "import", str(SAMPLE), "--catalog", str(LITELLM_CATALOG), "--db", url)
    assert document["format"] == "litellm"
    assert document["changed"] == [  # in the file's order
        "qwen3-max", "gpt5", "gpt5-mini", "gpt5-nano", "nvidia-nemotron-nano-9b-v2", "qwen3-30b-a3b",
    ]
    # Tiered prices only: priced from the tier that starts at 0 tokens, and said so.
    assert document["no_token_price"] == [] and document["first_tier"] == ["dashscope/qwen3-max"]
    assert document["ignored"] == [
        "sample_spec", "claude-sonnet-4-5", "standard/1024-x-1024/dall-e-3", "text-embedding-3-small", "whisper-1",
    ]
    assert document["unpriced"] == ["nvidia-nemotron-ultra-253b", "nvidia-nemotron-h-47b", "qwen3-next-80b-a3b"]
    # Each key the file lacks is named, with the file's nearest names (none close in this small sample).
    assert [m["litellm_key"] for m in document["missing_keys"]] == [
        "nvidia_nim/nvidia/llama-3.1-nemotron-ultra-253b-v1", "nvidia_nim/nvidia/nemotron-h-47b-reasoning-128k",
        "openrouter/qwen/qwen3-next-80b-a3b-instruct",
    ]
    sample = json.loads(SAMPLE.read_text())
    with SqlStore(url) as store:
        prices = store.prices()
        assert prices["gpt5"].prices.c_in == sample["gpt-5"]["input_cost_per_token"]
        assert prices["qwen3-30b-a3b"].prices.c_out == sample["openrouter/qwen/qwen3-30b-a3b"]["output_cost_per_token"]
        assert prices["gpt5"].prices.t_in is None  # LiteLLM says nothing about speed
    again = cli_json("prices", "import", str(SAMPLE), "--catalog", str(LITELLM_CATALOG), "--db", url)
    assert again["changed"] == [] and len(again["unchanged"]) == 6
    code, text, _ = cli("prices", "import", str(SAMPLE), "--catalog", str(LITELLM_CATALOG), "--db", url)
    assert code == 0 and "priced from the first tier of their tiered_pricing: dashscope/qwen3-max" in text
    assert "qwen3-next-80b-a3b: looked for 'openrouter/qwen/qwen3-next-80b-a3b-instruct', not in the file; near: " in text
    assert "names no model maps to, ignored (5)" in text
    listed = cli_json("prices", "list", "--db", url)["prices"]
    assert [p["model"] for p in listed] == sorted(document["changed"])


def test_litellm_names_map_through_the_stored_models_without_a_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0  # only db upgrade (or run) creates a database
    code, _, err = cli("prices", "import", str(SAMPLE), "--db", url)
    assert code == 2 and "no model has a litellm_key" in err and "--catalog" in err
    sweep = write(tmp_path, "small.yaml", SMALL_SWEEP.format(catalog=LITELLM_CATALOG))
    assert cli("run", str(sweep), "--db", url, "--workers", "1")[0] == 0
    document = cli_json("prices", "import", str(SAMPLE), "--db", url)
    assert document["changed"] == ["gpt5", "gpt5-nano"]  # the models of the stored sweep


def test_times_a_litellm_file_leaves_open_carry_over_from_the_catalog_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0  # only db upgrade (or run) creates a database
    catalog = write(tmp_path, "catalog.yaml", catalog_text())
    cli_json("prices", "import", str(catalog), "--db", url)
    document = cli_json("prices", "import", str(SAMPLE), "--catalog", str(LITELLM_CATALOG), "--db", url)
    # gpt-5's $ per token equal the catalog's; it changes only by the cached-input price the
    # catalog did not have (LiteLLM's cache_read_input_token_cost), the catalog's times kept.
    assert sorted(document["changed"]) == sorted(
        ["gpt5", "gpt5-mini", "gpt5-nano", "qwen3-max", "nvidia-nemotron-nano-9b-v2", "qwen3-30b-a3b"])
    with SqlStore(url) as store:
        in_force = store.prices()
        nano = in_force["nvidia-nemotron-nano-9b-v2"].prices
        assert (nano.c_in, nano.t_in) == (4e-08, PAPER_MODELS["nvidia-nemotron-nano-9b-v2"]["t_in"])
        assert nano.c_in_cached is None  # OpenRouter's entry has no cached price
        gpt5 = in_force["gpt5"].prices
        assert (gpt5.c_in, gpt5.t_in, gpt5.c_in_cached) == (1.25e-06, PAPER_MODELS["gpt5"]["t_in"], 1.25e-07)
    document = cli_json("prices", "import", str(SAMPLE), "--catalog", str(LITELLM_CATALOG), "--db", url)
    assert document["changed"] == []  # the same file again adds nothing, cached prices included


BAD_LITELLM = {
    "negative": ({"gpt-5": {"input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05},
                  "gpt-5-nano": {"input_cost_per_token": -5e-08, "output_cost_per_token": 4e-07}},
                 '"gpt-5-nano".input_cost_per_token: must be a finite number >= 0'),
    "non-numeric": ({"gpt-5": {"input_cost_per_token": "1.25e-06", "output_cost_per_token": 1e-05}},
                    '"gpt-5".input_cost_per_token: must be a finite number >= 0'),
    "entry not a mapping": ({"gpt-5": [1.25e-06, 1e-05]}, '"gpt-5": must be a mapping'),
    "top level a list": ([{"gpt-5": {}}], "(top level): must be a catalog"),
}


@pytest.mark.parametrize("case", list(BAD_LITELLM) + ["malformed json", "catalog negative", "catalog incomplete",
                                                       "missing file"])
def test_a_bad_price_file_is_one_line_exit_2_and_changes_nothing(flow: Flow, tmp_path: Path, case: str) -> None:
    if case in BAD_LITELLM:
        data, expected = BAD_LITELLM[case]
        path = write(tmp_path, "prices.json", json.dumps(data))
    elif case == "malformed json":
        path, expected = write(tmp_path, "prices.json", '{"gpt-5": {"input_cost_per_token": 1e-06,}}'), "invalid JSON"
    elif case == "catalog negative":
        path = write(tmp_path, "prices.yaml", catalog_text(-1.0))
        expected = "models.gpt5.c_in: must be >= 0, got -1.25e-06"
    elif case == "catalog incomplete":
        path = write(tmp_path, "prices.yaml", "models:\n  gpt5: {c_in: 1.0e-06, c_out: 2.0e-06}\n")
        expected = "models.gpt5.t_in: is required"
    else:
        path, expected = tmp_path / "nowhere.json", "cannot read price file"
    before = counts(flow.url)
    code, out, err = cli("prices", "import", str(path), "--catalog", str(LITELLM_CATALOG), "--db", flow.url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"infscale: error: {path}") and expected in err, err
    with pytest.MonkeyPatch.context() as env:  # the nightly job with a bad source: the same, nothing recomputed
        env.setenv("INFSCALE_PRICE_SOURCE", str(path))
        env.setenv("INFSCALE_PRICE_CATALOG", str(LITELLM_CATALOG))
        code, out, err = cli("recalc", "--db", flow.url, "--in-process")
    assert (code, out) == (2, "") and expected in err
    assert counts(flow.url) == before


def test_upgrade_from_0001_dates_existing_recommendations_by_their_sweep(tmp_path: Path) -> None:
    from alembic import command

    from infscale.storage.database import alembic_config, make_engine, upgrade, writer

    url = f"sqlite:///{tmp_path / 'old.db'}"
    sweep = write(tmp_path, "small.yaml", SMALL_SWEEP.format(catalog="builtin:paper"))
    assert cli("run", str(sweep), "--db", url, "--workers", "1")[0] == 0
    engine = make_engine(url)
    try:
        with writer(engine).begin() as connection:  # back to the schema before this feature
            command.downgrade(alembic_config(connection), "0001_initial")
    finally:
        engine.dispose()
    upgrade(url)
    with SqlStore(url) as store:
        finished = store.sweep(1).finished_at
        assert store.recommendations(1, as_of=finished) == store.recommendations(1)
        assert store.recommendations(1, as_of=finished - timedelta(microseconds=1)) == []


# --- PostgreSQL ---------------------------------------------------------------------------------


def test_recalc_on_postgresql(tmp_path: Path, fresh_postgres_url: str) -> None:
    url = fresh_postgres_url
    sweep = write(tmp_path, "small.yaml", SMALL_SWEEP.format(catalog="builtin:paper"))
    assert cli("run", str(sweep), "--db", url, "--workers", "1")[0] == 0
    between = datetime.now(timezone.utc)
    prices = write(tmp_path, "prices.yaml", catalog_text(2.0))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INFSCALE_PRICE_SOURCE", str(prices))
        first = cli_json("recalc", "--db", url, "--in-process", "--workers", "1")
        second = cli_json("recalc", "--db", url, "--in-process", "--workers", "1")
    assert first["sweeps"] == [{"sweep": 1, "models": ["gpt5"], "runs": 1, "stored": True}]
    assert second["changed"] is False
    old = cli_json("results", "--as-of", between.isoformat(), "--db", url)
    new = cli_json("results", "--db", url)
    old_k, new_k = (next(r["k"] for r in doc["results"] if (r["model"], r["method"]) == ("gpt5", "max_accuracy"))
                    for doc in (old, new))
    assert new_k < old_k
    history = cli_json("history", "--model", "gpt5", "--scenario", "balanced", "--db", url)
    assert [r["revision"] for r in history["revisions"]] == [1, 2]
    with SqlStore(url) as store:
        assert len(store.price_history()) == 9


# --- the nightly job on Celery -----------------------------------------------------------------


def test_beat_schedule_is_the_configured_crontab_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.schedules import crontab

    from infscale.workers.app import RECALC, make_app

    monkeypatch.delenv("INFSCALE_RECALC_SCHEDULE", raising=False)
    conf = make_app().conf
    assert conf.timezone == "UTC" and conf.enable_utc is True
    entry = conf.beat_schedule["recalc"]
    assert entry["task"] == RECALC and entry["schedule"] == crontab(minute="0", hour="2")  # nightly, 02:00 UTC
    monkeypatch.setenv("INFSCALE_RECALC_SCHEDULE", "30 3 * * 1-5")
    assert make_app().conf.beat_schedule["recalc"]["schedule"] == crontab(
        minute="30", hour="3", day_of_month="*", month_of_year="*", day_of_week="1-5"
    )
    for bad in ("0 2 * *", "61 2 * * *", "every night"):
        monkeypatch.setenv("INFSCALE_RECALC_SCHEDULE", bad)
        with pytest.raises(InfscaleError, match="INFSCALE_RECALC_SCHEDULE"):
            make_app()


def test_the_lock_admits_one_recalculation_at_a_time(redis_server: RedisServer) -> None:
    with exclusive(redis_server.url, 60) as first:
        with exclusive(redis_server.url, 60) as second:
            assert (first, second) == (True, False)
    with exclusive(redis_server.url, 60) as again:
        assert again  # released by its holder
    with exclusive(redis_server.url, 0.2) as holder:
        assert holder
        time.sleep(0.4)  # its holder died, as it were: the lock expires
        with exclusive(redis_server.url, 60) as next_one:
            assert next_one


def test_recalc_runs_on_a_worker_and_a_second_trigger_is_harmless(tmp_path: Path, redis_server: RedisServer) -> None:
    url = f"sqlite:///{tmp_path / 'infscale.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0  # only db upgrade (or run) creates a database
    sweep = write(tmp_path, "small.yaml", SMALL_SWEEP.format(catalog="builtin:paper"))
    assert cli("run", str(sweep), "--db", url, "--workers", "1")[0] == 0
    prices = write(tmp_path, "prices.yaml", catalog_text(2.0))
    worker = Worker("recalc", redis_server.url, url, tmp_path, concurrency=2,
                    env={"INFSCALE_PRICE_SOURCE": str(prices)}).start()
    try:
        # While another recalculation holds the lock, a trigger does nothing at all.
        with exclusive(redis_server.url, 60):
            held = cli_json("recalc", "--broker", redis_server.url, "--timeout", "60")
        assert held["skipped"] and held["sweeps"] == [] and counts(url)["model_prices"] == 0

        # Two triggers at once (as from two beats): one recomputes, the other finds nothing to do.
        from infscale.workers.app import RECALC, make_app

        app = make_app(redis_server.url)
        results = [app.send_task(RECALC) for _ in range(2)]
        documents = [r.get(timeout=60) for r in results]
        stored = [s for d in documents for s in d["sweeps"] if s["stored"]]
        assert stored == [{"sweep": 1, "models": ["gpt5"], "runs": 1, "stored": True}], documents
        assert counts(url)["runs"] == 3 and counts(url)["recommendations"] == 8

        again = cli_json("recalc", "--broker", redis_server.url, "--timeout", "60")
        assert again["changed"] is False and again["prices"]["changed"] == []
        assert counts(url)["runs"] == 3
        worker.kill()

        # A bad price source fails the task; the caller gets its one line, nothing changes.
        bad = write(tmp_path, "bad.yaml", catalog_text(-1.0))
        worker = Worker("bad", redis_server.url, url, tmp_path, env={"INFSCALE_PRICE_SOURCE": str(bad)}).start()
        before = counts(url)
        code, out, err = cli("recalc", "--broker", redis_server.url, "--timeout", "60")
        assert (code, out) == (2, "") and err.count("\n") == 1
        assert "failed on a worker" in err and "models.gpt5.c_in: must be >= 0" in err
        assert counts(url) == before
    except BaseException:
        print(worker.log()[-4000:])  # shown with the failure
        raise
    finally:
        worker.kill()


def test_recalc_with_the_broker_down_runs_in_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'infscale.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0  # only db upgrade (or run) creates a database
    code, out, err = cli("recalc", "--broker", f"redis://127.0.0.1:{free_port()}/0", "--db", url)
    assert code == 0 and "recalculating in this process" in err and "nothing changed" in out

