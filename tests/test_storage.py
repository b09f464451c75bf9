"""storage/: schema, codec and SqlStore on SQLite and PostgreSQL.

Every SqlStore test runs on both backends. PostgreSQL tests share one database per session
(see conftest.py), so they look only at their own sweep ids, or at row-count differences.
"""

from __future__ import annotations

import dataclasses
import io
import math
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, exc, text
from sqlalchemy.engine import make_url

from infscale.engine.errors import InfscaleError
from infscale.engine.pipeline import SweepResult, finish_group, recommend_all, run_sweep, simulate_shard
from infscale.engine.plan import block_plan, plan_sweep, shard_ranges, simulation_groups
from infscale.engine.specs import SweepSpec
from infscale.engine.statistics import METRICS, Partial
from infscale.readers.sweep_files import sweep_from_yaml
from infscale.storage.codec import FIELDS, MAGIC, MAGIC_V1, partial_from_bytes, partial_to_bytes
from infscale.config import DEFAULT_DATABASE_URL, database_url
from infscale.storage.database import head_revision, make_engine, upgrade
from infscale.storage.errors import CorruptPartial, NotFound
from infscale.storage.records import STATS
from infscale.storage import MEMORY_URL, open_store
from infscale.storage.interface import Storage
from infscale.storage.rows import SavedPartial, ShardStart
from infscale.storage.sql import SqlStore
from infscale.storage.tables import Base
from tests.link import Link
from tests.services import wait_for

TABLES = (
    "sweeps", "simulations", "partials", "shard_leases", "runs", "curve_points", "choices", "recommendations",
    "model_prices",
)


# --- fixtures ------------------------------------------------------------------------------------


def make_sweep(text_: str) -> SweepSpec:
    return sweep_from_yaml(text_, "t.yaml", lambda p: Path(p).read_text())


@pytest.fixture(scope="module")
def tiny() -> tuple[SweepSpec, SweepResult]:
    """2 models x 1 scenario, 300 trials: one block, one group per model."""
    sweep = make_sweep("name: t\nmodels: [gpt5, gpt5-mini]\nscenarios: [balanced]\ntrials: 300\nseed: 1\n")
    return sweep, run_sweep(sweep)


@pytest.fixture(scope="module")
def sharded() -> tuple[SweepSpec, dict[str, list[Partial]]]:
    """2 models x 2 scenarios with different k grids (4 groups), 3 blocks each, one shard per block."""
    sweep = make_sweep(
        "name: s\nmodels: [gpt5-mini, gpt5]\nscenarios: [latency-critical, balanced]\ntrials: 2100\nseed: 7\n"
    )
    n_blocks = block_plan(sweep).n_blocks
    assert n_blocks == 3
    shards = {
        group.key: [simulate_shard(sweep, group, r) for r in shard_ranges(n_blocks, 1)]
        for group in simulation_groups(sweep)
    }
    return sweep, shards


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'infscale.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database nobody has migrated yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture()
def sql_store(url: str) -> Iterator[SqlStore]:
    with SqlStore(url) as s:
        yield s


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The storage contract: every test taking this runs on the in-memory store, SQLite and
    PostgreSQL alike (lines that look at SQL rows directly run where there are rows)."""
    if request.param == "memory":
        yield open_store(MEMORY_URL)
        return
    url = f"sqlite:///{tmp_path / 'infscale.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with SqlStore(url) as s:
        yield s


def is_sql(store: Storage) -> bool:
    return store.url != MEMORY_URL


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def scalar(url: str, sql: str, **params: object) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def without_ids(rows: list) -> list:
    """Rows with their sweep and run ids blanked, to compare two sweeps' results."""
    return [
        dataclasses.replace(r, sweep_id=0, **({"run_id": 0} if hasattr(r, "run_id") else {})) for r in rows
    ]


