"""Reading sweep files from disk into validated specs (the engine parses, this reads)."""

from __future__ import annotations

from pathlib import Path

from infscale.engine.errors import SpecError
from infscale.engine.plan import check_memory
from infscale.engine.specs import SweepSpec
from infscale.engine.sweepfile import sweep_from_yaml
from infscale.scheduler.settings import memory_limit_bytes


def load_sweep(path: str | Path) -> SweepSpec:
    """Read, parse and validate a sweep file; a catalog path in it is relative to the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read sweep file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(str(path), "", "is not a UTF-8 text file") from None

    def read_relative(name: str) -> str:
        return (path.parent / name).read_text()

    sweep = sweep_from_yaml(text, str(path), read_relative)
    check_memory(sweep, memory_limit_bytes())
    return sweep
