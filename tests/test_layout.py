"""The shape of the code: the engine is pure, storage plans nothing, no package cycles.

These read the source (imports as the AST has them), so they fail the moment someone adds
an import that breaks the layout the README describes.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "storage", "scheduler", "workers", "cli", "reports", "readers", "infscale")
ENGINE_MAY_IMPORT = {"numpy", "numba"}  # numba: the compiled kernel passes of engine/fused.py (issue 14)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (absolute names), including imports inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def package_of(module: str) -> str | None:
    """`infscale.engine.plan` -> `engine`; `infscale.config` -> `infscale`; others None."""
    parts = module.split(".")
    if parts[0] != "infscale":
        return None
    return parts[1] if len(parts) >= 2 and parts[1] in PACKAGES else "infscale"


def test_engine_imports_only_numpy_and_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((REPO / "engine").glob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            inside = name.startswith("infscale.engine")
            assert inside or top in stdlib or top in ENGINE_MAY_IMPORT, f"{path.name} imports {name}"
            assert top not in ("json", "csv", "yaml", "tomllib", "pathlib", "io"), f"{path.name} parses files: {name}"


def test_every_engine_module_imports_with_yaml_sqlalchemy_and_celery_unavailable() -> None:
    modules = [f"infscale.engine.{p.stem}" for p in sorted((REPO / "engine").glob("*.py")) if p.stem != "__init__"]
    code = (
        "import sys\n"
        "for name in ('yaml', 'sqlalchemy', 'celery', 'kombu', 'redis', 'alembic'):\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        f"for module in {modules!r}:\n"
        "    __import__(module)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("package, forbidden", [
    ("storage", ("scheduler", "workers", "cli")),
    ("scheduler", ("workers", "cli")),
    ("engine", ("storage", "scheduler", "workers", "cli", "reports", "readers", "infscale")),
    ("readers", ("storage", "scheduler", "workers", "cli")),
    ("reports", ("scheduler", "workers", "cli")),
])
def test_packages_import_only_downward(package: str, forbidden: tuple[str, ...]) -> None:
    for path in sorted((REPO / package).rglob("*.py")):
        for name in imports_of(path):
            assert package_of(name) not in forbidden, f"{path.relative_to(REPO)} imports {name}"


def test_storage_imports_no_planning_code() -> None:
    planning = ("infscale.engine.plan", "infscale.engine.adaptive", "infscale.engine.pipeline")
    for path in sorted((REPO / "storage").rglob("*.py")):
        tree = ast.parse(path.read_text())
        runtime = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in runtime:  # imports under `if TYPE_CHECKING:` are types only
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert module not in planning, f"{path.name} imports {module}"


def test_no_import_cycle_between_modules() -> None:
    """Module-level imports between infscale modules form no cycle (function-level imports,
    which run later, may point back up: the CLI's lazy imports)."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = _module_name(path)
            tree = ast.parse(path.read_text())
            graph[name] = {
                node.module for node in tree.body
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("infscale")
            } | {
                alias.name for node in tree.body if isinstance(node, ast.Import)
                for alias in node.names if alias.name.startswith("infscale")
            }
    visiting, done = set(), set()

    def visit(node: str, trail: list[str]) -> None:
        if node in done or node not in graph:
            return
        assert node not in visiting, "import cycle: " + " -> ".join(trail + [node])
        visiting.add(node)
        for target in graph[node]:
            visit(target, trail + [node])
        visiting.discard(node)
        done.add(node)

    for module in graph:
        visit(module, [])


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[0] != "infscale":
        parts.insert(0, "infscale")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)
