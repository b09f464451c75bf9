"""What `infscale fit` and `infscale fit-accuracy` print: catalog YAML with the fit as
comments, or JSON (`fit`: `{"models": {KEY: entry}, "fit": {KEY: {"standard_errors",
"goodness_of_fit", "warnings", "data", "missing"}}}`)."""

from __future__ import annotations

from typing import Any, Sequence

import yaml

from infscale.engine.beta_binomial import BetaBinomialFit
from infscale.engine.difficulty_fit import BetaFit
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


def counts_fit_document(fit: BetaBinomialFit) -> dict[str, Any]:
    """`fit-accuracy --json` on rows problem,n,c."""
    return {
        "alpha": fit.alpha, "beta": fit.beta,
        "standard_errors": {"alpha": fit.alpha_se, "beta": fit.beta_se},
        "goodness_of_fit": fit.goodness_of_fit.as_dict(),
        "log_likelihood": fit.log_likelihood,
        "problems": fit.queries, "samples": fit.samples,
        "warnings": fit.warnings(),
    }


def counts_fit_text(fit: BetaBinomialFit, source: str) -> str:
    """`fit-accuracy` on rows problem,n,c: catalog-ready YAML with the fit as comments."""
    lines = [
        f"# infscale fit-accuracy {source}: {fit.queries} problems, {fit.samples} samples, beta-binomial maximum likelihood",
        "# paste into a model's catalog entry (or use accuracy_model: majority_vote with the same alpha and beta)",
        f"# standard errors: alpha {fit.alpha_se:.3g}, beta {fit.beta_se:.3g}",
        f"# goodness of fit: {_gof_text(fit.goodness_of_fit.as_dict())}",
        *(f"# warning: {w}" for w in fit.warnings()),
    ]
    return "\n".join(lines + _yaml_lines(fit.alpha, fit.beta)) + "\n"


def pass_rate_fit_document(fit: BetaFit) -> dict[str, Any]:
    """`fit-accuracy --json` on rows k,pass_rate[,n]."""
    sampling = fit.sampling_se or (None,) * len(fit.rows)
    return {
        "alpha": fit.alpha, "beta": fit.beta, "rms_residual": fit.rms_residual,
        "standard_errors": None if fit.alpha_se is None else {"alpha": fit.alpha_se, "beta": fit.beta_se},
        "goodness_of_fit": None if fit.goodness_of_fit is None else fit.goodness_of_fit.as_dict(),
        "notes": list(fit.notes), "warnings": list(fit.warnings),
        "rows": [
            {"k": r.k, "observed": r.pass_rate, "fitted": f, "residual": e, "n": r.problems, "sampling_se": se}
            for r, f, e, se in zip(fit.rows, fit.fitted, fit.residuals, sampling)
        ],
    }


def pass_rate_fit_text(fit: BetaFit, source: str) -> str:
    """`fit-accuracy` on rows k,pass_rate[,n]: catalog-ready YAML with the residuals as comments."""
    lines = [
        f"# infscale fit-accuracy {source}: {len(fit.rows)} rows, least squares on",
        "# pass@k = 1 - B(alpha, beta + k) / B(alpha, beta); paste into a model's catalog entry",
        "# (or use accuracy_model: majority_vote with the same alpha and beta)",
        "# residuals (observed - fitted):",
    ]
    sampling = fit.sampling_se or (None,) * len(fit.rows)
    for r, f, e, se in zip(fit.rows, fit.fitted, fit.residuals, sampling):
        error = "" if se is None else f"  sampling error {se:.4f}"
        lines.append(f"#   k={r.k:<5} observed {r.pass_rate:.4f}  fitted {f:.4f}  residual {e:+.2e}{error}")
    lines.append(f"# root mean square residual {fit.rms_residual:.2e}")
    if fit.alpha_se is not None:
        lines.append(f"# standard errors: alpha {fit.alpha_se:.3g}, beta {fit.beta_se:.3g}")
    if fit.goodness_of_fit is not None:
        lines.append(f"# goodness of fit: {_gof_text(fit.goodness_of_fit.as_dict())}")
    lines += [f"# note: {n}" for n in fit.notes] + [f"# warning: {w}" for w in fit.warnings]
    return "\n".join(lines + _yaml_lines(fit.alpha, fit.beta)) + "\n"


def _yaml_lines(alpha: float, beta: float) -> list[str]:
    return ["accuracy_model: pass_at_k", f"alpha: {alpha:.6g}", f"beta: {beta:.6g}"]
