"""Distributed sweeps end to end: a real redis-server, real `celery worker` processes, real
SQLite files and a real PostgreSQL database; nothing mocked.

Every run that completes is compared with a local run of the same sweep (`run_local` stored
with `save_local_result` in another database): every curve value, choice and recommendation
must be bit-identical, whatever the shard size, the number of workers and the faults.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import yaml

from infscale.cli.main import main
from infscale.engine.pipeline import simulate_shard
from infscale.engine.plan import block_plan, plan_sweep, shard_ranges, simulation_groups
from infscale.engine.validation import MODEL_FIELDS
from infscale.scheduler.local import run_local
from infscale.scheduler.reduce import check_sweeps
from infscale.scheduler.submit import submit
from infscale.workers.broker import sender
from infscale.readers.sweep_files import load_sweep
from infscale.storage.sql import SqlStore
from sqlalchemy.engine import make_url

from tests.link import Link, round_trips_per_shard
from tests.services import QUEUE, REPO, RedisServer, ServiceError, Worker, cpu_ticks, wait_for

SMALL = """\
name: distributed-small
catalog: builtin:paper
models: [gpt5-nano, qwen3-30b-a3b]
scenarios:
  - {name: tight, max_total_cost: 0.01, max_total_time: 30, min_accuracy: 0.85, k_max: 32, parallelism: 4}
  # same model, parallelism and k grid as `tight`: the two share one simulation
  - {name: loose, max_total_cost: 0.5, max_total_time: 120, min_accuracy: 0.8, k_max: 32, parallelism: 4}
  - {name: serial, max_total_cost: 0.05, max_total_time: 200, min_accuracy: 0.8, k_max: 16, parallelism: 1,
     k_grid: all}
trials: 3500   # 4 blocks, the last one partial
seed: 7
"""

# Shards of ~0.3 s, long enough to kill a process in the middle of one.
SLOW = """\
name: distributed-slow
catalog: builtin:paper
models: [gpt5-mini, nvidia-nemotron-nano-9b-v2]
scenarios:
  - {name: wide, max_total_cost: 0.2, max_total_time: 600, min_accuracy: 0.9, k_max: 256, parallelism: 1,
     k_grid: all}
trials: 65536
seed: 11
"""
SLOW_SHARD_BLOCKS = 16
# A shard of 2 * SLOW_SHARD_BLOCKS blocks of this sweep takes about 1-1.5 s: long enough for Redis
# to be stopped while it runs, short enough to end before Redis is back.
SLOWER = SLOW.replace("k_max: 256", "k_max: 384")

# Shards of one block of 1024 trials at k_max 2: a millisecond of simulation, the rest is overhead.
ONE_BLOCK_SHARDS = """\
name: one-block-shards
models: [gpt5-nano]
scenarios:
  - {{name: tiny, max_total_cost: 1, max_total_time: 100, min_accuracy: 0.5, k_max: 2, parallelism: 1, k_grid: all}}
