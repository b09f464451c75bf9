"""The Python API: run sweeps and explore their decisions from notebooks and scripts.

    import infscale
    sweep = infscale.run("examples/paper.yaml", db="sqlite:///infscale.db")
    sweep.results(scenario="balanced").to_pandas()
    sweep.decide(max_total_cost=0.25).recommendations

Everything returned is typed: the storage layer's frozen rows (`ChoiceRow`,
`RecommendationRow`, `PriceRow`, `SweepRow`) in a `Table` that converts to CSV or a pandas
DataFrame. Errors are the CLI's: an `InfscaleError` (a `SpecError` for a bad sweep or budget,
`NotFound` for a sweep, model or scenario the database does not hold) whose message is the
one line the CLI prints.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Iterator, Mapping, Sequence, TypeVar

from infscale.engine.batches import merge_in_order
from infscale.engine.errors import InfscaleError
from infscale.engine.pipeline import RunResult
from infscale.engine.selection import Method, Recommendation
from infscale.engine.specs import ScenarioSpec, SweepSpec
from infscale.engine.statistics import Partial
from infscale.engine.whatif import Budgets, decide_again
from infscale.reports.tables import columns_of, curves_columns, to_csv, to_pandas
from infscale.storage.rows import ChoiceRow, PriceRow, RecommendationRow, StoredCurves, SweepRow
from infscale.storage import open_store
from infscale.storage.interface import Storage

R = TypeVar("R")

__all__ = ["Database", "Sweep", "Table", "RunCurves", "Decisions", "Budgets", "open_database", "run"]


def run(sweep: str | Path | Mapping[str, Any], db: str | None = None, workers: int | None = None) -> "Sweep":
    """Run a sweep (a sweep file's path, or the same content as a dict) on this machine, store
    it in `db` (default: $INFSCALE_DATABASE_URL or sqlite:///infscale.db) and return it."""
    from infscale.engine.plan import plan_sweep
    from infscale.scheduler.local import run_local
    from infscale.scheduler.pricing import priced

    database = open_database(db, create=True)
    spec = priced(load_sweep_spec(sweep), database.store)
    result = run_local(spec, workers=workers)
    return database.sweep(database.store.save_local_result(plan_sweep(spec), result))


def open_database(url: str | None = None, create: bool = False) -> "Database":
    """The database at `url` (default: $INFSCALE_DATABASE_URL or sqlite:///infscale.db);
    `create`: make it (at the current schema) if it does not exist yet. Only `infscale db
    upgrade` migrates an existing one."""
    return Database(open_store(url, create=create))


def load_sweep_spec(sweep: str | Path | Mapping[str, Any]) -> SweepSpec:
    """A validated sweep from a file, or from a dict read exactly as that file would be (a
    catalog path in a dict is relative to the working directory)."""
    from infscale.readers.files import read_text
    from infscale.readers.sweep_files import load_sweep, sweep_from_data

    if isinstance(sweep, Mapping):
        return sweep_from_data(dict(sweep), "<dict>", lambda name: read_text(name, "catalog file"))
    return load_sweep(sweep)


class Tabular:
    """Anything with `columns()`: CSV text or a pandas DataFrame of them."""

    def columns(self) -> dict[str, list[Any]]:
        raise NotImplementedError

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text (written to `path` too, when given)."""
        text = to_csv(self.columns())
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_pandas(self) -> Any:
        """A pandas DataFrame (needs the optional extra: pip install 'infscale[pandas]')."""
        return to_pandas(self.columns())


class Table(Tabular, Generic[R], Sequence[R]):
    """Typed rows (frozen dataclasses) that convert to CSV text or a pandas DataFrame."""

    def __init__(self, rows: Sequence[R], row_type: type) -> None:
        self.rows: tuple[R, ...] = tuple(rows)
        self.row_type = row_type

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"Table[{self.row_type.__name__}]({len(self.rows)} rows)"

    def columns(self) -> dict[str, list[Any]]:
        return columns_of(self.rows, self.row_type)


@dataclass(frozen=True, eq=False)
class RunCurves(Tabular):
    """One run's per-k statistics (`curves`: engine Curves), feasible set, frontier and choices."""

    stored: StoredCurves
    choices: Table[ChoiceRow]

    @property
    def curves(self) -> Any:
        return self.stored.curves

    def columns(self) -> dict[str, list[Any]]:
        return curves_columns(self.stored, self.choices)


@dataclass(frozen=True)
class Decisions:
    """A sweep decided again under new budgets: the scenarios as decided, every choice and the
    cross-model recommendations (choices keep their confidence only where nothing moved)."""

    sweep_id: int
    scenarios: tuple[ScenarioSpec, ...]
    results: Table[ChoiceRow]
    recommendations: Table[RecommendationRow]
    runs: tuple[RunResult, ...] = ()  # the engine's results behind `results` (feasible set, frontier)


class Database:
    """Sweeps, results and prices in one database (read through the `storage.interface.Storage` interface)."""

    def __init__(self, store: Storage) -> None:
        self.store = store

    @property
    def url(self) -> str:
        return self.store.url

    def sweeps(self) -> Table[SweepRow]:
        """Every stored sweep, oldest first, with its status."""
        return Table(self.store.sweeps(), SweepRow)

    def sweep(self, sweep_id: int | None = None) -> "Sweep":
        """One sweep by id, or the latest finished one."""
        if sweep_id is None:
            sweep_id = self.store.latest_sweep_id()
            if sweep_id is None:
                raise InfscaleError(f"{self.url}: no finished sweep stored yet")
        return Sweep(self.store, self.store.sweep(sweep_id))

    def price_history(self, model: str | None = None) -> Table[PriceRow]:
        """Every imported price version (of `model`, or all), by model, oldest first."""
        return Table(self.store.price_history(model), PriceRow)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sweep:
    """One stored sweep: its results, curves, recommendations, and decisions under new budgets."""

    def __init__(self, store: Storage, row: SweepRow) -> None:
        self.store = store
        self.info = row
        self._runs: tuple[RunResult, ...] | None = None
        self._blocks: dict[str, Partial] | None = None

    @property
    def id(self) -> int:
        return self.info.id

    @functools.cached_property
    def spec(self) -> SweepSpec:
        """The sweep's spec as stored (it never changes; read once)."""
        return self.store.sweep_spec(self.id)

    def __repr__(self) -> str:
        return f"Sweep(id={self.id}, name={self.info.name!r}, status={self.info.status!r})"

    def results(
        self, model: str | None = None, scenario: str | None = None, as_of: datetime | None = None
    ) -> Table[ChoiceRow]:
        """The k each method chose, per model and scenario (as of a time: that revision)."""
        return Table(self.store.choices(self.id, model=model, scenario=scenario, as_of=as_of), ChoiceRow)

    def recommendations(self, scenario: str | None = None, as_of: datetime | None = None) -> Table[RecommendationRow]:
        """The (model, k) each method chose across models, per scenario."""
        return Table(self.store.recommendations(self.id, scenario=scenario, as_of=as_of), RecommendationRow)

    def curves(self, model: str, scenario: str) -> RunCurves:
        """One run's per-k statistics and the k its methods chose."""
        stored = self.store.curves(self.id, model, scenario)
        return RunCurves(stored, self.results(model=model, scenario=scenario))

    def decide(
        self,
        max_total_cost: float | None = None,
        max_total_time: float | None = None,
        min_accuracy: float | None = None,
        accuracy_tolerance: float | None = None,
        scenario: str | None = None,
        model: str | None = None,
        confidence: bool = True,
    ) -> Decisions:
        """Decide again from the stored curves under new budgets (None keeps a scenario's own),
        for `scenario` or every scenario; no simulation. `model` only filters the results: the
        recommendations are across all models. With `confidence`, the recommendations carry
        theirs (from the curves' standard errors) and a moved choice gets its own when the
        sweep's trial blocks are stored (a distributed sweep's partials); without, no
        confidence is computed (fast: what the dashboard's sliders do)."""
        budgets = Budgets(max_total_cost, max_total_time, min_accuracy, accuracy_tolerance)
        return decide_stored(self, budgets, scenario, model, confidence)

    def run_results(self) -> tuple[RunResult, ...]:
        """The finished runs as engine results (curves and decisions), read once and kept."""
        if self._runs is None:
            status = self.store.sweep(self.id).status
            if status != "done":
                raise InfscaleError(f"sweep {self.id} is {status}: deciding again needs a finished sweep")
            self._runs = self.store.run_results(self.id)
        return self._runs

    def trial_blocks(self) -> dict[str, Partial]:
        """Simulation group key -> its merged partial statistics, when every shard stored one
        (a distributed sweep); {} for a sweep run in-process (it stores none). Read once."""
        if self._blocks is None:
            groups = self.store.progress(self.id)
            stored = bool(groups) and all(g.complete and g.shards_done > 0 for g in groups)
            self._blocks = {
                g.group_key: merge_in_order(self.store.stream_partials(self.id, g.group_key))
                for g in groups
            } if stored else {}
        return self._blocks


def decide_stored(
    sweep: Sweep, budgets: Budgets, scenario: str | None = None, model: str | None = None, confidence: bool = True,
) -> Decisions:
    """`Sweep.decide` with the budgets already built: the CLI, the dashboard and the API share it."""
    spec = sweep.spec
    stored = sweep.results(model=model, scenario=scenario)  # checks that model and scenario exist
    targets = budgets if scenario is None else {scenario: budgets}
    result = decide_again(spec, sweep.run_results(), targets, sweep.trial_blocks() if confidence else None, confidence)
    rows = {(c.model, c.scenario, c.method): c for c in stored}
    runs = tuple(r for r in result.runs if (r.model.key, r.scenario.name, Method.MAX_ACCURACY.value) in rows)
    choices = [
        _choice_row(rows[run.model.key, run.scenario.name, choice.method.value], choice)
        for run in runs
        for choice in run.decision.choices
    ]
    recs = [_recommendation_row(sweep.id, r) for r in result.recommendations if scenario in (None, r.scenario)]
    scenarios = tuple(s for s in (r.scenario for r in result.runs) if scenario in (None, s.name))
    unique = tuple({s.name: s for s in scenarios}.values())
    return Decisions(sweep.id, unique, Table(choices, ChoiceRow), Table(recs, RecommendationRow), runs)


def _choice_row(stored: ChoiceRow, choice: Any) -> ChoiceRow:
    return dataclasses.replace(
        stored, status=choice.status.value, k=choice.k, total_cost=choice.total_cost,
        total_time=choice.total_time, accuracy=choice.accuracy, reason=choice.reason, confidence=choice.confidence,
    )


def _recommendation_row(sweep_id: int, r: Recommendation) -> RecommendationRow:
    return RecommendationRow(
        sweep_id=sweep_id, scenario=r.scenario, method=r.method.value, status=r.status.value, model=r.model, k=r.k,
        total_cost=r.total_cost, total_time=r.total_time, accuracy=r.accuracy, reason=r.reason,
        confidence=r.confidence,
    )
