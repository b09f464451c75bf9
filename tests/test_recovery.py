"""Lost shards (scheduler.recovery), shard leases in every store, what `status` says while a
sweep waits on them, and how workers retry an outage (workers.retrying).

Time is passed in (`now`), so every case is exact; the real faults (a worker killed, Redis
emptied, PostgreSQL unreachable) are in tests/test_faults.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from infscale.engine.adaptive import AdaptiveTrials
from infscale.engine.pipeline import simulate_shard
from infscale.engine.plan import grown_shards, next_round, plan_sweep, shards, simulation_groups
from infscale.reports.documents import progress_document
from infscale.reports.text import waiting_words
from infscale.scheduler.progress import sweep_progress
from infscale.scheduler.recovery import RESENT, recover_sweeps, stall
from infscale.workers.retrying import _outage_step, is_outage, outage_retries
from tests.test_storage import make_sweep, store  # noqa: F401 - `store`: the contract fixture (memory, SQLite, PostgreSQL)

LEASE = timedelta(seconds=30)
SWEEP = "name: r\nmodels: [gpt5-mini, gpt5]\nscenarios: [balanced]\ntrials: 3000\nseed: 5\n"  # 3 blocks a group


@pytest.fixture()
def running(store):
    """running() -> (id, group key -> its plan) of a new running sweep of 2 groups x 3 shards.
    Idleness is judged over every running sweep, and PostgreSQL's database is shared by the
    session's tests: sweeps other tests left running are cancelled first, this test's after it."""
    for row in store.sweeps(["running"]):
        store.cancel_sweep(row.id)
    created = []

    def create() -> tuple[int, dict]:
        plan = plan_sweep(make_sweep(SWEEP), 1)
        created.append(store.create_sweep(plan, status="running"))
        return created[-1], {g.group.key: g for g in plan.groups}

    yield create
    for sweep_id in created:
        store.cancel_sweep(sweep_id)


def store_shard(store, sweep_id: int, groups: dict, key: str, index: int) -> None:
    group = groups[key]
    store.save_partial(sweep_id, key, index, simulate_shard(group_spec_sweep(), group.group, group.shards[index].blocks), 0.1)


def ours(said: list[str], sweep_id: int) -> list[str]:
    """The lines about this sweep (PostgreSQL's database is shared by the session's tests)."""
    return [line for line in said if line.startswith(f"sweep {sweep_id}:")]


def group_spec_sweep():
    return make_sweep(SWEEP)


def test_leases_are_written_renewed_and_listed_in_order(store, running):
    sweep_id, groups = running()
    first, second = list(groups)
    t0 = store.sweep(sweep_id).created_at
    store.lease_shard(sweep_id, second, 1, "b", LEASE, t0)
    store.lease_shard(sweep_id, first, 2, "a", LEASE, t0)
    store.lease_shard(sweep_id, first, 2, "c", LEASE, t0 + timedelta(seconds=5))  # renewed by another holder
    leases = store.shard_leases(sweep_id)
    assert [(h.group_key, h.shard_index, h.holder) for h in leases] == [(first, 2, "c"), (second, 1, "b")]
    assert leases[0].renewed_at == t0 + timedelta(seconds=5) and leases[0].expires_at == t0 + timedelta(seconds=35)


def test_unstarted_shards_are_lost_only_after_an_idle_lease(store, running):
    sweep_id, _ = running()
    t0 = store.sweep(sweep_id).created_at
    assert stall(store, sweep_id, LEASE, t0 + LEASE - timedelta(seconds=1)).lost == ()
    assert len(stall(store, sweep_id, LEASE, t0 + LEASE).lost) == 6


def test_a_dead_workers_shard_is_lost_when_its_lease_ends_while_others_progress(store, running):
    sweep_id, groups = running()
    key = next(iter(groups))
    t0 = store.sweep(sweep_id).created_at
    store.lease_shard(sweep_id, key, 0, "dead", LEASE, t0)
    store.lease_shard(sweep_id, key, 1, "alive", LEASE, t0)
    # The live worker renews; the dead one does not. Queued shards are not lost: the sweep is busy.
    store.lease_shard(sweep_id, key, 1, "alive", LEASE, t0 + LEASE - timedelta(seconds=1))
    assert stall(store, sweep_id, LEASE, t0 + LEASE - timedelta(seconds=2)).lost == ()
    assert stall(store, sweep_id, LEASE, t0 + LEASE).lost == ((key, 0),)


def test_a_sweep_queued_behind_a_busy_one_is_waiting_not_lost(store, running):
    busy, groups = running()
    queued, _ = running()
    t0 = store.sweep(queued).created_at
    store.lease_shard(busy, next(iter(groups)), 0, "alive", LEASE, t0 + LEASE - timedelta(seconds=1))
    assert stall(store, queued, LEASE, t0 + LEASE).lost == ()
    assert len(stall(store, queued, LEASE, t0 + 2 * LEASE).lost) == 6  # the busy one's worker died too


def test_stored_shards_and_complete_groups_are_never_lost(store, running):
    sweep_id, groups = running()
    first, second = list(groups)
    for index in range(3):
        store_shard(store, sweep_id, groups, first, index)
    store_shard(store, sweep_id, groups, second, 1)
    latest = max(p.created_at for p in store.partial_times(sweep_id))
    assert stall(store, sweep_id, LEASE, latest + LEASE).lost == ((second, 0), (second, 2))


def test_recovery_sends_the_lost_shards_once_a_lease_with_their_blocks(store, running):
    sweep_id, groups = running()
    key = next(iter(groups))
    t0 = store.sweep(sweep_id).created_at
    store.lease_shard(sweep_id, key, 2, "dead", LEASE, t0)
    store.lease_shard(sweep_id, key, 0, "alive", LEASE, t0 + LEASE - timedelta(seconds=1))
    sent: list[dict] = []
    said = recover_sweeps(store, sent.extend, LEASE, t0 + LEASE)
    assert ours(said, sweep_id) == [f"sweep {sweep_id}: 1 lost shard(s) sent again"]
    assert [m for m in sent if m["sweep_id"] == sweep_id] == [{"sweep_id": sweep_id, "group_key": key, "shard_index": 2, "n_shards": 3,
                      "blocks": [groups[key].shards[2].blocks.start, groups[key].shards[2].blocks.stop]}]
    # Sent again: waiting, not lost, until the sweep has been idle for another lease.
    later = t0 + LEASE + timedelta(seconds=1)
    assert ours(recover_sweeps(store, sent.extend, LEASE, later), sweep_id) == []
    waiting = stall(store, sweep_id, LEASE, later)
    assert waiting.resent == ((key, 2),) and waiting.resent_at == t0 + LEASE
    assert len(stall(store, sweep_id, LEASE, t0 + 2 * LEASE).lost) == 6  # idle since the re-send: all of them


def test_a_broker_that_refuses_leaves_the_shards_lost_for_the_next_check(store, running):
    sweep_id, _ = running()
    t0 = store.sweep(sweep_id).created_at

    def refuse(messages):
        raise ConnectionError("broker down")

    (said,) = ours(recover_sweeps(store, refuse, LEASE, t0 + LEASE), sweep_id)
    assert "6 lost shard(s) not sent (ConnectionError: broker down)" in said
    assert store.shard_leases(sweep_id) == [] and len(stall(store, sweep_id, LEASE, t0 + LEASE).lost) == 6


def test_ended_sweeps_wait_for_nothing(store, running):
    sweep_id, _ = running()
    store.cancel_sweep(sweep_id)
    t0 = store.sweep(sweep_id).created_at
    assert stall(store, sweep_id, 10 * LEASE, t0 + 10 * LEASE).waiting == 0
    sent: list[dict] = []
    assert ours(recover_sweeps(store, sent.extend, LEASE, t0 + 10 * LEASE), sweep_id) == []
    assert [m for m in sent if m["sweep_id"] == sweep_id] == []


def test_status_says_what_a_sweep_waits_for_instead_of_an_eta(store, running, monkeypatch):
    monkeypatch.setenv("INFSCALE_SHARD_LEASE", "30")
    sweep_id, groups = running()
    key = next(iter(groups))
    store_shard(store, sweep_id, groups, key, 0)
    stored = store.partial_times(sweep_id)[0].created_at
    busy = sweep_progress(store, sweep_id, now=stored + timedelta(seconds=1))
    assert busy.waiting_shards == 0 and busy.eta_seconds is not None and waiting_words(busy) is None
    recover_sweeps(store, lambda messages: None, LEASE, stored + LEASE)
    waiting = sweep_progress(store, sweep_id, now=stored + LEASE + timedelta(seconds=1))
    assert waiting.waiting_shards == 5 and waiting.eta_seconds is None
    at = (stored + LEASE).strftime("%H:%M:%S")
    assert waiting_words(waiting) == f"5 shards lost, re-sent at {at} UTC"
    document = progress_document(waiting)
    assert document["waiting"] == waiting_words(waiting) and document["resent_at"] == (stored + LEASE).isoformat()


def test_grown_shards_are_the_shards_each_round_was_sent_as():
    sweep = make_sweep(SWEEP)
    assert grown_shards(sweep, 3, 2) == plan_sweep(sweep, 2).groups[0].shards
    adaptive = replace(make_sweep(SWEEP.replace("trials: 3000", "trials: 100000")), adaptive=AdaptiveTrials(0.95, 100000))
    group_plan = plan_sweep(adaptive, 3).groups[0]
    sent, end = list(group_plan.shards), group_plan.blocks.stop
    for _ in range(2):  # two more rounds, cut as scheduler.reduce cuts them
        following = next_round(adaptive, end)
        sent += shards(following, 3, first_index=len(sent))
        end = following.stop
    assert grown_shards(adaptive, end, 3) == tuple(sent)
    with pytest.raises(ValueError):
        grown_shards(adaptive, end - 1, 3)
    assert len(simulation_groups(adaptive)) == 2


def test_outages_are_waited_out_for_the_configured_time(monkeypatch):
    monkeypatch.setenv("INFSCALE_OUTAGE_RETRY", "600")
    monkeypatch.setenv("INFSCALE_RETRY_BACKOFF", "2")
    n = outage_retries()
    shortest = [_outage_step(i) / 2 for i in range(n)]
    assert sum(shortest) >= 600 > sum(shortest[:-1])
    assert max(_outage_step(i) for i in range(n)) == 30  # capped
    assert is_outage(OperationalError("SELECT 1", {}, Exception("connection refused")))
    assert is_outage(ConnectionRefusedError()) and not is_outage(ValueError("a bug"))
    # What the store raises when the database fails under a task (storage.records.SqlSessions).
    from infscale.storage.errors import DatabaseUnavailable, NotFound

    assert is_outage(DatabaseUnavailable("cannot connect to database postgresql://...: connection refused"))
    assert not is_outage(NotFound("sweep 9 does not exist"))


def test_status_command_prints_the_wait(tmp_path, monkeypatch, capsys):
    from infscale.cli.main import main
    from infscale.storage.sql import SqlStore

    monkeypatch.setenv("INFSCALE_SHARD_LEASE", "30")
    url = f"sqlite:///{tmp_path / 'infscale.db'}"
    with SqlStore(url) as store:
        sweep_id = store.create_sweep(plan_sweep(make_sweep(SWEEP), 1), status="running")
        t0 = store.sweep(sweep_id).created_at
        recover_sweeps(store, lambda messages: None, LEASE, t0 + LEASE)
    assert main(["status", str(sweep_id), "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"  waiting 6 shards lost, re-sent at {t0 + LEASE:%H:%M:%S} UTC" in out
    assert "ETA" not in out
    assert main(["wait", str(sweep_id), "--db", url, "--timeout", "0"]) == 2
    assert f"waiting: 6 shards lost, re-sent at {t0 + LEASE:%H:%M:%S} UTC" in capsys.readouterr().err
