"""Eval logs generated from known parameters, for the fit and reader tests.

Each query has a difficulty p ~ Beta(alpha, beta) and one prompt length (all its samples share
it); each of its samples is correct with probability p, has its own output length and a
latency t_fixed + t_in L_in + t_out L_out + N(0, noise). Token counts are whole numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infscale.engine.evallog import EvalLog


@dataclass(frozen=True)
class Truth:
    alpha: float = 0.8
    beta: float = 1.5
    mu_Lin: float = 900.0
    sigma_Lin: float = 300.0
    mu_Lout: float = 400.0
    sigma_Lout: float = 120.0
    t_fixed: float = 0.35
    t_in: float = 2e-4
    t_out: float = 0.012
    noise: float = 0.3


def generated_log(seed: int, queries: int = 300, samples: int = 5, truth: Truth = Truth(), model: str = "m",
                  source: str = "log.jsonl") -> EvalLog:
    """`queries` x `samples` samples drawn from `truth` (module docstring)."""
    rng = np.random.default_rng(seed)
    p = np.repeat(rng.beta(truth.alpha, truth.beta, size=queries), samples)
    l_in = np.repeat(np.maximum(np.round(rng.normal(truth.mu_Lin, truth.sigma_Lin, size=queries)), 1.0), samples)
    size = queries * samples
    correct = (rng.random(size) < p).astype(np.float64)
    l_out = np.maximum(np.round(rng.normal(truth.mu_Lout, truth.sigma_Lout, size=size)), 1.0)
    # Clipped at 0: a latency is never negative (with the default truth the noise never gets there).
    latency = np.maximum(truth.t_fixed + truth.t_in * l_in + truth.t_out * l_out + rng.normal(0.0, truth.noise, size=size), 0.0)
    return EvalLog(
        model=model,
        queries=tuple(f"q{q}" for q in range(queries) for _ in range(samples)),
        rows=tuple((source, f"row {i + 1}") for i in range(size)),
        score=correct, input_tokens=l_in, output_tokens=l_out, latency_s=np.round(latency, 6),
    )


def rows_of_log(log: EvalLog, with_model: bool = False) -> list[dict]:
    """The log as rows of the per-sample format (query, correct, input_tokens, output_tokens, latency_s)."""
    rows = []
    for i, query in enumerate(log.queries):
        row = {
            "query": query, "correct": int(log.score[i]), "input_tokens": int(log.input_tokens[i]),
            "output_tokens": int(log.output_tokens[i]), "latency_s": float(log.latency_s[i]),
        }
        if with_model:
            row["model"] = log.model
        rows.append(row)
    return rows
