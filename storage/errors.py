"""Errors the storage layer reports to a user as one line (see engine.errors)."""

from __future__ import annotations

from infscale.engine.errors import InfscaleError


class NotFound(InfscaleError):
    """A sweep, simulation group, model, scenario or run that the database does not hold."""


class CorruptPartial(InfscaleError):
    """Stored partial statistics that cannot be decoded (truncated, foreign or damaged bytes)."""
