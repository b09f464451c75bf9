"""Reading price files from disk and importing them into the price history (the engine parses,
this reads, the store writes)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from infscale.engine.catalog import BUILTIN_PREFIX
from infscale.engine.errors import SpecError
from infscale.engine.pricefile import PriceFile, parse_price_file
from infscale.engine.specs import ModelSpec
from infscale.engine.sweepfile import catalog_from_yaml, load_catalog
from infscale.storage.rows import PriceImport
from infscale.storage.store import Store

STORED_MODELS = "the models of the stored sweeps"
"""What maps LiteLLM names to models when no catalog is named: each model's latest stored run."""


def load_price_file(path: str | Path, store: Store, catalog: str | None = None) -> PriceFile:
    """Read and validate a price file. `catalog` (builtin:... or a path) says which LiteLLM name
    is which model; None: the `litellm_key` of the models the stored sweeps were computed with."""
    models = store.stored_models() if catalog is None else load_mapping_catalog(catalog)
    return parse_price_file(_read(Path(path), "price"), str(path), models, catalog or STORED_MODELS)


def import_price_file(
    store: Store, path: str | Path, catalog: str | None = None, effective_at: datetime | None = None
) -> tuple[PriceFile, PriceImport]:
    """Validate the whole file first, then import it in one transaction: all of it or nothing."""
    price_file = load_price_file(path, store, catalog)
    return price_file, store.import_prices(price_file.quotes, str(path), effective_at)


def load_mapping_catalog(name: str) -> dict[str, ModelSpec]:
    """A catalog by name: `builtin:...` or a file path (relative to the current directory)."""
    if name.startswith(BUILTIN_PREFIX):
        return load_catalog(name, _no_file, name)
    return catalog_from_yaml(_read(Path(name), "catalog"), name)


def import_document(price_file: PriceFile, imported: PriceImport) -> dict[str, Any]:
    """The `--json` contract of `prices import` (and the `prices` part of `recalc --json`)."""
    return {
        "file": price_file.source,
        "format": price_file.format.value,
        "effective_at": imported.effective_at.isoformat(),
        "changed": list(imported.changed),
        "unchanged": list(imported.unchanged),
        "ignored": list(price_file.ignored),
        "no_token_price": list(price_file.no_token_price),
        "unpriced": list(price_file.unpriced),
        "missing_keys": [
            {"model": m.model, "litellm_key": m.litellm_key, "near": list(m.near)} for m in price_file.missing_keys
        ],
        "first_tier": list(price_file.first_tier),
    }


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read {what} file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(str(path), "", "is not a UTF-8 text file") from None


def _no_file(name: str) -> str:
    raise AssertionError(f"a built-in catalog reads no file ({name})")
