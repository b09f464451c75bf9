"""Validated specs: models, scenarios and sweeps as frozen dataclasses, the enums they
choose among, and the limits validation holds them to.

engine.validation builds them from plain mappings (what `yaml.safe_load` returns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from infscale.engine.empirical_data import EmpiricalData

MAX_INT64 = 2**63 - 1
"""Integers a spec stores (seed, trials) fit a signed 64-bit column on SQLite and PostgreSQL alike."""
MAX_K = 1_000_000
"""The largest k_max: far beyond any deployment, and a grid that is always cheap to build."""
MAX_USD_PER_TOKEN = 0.01
"""Prices above $10,000 per million tokens are a typo (e.g. per million given as per token)."""
MAX_SECONDS_PER_TOKEN = 60.0
"""Times above a minute per token are a typo (e.g. milliseconds given as seconds x 1000)."""
MAX_NAME_LENGTH = 200


class Mode(str, Enum):
    """How trials are simulated: ours (common random numbers) or the notebook's, exactly."""

    STANDARD = "standard"
    LEGACY = "legacy"
    EXACT = "exact"  # no sampling: decide from exact expectations (engine.exact_curves)


class Knee(str, Enum):
    """Which knee of the Pareto frontier the knee method reports (science.md section 7).

    `chord` (the default): the frontier point farthest above the chord from the scenario's
    corner (0, 0, min_accuracy) to the maximal-accuracy pick, in budget-normalised coordinates:
    a property of the trade-off curve, not of the grid. `curvature`: the paper's maximum of
    |p' x p''| / |p'|^3 by central differences over the frontier's points. `curvature_2d`: the
    notebook's cross product of (C, T) only; legacy mode's, and only there.
    """

    CHORD = "chord"
    CURVATURE = "curvature"
    CURVATURE_2D = "curvature_2d"


class KGrid(str, Enum):
    """Which k are searched: multiples of the parallelism (the paper) or every k."""

    MULTIPLES = "multiples"
    ALL = "all"


class Latency(str, Enum):
    """How k inferences on P parallel slots add up to a total latency.

    `paper`: T(k) = (sum_i T_i) / P. `waves`: ceil(k/P) waves of at most P inferences, each as
    slow as its slowest member, one after another; a partial last wave counts as a wave.
    """

    PAPER = "paper"
    WAVES = "waves"


class AccuracyModel(str, Enum):
    """What accuracy A(k) of k inferences means (science.md sections 2 and 6).

    `gaussian_best_of_k`: the paper's, the best of k clipped N(acc_mean, acc_std) scores.
    `pass_at_k` and `majority_vote`: each query has a difficulty p ~ Beta(alpha, beta) and each
    inference is correct with probability p; A(k) is whether any is correct, or whether more
    than half are (a tie counts one half). See engine.accuracy. `empirical`: the best score of
    k samples of a query of the model's eval log (pass@k for 0/1 scores; engine.empirical).
    """

    GAUSSIAN_BEST_OF_K = "gaussian_best_of_k"
    PASS_AT_K = "pass_at_k"
    MAJORITY_VOTE = "majority_vote"
    EMPIRICAL = "empirical"

    @property
    def is_correctness(self) -> bool:
        """Whether A(k) counts correct answers (Beta difficulty) rather than taking scores."""
        return self in (AccuracyModel.PASS_AT_K, AccuracyModel.MAJORITY_VOTE)


class Lengths(str, Enum):
    """Where token lengths (and times) come from: the paper's clipped normals (`normal`), or
    the samples of the model's eval log (`empirical`; engine.empirical)."""

    NORMAL = "normal"
    EMPIRICAL = "empirical"


class InputBilling(str, Enum):
    """How the k copies of a query's prompt are billed (a model or scenario key).

    `each`: every inference pays c_in per input token (the paper). `once`: the k samples are
    requested in one call and the prompt is billed once. `cached`: the first inference pays
    c_in, the k - 1 others the cached-input price c_in_cached. Only the cost changes.
    """

    EACH = "each"
    ONCE = "once"
    CACHED = "cached"


