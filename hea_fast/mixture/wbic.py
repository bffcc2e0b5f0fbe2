"""WBIC of Bayesian logistic regression by Pólya-Gamma Gibbs sampling.

Implements the widely applicable Bayesian information criterion (Watanabe 2013, JMLR 14:867,
"A widely applicable Bayesian information criterion", Eq. 3 / Theorem 4) for the per-cluster
logistic models of the sparse anchor-guided mixture (arXiv 2504.20354):

    y_i ~ Bernoulli(sigmoid(w0 + x_i . w)),   w ~ N(0, prior_var * I) (intercept included),
    l(w) = -sum_i log p(y_i | x_i, w)                       [nats]
    tempered posterior p_beta(w) ∝ prior(w) exp(-beta l(w)),  beta = 1 / log n,
    WBIC = E_beta[ l(w) ]                                     [nats]

WBIC approximates the Bayes free energy F = -log ∫ prior(w) exp(-l(w)) dw; for a regular model
WBIC - F = O_p(1) while both grow like n L_n(w0) + (d/2) log n (Watanabe 2013, Theorem 4 and
Eq. 9). Lower is better; model probabilities are ∝ exp(-WBIC).

Sampler (Polson, Scott & Windle 2013, JASA 108:1339, Theorem 1, applied to the tempered
likelihood): with psi = A w (A = [1, X]) and kappa = beta (y - 1/2),

    omega_i | w ~ PG(beta, psi_i),
    w | omega   ~ N(m, S),  S = (A^T Omega A + I/prior_var)^-1,  m = S A^T kappa.

PG(b, c) with non-integer b = beta < 1 must be drawn exactly: the compiled core uses an exact
rejection sampler (csrc/cpu/polyagamma_cpu.cpp); the NumPy reference here uses the gamma-series
representation PG(b, c) = (1/(2 pi^2)) sum_k g_k / ((k - 1/2)^2 + c^2/(4 pi^2)), g_k ~ Gamma(b, 1),
truncated at K terms with the remainder replaced by a gamma variable matching its exact mean and
variance (so the first two moments are exact; the remainder's higher cumulants are < 1e-6 of the
total for K = 100).

Estimator and variance reduction: chains start at the tempered mode w_hat (damped Newton); the
compiled backend starts each chain at a draw of the tempered Laplace approximation
N(w_hat, (beta H + I/prior_var)^-1), already in the typical set, so burn_in=20-50 suffices. Each post-burn-in
iteration t records l(w_t) and the control-variate corrected value

    z_t = l(w_t) - q(w_t) + E[q(w) | omega_t],

where q is the second-order Taylor expansion of l at the tempered mode w_hat (gradient g, Hessian H)
and E[q | omega] = q(m) + tr(H S)/2 is exact because w | omega is Gaussian. Because the Gibbs pair
(omega_t, w_t) has w_t | omega_t exactly N(m, S) at stationarity, E[z_t] = E[l(w_t)]: the correction
is unbiased and removes the quadratic (chi-square-like) part of the within-conditional noise, which
dominates Var l(w) (about d log^2 n / 2) for large n. WBIC = mean of z over chains; its Monte Carlo
standard error is from batch means (16 batches per chain, pooled over chains); R-hat is the split
R-hat (Gelman et al. BDA3, Eq. 11.4) of l(w) over chains.

Public contract (used by hea_fast.mixture.search / model):

* ``wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None, n_iter=1000,
  burn_in=50, n_chains=4, target_stderr=None, max_iter=20000, seed=0, threads=None,
  backend="auto") -> WBICResult`` — X is (n, p) *without* an intercept column, y is (n,) in {0, 1}.
  ``beta=None`` means 1/log(n_for_beta or n). ``n_iter`` is the number of post-burn-in iterations per
  chain; with ``target_stderr`` it is the minimum and chains are extended (up to ``max_iter`` per
  chain) until the standard error is at most ``target_stderr``.
* ``wbic_subsets(X, y, subsets, **same, prune_above=None, device="cpu") -> WBICSubsetsResult`` with
  arrays ``wbic, stderr, rhat, n_iter, laplace_wbic, pruned`` aligned with ``subsets`` (a sequence of
  column-index tuples; the empty tuple is the intercept-only model). ``prune_above`` (nats) skips the
  sampler for subsets whose Laplace-WBIC exceeds the best Laplace-WBIC by more than that; their
  ``wbic`` is NaN and ``pruned`` is True (every reported WBIC comes from the sampler).
* ``posterior_draws(X, y, *, beta=1.0, prior_var=10.0, fit_intercept=True, n_draws=1000,
  burn_in=200, n_chains=4, seed=0, threads=None) -> ndarray (n_chains * n_draws, d)`` — draws of
  the weights (intercept in column 0 when fit_intercept) for the posterior predictive.
* ``sample_polyagamma(b, c, *, seed=0, threads=None, method="exact"|"reference")`` — PG(b, c) draws.

Results are reproducible for a seed and, for the compiled backend, independent of ``threads``
(each chain's xoshiro256++ state is drawn from the Philox stream keyed by (seed, hash of the
subset's columns, chain)). ``device="cuda"`` runs the CUDA mirror (csrc/cuda/wbic_cuda.cu, one
block per subset and chain, per-draw Philox streams): same estimator, statistically equal to the
CPU results but not bit-identical (different streams). The NumPy backend ("numpy") uses NumPy's
generator and gives different (statistically equivalent) numbers than the compiled one.
"""
from __future__ import annotations

