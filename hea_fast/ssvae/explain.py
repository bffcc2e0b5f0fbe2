"""Exact Shapley values of the SSVAE classifier head q(φ=1 | e) over its 8 descriptors.

Interventional (marginal) Shapley values (Lundberg & Lee 2017; Janzing et al. 2020), as SHAP's
KernelExplainer / ExactExplainer compute them with an independent background: for a row x and a
coalition S ⊆ {1..F},

    v(S) = (1/|B|) Σ_{b ∈ B} f(x_S, b_{S̄})          (B = background rows, e.g. the training set)
    φ_i  = Σ_{S ⊆ F∖{i}} |S|! (F−|S|−1)! / F! · [v(S ∪ {i}) − v(S)]

With F = 8 all 2⁸ = 256 coalitions are evaluated exactly (no sampling): every (row, coalition,
background) input is pushed through the network in large batches, so explaining the 138 test alloys
against the 864 labelled rows is 30 M small forward passes. The values add up exactly:
Σ_i φ_i = f(x) − E_B[f] (efficiency), checked in tests/test_ssvae_explain.py along with a
permutation-average reference, the authors'-weights golden file and shap's KernelExplainer.

`f` is the probability (default) or the logit of single phase; inputs are raw descriptors (the model
standardises internally when it was trained that way).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
import torch

from hea_fast.ssvae.model import SSVAE


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


def _head(model: SSVAE, output: str):
    if output == "probability":
        return lambda e: model.classifier_prob(e)[..., 0]
    if output == "logit":
        return lambda e: model.classifier_logit(e)[..., 0]
    raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")


def coalition_values(f, x: np.ndarray, background: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """v(S) for every row of x and every coalition S: (n, 2^F), averaged over the background rows.
    f maps a float32 tensor (..., F) to (...). Work is split so one batch holds ≈ `chunk` inputs."""
    x = np.asarray(x, np.float32)
    bg = torch.from_numpy(np.ascontiguousarray(background, np.float32))
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


def exact_shapley(model: SSVAE, e, background, output: str = "probability", chunk: int = 2_000_000) -> ShapleyResult:
    """Exact interventional Shapley values of the classifier head for descriptor rows e (n, F) (raw,
    in the model's feature order) against background rows (m, F), e.g. the training set."""
    e = np.atleast_2d(np.asarray(e, np.float64))
    bg = np.atleast_2d(np.asarray(background, np.float64))
    F = len(model.config.features)
    for name, a in (("e", e), ("background", bg)):
        if a.shape[1] != F:
            raise ValueError(f"{name} has {a.shape[1]} columns; the model has {F} features {model.config.features}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds non-finite values (row {int(np.flatnonzero(~np.isfinite(a).all(1))[0])})")
    if len(bg) == 0:
        raise ValueError("background is empty")
    f = _head(model, output)
    v = coalition_values(f, e, bg, chunk)
    phi = v @ coalition_weights(F)
    return ShapleyResult(phi, float(v[0, 0]) if len(v) else float("nan"), v[:, -1], tuple(model.config.features))
