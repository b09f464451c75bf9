"""Lost shards: which shards of a running sweep will never store their partial by themselves,
and sending them again (the periodic check, `infscale.check_sweeps`).

A worker holds a lease on the shard it runs (`Storage.lease_shard`), renewed every third of
$INFSCALE_SHARD_LEASE while it runs. A shard whose partial is missing is lost when
- its lease ran out: the worker died, or lost the database and its retries ended, or
- every running sweep has been idle for a whole lease (no partial stored, no lease written or
  renewed): the shard was never started because its message is gone (Redis restarted without
  its append-only file, a message dropped), or a copy sent again was lost too. Idle means all
  running sweeps, not just this one: a sweep queued behind another that keeps every worker busy
  is waiting, not lost, and sending it again each lease would only grow the queue.
Sending a shard again writes a lease held by `RESENT`, which counts as activity: the same
shard is sent once more only after another idle lease. So recovery takes about a lease, not
Redis' visibility timeout, and a copy that arrives twice stores nothing the second time
(partials are stored once per shard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from infscale.engine.plan import grown_shards
from infscale.scheduler.submit import Send, shard_message
from infscale.storage.interface import Storage
from infscale.storage.rows import SweepRow, SweepStatus, utc_now

RESENT = "re-sent by the periodic check"
"""The holder of a lease written when a shard is sent again (no worker has it yet)."""


@dataclass(frozen=True)
class Stall:
    """The shards of a running sweep that are lost now, and those sent again and not started."""

    lost: tuple[tuple[str, int], ...]  # (group key, shard index), to send (again) now
    resent: tuple[tuple[str, int], ...]  # sent again by the check, no worker has started them yet
    resent_at: datetime | None  # when the latest of those was sent

    @property
    def waiting(self) -> int:
        """Shards the sweep waits for that no live worker holds."""
        return len(self.lost) + len(self.resent)


def stall(store: Storage, sweep_id: int, lease: timedelta, now: datetime | None = None) -> Stall:
    """Which missing shards of the sweep no live worker holds (see the module docstring).

    Complete groups are the reduce's business and ended sweeps have nothing to wait for."""
    now = now or utc_now()
    row = store.sweep(sweep_id)
    if row.status != SweepStatus.RUNNING.value:
        return Stall((), (), None)
    return _stall(store, row, now - _last_activity(store, store.sweeps([SweepStatus.RUNNING.value])) >= lease, now)


def recover_sweeps(store: Storage, send: Send, lease: timedelta, now: datetime | None = None) -> list[str]:
    """Send again every lost shard of every running sweep; one line per sweep that had some."""
    now = now or utc_now()
    rows = store.sweeps([SweepStatus.RUNNING.value])
    idle = bool(rows) and now - _last_activity(store, rows) >= lease
    said = []
    for row in rows:
        lost = _stall(store, row, idle, now).lost
        if lost:
            said.append(f"sweep {row.id}: {_resend(store, row.id, lost, send, lease, now)}")
    return said


def _last_activity(store: Storage, rows: list[SweepRow]) -> datetime:
    """When one of the running sweeps `rows` last made progress: created, a partial stored, a
    lease written."""
    return max(
        max([row.created_at, *(p.created_at for p in store.partial_times(row.id)),
             *(h.renewed_at for h in store.shard_leases(row.id))])
        for row in rows
    )


def _stall(store: Storage, row: SweepRow, idle: bool, now: datetime) -> Stall:
    sweep_id = row.id
    stored_at = {(p.group_key, p.shard_index): p.created_at for p in store.partial_times(sweep_id)}
    leases = {(h.group_key, h.shard_index): h for h in store.shard_leases(sweep_id)}
    lost, resent = [], []
    for group in store.progress(sweep_id):
        if group.complete or group.finished:
            continue
        for index in range(group.n_shards):
            shard = (group.group_key, index)
            held = leases.get(shard)
            if shard in stored_at or (held is not None and held.holder != RESENT and held.expires_at > now):
                continue
            if idle or (held is not None and held.holder != RESENT):
                lost.append(shard)
            elif held is not None:
                resent.append(shard)
    resent_at = max((leases[s].renewed_at for s in resent), default=None)
    return Stall(tuple(lost), tuple(resent), resent_at)


def _resend(
    store: Storage, sweep_id: int, lost: tuple[tuple[str, int], ...], send: Send, lease: timedelta, now: datetime
) -> str:
    sweep = store.sweep_spec(sweep_id)
    messages = []
    for group_key in dict.fromkeys(g for g, _ in lost):
        simulation = store.simulation(sweep_id, group_key)
        cut = grown_shards(sweep, simulation.n_blocks, simulation.blocks_per_shard)
        messages += [
            shard_message(sweep_id, group_key, i, simulation.n_shards, cut[i].blocks) for g, i in lost if g == group_key
        ]
    what = f"{len(lost)} lost shard(s)"
    try:
        send(messages)
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised: the next check tries again
        return f"{what} not sent ({type(exc).__name__}: {exc}); the next check tries again"
    for group_key, index in lost:
        store.lease_shard(sweep_id, group_key, index, RESENT, lease, now)
    return f"{what} sent again"