import inspect
import math
import sys
import types
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = [
    "WBICError",
    "WBICResult",
    "WBICSubsetsResult",
    "wbic",
    "wbic_subsets",
    "posterior_draws",
    "sample_polyagamma",
    "pg_mean",
    "pg_var",
    "laplace_wbic",
    "tempered_mode",
]

N_BATCHES = 16  # batch means per chain for the Monte Carlo standard error


class WBICError(ValueError):
    """Invalid input to the WBIC routines (the message names the offending value)."""


# ---------------------------------------------------------------------------------------------
# Pólya-Gamma moments (Polson, Scott & Windle 2013, Eq. in Sec. 3: E = b/(2c) tanh(c/2))
# ---------------------------------------------------------------------------------------------
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
    cs = np.where(small, 1.0, np.minimum(c, 700.0))
    # small c: (sinh c - c)/(4c^3 cosh^2(c/2)) = 1/24 - c^2/120 + 17 c^4/13440 - ... (avoids the
    # cancellation in sinh c - c)
    big = (np.sinh(cs) - cs) / (4.0 * cs**3 * np.cosh(cs / 2.0) ** 2)
    c2 = c * c
    ser = 1.0 / 24.0 - c2 / 120.0 + 17.0 * c2 * c2 / 13440.0
    return b * np.where(small, ser, big)


def _pg_reference(b, c, rng: np.random.Generator, K: int = 100) -> np.ndarray:
    """PG(b, c) by the truncated gamma series with a moment-matched gamma remainder (float64)."""
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    b, c = np.broadcast_arrays(b, c)
    shape = c.shape
    bf = b.ravel()
    cf = c.ravel()
    k = np.arange(1, K + 1, dtype=float) - 0.5
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


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------
def _check_xy(X, y):
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


def _resolve_beta(beta, n_for_beta, n):
    if beta is None:
        nb = n if n_for_beta is None else n_for_beta
        if not (isinstance(nb, (int, np.integer)) or float(nb).is_integer()) or nb < 2:
            raise WBICError(f"n_for_beta must be an integer >= 2, got {n_for_beta!r}")
        return 1.0 / math.log(float(nb))
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise WBICError(f"beta must be a positive finite number, got {beta!r}")
    return beta


def _check_common(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter):
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


def _design(X, fit_intercept):
    if fit_intercept:
        return np.hstack([np.ones((X.shape[0], 1)), X])
    if X.shape[1] == 0:
        raise WBICError("empty model: no columns and fit_intercept=False")
    return X


# ---------------------------------------------------------------------------------------------
# Deterministic pieces: negative log-likelihood, tempered mode, Laplace-WBIC
# ---------------------------------------------------------------------------------------------
def _nll(A, y, w):
    """l(w) = sum log(1 + e^psi) - y psi, for w of shape (d,) or (m, d)."""
    psi = np.asarray(w) @ A.T
    return (np.logaddexp(0.0, psi) - y * psi).sum(axis=-1)