trials: {trials}
seed: 1
"""

FAST_RETRIES = {"INFSCALE_SHARD_RETRIES": "2", "INFSCALE_RETRY_BACKOFF": "1"}
SHORT_VISIBILITY = {"INFSCALE_VISIBILITY_TIMEOUT": "4"}  # redelivery after 4-5 s
DONE_TIMEOUT = 60


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path / "redis").start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture()
def start_worker(tmp_path: Path, redis_server: RedisServer) -> Iterator:
    """start_worker(database, concurrency=1, env=None, beat=False, wait=True, via_cli=False) -> a
    started Worker (ready unless wait=False); all are killed after the test."""
    started: list[Worker] = []

    def start(database: str, concurrency: int = 1, env: dict[str, str] | None = None, beat: bool = False,
              wait: bool = True, via_cli: bool = False) -> Worker:
        worker = Worker(f"w{len(started) + 1}", redis_server.url, database, tmp_path, concurrency, env, beat, via_cli)
        started.append(worker)
        return worker.start(wait)

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'infscale.db'}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """reference(text) -> (store, sweep id) of the sweep run locally; one local run per sweep."""
    directory = tmp_path_factory.mktemp("reference")
    store = SqlStore(f"sqlite:///{directory / 'reference.db'}")
    runs: dict[str, int] = {}

    def get(text: str) -> tuple[SqlStore, int]:
        if text not in runs:
            sweep = load_sweep(write_sweep(directory, text))
            runs[text] = store.save_local_result(plan_sweep(sweep), run_local(sweep, workers=1))
        return store, runs[text]

    yield get
    store.close()


# --- helpers ----------------------------------------------------------------------------------


def write_sweep(directory: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def wait_ended(store: SqlStore, sweep_id: int, workers: list[Worker], timeout: float = DONE_TIMEOUT) -> str:
    """Poll until the sweep is done, failed or cancelled; its status (worker logs on timeout)."""
    try:
        wait_for(lambda: store.sweep(sweep_id).status in ("done", "failed", "cancelled"), timeout,
                 f"sweep {sweep_id} to end", 0.1)
    except ServiceError as exc:
        logs = "\n".join(f"--- {w.name}\n{w.log()[-4000:]}" for w in workers)
        pytest.fail(f"{exc}; progress {store.progress(sweep_id)}\n{logs}")
    return store.sweep(sweep_id).status


def assert_done(store: SqlStore, sweep_id: int, workers: list[Worker]) -> None:
    status = wait_ended(store, sweep_id, workers)
    assert status == "done", f"sweep {sweep_id} ended {status}: {store.sweep(sweep_id).error}"


def assert_identical(store: SqlStore, sweep_id: int, expected: tuple[SqlStore, int]) -> None:
    """Every stored curve value, choice and recommendation equals the local run's, bit for bit."""
    ref_store, ref_id = expected
    spec = store.sweep_spec(sweep_id)
    for model in spec.models:
        for scenario in spec.scenarios:
            got = store.curves(sweep_id, model.key, scenario.name)
            want = ref_store.curves(ref_id, model.key, scenario.name)
            assert got.curves.trials == want.curves.trials
            for name, a, b in curve_arrays(got, want):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{model.key}/{scenario.name}: {name} differs"
    assert results_of(store.choices(sweep_id)) == results_of(ref_store.choices(ref_id))
    assert results_of(store.recommendations(sweep_id)) == results_of(ref_store.recommendations(ref_id))


def curve_arrays(got, want) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    yield "k", got.curves.k, want.curves.k
    for metric in ("cost", "time", "accuracy"):
        for stat in ("mean", "se", "p05", "p50", "p95"):
            yield (f"{metric}_{stat}", getattr(getattr(got.curves, metric), stat),
                   getattr(getattr(want.curves, metric), stat))
    yield "feasible_probability", got.curves.feasible_probability, want.curves.feasible_probability
    yield "feasible", got.feasible, want.feasible
    yield "on_frontier", got.on_frontier, want.on_frontier


def results_of(rows: list) -> list[str]:
    """Rows without their ids; repr keeps every float exactly (and makes NaN comparable)."""
    return [repr({k: v for k, v in asdict(row).items() if k not in ("sweep_id", "run_id")}) for row in rows]


def submitted(directory: Path, text: str, url: str, broker: str, shard_blocks: int) -> tuple[SqlStore, int]:
    store = SqlStore(url)
    return store, submit(load_sweep(write_sweep(directory, text)), store, sender(broker), shard_blocks)


def first_partial_stored(store: SqlStore, sweep_id: int, timeout: float = 30) -> None:
    wait_for(lambda: sum(g.shards_done for g in store.progress(sweep_id)) >= 1, timeout, "a first partial")


def task_ids(log: str, event: str) -> set[str]:
    """Ids of the shard tasks a worker log reports as `received` or `succeeded`."""
    return set(re.findall(r"infscale\.simulate_shard\[([0-9a-f-]+)\] " + event, log))


