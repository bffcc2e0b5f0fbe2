"""X-Yield: Maresca-Curtin simulation, pseudo-images and cross-quality transfer (Bi-RPT).

Public names load lazily (PEP 562): `import hea_fast.xyield` imports neither torch nor the
compiled core. Submodules: simulate (Maresca-Curtin 2020 yield, MPa/K), grid (X-Yield grid and
streaming reductions), pseudoimage ((n, 2, 9, 18) RPTR/PTR images), datasets (low/high-quality sets
and the paper's splits).
"""
from __future__ import annotations

import importlib

_LAZY = {
    "yield_strength": "hea_fast.xyield.simulate",
    "tau_y0_and_dEb": "hea_fast.xyield.simulate",
    "element_inputs": "hea_fast.xyield.simulate",
    "XYieldGrid": "hea_fast.xyield.grid",
    "simulate_grid": "hea_fast.xyield.grid",
    "pseudo_images": "hea_fast.xyield.pseudoimage",
    "layout_cells": "hea_fast.xyield.pseudoimage",
    "XYieldSet": "hea_fast.xyield.datasets",
    "load_high_quality": "hea_fast.xyield.datasets",
    "load_low_quality": "hea_fast.xyield.datasets",
    "cv_folds": "hea_fast.xyield.datasets",
    "few_shot_split": "hea_fast.xyield.datasets",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'hea_fast.xyield' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(__all__) | set(globals()))