def tempered_mode(A, y, beta, prior_var, max_newton: int = 100):
    """Mode of prior * exp(-beta l) by damped Newton; returns (w_hat, grad l, Hessian of l)."""
    d = A.shape[1]
    w = np.zeros(d)
    obj = lambda w_: beta * _nll(A, y, w_) + 0.5 * (w_ @ w_) / prior_var  # noqa: E731
    f = obj(w)
    for _ in range(max_newton):
        psi = A @ w
        p = 0.5 * (1.0 + np.tanh(0.5 * psi))
        g = beta * (A.T @ (p - y)) + w / prior_var
        Hm = beta * (A.T * (p * (1 - p))) @ A + np.eye(d) / prior_var
        step = np.linalg.solve(Hm, g)
        t = 1.0
        while True:
            w_new = w - t * step
            f_new = obj(w_new)
            if f_new <= f + 1e-12 * abs(f) or t < 1e-10:
                break
            t *= 0.5
        w, f_old, f = w_new, f, f_new
        if np.abs(t * step).max() < 1e-10 or abs(f_old - f) < 1e-14 * max(1.0, abs(f)):
            break
    psi = A @ w
    p = 0.5 * (1.0 + np.tanh(0.5 * psi))
    grad = A.T @ (p - y)
    H = (A.T * (p * (1 - p))) @ A
    return w, grad, H


def laplace_wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None) -> float:
    """Laplace approximation of WBIC: l(w_hat) + tr(H (beta H + I/prior_var)^-1) / 2 at the
    tempered mode (used only as a prescreen; never reported as a WBIC)."""
    X, y = _check_xy(X, y)
    beta = _resolve_beta(beta, n_for_beta, X.shape[0])
    A = _design(X, fit_intercept)
    return _laplace_from(A, y, beta, float(prior_var))


def _laplace_from(A, y, beta, prior_var):
    w, _g, H = tempered_mode(A, y, beta, prior_var)
    S = np.linalg.inv(beta * H + np.eye(A.shape[1]) / prior_var)
    return float(_nll(A, y, w) + 0.5 * np.trace(H @ S))


# ---------------------------------------------------------------------------------------------
# Chain summaries (shared by both backends' Python-side checks)
# ---------------------------------------------------------------------------------------------
def _batch_means_se(z: np.ndarray) -> float:
    """Pooled batch-means standard error of the grand mean of z (chains x iterations)."""
    C, T = z.shape
    nb = min(N_BATCHES, T)
    L = T // nb
    bm = z[:, : nb * L].reshape(C, nb, L).mean(axis=2).ravel()
    m = bm.size
    return float(np.sqrt(bm.var(ddof=1) / m)) if m > 1 else float("nan")


def _split_rhat(x: np.ndarray) -> float:
    """Split R-hat (BDA3 Eq. 11.4) over chains x iterations."""
    C, T = x.shape
    h = T // 2
    if h < 2:
        return float("nan")
    s = np.concatenate([x[:, :h], x[:, h : 2 * h]], axis=0)
    W = s.var(axis=1, ddof=1).mean()
    B = h * s.mean(axis=1).var(ddof=1)
    if W <= 0:
        return 1.0
    var_plus = (h - 1) / h * W + B / h
    return float(np.sqrt(var_plus / W))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WBICResult:
    """WBIC of one model: value and Monte Carlo standard error in nats, split R-hat of l(w),
    post-burn-in iterations per chain, and the settings it was computed with."""

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


# ---------------------------------------------------------------------------------------------
# NumPy reference Gibbs sampler
# ---------------------------------------------------------------------------------------------
def _gibbs_numpy(A, y, beta, prior_var, n_iter, burn_in, n_chains, rng, *, w0=None, record_w=False,
                 cv=None, target_stderr=None, max_iter=None):
    """Run n_chains PG-Gibbs chains (vectorised over chains). Returns dict with l, z, (w)."""
    n, d = A.shape
    kappa = beta * (y - 0.5)
    Atk = A.T @ kappa
    eye = np.eye(d) / prior_var
    w = np.broadcast_to(w0 if w0 is not None else np.zeros(d), (n_chains, d)).copy()
    ls, zs, ws = [], [], []
    if cv is not None:
        w_hat, g, H = cv
        l_hat = float(_nll(A, y, w_hat))
    total = burn_in + n_iter
    max_iter = n_iter if max_iter is None else max_iter
    t = 0
    while True:
        while t < total:
            psi = w @ A.T  # (C, n)
            om = _pg_reference(beta, psi, rng)
            P = np.einsum("cn,ni,nj->cij", om, A, A) + eye
            L = np.linalg.cholesky(P)
            m = np.linalg.solve(P, np.broadcast_to(Atk, (n_chains, d))[..., None])[..., 0]
            zn = rng.standard_normal((n_chains, d))
            # w = m + L^-T z  (L^-T z has covariance P^-1)
            w = m + np.linalg.solve(np.swapaxes(L, 1, 2), zn[..., None])[..., 0]
            if t >= burn_in:
                lw = _nll(A, y, w)
                ls.append(lw)
                if cv is not None:
                    dw = w - w_hat
                    dm = m - w_hat
                    q_w = l_hat + dw @ g + 0.5 * np.einsum("ci,ij,cj->c", dw, H, dw)
                    S = np.linalg.inv(P)
                    Eq = l_hat + dm @ g + 0.5 * np.einsum("ci,ij,cj->c", dm, H, dm) \
                        + 0.5 * np.einsum("ij,cji->c", H, S)
                    zs.append(lw - q_w + Eq)
                if record_w:
                    ws.append(w.copy())
            t += 1
        done = target_stderr is None or total - burn_in >= max_iter
        if not done:
            z = np.stack(zs if cv is not None else ls, axis=1)
            se = _batch_means_se(z)
            if se <= target_stderr:
                done = True
            else:
                T = total - burn_in
                need = int(math.ceil(T * (se / target_stderr) ** 2 * 1.1))
                total = burn_in + min(max_iter, max(need, T + 8))
        if done:
            break
    out = {"l": np.stack(ls, axis=1)}
    if cv is not None:
        out["z"] = np.stack(zs, axis=1)
    if record_w:
        out["w"] = np.stack(ws, axis=1)  # (C, T, d)
    return out


