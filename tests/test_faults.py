"""No sweep hangs: real faults against real Redis, PostgreSQL and Celery workers.

Each fault leaves shards that no worker will run by itself; the periodic check (a worker with
beat) sends them again once their lease has run out (scheduler.recovery), and the sweep ends
identical to the local run. Meanwhile `status` says the sweep waits on lost shards instead of
giving an ETA. To see the stall deterministically, the worker with beat starts only once
`status` has reported it: until then nothing can send the lost shards again.

Leases are short (`LEASE` s) and the check runs every second, so each test takes seconds,
except the PostgreSQL outage, which lasts `OUTAGE` s as the issue asks. The visibility timeout
is the default (3600 s): a sweep that ends within the tests' timeouts was not waiting for it.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from infscale.reports.documents import progress_document
from infscale.scheduler.progress import sweep_progress
from infscale.storage.sql import SqlStore
from tests.services import TcpProxy, wait_for
from tests.test_distributed import (  # noqa: F401 - fixtures: redis_server, start_worker, sqlite_url, reference
    SLOW,
    SLOW_SHARD_BLOCKS,
    assert_identical,
    first_partial_stored,
    redis_server,
    reference,
    sqlite_url,
    start_worker,
    submitted,
    wait_ended,
)

LEASE = 4
OUTAGE = 60
RECOVERY = {"INFSCALE_SHARD_LEASE": str(LEASE), "INFSCALE_CHECK_INTERVAL": "1"}
# Bounded retries for errors that are not outages, as in production; outages are waited out.
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """`status` in this process reads the lease length the workers use."""
    monkeypatch.setenv("INFSCALE_SHARD_LEASE", str(LEASE))


def wait_reported_stall(store: SqlStore, sweep_id: int, timeout: float) -> dict:
    """Poll `status --json` until it says the sweep waits on lost shards; that document."""
    def stalled() -> dict | None:
        document = progress_document(sweep_progress(store, sweep_id))
        return document if document["waiting"] else None

    document = wait_for(stalled, timeout, f"status to report sweep {sweep_id} waiting on lost shards", 0.2)
    assert document["status"] == "running" and document["eta_seconds"] is None
    assert document["waiting_shards"] >= 1 and "lost" in document["waiting"]
    return document


def assert_done_within(store: SqlStore, sweep_id: int, workers: list, seconds: float) -> None:
    status = wait_ended(store, sweep_id, workers, timeout=seconds)
    assert status == "done", f"sweep {sweep_id} ended {status}: {store.sweep(sweep_id).error}"


def test_whole_worker_killed_with_the_default_visibility_timeout(
    tmp_path, redis_server, start_worker, sqlite_url, reference
):
    doomed = start_worker(sqlite_url, env=RECOVERY)
    store, sweep_id = submitted(tmp_path, SLOW, sqlite_url, redis_server.url, 2 * SLOW_SHARD_BLOCKS)

    def holding_a_shard() -> bool:  # the worker's pool process holds a lease on a shard not stored yet
        stored = {(p.group_key, p.shard_index) for p in store.partial_times(sweep_id)}
        pids = {str(pid) for pid in doomed.pool_pids()}
        return any(h.holder.rsplit(" ", 1)[-1] in pids and (h.group_key, h.shard_index) not in stored
                   for h in store.shard_leases(sweep_id))

    wait_for(holding_a_shard, 30, "the worker to hold a shard", 0.02)
    doomed.kill()  # the worker and its pool, mid-shard: that message stays unacknowledged for 3600 s
    killed_at = time.monotonic()
    # The queue still holds the other shards: `status` reports the one lost shard once its lease ends.
    wait_reported_stall(store, sweep_id, LEASE + 30)
    rescuer = start_worker(sqlite_url, env=RECOVERY, beat=True)
    assert_done_within(store, sweep_id, [doomed, rescuer], 2 * LEASE + 60)
    assert time.monotonic() - killed_at < 3600
    assert "sent again" in rescuer.log()
    assert_identical(store, sweep_id, reference(SLOW))


def test_redis_restarted_without_its_append_only_file(tmp_path, redis_server, start_worker, sqlite_url, reference):
    worker = start_worker(sqlite_url, env=RECOVERY)
    store, sweep_id = submitted(tmp_path, SLOW, sqlite_url, redis_server.url, SLOW_SHARD_BLOCKS)
    first_partial_stored(store, sweep_id)
    redis_server.stop()
    redis_server.forget()  # the queued shards are gone
    redis_server.start()
    # Nothing runs and nothing would: after an idle lease `status` says the shards are lost.
    document = wait_reported_stall(store, sweep_id, LEASE + 30)
    assert document["shards_done"] < document["shards_total"]
    rescuer = start_worker(sqlite_url, env=RECOVERY, beat=True)
    assert_done_within(store, sweep_id, [worker, rescuer], 2 * LEASE + 60)
    assert "sent again" in worker.log() + rescuer.log()  # the check runs on either
    assert_identical(store, sweep_id, reference(SLOW))


def test_postgresql_unreachable_for_a_minute(tmp_path, redis_server, start_worker, fresh_postgres_url, reference):
    proxy = TcpProxy(make_url(fresh_postgres_url).port or 5432).start()
    through_proxy = make_url(fresh_postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    try:
        SqlStore(fresh_postgres_url).close()  # migrate first: workers never do
        workers = [start_worker(through_proxy, env=RECOVERY, beat=True), start_worker(through_proxy, env=RECOVERY)]
        store, sweep_id = submitted(tmp_path, SLOW, fresh_postgres_url, redis_server.url, SLOW_SHARD_BLOCKS)
        first_partial_stored(store, sweep_id)
        proxy.cut()  # the workers lose the database mid-run; this process still reaches it directly
        cut_at = time.monotonic()
        wait_reported_stall(store, sweep_id, LEASE + 30)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - cut_at)))
        assert store.sweep(sweep_id).status == "running"
        proxy.restore()
        assert_done_within(store, sweep_id, workers, 2 * LEASE + 60)
        logs = "".join(w.log() for w in workers)
        # The outage as the worker saw it: the driver's error, or the store's one-line form of it.
        assert ("OperationalError" in logs or "DatabaseUnavailable" in logs) and "sent again" in logs
        assert_identical(store, sweep_id, reference(SLOW))
        store.close()
    finally:
        proxy.cut()
