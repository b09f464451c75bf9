"""Handlers of the distributed commands: submit, status, wait, cancel, worker, beat, flower, db.

A sweep submitted here runs on Celery workers (`infscale worker`, or the plain `celery -A
workers.app worker`) that share the database and the Redis broker; results land in the same
tables as `infscale run`, so `results`, `curves` and `plot` work on it once it is done.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from infscale.cli.helptext import example
from infscale.cli.console import DB_HELP, open_store, positive_int, print_json, progress_bar
from infscale.engine.errors import InfscaleError

BROKER_HELP = "Redis broker URL (default: $INFSCALE_BROKER_URL or redis://127.0.0.1:6379/0)"
POLL_SECONDS = 0.5
FLOWER_COLUMNS = "name,args,state,received,started,runtime,retries,worker"

EXIT_DONE, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 2


def add_submit(sub: Any) -> None:
    p = sub.add_parser(
        "submit", help="send a sweep to the Celery workers and print its id at once",
        description="Validate SWEEP.yaml, record the sweep, its runs and its shard plan in the database, "
        "and enqueue one task per shard (a shard is --shard-blocks blocks of 1024 trials of one "
        "simulation). Workers started with `infscale worker` compute it; follow it with "
        "`infscale status ID` or `infscale wait ID`. The answer is bit-identical to `infscale run`, "
        "whatever the shard size and number of workers.",
        epilog=example("infscale submit examples/quick.yaml     # prints: sweep 1 submitted: ...",
                       "infscale wait 1 && infscale results --sweep 1"),
    )
    p.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file (see examples/paper.yaml)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--broker", help=BROKER_HELP)
    p.add_argument("--shard-blocks", type=positive_int,
                   help="blocks of 1024 trials per shard (default: $INFSCALE_SHARD_BLOCKS or 16)")
    p.add_argument("--json", action="store_true", help="print {sweep, shards, runs} as JSON")
    p.set_defaults(handler=cmd_submit)


def cmd_submit(args: argparse.Namespace) -> int:
    from infscale.engine.plan import simulation_groups
    from infscale.readers.sweep_files import load_sweep
    from infscale.scheduler.pricing import priced
    from infscale.scheduler.submit import submit
    from infscale.workers.broker import sender

    sweep = load_sweep(args.sweep)  # a bad file stops here: nothing stored, nothing enqueued
    store = open_store(args.db, create=True)  # after the sweep is valid: a bad file creates nothing
    sweep = priced(sweep, store)  # so does a litellm_key model with no price known
    sweep_id = submit(sweep, store, sender(args.broker), blocks_per_shard=args.shard_blocks)
    shards = sum(g.n_shards for g in store.progress(sweep_id))
    runs = len(sweep.models) * len(sweep.scenarios)
    if args.json:
        print_json({"sweep": sweep_id, "shards": shards, "runs": runs, "simulations": len(simulation_groups(sweep))})
    else:
        print(f"sweep {sweep_id} submitted: {runs} runs, {shards} shards; follow it with: infscale wait {sweep_id}")
    return 0


def add_status(sub: Any) -> None:
    p = sub.add_parser(
        "status", help="progress of a submitted sweep: runs, shards, trials per second, ETA, errors",
        description="Where a sweep stands, from the database: its status, runs finished, shards stored, "
        "trials simulated and the rate since its first shard started, the time left at that rate, "
        "and the error that failed it, if any.",
        epilog=example("infscale status 1", "infscale status 1 --json"),
    )
    p.add_argument("id", type=positive_int, metavar="ID", help="sweep id (printed by submit)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from infscale.reports.documents import progress_document
    from infscale.reports.text import waiting_words
    from infscale.scheduler.progress import sweep_progress

    progress = sweep_progress(open_store(args.db), args.id)
    if args.json:
        print_json(progress_document(progress))
        return 0
    s = progress.sweep
    print(f"sweep {s.id} {s.name!r}: {s.status}")
    print(f"  runs    {progress.runs_done} of {progress.runs_total} done")
    print(f"  shards  {progress.shards_done} of {progress.shards_total} stored")
    rate = f", {_count(progress.trials_per_second)} trials/s" if progress.trials_per_second else ""
    eta = f", ETA {_duration(progress.eta_seconds)}" if progress.eta_seconds is not None else ""
    print(f"  trials  {_count(progress.trials_done)} of {_count(progress.trials_total)}{rate}{eta}")
    waiting = waiting_words(progress)
    if waiting:
        print(f"  waiting {waiting}")
    if s.error:
        print(f"  error   {s.error}")
    return 0


def add_wait(sub: Any) -> None:
    p = sub.add_parser(
        "wait", help="wait for a submitted sweep to end (exit 0 done, 1 failed or cancelled, 2 timeout)",
        description="Poll the database until the sweep is done, failed or cancelled, with a progress "
        "bar on a terminal. Exit code 0: done; 1: failed or cancelled (the error is printed); "
        "2: still running when --timeout passed.",
        epilog=example("infscale wait 1 --timeout 600 && infscale results --sweep 1"),
    )
    p.add_argument("id", type=positive_int, metavar="ID", help="sweep id (printed by submit)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--timeout", type=float, help="give up after this many seconds (default: wait forever)")
    p.set_defaults(handler=cmd_wait)


def cmd_wait(args: argparse.Namespace) -> int:
    from infscale.reports.text import waiting_words
    from infscale.scheduler.progress import sweep_progress

    store = open_store(args.db)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    progress = sweep_progress(store, args.id)
    update, close = progress_bar(progress.trials_total, f"sweep {args.id}")
    shown = 0
    try:
        while True:
            update(progress.trials_done - shown)
            shown = progress.trials_done
            if progress.ended or (deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(POLL_SECONDS)
            progress = sweep_progress(store, args.id)
    finally:
        close()
    s = progress.sweep
    if s.status == "done":
        print(f"sweep {s.id} done: {progress.runs_done} runs; see: infscale results --sweep {s.id}")
        return EXIT_DONE
    if progress.ended:
        print(f"sweep {s.id} {s.status}" + (f": {s.error}" if s.error else ""), file=sys.stderr)
        return EXIT_FAILED
    waiting = waiting_words(progress)
    print(f"sweep {s.id} still {s.status} after {args.timeout:g} s: {progress.shards_done} of "
          f"{progress.shards_total} shards stored" + (f"; waiting: {waiting}" if waiting else ""), file=sys.stderr)
    return EXIT_TIMEOUT


def add_cancel(sub: Any) -> None:
    p = sub.add_parser(
        "cancel", help="cancel a submitted sweep (workers skip its remaining shards)",
        description="Mark the sweep and its unfinished runs cancelled. Shards already queued are "
        "skipped by the workers when they reach them; runs already finished keep their results.",
        epilog=example("infscale cancel 1"),
    )
    p.add_argument("id", type=positive_int, metavar="ID", help="sweep id")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(handler=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    if not store.cancel_sweep(args.id):
        raise InfscaleError(f"sweep {args.id} has already ended ({store.sweep(args.id).status}); nothing to cancel")
    print(f"sweep {args.id} cancelled")
    return 0


def add_worker(sub: Any) -> None:
    p = sub.add_parser(
        "worker", help="start a Celery worker with infscale's settings",
        description="Run `celery -A infscale.workers.app worker` with the broker and database given here (or "
        "in $INFSCALE_BROKER_URL and $INFSCALE_DATABASE_URL). The plain celery command works too "
        "with those variables set; every Celery setting lives in workers/app.py.",
        epilog=example(
            "export INFSCALE_BROKER_URL=redis://127.0.0.1:6379/0",
            "export INFSCALE_DATABASE_URL=postgresql://infscale@127.0.0.1:5432/infscale",
            "infscale worker --concurrency 2",
            "celery -A infscale.workers.app worker --concurrency 2 --loglevel INFO   # the same, spelled out",
        ),
    )
    p.add_argument("--concurrency", type=positive_int, help="pool processes (default: one per core)")
    p.add_argument("--broker", help=BROKER_HELP)
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--beat", action="store_true",
                   help="also run the periodic check that finishes complete sweeps (one worker per cluster)")
    p.add_argument("--loglevel", default="INFO", help="Celery log level (default: INFO)")
    p.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    extra = ["--pool", "prefork"] + (["--concurrency", str(args.concurrency)] if args.concurrency else [])
    _exec_celery("worker", extra + (["--beat"] if args.beat else []), args)


def add_beat(sub: Any) -> None:
    p = sub.add_parser(
        "beat", help="run the periodic scheduler (exactly one per cluster)",
        description="Run `celery -A infscale.workers.app beat`: every $INFSCALE_CHECK_INTERVAL seconds (10) it "
        "sends infscale.check_sweeps, which finishes sweeps whose shards are all stored but whose "
        "reduce was lost, and sends again the shards no live worker holds (scheduler.recovery); on $INFSCALE_RECALC_SCHEDULE (crontab, UTC, default nightly 0 2 * * *) it "
        "sends infscale.recalc, which imports $INFSCALE_PRICE_SOURCE and recomputes the runs whose "
        "prices changed. Run exactly one (or one worker with `infscale worker --beat`); a second "
        "is harmless for recalc (a Redis lock) but doubles the checks.",
        epilog=example("INFSCALE_BROKER_URL=redis://127.0.0.1:6379/0 infscale beat --schedule /tmp/celerybeat-schedule"),
    )
    p.add_argument("--broker", help=BROKER_HELP)
    p.add_argument("--schedule", help="file where beat keeps its state (default: ./celerybeat-schedule)")
    p.add_argument("--loglevel", default="INFO", help="Celery log level (default: INFO)")
    p.set_defaults(handler=cmd_beat, db=None)


def cmd_beat(args: argparse.Namespace) -> int:
    _exec_celery("beat", ["--schedule", args.schedule] if args.schedule else [], args)


def add_flower(sub: Any) -> None:
    p = sub.add_parser(
        "flower", help="run Flower, the web monitor of the workers and their tasks",
        description="Run Flower (`celery -A infscale.workers.app flower`): tasks labelled with their sweep, "
        "simulation group and shard (args column: sweep 12 - gpt5/P4/k128/multiples - shard 3/7), "
        "retries and failures, workers, and the queue. Basic auth from $INFSCALE_FLOWER_BASIC_AUTH "
        "(user:password, kept out of the process list) guards every page, the API and /metrics "
        "(Prometheus; only /healthcheck is open). Without it Flower does not start, unless "
        "--insecure-no-auth, which serves on 127.0.0.1 only. With --persistent, its state is kept in "
        "$INFSCALE_FLOWER_DB.",
        epilog=example("INFSCALE_FLOWER_BASIC_AUTH=admin:change-me infscale flower --port 5555",
                       "infscale flower --insecure-no-auth     # this machine only: http://127.0.0.1:5555"),
    )
    p.add_argument("--broker", help=BROKER_HELP)
    p.add_argument("--port", type=positive_int, default=5555, help="HTTP port (default: 5555)")
    p.add_argument("--persistent", action="store_true", help="keep Flower's state across restarts")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="start without $INFSCALE_FLOWER_BASIC_AUTH, listening on 127.0.0.1 only")
    p.add_argument("--loglevel", default="INFO", help="log level (default: INFO)")
    p.set_defaults(handler=cmd_flower, db=None)


def cmd_flower(args: argparse.Namespace) -> int:
    from infscale import config

    # The args column carries each task's label (workers.labels); an operator's own choice wins.
    env = {"FLOWER_PORT": str(args.port), "FLOWER_TASKS_COLUMNS": os.environ.get("FLOWER_TASKS_COLUMNS") or FLOWER_COLUMNS}
    auth = config.flower_basic_auth()
    if auth:
        env["FLOWER_BASIC_AUTH"] = auth
    elif not args.insecure_no_auth:
        raise InfscaleError(
            "flower: INFSCALE_FLOWER_BASIC_AUTH is not set: Flower would show every task's arguments and "
            "let anyone stop workers; set it to user:password, or pass --insecure-no-auth to serve on 127.0.0.1 only"
        )
    else:
        env["FLOWER_ADDRESS"] = "127.0.0.1"
        print(f"infscale: Flower WITHOUT authentication, on http://127.0.0.1:{args.port} only "
              "(set INFSCALE_FLOWER_BASIC_AUTH to serve other machines)", file=sys.stderr)
    if args.persistent:
        env.update(FLOWER_PERSISTENT="true", FLOWER_DB=config.flower_db())
    _exec_celery("flower", [], args, env, launcher="infscale.workers.flower")


def celery_command(program: str, extra: list[str], loglevel: str = "INFO", launcher: str = "celery") -> list[str]:
    """The `celery -A infscale.workers.app PROGRAM` command line the wrappers run (`launcher`: the
    module run with -m, celery's own or one that wraps it)."""
    return [sys.executable, "-m", launcher, "-A", "infscale.workers.app", program, "--loglevel", loglevel, *extra]


def _exec_celery(program: str, extra: list[str], args: argparse.Namespace, env: dict[str, str] | None = None,
                 launcher: str = "celery") -> None:
    """Replace this process with celery (so signals reach it directly), with --broker/--db in
    its environment where given."""
    environ = {**os.environ, **(env or {})}
    if args.broker:
        environ["INFSCALE_BROKER_URL"] = args.broker
    if args.db:
        environ["INFSCALE_DATABASE_URL"] = args.db
    argv = celery_command(program, extra, args.loglevel, launcher)
    os.execvpe(argv[0], argv, environ)


def add_db(sub: Any) -> None:
    p = sub.add_parser(
        "db", help="database maintenance: upgrade the schema",
        description="`infscale db upgrade` migrates the database to the newest schema (alembic "
        "upgrade head). Every command does this on first use; run it explicitly before starting "
        "workers of a new release.",
        epilog=example("infscale db upgrade"),
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate the database to the newest schema",
                                 description="Migrate the database to the newest schema (alembic upgrade head).",
                                 epilog=example("infscale db upgrade --db sqlite:///infscale.db"))
    upgrade.add_argument("--db", help=DB_HELP)
    upgrade.set_defaults(handler=cmd_db_upgrade)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from kombu.utils.url import maybe_sanitize_url

    from infscale.config import database_url
    from infscale.storage.database import check_url, head_revision, schema_revision, upgrade

    url = database_url(args.db)
    check_url(url, must_exist=False)
    before = schema_revision(url)
    known = head_revision()
    upgrade(url)
    what = "created" if before is None else "already up to date" if before == known else f"upgraded from {before}"
    print(f"{maybe_sanitize_url(url)}: schema {known}, {what}")
    return 0


def _count(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


REGISTRY = [add_submit, add_status, add_wait, add_cancel, add_worker, add_beat, add_flower, add_db]
