"""Composition spaces to screen: a simplex lattice over a palette (`CompositionSpace`, ranked and
unranked in C++ by `hea_fast.lattice`) or an explicit list of candidates (`ExplicitSpace`).

A space has `len(space)`, `decode(start, stop, threads=None) -> CompositionBatch` and a JSON-able
description (the checkpoint fingerprint). The lattice also decodes chosen ranks in one call
(`fractions_at`) and feeds the fused kernels straight from ranks.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from hea_fast.composition import CompositionBatch, as_batch

# the screening entry point the docs name: hea_fast.screen.CompositionSpace(elements, n_elements,
# step_percent, bounds, required, forbidden)
from hea_fast.lattice import CompositionSpace

__all__ = ["CompositionSpace", "DEFAULT_PALETTE", "ExplicitSpace", "HEA_MAX_FRACTION", "HEA_MIN_FRACTION", "describe",
           "hea_space"]

#: The 15 metals most used as principal elements of HEAs (3d transition metals, Al, and the
#: refractory 4d/5d metals of the Senkov alloys): the default palette of `hea-fast screen`.
DEFAULT_PALETTE = ("Al", "Co", "Cr", "Cu", "Fe", "Mn", "Ni", "Ti", "V", "Zr", "Nb", "Mo", "Hf", "Ta", "W")

#: The usual definition of a high-entropy alloy: every element present between 5 and 35 at.%
#: (the default bounds of `hea-fast screen` and of `hea_space`).
HEA_MIN_FRACTION = 0.05
HEA_MAX_FRACTION = 0.35


def hea_space(elements=DEFAULT_PALETTE, n_elements=5, step_percent=5.0, min_fraction: float = HEA_MIN_FRACTION,
              max_fraction: float = HEA_MAX_FRACTION, **kwargs) -> CompositionSpace:
    """A `CompositionSpace` of high-entropy alloys: every element present between `min_fraction`
    and `max_fraction` (default 5-35 at.%, the usual definition). `kwargs`: bounds, required,
    forbidden of `CompositionSpace` (a per-element bound replaces the 5-35 range for its element).
    `CompositionSpace` itself applies no bounds unless given."""
    return CompositionSpace(elements, n_elements, step_percent, min_fraction=min_fraction,
                            max_fraction=max_fraction, **kwargs)


class ExplicitSpace:
    """A given list of candidate compositions (anything `hea_fast.composition.as_batch` accepts:
    formulas, dicts, a DataFrame, a CompositionBatch)."""

    def __init__(self, compositions: Any):
        self.batch = as_batch(compositions)
        self.elements = tuple(self.batch.elements)

    def __len__(self) -> int:
        return len(self.batch)

    def decode(self, start: int, stop: int, threads: int | None = None) -> CompositionBatch:
        return self.batch[start:stop]

    def describe(self) -> dict:
        digest = hashlib.sha1(np.ascontiguousarray(self.batch.fractions).tobytes()).hexdigest()
        return {"kind": "explicit", "elements": list(self.elements), "size": len(self), "sha1": digest}


def describe(space) -> dict:
    """A JSON-able description of `space` (reported with the result, fingerprinted by checkpoints)."""
    if hasattr(space, "spec"):
        return {"kind": "lattice", **space.spec()}
    if hasattr(space, "describe"):
        return space.describe()
    return {"kind": type(space).__name__, "size": len(space)}


def native_lattice(space: CompositionSpace):
    """The compiled `core.LatticeSpace` behind a lattice space (what the fused kernels take)."""
    return space.core_space


def device_lattice(space: CompositionSpace):
    """The lattice uploaded to the current GPU (built lazily by `hea_fast.lattice`)."""
    return space.device_space()
