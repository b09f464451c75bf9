"""Sweep and catalog YAML text -> validated specs (`yaml.safe_load` only, never tags)."""

from __future__ import annotations

from typing import Any, Callable

import yaml

from infscale.engine.catalog import BUILTIN_PREFIX, builtin_catalog, builtin_scenarios
from infscale.engine.errors import SpecError
from infscale.engine.specs import ModelSpec, SweepSpec, catalog_from_mapping, sweep_from_mapping

ReadText = Callable[[str], str]
"""Reads a catalog path named in a sweep (relative to the sweep) and returns its text."""


def parse_yaml(text: str, source: str) -> Any:
    """`yaml.safe_load` with its errors turned into a `SpecError` naming the line."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = exc.problem or exc.context or "malformed YAML"
        raise SpecError(source, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(source, "(yaml)", f"invalid YAML: {exc}") from None


def catalog_from_yaml(text: str, source: str) -> dict[str, ModelSpec]:
    """A catalog file in the reference notebook's format."""
    return catalog_from_mapping(parse_yaml(text, source), source)


def load_catalog(name: str, read_text: ReadText, source: str) -> dict[str, ModelSpec]:
    """A catalog by the name a sweep gives: `builtin:...` or a path read with `read_text`."""
    if name.startswith(BUILTIN_PREFIX):
        try:
            return builtin_catalog(name)
        except KeyError:
            raise SpecError(source, "catalog", f"unknown built-in catalog {name!r} (known: builtin:paper)") from None
    try:
        text = read_text(name)
    except OSError as exc:
        raise SpecError(source, "catalog", f"cannot read catalog {name!r}: {exc.strerror or exc}") from None
    return catalog_from_yaml(text, name)


def sweep_from_yaml(text: str, source: str, read_text: ReadText) -> SweepSpec:
    """A sweep file's text -> `SweepSpec`, loading the catalog it names."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise SpecError(source, "(top level)", "must be a mapping with name, catalog, models, scenarios, trials")
    catalog_name = data.get("catalog", "builtin:paper")
    if not isinstance(catalog_name, str):
        raise SpecError(source, "catalog", f"must be 'builtin:paper' or a file path, got {catalog_name!r}")
    catalog = load_catalog(catalog_name, read_text, source)
    return sweep_from_mapping(data, source, catalog, builtin_scenarios(), catalog_name)
