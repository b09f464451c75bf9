"""The simulation kernel reproduces, bit for bit, the statistics pinned before it was rewritten.

tests/data/kernel_pin.npz holds the partials and curves of the runs in tests/kernel_pin.py as
the pre-rewrite kernel computed them; any change to a random stream, to the order of a
floating-point sum or to a histogram bin edge shows up here as a mismatch. The empirical
model's runs are pinned alike in tests/data/empirical_pin.npz, as its first version computed them.
"""

from __future__ import annotations

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


@pytest.mark.parametrize("name", sorted(CASES))
def test_statistics_equal_the_pinned_ones_bit_for_bit(name: str, pinned: dict[str, np.ndarray]) -> None:
    expected = {key.split("/", 1)[1]: value for key, value in pinned.items() if key.startswith(name + "/")}
    got = compute(CASES[name])
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        assert np.array_equal(got[key], value, equal_nan=True), key
    assert expected["hist"].sum() > 0 and expected["feasible"].any() and not expected["feasible"].all()
