"""Exact Shapley values of the SSVAE classifier head q(φ=1 | e) over its 8 descriptors.

Interventional (marginal) Shapley values (Lundberg & Lee 2017; Janzing et al. 2020), as SHAP's
KernelExplainer / ExactExplainer compute them with an independent background: for a row x and a
coalition S ⊆ {1..F},

    v(S) = (1/|B|) Σ_{b ∈ B} f(x_S, b_{S̄})          (B = background rows, e.g. the training set)
    φ_i  = Σ_{S ⊆ F∖{i}} |S|! (F−|S|−1)! / F! · [v(S ∪ {i}) − v(S)]

With F = 8 all 2⁸ = 256 coalitions are evaluated exactly (no sampling): explaining the 138 test
alloys against the 864 labelled rows is 30 M forward passes of the 8 → 100 → 100 → 1 head. They run
in the C++ head kernel (`hea_fast.ssvae.head.ssvae_head_coalitions`: per alloy and block of 16
background rows, all coalitions in a register-tiled forward pass, float32 like the torch model,
layer 0's pre-activations sharing their prefixes across coalitions, means summed in float64), with
no torch call and no large temporary. `exact_shapley_reference` is the previous implementation
(torch forward passes in chunks of ≈ 2 M inputs), kept as the like-for-like reference. The values add up exactly: Σ_i φ_i = f(x) − E_B[f] (efficiency), checked in
tests/test_ssvae_explain.py along with a permutation-average reference, the authors'-weights golden
file, shap's KernelExplainer and the reference (float64 runs of both agree to float64 rounding).

`f` is the probability (default) or the logit of single phase; inputs are raw descriptors (the model
standardises internally when it was trained that way). The model may be the torch `SSVAE` or the
torch-free `hea_fast.ssvae.head.SSVAEHead` (this module imports torch only for the reference path).

A weighted background (`weights`) replaces the mean over background rows by a weighted mean;
`summarize_background` gives k-means medoids weighted by cluster size, the default background of
`hea-fast ssvae explain` (200 medoids for the 864 labelled rows, ≈ 4× less work; the measured
deviation from the whole background is in that command's help).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

from hea_fast.ssvae.head import ssvae_head_coalitions

__all__ = ["ShapleyResult", "coalition_values", "coalition_weights", "exact_shapley", "exact_shapley_reference",
           "summarize_background"]


@dataclass
class ShapleyResult:
    values: np.ndarray  # (n, F) attributions
    base_value: float  # E_B[f]
    prediction: np.ndarray  # (n,) f(x)
    features: tuple

    def to_frame(self, index=None):
        import pandas as pd

        df = pd.DataFrame(self.values, columns=[f"phi_{f}" for f in self.features], index=index)
        df.insert(0, "f", self.prediction)
        return df


def coalition_weights(F: int) -> np.ndarray:
    """(2^F, F) matrix W with φ = v @ W, v the (n, 2^F) coalition values (bit j of the column index
    = feature j present)."""
    if not 1 <= F <= 20:
        raise ValueError(f"exact Shapley needs 1 <= number of features <= 20, got {F}")
    masks = np.arange(2**F)
    bits = (masks[:, None] >> np.arange(F)) & 1
    size = bits.sum(1)
    W = np.zeros((2**F, F))
    for i in range(F):
        without = bits[:, i] == 0
        s = size[without]
        w = np.array([factorial(k) * factorial(F - k - 1) / factorial(F) for k in range(F)])[s]
        W[masks[without], i] -= w
        W[masks[without] | (1 << i), i] += w
    return W


def _head(model, output: str):
    if output == "probability":
        return lambda e: model.classifier_prob(e)[..., 0]
    if output == "logit":
        return lambda e: model.classifier_logit(e)[..., 0]
    raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")


def coalition_values(f, x: np.ndarray, background: np.ndarray, chunk: int = 2_000_000, dtype=np.float32) -> np.ndarray:
    """v(S) for every row of x and every coalition S: (n, 2^F), averaged over the background rows,
    by torch calls of f (the reference path of `exact_shapley_reference`). f maps a tensor (..., F)
    of `dtype` to (...). Work is split so one batch holds ≈ `chunk` inputs."""
    import torch

    x = np.asarray(x, dtype)
    bg = torch.from_numpy(np.ascontiguousarray(background, dtype))
    n, F = x.shape
    M = 2**F
    masks = torch.from_numpy(((np.arange(M)[:, None] >> np.arange(F)) & 1).astype(bool))  # (M, F)
    out = np.empty((n, M))
    per_mask = max(1, chunk // max(1, len(bg)))
    # Far-off coalitions drive hidden units to −300; softplus then meets denormal exp() values, which
    # are ~5× slower on x86. Flushing them to zero changes f by < 1e-38.
    torch.set_flush_denormal(True)
    try:
        with torch.no_grad():
            for r in range(n):
                xr = torch.from_numpy(x[r])
                for a in range(0, M, per_mask):
                    mk = masks[a : a + per_mask, None, :]  # (m, 1, F)
                    inp = torch.where(mk, xr, bg[None])  # (m, |B|, F)
                    out[r, a : a + per_mask] = f(inp).double().mean(1).numpy()
    finally:
        torch.set_flush_denormal(False)
    return out


def _checked(model, e, background, output: str):
    if output not in ("probability", "logit"):
        raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")
    e = np.atleast_2d(np.asarray(e, np.float64))
    bg = np.atleast_2d(np.asarray(background, np.float64))
    F = len(model.config.features)
    for name, a in (("e", e), ("background", bg)):
        if a.ndim != 2 or a.shape[1] != F:
            raise ValueError(f"{name} has {a.shape[-1]} columns; the model has {F} features {model.config.features}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds non-finite values (row {int(np.flatnonzero(~np.isfinite(a).all(1))[0])})")
    if len(bg) == 0:
        raise ValueError("background is empty")
    return e, bg, F


def _result(model, v: np.ndarray, F: int, base=None) -> ShapleyResult:
    """From the coalition values v (n, 2^F); `base` = E_B[f] (v[:, 0] of any row) when v has no rows."""
    phi = v @ coalition_weights(F)
    return ShapleyResult(phi, float(v[0, 0]) if len(v) else float(base), v[:, -1], tuple(model.config.features))


def exact_shapley(model, e, background, output: str = "probability", dtype: str = "float32",
                  threads=None, weights=None) -> ShapleyResult:
    """Exact interventional Shapley values of the classifier head for descriptor rows e (n, F) (raw,
    in the model's feature order) against background rows (m, F), e.g. the training set.

    model: an `SSVAE` or the torch-free `hea_fast.ssvae.head.SSVAEHead`. weights (m,): a weighted
    background (v(S) = Σ_b w_b f(x_S, b_S̄) / Σ_b w_b), e.g. the cluster sizes of
    `summarize_background`. The n · 2^F · m forward passes run in the C++ head kernel; dtype
    "float32" computes as the torch model does, "float64" in double precision. threads: None = all
    cores (results do not depend on it)."""
    e, bg, F = _checked(model, e, background, output)
    if len(e) == 0:  # no row to explain; the base value E_B[f] (empty coalition) is still defined
        v0 = ssvae_head_coalitions(model, bg[:1], bg, output=output, dtype=dtype, threads=threads, weights=weights)
        return _result(model, np.empty((0, 2**F)), F, base=v0[0, 0])
    v = ssvae_head_coalitions(model, e, bg, output=output, dtype=dtype, threads=threads, weights=weights)
    return _result(model, v, F)


def summarize_background(background, size: int, seed: int = 0, max_iter: int = 300):
    """(rows, weights): `size` rows standing for the background in exact Shapley values, the medoids
    of a k-means clustering of the standardised rows (greedy k-means++ start drawn with `seed`, then
    Lloyd iterations to convergence or `max_iter`), each weighted by its cluster's size (the weights sum
    to m). The medoid of a cluster is its member nearest the centroid, so every row is a real
    background row. Shapley values are linear in v(S) = mean_b f(x_S, b_S̄); replacing the mean over
    m rows by the weighted mean over the medoids is SHAP's background summarising (shap.kmeans uses
    the centroids), here with real rows. `size >= m` returns the background with unit weights.
    The error against the whole background is measured, not bounded: see `hea-fast ssvae explain
    --help` (README) for the bundled and released models on the d-VAE test alloys."""
    X = np.atleast_2d(np.asarray(background, dtype=np.float64))
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"background summary size must be a positive integer, got {size!r}")
    m = len(X)
    if m == 0:
        raise ValueError("background is empty")
    if not np.isfinite(X).all():
        raise ValueError("background holds non-finite values")
    if size >= m:
        return X.copy(), np.ones(m)
    sd = X.std(0)
    Z = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    rng = np.random.default_rng(seed)
    centres = [Z[rng.integers(m)]]
    d2 = ((Z - centres[0]) ** 2).sum(1)
    trials = 2 + int(np.log(size))
    for _ in range(1, size):
        # greedy k-means++ (as scikit-learn's KMeans): `trials` candidates drawn with probability ∝
        # squared distance to the nearest centre; the one that lowers the total the most is kept
        cdf = np.cumsum(d2)
        if cdf[-1] <= 0:  # fewer distinct rows than `size`
            break
        pick = np.minimum(np.searchsorted(cdf, rng.random(trials) * cdf[-1], side="right"), m - 1)
        cand = np.minimum(d2[None, :], ((Z[None, :, :] - Z[pick][:, None, :]) ** 2).sum(2))
        best = int(np.argmin(cand.sum(1)))
        centres.append(Z[pick[best]])
        d2 = cand[best]
    C = np.array(centres)

    def nearest(C):  # squared distances by einsum's own loops: no BLAS threads for an (m, k, F) product
        return np.argmin((C**2).sum(1)[None, :] - 2.0 * np.einsum("ij,kj->ik", Z, C), axis=1)

    for _ in range(max_iter):
        label = nearest(C)
        counts = np.bincount(label, minlength=len(C))
        sums = np.stack([np.bincount(label, weights=Z[:, j], minlength=len(C)) for j in range(Z.shape[1])], axis=1)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], C)
        if np.array_equal(new, C):
            break
        C = new
    label = nearest(C)
    dist = ((Z - C[label]) ** 2).sum(1)
    by_cluster = np.lexsort((np.arange(m), dist, label))  # per cluster: nearest first (ties: first row)
    first = by_cluster[np.r_[True, label[by_cluster][1:] != label[by_cluster][:-1]]]
    rows = np.sort(first)  # the medoids in background order
    return X[rows], np.bincount(label, minlength=len(C))[label[rows]].astype(np.float64)


def exact_shapley_reference(model, e, background, output: str = "probability", chunk: int = 2_000_000,
                            dtype: str = "float32") -> ShapleyResult:
    """The previous `exact_shapley`: torch forward passes of the model over every (row, coalition,
    background) input in batches of ≈ `chunk` inputs. dtype "float64" runs a float64 copy of the
    model on float64 inputs (the like-for-like reference of `exact_shapley(dtype="float64")`)."""
    import copy

    e, bg, F = _checked(model, e, background, output)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if dtype == "float64":
        model = copy.deepcopy(model).double()
    f = _head(model, output)
    v = coalition_values(f, e if len(e) else bg[:1], bg, chunk, dtype=np.float64 if dtype == "float64" else np.float32)
    return _result(model, v[: len(e)], F, base=v[0, 0])
