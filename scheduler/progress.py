"""How far a submitted sweep is: shards stored, runs finished, trials per second and ETA, or
the lost shards it waits for.

Read from the database alone (every shard stores its partial with its trial count, every
running shard holds a lease), so any machine that can reach the database can watch a sweep.
A sweep waiting on shards no live worker holds (scheduler.recovery) has no ETA: it says how
many and when the periodic check last sent them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from infscale import config
from infscale.scheduler.recovery import stall
from infscale.storage.interface import Storage
from infscale.storage.rows import FINAL_SWEEP_STATUSES, SweepRow, utc_now


@dataclass(frozen=True)
class SweepProgress:
    sweep: SweepRow
    shards_done: int
    shards_total: int
    runs_done: int
    runs_total: int
    trials_done: int
    trials_total: int
    trials_per_second: float | None  # since the first shard started; None before any shard
    eta_seconds: float | None  # at that rate; None when unknown, ended or waiting
    waiting_shards: int = 0  # missing shards that no live worker holds (lost, or sent again and not started)
    resent_at: datetime | None = None  # when the periodic check last sent one of them again

    @property
    def ended(self) -> bool:
        return self.sweep.status in FINAL_SWEEP_STATUSES



def sweep_progress(store: Storage, sweep_id: int, now: datetime | None = None) -> SweepProgress:
    """Progress of a sweep; trials per second over the time since its first shard started."""
    now = now or utc_now()
    row = store.sweep(sweep_id)
    stalled = stall(store, sweep_id, timedelta(seconds=config.shard_lease()), now)
    groups = store.progress(sweep_id)
    partials = store.partial_times(sweep_id)
    trials_done = sum(p.trials for p in partials)
    trials_total = row.trials * len(groups)  # `trials: auto`: the most it may take (max_trials)
    rate = eta = None
    if partials:
        started = min(p.created_at - timedelta(seconds=p.seconds) for p in partials)
        until = row.finished_at or now
        seconds = (until - started) / timedelta(seconds=1)
        rate = trials_done / seconds if seconds > 0 else None
        if rate and row.finished_at is None and not stalled.waiting:
            eta = (trials_total - trials_done) / rate
    return SweepProgress(
        row,
        shards_done=sum(g.shards_done for g in groups),
        shards_total=sum(g.n_shards for g in groups),
        runs_done=sum(g.runs_done for g in groups),
        runs_total=sum(g.n_runs for g in groups),
        trials_done=trials_done,
        trials_total=trials_total,
        trials_per_second=rate,
        eta_seconds=eta,
        waiting_shards=stalled.waiting,
        resent_at=stalled.resent_at,
    )
