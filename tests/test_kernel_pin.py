"""The simulation kernel reproduces, bit for bit, the statistics pinned before it was rewritten.

tests/data/kernel_pin.npz holds the partials and curves of the runs in tests/kernel_pin.py as
the pre-rewrite kernel computed them; any change to a random stream, to the order of a
floating-point sum or to a histogram bin edge shows up here as a mismatch. The empirical
model's runs are pinned alike in tests/data/empirical_pin.npz, as its first version computed them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.kernel_pin import EMPIRICAL_PATH, PATH, cases, compute, empirical_cases

CASES = {**cases(), **empirical_cases()}


@pytest.fixture(scope="module")
def pinned() -> dict[str, np.ndarray]:
    out = {}
    for path in (PATH, EMPIRICAL_PATH):
        with np.load(path) as data:
            out.update({key: data[key] for key in data.files})
    return out


QUANTILE_FIELDS = (".p05", ".p50", ".p95")
QUANTILE_RTOL = 1e-12
"""The quantiles are read off the histogram at bin edges placed from the exact expectations
(engine.statistics.bins_for), which numpy computes with exp/log/expm1 whose last bits depend on
the CPU's SIMD level (numpy dispatches AVX2 or AVX-512 code at run time): on another CPU the
edges move by ~1e-15 relative. Everything the simulation stores (the partial: sums, squares,
budget counts, histogram counts) is pinned bit for bit, and so are the means and standard
errors; the quantiles within this tolerance. See test_partials_do_not_depend_on_the_cpus_simd_level."""


@pytest.mark.parametrize("name", sorted(CASES))
def test_statistics_equal_the_pinned_ones_bit_for_bit(name: str, pinned: dict[str, np.ndarray]) -> None:
    expected = {key.split("/", 1)[1]: value for key, value in pinned.items() if key.startswith(name + "/")}
    got = compute(CASES[name])
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        if key.endswith(QUANTILE_FIELDS):
            np.testing.assert_allclose(got[key], value, rtol=QUANTILE_RTOL, atol=0, equal_nan=True, err_msg=key)
        else:
            assert np.array_equal(got[key], value, equal_nan=True), key
    assert expected["hist"].sum() > 0 and expected["feasible"].any() and not expected["feasible"].all()


def test_partials_do_not_depend_on_the_cpus_simd_level(pinned: dict[str, np.ndarray]) -> None:
    """With numpy's AVX-512 and AVX2 code paths switched off (NPY_DISABLE_CPU_FEATURES), a fresh
    process computes the same partials, means and standard errors bit for bit: what workers on
    different CPUs store agrees. (On a CPU without those features the switch changes nothing and
    the check is the pinned one again.)"""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, numpy as np; from tests.kernel_pin import cases, empirical_cases, compute; "
        "out = {}\n"
        "for name, g in {**cases(), **empirical_cases()}.items():\n"
        "    for key, value in compute(g).items():\n"
        f"        if not key.endswith({QUANTILE_FIELDS!r}): out[name + '/' + key] = np.asarray(value, dtype=np.float64).tobytes().hex()\n"
        "print(json.dumps(out))"
    )
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR X86_V3"}
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    want = {key for key in pinned if not key.endswith(QUANTILE_FIELDS)}
    assert set(got) == want
    for key in sorted(want):
        assert got[key] == np.asarray(pinned[key], dtype=np.float64).tobytes().hex(), key
