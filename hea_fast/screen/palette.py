"""Element data prepared once per palette, not once per chunk.

Every chunk of a lattice screen draws on the same palette, so the descriptor kernel's element
inputs (`hea_fast.features.prepare`) and the Maresca–Curtin inputs are built once per (palette,
descriptors, table) and cached. Palettes where some element lacks data fall back to per-chunk
preparation (`featurize_chunk`), so chunks without that element still work, as
`featurize_array` does.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from hea_fast.composition import CompositionBatch

__all__ = ["descriptor_inputs", "featurize_chunk", "fused_inputs", "maresca_curtin_inputs"]


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)


@functools.lru_cache(maxsize=32)
def descriptor_inputs(elements: tuple, names: tuple, table: str):
    """(props, H, R, log offset, column indices) of the descriptors `names` over a whole palette,
    or None when some palette element lacks data a descriptor needs."""
    from hea_fast.elements import ElementDataError
    from hea_fast.features import DESCRIPTOR_INDEX, prepare, resolve

    try:
        _, resolved, tab = resolve(list(names), table)
        props, H = prepare(np.ones((1, len(elements))), elements, resolved, tab)
    except (ElementDataError, ValueError):
        return None
    _frozen(props, H)
    return props, H, tab.gas_constant, tab.log_offset, [DESCRIPTOR_INDEX[n] for n in resolved]


@functools.lru_cache(maxsize=32)
def fused_inputs(elements: tuple, names: tuple, table: str):
    """The palette half of the fused screening kernels' arguments (props, H, R, log offset, int32
    columns), or None unless every property and enthalpy is finite (the fused kernels have no
    per-row fallback for missing element data)."""
    fast = descriptor_inputs(elements, names, table)
    if fast is None or not all(np.isfinite(a).all() for a in fast[:2]):
        return None
    props, H, gas, log_offset, cols = fast
    cols = np.asarray(cols, dtype=np.int32)
    _frozen(cols)
    return props, H, gas, log_offset, cols


def featurize_chunk(batch: CompositionBatch, descriptors: Sequence[str] | None, table: str, threads):
    """The descriptor frame a scorer reads: None when it reads none (`descriptors == ()`), every
    descriptor when `descriptors` is None, else those columns, with the palette's element data
    prepared once (values bitwise those of `featurize_array` on the chunk)."""
    if descriptors == ():
        return None
    import pandas as pd

    from hea_fast.features import featurize, featurize_array

    if descriptors is None:
        return featurize(batch, table=table, threads=threads, errors="raise")
    names = list(descriptors)
    fast = descriptor_inputs(tuple(batch.elements), tuple(names), table)
    if fast is not None and len(batch.fractions):
        from hea_fast._backend import core

        props, H, gas, log_offset, cols = fast
        arr = core.descriptors(np.ascontiguousarray(batch.fractions, dtype=np.float64), props, H, gas, log_offset,
                               threads=threads, columns=cols)
    else:
        arr = featurize_array(batch, descriptors=names, table=table, threads=threads, errors="raise")
    return pd.DataFrame(arr, columns=names, copy=False)


@functools.lru_cache(maxsize=16)
def maresca_curtin_inputs(elements: tuple):
    """(V, C11, C12, C44) of a palette for the X-Yield grid kernel, or None when some element lacks
    them."""
    from hea_fast.xyield.maresca_curtin import element_inputs

    try:
        i = element_inputs(elements)
    except (KeyError, ValueError):
        return None
    arrays = tuple(np.ascontiguousarray(np.asarray(a, dtype=np.float64)) for a in (i.V, i.C11, i.C12, i.C44))
    if not all(np.isfinite(a).all() for a in arrays):
        return None
    _frozen(*arrays)
    return arrays
