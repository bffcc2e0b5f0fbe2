"""X-Yield: Maresca-Curtin simulation, pseudo-images and cross-quality transfer (Bi-RPT).

Public names load lazily (PEP 562): `import hea_fast.xyield` imports neither torch nor the
compiled core. Submodules: maresca_curtin (Maresca-Curtin 2020 yield, MPa/K), grid (X-Yield grid and
streaming reductions), pseudoimage ((n, 2, 9, 18) RPTR/PTR images), masked_l0 (fused smoothed-ℓ0
masked weights), cnn, sparsity and protocol (the Bi-RPT CNN, its masks and training protocols),
paper (the paper's methods and presets: Hand-Tune/IMP grids, Mix from scratch, validation-carved
selection), datasets (low/high-quality sets and the paper's splits).

maresca_curtin, grid, pseudoimage and datasets work with the core install (numpy, scipy, pandas);
masked_l0, cnn, sparsity, protocol and paper need torch and safetensors, the [xyield] extra: without it,
importing them raises an ImportError saying `pip install 'hea_fast[xyield]'`.
"""
from __future__ import annotations

from hea_fast._lazy import lazy_attributes

_LAZY = {
    "yield_strength": "hea_fast.xyield.maresca_curtin",
    "yield_strength_reference": "hea_fast.xyield.maresca_curtin",
    "tau_y0_and_dEb": "hea_fast.xyield.maresca_curtin",
    "tau_y0_and_dEb_reference": "hea_fast.xyield.maresca_curtin",
    "element_inputs": "hea_fast.xyield.maresca_curtin",
    "XYieldGrid": "hea_fast.xyield.grid",
    "simulate_grid": "hea_fast.xyield.grid",
    "pseudo_images": "hea_fast.xyield.pseudoimage",
    "pseudo_images_reference": "hea_fast.xyield.pseudoimage",
    "layout_cells": "hea_fast.xyield.pseudoimage",
    "XYieldSet": "hea_fast.xyield.datasets",
    "load_high_quality": "hea_fast.xyield.datasets",
    "load_low_quality": "hea_fast.xyield.datasets",
    "cv_folds": "hea_fast.xyield.datasets",
    "few_shot_split": "hea_fast.xyield.datasets",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
