"""Flower as `infscale flower` runs it: Flower's own command, with /metrics behind its auth.

Flower 2 serves its Prometheus endpoint /metrics (worker and task names, counts, runtimes) to
anyone, even when basic auth guards every other page. Here the handler requires the same
credentials as the dashboard (a Prometheus scrape job sends them with `basic_auth`).
/healthcheck stays open for container health checks: it answers only "OK".

    python -m infscale.workers.flower -A infscale.workers.app flower   # what `infscale flower` runs
"""

from __future__ import annotations

import sys


def protect_metrics() -> None:
    """Make Flower's /metrics handler require an authenticated user, as its pages do."""
    from flower.views.monitor import Metrics
    from tornado.web import authenticated

    if not getattr(Metrics.get, "infscale_protected", False):
        get = authenticated(Metrics.get)
        get.infscale_protected = True  # type: ignore[attr-defined]
        Metrics.get = get


def main() -> None:
    protect_metrics()
    from celery.bin.celery import main as celery_main

    sys.exit(celery_main())


if __name__ == "__main__":
    main()
