"""Numbers as documents and tables show them: a missing or undefined number is None.

JSON has no NaN, and a CSV cell of "nan" helps nobody: the standard error of one trial, a
choice's cost when nothing was chosen, read as null, an empty cell, or NaN in pandas.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

def json_floats(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [json_float(v) for v in values]


def json_float(value: Any) -> float | None:
    """JSON has no NaN: a missing or undefined number (e.g. SE of one trial) is null."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
