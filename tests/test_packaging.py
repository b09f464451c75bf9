"""The distribution installs exactly one import name, `infscale`.

The wheel is built from a copy of the source tree and installed into a new virtual
environment that sees the global site-packages (for the dependencies) but not this checkout:
`import infscale` and its subpackages work there, while the repository's folder names
(`engine`, `cli`, ...) are not importable, so they cannot collide with other packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("engine", "cli", "storage", "workers", "scheduler", "reports", "readers", "dashboard")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with the built wheel installed (and nothing else of ours)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.db", ".pytest_cache", ".hypothesis",
    ))
    wheels = root / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w", str(wheels)], root)
    (wheel,) = wheels.glob("infscale-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], root)
    return python


def test_infscale_imports_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    code = (
        "import infscale, infscale.engine.selection, infscale.storage.sql, infscale.cli.main, "
        "infscale.workers, infscale.scheduler, infscale.reports, infscale.readers, infscale.dashboard; "
        "from importlib import resources; "
        "assert (resources.files('infscale.dashboard') / 'static' / 'run.js').is_file(); "
        "print(infscale.__file__)"
    )
    out = _run([str(installed), "-c", code], tmp_path)
    assert "site-packages" in out and str(REPO) not in out


@pytest.mark.parametrize("name", FOLDERS)
def test_folder_names_are_not_top_level_imports(installed: Path, tmp_path: Path, name: str) -> None:
    # Run from an empty directory: the repository is not on sys.path there.
    result = subprocess.run(
        [str(installed), "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"No module named '{name}'" in result.stderr


def test_top_level_names_of_the_wheel(installed: Path, tmp_path: Path) -> None:
    code = (
        "import importlib.metadata as m; d = m.distribution('infscale'); "
        "print(sorted({f.parts[0] for f in d.files if f.suffix == '.py'}))"
    )
    assert _run([str(installed), "-c", code], tmp_path).strip() == "['infscale']"


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