def cli(*argv: str) -> subprocess.CompletedProcess:
    """The installed command line, in a fresh process (what a user types)."""
    return subprocess.run([sys.executable, "-m", "infscale.cli.main", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


# --- identical results ------------------------------------------------------------------------


def test_one_worker_gives_the_local_result(tmp_path, redis_server, start_worker, sqlite_url, reference):
    worker = start_worker(sqlite_url)
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=1)
    assert sum(g.n_shards for g in store.progress(sweep_id)) == 4 * 4  # 4 simulations x 4 blocks
    assert_done(store, sweep_id, [worker])
    assert_identical(store, sweep_id, reference(SMALL))


def test_three_workers_and_another_shard_size_give_the_local_result(
    tmp_path, redis_server, start_worker, sqlite_url, reference
):
    workers = [start_worker(sqlite_url, wait=False) for _ in range(3)]
    for w in workers:
        wait_for(w._ready, 60, f"worker {w.name}")
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=2)
    assert sum(g.n_shards for g in store.progress(sweep_id)) == 4 * 2
    assert_done(store, sweep_id, workers)
    assert_identical(store, sweep_id, reference(SMALL))
    busy = [w for w in workers if "infscale.simulate_shard" in w.log()]
    assert len(busy) >= 2, "the shards should have been shared between workers"


BILLED = SMALL.replace("name: distributed-small", "name: distributed-billed").replace(
    "trials: 3500", "  - {name: once, max_total_cost: 0.01, max_total_time: 30, min_accuracy: 0.85, k_max: 32, "
    "parallelism: 4, input_billing: once}\ntrials: 3500",
)


def test_a_scenario_billing_the_prompt_once_gives_the_local_result(
    tmp_path, redis_server, start_worker, sqlite_url, reference
):
    # input_billing splits the simulation group (its own key) and travels in the stored spec.
    worker = start_worker(sqlite_url)
    store, sweep_id = submitted(tmp_path, BILLED, sqlite_url, redis_server.url, shard_blocks=2)
    assert len(store.progress(sweep_id)) == 6  # 2 models x (P4/k32 each, P4/k32 once, P1/k16)
    assert_done(store, sweep_id, [worker])
    assert_identical(store, sweep_id, reference(BILLED))


def test_postgresql_gives_the_local_result(tmp_path, redis_server, start_worker, fresh_postgres_url, reference):
    worker = start_worker(fresh_postgres_url, concurrency=2, via_cli=True)  # `infscale worker`
    store, sweep_id = submitted(tmp_path, SMALL, fresh_postgres_url, redis_server.url, shard_blocks=1)
    assert_done(store, sweep_id, [worker])
    assert_identical(store, sweep_id, reference(SMALL))


def test_a_shard_costs_at_most_5_database_and_4_broker_round_trips(tmp_path, redis_server, start_worker,
                                                                 fresh_postgres_url):
    """Counted on the wire (tests.link), from the message to the stored partial and the reduce
    it triggers; on 20 before the shard path was cut down (15 and 3 pings, BEGIN and COMMIT
    among them), and 6 on Redis (3 of them task events)."""
    SqlStore(fresh_postgres_url).close()  # migrate first: workers never do
    url = make_url(fresh_postgres_url)
    database, broker = Link(url.port or 5432).start(), Link(redis_server.port).start()
    try:
        worker = start_worker(url.set(port=database.port).render_as_string(hide_password=False),
                              env={"INFSCALE_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0"})
        store = SqlStore(fresh_postgres_url)

        def run(n_shards: int) -> None:
            text = ONE_BLOCK_SHARDS.format(trials=1024 * n_shards)
            _, sweep_id = submitted(tmp_path, text, fresh_postgres_url, redis_server.url, shard_blocks=1)
            assert_done(store, sweep_id, [worker])

        per_shard = round_trips_per_shard({"database": database, "broker": broker}, run)
        store.close()
    finally:
        database.stop()
        broker.stop()
    print(f"round trips per shard: {per_shard}")
    assert per_shard["database"] <= 5 and per_shard["broker"] <= 4, per_shard


