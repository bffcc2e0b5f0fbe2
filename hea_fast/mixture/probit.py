"""Mixture posterior predictive by MacKay's probit approximation (the screening fast path).

For a composition with standardized descriptors z, the anchor-guided mixture assigns the nearest
anchor c (Euclidean distance over the clustering columns, ties to the lower index) and, with
a = [1, z_sub] and the posterior mean μ_c and covariance Σ_c of that cluster's weights, returns

    p ≈ σ(aᵀμ_c / sqrt(1 + π aᵀΣ_c a / 8))      (MacKay 1992; Bishop, PRML eq. 4.153)

O(d²) per alloy instead of one sigmoid per posterior draw (the model's own `predict_proba` averages
over draws; tests/test_probit.py checks the two agree to 0.02). Rows with a non-finite standardized
descriptor (e.g. Λ = ΔS/δ² = inf for a pure element) get NaN.

Kernel `probit`: csrc/include/hea_fast/probit.h, csrc/cpu/probit_cpu.cpp, binding
csrc/bindings/core_probit.cpp (`core.mixture_probit`); tests/test_probit.py. The same row function
runs inside the fused screening kernels (`core.screen_mixture_topk`, CUDA `screen_mixture_scores`).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["ProbitModel", "mixture_probit", "mixture_probit_reference"]


class ProbitModel(NamedTuple):
    """The arrays of the predictive, in the kernel's argument order (`mixture_probit(X, *pm)`).

    mean, scale (d,): standardization of the d descriptor columns of X; cl (n_cl,) int64: the
    columns the anchors live on; anchors (K, n_cl): standardized anchor coordinates (zeros, unused,
    when K == 1); sub (n_sub,) int64: the selected columns; mu (K, 1 + n_sub) and
    cov (K, 1 + n_sub, 1 + n_sub): posterior mean and covariance of each cluster's weights,
    intercept first."""

    mean: np.ndarray
    scale: np.ndarray
    cl: np.ndarray
    anchors: np.ndarray
    sub: np.ndarray
    mu: np.ndarray
    cov: np.ndarray

    @classmethod
    def from_arrays(cls, mean, scale, cl: Sequence[int], anchors, sub: Sequence[int], mu, cov) -> "ProbitModel":
        """Contiguous float64 / int64 copies; `anchors=None` (one cluster) becomes zeros."""
        mu = np.ascontiguousarray(np.stack([np.asarray(m, dtype=np.float64) for m in mu]))
        K = mu.shape[0]
        cl = np.asarray(cl, dtype=np.int64)
        anchors = np.zeros((K, len(cl))) if anchors is None else np.asarray(anchors, dtype=np.float64)
        return cls(np.ascontiguousarray(mean, dtype=np.float64), np.ascontiguousarray(scale, dtype=np.float64),
                   cl, np.ascontiguousarray(anchors), np.asarray(sub, dtype=np.int64), mu,
                   np.ascontiguousarray(np.stack([np.asarray(c, dtype=np.float64) for c in cov])))

    @classmethod
    def from_classifier(cls, model) -> tuple[tuple[str, ...], "ProbitModel"]:
        """(descriptor names X must hold, in order; the predictive) of a fitted
        `SparseMixtureClassifier`: only the selected subset's descriptors (and the clustering
        columns when `cluster_on` is not "subset"), with the posterior moments of its draws."""
        names = list(getattr(model, "feature_names_in_", None) or ())
        sub = [int(j) for j in model.subset_]
        cl = sub if getattr(model, "cluster_on", "subset") == "subset" else list(range(len(names)))
        cols = sorted(set(sub) | set(cl))
        pos = {j: i for i, j in enumerate(cols)}
        anchors = np.asarray(model.anchors_z_, dtype=np.float64)
        draws = [np.asarray(D, dtype=np.float64) for D in model.coef_draws_]
        pm = cls.from_arrays(
            np.asarray(model.standardizer_.mean, dtype=np.float64)[cols],
            np.asarray(model.standardizer_.scale, dtype=np.float64)[cols],
            [pos[j] for j in cl],
            anchors[:, cl] if anchors.shape[0] > 1 else None,
            [pos[j] for j in sub],
            [D.mean(axis=0) for D in draws],
            [np.cov(D, rowvar=False) for D in draws],
        )
        return tuple(names[j] for j in cols), pm

    @classmethod
    def random(cls, rng: np.random.Generator, n_clusters: int, n_columns: int, cl: Sequence[int],
               sub: Sequence[int], X=None) -> "ProbitModel":
        """A random valid predictive (symmetric positive semi-definite covariances) for kernel
        parity tests and benchmarks. With a sample `X` (n, n_columns) of real descriptor values
        the standardization is centred on it (mean, std + 0.1 of the finite values) and the anchors
        redrawn, so probabilities spread over (0, 1)."""
        K, q = int(n_clusters), len(sub) + 1
        mean, scale = rng.normal(size=n_columns), rng.uniform(0.5, 2.0, size=n_columns)
        anchors = rng.normal(size=(K, len(cl))) if K > 1 else None
        mu = [rng.normal(size=q) for _ in range(K)]
        cov = []
        for _ in range(K):
            B = rng.normal(size=(q, q)) * 0.3
            cov.append(B @ B.T)
        if X is not None:
            v = np.asarray(X, dtype=np.float64)
            v = np.where(np.isfinite(v), v, np.nan)
            mean, scale = np.nanmean(v, axis=0), np.nanstd(v, axis=0) + 0.1
            if anchors is not None:
                anchors = rng.normal(size=(K, len(cl)))
        return cls.from_arrays(mean, scale, cl, anchors, sub, mu, cov)

    @property
    def n_clusters(self) -> int:
        return int(self.mu.shape[0])


def mixture_probit(X, mean, scale, cl, anchors, sub, mu, cov, threads=None) -> np.ndarray:
    """P(single phase) of each row of X (n, d) by the fused C++ kernel (`core.mixture_probit`);
    arguments as `ProbitModel` (call as ``mixture_probit(X, *pm)``). threads=None uses all cores;
    the result does not depend on it. Bad shapes or indices raise ValueError naming the array."""
    from hea_fast._backend import core

    return core.mixture_probit(np.ascontiguousarray(X, dtype=np.float64), mean, scale, cl, anchors, sub, mu, cov,
                               threads=threads)


def mixture_probit_reference(X, mean, scale, cl, anchors, sub, mu, cov) -> np.ndarray:
    """Float64 NumPy reference of `mixture_probit` (the `engine="numpy"` scorer), equal to it to
    rounding."""
    X = np.asarray(X, dtype=np.float64)
    Z = (X - mean) / scale
    ok = np.isfinite(Z).all(axis=1)  # e.g. Λ = ΔS/δ² is inf for a pure element: never kept
    Z = np.where(ok[:, None], Z, 0.0)
    K = len(mu)
    if K == 1:
        lab = np.zeros(Z.shape[0], dtype=np.int64)
    else:  # nearest anchor, ties to the lower index (as hea_fast.mixture.search.nearest_anchor)
        Zc = Z[:, cl]
        # einsum (no BLAS): with 2-4 columns a threaded GEMM is slower than a plain loop and
        # stalls when the cores are busy
        d2 = (anchors * anchors).sum(axis=1)[None, :] - 2.0 * np.einsum("ij,kj->ik", Zc, anchors)
        lab = np.argmin(d2, axis=1)
    A = np.hstack([np.ones((Z.shape[0], 1)), Z[:, sub]])
    p = np.full(Z.shape[0], np.nan)
    for c in range(K):
        sel = (lab == c) & ok
        if not sel.any():
            continue
        a = A[sel]
        m = np.einsum("ij,j->i", a, mu[c])
        var = np.einsum("ij,jk,ik->i", a, cov[c], a)
        p[sel] = 1.0 / (1.0 + np.exp(-m / np.sqrt(1.0 + np.pi * var / 8.0)))
    return p