def assert_same_array(stored: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype and shape, every value identical (NaN where the engine has NaN)."""
    assert stored.dtype == expected.dtype and stored.shape == expected.shape
    assert np.array_equal(stored, expected, equal_nan=expected.dtype.kind == "f")


def assert_same_partials(stored: list[Partial], expected: list[Partial]) -> None:
    assert len(stored) == len(expected) and all(a.equals(b) for a, b in zip(stored, expected))


def assert_same_curves(stored, expected) -> None:  # noqa: ANN001 (engine Curves)
    assert stored.trials == expected.trials
    assert_same_array(stored.k, expected.k)
    assert_same_array(stored.feasible_probability, expected.feasible_probability)
    for metric in METRICS:
        for stat in STATS:
            assert_same_array(getattr(getattr(stored, metric), stat), getattr(getattr(expected, metric), stat))


# --- schema --------------------------------------------------------------------------------------


def test_migrated_schema_matches_orm_metadata(fresh_url: str) -> None:
    upgrade(fresh_url)
    upgrade(fresh_url)  # at head already: a no-op
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            # The comparison does see the database: against no tables, all of them are extra.
            removed = {d[1].name for d in compare_metadata(context, MetaData()) if d[0] == "remove_table"}
            assert removed == set(TABLES)
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
    finally:
        engine.dispose()


def test_the_revisions_read_off_the_file_names_are_alembics() -> None:
    """head_revision and known_revisions skip importing alembic: they must say what it says."""
    from alembic.script import ScriptDirectory

    from infscale.storage.database import alembic_config, known_revisions

    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    assert known_revisions() == [s.revision for s in reversed(list(scripts.walk_revisions()))]


def test_concurrent_upgrades_migrate_once(fresh_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def migrate() -> None:
        barrier.wait()
        try:
            upgrade(fresh_url)
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert scalar(fresh_url, "SELECT count(*) FROM alembic_version") == 1


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000
    finally:
        engine.dispose()


def test_database_url_prefers_explicit_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFSCALE_DATABASE_URL", raising=False)
    assert database_url() == DEFAULT_DATABASE_URL == "sqlite:///infscale.db"
    monkeypatch.setenv("INFSCALE_DATABASE_URL", "sqlite:///from-env.db")
    assert database_url() == "sqlite:///from-env.db"
    assert database_url("sqlite:///explicit.db") == "sqlite:///explicit.db"


def test_plain_postgresql_urls_use_psycopg(postgres_url: str) -> None:
    plain = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    assert plain.startswith("postgresql://")
    engine = make_engine(plain)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
    with SqlStore(plain) as store:
        assert isinstance(store.sweeps(), list)


def test_a_pooled_connection_the_server_closed_is_replaced_without_a_ping(
    fresh_postgres_url: str, postgres_admin
) -> None:
    """No ping before each transaction (a round trip each, across a network): a read is BEGIN,
    its SELECT and COMMIT on the wire; and a connection whose backend was terminated (as by a
    restart) is replaced at checkout, so the next query succeeds."""
    SqlStore(fresh_postgres_url).close()  # migrated
    url = make_url(fresh_postgres_url)
    link = Link(url.port or 5432).start()
    try:
        with SqlStore(url.set(port=link.port).render_as_string(hide_password=False), upgrade_schema=False) as store:
            assert store.sweeps() == []  # a connection now waits in the pool
            before = link.round_trips()
            assert store.sweeps() == []
            assert link.round_trips() - before == 3
            with postgres_admin.connect() as admin:
                assert admin.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"
                ), {"name": url.database}).scalar() >= 1
            wait_for(lambda: _no_backends(postgres_admin, url.database), 10, "the backend to end")
            # The backend's end reaches the pooled connection through the link a moment later;
            # until it has, nothing on the client's side can tell (the race any network has).
            wait_for(lambda: link.open_connections() == 0, 10, "the link to pass the server's close on")
            assert store.sweeps() == []
    finally:
        link.stop()


def _no_backends(admin, database: str) -> bool:
    with admin.connect() as connection:
        return not connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": database}
        ).scalar()


# --- codec ---------------------------------------------------------------------------------------


def test_codec_round_trip_is_bit_exact_and_compact(sharded: tuple[SweepSpec, dict[str, list[Partial]]]) -> None:
    sweep, _ = sharded
    group = simulation_groups(sweep)[0]
    partial = simulate_shard(sweep, group, range(2))
    data = partial_to_bytes(partial)
    back = partial_from_bytes(data)
    assert back.equals(partial)
    for name in ("blocks", "trials", "sums", "m2", "feasible", "hist"):
        assert getattr(back, name).dtype == getattr(partial, name).dtype
        assert getattr(back, name).tobytes() == getattr(partial, name).tobytes()  # bit for bit
    assert partial_to_bytes(back) == data  # deterministic
    raw = sum(getattr(partial, n).nbytes for n in ("blocks", "trials", "sums", "m2", "feasible", "hist"))
    assert len(data) < raw / 2


def test_codec_reads_partials_stored_in_the_first_format(sharded: tuple[SweepSpec, dict[str, list[Partial]]]) -> None:
    # ISP1, as stored before the compact histogram: zlib over the six arrays in .npy format.
    sweep, _ = sharded
    partial = simulate_shard(sweep, simulation_groups(sweep)[0], range(2))
    buffer = io.BytesIO()
    for name in FIELDS:
        np.save(buffer, getattr(partial, name), allow_pickle=False)
    old = MAGIC_V1 + zlib.compress(buffer.getvalue(), 1)
    assert partial_from_bytes(old).equals(partial)
    assert len(partial_to_bytes(partial)) < len(old)


def test_codec_rejects_foreign_truncated_and_pickled_bytes() -> None:
    with pytest.raises(CorruptPartial, match="marker"):
        partial_from_bytes(b"not a partial")
    good = partial_to_bytes(_small_partial())
    with pytest.raises(CorruptPartial):
        partial_from_bytes(good[:-5])
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptPartial):
        partial_from_bytes(MAGIC + zlib.compress(buffer.getvalue()))


def _small_partial():  # noqa: ANN202 (engine Partial)
    sweep = make_sweep("name: c\nmodels: [gpt5-nano]\nscenarios: [balanced]\ntrials: 10\nseed: 3\n")
    return simulate_shard(sweep, simulation_groups(sweep)[0], range(1))


# --- SqlStore: a sweep computed in-process -------------------------------------------------------------


def test_save_local_result_round_trips_every_value(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    sweep_id = store.save_local_result(plan_sweep(sweep), result)

    row = store.sweep(sweep_id)
    assert (row.name, row.source, row.status, row.mode, row.trials, row.seed, row.error) == (
        "t", "t.yaml", "done", "standard", 300, 1, None,
    )
    assert row.created_at.tzinfo == timezone.utc and row.finished_at.tzinfo == timezone.utc
    assert row.created_at <= row.finished_at
    spec = store.sweep_spec(sweep_id)
    assert spec == sweep and spec.source == sweep.source
    assert store.latest_sweep_id() == sweep_id

    for run in result.runs:
        stored = store.curves(sweep_id, run.model.key, run.scenario.name)
        assert (stored.model, stored.scenario) == (run.model.key, run.scenario.name)
        assert_same_curves(stored.curves, run.curves)
        assert_same_array(stored.feasible, run.decision.feasible)
        assert_same_array(stored.on_frontier, run.decision.frontier)

    expected_choices = [(r.model.key, r.scenario.name, c) for r in result.runs for c in r.decision.choices]
    stored_choices = store.choices(sweep_id)
    assert len(stored_choices) == len(expected_choices) == 8
    for got, (model, scenario, choice) in zip(stored_choices, expected_choices):
        assert (got.sweep_id, got.model, got.scenario) == (sweep_id, model, scenario)
        assert (got.method, got.status, got.k, got.total_cost, got.total_time, got.accuracy, got.reason) == (
            choice.method.value, choice.status.value, choice.k, choice.total_cost, choice.total_time,
            choice.accuracy, choice.reason,
        )
        assert got.confidence is None
    assert [c.model for c in store.choices(sweep_id, model="gpt5-mini")] == ["gpt5-mini"] * 4
    assert len(store.choices(sweep_id, model="gpt5", scenario="balanced")) == 4

    stored_recs = store.recommendations(sweep_id)
    assert len(stored_recs) == len(result.recommendations) == 4
    for got, rec in zip(stored_recs, result.recommendations):
        assert (got.sweep_id, got.scenario, got.method, got.status, got.model, got.k) == (
            sweep_id, rec.scenario, rec.method.value, rec.status.value, rec.model, rec.k,
        )
        assert (got.total_cost, got.total_time, got.accuracy, got.reason) == (
            rec.total_cost, rec.total_time, rec.accuracy, rec.reason,
        )
    assert store.recommendations(sweep_id, scenario="balanced") == stored_recs

    rebuilt = store.run_results(sweep_id)
    assert len(rebuilt) == len(result.runs)
    for got, run in zip(rebuilt, result.runs):
        assert got.model == run.model and got.scenario == run.scenario
        assert got.decision.choices == run.decision.choices
    assert recommend_all(sweep, rebuilt) == result.recommendations


def test_nan_standard_error_is_stored_as_null(sql_store: SqlStore) -> None:
    sweep = make_sweep("name: one\nmodels: [gpt5]\nscenarios: [balanced]\ntrials: 1\nseed: 5\n")
    result = run_sweep(sweep)
    assert np.isnan(result.runs[0].curves.cost.se).all()
    sweep_id = sql_store.save_local_result(plan_sweep(sweep), result)
    stored = sql_store.curves(sweep_id, "gpt5", "balanced")
    assert_same_curves(stored.curves, result.runs[0].curves)
    nulls = scalar(
        sql_store.url,
        "SELECT count(*) FROM curve_points JOIN runs ON runs.id = curve_points.run_id "
        "WHERE runs.sweep_id = :id AND cost_se IS NULL AND time_se IS NULL AND accuracy_se IS NULL "
        "AND cost_mean IS NOT NULL",
        id=sweep_id,
    )
    assert nulls == result.runs[0].curves.k.size == 32


def test_failed_save_leaves_no_rows(sql_store: SqlStore, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    # The last run's curves carry a NaN mean, which the schema refuses (NOT NULL): by then the
    # sweep, its simulations, its runs and the first run's points have all been written.
    last = result.runs[-1]
    bad_cost = dataclasses.replace(last.curves.cost, mean=last.curves.cost.mean.copy())
    bad_cost.mean[3] = math.nan
    bad_run = dataclasses.replace(last, curves=dataclasses.replace(last.curves, cost=bad_cost))
    bad = SweepResult(result.runs[:-1] + (bad_run,), result.recommendations)
    before = row_counts(sql_store.url)
    with pytest.raises(exc.IntegrityError):
        sql_store.save_local_result(plan_sweep(sweep), bad)
    assert row_counts(sql_store.url) == before


# --- SqlStore: a sweep computed by workers ----------------------------------------------------------------


def test_create_sweep_plans_simulations_shards_and_pending_runs(
    store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]
) -> None:
    sweep, _ = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 2))
    assert store.sweep(sweep_id).status == "pending"
    assert store.sweep(sweep_id).finished_at is None
    groups = [g.key for g in simulation_groups(sweep)]
    assert len(groups) == 4
    assert store.shard_counts(sweep_id) == {key: (0, 2) for key in groups}
    assert store.choices(sweep_id) == [] and store.recommendations(sweep_id) == []
    if is_sql(store):
        assert scalar(store.url, "SELECT count(*) FROM runs WHERE sweep_id = :id AND status = 'pending'", id=sweep_id) == 4
    with pytest.raises(NotFound, match="no curves yet"):
        store.curves(sweep_id, "gpt5", "balanced")
    one_shard = store.create_sweep(plan_sweep(sweep))
    assert set(store.shard_counts(one_shard).values()) == {(0, 1)}
    assert store.latest_sweep_id() != sweep_id


def test_duplicate_partial_is_a_no_op(store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]) -> None:
    sweep, shards = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1))
    key = simulation_groups(sweep)[0].key
    assert store.save_partial(sweep_id, key, 1, shards[key][1], seconds=0.5).stored is True
    assert store.save_partial(sweep_id, key, 1, shards[key][2], seconds=9.0).stored is False
    assert_same_partials(store.partials(sweep_id, key), [shards[key][1]])
    assert store.shard_counts(sweep_id)[key] == (1, 3)
    if is_sql(store):
        rows = scalar(
            store.url,
            "SELECT count(*) FROM partials JOIN simulations ON simulations.id = partials.simulation_id "
            "WHERE simulations.sweep_id = :id AND partials.trials = 1024 AND partials.seconds = 0.5",
            id=sweep_id,
        )
        assert rows == 1
    assert [(t.shard_index, t.trials, t.seconds) for t in store.partial_times(sweep_id)] == [(1, 1024, 0.5)]
    with pytest.raises(ValueError, match="outside"):
        store.save_partial(sweep_id, key, 3, shards[key][0], seconds=0.0)


def test_progress_counts_shards_trials_and_finished_runs(
    store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]
) -> None:
    sweep, shards = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1), status="running")
    groups = simulation_groups(sweep)
    assert [dataclasses.astuple(g) for g in store.progress(sweep_id)] == [(g.key, 3, 0, 0, 1, 0) for g in groups]
    first = groups[0]
    trials = [p.n_trials for p in shards[first.key]]
    assert trials == [1024, 1024, 52]
    saved = [store.save_partial(sweep_id, first.key, i, shards[first.key][i], seconds=0.25) for i in (2, 0, 1)]
    assert saved == [SavedPartial(True, False), SavedPartial(True, False), SavedPartial(True, True)]
    duplicate = store.save_partial(sweep_id, first.key, 0, shards[first.key][0], seconds=9.0)
    assert duplicate == SavedPartial(stored=False, completed_group=False)
    progress = store.progress(sweep_id)
    assert (progress[0].shards_done, progress[0].trials_done) == (3, 2100)
    assert progress[0].complete and not progress[0].finished
    assert not progress[1].complete

    partials = store.partials(sweep_id, first.key)
    assert store.finish_group(sweep_id, first.key, finish_group(sweep, first, partials))
    assert store.progress(sweep_id)[0].finished and not store.progress(sweep_id)[1].finished

    times = store.partial_times(sweep_id)
    assert [(t.group_key, t.shard_index, t.trials, t.seconds) for t in times] == [
        (first.key, i, trials[i], 0.25) for i in (2, 0, 1)
    ]
    assert all(t.created_at.tzinfo == timezone.utc for t in times)
    assert [t.created_at for t in times] == sorted(t.created_at for t in times)
    with pytest.raises(NotFound):
        store.progress(10**9)


def test_of_shards_stored_at_once_exactly_one_completes_its_group(
    store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]
) -> None:
    """Every shard delivered twice, all at once from 8 threads: each partial is stored once and
    each group completed by exactly one of them (the one whose reduce is then sent)."""
    sweep, shards = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1), status="running")
    deliveries = [(key, index) for key, parts in shards.items() for index in range(len(parts))] * 2
    with ThreadPoolExecutor(8) as pool:
        saved = list(pool.map(
            lambda d: (d[0], store.save_partial(sweep_id, d[0], d[1], shards[d[0]][d[1]], seconds=0.0)), deliveries
        ))
    for key, parts in shards.items():
        outcomes = [s for k, s in saved if k == key]
        assert sum(s.stored for s in outcomes) == len(parts)
        assert sum(s.completed_group for s in outcomes) == 1
    assert all(g.complete for g in store.progress(sweep_id))
    store.cancel_sweep(sweep_id)  # PostgreSQL's database is shared by the session's tests


def test_starting_a_shard_leases_it_while_its_sweep_is_open(
    store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]
) -> None:
    sweep, _ = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1), status="running")
    key = simulation_groups(sweep)[0].key
    started = store.start_shard(sweep_id, key, 1, "w1", timedelta(seconds=30))
    assert started == ShardStart(sweep_open=True, sweep_created_at=store.sweep(sweep_id).created_at)
    store.start_shard(sweep_id, key, 1, "w2", timedelta(seconds=30))  # a second delivery takes it over
    assert [(h.group_key, h.shard_index, h.holder) for h in store.shard_leases(sweep_id)] == [(key, 1, "w2")]
    store.cancel_sweep(sweep_id)
    assert store.start_shard(sweep_id, key, 2, "w3", timedelta(seconds=30)) == ShardStart(False, None)
    assert [h.holder for h in store.shard_leases(sweep_id)] == ["w2"]  # an ended sweep is leased no more
    with pytest.raises(NotFound):
        store.start_shard(sweep_id, "no/such/group", 0, "w4", timedelta(seconds=30))


def test_sweeps_can_be_filtered_by_status(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    open_id = store.create_sweep(plan_sweep(sweep), status="running")
    done_id = store.save_local_result(plan_sweep(sweep), result)
    open_ids = [r.id for r in store.sweeps(["pending", "running"])]
    assert open_id in open_ids and done_id not in open_ids
    assert done_id in [r.id for r in store.sweeps(["done"])]
    assert [r.id for r in store.sweeps()][-2:] == [open_id, done_id]
    with pytest.raises(ValueError):
        store.sweeps(["finished"])


def test_worker_path_matches_the_local_run(store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]]) -> None:
    sweep, shards = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1), status="running")
    for key, parts in shards.items():
        for index in reversed(range(len(parts))):  # arrival order does not matter
            assert store.save_partial(sweep_id, key, index, parts[index], seconds=0.1).stored
    assert set(store.shard_counts(sweep_id).values()) == {(3, 3)}
    assert [p.blocks.tolist() for p in store.partials(sweep_id, key)] == [[0], [1], [2]]

    first = simulation_groups(sweep)[0]
    first_runs = finish_group(sweep, first, shards[first.key])
    assert store.finish_group(sweep_id, first.key, first_runs) is True
    assert store.finish_sweep(sweep_id, []) is False  # other groups still pending
    assert store.sweep(sweep_id).status == "running"
    with pytest.raises(ValueError, match="do not match"):
        store.finish_group(sweep_id, simulation_groups(sweep)[1].key, first_runs)

    runs = list(first_runs)
    for group in simulation_groups(sweep)[1:]:
        group_runs = finish_group(sweep, group, store.partials(sweep_id, group.key))
        assert store.finish_group(sweep_id, group.key, group_runs) is True
        runs.extend(group_runs)
    recommendations = recommend_all(sweep, store.run_results(sweep_id))
    assert store.finish_sweep(sweep_id, recommendations) is True
    assert store.finish_sweep(sweep_id, recommendations) is False
    assert store.sweep(sweep_id).status == "done"

    local = run_sweep(sweep)
    local_id = store.save_local_result(plan_sweep(sweep), local)
    assert without_ids(store.choices(sweep_id)) == without_ids(store.choices(local_id))
    assert without_ids(store.recommendations(sweep_id)) == without_ids(store.recommendations(local_id))
    for run in local.runs:
        assert_same_curves(store.curves(sweep_id, run.model.key, run.scenario.name).curves, run.curves)
    assert [c.model for c in store.choices(sweep_id)[::4]] == ["gpt5-mini"] * 2 + ["gpt5"] * 2
    assert [c.scenario for c in store.choices(sweep_id)[::4]] == ["latency-critical", "balanced"] * 2


def test_the_reduce_reads_a_few_scenarios_runs_at_a_time(
    store: Storage, sharded: tuple[SweepSpec, dict[str, list[Partial]]], monkeypatch
) -> None:
    """The sweep's last reduce recommends from the runs of SCENARIOS_PER_READ scenarios at a
    time (its memory then does not grow with the scenario count): one scenario at a time gives
    the recommendations of the local run, and run_results(scenarios) reads only theirs."""
    from infscale.scheduler import reduce

    sweep, shards = sharded
    sweep_id = store.create_sweep(plan_sweep(sweep, 1), status="running")
    for key, parts in shards.items():
        for index, part in enumerate(parts):
            assert store.save_partial(sweep_id, key, index, part, seconds=0.1).stored
    for group in simulation_groups(sweep):
        assert store.finish_group(sweep_id, group.key, finish_group(sweep, group, store.partials(sweep_id, group.key)))
    names = [s.name for s in sweep.scenarios]
    only = store.run_results(sweep_id, names[1:])
    assert [(r.model.key, r.scenario.name) for r in only] == [(m.key, names[1]) for m in sweep.models]
    monkeypatch.setattr(reduce, "SCENARIOS_PER_READ", 1)
    assert reduce.finish_sweep(store, sweep_id, sweep) is True
    local_id = store.save_local_result(plan_sweep(sweep), run_sweep(sweep))
    assert without_ids(store.recommendations(sweep_id)) == without_ids(store.recommendations(local_id))


def test_finish_group_twice_writes_once(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    sweep_id = store.create_sweep(plan_sweep(sweep))
    group = simulation_groups(sweep)[0]
    group_runs = [r for r in result.runs if r.model.key == group.model.key]
    assert store.finish_group(sweep_id, group.key, group_runs) is True
    after_first = row_counts(store.url) if is_sql(store) else None
    choices = store.choices(sweep_id)
    assert store.finish_group(sweep_id, group.key, group_runs) is False
    assert store.choices(sweep_id) == choices
    if is_sql(store):
        assert row_counts(store.url) == after_first
        points = scalar(
            store.url,
            "SELECT count(*) FROM curve_points JOIN runs ON runs.id = curve_points.run_id WHERE runs.sweep_id = :id",
            id=sweep_id,
        )
        assert points == group_runs[0].curves.k.size


def test_concurrent_finish_group_writes_once(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    sweep_id = store.create_sweep(plan_sweep(sweep))
    group = simulation_groups(sweep)[1]
    group_runs = [r for r in result.runs if r.model.key == group.model.key]
    outcomes = _race(4, lambda: store.finish_group(sweep_id, group.key, group_runs))
    assert sorted(outcomes) == [False, False, False, True]
    assert len(store.choices(sweep_id)) == 4


def test_failed_finish_group_leaves_runs_pending(sql_store: SqlStore, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    sweep_id = sql_store.create_sweep(plan_sweep(sweep))
    group = simulation_groups(sweep)[0]
    run = next(r for r in result.runs if r.model.key == group.model.key)
    bad_time = dataclasses.replace(run.curves.time, mean=np.full_like(run.curves.time.mean, np.nan))
    bad = dataclasses.replace(run, curves=dataclasses.replace(run.curves, time=bad_time))
    before = row_counts(sql_store.url)
    with pytest.raises(exc.IntegrityError):
        sql_store.finish_group(sweep_id, group.key, [bad])
    assert row_counts(sql_store.url) == before
    assert sql_store.finish_group(sweep_id, group.key, [run]) is True  # the retry succeeds


def test_cancel_and_fail_end_the_sweep_and_its_pending_runs(
    store: Storage, tiny: tuple[SweepSpec, SweepResult]
) -> None:
    sweep, result = tiny
    sweep_id = store.create_sweep(plan_sweep(sweep))
    assert store.set_sweep_status(sweep_id, "running") is True
    assert store.sweep(sweep_id).status == "running"
    assert store.cancel_sweep(sweep_id) is True
    row = store.sweep(sweep_id)
    assert row.status == "cancelled" and row.finished_at is not None
    if is_sql(store):
        assert scalar(store.url, "SELECT count(*) FROM runs WHERE sweep_id = :id AND status = 'cancelled'", id=sweep_id) == 2
    group = simulation_groups(sweep)[0]
    group_runs = [r for r in result.runs if r.model.key == group.model.key]
    assert store.finish_group(sweep_id, group.key, group_runs) is False
    assert store.fail_sweep(sweep_id, "too late") is False
    assert store.set_sweep_status(sweep_id, "running") is False
    assert store.sweep(sweep_id).status == "cancelled"

    failed = store.create_sweep(plan_sweep(sweep))
    assert store.fail_sweep(failed, "worker lost") is True
    assert (store.sweep(failed).status, store.sweep(failed).error) == ("failed", "worker lost")
    if is_sql(store):
        assert scalar(store.url, "SELECT count(*) FROM runs WHERE sweep_id = :id AND error = 'worker lost'", id=failed) == 2
    assert store.finish_sweep(failed, result.recommendations) is False
    assert store.recommendations(failed) == []
    with pytest.raises(ValueError):
        store.set_sweep_status(failed, "exploded")
    assert [s.id for s in store.sweeps()][-2:] == [sweep_id, failed]


def test_missing_things_raise_not_found(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    sweep, result = tiny
    sweep_id = store.save_local_result(plan_sweep(sweep), result)
    missing = sweep_id + 1000
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: store.sweep(missing), f"sweep {missing} does not exist"),
        (lambda: store.sweep_spec(missing), "does not exist"),
        (lambda: store.choices(missing), "does not exist"),
        (lambda: store.recommendations(missing), "does not exist"),
        (lambda: store.shard_counts(missing), "does not exist"),
        (lambda: store.curves(missing, "gpt5", "balanced"), "does not exist"),
        (lambda: store.cancel_sweep(missing), "does not exist"),
        (lambda: store.save_partial(missing, "gpt5/P4/k128/multiples", 0, _small_partial(), 0.0), "does not exist"),
        (lambda: store.curves(sweep_id, "gpt5-nano", "balanced"), "no model 'gpt5-nano' (models: gpt5, gpt5-mini)"),
        (lambda: store.curves(sweep_id, "gpt5", "offline"), "no scenario 'offline' (scenarios: balanced)"),
        (lambda: store.choices(sweep_id, scenario="offline"), "no scenario 'offline'"),
        (lambda: store.recommendations(sweep_id, scenario="offline"), "no scenario 'offline'"),
        (lambda: store.partials(sweep_id, "gpt5/P8/k64/multiples"), "no simulation group 'gpt5/P8/k64/multiples'"),
        (lambda: store.finish_group(sweep_id, "nope", []), "no simulation group 'nope'"),
    ]
    for call, message in calls:
        with pytest.raises(NotFound, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
    assert issubclass(NotFound, InfscaleError)


def _race(n: int, call: Callable[[], bool]) -> list[bool]:
    """Run `call` in n threads released at once; their results (an exception fails the test)."""
    barrier = threading.Barrier(n)
    outcomes: list[object] = []

    def worker() -> None:
        barrier.wait()
        try:
            outcomes.append(call())
        except BaseException as error:  # noqa: BLE001 (reported below)
            outcomes.append(error)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(o, bool) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


# --- the contract: prices and revisions ------------------------------------------------------------


def test_prices_and_revisions_follow_the_contract(store: Storage, tiny: tuple[SweepSpec, SweepResult]) -> None:
    from datetime import datetime, timedelta

    from infscale.engine.prices import PriceQuote, Prices

    sweep, result = tiny
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = store.import_prices([PriceQuote("gpt5", Prices(1e-6, 2e-6, 1e-3, 2e-3))], "a.yaml", t0)
    assert (first.changed, first.unchanged) == (("gpt5",), ())
    again = store.import_prices([PriceQuote("gpt5", Prices(1e-6, 2e-6))], "b.yaml", t0 + timedelta(days=1))
    assert (again.changed, again.unchanged) == ((), ("gpt5",))  # open times carried over: nothing new
    store.import_prices([PriceQuote("gpt5", Prices(3e-6, 2e-6))], "c.yaml", t0 + timedelta(days=2))
    assert [(r.prices.c_in, r.prices.t_in, r.source) for r in store.price_history("gpt5")] == [
        (1e-6, 1e-3, "a.yaml"), (3e-6, 1e-3, "c.yaml"),
    ]
    assert store.prices(t0 + timedelta(hours=1))["gpt5"].prices.c_in == 1e-6

    sweep_id = store.save_local_result(plan_sweep(sweep), result)
    current = {(m.model, m.scenario): m.revision for m in store.run_models(sweep_id)}
    assert set(current.values()) == {1}
    redone = [r for r in result.runs if r.model.key == "gpt5"]
    assert store.save_revision(sweep_id, redone, result.recommendations, current) is True
    assert store.save_revision(sweep_id, redone, result.recommendations, current) is False  # stale basis
    assert [r.revision for r in store.run_history(sweep_id, "gpt5", "balanced")] == [1, 2]
    changes = store.changes(sweep_id)
    assert [(c.old.revision, c.new.revision, c.new.model) for c in changes.runs] == [(1, 2, "gpt5")]
    assert len(changes.recommendations) == len(result.recommendations)
    assert not any(c.changed for c in changes.recommendations)  # same picks, new revision
    assert {m.model: m.revision for m in store.run_models(sweep_id)} == {"gpt5": 2, "gpt5-mini": 1}
    # progress counts each run once, at its current revision
    assert [(g.n_runs, g.runs_done) for g in store.progress(sweep_id)] == [(len(sweep.scenarios),) * 2] * 2
    assert set(store.stored_models()) == {"gpt5", "gpt5-mini"}
