"""Float64 NumPy reference of the tempered Pólya-Gamma Gibbs WBIC (the compiled core's test oracle).

Watanabe (2013, JMLR 14:867, Eq. 3 / Theorem 4) for Bayesian logistic regression:

    l(w) = -sum_i log p(y_i | x_i, w) = sum_i log(1 + e^psi_i) - y_i psi_i,   psi = A w  [nats]
    tempered posterior p_beta(w) ∝ N(w; 0, prior_var I) exp(-beta l(w)),  beta = 1 / log n,
    WBIC = E_beta[ l(w) ].

Gibbs sampler (Polson, Scott & Windle 2013, Theorem 1, applied to the tempered likelihood): with
kappa = beta (y - 1/2),

    omega_i | w ~ PG(beta, psi_i),   w | omega ~ N(m, S),  S = (A^T Omega A + I/prior_var)^-1,
    m = S A^T kappa.

PG draws come from `polyagamma.sample_polyagamma_reference`. Chains start at the tempered mode
w_hat (damped Newton, `tempered_mode`). The estimator averages the control-variate corrected value
z_t = l(w_t) - q(w_t) + E[q(w) | omega_t], q the quadratic Taylor expansion of l at w_hat, whose
conditional mean q(m) + tr(H S)/2 is exact because w | omega is Gaussian: E[z_t] = E[l(w_t)], and
the quadratic (chi-square-like) part of the noise cancels. Standard error: batch means; R-hat:
split R-hat of l(w) (`hea_fast.mixture.diagnostics`). With ``target_stderr`` the chains are extended
(up to ``max_iter`` per chain) until the standard error is at most the target.

Random streams: NumPy's generator seeded by [seed, stream], stream = `subset_key(columns)` for a
subset (0 for `wbic_reference`), so a subset's value does not depend on the other subsets. The
numbers differ from the compiled engine's (other generator), with the same distribution.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from hea_fast.mixture.diagnostics import batch_means_stderr, split_rhat
from hea_fast.mixture.polyagamma import sample_polyagamma_reference
from hea_fast.mixture.wbic_common import WBICResult, WBICSubsetsResult, check_inputs, design_matrix, subset_key

__all__ = [
    "logistic_nll",
    "tempered_mode",
    "laplace_wbic_of_design",
    "gibbs_reference",
    "wbic_of_design",
    "wbic_reference",
    "wbic_subsets_reference",
    "posterior_draws_reference",
]


# ---------------------------------------------------------------------------------------------
# Deterministic pieces: negative log-likelihood, tempered mode, Laplace-WBIC
# ---------------------------------------------------------------------------------------------
def logistic_nll(A, y, w):
    """l(w) = sum log(1 + e^psi) - y psi with psi = A w, for w of shape (d,) or (m, d) [nats]."""
    psi = np.asarray(w) @ A.T
    return (np.logaddexp(0.0, psi) - y * psi).sum(axis=-1)


def tempered_mode(A, y, beta, prior_var, max_newton: int = 100):
    """Mode of prior * exp(-beta l) by damped Newton; returns (w_hat, grad l, Hessian of l) at it.

    A is the design matrix (intercept column included when used)."""
    d = A.shape[1]
    w = np.zeros(d)
    obj = lambda w_: beta * logistic_nll(A, y, w_) + 0.5 * (w_ @ w_) / prior_var  # noqa: E731
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


def laplace_wbic_of_design(A, y, beta, prior_var) -> float:
    """Laplace-WBIC l(w_hat) + tr(H (beta H + I/prior_var)^-1) / 2 for a design matrix A."""
    w, _g, H = tempered_mode(A, y, beta, prior_var)
    S = np.linalg.inv(beta * H + np.eye(A.shape[1]) / prior_var)
    return float(logistic_nll(A, y, w) + 0.5 * np.trace(H @ S))


# ---------------------------------------------------------------------------------------------
# The Gibbs chains
# ---------------------------------------------------------------------------------------------
def gibbs_reference(A, y, beta, prior_var, n_iter, burn_in, n_chains, rng, *, w0=None, record_w=False,
                    cv=None, target_stderr=None, max_iter=None) -> dict:
    """Run n_chains PG-Gibbs chains (vectorised over chains) on the design matrix A.

    cv: (w_hat, grad, Hessian) of l at the tempered mode to record the control-variate values z.
    Returns {"l": (C, T) l(w_t), "z": (C, T) when cv, "w": (C, T, d) when record_w}."""
    n, d = A.shape
    kappa = beta * (y - 0.5)
    Atk = A.T @ kappa
    eye = np.eye(d) / prior_var
    w = np.broadcast_to(w0 if w0 is not None else np.zeros(d), (n_chains, d)).copy()
    ls, zs, ws = [], [], []
    if cv is not None:
        w_hat, g, H = cv
        l_hat = float(logistic_nll(A, y, w_hat))
    total = burn_in + n_iter
    max_iter = n_iter if max_iter is None else max_iter
    t = 0
    while True:
        while t < total:
            psi = w @ A.T  # (C, n)
            om = sample_polyagamma_reference(beta, psi, rng)
            P = np.einsum("cn,ni,nj->cij", om, A, A) + eye
            L = np.linalg.cholesky(P)
            m = np.linalg.solve(P, np.broadcast_to(Atk, (n_chains, d))[..., None])[..., 0]
            zn = rng.standard_normal((n_chains, d))
            # w = m + L^-T z  (L^-T z has covariance P^-1)
            w = m + np.linalg.solve(np.swapaxes(L, 1, 2), zn[..., None])[..., 0]
            if t >= burn_in:
                lw = logistic_nll(A, y, w)
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
            se = batch_means_stderr(z)
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


def wbic_of_design(A, y, beta, prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter, seed,
                   stream=0) -> WBICResult:
    """WBIC of one design matrix A (checked inputs) with NumPy streams keyed by [seed, stream]."""
    rng = np.random.default_rng([int(seed), int(stream)])
    w_hat, g, H = tempered_mode(A, y, beta, prior_var)
    out = gibbs_reference(A, y, beta, prior_var, n_iter, burn_in, n_chains, rng, w0=w_hat,
                          cv=(w_hat, g, H), target_stderr=target_stderr, max_iter=max_iter)
    z = out["z"]
    S = np.linalg.inv(beta * H + np.eye(A.shape[1]) / prior_var)
    lap = float(logistic_nll(A, y, w_hat) + 0.5 * np.trace(H @ S))
    return WBICResult(
        wbic=float(z.mean()), stderr=batch_means_stderr(z), rhat=split_rhat(out["l"]),
        n_iter=int(z.shape[1]), n_chains=int(n_chains), beta=float(beta), n=int(A.shape[0]),
        d=int(A.shape[1]), laplace_wbic=lap, backend="numpy", mode=w_hat,
    )


# ---------------------------------------------------------------------------------------------
# Public reference API (same arguments as hea_fast.mixture.wbic's functions)
# ---------------------------------------------------------------------------------------------
def wbic_reference(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None, n_iter=1000,
                   burn_in=50, n_chains=4, target_stderr=None, max_iter=20000, seed=0) -> WBICResult:
    """WBIC of the logistic model on all columns of X by the NumPy PG-Gibbs sampler."""
    X, y, pv, b, _ = check_inputs(X, y, prior_var=prior_var, beta=beta, n_for_beta=n_for_beta, n_iter=n_iter,
                                  burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr, max_iter=max_iter)
    A = design_matrix(X, fit_intercept)
    return wbic_of_design(A, y, b, pv, int(n_iter), int(burn_in), int(n_chains), target_stderr,
                          int(max_iter), seed, stream=0)


def wbic_subsets_reference(X, y, subsets: Sequence[Sequence[int]], *, prior_var=10.0, fit_intercept=True,
                           beta=None, n_for_beta=None, n_iter=1000, burn_in=50, n_chains=4,
                           target_stderr=None, max_iter=20000, seed=0, prune_above=None,
                           progress=False) -> WBICSubsetsResult:
    """WBIC of the logistic model on each column subset of X by the NumPy PG-Gibbs sampler
    (``prune_above``: skip subsets whose Laplace-WBIC exceeds the best by more than that, in nats)."""
    X, y, pv, b, subs = check_inputs(X, y, prior_var=prior_var, beta=beta, n_for_beta=n_for_beta, n_iter=n_iter,
                                     burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr,
                                     max_iter=max_iter, subsets=subsets, fit_intercept=fit_intercept,
                                     prune_above=prune_above)
    m = len(subs)
    lap = np.array([laplace_wbic_of_design(design_matrix(X[:, list(s)], fit_intercept), y, b, pv) for s in subs])
    pruned = np.zeros(m, dtype=bool)
    if prune_above is not None and m:
        pruned = lap > lap.min() + float(prune_above)
    res = dict(wbic=np.full(m, np.nan), stderr=np.full(m, np.nan), rhat=np.full(m, np.nan),
               n_iter=np.zeros(m, dtype=np.int64))
    it = range(m)
    if progress:
        from hea_fast._progress import progress_bar

        it = progress_bar(it, desc="WBIC", unit="subset")
    for i in it:
        if pruned[i]:
            continue
        A = design_matrix(X[:, list(subs[i])], fit_intercept)
        r = wbic_of_design(A, y, b, pv, int(n_iter), int(burn_in), int(n_chains), target_stderr,
                           int(max_iter), seed, stream=subset_key(subs[i]))
        res["wbic"][i], res["stderr"][i], res["rhat"][i], res["n_iter"][i] = r.wbic, r.stderr, r.rhat, r.n_iter
    return WBICSubsetsResult(subsets=subs, laplace_wbic=lap, pruned=pruned, beta=b,
                             n_chains=int(n_chains), backend="numpy", **res)


def posterior_draws_reference(A, y, *, beta, prior_var, n_draws, burn_in, n_chains, seed) -> np.ndarray:
    """(n_chains * n_draws, d) draws of w from the tempered posterior on the design matrix A
    (checked inputs), chains started at the tempered mode."""
    rng = np.random.default_rng([int(seed), 0])
    w_hat, _g, _H = tempered_mode(A, y, beta, prior_var)
    out = gibbs_reference(A, y, beta, prior_var, int(n_draws), int(burn_in), int(n_chains), rng, w0=w_hat,
                          record_w=True)
    return out["w"].reshape(-1, A.shape[1])
