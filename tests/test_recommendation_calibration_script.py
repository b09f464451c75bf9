"""benchmarks/recommendation_calibration.py stays runnable: its core on one toy case, 2 seeds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from infscale.engine.selection import Method

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recommendation_calibration.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("recommendation_calibration", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_tables_count_every_recommendation(script) -> None:
    (case,) = [c for c in script.cases() if c.name == "three toys"]
    case = script.Case(case.name, case.models, case.scenarios[:4], case.trials)
    rows = script.outcomes([case], range(2))
    recs = [r for r in rows if r.kind == "recommendation"]
    runs = [r for r in rows if r.kind == "run"]
    # One recommendation per scenario x method x seed; one choice per model on top of that.
    assert len(recs) == 2 * 4 * len(Method) and len(runs) == len(case.models) * len(recs)
    for picks in (recs, runs):
        assert all(0.0 <= r.confidence <= 1.0 for r in picks)
        bins, methods, brier = script.reliability(picks)
        assert sum(b.n for b in bins) == len(picks) == sum(m.n for m in methods)
        assert [m.label for m in methods] == [m.value for m in Method]
        right = sum(r.right for r in picks)
        assert sum(round(b.frequency * b.n) for b in bins) == right == sum(round(m.frequency * m.n) for m in methods)
        for row in bins + methods:
            assert 0.0 <= row.low <= row.frequency <= row.high <= 1.0
        assert 0.0 <= brier <= 1.0
    text = script.table("recommendation confidence", recs)
    assert f"({len(recs)} picks)" in text and "Brier score" in text and text.count("\n") == 2 + len(bins) + 1 + len(Method) + 1