def test_adaptive_trials_on_workers_give_the_local_result(tmp_path, redis_server, start_worker, sqlite_url, reference):
    """`trials: auto`: the clear decision's simulation stops after its first round of 8 blocks,
    the near-tie's is sent round after round (by the reduces) up to max_trials; every number,
    trial count and stop reason equals the local run's."""
    from infscale.readers.stored_specs import model_to_dict
    from tests.test_adaptive import CAP, CLEAR, COIN, scenario

    fields = [f for f in MODEL_FIELDS if f != "litellm_key"]
    models = {m.key: {f: v for f, v in model_to_dict(m).items() if f in fields} for m in (CLEAR, COIN)}
    del models["clear"]["alpha"], models["clear"]["beta"]
    catalog = write_sweep(tmp_path, yaml.safe_dump({"models": models}), "catalog.yaml")
    s = scenario()
    text = (
        f"name: adaptive\ncatalog: {catalog}\nmodels: [clear, coin]\nscenarios:\n"
        f"  - {{name: s, max_total_cost: {s.max_total_cost!r}, max_total_time: {s.max_total_time!r}, "
        f"min_accuracy: 0, k_max: {s.k_max}, parallelism: 1, k_grid: all}}\n"
        f"trials: auto\nmax_trials: {CAP}\nseed: 3\n"
    )
    worker = start_worker(sqlite_url, concurrency=2)
    store, sweep_id = submitted(tmp_path, text, sqlite_url, redis_server.url, shard_blocks=4)
    assert sum(g.n_shards for g in store.progress(sweep_id)) == 2 * 2  # the first round only
    assert_done(store, sweep_id, [worker])
    assert_identical(store, sweep_id, reference(text))  # choices carry their trials and stop reason
    assert [(g.n_shards, g.trials_done) for g in store.progress(sweep_id)] == [(2, 8192), (8, CAP)]
    assert {c.model: c.trials for c in store.choices(sweep_id)} == {"clear": 8192, "coin": CAP}
    assert "next round: blocks 16 to 31 sent in 4 shard(s)" in worker.log()


EMPIRICAL_CATALOG = """\
models:
  from-log: {c_in: 1.25e-6, c_out: 1.0e-5, lengths: empirical, accuracy_model: empirical, data: eval-log.jsonl}
  accuracy-from-log: {c_in: 1.25e-6, c_out: 1.0e-5, t_in: 2.5e-4, t_out: 0.012, mu_Lin: 894, sigma_Lin: 324,
                      mu_Lout: 388, sigma_Lout: 116, accuracy_model: empirical, data: eval-log.jsonl}
"""


def empirical_sweep(directory: Path) -> str:
    """A sweep of two models resampled from examples/eval-log.jsonl, copied into `directory`."""
    (directory / "eval-log.jsonl").write_bytes((REPO / "examples" / "eval-log.jsonl").read_bytes())
    catalog = write_sweep(directory, EMPIRICAL_CATALOG, "catalog.yaml")
    return (
        f"name: empirical\ncatalog: {catalog}\nscenarios:\n"
        "  - {name: paper, max_total_cost: 0.05, max_total_time: 40, min_accuracy: 0.6, k_max: 32, parallelism: 4}\n"
        "  - {name: waves, max_total_cost: 0.05, max_total_time: 40, min_accuracy: 0.6, k_max: 20, parallelism: 3,\n"
        "     k_grid: all, latency: waves, input_billing: once}\n"
        "trials: 3500\nseed: 9\n"
    )


@pytest.mark.parametrize("n_workers, shard_blocks", [(1, 1), (3, 2)])
def test_an_empirical_model_on_workers_gives_the_local_result_without_its_file(
    tmp_path, redis_server, start_worker, sqlite_url, reference, n_workers: int, shard_blocks: int
):
    # The samples travel in the stored spec: the eval log is gone before any worker starts.
    text = empirical_sweep(tmp_path)
    expected = reference(text)
    store, sweep_id = submitted(tmp_path, text, sqlite_url, redis_server.url, shard_blocks)
    (tmp_path / "eval-log.jsonl").unlink()
    workers = [start_worker(sqlite_url, wait=False) for _ in range(n_workers)]
    for w in workers:
        wait_for(w._ready, 60, f"worker {w.name}")
    assert_done(store, sweep_id, workers)
    assert_identical(store, sweep_id, expected)
    if n_workers > 1:
        assert len([w for w in workers if "infscale.simulate_shard" in w.log()]) >= 2


# --- faults -----------------------------------------------------------------------------------


def test_pool_process_killed_mid_shard(tmp_path, redis_server, start_worker, sqlite_url, reference):
    worker = start_worker(sqlite_url, concurrency=1)
    store, sweep_id = submitted(tmp_path, SLOW, sqlite_url, redis_server.url, SLOW_SHARD_BLOCKS)
    first_partial_stored(store, sweep_id)
    time.sleep(0.1)  # into the next shard (~0.3 s of simulation)
    (child,) = worker.pool_pids()
    before = cpu_ticks(child)
    wait_for(lambda: cpu_ticks(child) > before, 5, "the pool process to be computing", 0.01)
    os.kill(child, signal.SIGKILL)
    assert_done(store, sweep_id, [worker])
    assert "WorkerLostError" in worker.log(), "the kill should have hit a running shard"
    assert_identical(store, sweep_id, reference(SLOW))


