"""`infscale serve`: the read-only web dashboard over the database."""

from __future__ import annotations

import argparse
from typing import Any

from infscale.cli.helptext import example
from infscale.cli.console import DB_HELP
from infscale.engine.errors import InfscaleError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_serve(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="the web dashboard: sweeps, progress, choices, 3-D feasible spaces, budget sliders",
        description="Serve the dashboard, read-only over the database: the sweeps with live progress "
        "of distributed ones, per sweep the choices and recommendations with confidence, per run an "
        "interactive 3-D feasible space and the curves with their bands, budget sliders that decide "
        "again as `infscale decide` does, and price history. With INFSCALE_DASHBOARD_AUTH=user:password "
        "every request needs those credentials (basic auth); without it the dashboard binds to "
        "127.0.0.1 only.",
        epilog=example("INFSCALE_DASHBOARD_AUTH=me:secret infscale serve --host 0.0.0.0 --port 8765"),
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; another needs INFSCALE_DASHBOARD_AUTH)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from infscale.dashboard.app import create_app
    from infscale.config import dashboard_auth

    auth = dashboard_auth()
    if auth is None and args.host not in LOOPBACK:
        raise InfscaleError(
            f"--host {args.host}: without INFSCALE_DASHBOARD_AUTH=user:password the dashboard binds to 127.0.0.1 only"
        )
    app = create_app(args.db, auth)
    guard = "basic auth from INFSCALE_DASHBOARD_AUTH" if auth else "no INFSCALE_DASHBOARD_AUTH: 127.0.0.1 only"
    print(f"infscale dashboard on http://{args.host}:{args.port}/ ({guard}); Ctrl-C stops it", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


REGISTRY = [add_serve]
