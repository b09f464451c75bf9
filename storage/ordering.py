"""Orders and revisions: how every store sorts what it returns and picks a revision.

Shared by the SQL and the in-memory store, so both answer in the same order by the same rules:
runs by the spec's model then scenario order, methods in the engine's `Method` order, and of
several revisions of one thing the highest (or the one in force at a time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, TypeVar

from infscale.engine.selection import Method
from infscale.storage.errors import NotFound

METHOD_RANK = {m.value: i for i, m in enumerate(Method)}
"""Rank of each method in the engine's `Method` order, the order every query returns."""

R = TypeVar("R")


class SweepOrder:
    """The spec's model and scenario order, and checks that named ones exist."""

    def __init__(self, sweep_id: int, models: Iterable[str], scenarios: Iterable[str]) -> None:
        self.sweep_id = sweep_id
        self.models = {key: i for i, key in enumerate(models)}
        self.scenarios = {name: i for i, name in enumerate(scenarios)}

    def key(self, model: str | None, scenario: str, method: str) -> tuple[int, int, int]:
        return (self.models.get(model, -1), self.scenarios[scenario], METHOD_RANK[method])

    def check_model(self, model: str) -> None:
        if model not in self.models:
            raise NotFound(f"sweep {self.sweep_id} has no model {model!r} (models: {', '.join(self.models)})")

    def check_scenario(self, scenario: str) -> None:
        if scenario not in self.scenarios:
            raise NotFound(
                f"sweep {self.sweep_id} has no scenario {scenario!r} (scenarios: {', '.join(self.scenarios)})"
            )

    def select(self, runs: Iterable[Any], model: str | None, scenario: str | None) -> list[Any]:
        """Runs of the named model and scenario (None: any), in sweep order."""
        if model is not None:
            self.check_model(model)
        if scenario is not None:
            self.check_scenario(scenario)
        chosen = [
            r for r in runs
            if (model is None or r.model_key == model) and (scenario is None or r.scenario_name == scenario)
        ]
        return sorted(chosen, key=lambda r: (self.models[r.model_key], self.scenarios[r.scenario_name]))


def latest_revisions(records: Iterable[R], key: Callable[[R], Any]) -> list[R]:
    """Of records with the same key, the one with the highest `revision`."""
    best: dict[Any, R] = {}
    for record in records:
        k = key(record)
        if k not in best or record.revision > best[k].revision:  # type: ignore[attr-defined]
            best[k] = record
    return list(best.values())


def revision_pairs(
    records: Iterable[R], key: Callable[[R], Any], time: Callable[[R], datetime | None], since: datetime | None
) -> list[tuple[R, R]]:
    """(old, new) per key: new is the highest revision; old the highest in force at `since` (the
    first if none was), or without `since` the one before new. Keys whose old is new are left out."""
    by_key: dict[Any, list[R]] = {}
    for record in records:
        by_key.setdefault(key(record), []).append(record)
    pairs = []
    for revisions in by_key.values():
        revisions.sort(key=lambda r: r.revision)  # type: ignore[attr-defined]
        if since is None:
            old = revisions[-2] if len(revisions) > 1 else None
        else:
            old = next((r for r in reversed(revisions) if (time(r) or since) <= since), revisions[0])
        if old is not None and old is not revisions[-1]:
            pairs.append((old, revisions[-1]))
    return pairs
