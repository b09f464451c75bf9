"""Sweep and catalog files (YAML; `yaml.safe_load` only, never tags) -> validated specs.

`load_sweep` reads a sweep file and the catalog it names (a path relative to the sweep file,
or `builtin:paper`); `load_catalog` reads a catalog by name. A catalog entry's `data: FILE`
(the empirical model's eval log, a path relative to the catalog file) is read here, with the
eval-log readers of `infscale fit`, and handed to the engine as its samples. The engine
validates the mappings (engine.specs); this module only reads and parses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from infscale import config
from infscale.engine.catalog import BUILTIN_PREFIX, builtin_catalog, builtin_scenarios
from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.engine.plan import check_memory
from infscale.engine.specs import ModelSpec, SweepSpec
from infscale.engine.validation import catalog_from_mapping, sweep_from_mapping
from infscale.readers.files import MAX_SPEC_BYTES, read_text
from infscale.readers.structured_text import parse_yaml

ReadText = Callable[[str], str]
"""Reads a catalog path named in a sweep (relative to the sweep) and returns its text."""


def load_sweep(path: str | Path) -> SweepSpec:
    """Read, parse and validate a sweep file; a catalog path in it is relative to the file.
    A sweep whose statistics would not fit $INFSCALE_MEMORY_LIMIT_MB is refused here."""
    path = Path(path)
    text = read_text(path, "sweep file", MAX_SPEC_BYTES)
    return sweep_from_yaml(
        text, str(path), lambda name: read_text(path.parent / name, "catalog file", MAX_SPEC_BYTES), path.parent,
    )


def load_catalog_file(name: str) -> dict[str, ModelSpec]:
    """A catalog by name: `builtin:...` or a file path (relative to the current directory)."""
    return load_catalog(name, lambda path: read_text(path, "catalog file", MAX_SPEC_BYTES), name)




def catalog_from_yaml(text: str, source: str, folder: Path | None = None) -> dict[str, ModelSpec]:
    """A catalog file in the reference notebook's format; its entries' `data` paths are
    relative to `folder` (default: the folder of `source`)."""
    data = parse_yaml(text, source)
    return catalog_from_mapping(with_eval_logs(data, Path(source).parent if folder is None else folder), source)


def with_eval_logs(catalog: Any, folder: Path) -> Any:
    """The catalog mapping with each entry's `data: FILE` replaced by the samples of that eval
    log (the entry's own model's, when the log has several); anything else as it is."""
    models = catalog.get("models") if isinstance(catalog, Mapping) else None
    if not isinstance(models, Mapping):
        return catalog
    resolved = {}
    for key, entry in models.items():
        if isinstance(entry, Mapping) and isinstance(entry.get("data"), str):
            entry = {**entry, "data": _model_log(str(folder / entry["data"]), str(key))}
        resolved[key] = entry
    return {**catalog, "models": resolved}


def load_catalog(name: str, read_text: ReadText, source: str, folder: Path = Path(".")) -> dict[str, ModelSpec]:
    """A catalog by the name a sweep gives: `builtin:...` or a path (relative to `folder`)
    read with `read_text`."""
    if name.startswith(BUILTIN_PREFIX):
        try:
            return builtin_catalog(name)
        except KeyError:
            raise SpecError(source, "catalog", f"unknown built-in catalog {name!r} (known: builtin:paper)") from None
    try:
        text = read_text(name)
    except SpecError as exc:  # name the sweep's field, with the reason the file gave
        raise SpecError(source, "catalog", f"cannot read catalog {name!r}: {exc.message}") from None
    except OSError as exc:
        raise SpecError(source, "catalog", f"cannot read catalog {name!r}: {exc.strerror or exc}") from None
    return catalog_from_yaml(text, name, (folder / name).parent)


def sweep_from_yaml(text: str, source: str, read_text: ReadText, folder: Path = Path(".")) -> SweepSpec:
    """A sweep file's text -> `SweepSpec`, loading the catalog it names (relative to `folder`)."""
    return sweep_from_data(parse_yaml(text, source), source, read_text, folder)


def sweep_from_data(data: Any, source: str, read_text: ReadText, folder: Path = Path(".")) -> SweepSpec:
    """A sweep file's content as plain data (a dict from a notebook, or parsed YAML) ->
    `SweepSpec`, loading the catalog it names (a path relative to `folder`); refused if it
    would not fit in memory."""
    if not isinstance(data, dict):
        raise SpecError(source, "(top level)", "must be a mapping with name, catalog, models, scenarios, trials")
    catalog_name = data.get("catalog", "builtin:paper")
    if not isinstance(catalog_name, str):
        raise SpecError(source, "catalog", f"must be 'builtin:paper' or a file path, got {catalog_name!r}")
    catalog = load_catalog(catalog_name, read_text, source, folder)
    sweep = sweep_from_mapping(data, source, catalog, builtin_scenarios(), catalog_name)
    check_memory(sweep, config.memory_limit_bytes())
    return sweep


def _model_log(path: str, key: str) -> EvalLog:
    """The samples of model `key` in the eval log at `path` (rows naming no model are its)."""
    from infscale.readers.evallogs import read_eval_log  # here: only a catalog with data pays for the log readers

    logs = read_eval_log(path, model=key)
    if len(logs) == 1:
        return logs[0]
    for log in logs:
        if log.model == key:
            return log
    names = ", ".join(repr(log.model) for log in logs)
    raise SpecError(path, "model", f"has samples of several models ({names}) and none of {key!r}, the catalog entry that names it")
