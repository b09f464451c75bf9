"""A worker's lease on the shard it runs: written when the shard starts and renewed every third
of $INFSCALE_SHARD_LEASE by a thread while it runs, so a shard whose worker died is known lost
after about a lease (scheduler.recovery) instead of Redis' visibility timeout.

A renewal that fails (the database unreachable) is logged and tried again at the next tick:
the shard runs on, and if the lease runs out meanwhile the periodic check sends a copy, which
finds the partial stored (or stores it) once the database is back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from infscale import config
from infscale.storage.interface import Storage
from infscale.storage.rows import ShardStart

log = logging.getLogger(__name__)


@contextmanager
def holding(store: Storage, sweep_id: int, group_key: str, shard_index: int) -> Iterator[ShardStart]:
    """Take the shard (`Storage.start_shard`, which must succeed) and hold its lease while the
    block runs; the block gets what the start found (a sweep that has ended: no lease held)."""
    lease = timedelta(seconds=config.shard_lease())
    holder = f"{socket.gethostname()} pid {os.getpid()}"
    start = store.start_shard(sweep_id, group_key, shard_index, holder, lease)
    if not start.sweep_open:
        yield start
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                store.lease_shard(sweep_id, group_key, shard_index, holder, lease)
            except Exception as exc:  # noqa: BLE001 - the shard matters more than its lease
                log.warning("sweep %s %s shard %s: lease not renewed: %s", sweep_id, group_key, shard_index, exc)

    renewer = threading.Thread(target=renew, name=f"lease {group_key}/{shard_index}", daemon=True)
    renewer.start()
    try:
        yield start
    finally:
        stop.set()  # not joined: a renewal stuck on an unreachable database must not hold the shard