def _wbic_numpy(A, y, beta, prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter, seed,
                stream=0):
    rng = np.random.default_rng([int(seed), int(stream)])
    w_hat, g, H = tempered_mode(A, y, beta, prior_var)
    out = _gibbs_numpy(A, y, beta, prior_var, n_iter, burn_in, n_chains, rng, w0=w_hat,
                       cv=(w_hat, g, H), target_stderr=target_stderr, max_iter=max_iter)
    z = out["z"]
    S = np.linalg.inv(beta * H + np.eye(A.shape[1]) / prior_var)
    lap = float(_nll(A, y, w_hat) + 0.5 * np.trace(H @ S))
    return WBICResult(
        wbic=float(z.mean()), stderr=_batch_means_se(z), rhat=_split_rhat(out["l"]),
        n_iter=int(z.shape[1]), n_chains=int(n_chains), beta=float(beta), n=int(A.shape[0]),
        d=int(A.shape[1]), laplace_wbic=lap, backend="numpy", mode=w_hat,
    )


# ---------------------------------------------------------------------------------------------
# Backend selection
# ---------------------------------------------------------------------------------------------
def _core_or_none():
    try:
        from hea_fast._backend import core
    except ImportError:  # pragma: no cover - unbuilt source tree
        return None
    return core if hasattr(core, "wbic_subsets") else None


def _resolve_backend(backend: str):
    if backend not in ("auto", "cpp", "numpy"):
        raise WBICError(f"backend must be 'auto', 'cpp' or 'numpy', got {backend!r}")
    if backend == "numpy":
        return None
    core = _core_or_none()
    if core is None and backend == "cpp":
        raise WBICError("backend='cpp' requested but hea_fast._core has no WBIC kernels (rebuild)")
    return core


