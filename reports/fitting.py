"""What `infscale fit` prints: a catalog YAML with the fit as comments, or the JSON document
`{"models": {KEY: entry}, "fit": {KEY: {"standard_errors", "goodness_of_fit", "warnings",
"data", "missing"}}}`."""

from __future__ import annotations

from typing import Any, Sequence

import yaml

from infscale.engine.model_fit import ModelFit


def fit_document(fits: Sequence[ModelFit]) -> dict[str, Any]:
    """The --json document."""
    return {
        "models": {fit.key: dict(fit.entry) for fit in fits},
        "fit": {
            fit.key: {
                "standard_errors": dict(fit.standard_errors),
                "goodness_of_fit": fit.goodness_of_fit,
                "warnings": list(fit.warnings),
                "data": fit.data,
                "missing": list(fit.missing),
            }
            for fit in fits
        },
    }


def catalog_yaml(fits: Sequence[ModelFit], sources: Sequence[str]) -> str:
    """A catalog file (`models: {KEY: entry}`) whose comments carry each fit's standard
    errors, goodness of fit and warnings."""
    lines = [f"# infscale fit {' '.join(sources)}", "# catalog entries fitted from eval logs; see `infscale fit --help`"]
    for fit in fits:
        lines.append(f"# {fit.key}: {fit.data['queries']} queries, {fit.data['samples']} samples")
        errors = ", ".join(f"{k} {_se(v)}" for k, v in fit.standard_errors.items())
        if errors:
            lines.append(f"#   standard errors: {errors}")
        for name, test in fit.goodness_of_fit.items():
            lines.append(f"#   {name}: {_gof_text(test)}")
        for column in ("input_tokens", "output_tokens"):
            quantiles = fit.data.get(f"{column}_quantiles")
            if quantiles:
                lines.append(f"#   {column} quantiles: " + ", ".join(f"{q} {v:.5g}" for q, v in quantiles.items()))
        for warning in fit.warnings:
            lines.append(f"#   warning: {warning}")
    # Six significant digits: the fitted values carry sampling error far larger than that.
    models = {fit.key: {k: _rounded(v) for k, v in fit.entry.items()} for fit in fits}
    body = yaml.safe_dump({"models": models}, sort_keys=False, width=1000)
    return "\n".join(lines) + "\n" + body


def _rounded(value: object) -> object:
    return float(f"{value:.6g}") if isinstance(value, float) else value


def _se(value: float | None) -> str:
    return "fixed at 0" if value is None else f"{value:.3g}"


def _gof_text(test: dict[str, Any]) -> str:
    parts = []
    for key, value in test.items():
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)
