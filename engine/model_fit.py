"""A catalog entry fitted from one model's eval log, with standard errors, goodness of fit
and warnings (`infscale fit`).

- Difficulty: per query, n = its samples with a score and c = the sum of their scores;
  Beta(alpha, beta) by beta-binomial maximum likelihood (engine.beta_binomial), written as
  `accuracy_model: pass_at_k`.
- Lengths: mu and sigma of input and output tokens (engine.length_fit).
- Times: t_fixed, t_in, t_out by non-negative least squares of latency on tokens
  (engine.latency_fit).
A column the log lacks is not fitted, and the entry says which catalog keys are still to be
filled in (prices never come from an eval log: c_in and c_out, or litellm_key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infscale.engine.beta_binomial import fit_beta_binomial
from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.engine.latency_fit import TERMS, fit_latency
from infscale.engine.length_fit import LengthFit, fit_lengths

MIN_QUERIES = 10
"""The difficulty fit needs at least this many queries with a score."""
MIN_SAMPLES = 10
"""Length and latency fits need at least this many samples with the columns they use."""
CATALOG_ORDER = (
    "name", "c_in", "c_out", "t_fixed", "t_in", "t_out", "mu_Lin", "sigma_Lin", "mu_Lout", "sigma_Lout",
    "accuracy_model", "alpha", "beta",
)
PRICE_KEYS = ("c_in", "c_out")


@dataclass(frozen=True)
class ModelFit:
    """What `infscale fit` reports for one model."""

    key: str
    entry: dict[str, Any]  # catalog fields fitted, in catalog order
    standard_errors: dict[str, float | None]  # per fitted parameter; None: fixed at a bound
    goodness_of_fit: dict[str, Any]
    data: dict[str, Any]  # queries, samples, quantiles of the lengths
    warnings: tuple[str, ...]
    missing: tuple[str, ...] = field(default=())  # catalog keys a sweep still needs


def fit_model(log: EvalLog) -> ModelFit:
    """Fit every catalog parameter the log has data for (module docstring)."""
    codes = log.query_codes()
    entry: dict[str, Any] = {"name": log.model}
    errors: dict[str, float | None] = {}
    gof: dict[str, Any] = {}
    data: dict[str, Any] = {"queries": int(codes.max()) + 1 if codes.size else 0, "samples": log.samples}
    warnings: list[str] = []
    missing: list[str] = list(PRICE_KEYS)

    if log.score is None:
        warnings.append("no correct or score column: the difficulty (accuracy) is not fitted")
        missing += ["alpha", "beta"]
    else:
        fit = _difficulty(log, codes)
        entry.update(accuracy_model="pass_at_k", alpha=fit.alpha, beta=fit.beta)
        errors.update(alpha=fit.alpha_se, beta=fit.beta_se)
        gof["difficulty"] = fit.goodness_of_fit.as_dict() | {"log_likelihood": fit.log_likelihood}
        data["scored_queries"], data["scored_samples"] = fit.queries, fit.samples
        warnings += fit.warnings()

    lengths: dict[str, LengthFit] = {}
    for column, mu_key, sigma_key, cap in (
        ("input_tokens", "mu_Lin", "sigma_Lin", 16.0), ("output_tokens", "mu_Lout", "sigma_Lout", None),
    ):
        values = getattr(log, column)
        if values is None:
            warnings.append(f"no {column} column: {mu_key} and {sigma_key} are not fitted")
            missing += [mu_key, sigma_key]
            continue
        present = ~np.isnan(values)
        _require_samples(log, column, int(present.sum()))
        fit = fit_lengths(column, values[present], codes[present], cap_in_means=cap)
        lengths[column] = fit
        entry[mu_key], entry[sigma_key] = fit.mu, fit.sigma
        errors[mu_key], errors[sigma_key] = fit.mu_se, fit.sigma_se
        gof[column] = {"skewness": fit.skewness, "simulated_mean": fit.simulated_mean}
        data[f"{column}_quantiles"] = {f"p{round(q * 100):02d}": v for q, v in fit.quantiles}
        warnings += fit.warnings()

    if log.latency_s is None or len(lengths) < 2:
        reason = "no latency_s column" if log.latency_s is None else "latency_s needs input_tokens and output_tokens"
        warnings.append(f"{reason}: t_in and t_out are not fitted")
        missing += ["t_in", "t_out"]
    else:
        usable = ~(np.isnan(log.latency_s) | np.isnan(log.input_tokens) | np.isnan(log.output_tokens))
        _require_samples(log, "latency_s", int(usable.sum()))
        fit = fit_latency(log.latency_s[usable], log.input_tokens[usable], log.output_tokens[usable], codes[usable])
        if fit is None:
            raise SpecError(log.source(), "latency_s", "the latencies do not determine t_in and t_out (one query only?)")
        entry.update(fit.values)
        errors.update({name: fit.standard_errors[name] for name in TERMS})
        gof["latency"] = {"r_squared": fit.r_squared, "residual_sd_s": fit.residual_sd, "samples": fit.samples}
        warnings += fit.warnings()

    missing_sorted = tuple(k for k in CATALOG_ORDER if k in missing)
    if missing_sorted:
        prices = (
            " (prices never come from an eval log: give c_in and c_out (fit --c-in --c-out) or a litellm_key "
            "(fit --litellm-key))" if "c_in" in missing else ""
        )
        warnings.append(f"a sweep still needs: {', '.join(missing_sorted)}{prices}")
    ordered = {k: entry[k] for k in CATALOG_ORDER if k in entry}
    return ModelFit(log.model, ordered, errors, gof, data, tuple(warnings), missing_sorted)


# --- private helpers -------------------------------------------------------------------------


def _difficulty(log: EvalLog, codes: np.ndarray):
    scored = ~np.isnan(log.score)
    queries = int(codes.max()) + 1
    n = np.bincount(codes[scored], minlength=queries).astype(np.float64)
    c = np.bincount(codes[scored], weights=log.score[scored], minlength=queries)
    keep = n > 0
    first = _first_samples(codes)
    if keep.sum() < MIN_QUERIES:
        file, place = log.rows[first[0]]
        raise SpecError(
            file, f"{place}, query",
            f"{int(keep.sum())} queries have a score; fitting the difficulty needs at least {MIN_QUERIES}",
        )
    if np.all(n[keep] == 1):
        sample = first[int(np.argmax(keep))]
        file, place = log.rows[sample]
        raise SpecError(
            file, f"{place}, query",
            f"query {log.queries[sample]!r} has 1 sample, like every query: the spread of "
            "difficulty between queries needs several samples per query (run the eval with more epochs or repeats)",
        )
    return fit_beta_binomial(n[keep], c[keep], log.source(), "correct")


def _first_samples(codes: np.ndarray) -> np.ndarray:
    """The index of each query's first sample, by query code."""
    _, first = np.unique(codes, return_index=True)
    return first


def _require_samples(log: EvalLog, column: str, count: int) -> None:
    if count < MIN_SAMPLES:
        raise SpecError(
            log.source(), column, f"{count} samples have a value; fitting it needs at least {MIN_SAMPLES}",
        )
