"""The SSVAE classifier head q(φ=1 | e) in C++ (kernel ``ssvae_head``, csrc/cpu/ssvae_head_cpu.cpp).

The head is ``model.encoder_y``: Linear/Softplus layers F → 100 → 100 → 1 on the 8 ``zeng2024``
descriptors, standardised as (e − mean) / std when the model was trained that way (raw for the
authors' legacy weights), then a sigmoid:

    f(e) = σ(W₃ s(W₂ s(W₁ ẽ + b₁) + b₂) + b₃),   s = Softplus (torch: x above 20 passes through)

The kernel evaluates it over blocks of rows with register-tiled SIMD loops in float32 (the torch
model's precision; the default) or float64, for three drivers:

* `ssvae_head(model, e)`: descriptor rows → P(single phase) (or the logit);
* `ssvae_head_coalitions(model, x, background)`: v(S) = mean_b f(x_S, b_S̄) for all 2^F coalitions,
  the value function of `hea_fast.ssvae.explain.exact_shapley`;
* ``core.ssvae_head_lattice``: lattice ranks → descriptors → head without decoding, which
  `hea_fast.screen.SSVAEScorer` uses on a `CompositionSpace`.

`ssvae_head_reference` is the float64 NumPy forward pass (the tests' reference). float32 results
agree with the torch model (`SSVAE.classifier_prob`) to float32 rounding; float64 results with the
reference to float64 rounding (tests/test_ssvae_head.py). No CUDA version: on a GPU the torch
model itself is the fast path.
"""
from __future__ import annotations

import numpy as np

from hea_fast._backend import core

__all__ = ["head_arrays", "ssvae_head", "ssvae_head_coalitions", "ssvae_head_reference"]

OUTPUTS = ("probability", "logit")
DTYPES = ("float32", "float64")


def head_arrays(model) -> dict:
    """The head's parameters as the kernel takes them: weights (out, in) and biases per Linear layer
    as float64 copies of the model's parameters, and mean/std (None when the model reads raw
    descriptors). Read from the model's public attributes (``encoder_y.linears``, ``feature_mean``,
    ``feature_std``, ``config.feature_mean``) at each call, so a model trained further is seen."""
    lins = model.encoder_y.linears
    weights = [np.ascontiguousarray(lin.weight.detach().cpu().double().numpy()) for lin in lins]
    biases = [np.ascontiguousarray(lin.bias.detach().cpu().double().numpy()) for lin in lins]
    if model.config.feature_mean:
        mean = np.ascontiguousarray(model.feature_mean.detach().cpu().double().numpy())
        std = np.ascontiguousarray(model.feature_std.detach().cpu().double().numpy())
    else:
        mean = std = None
    return {"weights": weights, "biases": biases, "mean": mean, "std": std}


def _check(output, dtype):
    if output not in OUTPUTS:
        raise ValueError(f"output must be 'probability' or 'logit', got {output!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


def _rows(model, a, name) -> np.ndarray:
    a = np.ascontiguousarray(np.atleast_2d(np.asarray(a, dtype=np.float64)))
    F = len(model.config.features)
    if a.ndim != 2 or a.shape[1] != F:
        raise ValueError(f"{name} has shape {a.shape}; the model has {F} features {tuple(model.config.features)}")
    return a


def ssvae_head(model, e, output: str = "probability", dtype: str = "float32", threads=None) -> np.ndarray:
    """P(single phase) (or its logit) of raw descriptor rows e (n, F) in the model's feature order,
    (n,) float64; NaN for a row with a non-finite value."""
    _check(output, dtype)
    e = _rows(model, e, "e")
    return core.ssvae_head(e, **head_arrays(model), output=output, dtype=dtype, threads=threads)


def ssvae_head_coalitions(model, x, background, output: str = "probability", dtype: str = "float32",
                          threads=None) -> np.ndarray:
    """v[i, S] = mean over background rows b of f(z), z_j = x[i, j] where bit j of S is set, else
    b_j: (n, 2^F) float64, every coalition of the F features (finite inputs; F <= 20)."""
    _check(output, dtype)
    x, bg = _rows(model, x, "x"), _rows(model, background, "background")
    return core.ssvae_head_coalitions(x, bg, **head_arrays(model), output=output, dtype=dtype, threads=threads)


def ssvae_head_reference(model, e, output: str = "probability") -> np.ndarray:
    """`ssvae_head` as a float64 NumPy forward pass of the model's float32 parameters."""
    _check(output, "float64")
    a = head_arrays(model)
    h = _rows(model, e, "e")
    if a["mean"] is not None:
        h = (h - a["mean"]) / a["std"]
    n_layers = len(a["weights"])
    for i, (W, b) in enumerate(zip(a["weights"], a["biases"])):
        h = h @ W.T + b
        if i < n_layers - 1:
            h = np.where(h > 20.0, h, np.log1p(np.exp(np.minimum(h, 20.0))))  # torch Softplus, threshold 20
    z = h[:, 0]
    return z if output == "logit" else 1.0 / (1.0 + np.exp(-z))
