"""infscale: decide how many inferences (k) an LLM deployment should run per query.

The distribution installs one import name, `infscale`. Its subpackages are the repository's
top-level folders (see the README's Layout): `infscale.engine` (the pure science),
`infscale.storage`, `infscale.scheduler`, `infscale.workers`, `infscale.cli`, `infscale.reports`.

The Python API (`infscale.api`) is re-exported here on first use, so `import infscale` stays
light (no database or numpy import until one is needed):

    import infscale
    sweep = infscale.run("examples/paper.yaml")
    sweep.decide(max_total_cost=0.25).recommendations.to_pandas()
"""

from typing import Any

__version__ = "0.2.0"

_API = ("run", "open_database", "Database", "Sweep", "Table", "RunCurves", "Decisions", "Budgets")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API or name == "api":
        import importlib

        api = importlib.import_module("infscale.api")  # sets infscale.api: no second call
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'infscale' has no attribute {name!r}")
