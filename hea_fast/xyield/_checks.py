"""Input checks shared by the X-Yield kernels' wrappers (Maresca–Curtin, pseudo-images).

Per-composition inputs (temperatures in K, shear moduli in GPa, Poisson ratios) are given as a
scalar or one value per composition; both wrappers check them the same way before the arrays reach
the compiled kernels, so an error names the argument, the offending value and its index.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["per_composition"]


def per_composition(name: str, value, n: int, lo: float, hi: float = math.inf, unit: str = "",
                    lo_closed: bool = False) -> np.ndarray:
    """`value` (a scalar or n values) as a contiguous float64 (n,) array whose entries are finite
    and lie above `lo` (``>= lo`` when `lo_closed`) and below `hi`; ValueError otherwise."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    v = np.ascontiguousarray(v.reshape(-1))
    if v.shape[0] != n:
        raise ValueError(f"{name} has {v.shape[0]} values for {n} compositions (give a scalar or one per composition)")
    bad = ~np.isfinite(v) | ((v < lo) if lo_closed else (v <= lo)) | (v >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        unit = f" {unit}" if unit else ""
        if math.isinf(hi):
            want = f"be finite and {'>=' if lo_closed else '>'} {lo:g}{unit}"
        else:
            want = f"lie in {'[' if lo_closed else '('}{lo:g}, {hi:g}){unit}"
        raise ValueError(f"{name} must {want}, got {v[i]!r} at index {i}")
    return v