@dataclass(frozen=True)
class ModelSpec:
    """One model of a catalog, with the keys of the reference notebook's model table."""

    key: str
    name: str
    # $ per input / output token; None: priced from the price history by `litellm_key`
    # (engine.prices.price_sweep), which a run does before it simulates anything.
    c_in: float | None
    c_out: float | None
    t_in: float  # s per input token
    t_out: float  # s per output token
    mu_Lin: float
    sigma_Lin: float
    mu_Lout: float
    sigma_Lout: float
    acc_mean: float  # correctness models: the mean of p (pass@1), unless the catalog says
    acc_std: float  # correctness models: the standard deviation of p, unless the catalog says
    default_parallel: int = 1
    litellm_key: str | None = None
    accuracy_model: AccuracyModel = AccuracyModel.GAUSSIAN_BEST_OF_K
    alpha: float | None = None  # Beta difficulty of the correctness models
    beta: float | None = None
    t_fixed: float = 0.0  # s per inference on top of t_in, t_out (e.g. time to first token)
    input_billing: InputBilling = InputBilling.EACH
    c_in_cached: float | None = None  # $ per cached input token (input_billing: cached)
    # The empirical model: lengths and/or accuracy resampled from `data`, the eval log's samples.
    # Then mu_Lin .. sigma_Lout (lengths) and acc_mean, acc_std (accuracy) describe the data.
    lengths: Lengths = Lengths.NORMAL
    data: EmpiricalData | None = None

    @property
    def is_empirical(self) -> bool:
        """Whether anything is resampled from the eval log (the simulation's empirical path)."""
        return self.data is not None

    @property
    def times_from_data(self) -> bool:
        """Whether each inference's time is its sample's latency_s (else t_fixed + t_in L_in + t_out L_out)."""
        return self.lengths is Lengths.EMPIRICAL and self.data is not None and self.data.latency_s is not None

    def billing(self, scenario_billing: "InputBilling | None" = None) -> "InputBilling":
        """How this model's repeated prompts are billed in a scenario: the scenario's
        input_billing when it has one, else the model's own."""
        return self.input_billing if scenario_billing is None else scenario_billing

    def input_price_after_first(self, billing: "InputBilling | None" = None) -> float:
        """$ per input token of inferences 2..k under `billing` (default: the model's own)."""
        billing = self.billing(billing)
        if billing is InputBilling.ONCE:
            return 0.0
        if billing is InputBilling.CACHED:
            if self.c_in_cached is None:
                raise ValueError(f"{self.key}: input_billing cached needs c_in_cached")
            return self.c_in_cached
        return self.c_in


@dataclass(frozen=True)
class ScenarioSpec:
    """A deployment scenario: the budgets and the k to search."""

    name: str
    max_total_cost: float
    max_total_time: float
    min_accuracy: float
    k_max: int
    parallelism: int
    k_grid: KGrid = KGrid.MULTIPLES
    min_probability: float | None = None
    latency: Latency = Latency.PAPER
    # Maximal accuracy picks the smallest feasible k within this much of the best feasible mean
    # accuracy (science.md section 7); 0 is the paper's argmax, and legacy mode's.
    accuracy_tolerance: float = 0.001
    input_billing: InputBilling | None = None  # None: each model's own

    def grid(self) -> np.ndarray:
        """The k searched, ascending (int64)."""
        if self.k_grid is KGrid.ALL:
            return np.arange(1, self.k_max + 1, dtype=np.int64)
        return np.arange(self.parallelism, self.k_max + 1, self.parallelism, dtype=np.int64)


@dataclass(frozen=True)
class AdaptiveTrials:
    """`trials: auto`: add trial blocks until every method's decision confidence reaches
    `target_confidence` (engine.confidence), or `max_trials` are simulated (engine.adaptive)."""

    target_confidence: float
    max_trials: int


DEFAULT_TARGET_CONFIDENCE = 0.95
DEFAULT_ACCURACY_TOLERANCE = 0.001
"""0.1 percentage point: well above Monte Carlo noise at 4,096 trials for every bundled model,
well below any accuracy difference a deployment would pay for."""


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: models x scenarios, the trial count, the seed and the mode.

    With `adaptive` set (`trials: auto`), `trials` is its `max_trials`: the most any run may
    use, and what the block plan and memory checks are made for.
    """

    name: str
    catalog: str
    models: tuple[ModelSpec, ...]
    scenarios: tuple[ScenarioSpec, ...]
    trials: int
    seed: int
    mode: Mode = Mode.STANDARD
    adaptive: AdaptiveTrials | None = None
    source: str = field(default="<sweep>", compare=False)
    knee: Knee = Knee.CHORD

    def model(self, key: str) -> ModelSpec:
        for m in self.models:
            if m.key == key:
                return m
        raise KeyError(key)

    def scenario(self, name: str) -> ScenarioSpec:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)
