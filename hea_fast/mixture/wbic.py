"""WBIC of Bayesian logistic regression by tempered Pólya-Gamma Gibbs sampling (the public API).

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

PG(b, c) with non-integer b = beta < 1 must be drawn exactly: see `hea_fast.mixture.polyagamma`.

Estimator and variance reduction: the compiled engine starts each chain at a draw of the tempered
Laplace approximation N(w_hat, (beta H + I/prior_var)^-1) around the tempered mode w_hat (damped
Newton), already in the typical set, so burn_in=20-50 suffices. Each post-burn-in iteration t
records l(w_t) and the control-variate corrected value

    z_t = l(w_t) - q(w_t) + E[q(w) | omega_t],

where q is the second-order Taylor expansion of l at w_hat (gradient g, Hessian H) and
E[q | omega] = q(m) + tr(H S)/2 is exact because w | omega is Gaussian. Because the Gibbs pair
(omega_t, w_t) has w_t | omega_t exactly N(m, S) at stationarity, E[z_t] = E[l(w_t)]: the correction
is unbiased and removes the quadratic (chi-square-like) part of the within-conditional noise, which
dominates Var l(w) (about d log^2 n / 2) for large n. WBIC = mean of z over chains; its Monte Carlo
standard error is from batch means (16 batches per chain, pooled over chains); R-hat is the split
R-hat (Gelman et al. BDA3, Eq. 11.4) of l(w) over chains (`hea_fast.mixture.diagnostics`).

Public contract (used by hea_fast.mixture.search / model):

* ``wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None, n_iter=1000,
  burn_in=50, n_chains=4, target_stderr=None, max_iter=20000, seed=0, threads=None,
  engine="cpp", device="cpu") -> WBICResult`` — X is (n, p) *without* an intercept column, y is
  (n,) in {0, 1}. ``beta=None`` means 1/log(n_for_beta or n). ``n_iter`` is the number of
  post-burn-in iterations per chain; with ``target_stderr`` it is the minimum and chains are
  extended (up to ``max_iter`` per chain) until the standard error is at most ``target_stderr``.
* ``wbic_subsets(X, y, subsets, **same, prune_above=None) -> WBICSubsetsResult`` with arrays
  ``wbic, stderr, rhat, n_iter, laplace_wbic, pruned`` aligned with ``subsets`` (a sequence of
  column-index tuples; the empty tuple is the intercept-only model). ``prune_above`` (nats) skips the
  sampler for subsets whose Laplace-WBIC exceeds the best Laplace-WBIC by more than that; their
  ``wbic`` is NaN and ``pruned`` is True (every reported WBIC comes from the sampler).
* ``posterior_draws(X, y, *, beta=1.0, prior_var=10.0, fit_intercept=True, n_draws=1000,
  burn_in=200, n_chains=4, seed=0, threads=None, engine="cpp") -> ndarray (n_chains * n_draws, d)``
  — draws of the weights (intercept in column 0 when fit_intercept) for the posterior predictive.

engine="cpp" (default) runs the compiled kernels (csrc/cpu/wbic_cpu.cpp; device="cuda" the CUDA
mirror csrc/cuda/wbic_cuda.cu, one block per subset and chain, per-draw Philox streams: same
estimator, statistically equal to the CPU results but not bit-identical). engine="numpy" runs the
float64 reference (`hea_fast.mixture.wbic_reference`), which uses NumPy's generator and gives
different (statistically equivalent) numbers. The old keyword ``backend=`` ("auto" | "cpp" |
"numpy") is accepted for one release with a DeprecationWarning.

Results are reproducible for a seed and, for the compiled engine, independent of ``threads``
(each chain's xoshiro256++ state is drawn from the Philox stream keyed by (seed, hash of the
subset's columns, chain)).

``from hea_fast.mixture import wbic`` is the function `wbic` (README); import this module's other
names explicitly (``from hea_fast.mixture.wbic import wbic_subsets``).
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from hea_fast._backend import core, cuda_module, cuda_stream, resolve_device
from hea_fast.mixture.checks import check_seed
from hea_fast.mixture.wbic_common import (
    WBICError,
    WBICResult,
    WBICSubsetsResult,
    check_inputs,
    check_xy,
    design_matrix,
    resolve_beta,
    resolve_engine,
)
from hea_fast.mixture.wbic_reference import (
    laplace_wbic_of_design,
    posterior_draws_reference,
    tempered_mode,
    wbic_reference,
    wbic_subsets_reference,
)

__all__ = [
    "WBICError",
    "WBICResult",
    "WBICSubsetsResult",
    "wbic",
    "wbic_subsets",
    "posterior_draws",
    "laplace_wbic",
    "tempered_mode",
]


def laplace_wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None) -> float:
    """Laplace approximation of WBIC: l(w_hat) + tr(H (beta H + I/prior_var)^-1) / 2 at the
    tempered mode (used only as a prescreen; never reported as a WBIC)."""
    X, y = check_xy(X, y)
    beta = resolve_beta(beta, n_for_beta, X.shape[0])
    return laplace_wbic_of_design(design_matrix(X, fit_intercept), y, beta, float(prior_var))


def wbic_subsets(X, y, subsets: Sequence[Sequence[int]], *, prior_var=10.0, fit_intercept=True,
                 beta=None, n_for_beta=None, n_iter=1000, burn_in=50, n_chains=4,
                 target_stderr=None, max_iter=20000, seed=0, threads=None, prune_above=None,
                 engine="cpp", device="cpu", progress=False, backend=None) -> WBICSubsetsResult:
    """WBIC of the logistic model on each column subset of X (see the module docstring).

    A subset's chains use RNG streams keyed by (seed, hash of its columns, chain), so its result
    does not depend on the thread count, its position in ``subsets`` or the other subsets: chunked,
    resumed or distributed searches reproduce a single call exactly (same engine and device).
    """
    engine = resolve_engine(engine, backend)
    seed = check_seed(seed, error=WBICError)
    dev = "cpu" if device == "cpu" else resolve_device(device)
    if engine == "numpy":
        if dev == "cuda":
            raise WBICError("device='cuda' needs engine='cpp'")
        return wbic_subsets_reference(X, y, subsets, prior_var=prior_var, fit_intercept=fit_intercept, beta=beta,
                                      n_for_beta=n_for_beta, n_iter=n_iter, burn_in=burn_in, n_chains=n_chains,
                                      target_stderr=target_stderr, max_iter=max_iter, seed=seed,
                                      prune_above=prune_above, progress=progress)
    X, y, pv, b, subs = check_inputs(X, y, prior_var=prior_var, beta=beta, n_for_beta=n_for_beta, n_iter=n_iter,
                                     burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr,
                                     max_iter=max_iter, subsets=subsets, fit_intercept=fit_intercept,
                                     prune_above=prune_above)
    kmax = max([len(s) for s in subs] + [1])
    idx = np.full((len(subs), kmax), -1, dtype=np.int64)
    for i, s in enumerate(subs):
        idx[i, : len(s)] = s
    kw = dict(prior_var=pv, fit_intercept=bool(fit_intercept), beta=b, n_iter=int(n_iter),
              burn_in=int(burn_in), n_chains=int(n_chains),
              target_stderr=0.0 if target_stderr is None else float(target_stderr),
              max_iter=int(max_iter), seed=seed,
              prune_above=0.0 if prune_above is None else float(prune_above))
    if dev == "cuda":
        # host arrays in, host results out; the kernels run on torch's current stream
        out = cuda_module().wbic_subsets(X, y, idx, stream=cuda_stream(), **kw)
    else:
        out = core.wbic_subsets(X, y, idx, threads=threads, **kw)
    return WBICSubsetsResult(
        subsets=subs, wbic=np.asarray(out["wbic"]), stderr=np.asarray(out["stderr"]),
        rhat=np.asarray(out["rhat"]), n_iter=np.asarray(out["n_iter"]),
        laplace_wbic=np.asarray(out["laplace_wbic"]), pruned=np.asarray(out["pruned"], dtype=bool),
        beta=b, n_chains=int(n_chains), backend="cuda" if dev == "cuda" else "cpp",
    )


def wbic(X, y, *, prior_var=10.0, fit_intercept=True, beta=None, n_for_beta=None, n_iter=1000,
         burn_in=50, n_chains=4, target_stderr=None, max_iter=20000, seed=0, threads=None,
         engine="cpp", device="cpu", backend=None) -> WBICResult:
    """WBIC of the logistic model on all columns of X (X without an intercept column)."""
    engine = resolve_engine(engine, backend)
    if engine == "numpy":
        if device != "cpu" and resolve_device(device) == "cuda":
            raise WBICError("device='cuda' needs engine='cpp'")
        return wbic_reference(X, y, prior_var=prior_var, fit_intercept=fit_intercept, beta=beta,
                              n_for_beta=n_for_beta, n_iter=n_iter, burn_in=burn_in, n_chains=n_chains,
                              target_stderr=target_stderr, max_iter=max_iter, seed=seed)
    X, y, pv, b, _ = check_inputs(X, y, prior_var=prior_var, beta=beta, n_for_beta=n_for_beta, n_iter=n_iter,
                                  burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr, max_iter=max_iter)
    n, p = X.shape
    r = wbic_subsets(X, y, [tuple(range(p))], prior_var=pv, fit_intercept=fit_intercept, beta=b,
                     n_iter=n_iter, burn_in=burn_in, n_chains=n_chains, target_stderr=target_stderr,
                     max_iter=max_iter, seed=seed, threads=threads, engine="cpp", device=device)
    A = design_matrix(X, fit_intercept)
    w_hat, _g, _H = tempered_mode(A, y, b, pv)
    return WBICResult(wbic=float(r.wbic[0]), stderr=float(r.stderr[0]), rhat=float(r.rhat[0]),
                      n_iter=int(r.n_iter[0]), n_chains=int(n_chains), beta=b, n=n, d=A.shape[1],
                      laplace_wbic=float(r.laplace_wbic[0]), backend=r.backend, mode=w_hat)


def posterior_draws(X, y, *, beta=1.0, prior_var=10.0, fit_intercept=True, n_draws=1000,
                    burn_in=200, n_chains=4, seed=0, threads=None, engine="cpp", backend=None) -> np.ndarray:
    """Draws of the weights from the (tempered, beta = 1 by default) posterior by PG-Gibbs.

    Returns an array (n_chains * n_draws, d): column 0 is the intercept when fit_intercept.
    Posterior predictive: mean over draws of sigmoid(A_new @ w).
    """
    engine = resolve_engine(engine, backend)
    X, y, pv, b, _ = check_inputs(X, y, prior_var=prior_var, beta=beta, n_for_beta=None, n_iter=max(int(n_draws), 8),
                                  burn_in=burn_in, n_chains=n_chains, target_stderr=None, max_iter=max(int(n_draws), 8))
    if int(n_draws) < 1:
        raise WBICError(f"n_draws must be a positive integer, got {n_draws!r}")
    seed = check_seed(seed, error=WBICError)
    A = design_matrix(X, fit_intercept)
    if engine == "numpy":
        return posterior_draws_reference(A, y, beta=b, prior_var=pv, n_draws=int(n_draws), burn_in=int(burn_in),
                                         n_chains=int(n_chains), seed=seed)
    out = core.wbic_posterior_draws(A, y, beta=b, prior_var=pv, n_draws=int(n_draws),
                                    burn_in=int(burn_in), n_chains=int(n_chains),
                                    seed=seed, threads=threads)
    return np.asarray(out).reshape(-1, A.shape[1])


# Names that lived here before the split (Pólya-Gamma sampler -> polyagamma.py): one release of
# deprecated access.
_MOVED = {"sample_polyagamma": "hea_fast.mixture.polyagamma", "pg_mean": "hea_fast.mixture.polyagamma",
          "pg_var": "hea_fast.mixture.polyagamma"}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        warnings.warn(f"hea_fast.mixture.wbic.{name} is deprecated; import it from {_MOVED[name]} instead",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'hea_fast.mixture.wbic' has no attribute {name!r}")
