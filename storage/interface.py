"""`Storage`: the one narrow interface to where sweeps, partials, results and prices are kept.

Callers never build SQL and never see bytes: every method takes and returns engine types
(`SweepPlan`, `Partial`, `RunResult`, `Recommendation`, `PriceQuote`) or the frozen rows of
storage.rows. Two implementations keep the same contract, checked by the same tests
(tests/test_storage_contract.py): `storage.sql.SqlStore` (SQLite or PostgreSQL through
SQLAlchemy; what every command uses) and `storage.memory.MemoryStore` (a process's own dicts;
for tests and notebooks). `storage.open_store(url)` picks one by URL.

The contract, per concept:
- Sweeps are created from an engine plan and end once: `finish_group`, `extend_simulation`,
  `finish_sweep` and `set_sweep_status` change nothing and return False when they lose a
  race or come too late (a group already finished, a sweep already ended).
- A shard's partial is stored once per (sweep, group, shard index); a second copy is a no-op.
- Runs and recommendations carry a revision; queries read the highest one, or the highest
  one in force at `as_of`. A recalculation stores the next revision of each (`save_revision`).
- A shard has at most one lease (who holds it, until when); writing it again replaces it.
- Prices are versioned in time; importing the prices already in force adds nothing.
- Every write is all or nothing. A missing sweep, group, model or scenario raises
  `storage.errors.NotFound` (one line for the user).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Protocol, Sequence

from infscale.engine.prices import PriceQuote
from infscale.engine.selection import Recommendation
from infscale.engine.specs import ModelSpec, SweepSpec
from infscale.engine.statistics import Partial
from infscale.storage.rows import (
    Changes,
    ChoiceRow,
    GroupProgress,
    PartialTime,
    PriceImport,
    PriceRow,
    SavedPartial,
    ShardLease,
    ShardStart,
    RecommendationRow,
    RunModel,
    RunRevision,
    SimulationRow,
    StoredCurves,
    SweepRow,
    SweepStatus,
)

if TYPE_CHECKING:
    from infscale.engine.results import RunResult, SweepResult
    from infscale.engine.plan import SweepPlan


class Storage(Protocol):
    """What every storage implementation provides (see the module docstring for the contract)."""

    url: str

    def close(self) -> None:
        """Release connections (the store stays usable and reconnects on demand)."""

    # --- sweeps ---------------------------------------------------------------------------

    def create_sweep(self, plan: SweepPlan, status: str = SweepStatus.PENDING) -> int:
        """The planned sweep: one simulation per group (with its first round's blocks and
        shards) and one pending run per (model, scenario). Returns the sweep id."""

    def save_local_result(self, plan: SweepPlan, result: SweepResult) -> int:
        """A sweep computed in this process, with every result, as one done sweep. Returns its id."""

    def finish_group(self, sweep_id: int, group_key: str, runs: Sequence[RunResult]) -> bool:
        """Write a group's curves and choices and mark its runs done, exactly once: False, with
        nothing written, unless all its runs are pending (finished elsewhere, or the sweep ended)."""

    def simulation(self, sweep_id: int, group_key: str) -> SimulationRow:
        """How far a group's plan has grown: blocks and shards so far, and the shard size."""

    def extend_simulation(self, sweep_id: int, group_key: str, blocks: range, n_shards: int) -> bool:
        """Add a round of `blocks` in `n_shards` shards to a simulation (`trials: auto`), exactly
        once: False, with nothing changed, unless it is at `blocks.start` blocks and its runs are
        pending."""

    def finish_sweep(self, sweep_id: int, recommendations: Iterable[Recommendation]) -> bool:
        """Write the recommendations and mark the sweep done, exactly once: False, with nothing
        written, while some run is not done or when the sweep has ended."""

    def set_sweep_status(self, sweep_id: int, status: str, error: str | None = None) -> bool:
        """Move a sweep that has not ended to `status`; ending it failed or cancelled also ends
        its pending runs so. False, with nothing changed, if it had ended."""

    def fail_sweep(self, sweep_id: int, error: str) -> bool:
        """Mark the sweep and its pending runs failed with `error` (False if it had ended)."""

    def cancel_sweep(self, sweep_id: int) -> bool:
        """Mark the sweep and its pending runs cancelled (False if it had ended)."""

    def sweep(self, sweep_id: int) -> SweepRow:
        """One sweep's row."""

    def sweeps(self, statuses: Iterable[str] | None = None) -> list[SweepRow]:
        """Every sweep, or those with one of `statuses`, oldest first."""

    def latest_sweep_id(self, as_of: datetime | None = None) -> int | None:
        """The id of the most recently created sweep that is done (by `as_of`), or None."""

    def sweep_spec(self, sweep_id: int) -> SweepSpec:
        """The sweep's spec exactly as it was stored."""

    # --- partials -------------------------------------------------------------------------

    def save_partial(
        self, sweep_id: int, group_key: str, shard_index: int, partial: Partial, seconds: float
    ) -> SavedPartial:
        """Store one shard's partial statistics (`seconds`: its simulation time), and say whether
        it was stored (not if that shard's was already: nothing changes) and whether it was the
        group's last: of shards storing at once, exactly one completes the group."""

    def partials(self, sweep_id: int, group_key: str) -> list[Partial]:
        """The group's stored partials, in shard order."""

    def stream_partials(self, sweep_id: int, group_key: str) -> Iterator[Partial]:
        """The group's stored partials, in shard order, one at a time: a reader that merges
        each before taking the next holds one partial, not all (the reduce's bounded memory)."""

    def shard_counts(self, sweep_id: int) -> dict[str, tuple[int, int]]:
        """group_key -> (shards stored, shards in total), groups in sweep order."""

    def progress(self, sweep_id: int) -> list[GroupProgress]:
        """Per simulation group, in sweep order: shards stored and trials in them, runs done."""

    def partial_times(self, sweep_id: int) -> list[PartialTime]:
        """Every stored partial's trials, simulation seconds and storing time, oldest first."""

    # --- shard leases ---------------------------------------------------------------------

    def start_shard(self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta) -> ShardStart:
        """Take the shard: write its lease (as `lease_shard` does), unless its sweep has ended;
        say which, and when the sweep was created."""

    def lease_shard(
        self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta,
        now: datetime | None = None,
    ) -> None:
        """Write (or renew) the shard's lease: held by `holder` from `now` (default: the current
        time) for `lease`. One lease per shard: the last write wins."""

    def shard_leases(self, sweep_id: int) -> list[ShardLease]:
        """Every lease of the sweep's shards, by group (in sweep order), then shard index."""

    # --- results --------------------------------------------------------------------------

    def choices(
        self, sweep_id: int, model: str | None = None, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[ChoiceRow]:
        """Choices of the sweep's finished runs, by model, then scenario (as in the spec), then
        method; `as_of`: the revision of each run in force at that time."""

    def recommendations(
        self, sweep_id: int, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[RecommendationRow]:
        """Cross-model recommendations, by scenario (as in the spec), then method."""

    def curves(self, sweep_id: int, model: str, scenario: str) -> StoredCurves:
        """One finished run's curves, feasible set and frontier, as computed."""

    def run_results(self, sweep_id: int, scenarios: Sequence[str] | None = None) -> tuple[RunResult, ...]:
        """The sweep's finished runs rebuilt as engine results, in sweep order (`scenarios`: only
        the runs of these scenarios)."""

    def run_models(self, sweep_id: int) -> list[RunModel]:
        """The current revision of each done run and the model it used, in sweep order."""

    def stored_models(self) -> dict[str, ModelSpec]:
        """model key -> the model of its most recently stored run."""

    # --- prices and revisions -------------------------------------------------------------

    def import_prices(
        self, quotes: Sequence[PriceQuote], source: str, effective_at: datetime | None = None
    ) -> PriceImport:
        """A new price version, effective at `effective_at` (default: now), for each quoted
        model whose prices differ from the version in force then; times a quote leaves open
        are carried over. All or nothing."""

    def prices(self, at: datetime | None = None) -> dict[str, PriceRow]:
        """model key -> the price version in force at `at` (default: now), by model key."""

    def price_history(self, model: str | None = None) -> list[PriceRow]:
        """Every price version (of `model`, or of all models), by model, oldest first."""

    def save_revision(
        self,
        sweep_id: int,
        runs: Sequence[RunResult],
        recommendations: Iterable[Recommendation],
        based_on: Mapping[tuple[str, str], int],
    ) -> bool:
        """Recomputed runs as the next revision of each and the recommendations as their next
        revision, all or nothing; False, with nothing written, unless the sweep's current run
        revisions are exactly `based_on` ((model, scenario) -> revision)."""

    def run_history(self, sweep_id: int, model: str, scenario: str) -> list[RunRevision]:
        """Every finished revision of one run, oldest first."""

    def changes(self, sweep_id: int, since: datetime | None = None) -> Changes:
        """Each run and recommendation whose revision in force at `since` (default: its
        previous revision) is not its current one, old and new."""
