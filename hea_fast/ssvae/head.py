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

Every function takes either an `SSVAE` (torch) or an `SSVAEHead`: the head's parameters read from a
saved model without torch (`load_head`: ``model.safetensors`` through safetensors' NumPy reader, or
the authors' npz), bit for bit the arrays `head_arrays` takes from the loaded torch model
(tests/test_ssvae_head.py). `hea-fast ssvae explain` uses it, so explaining does not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hea_fast._backend import core

__all__ = ["SSVAEHead", "head_arrays", "load_head", "ssvae_head", "ssvae_head_coalitions", "ssvae_head_reference"]

OUTPUTS = ("probability", "logit")
DTYPES = ("float32", "float64")

#: The bundled project-trained model (the directory `hea_fast.ssvae.model.load_model` reads).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "models" / "ssvae_default"
#: The authors' released weights in the data home (as `hea_fast.ssvae.model.RELEASED_WEIGHTS`).
RELEASED_WEIGHTS = ("dvae_hea_zeng2024_model", "ssvae_released_state_dict.npz")
#: The released classifier head's Linear layers (the Pyro-example MLP's odd indices).
RELEASED_HEAD_KEYS = ("encoder_y.sequential_mlp.1", "encoder_y.sequential_mlp.3", "encoder_y.sequential_mlp.5")


@dataclass(frozen=True)
class HeadConfig:
    elements: tuple  # the model's composition elements (at.% inputs of its encoder/decoder)
    features: tuple  # the head's descriptor inputs, in order


@dataclass
class SSVAEHead:
    """The classifier head of a saved SSVAE as float64 arrays, without torch: weights[l] (out, in) and
    biases[l] per Linear layer (float64 copies of the float32 parameters), mean/std of the input
    standardisation (None: raw descriptors, the authors' legacy models)."""

    config: HeadConfig
    weights: tuple
    biases: tuple
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    training_info: dict | None = None
    source: str = ""  # the file it was read from


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32).astype(np.float64))


def _head_from_arrays(arrays: dict, keys, sizes, features, elements, scaled: bool, source,
                      training_info=None) -> SSVAEHead:
    """The head from a name -> array mapping: Linear layer l is ``keys[l].weight`` (sizes[l+1],
    sizes[l]) and ``keys[l].bias``; the standardisation buffers when `scaled`."""
    F = len(features)
    weights, biases = [], []
    for layer, key in enumerate(keys):
        for leaf in ("weight", "bias"):
            if f"{key}.{leaf}" not in arrays:
                raise ValueError(f"{source}: the classifier head's {key}.{leaf} is missing")
        W, b = _f64(arrays[f"{key}.weight"]), _f64(arrays[f"{key}.bias"])
        want = (sizes[layer + 1], sizes[layer])
        if W.shape != want or b.shape != want[:1]:
            raise ValueError(f"{source}: {key} has weight {W.shape} and bias {b.shape}; the config needs {want} "
                             f"and ({want[0]},)")
        weights.append(W)
        biases.append(b)
    mean = std = None
    if scaled:
        if "feature_mean" not in arrays or "feature_std" not in arrays:
            raise ValueError(f"{source}: the model standardises its inputs but feature_mean/feature_std are missing")
        mean, std = _f64(arrays["feature_mean"]), _f64(arrays["feature_std"])
        if mean.shape != (F,) or std.shape != (F,):
            raise ValueError(f"{source}: feature_mean/feature_std have shapes {mean.shape}/{std.shape}, expected ({F},)")
    return SSVAEHead(HeadConfig(tuple(elements), tuple(features)), tuple(weights), tuple(biases), mean, std,
                     training_info, str(source))


