"""Distributed speed figures for the README (issue 3: distributed sweeps; issue 14: the shard path
across a network, the reduce at 100,000,000 trials).

    python benchmarks/distributed_speed.py --postgres URL   # every figure (several minutes; root)
    python benchmarks/distributed_speed.py --quick          # fewer shards and trials, same figures
    python benchmarks/distributed_speed.py --only reduce    # one figure
    python benchmarks/distributed_speed.py --only reduce --reduce-trials 100000000

Starts its own redis-server (free port, temporary directory) and real `celery worker`
processes on a SQLite file (or --db), and on the empty PostgreSQL database --postgres names.

1. Overhead per shard on loopback (goal: median <= 15 ms). A sweep of tiny shards (one block of
   1024 trials at k_max 2, ~1 ms of simulation each) on one worker process. With the queue full,
   the time between two consecutive partials being stored is one shard's whole cycle:
   acknowledge, fetch the next message from Redis, hand it to the pool process, take the shard
   (its lease), simulate, store the partial; minus the simulation time the shard measured
   itself, it is the overhead of queue, worker and database. The worker reaches Redis and
   PostgreSQL through links (tests.link) that count round trips per shard (goal: PostgreSQL
   <= 5, Redis <= 4): the difference between a sweep of 4 shards and this one, per shard.
2. The same at a delay (goal: median <= 60 ms at 5 ms each way): the worker runs in a network
   namespace of its own (--netns), joined to this one by a veth pair (--subnet A.B.C: .1 here,
   .2 there); Redis and PostgreSQL stay here, behind links that hold every chunk --delay-ms
   each way (`tc netem` is missing from this kernel). The namespace and the pair are created
   and removed by the script (root needed).
3. Throughput with 2 worker processes vs 1 (goal >= 1.7x on PostgreSQL), on SQLite and on
   PostgreSQL: a larger sweep (4 models, k_max 256, 131,072 trials each, shards of 16 blocks,
   the default), timed from submit until the sweep is done (the reduce included); 5 runs each,
   the ratio of the best times (and of the medians); workers are started and ready before the
   clock starts. Other load on the machine shows up here first: run it on a quiet one.
4. Reduce memory (goal: peak under 500 MB at 245 shards, not growing with the shard count;
   under 1 GB at 100,000,000 trials with --reduce-trials): GPT-5 at k_max 1024, grid all,
   shards of 16 blocks (4,000,000 trials = 245 shards); every shard's partial is one real
   16-block partial stored under its own block indices (its values repeat: memory and bytes do
   not depend on them, and simulating 1e11 inferences would take hours); then `reduce_group`
   in a fresh process, reading them from the database, whose peak RSS is printed with the
   database bytes per shard. No broker or worker needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from infscale.engine.pipeline import simulate_shard  # noqa: E402
from infscale.engine.plan import plan_sweep  # noqa: E402
from infscale.scheduler.submit import submit  # noqa: E402
from infscale.workers.broker import sender  # noqa: E402
from infscale.readers.sweep_files import load_sweep  # noqa: E402
from infscale.storage.sql import SqlStore  # noqa: E402
from infscale.storage.codec import partial_to_bytes  # noqa: E402
from tests.link import Link, round_trips_per_shard  # noqa: E402
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
    parser.add_argument("--postgres", metavar="URL",
                        help="an empty PostgreSQL database: overhead and scaling run on it too, and the delay figure")
    parser.add_argument("--only", choices=("overhead", "delay", "scaling", "reduce"), help="one figure only")
    parser.add_argument("--reduce-trials", type=int, metavar="N",
                        help="with --only reduce: one reduce of N trials (e.g. 100000000) instead of the shard series")
    parser.add_argument("--netns", default="infscale-bench", help="the worker's network namespace (delay figure)")
    parser.add_argument("--subnet", default="10.231.0", metavar="A.B.C",
                        help="the veth pair's /24: A.B.C.1 on this side, A.B.C.2 the worker's (delay figure)")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="one-way delay on the link (delay figure)")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the servers and workers and remove the namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="infscale-bench-") as tmp:
        directory = Path(tmp)
        url = args.db or f"sqlite:///{directory / 'bench.db'}"
        urls = [url] + ([args.postgres] if args.postgres else [])
        if args.only in (None, "reduce"):
            if args.reduce_trials:
                reduce_memory(directory, url, trials_each=(args.reduce_trials,))
            else:  # 245 shards: 4,000,000 trials
                counts = (30, 60) if args.quick else (30, 60, 120, 245)
                reduce_memory(directory, url, trials_each=[int(n * REDUCE_SHARD_BLOCKS * 1024 * 0.998) for n in counts])
        if args.only == "reduce":
            return
        redis = RedisServer(directory / "redis").start()
        shards = 200 if args.quick else 400
        try:
            if args.only in (None, "overhead"):
                for each in urls:
                    shard_overhead(directory, each, redis, shards)
            if args.only in (None, "delay"):
                if not args.postgres:
                    raise SystemExit("the delay figure needs --postgres URL (an empty PostgreSQL database)")
                with worker_namespace(args.netns, args.subnet) as address:
                    shard_overhead(directory, args.postgres, redis, shards, args.delay_ms / 1e3, (args.netns, address))
            if args.only in (None, "scaling"):
                for each in urls:
                    scaling(directory, each, redis, blocks=64 if args.quick else 128, repeats=1 if args.quick else 5)
        finally:
            redis.stop()


REDUCE_SHARD_BLOCKS = 16


def reduce_memory(directory: Path, url: str, trials_each: Sequence[int]) -> None:
    print("reduce of one group (GPT-5, k_max 1024, grid all, shards of 16 blocks), in a fresh process:")
    for trials in trials_each:
        path = directory / "reduce.yaml"
        path.write_text(
            "name: bench-reduce\nmodels: [gpt5]\nscenarios:\n  - {name: wide, max_total_cost: 10, max_total_time: 3000,"
            f" min_accuracy: 0.9, k_max: 1024, parallelism: 1, k_grid: all}}\ntrials: {trials}\nseed: 3\n"
        )
        sweep = load_sweep(path)
        plan = plan_sweep(sweep, REDUCE_SHARD_BLOCKS)
        (group_plan,) = plan.groups
        store = SqlStore(url)
        sweep_id = store.create_sweep(plan)
        real = simulate_shard(sweep, group_plan.group, group_plan.shards[0].blocks)
        sizes = []
        for shard in group_plan.shards:
            n = len(shard.blocks)
            relabelled = replace(
                real, blocks=np.arange(shard.blocks.start, shard.blocks.stop, dtype=np.int64), trials=real.trials[:n],
                sums=real.sums[:n], m2=real.m2[:n], feasible=real.feasible[:n],
            )
            if len(sizes) < 100:  # bytes per shard, from a sample (they hardly vary)
                sizes.append(len(partial_to_bytes(relabelled)))  # what the store writes
            store.save_partial(sweep_id, group_plan.group.key, shard.index, relabelled, 0.0)
        store.close()
        script = (
            "import resource, sys, time; from infscale.scheduler.reduce import reduce_group;"
            "from infscale.storage.sql import SqlStore; s = SqlStore(sys.argv[1]); i = int(sys.argv[2]);"
            "t = time.perf_counter(); out = reduce_group(s, i, s.sweep_spec(i), sys.argv[3], send=None);"
            "print(out, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script, url, str(sweep_id), group_plan.group.key], capture_output=True, text=True,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if proc.returncode != 0 or "group finished" not in proc.stdout:
            raise SystemExit(proc.stderr or proc.stdout)
        seconds, rss = (float(x) for x in proc.stdout.split()[-2:])
        print(f"  {len(group_plan.shards):4d} shards ({trials:>9,} trials): peak {rss / 1024:6.0f} MB, {seconds:5.1f} s;"
              f" database {statistics.median(sizes) / 1e6:.2f} MB per shard (median)   (goal: peak < {'500 MB' if trials <= 4_000_000 else '1 GB'})")


def shard_overhead(directory: Path, url: str, redis: RedisServer, shards: int, delay: float = 0.0,
                   namespace: tuple[str, str] | None = None) -> None:
    """The worker reaches Redis (and PostgreSQL) through links (tests.link) that count round
    trips and add `delay` each way; with `namespace` (name, this side's address) it runs in
    that network namespace and reaches them across the veth pair."""
    netns, host = namespace or (None, "127.0.0.1")
    links = {"Redis": Link(redis.port, delay, host=host).start()}
    worker_url = url
    if not url.startswith("sqlite"):
        database = make_url(url)
        links["PostgreSQL"] = Link(database.port or 5432, delay, target_host=database.host or "127.0.0.1", host=host).start()
        worker_url = database.set(host=host, port=links["PostgreSQL"].port).render_as_string(hide_password=False)
    broker = f"redis://{host}:{links['Redis'].port}/0"
    runs = []
    try:
        with running_worker(directory, worker_url, broker, concurrency=1, name="overhead", netns=netns):
            def run(n_shards: int) -> None:
                runs.append(run_sweep(directory, url, redis, TINY.format(trials=1024 * n_shards), 1))

            per_shard = round_trips_per_shard(links, run, few=4, many=shards)
    finally:
        for link in links.values():
            link.stop()
    store, sweep_id, wall = runs[-1]
    times = sorted(store.partial_times(sweep_id), key=lambda p: p.created_at)
    gaps = [
        (b.created_at - a.created_at) / timedelta(seconds=1) - b.seconds for a, b in zip(times, times[1:])
    ]
    ms = sorted(1e3 * g for g in gaps)
    compute = statistics.median(1e3 * p.seconds for p in times)
    where = (f"worker in network namespace {netns}, {delay * 1e3:g} ms each way to Redis and PostgreSQL"
             if netns else "loopback")
    goal = "goal: median <= 60 ms at 5 ms each way" if netns else "goal: median <= 15 ms"
    print(f"overhead per shard ({len(times)} shards of 1024 trials, k_max 2, 1 worker process, {store_kind(url)}, {where}):")
    print(f"  median {statistics.median(ms):6.2f} ms   p90 {ms[int(0.9 * len(ms))]:6.2f} ms   ({goal})")
    print(f"  simulation itself: median {compute:.2f} ms per shard; whole sweep {wall:.2f} s")
    print("  round trips per shard: " + ", ".join(f"{name} {n:.2f}" for name, n in per_shard.items())
          + "   (goal: PostgreSQL <= 5, Redis <= 4)")


@contextmanager
def worker_namespace(name: str, subnet: str) -> Iterator[str]:
    """A network namespace `name` for the worker, joined to this one by a veth pair: {subnet}.1
    on this side (where Redis, PostgreSQL and the delaying links are), {subnet}.2 in it. Yields
    this side's address; the namespace and the pair are removed afterwards. Needs root."""
    outer, inner = f"{name[:12]}-o", f"{name[:12]}-i"  # interface names: 15 characters at most
    setup = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
        ["ip", "link", "set", inner, "netns", name],
        ["ip", "addr", "add", f"{subnet}.1/24", "dev", outer],
        ["ip", "link", "set", outer, "up"],
        ["ip", "-n", name, "addr", "add", f"{subnet}.2/24", "dev", inner],
        ["ip", "-n", name, "link", "set", inner, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        for command in setup:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(command)}: {done.stderr.strip()}")
        yield f"{subnet}.1"
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def scaling(directory: Path, url: str, redis: RedisServer, blocks: int, repeats: int) -> None:
    """Best and median of `repeats` runs each; the ratio of the best times is the figure (as
    timeit reports the minimum: other load on the machine only ever adds time)."""
    text = LARGE.format(trials=1024 * blocks)
    trials = 4 * 1024 * blocks
    best, median = {}, {}
    for processes in (1, 2):
        with running_worker(directory, url, redis.url, concurrency=processes, name=f"scale{processes}"):
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
def running_worker(directory: Path, url: str, broker: str, concurrency: int, name: str,
                   netns: str | None = None) -> Iterator[Worker]:
    """A ready worker for the duration of a `with` block."""
    worker = Worker(name, broker, url, directory, concurrency, netns=netns).start()
    try:
        yield worker
    finally:
        worker.kill()


def store_kind(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


if __name__ == "__main__":
    main()
