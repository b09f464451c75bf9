"""Correctness-based accuracy models (science.md section 6): pass@k and majority voting.

Each trial is one query of difficulty p ~ Beta(alpha, beta): each of its k inferences is
correct with probability p, independently. With c(k) correct answers among the first k:
- `pass_at_k` (a perfect verifier picks a correct answer if there is one): A(k) = [c(k) >= 1];
- `majority_vote`: A(k) = 1 if c(k) > k/2, 1/2 if c(k) = k/2 (a tie is a coin flip), else 0.
The simulation draws p once per trial and a uniform per inference (correct when u < p), and
takes prefix counts over k, so every k comes from the same draws (`accuracy_of_counts`).

Exact means: E[pass@k] = 1 - B(alpha, beta + k) / B(alpha, beta), and majority voting sums the
beta-binomial law of c(k): P(c = j) = C(k, j) B(j + alpha, k - j + beta) / B(alpha, beta).
"""

from __future__ import annotations

import math

import numpy as np

from infscale.engine.specs import AccuracyModel, ModelSpec


def accuracy_of_counts(model: AccuracyModel, counts: np.ndarray, k: np.ndarray) -> np.ndarray:
    """A(k) per trial from the number of correct answers `counts` (rows: the k in `k`)."""
    if model is AccuracyModel.PASS_AT_K:
        return np.minimum(counts, 1.0)
    if model is AccuracyModel.MAJORITY_VOTE:
        out = 2.0 * counts
        out -= np.asarray(k, dtype=np.float64)[:, None]
        np.sign(out, out=out)
        out += 1.0
        out *= 0.5
        return out
    raise ValueError(f"{model.value} is not a correctness-based accuracy model")


def expected_pass_at_k(alpha: float, beta: float, k: int) -> float:
    """1 - B(alpha, beta + k) / B(alpha, beta), in log space (no overflow for large k)."""
    log_ratio = math.lgamma(beta + k) - math.lgamma(beta) + math.lgamma(alpha + beta) - math.lgamma(alpha + beta + k)
    return -math.expm1(log_ratio)


def correct_count_pmf(alpha: float, beta: float, k: int) -> np.ndarray:
    """P(c(k) = j) for j = 0..k: the beta-binomial law, O(k)."""
    lg = np.frompyfunc(math.lgamma, 1, 1)
    j = np.arange(k + 1, dtype=np.float64)
    log_choose = math.lgamma(k + 1) - lg(j + 1) - lg(k - j + 1)
    log_beta = lg(j + alpha) + lg(k - j + beta) - math.lgamma(k + alpha + beta)
    log_norm = math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)
    return np.exp((log_choose + log_beta - log_norm).astype(np.float64))


def expected_majority_vote(alpha: float, beta: float, k: int) -> float:
    """P(c(k) > k/2) + P(c(k) = k/2) / 2, summed over the beta-binomial law."""
    pmf = correct_count_pmf(alpha, beta, k)
    j = np.arange(k + 1)
    return float(pmf[2 * j > k].sum() + 0.5 * pmf[2 * j == k].sum())


def expected_correctness(model: ModelSpec, k: int) -> float:
    """E[A(k)] of a model with a correctness-based accuracy model."""
    if model.accuracy_model is AccuracyModel.PASS_AT_K:
        return expected_pass_at_k(model.alpha, model.beta, k)
    if model.accuracy_model is AccuracyModel.MAJORITY_VOTE:
        return expected_majority_vote(model.alpha, model.beta, k)
    raise ValueError(f"{model.key}: {model.accuracy_model.value} is not a correctness-based accuracy model")
