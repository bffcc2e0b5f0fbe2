"""Composition + temperature -> two-channel 9x18 pseudo-images (X-Yield / Feng et al. 2021).

Feng et al., npj Comput. Mater. 7, 10 (2021) place each element's atomic fraction at its cell of a
9x18 periodic-table grid ("PTR") or of a fixed randomized permutation of it ("RPTR"); the X-Yield
benchmark (Chen et al., "cross-quality few-shot transfer for alloy yield strength", Bi-RPT) uses the
RPTR layout with a second channel for temperature:

    image[i, 0, r, c] = atomic fraction of the element whose cell is (r, c)      (= at.% / 100)
    image[i, 1, :, :] = (T_K - 273.15) / 2000                                      (T in kelvin)

Output: float32 array of shape (n, 2, 9, 18), C-contiguous (ready for `torch.from_numpy`).
The cells come from `hea_fast/data/xyield/layout_feng2021.csv` (see the README there).

The kernel (one name: pseudoimage): csrc/cpu/pseudoimage_cpu.cpp as `hea_fast._core.pseudo_images`
(threads over images; each image assembled in an L1-resident buffer and written once, with streaming
stores for outputs beyond the cache; cells are summed in float64 and rounded once; an (n, E) array of
amounts is read in place and normalised inside the kernel, bitwise as `hea_fast.composition.as_batch`
normalises), and its CUDA mirror in `hea_fast._cuda` (csrc/cuda/pseudoimage_cuda.cu;
`device="cuda"`, torch tensors in and out). `pseudo_images_reference`
is the vectorized NumPy reference (same arguments and result); tests/test_pseudoimage.py checks both
against a pixel-by-pixel construction, benchmarks/test_pseudoimage.py times the kernel against it.
"""
from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from hea_fast._backend import core, cuda_empty, cuda_module, cuda_stream, resolve_device, to_cuda
from hea_fast.composition import as_batch, row_amounts
from hea_fast.xyield._checks import per_composition

__all__ = [
    "LAYOUTS",
    "IMAGE_SHAPE",
    "T_OFFSET_K",
    "T_SCALE_K",
    "layout_table",
    "layout_cells",
    "pseudo_images",
    "pseudo_images_reference",
    "temperature_channel",
]

LAYOUTS = ("rptr", "ptr")
IMAGE_SHAPE = (2, 9, 18)
T_OFFSET_K = 273.15  # channel 1 = (T_K - T_OFFSET_K) / T_SCALE_K
T_SCALE_K = 2000.0


@functools.lru_cache(maxsize=1)
def layout_table():
    """The Feng et al. layout table as a DataFrame indexed by element symbol
    (columns Z, ptr_row, ptr_col, rptr_row, rptr_col; 0-based cells of the 9x18 grid)."""
    import pandas as pd

    with resources.files("hea_fast.data").joinpath("xyield/layout_feng2021.csv").open("r") as fh:
        df = pd.read_csv(fh, comment="#")
    return df.set_index("symbol")


def layout_cells(elements, layout: str = "rptr") -> np.ndarray:
    """(E, 2) int64 array of the (row, col) cell of each element in `layout` ('rptr' or 'ptr')."""
    layout = _check_layout(layout)
    tab = layout_table()
    missing = [e for e in elements if e not in tab.index]
    if missing:
        raise ValueError(f"element(s) {missing} have no cell in the Feng et al. 9x18 layout")
    rows = tab.loc[list(elements), f"{layout}_row"].to_numpy(np.int64)
    cols = tab.loc[list(elements), f"{layout}_col"].to_numpy(np.int64)
    return np.stack([rows, cols], axis=1)


def temperature_channel(temperature_K) -> np.ndarray:
    """Value of channel 1 for temperature(s) in kelvin: (T - 273.15) / 2000."""
    return (np.asarray(temperature_K, dtype=np.float64) - T_OFFSET_K) / T_SCALE_K


def _check_layout(layout: str) -> str:
    lay = str(layout).lower()
    if lay not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: use one of {LAYOUTS}")
    return lay


@functools.lru_cache(maxsize=64)
def _flat_cells(elements: tuple, layout: str) -> np.ndarray:
    """int32 flat cell index (row * 18 + col) of each element: the kernels' input (cached: the
    table lookup costs more than building a few thousand images; callers never write to it)."""
    cells = layout_cells(elements, layout)
    return np.ascontiguousarray(cells[:, 0] * 18 + cells[:, 1], dtype=np.int32)


