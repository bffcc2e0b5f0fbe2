"""MCMC chain summaries for the WBIC estimators (NumPy side; the compiled core computes the same).

* `batch_means_stderr`: Monte Carlo standard error of the grand mean of chains x iterations by
  batch means (16 batches per chain, pooled over chains; Flegal & Jones 2010).
* `split_rhat`: split R-hat (Gelman et al., BDA3, Eq. 11.4): each chain cut in halves, then
  sqrt(var_plus / W) with W the mean within-half variance and var_plus = (h-1)/h W + B/h.
"""
from __future__ import annotations

import numpy as np

__all__ = ["N_BATCHES", "batch_means_stderr", "split_rhat"]

N_BATCHES = 16  # batch means per chain for the Monte Carlo standard error


def batch_means_stderr(z: np.ndarray) -> float:
    """Pooled batch-means standard error of the grand mean of z (chains x iterations)."""
    C, T = z.shape
    nb = min(N_BATCHES, T)
    L = T // nb
    bm = z[:, : nb * L].reshape(C, nb, L).mean(axis=2).ravel()
    m = bm.size
    return float(np.sqrt(bm.var(ddof=1) / m)) if m > 1 else float("nan")


def split_rhat(x: np.ndarray) -> float:
    """Split R-hat (BDA3 Eq. 11.4) over chains x iterations (NaN with fewer than 4 iterations)."""
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