def test_whole_worker_killed_and_replaced(tmp_path, redis_server, start_worker, sqlite_url, reference):
    first = start_worker(sqlite_url, env=SHORT_VISIBILITY)
    store, sweep_id = submitted(tmp_path, SLOW, sqlite_url, redis_server.url, SLOW_SHARD_BLOCKS)
    first_partial_stored(store, sweep_id)
    time.sleep(0.1)  # into the next shard (~0.3 s of simulation)
    first.kill()  # the worker and its pool, mid-shard: that shard is never acknowledged
    lost = task_ids(first.log(), "received") - task_ids(first.log(), "succeeded")
    assert lost, "the worker should have died with a shard in hand"
    second = start_worker(sqlite_url, env=SHORT_VISIBILITY)
    assert_done(store, sweep_id, [first, second])
    assert_identical(store, sweep_id, reference(SLOW))
    # Redis handed the dead worker's shard(s) to the new worker once the visibility timeout passed.
    wait_for(lambda: lost <= task_ids(second.log(), "succeeded"), 15, "the lost shards to be redelivered")


def test_same_shard_delivered_twice_is_counted_once(tmp_path, redis_server, sqlite_url, start_worker, reference):
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=1)
    with redis_server.client() as client:
        client.rpush(QUEUE, client.lindex(QUEUE, -1))  # the next message to be consumed, twice
        assert client.llen(QUEUE) == 16 + 1
    worker = start_worker(sqlite_url)
    assert_done(store, sweep_id, [worker])
    assert "duplicate: already stored" in worker.log()
    assert all(done == total for done, total in store.shard_counts(sweep_id).values())
    times = store.partial_times(sweep_id)
    assert len(times) == 16 and len({(p.group_key, p.shard_index) for p in times}) == 16
    assert_identical(store, sweep_id, reference(SMALL))


def test_redis_restarted_mid_run(tmp_path, redis_server, start_worker, sqlite_url, reference):
    # Two shards per group: Redis goes down while the second one, the group's last, is computed,
    # so the shard that completes the group cannot send its reduce.
    worker = start_worker(sqlite_url, env=SHORT_VISIBILITY)
    store, sweep_id = submitted(tmp_path, SLOWER, sqlite_url, redis_server.url, 2 * SLOW_SHARD_BLOCKS)
    first_partial_stored(store, sweep_id)
    # The worker takes its next message only once the first is acknowledged: stop Redis when
    # that second shard is in hand, not before (it would then run only after the restart).
    wait_for(lambda: len(task_ids(worker.log(), "received")) >= 2, 30, "the second shard to be received")
    redis_server.stop()
    # Redis stays down until that shard has stored its partial and reduced its group, however
    # loaded the machine is (the runs of the first group are done only once it has).
    first_group = store.progress(sweep_id)[0]
    wait_for(lambda: store.progress(sweep_id)[0].finished, DONE_TIMEOUT,
             f"group {first_group.group_key} to be reduced while Redis is down", 0.1)
    redis_server.start()  # same port and directory: the append-only file brings the queue back
    assert_done(store, sweep_id, [worker])
    log = worker.log()
    assert "Connection to broker lost" in log
    assert "reduced here: broker unreachable" in log
    assert_identical(store, sweep_id, reference(SLOWER))


