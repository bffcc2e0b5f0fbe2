"""Pólya-Gamma PG(b, c) draws and moments (Polson, Scott & Windle 2013, JASA 108:1339).

PG(b, c) is the law of (1/(2 pi^2)) sum_{k>=1} g_k / ((k - 1/2)^2 + c^2/(4 pi^2)), g_k ~ Gamma(b, 1)
i.i.d. (their Eq. 1), with

    E[PG(b, c)]   = b/(2c) tanh(c/2)                          (b/4 at c = 0)
    Var[PG(b, c)] = b (sinh c - c) / (4 c^3 cosh^2(c/2))      (b/24 at c = 0).

* `sample_polyagamma(b, c, engine="cpp")`: the compiled exact sampler (csrc/cpu/polyagamma_cpu.cpp,
  header csrc/include/hea_fast/polyagamma.h): alternating-series rejection sampling of J*(b, c/2),
  exact for any b > 0 including the non-integer b = beta < 1 of the tempered Gibbs sampler;
  counter-based streams, so results do not depend on the thread count.
* `sample_polyagamma_reference(b, c, K=100)`: float64 NumPy reference, the gamma series truncated
  at K terms with the remainder replaced by a gamma variable matching its exact mean and variance
  (so the first two moments are exact; the remainder's higher cumulants are < 1e-6 of the total
  for K = 100). `sample_polyagamma(..., engine="numpy")` calls it.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from hea_fast._backend import core
from hea_fast.mixture.checks import check_seed
from hea_fast.mixture.wbic_common import WBICError

__all__ = ["pg_mean", "pg_var", "sample_polyagamma", "sample_polyagamma_reference"]


def pg_mean(b, c):
    """E[PG(b, c)] = b/(2c) tanh(c/2) (b/4 at c = 0)."""
    b = np.asarray(b, dtype=float)
    c = np.abs(np.asarray(c, dtype=float))
    small = c < 1e-4
    cs = np.where(small, 1.0, c)
    # tanh(c/2)/(2c) = 1/4 - c^2/48 + c^4/480 - ...
    val = np.where(small, 0.25 - c * c / 48.0, np.tanh(cs / 2.0) / (2.0 * cs))
    return b * val


def pg_var(b, c):
    """Var[PG(b, c)] = b (sinh c - c) / (4 c^3 cosh^2(c/2)) (b/24 at c = 0)."""
    b = np.asarray(b, dtype=float)
    c = np.abs(np.asarray(c, dtype=float))
    small = c < 1e-2
    cs = np.where(small, 1.0, c)
    # small c: (sinh c - c)/(4c^3 cosh^2(c/2)) = 1/24 - c^2/120 + 17 c^4/13440 - ... (avoids the
    # cancellation in sinh c - c). Otherwise sinh c / cosh^2(c/2) = 2 tanh(c/2) and
    # 1/cosh^2(c/2) = 4 e^-c / (1 + e^-c)^2, which never overflow (cosh^2(c/2) c^3 does for c >~ 690,
    # where the direct form gave 0)
    e = np.exp(-cs)
    big = (2.0 * np.tanh(cs / 2.0) - cs * 4.0 * e / (1.0 + e) ** 2) / (4.0 * cs**3)
    c2 = c * c
    ser = 1.0 / 24.0 - c2 / 120.0 + 17.0 * c2 * c2 / 13440.0
    return b * np.where(small, ser, big)


def sample_polyagamma_reference(b, c, rng: np.random.Generator | int = 0, K: int = 100) -> np.ndarray:
    """PG(b, c) draws (broadcast over b and c) by the gamma series truncated at `K` terms, the
    remainder replaced by a gamma variable with its exact mean and variance (float64 NumPy).

    rng: a NumPy Generator or an integer seed. K: number of series terms kept exactly (default
    100); larger K makes the higher cumulants exact too, at K gamma draws per sample.
    """
    if int(K) < 1 or int(K) != K:
        raise WBICError(f"K must be a positive integer number of series terms, got {K!r}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(int(rng))
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    b, c = np.broadcast_arrays(b, c)
    shape = c.shape
    bf = b.ravel()
    cf = c.ravel()
    k = np.arange(1, int(K) + 1, dtype=float) - 0.5
    den = k[None, :] ** 2 + (cf[:, None] / (2.0 * math.pi)) ** 2  # (m, K)
    g = rng.standard_gamma(np.broadcast_to(bf[:, None], den.shape))
    head = (g / den).sum(axis=1) / (2.0 * math.pi**2)
    # exact moments of the head, remainder = total - head (closed forms above)
    head_mean = bf * (1.0 / den).sum(axis=1) / (2.0 * math.pi**2)
    head_var = bf * (1.0 / den**2).sum(axis=1) / (4.0 * math.pi**4)
    tail_mean = np.maximum(pg_mean(bf, cf) - head_mean, 0.0)
    tail_var = np.maximum(pg_var(bf, cf) - head_var, 1e-300)
    shape_t = tail_mean**2 / tail_var
    scale_t = tail_var / np.maximum(tail_mean, 1e-300)
    tail = np.where(tail_mean > 0, rng.standard_gamma(np.maximum(shape_t, 1e-300)) * scale_t, 0.0)
    return (head + tail).reshape(shape)


def _check_bc(b, c):
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    b, c = np.broadcast_arrays(b, c)
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        bad = b[~(np.isfinite(b) & (b > 0))].ravel()[0]
        raise WBICError(f"PG shape b must be positive and finite, got {bad!r}")
    if not np.all(np.isfinite(c)):
        bad = c[~np.isfinite(c)].ravel()[0]
        raise WBICError(f"PG tilt c must be finite, got {bad!r}")
    return b, c


def sample_polyagamma(b, c, *, seed=0, threads=None, engine="cpp", method=None) -> np.ndarray:
    """Draws of PG(b, c) (broadcast over b and c).

    engine: "cpp" (default) the compiled exact sampler; "numpy" the truncated-series reference
    (`sample_polyagamma_reference`, K = 100). The two give different (equally distributed) numbers.
    method: deprecated spelling of engine ("exact" = "cpp", "reference" = "numpy").
    """
    if method is not None:
        warnings.warn("sample_polyagamma(method=...) is deprecated; use engine='cpp' (exact) or "
                      "engine='numpy' (reference)", DeprecationWarning, stacklevel=2)
        if method not in ("exact", "reference"):
            raise WBICError(f"method must be 'exact' or 'reference', got {method!r}")
        engine = "cpp" if method == "exact" else "numpy"
    b, c = _check_bc(b, c)
    seed = check_seed(seed, error=WBICError)
    if engine == "numpy":
        return sample_polyagamma_reference(b, c, np.random.default_rng(seed))
    if engine != "cpp":
        raise WBICError(f"engine must be 'cpp' or 'numpy', got {engine!r}")
    out = core.polyagamma(np.ascontiguousarray(b).ravel(), np.ascontiguousarray(c).ravel(),
                          seed=seed, threads=threads)
    return np.asarray(out).reshape(b.shape)
