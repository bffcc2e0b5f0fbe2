"""What the compiled WBIC API (`hea_fast.mixture.wbic`) and its NumPy reference
(`hea_fast.mixture.wbic_reference`) share: input validation, the result types and the per-subset
random-stream key.

Model (Watanabe 2013, JMLR 14:867; arXiv 2504.20354): y_i ~ Bernoulli(sigmoid(w0 + x_i . w)),
w ~ N(0, prior_var I) (intercept included), inverse temperature beta = 1 / log n. X is (n, p)
*without* an intercept column; `design_matrix` prepends it. WBIC values are in nats.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "WBICError",
    "WBICResult",
    "WBICSubsetsResult",
    "ENGINES",
    "check_xy",
    "resolve_beta",
    "check_sampler_settings",
    "design_matrix",
    "normalise_subsets",
    "check_subset_options",
    "check_inputs",
    "subset_key",
    "resolve_engine",
]

#: Implementations of the PG-Gibbs WBIC: the compiled core (CPU, or CUDA with device="cuda") and
#: the float64 NumPy reference.
ENGINES = ("cpp", "numpy")


class WBICError(ValueError):
    """Invalid input to the WBIC routines (the message names the offending value)."""


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------
def check_xy(X, y):
    """(X float64 C-contiguous (n, p), y float64 (n,) of 0/1); errors name the offending value."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise WBICError(f"X must be a 2-D array (n, p), got shape {X.shape}")
    try:
        X = np.ascontiguousarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WBICError(f"X must be numeric: {exc}") from None
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise WBICError(f"y must be 1-D with len(y) == X.shape[0] = {X.shape[0]}, got shape {y.shape}")
    if y.dtype == bool:
        y = y.astype(np.float64)
    try:
        y = np.ascontiguousarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WBICError(f"y must be numeric 0/1 labels: {exc}") from None
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise WBICError(f"X has a non-finite value {X[i, j]!r} at row {i}, column {j}")
    bady = (y != 0.0) & (y != 1.0)
    if bady.any():
        i = int(np.flatnonzero(bady)[0])
        raise WBICError(f"y must contain only 0 and 1, got {y[i]!r} at index {i}")
    if X.shape[0] < 2:
        raise WBICError(f"need at least 2 observations for beta = 1/log n, got n = {X.shape[0]}")
    return X, y


def resolve_beta(beta, n_for_beta, n) -> float:
    """beta, or 1/log(n_for_beta or n) when beta is None."""
    if beta is None:
        nb = n if n_for_beta is None else n_for_beta
        if not (isinstance(nb, (int, np.integer)) or float(nb).is_integer()) or nb < 2:
            raise WBICError(f"n_for_beta must be an integer >= 2, got {n_for_beta!r}")
        return 1.0 / math.log(float(nb))
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise WBICError(f"beta must be a positive finite number, got {beta!r}")
    return beta


def check_sampler_settings(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter) -> float:
    """Validate the sampler settings; returns prior_var as a float."""
    pv = float(prior_var)
    if not (math.isfinite(pv) and pv > 0):
        raise WBICError(f"prior_var must be a positive finite number, got {prior_var!r}")
    if int(n_iter) < 8 or int(n_iter) != n_iter:
        raise WBICError(f"n_iter must be an integer >= 8 (post-burn-in iterations per chain), got {n_iter!r}")
    if int(burn_in) < 0 or int(burn_in) != burn_in:
        raise WBICError(f"burn_in must be a non-negative integer, got {burn_in!r}")
    if int(n_chains) < 1 or int(n_chains) != n_chains:
        raise WBICError(f"n_chains must be a positive integer, got {n_chains!r}")
    if target_stderr is not None:
        ts = float(target_stderr)
        if not (math.isfinite(ts) and ts > 0):
            raise WBICError(f"target_stderr must be a positive number or None, got {target_stderr!r}")
    if int(max_iter) < int(n_iter):
        raise WBICError(f"max_iter ({max_iter!r}) must be >= n_iter ({n_iter!r})")
    return pv


def design_matrix(X, fit_intercept: bool) -> np.ndarray:
    """A = [1, X] (or X without the intercept)."""
    if fit_intercept:
        return np.hstack([np.ones((X.shape[0], 1)), X])
    if X.shape[1] == 0:
        raise WBICError("empty model: no columns and fit_intercept=False")
    return X


