"""Typed errors raised by the engine and turned into one-line messages at the CLI edge."""

from __future__ import annotations


class InfscaleError(Exception):
    """Base of every error infscale reports to a user as one line (exit code 2)."""


class SpecError(InfscaleError):
    """A sweep, catalog or scenario is invalid; names the source file and the field."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class MergeError(InfscaleError):
    """Two partials cannot be merged (overlapping blocks or different shapes)."""
