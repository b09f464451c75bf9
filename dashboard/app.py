"""The dashboard's web app: static pages that draw from read-only JSON endpoints.

Pages (HTML and JavaScript in `static/`, plotly.js from the installed `plotly` package) fetch:

| endpoint | what |
|---|---|
| `GET /api/sweeps` | every sweep with its progress (shards, runs, trials per second, ETA) and error |
| `GET /api/sweeps/{id}` | one sweep: budgets, choices and recommendations with confidence, what recalculations changed |
| `GET /api/sweeps/{id}/runs/{model}/{scenario}` | one run's figures (3-D space, curves with bands) and its revisions |
| `GET /api/sweeps/{id}/decide?scenario=&model=&max_total_cost=&...` | decided again under new budgets |
| `GET /api/prices` | every imported price version |

Everything is read through the `storage.interface.Storage` interface (opened without migrating: the dashboard never
writes) and decided through `infscale.api.decide_stored`, the function `infscale decide` uses.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from infscale.api import Database, Sweep, decide_stored
from infscale.dashboard.auth import BasicAuth
from infscale.engine.errors import InfscaleError
from infscale.readers.stored_specs import scenario_to_dict
from infscale.engine.whatif import Budgets
from infscale.reports.documents import progress_document
from infscale.reports.series import run_figures
from infscale.reports.values import json_float
from infscale.scheduler.progress import sweep_progress
from infscale.storage import open_store
from infscale.storage.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
SWEEP_CACHE_SECONDS = 60.0
"""How long a finished sweep's curves are kept in memory for the budget sliders (a price
recalculation shows up after at most this long)."""

BUDGET_PARAMETERS = ("max_total_cost", "max_total_time", "min_accuracy", "accuracy_tolerance")


def create_app(url: str | None = None, auth: tuple[str, str] | None = None) -> Starlette:
    """The dashboard over the database at `url`; every request needs `auth` (user, password) if given."""
    database = Database(open_store(url))
    cache = _SweepCache(database)
    page = _page_routes()
    routes = [
        *page,
        Route("/static/plotly.min.js", _plotly_js),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/sweeps", _json(lambda r: sweeps_document(database))),
        Route("/api/sweeps/{sweep:int}", _json(lambda r: sweep_document(database, r.path_params["sweep"]))),
        Route(
            "/api/sweeps/{sweep:int}/runs/{model}/{scenario}",
            _json(lambda r: run_document(database, r.path_params["sweep"], r.path_params["model"],
                                         r.path_params["scenario"])),
        ),
        Route("/api/sweeps/{sweep:int}/decide", _json(lambda r: decide_document(cache, r))),
        Route("/api/prices", _json(lambda r: [_price(p) for p in database.price_history()])),
    ]
    middleware = [Middleware(BasicAuth, credentials=auth)] if auth is not None else []
    return Starlette(routes=routes, middleware=middleware)


def sweeps_document(database: Database) -> list[dict[str, Any]]:
    """Every sweep, newest first, with its progress (the `infscale status --json` fields)."""
    return [progress_document(sweep_progress(database.store, row.id)) for row in reversed(database.sweeps())]


def sweep_document(database: Database, sweep_id: int) -> dict[str, Any]:
    """One sweep: its progress, budgets, choices, recommendations and recalculation changes."""
    from infscale.reports.documents import results_document

    store = database.store
    spec = store.sweep_spec(sweep_id)
    doc = {
        "progress": progress_document(sweep_progress(store, sweep_id)),
        "models": [m.key for m in spec.models],
        "scenarios": [scenario_to_dict(s) for s in spec.scenarios],
    }
    doc.update(results_document(sweep_id, store.choices(sweep_id), store.recommendations(sweep_id)))
    changes = store.changes(sweep_id)
    doc["changes"] = {
        "runs": [
            {"model": c.new.model, "scenario": c.new.scenario, "old_revision": c.old.revision,
             "new_revision": c.new.revision, "computed_at": c.new.computed_at.isoformat(),
             "old_prices": asdict(c.old.prices), "new_prices": asdict(c.new.prices),
             "old_k": {ch.method: ch.k for ch in c.old.choices}, "new_k": {ch.method: ch.k for ch in c.new.choices}}
            for c in changes.runs
        ],
        "recommendations": [
            {"scenario": c.new.scenario, "method": c.new.method, "changed": c.changed,
             "old": f"{c.old.model} k={c.old.k}", "new": f"{c.new.model} k={c.new.k}"}
            for c in changes.recommendations
        ],
    }
    return doc


def run_document(database: Database, sweep_id: int, model: str, scenario: str) -> dict[str, Any]:
    """One run: the data of its three figures (reports.series) and its revisions with prices."""
    store = database.store
    figures = run_figures(store, sweep_id, model, scenario)
    spec = store.sweep_spec(sweep_id)
    history = store.run_history(sweep_id, model, scenario)
    return {
        **figures,
        "sweep": sweep_id, "model": model, "scenario": scenario_to_dict(spec.scenario(scenario)),
        "models": [m.key for m in spec.models],
        "revisions": [
            {"revision": r.revision, "computed_at": r.computed_at.isoformat(), "prices": asdict(r.prices),
             "k": {c.method: c.k for c in r.choices}}
            for r in history
        ],
    }


def decide_document(cache: "_SweepCache", request: Request) -> dict[str, Any]:
    """`infscale decide --json` for the query's budgets, plus the run's feasible set and frontier."""
    from infscale.reports.documents import results_document

    query = request.query_params
    values = {}
    for name in BUDGET_PARAMETERS:
        if query.get(name) not in (None, ""):
            try:
                values[name] = float(query[name])
            except ValueError:
                raise InfscaleError(f"budgets: {name}: must be a number, got {query[name]!r}") from None
    sweep = cache.get(request.path_params["sweep"])
    # No confidence here: its bootstrap takes seconds, a slider move must take milliseconds.
    decisions = decide_stored(sweep, Budgets(**values), query.get("scenario"), query.get("model"), confidence=False)
    doc = results_document(sweep.id, decisions.results, decisions.recommendations)
    doc["scenarios"] = [scenario_to_dict(s) for s in decisions.scenarios]
    doc["runs"] = [
        {"model": r.model.key, "scenario": r.scenario.name, "k": r.curves.k.tolist(),
         "feasible": r.decision.feasible.tolist(), "on_frontier": r.decision.frontier.tolist()}
        for r in decisions.runs
    ]
    return doc


class _SweepCache:
    """Finished sweeps with their curves read once, for fast slider moves."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.entries: dict[int, tuple[float, Sweep]] = {}

    def get(self, sweep_id: int) -> Sweep:
        now = time.monotonic()
        entry = self.entries.get(sweep_id)
        if entry is None or now - entry[0] > SWEEP_CACHE_SECONDS:
            sweep = self.database.sweep(sweep_id)
            sweep.run_results()  # reads the curves now (and refuses an unfinished sweep)
            entry = self.entries[sweep_id] = (now, sweep)
        return entry[1]


def _json(build: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint: `build` runs in a thread (the store is synchronous); a user-facing error is
    a JSON {"error": one line} with 404 for what does not exist, 400 for the rest."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await asyncio.to_thread(build, request))
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except InfscaleError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return endpoint


def _page_routes() -> list[Route]:
    def page(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return FileResponse(STATIC / name, media_type="text/html")

        return endpoint

    return [
        Route("/", page("sweeps.html")),
        Route("/sweeps/{sweep:int}", page("sweep.html")),
        Route("/sweeps/{sweep:int}/runs/{model}/{scenario}", page("run.html")),
        Route("/prices", page("prices.html")),
    ]


async def _plotly_js(request: Request) -> Response:
    """plotly.min.js from the installed `plotly` package's data: the 3-D plots work offline, and
    the repository does not carry a 4 MB copy of it."""
    path = resources.files("plotly") / "package_data" / "plotly.min.js"
    return FileResponse(str(path), media_type="text/javascript")


def _price(p: Any) -> dict[str, Any]:
    return {"model": p.model, **{k: json_float(v) for k, v in asdict(p.prices).items()},
            "effective_at": p.effective_at.isoformat(), "source": p.source}
