"""Disentangled semi-supervised VAE for inverse design (Zeng, Khan & Post, arXiv 2409.06740).

model    `SSVAE`, `SSVAEConfig`, `load_released` (the authors' weights through a documented converter)
objective `step_terms` (the M2 objective batched over models), `Layout`, `pyro_loss` (Pyro's value)
training `train_models` (several seeds at once), `train` (one), `TrainConfig`, `train_pyro` (reference)
checkpoint the resumable run state (safetensors, atomic)
design   `screen`, `screen_proba`, `generate`, `nudge`, `Constraints` — the three inverse-design modes
explain  `exact_shapley` — exact Shapley values of the classifier head over its 8 descriptors
plots    PNG figures (ROC, latent space, SHAP summary, nudging trajectory)

Submodules import torch/Pyro lazily on attribute access so `import hea_fast.ssvae` stays cheap. They
need the [ssvae] extra (torch, pyro-ppl, safetensors): without it, the first public name accessed
raises an ImportError that says `pip install 'hea_fast[ssvae]'`.
"""
from __future__ import annotations

from hea_fast._extras import require
from hea_fast._lazy import lazy_attributes

_EXPORTS = {
    "SSVAE": "model", "SSVAEConfig": "model", "load_released": "model", "load_model": "model",
    "TrainConfig": "training", "train_models": "training", "train": "training", "train_pyro": "training",
    "screen": "design", "screen_proba": "design", "generate": "design", "nudge": "design",
    "Constraints": "design", "classifier_proba": "design", "exact_shapley": "explain", "exact_shapley_reference": "explain",
    "ssvae_head": "head", "ssvae_head_reference": "head",
}
__all__ = sorted(_EXPORTS)

_lazy_getattr, __dir__ = lazy_attributes(__name__, {k: f"hea_fast.ssvae.{v}" for k, v in _EXPORTS.items()})


def __getattr__(name: str):
    if name in _EXPORTS:
        require(("torch", "pyro", "safetensors"), "ssvae", "hea_fast.ssvae")
    return _lazy_getattr(name)
