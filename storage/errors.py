"""Errors the storage layer reports to a user as one line (see engine.errors)."""

from __future__ import annotations

from infscale.engine.errors import InfscaleError


class NotFound(InfscaleError):
    """A sweep, simulation group, model, scenario or run that the database does not hold."""


class CorruptPartial(InfscaleError):
    """Stored partial statistics that cannot be decoded (truncated, foreign or damaged bytes)."""


class DatabaseUnavailable(InfscaleError):
    """A database that cannot be reached or written (a bad URL, refused, missing, disk full)."""


class SchemaMismatch(InfscaleError):
    """A database whose schema is older or newer than this infscale's (run `infscale db upgrade`)."""
