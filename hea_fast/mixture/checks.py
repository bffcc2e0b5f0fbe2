"""Input checks shared by the mixture modules (anchors, model, enrichment): 0/1 labels and finite
descriptor matrices, with errors that name the offending value and where it is."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["ModelError", "labels01", "check_finite", "check_seed"]


class ModelError(ValueError):
    """Invalid input or state for the SparseMixtureClassifier."""


def labels01(y, name: str = "y", error: type[Exception] = ValueError) -> np.ndarray:
    """1-D 0/1 (or bool) labels as float64; raises `error` naming the first bad value and its index."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise error(f"{name} must be 1-D, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.float64)
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise error(f"{name} must be 0/1 (or bool) labels, got dtype {y.dtype}") from None
    bad = (yf != 0) & (yf != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise error(f"{name} must contain only 0 and 1, got {y[i]!r} at index {i}")
    return yf


def check_finite(X: np.ndarray, what: str, names: Sequence[str] | None = None,
                 error: type[Exception] = ValueError) -> None:
    """Raise `error` at the first NaN/inf of the 2-D matrix X, naming its row and column (or
    descriptor, when `names` are given)."""
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        col = f"descriptor {names[j]!r}" if names is not None else f"column {j}"
        raise error(f"{what} has a non-finite value {float(X[i, j])!r} at row {i}, {col} "
                    "(drop the descriptor or the row, e.g. Omega is +inf when dH_mix = 0)")


def check_seed(seed, name: str = "seed", bits: int = 64, error: type[Exception] = ValueError) -> int:
    """`seed` as a Python int in [0, 2**bits): the compiled samplers take 64-bit seeds, and a negative or
    larger one used to be reduced modulo 2**64 without a word (seed -1 ran as 2**64 - 1, 2**64 as 0).
    Integers of any type (NumPy included) pass; bools, floats, strings and out-of-range values raise `error`
    naming the value."""
    import numbers

    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise error(f"{name} must be an integer in [0, 2**{bits}), got {seed!r}")
    s = int(seed)
    if not 0 <= s < 1 << bits:
        raise error(f"{name} must be an integer in [0, 2**{bits}), got {s}")
    return s