def _subset_key(cols) -> int:
    """64-bit FNV-1a of the column indices (same as hea_fast::subset_key in wbic.h): a subset's RNG
    streams depend on its columns, not on its position in the call."""
    h = 1469598103934665603 ^ len(cols)
    for v in cols:
        v &= 0xFFFFFFFFFFFFFFFF
        for b in range(8):
            h ^= (v >> (8 * b)) & 0xFF
            h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def _normalise_subsets(subsets, p):
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


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def wbic_subsets(X, y, subsets: Sequence[Sequence[int]], *, prior_var=10.0, fit_intercept=True,
                 beta=None, n_for_beta=None, n_iter=1000, burn_in=50, n_chains=4,
                 target_stderr=None, max_iter=20000, seed=0, threads=None, prune_above=None,
                 backend="auto", device="cpu", progress=False) -> WBICSubsetsResult:
    """WBIC of the logistic model on each column subset of X (see the module docstring).

    A subset's chains use RNG streams keyed by (seed, hash of its columns, chain), so its result
    does not depend on the thread count, its position in ``subsets`` or the other subsets: chunked,
    resumed or distributed searches reproduce a single call exactly (same backend and device).
    """
    X, y = _check_xy(X, y)
    n, p = X.shape
    pv = _check_common(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter)
    b = _resolve_beta(beta, n_for_beta, n)
    subs = _normalise_subsets(subsets, p)
    if not fit_intercept and any(len(s) == 0 for s in subs):
        raise WBICError("the empty subset needs fit_intercept=True")
    if prune_above is not None and not (float(prune_above) > 0):
        raise WBICError(f"prune_above must be a positive number of nats or None, got {prune_above!r}")
    m = len(subs)
    core = _resolve_backend(backend)
    dev = "cpu"
    if device != "cpu":
        from hea_fast._backend import resolve_device

        dev = resolve_device(device)
    if core is not None:
        return _wbic_subsets_core(core, X, y, subs, pv, fit_intercept, b, n_iter, burn_in, n_chains,
                                  target_stderr, max_iter, seed, threads, prune_above, dev)
    if dev == "cuda":
        raise WBICError("device='cuda' needs the compiled backend")
    lap = np.array([_laplace_from(_design(X[:, list(s)], fit_intercept), y, b, pv) for s in subs])
    pruned = np.zeros(m, dtype=bool)
    if prune_above is not None and m:
        pruned = lap > lap.min() + float(prune_above)
    res = dict(wbic=np.full(m, np.nan), stderr=np.full(m, np.nan), rhat=np.full(m, np.nan),
               n_iter=np.zeros(m, dtype=np.int64))
    it = range(m)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="WBIC", unit="subset")
    for i in it:
        if pruned[i]:
            continue
        A = _design(X[:, list(subs[i])], fit_intercept)
        r = _wbic_numpy(A, y, b, pv, int(n_iter), int(burn_in), int(n_chains), target_stderr,
                        int(max_iter), seed, stream=_subset_key(subs[i]))
        res["wbic"][i], res["stderr"][i], res["rhat"][i], res["n_iter"][i] = r.wbic, r.stderr, r.rhat, r.n_iter
    return WBICSubsetsResult(subsets=subs, laplace_wbic=lap, pruned=pruned, beta=b,
                             n_chains=int(n_chains), backend="numpy", **res)


def _wbic_subsets_core(core, X, y, subs, pv, fit_intercept, b, n_iter, burn_in, n_chains,
                       target_stderr, max_iter, seed, threads, prune_above, dev):
    m = len(subs)
    kmax = max([len(s) for s in subs] + [1])
    idx = np.full((m, kmax), -1, dtype=np.int64)
    for i, s in enumerate(subs):
        idx[i, : len(s)] = s
    kw = dict(prior_var=pv, fit_intercept=bool(fit_intercept), beta=b, n_iter=int(n_iter),
              burn_in=int(burn_in), n_chains=int(n_chains),
              target_stderr=0.0 if target_stderr is None else float(target_stderr),
              max_iter=int(max_iter), seed=int(seed) & 0xFFFFFFFFFFFFFFFF,
              prune_above=0.0 if prune_above is None else float(prune_above))
    if dev == "cuda":
        from hea_fast._backend import cuda_module

        mod = cuda_module()
        if not hasattr(mod, "wbic_subsets"):
            raise WBICError("device='cuda': the CUDA WBIC kernel is not implemented in this build; use device='cpu'")
        out = mod.wbic_subsets(X, y, idx, **kw)
        backend = "cuda"
    else:
        out = core.wbic_subsets(X, y, idx, threads=threads, **kw)
        backend = "cpp"
    return WBICSubsetsResult(
        subsets=subs, wbic=np.asarray(out["wbic"]), stderr=np.asarray(out["stderr"]),
        rhat=np.asarray(out["rhat"]), n_iter=np.asarray(out["n_iter"]),
        laplace_wbic=np.asarray(out["laplace_wbic"]), pruned=np.asarray(out["pruned"], dtype=bool),
        beta=b, n_chains=int(n_chains), backend=backend,
    )


def wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None, n_iter=1000,
         burn_in=50, n_chains=4, target_stderr=None, max_iter=20000, seed=0, threads=None,
         backend="auto") -> WBICResult:
    """WBIC of the logistic model on all columns of X (X without an intercept column)."""
    X, y = _check_xy(X, y)
    n, p = X.shape
    pv = _check_common(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter)
    b = _resolve_beta(beta, n_for_beta, n)
    core = _resolve_backend(backend)
    if core is None:
        A = _design(X, fit_intercept)
        return _wbic_numpy(A, y, b, pv, int(n_iter), int(burn_in), int(n_chains), target_stderr,
                           int(max_iter), seed, stream=0)
    r = wbic_subsets(X, y, [tuple(range(p))], prior_var=pv, fit_intercept=fit_intercept, beta=b,
                     n_iter=n_iter, burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr,
                     max_iter=max_iter, seed=seed, threads=threads, backend="cpp")
    A = _design(X, fit_intercept)
    w_hat, _g, _H = tempered_mode(A, y, b, pv)
    return WBICResult(wbic=float(r.wbic[0]), stderr=float(r.stderr[0]), rhat=float(r.rhat[0]),
                      n_iter=int(r.n_iter[0]), n_chains=int(n_chains), beta=b, n=n, d=A.shape[1],
                      laplace_wbic=float(r.laplace_wbic[0]), backend="cpp", mode=w_hat)