def normalise_subsets(subsets, p: int) -> list[tuple[int, ...]]:
    """Subsets as tuples of column indices in [0, p), without repeats (the empty tuple allowed)."""
    out = []
    for s in subsets:
        t = tuple(int(j) for j in np.atleast_1d(np.asarray(s, dtype=np.int64))) if np.size(s) else ()
        for j in t:
            if not 0 <= j < p:
                raise WBICError(f"subset {tuple(s)!r} has column index {j} outside [0, {p})")
        if len(set(t)) != len(t):
            raise WBICError(f"subset {tuple(s)!r} repeats a column index")
        out.append(t)
    return out


def check_subset_options(subs, fit_intercept, prune_above) -> None:
    """The empty subset needs an intercept; prune_above is a positive number of nats or None."""
    if not fit_intercept and any(len(s) == 0 for s in subs):
        raise WBICError("the empty subset needs fit_intercept=True")
    if prune_above is not None and not (float(prune_above) > 0):
        raise WBICError(f"prune_above must be a positive number of nats or None, got {prune_above!r}")


def check_inputs(X, y, *, prior_var, beta, n_for_beta, n_iter, burn_in, n_chains, target_stderr, max_iter,
                 subsets=None, fit_intercept=True, prune_above=None):
    """The common prelude of the WBIC calls: -> (X, y, prior_var, beta, subsets) validated, beta
    resolved (1/log(n_for_beta or n) when None), subsets normalised (None when not given)."""
    X, y = check_xy(X, y)
    pv = check_sampler_settings(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter)
    b = resolve_beta(beta, n_for_beta, X.shape[0])
    subs = None
    if subsets is not None:
        subs = normalise_subsets(subsets, X.shape[1])
        check_subset_options(subs, fit_intercept, prune_above)
    return X, y, pv, b, subs


def subset_key(cols) -> int:
    """64-bit FNV-1a of the column indices (same as hea_fast::subset_key in wbic.h): a subset's RNG
    streams depend on its columns, not on its position in the call."""
    h = 1469598103934665603 ^ len(cols)
    for v in cols:
        v &= 0xFFFFFFFFFFFFFFFF
        for b in range(8):
            h ^= (v >> (8 * b)) & 0xFF
            h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def resolve_engine(engine, backend, *, stacklevel: int = 3) -> str:
    """The engine ("cpp" | "numpy"), mapping the deprecated ``backend=`` keyword ("auto" | "cpp" |
    "numpy"; "auto" meant the compiled core, which is always built) with a DeprecationWarning."""
    if backend is not None:
        warnings.warn("the backend= keyword is deprecated; use engine='cpp' (default) or engine='numpy'",
                      DeprecationWarning, stacklevel=stacklevel)
        if backend not in ("auto", "cpp", "numpy"):
            raise WBICError(f"backend must be 'auto', 'cpp' or 'numpy', got {backend!r}")
        engine = "cpp" if backend == "auto" else backend
    if engine not in ENGINES:
        raise WBICError(f"engine must be 'cpp' or 'numpy', got {engine!r}")
    return engine


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WBICResult:
    """WBIC of one model: value and Monte Carlo standard error in nats, split R-hat of l(w),
    post-burn-in iterations per chain, and the settings it was computed with. `backend` names the
    implementation that ran: "cpp", "cuda" or "numpy"."""

    wbic: float
    stderr: float
    rhat: float
    n_iter: int
    n_chains: int = 4
    beta: float = float("nan")
    n: int = 0
    d: int = 0
    laplace_wbic: float = float("nan")
    backend: str = "numpy"
    mode: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class WBICSubsetsResult:
    """WBIC for many subsets; arrays are aligned with ``subsets``."""

    subsets: list
    wbic: np.ndarray
    stderr: np.ndarray
    rhat: np.ndarray
    n_iter: np.ndarray
    laplace_wbic: np.ndarray
    pruned: np.ndarray
    beta: float
    n_chains: int
    backend: str

    def __len__(self) -> int:
        return len(self.subsets)

    def __getitem__(self, i) -> WBICResult:
        return WBICResult(
            wbic=float(self.wbic[i]), stderr=float(self.stderr[i]), rhat=float(self.rhat[i]),
            n_iter=int(self.n_iter[i]), n_chains=self.n_chains, beta=self.beta,
            d=len(self.subsets[i]), laplace_wbic=float(self.laplace_wbic[i]), backend=self.backend,
        )

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame({
            "subset": [tuple(int(j) for j in s) for s in self.subsets],
            "size": [len(s) for s in self.subsets],
            "wbic": self.wbic, "stderr": self.stderr, "rhat": self.rhat, "n_iter": self.n_iter,
            "laplace_wbic": self.laplace_wbic, "pruned": self.pruned,
        })