def _prepare(compositions, temperature_K, layout, elements):
    layout = _check_layout(layout)
    batch = as_batch(compositions, elements=elements)
    t = per_composition("temperature_K", temperature_K, len(batch), 0.0, unit="K", lo_closed=True)
    return batch.fractions, t, _flat_cells(tuple(batch.elements), layout)


def pseudo_images(compositions, temperature_K, layout: str = "rptr", elements=None, threads=None,
                  device: str = "cpu"):
    """Pseudo-images of shape (n, 2, 9, 18), float32, from the C++ kernel.

    compositions: anything `hea_fast.composition.as_batch` accepts (CompositionBatch, formulas,
      dicts, DataFrame of element columns, or an (n, E) array of amounts with `elements=`).
      On `device="cuda"`, a CUDA torch tensor (n, E) float64/float32 of fractions with `elements=`.
    temperature_K: scalar or (n,) kelvin.
    layout: 'rptr' (X-Yield default) or 'ptr'.
    Returns a NumPy array (CPU) or a CUDA torch tensor (device='cuda').
    """
    if resolve_device(device) == "cuda":
        return _pseudo_images_cuda(compositions, temperature_K, _check_layout(layout), elements)
    if isinstance(compositions, np.ndarray) and compositions.ndim == 2 and compositions.dtype.kind in "fiu":
        # an (n, E) array of amounts: read in place, checked and normalised by the kernel (as as_batch
        # would, bitwise); a bad row is reported by as_batch's own message
        ra = row_amounts(compositions, elements)
        t = per_composition("temperature_K", temperature_K, ra.n_rows, 0.0, unit="K", lo_closed=True)
        flat = _flat_cells(tuple(ra.elements), _check_layout(layout))
        try:
            return core.pseudo_images(ra.array(), t, flat, threads=threads, normalize=True)
        except ValueError:
            as_batch(compositions, elements=elements)  # raises CompositionError naming the row and element
            raise
    frac, t, flat = _prepare(compositions, temperature_K, layout, elements)
    return core.pseudo_images(frac, t, flat, threads=threads)


def pseudo_images_reference(compositions, temperature_K, layout: str = "rptr", elements=None) -> np.ndarray:
    """`pseudo_images` in vectorized NumPy (same arguments and result, CPU only; the tests' reference)."""
    frac, t, flat = _prepare(compositions, temperature_K, layout, elements)
    n = frac.shape[0]
    img = np.zeros((n, 2, 162), dtype=np.float32)
    img[:, 0, flat] = frac  # one element per cell in both layouts; one rounding to float32, as in the kernel
    img[:, 1, :] = temperature_channel(t).astype(np.float32)[:, None]
    return img.reshape(n, *IMAGE_SHAPE)


def _pseudo_images_cuda(fractions, temperature_K, layout, elements):
    import torch

    if elements is None:
        raise ValueError("device='cuda' needs elements= naming the columns of the fractions tensor")
    if not (torch.is_tensor(fractions) and fractions.is_cuda):
        raise ValueError("device='cuda' expects a CUDA torch tensor of fractions (n, E)")
    frac = to_cuda(fractions, torch.float64, fractions.device)
    n, E = frac.shape
    if E != len(elements):
        raise ValueError(f"fractions tensor has {E} columns but {len(elements)} elements were named")
    t = to_cuda(temperature_K, torch.float64, frac.device).reshape(-1)
    if t.numel() == 1:  # a scalar temperature applies to every composition
        t = t.expand(n).contiguous()
    if t.shape[0] != n:
        raise ValueError(f"temperature_K has {t.shape[0]} values for {n} compositions (give a scalar or one per composition)")
    if not bool(torch.isfinite(t).all() and (t >= 0).all()):
        raise ValueError("temperature_K must be finite and >= 0 K")
    if not bool(torch.isfinite(frac).all() and (frac >= 0).all()):
        raise ValueError("fractions must be finite and >= 0")
    flat = to_cuda(_flat_cells(tuple(elements), layout), device=frac.device)
    out = cuda_empty((n, *IMAGE_SHAPE), torch.float32, frac.device)
    cuda_module().pseudo_images(frac.data_ptr(), t.data_ptr(), flat.data_ptr(), out.data_ptr(), n, E,
                                cuda_stream(frac.device))
    return out
