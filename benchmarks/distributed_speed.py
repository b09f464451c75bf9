"""Distributed speed figures for the README (issue 3: distributed sweeps on Celery and Redis).

    python benchmarks/distributed_speed.py            # both figures (about two minutes)
    python benchmarks/distributed_speed.py --quick    # fewer shards and trials, same figures

Starts its own redis-server (free port, temporary directory) and real `celery worker`
processes on a SQLite file (or --db, e.g. a PostgreSQL URL).

1. Overhead per shard (goal: median <= 15 ms). A sweep of tiny shards (one block of 1024 trials
   at k_max 2, ~1 ms of simulation each) on one worker process. With the queue full, the time
   between two consecutive partials being stored is one shard's whole cycle: acknowledge,
   fetch the next message from Redis, hand it to the pool process, read the sweep's status,
   simulate, store the partial, check the group; minus the simulation time the shard measured
   itself, it is the overhead of queue, worker and database.
2. Throughput with 2 worker processes vs 1 (goal >= 1.7x): a larger sweep (4 models, k_max
   256, 131,072 trials each, shards of 16 blocks, the default), timed from submit until the
   sweep is done (the reduce included); 5 runs each, the ratio of the best times (and of the
   medians); workers are started and ready before the clock starts. Other load on the machine
   shows up here first: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infscale.scheduler.submit import submit  # noqa: E402
from infscale.workers.broker import sender  # noqa: E402
from infscale.readers.sweep_files import load_sweep  # noqa: E402
from infscale.storage.sql import SqlStore  # noqa: E402
from tests.services import RedisServer, Worker, wait_for  # noqa: E402

TINY = """\
name: bench-tiny-shards
models: [gpt5-nano]
scenarios:
  - {{name: tiny, max_total_cost: 1, max_total_time: 100, min_accuracy: 0.5, k_max: 2, parallelism: 1,
     k_grid: all}}
trials: {trials}
seed: 1
"""

SCALING_SHARD_BLOCKS = 16  # the default of INFSCALE_SHARD_BLOCKS

LARGE = """\
name: bench-large
models: [gpt5, gpt5-mini, gpt5-nano, qwen3-30b-a3b]
scenarios:
  - {{name: wide, max_total_cost: 0.5, max_total_time: 600, min_accuracy: 0.9, k_max: 256, parallelism: 1,
     k_grid: all}}
trials: {trials}
seed: 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 tiny shards and a smaller large sweep")
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="infscale-bench-") as tmp:
        directory = Path(tmp)
        url = args.db or f"sqlite:///{directory / 'bench.db'}"
        redis = RedisServer(directory / "redis").start()
        try:
            shard_overhead(directory, url, redis, shards=200 if args.quick else 400)
            scaling(directory, url, redis, blocks=64 if args.quick else 128, repeats=1 if args.quick else 5)
        finally:
            redis.stop()


def shard_overhead(directory: Path, url: str, redis: RedisServer, shards: int) -> None:
    with running_worker(directory, url, redis, concurrency=1, name="overhead"):
        store, sweep_id, wall = run_sweep(directory, url, redis, TINY.format(trials=1024 * shards), 1)
    times = sorted(store.partial_times(sweep_id), key=lambda p: p.created_at)
    gaps = [
        (b.created_at - a.created_at) / timedelta(seconds=1) - b.seconds for a, b in zip(times, times[1:])
    ]
    ms = sorted(1e3 * g for g in gaps)
    compute = statistics.median(1e3 * p.seconds for p in times)
    print(f"overhead per shard ({len(times)} shards of 1024 trials, k_max 2, 1 worker process, {store_kind(url)}):")
    print(f"  median {statistics.median(ms):6.2f} ms   p90 {ms[int(0.9 * len(ms))]:6.2f} ms   (goal: median <= 15 ms)")
    print(f"  simulation itself: median {compute:.2f} ms per shard; whole sweep {wall:.2f} s")


def scaling(directory: Path, url: str, redis: RedisServer, blocks: int, repeats: int) -> None:
    """Best and median of `repeats` runs each; the ratio of the best times is the figure (as
    timeit reports the minimum: other load on the machine only ever adds time)."""
    text = LARGE.format(trials=1024 * blocks)
    trials = 4 * 1024 * blocks
    best, median = {}, {}
    for processes in (1, 2):
        with running_worker(directory, url, redis, concurrency=processes, name=f"scale{processes}"):
            walls = [run_sweep(directory, url, redis, text, SCALING_SHARD_BLOCKS)[2] for _ in range(repeats)]
        best[processes], median[processes] = min(walls), statistics.median(walls)
        print(f"  {processes} worker process{'es' if processes > 1 else ''}: {trials} trials in {best[processes]:.2f} s "
              f"best = {trials / best[processes] / 1e3:.1f}k trials/s (runs: {', '.join(f'{w:.2f}' for w in walls)} s)")
    print(f"throughput with 2 processes vs 1: {best[1] / best[2]:.2f}x best, {median[1] / median[2]:.2f}x median   "
          f"(goal >= 1.7x; 4 models x {blocks} blocks, k_max 256, shards of {SCALING_SHARD_BLOCKS} blocks, "
          f"{store_kind(url)})")


def run_sweep(directory: Path, url: str, redis: RedisServer, text: str, shard_blocks: int) -> tuple[SqlStore, int, float]:
    """Submit and wait; the wall time is the database's, from the sweep's record to its finish
    (so polling, which is slow here to leave the CPU to the workers, adds nothing to it)."""
    path = directory / "sweep.yaml"
    path.write_text(text)
    store = SqlStore(url)
    sweep_id = submit(load_sweep(path), store, sender(redis.url), shard_blocks)
    wait_for(lambda: store.sweep(sweep_id).status in ("done", "failed"), 600, f"sweep {sweep_id}", 0.25)
    row = store.sweep(sweep_id)
    if row.status != "done":
        raise SystemExit(f"sweep {sweep_id} failed: {row.error}")
    return store, sweep_id, (row.finished_at - row.created_at) / timedelta(seconds=1)


@contextmanager
def running_worker(directory: Path, url: str, redis: RedisServer, concurrency: int, name: str) -> Iterator[Worker]:
    """A ready worker for the duration of a `with` block."""
    worker = Worker(name, redis.url, url, directory, concurrency).start()
    try:
        yield worker
    finally:
        worker.kill()


def store_kind(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


if __name__ == "__main__":
    main()
