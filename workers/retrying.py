"""How a task retries: an outage (the database or the broker unreachable) is waited out,
anything else fails the sweep after $INFSCALE_SHARD_RETRIES retries.

An outage is retried with exponential backoff from $INFSCALE_RETRY_BACKOFF seconds, capped at
`OUTAGE_BACKOFF_CAP` (and below a quarter of the visibility timeout, as a retry waits as an
ETA message), with equal jitter (each wait is between half and all of its step), for as many
retries as it takes for the shortest waits to add up to $INFSCALE_OUTAGE_RETRY seconds. An
outage never fails a sweep: a task whose outage retries run out ends, its lease runs out, and
the periodic check sends its shard again once the fault has cleared (scheduler.recovery).
"""

from __future__ import annotations

import random

from infscale import config

OUTAGE_BACKOFF_CAP = 30
"""Seconds: the longest wait between two retries of a task during an outage."""


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says a service is unreachable (not that the task is wrong)."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError as DatabaseError

    from infscale.storage.errors import DatabaseUnavailable  # the store's one-line form of the above

    if isinstance(exc, (DatabaseError, DatabaseUnavailable, InterfaceError, BrokerError, RedisConnectionError,
                        RedisTimeout, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def outage_countdown(retries: int) -> float:
    """Seconds before retry number `retries` + 1 of a task that met an outage."""
    step = _outage_step(retries)
    return step / 2 + random.uniform(0, step / 2)


def outage_retries() -> int:
    """Retries whose shortest waits (half of each step) add up to $INFSCALE_OUTAGE_RETRY."""
    bound, waited, retries = config.outage_retry(), 0.0, 0
    while waited < bound:
        waited += _outage_step(retries) / 2
        retries += 1
    return retries


def _outage_step(retries: int) -> float:
    cap = max(1, min(OUTAGE_BACKOFF_CAP, config.visibility_timeout() // 4))
    return float(min(cap, config.retry_backoff() * 2 ** min(retries, 30)))