def posterior_draws(X, y, *, beta=1.0, prior_var=10.0, fit_intercept=True, n_draws=1000,
                    burn_in=200, n_chains=4, seed=0, threads=None, backend="auto") -> np.ndarray:
    """Draws of the weights from the (tempered, beta = 1 by default) posterior by PG-Gibbs.

    Returns an array (n_chains * n_draws, d): column 0 is the intercept when fit_intercept.
    Posterior predictive: mean over draws of sigmoid(A_new @ w).
    """
    X, y = _check_xy(X, y)
    n, _p = X.shape
    pv = _check_common(prior_var, max(int(n_draws), 8), burn_in, n_chains, None, max(int(n_draws), 8))
    if int(n_draws) < 1:
        raise WBICError(f"n_draws must be a positive integer, got {n_draws!r}")
    b = _resolve_beta(beta, None, n)
    A = _design(X, fit_intercept)
    core = _resolve_backend(backend)
    if core is not None and hasattr(core, "wbic_posterior_draws"):
        out = core.wbic_posterior_draws(A, y, beta=b, prior_var=pv, n_draws=int(n_draws),
                                        burn_in=int(burn_in), n_chains=int(n_chains),
                                        seed=int(seed) & 0xFFFFFFFFFFFFFFFF, threads=threads)
        return np.asarray(out).reshape(-1, A.shape[1])
    rng = np.random.default_rng([int(seed), 0])
    w_hat, _g, _H = tempered_mode(A, y, b, pv)
    out = _gibbs_numpy(A, y, b, pv, int(n_draws), int(burn_in), int(n_chains), rng, w0=w_hat,
                       record_w=True)
    return out["w"].reshape(-1, A.shape[1])


def sample_polyagamma(b, c, *, seed=0, threads=None, method="exact") -> np.ndarray:
    """Draws of PG(b, c) (broadcast over b and c). method="exact": the compiled exact sampler;
    "reference": the NumPy truncated-series sampler with moment-matched remainder."""
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    b, c = np.broadcast_arrays(b, c)
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        bad = b[~(np.isfinite(b) & (b > 0))].ravel()[0]
        raise WBICError(f"PG shape b must be positive and finite, got {bad!r}")
    if not np.all(np.isfinite(c)):
        bad = c[~np.isfinite(c)].ravel()[0]
        raise WBICError(f"PG tilt c must be finite, got {bad!r}")
    if method == "reference":
        return _pg_reference(b, c, np.random.default_rng(int(seed)))
    if method != "exact":
        raise WBICError(f"method must be 'exact' or 'reference', got {method!r}")
    from hea_fast._backend import core

    if not hasattr(core, "polyagamma"):
        raise WBICError("the compiled exact PG sampler is not built (rebuild hea_fast._core)")
    out = core.polyagamma(np.ascontiguousarray(b).ravel(), np.ascontiguousarray(c).ravel(),
                          seed=int(seed) & 0xFFFFFFFFFFFFFFFF, threads=threads)
    return np.asarray(out).reshape(b.shape)


# ---------------------------------------------------------------------------------------------
# `hea_fast.mixture.wbic` is both this module and the function `wbic`
# ---------------------------------------------------------------------------------------------
class _CallableModule(types.ModuleType):
    """The package exports the function ``wbic`` under the name of this module. A plain re-export
    would replace the package attribute ``hea_fast.mixture.wbic`` (the submodule) by the function,
    so ``import hea_fast.mixture.wbic as W`` would return the function and ``from hea_fast.mixture
    import wbic`` would mean different things depending on import order. Instead the module itself
    is callable: ``hea_fast.mixture.wbic(X, y, ...)`` runs `wbic`, and ``hea_fast.mixture.wbic.
    wbic_subsets`` etc. remain the module's attributes."""

    def __call__(self, *args, **kwargs) -> WBICResult:
        return wbic(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
# inspect.signature(hea_fast.mixture.wbic) and help() show the function's signature
sys.modules[__name__].__signature__ = inspect.signature(wbic)
