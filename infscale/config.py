"""Configuration: every environment variable infscale reads, with its default, in one place.

Nothing else reads `os.environ` for an INFSCALE_* setting; an explicit argument (a CLI flag)
overrides the variable where the table says so.

| variable | default | used by |
|---|---|---|
| INFSCALE_DATABASE_URL | sqlite:///infscale.db | every command (`--db` overrides) |
| INFSCALE_BROKER_URL | redis://127.0.0.1:6379/0 | submit, worker, beat, flower, recalc (set: recalc runs on a worker) (`--broker` overrides) |
| INFSCALE_RESULT_BACKEND | the broker URL | workers (results only for `celery inspect`; answers go to the database) |
| INFSCALE_MEMORY_LIMIT_MB | 4096 | refuses sweeps whose statistics would not fit |
| INFSCALE_SHARD_BLOCKS | 16 | blocks of 1024 trials per distributed shard |
| INFSCALE_VISIBILITY_TIMEOUT | 3600 | seconds before Redis redelivers an unacknowledged task |
| INFSCALE_SHARD_RETRIES | 5 | workers: retries of a failing shard before its sweep is marked failed |
| INFSCALE_RETRY_BACKOFF | 2 | workers: seconds before a shard's first retry; doubles each retry (with jitter) |
| INFSCALE_CHECK_INTERVAL | 10 | workers with beat: seconds between checks that finish complete sweeps and send lost shards again |
| INFSCALE_SHARD_LEASE | 30 | workers: seconds a running shard's lease lasts (renewed every third of it); a shard missing with no live lease is sent again after about this long |
| INFSCALE_OUTAGE_RETRY | 600 | workers: seconds a shard keeps retrying while the database or broker is unreachable (backoff capped at 30 s); never fails the sweep: after that the periodic check sends it again |
| INFSCALE_PRICE_SOURCE | (none) | recalc: the price file to import (a catalog or LiteLLM's price list) |
| INFSCALE_PRICE_CATALOG | (none: the stored sweeps' models) | prices import, recalc: the catalog whose `litellm_key` maps LiteLLM names to models |
| INFSCALE_RECALC_SCHEDULE | 0 2 * * * | beat: when `infscale.recalc` runs, a crontab (minute hour day month weekday) in UTC; run exactly one beat (a second is harmless: the task holds a Redis lock) |
| INFSCALE_TASK_EVENTS | 0 | workers: 1 sends task events from the start (3 more Redis round trips per shard); at 0 a running Flower switches them on within 5 s |
| INFSCALE_FLOWER_BASIC_AUTH | (none) | flower: user:password |
| INFSCALE_DASHBOARD_AUTH | (none) | infscale serve: user:password for basic auth (without it, 127.0.0.1 only) |
| INFSCALE_FLOWER_DB | flower.db | flower --persistent: the file Flower keeps its state in |
"""

from __future__ import annotations

import os

from infscale.engine.errors import InfscaleError

DEFAULT_DATABASE_URL = "sqlite:///infscale.db"
"""A file `infscale.db` in the current directory."""
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_RECALC_SCHEDULE = "0 2 * * *"  # nightly, 02:00 UTC


def database_url(explicit: str | None = None) -> str:
    """The explicit URL, else $INFSCALE_DATABASE_URL, else `DEFAULT_DATABASE_URL`."""
    return explicit or os.environ.get("INFSCALE_DATABASE_URL") or DEFAULT_DATABASE_URL


def memory_limit_bytes() -> int:
    return _int("INFSCALE_MEMORY_LIMIT_MB", 4096) << 20


def broker_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("INFSCALE_BROKER_URL") or DEFAULT_BROKER_URL


def broker_configured(explicit: str | None = None) -> bool:
    """Whether a broker was named (`--broker` or $INFSCALE_BROKER_URL), not just defaulted."""
    return bool(explicit or os.environ.get("INFSCALE_BROKER_URL"))


def result_backend(explicit_broker: str | None = None) -> str:
    return os.environ.get("INFSCALE_RESULT_BACKEND") or broker_url(explicit_broker)


def shard_blocks(explicit: int | None = None) -> int:
    return explicit if explicit is not None else _int("INFSCALE_SHARD_BLOCKS", 16)


def visibility_timeout() -> int:
    return _int("INFSCALE_VISIBILITY_TIMEOUT", 3600)


def task_time_limits() -> tuple[float, float]:
    """(soft, hard) seconds a shard may run: below the visibility timeout, so Redis never
    hands a task that is still legitimately running to a second worker."""
    timeout = visibility_timeout()
    return 0.8 * timeout, 0.9 * timeout


def shard_retries() -> int:
    return _int("INFSCALE_SHARD_RETRIES", 5)


def retry_backoff() -> int:
    return _int("INFSCALE_RETRY_BACKOFF", 2)


def check_interval() -> int:
    return _int("INFSCALE_CHECK_INTERVAL", 10)


def shard_lease() -> int:
    return _positive("INFSCALE_SHARD_LEASE", 30)


def outage_retry() -> int:
    return _int("INFSCALE_OUTAGE_RETRY", 600)


def task_events() -> bool:
    raw = os.environ.get("INFSCALE_TASK_EVENTS") or "0"
    if raw not in ("0", "1"):
        raise InfscaleError(f"environment: INFSCALE_TASK_EVENTS: must be 0 or 1, got {raw!r}")
    return raw == "1"


def flower_basic_auth() -> str | None:
    return os.environ.get("INFSCALE_FLOWER_BASIC_AUTH") or None


def dashboard_auth() -> tuple[str, str] | None:
    """`infscale serve`: (user, password) from INFSCALE_DASHBOARD_AUTH=user:password, or None."""
    value = os.environ.get("INFSCALE_DASHBOARD_AUTH") or None
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise InfscaleError("INFSCALE_DASHBOARD_AUTH: must be user:password")
    return user, password


def flower_db() -> str:
    return os.environ.get("INFSCALE_FLOWER_DB") or "flower.db"


def price_source() -> str | None:
    return os.environ.get("INFSCALE_PRICE_SOURCE") or None


def price_catalog() -> str | None:
    return os.environ.get("INFSCALE_PRICE_CATALOG") or None


def recalc_schedule() -> tuple[str, str, str, str, str]:
    """$INFSCALE_RECALC_SCHEDULE split into its five crontab fields (values are checked by Celery)."""
    raw = os.environ.get("INFSCALE_RECALC_SCHEDULE") or DEFAULT_RECALC_SCHEDULE
    fields = raw.split()
    if len(fields) != 5:
        raise InfscaleError(
            f"environment: INFSCALE_RECALC_SCHEDULE: must be a crontab of five fields "
            f"(minute hour day-of-month month day-of-week, UTC), got {raw!r}"
        )
    return fields[0], fields[1], fields[2], fields[3], fields[4]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InfscaleError(f"environment: {name}: must be an integer, got {raw!r}") from None
    return value


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise InfscaleError(f"environment: {name}: must be a positive integer, got {value}")
    return value
