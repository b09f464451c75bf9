"""JSON documents: the `--json` contracts of the CLI (and what the workers' recalc task and
the dashboard return), built from storage rows and engine results in one place.

JSON has no NaN: an undefined number (the standard error of one trial) is null (reports.values).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from infscale.reports.tables import curves_columns
from infscale.reports.text import waiting_words
from infscale.reports.values import json_float


def results_document(
    sweep_id: int, choices: Sequence[Any], recommendations: Sequence[Any], status: str = "done"
) -> dict[str, Any]:
    """The `--json` contract of `run`, `results` and `decide`; `status` is the sweep's (a
    sweep that has not finished lists the runs done so far)."""
    return {
        "sweep": sweep_id,
        "status": status,
        "results": [
            {
                "model": c.model, "scenario": c.scenario, "method": c.method, "status": c.status,
                "k": c.k, "total_cost": json_float(c.total_cost), "total_time": json_float(c.total_time),
                "accuracy": json_float(c.accuracy), "reason": c.reason, "confidence": json_float(c.confidence),
                "trials": c.trials, "stop_reason": c.stop_reason,
            }
            for c in choices
        ],
        "recommendations": [
            {
                "scenario": r.scenario, "method": r.method, "status": r.status, "model": r.model,
                "k": r.k, "total_cost": json_float(r.total_cost), "total_time": json_float(r.total_time),
                "accuracy": json_float(r.accuracy), "reason": r.reason, "confidence": json_float(r.confidence),
            }
            for r in recommendations
        ],
    }


def curves_document(stored: Any, choices: Sequence[Any] = ()) -> dict[str, Any]:
    """The `--json` contract of `curves`: one array per column, aligned on k, and the k each
    method chose (`chosen`: method -> k, null when it chose none)."""
    doc: dict[str, Any] = {"model": stored.model, "scenario": stored.scenario, "trials": stored.curves.trials}
    doc.update(curves_columns(stored, choices))
    doc["chosen"] = {c.method: c.k for c in choices}
    return doc


def progress_document(progress: Any) -> dict[str, Any]:
    """The `--json` contract of `infscale status` (a scheduler.progress.SweepProgress)."""
    row = asdict(progress.sweep)
    for key in ("created_at", "finished_at"):
        row[key] = row[key].isoformat() if row[key] is not None else None
    doc = {key: value for key, value in asdict(progress).items() if key != "sweep"}
    doc["resent_at"] = progress.resent_at.isoformat() if progress.resent_at is not None else None
    doc["waiting"] = waiting_words(progress)
    return {**row, **doc}


def import_document(price_file: Any, imported: Any) -> dict[str, Any]:
    """The `--json` contract of `prices import` (and the `prices` part of `recalc --json`)."""
    return {
        "file": price_file.source,
        "format": price_file.format.value,
        "effective_at": imported.effective_at.isoformat(),
        "changed": list(imported.changed),
        "unchanged": list(imported.unchanged),
        "ignored": list(price_file.ignored),
        "no_token_price": list(price_file.no_token_price),
        "unpriced": list(price_file.unpriced),
        "missing_keys": [
            {"model": m.model, "litellm_key": m.litellm_key, "near": list(m.near)} for m in price_file.missing_keys
        ],
        "first_tier": list(price_file.first_tier),
    }


def recalc_document(report: Any) -> dict[str, Any]:
    """The `--json` contract of `recalc` (also what the `infscale.recalc` task returns)."""
    return {
        "skipped": report.skipped,
        "prices": None if report.imported is None else import_document(report.price_file, report.imported),
        "sweeps": [
            {"sweep": s.sweep_id, "models": list(s.models), "runs": s.runs, "stored": s.stored}
            for s in report.sweeps
        ],
        "changed": report.changed,
    }




def diff_document(changes: Any, since: Any) -> dict[str, Any]:
    runs = []
    for change in changes.runs:
        old_choices = {c.method: c for c in change.old.choices}
        runs.append({
            "model": change.new.model, "scenario": change.new.scenario,
            "old_revision": change.old.revision, "new_revision": change.new.revision,
            "old_prices": price_document(change.old.prices), "new_prices": price_document(change.new.prices),
            "computed_at": change.new.computed_at.isoformat(),
            "choices": [
                {"method": c.method, **_pair("status", old_choices[c.method].status, c.status),
                 **_pair("k", old_choices[c.method].k, c.k),
                 **_pair("total_cost", old_choices[c.method].total_cost, c.total_cost)}
                for c in change.new.choices
            ],
        })
    recommendations = [
        {"scenario": c.new.scenario, "method": c.new.method, "changed": c.changed,
         "old_revision": c.old_revision, "new_revision": c.new_revision,
         "old": pick_document(c.old), "new": pick_document(c.new)}
        for c in changes.recommendations
    ]
    return {
        "sweep": changes.sweep_id, "since": None if since is None else since.isoformat(),
        "runs": runs, "recommendations": recommendations,
    }


def revision_document(r: Any) -> dict[str, Any]:
    return {
        "revision": r.revision, "computed_at": r.computed_at.isoformat(), "prices": price_document(r.prices),
        "choices": [
            {"method": c.method, "status": c.status, "k": c.k, "total_cost": c.total_cost,
             "total_time": c.total_time, "accuracy": c.accuracy, "reason": c.reason}
            for c in r.choices
        ],
    }


def pick_document(r: Any) -> dict[str, Any]:
    return {"status": r.status, "model": r.model, "k": r.k, "total_cost": r.total_cost,
            "total_time": r.total_time, "accuracy": r.accuracy}


def _pair(name: str, old: Any, new: Any) -> dict[str, Any]:
    return {f"old_{name}": old, f"new_{name}": new}


def price_document(prices: Any) -> dict[str, float | None]:
    return {"c_in": prices.c_in, "c_out": prices.c_out, "t_in": prices.t_in, "t_out": prices.t_out,
            "c_in_cached": prices.c_in_cached}