def _read_saved_head(directory: Path) -> SSVAEHead:
    """The head of a directory written by `SSVAE.save` (config.json + model.safetensors)."""
    from hea_fast._io import read_json

    cfg_path, weights = directory / "config.json", directory / "model.safetensors"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found: not a saved SSVAE directory")
    meta = read_json(cfg_path, what="SSVAE config")
    if not isinstance(meta, dict) or meta.get("format") != "hea_fast.ssvae" or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{cfg_path}: not an SSVAE config (format 'hea_fast.ssvae' with a 'config' section)")
    cfg = meta["config"]
    try:
        features, elements, hidden = tuple(cfg["features"]), tuple(cfg["elements"]), [int(h) for h in cfg["hidden"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{cfg_path}: invalid model config ({type(exc).__name__}: {exc})") from None
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: the saved SSVAE in {directory} has no weights")
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error type for a corrupt file
        raise ValueError(f"{weights}: not a readable safetensors file ({exc})") from None
    keys = [f"encoder_y.linears.{layer}" for layer in range(len(hidden) + 1)]
    return _head_from_arrays(arrays, keys, [len(features), *hidden, 1], features, elements,
                             bool(cfg.get("feature_mean")), weights, meta.get("training"))


def _read_released_head(path=None) -> SSVAEHead:
    """The head of the authors' released weights (npz; raw descriptors, as `load_released`)."""
    from hea_fast.datasets import DVAE_ELEMENTS, DVAE_FEATURES, fetch

    path = Path(fetch(*RELEASED_WEIGHTS) if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the d-VAE released weights (npz) are not there")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k.startswith("encoder_y.")}
    hidden = [arrays[f"{k}.weight"].shape[0] if f"{k}.weight" in arrays else 0 for k in RELEASED_HEAD_KEYS[:-1]]
    sizes = [len(DVAE_FEATURES), *hidden, 1]
    return _head_from_arrays(arrays, RELEASED_HEAD_KEYS, sizes, DVAE_FEATURES, DVAE_ELEMENTS, False, path)


def load_head(spec=None) -> SSVAEHead:
    """The classifier head of a saved SSVAE, read without torch; `spec` as `hea_fast.ssvae.load_model`:
    ``"default"`` (or None, or ``"ssvae"``) the bundled model, ``"released"`` the authors' weights from
    the data home, otherwise a directory written by `SSVAE.save`. Only the head's tensors are read and
    checked (shapes against config.json); errors name the file."""
    name = "default" if spec is None else str(spec)
    if name == "released":
        return _read_released_head()
    if name in ("default", "ssvae"):
        if not (DEFAULT_MODEL_DIR / "config.json").is_file():
            raise FileNotFoundError(f"the bundled default SSVAE is missing: {DEFAULT_MODEL_DIR / 'config.json'} not "
                                    "found (a broken installation; reinstall hea_fast)")
        return _read_saved_head(DEFAULT_MODEL_DIR)
    path = Path(spec)
    if not path.is_dir():
        raise FileNotFoundError(f"SSVAE model {str(spec)!r}: {path} is not a directory written by SSVAE.save "
                                "(or use one of the names 'default', 'ssvae', 'released')")
    return _read_saved_head(path)


def head_arrays(model) -> dict:
    """The head's parameters as the kernel takes them: weights (out, in) and biases per Linear layer
    as float64 copies of the model's parameters, and mean/std (None when the model reads raw
    descriptors). For an `SSVAE`, read from its public attributes (``encoder_y.linears``,
    ``feature_mean``, ``feature_std``, ``config.feature_mean``) at each call, so a model trained
    further is seen; for an `SSVAEHead`, its arrays."""
    if isinstance(model, SSVAEHead):
        return {"weights": list(model.weights), "biases": list(model.biases), "mean": model.mean, "std": model.std}
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
                          threads=None, weights=None) -> np.ndarray:
    """v[i, S] = mean over background rows b of f(z), z_j = x[i, j] where bit j of S is set, else
    b_j: (n, 2^F) float64, every coalition of the F features (finite inputs; F <= 20). weights (m,):
    the weighted mean Σ_b w_b f / Σ_b w_b instead (finite, >= 0, positive sum). Each f(z) is bitwise
    `ssvae_head(model, z)`; results do not depend on `threads`."""
    _check(output, dtype)
    x, bg = _rows(model, x, "x"), _rows(model, background, "background")
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    return core.ssvae_head_coalitions(x, bg, **head_arrays(model), output=output, dtype=dtype, threads=threads,
                                      background_weights=w)


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