def test_shard_that_always_raises_fails_the_sweep(tmp_path, redis_server, start_worker, sqlite_url, capsys):
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=2)
    # What a worker older than the submitter finds: a spec field it does not know. Every shard
    # raises (TypeError) on every attempt.
    with sqlite3.connect(tmp_path / "infscale.db") as db:
        (spec,) = db.execute("SELECT spec FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        spec = json.loads(spec)
        spec["models"][0]["acc_skew"] = 0.1
        db.execute("UPDATE sweeps SET spec = ? WHERE id = ?", (json.dumps(spec), sweep_id))
    worker = start_worker(sqlite_url, env=FAST_RETRIES)
    assert wait_ended(store, sweep_id, [worker]) == "failed"
    assert "Retry in" in worker.log(), "the shard should have been retried before failing"
    capsys.readouterr()
    assert main(["status", str(sweep_id), "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert f"sweep {sweep_id} 'distributed-small': failed" in out
    assert "failed after 2 retries: TypeError" in out and "acc_skew" in out
    assert main(["wait", str(sweep_id), "--db", sqlite_url]) == 1
    runs = store.progress(sweep_id)
    assert all(g.runs_done == 0 for g in runs)


def test_bad_sweep_is_refused_before_anything_is_stored_or_enqueued(tmp_path, redis_server):
    bad = write_sweep(tmp_path, SMALL.replace("min_accuracy: 0.85", "min_accuracy: 1.2"), "bad.yaml")
    db = tmp_path / "bad.db"
    result = cli("submit", str(bad), "--db", f"sqlite:///{db}", "--broker", redis_server.url)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"infscale: error: {bad}: scenarios[0].min_accuracy: must be in [0, 1], got 1.2"]
    assert redis_server.queue_length() == 0
    with redis_server.client() as client:
        assert client.dbsize() == 0, "nothing may be enqueued"
    assert not db.exists(), "nothing may be stored"


def test_submit_with_the_broker_down_fails_the_sweep(tmp_path, sqlite_url, capsys):
    from tests.services import free_port

    path = write_sweep(tmp_path, SMALL)
    code = main(["submit", str(path), "--db", sqlite_url, "--broker", f"redis://127.0.0.1:{free_port()}/0"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not enqueue its shards" in err[0]
    (row,) = SqlStore(sqlite_url).sweeps()
    assert row.status == "failed" and "could not enqueue" in row.error


def test_db_upgrade_command(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert capsys.readouterr().out.endswith(", created\n")
    assert main(["db", "upgrade", "--db", url]) == 0
    assert capsys.readouterr().out.endswith(", already up to date\n")
    assert SqlStore(url, upgrade_schema=False).sweeps() == []


# --- the periodic check and cancel ------------------------------------------------------------


def test_periodic_check_finishes_a_sweep_whose_reduce_was_lost(
    tmp_path, redis_server, start_worker, sqlite_url, reference
):
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=2)
    with redis_server.client() as client:
        client.delete(QUEUE)  # the shard messages are gone ...
    sweep = store.sweep_spec(sweep_id)
    for group in simulation_groups(sweep):  # ... but every partial was stored, no reduce ran
        for i, blocks in enumerate(shard_ranges(block_plan(sweep).n_blocks, 2)):
            partial = simulate_shard(sweep, group, blocks)
            store.save_partial(sweep_id, group.key, i, partial, 0.0)
    assert store.sweep(sweep_id).status == "running"
    worker = start_worker(sqlite_url, env={"INFSCALE_CHECK_INTERVAL": "1"}, beat=True)
    assert_done(store, sweep_id, [worker])
    assert "infscale.check_sweeps" in worker.log() and "infscale.reduce_run" in worker.log()
    assert_identical(store, sweep_id, reference(SMALL))
    assert check_sweeps(store) == []  # nothing left to reduce


def test_cancel_skips_the_remaining_shards(tmp_path, redis_server, start_worker, sqlite_url, capsys):
    store, sweep_id = submitted(tmp_path, SMALL, sqlite_url, redis_server.url, shard_blocks=2)
    assert main(["wait", str(sweep_id), "--db", sqlite_url, "--timeout", "0.2"]) == 2
    assert main(["cancel", str(sweep_id), "--db", sqlite_url]) == 0
    worker = start_worker(sqlite_url)
    wait_for(lambda: worker.log().count("skipped: sweep has ended") == 8 and redis_server.queue_length() == 0,
             30, "the worker to skip every shard")
    assert store.sweep(sweep_id).status == "cancelled"
    assert store.partial_times(sweep_id) == []
    assert main(["wait", str(sweep_id), "--db", sqlite_url]) == 1
    assert main(["cancel", str(sweep_id), "--db", sqlite_url]) == 2
    assert "already ended (cancelled)" in capsys.readouterr().err
