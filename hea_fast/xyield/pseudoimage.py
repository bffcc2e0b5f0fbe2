"""Composition + temperature -> two-channel 9x18 pseudo-images (X-Yield / Feng et al. 2021).

Feng et al., npj Comput. Mater. 7, 10 (2021) place each element's atomic fraction at its cell of a
9x18 periodic-table grid ("PTR") or of a fixed randomized permutation of it ("RPTR"); the X-Yield
benchmark (Chen et al., "cross-quality few-shot transfer for alloy yield strength", Bi-RPT) uses the
RPTR layout with a second channel for temperature:

    image[i, 0, r, c] = atomic fraction of the element whose cell is (r, c)      (= at.% / 100)
    image[i, 1, :, :] = (T_K - 273.15) / 2000                                      (T in kelvin)

Output: float32 array of shape (n, 2, 9, 18), C-contiguous (ready for `torch.from_numpy`).
The cells come from `hea_fast/data/xyield/layout_feng2021.csv` (see the README there).

The image is built by the C++ kernel `hea_fast._core.pseudo_images` when it is compiled in, or on
the GPU (`device="cuda"`, torch tensors in and out) by the `_cuda` mirror; `_pseudo_images_numpy`
is the vectorized NumPy reference used as a fallback and by the tests.
"""
from __future__ import annotations

import functools
from importlib import resources

import numpy as np

__all__ = [
    "LAYOUTS",
    "IMAGE_SHAPE",
    "T_OFFSET_K",
    "T_SCALE_K",
    "layout_table",
    "layout_cells",
    "pseudo_images",
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


def _check_temperatures(temperature_K, n: int) -> np.ndarray:
    t = np.asarray(temperature_K, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n, float(t))
    t = np.ascontiguousarray(t.reshape(-1))
    if t.shape[0] != n:
        raise ValueError(f"temperature_K has {t.shape[0]} values for {n} compositions (give one per composition or a scalar)")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"temperature_K must be finite and >= 0 K, got {t[i]!r} at index {i}")
    return t


def _pseudo_images_numpy(fractions: np.ndarray, temperature_K: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Vectorized NumPy reference: fractions (n, E), temperatures (n,), cells (E, 2)."""
    n = fractions.shape[0]
    img = np.zeros((n, 2, 9, 18), dtype=np.float32)
    flat = img.reshape(n, 2, 162)
    # np.add.at: two elements never share a cell in these layouts, but add is the safe semantics.
    idx = cells[:, 0] * 18 + cells[:, 1]
    flat[:, 0, idx] += fractions.astype(np.float32)
    flat[:, 1, :] = temperature_channel(temperature_K).astype(np.float32)[:, None]
    return img


def pseudo_images(compositions, temperature_K, layout: str = "rptr", elements=None, threads=None,
                  device: str = "cpu"):
    """Pseudo-images of shape (n, 2, 9, 18), float32.

    compositions: anything `hea_fast.xyield.simulate.as_fractions` accepts (CompositionBatch,
      formulas, dicts, DataFrame of element columns, or an (n, E) array with `elements=`).
      On `device="cuda"`, a CUDA torch tensor (n, E) float64/float32 of fractions with `elements=`.
    temperature_K: scalar or (n,) kelvin.
    layout: 'rptr' (X-Yield default) or 'ptr'.
    Returns a NumPy array (CPU) or a CUDA torch tensor (device='cuda').
    """
    from hea_fast._backend import resolve_device

    layout = _check_layout(layout)
    dev = resolve_device(device)
    if dev == "cuda":
        return _pseudo_images_cuda(compositions, temperature_K, layout, elements)
    from hea_fast.xyield.simulate import as_fractions

    frac, elems = as_fractions(compositions, elements)
    t = _check_temperatures(temperature_K, frac.shape[0])
    cells = layout_cells(elems, layout)
    from hea_fast._backend import core

    kern = getattr(core, "pseudo_images", None)
    if kern is None:  # compiled core predates the kernel
        return _pseudo_images_numpy(frac, t, cells)
    flat = np.ascontiguousarray(cells[:, 0] * 18 + cells[:, 1], dtype=np.int32)
    return kern(frac, t, flat, threads=threads)


def _pseudo_images_cuda(fractions, temperature_K, layout, elements):
    import torch

    from hea_fast._backend import cuda_module

    if elements is None:
        raise ValueError("device='cuda' needs elements= naming the columns of the fractions tensor")
    if not (torch.is_tensor(fractions) and fractions.is_cuda):
        raise ValueError("device='cuda' expects a CUDA torch tensor of fractions (n, E)")
    frac = fractions.to(torch.float64).contiguous()
    n, E = frac.shape
    if E != len(elements):
        raise ValueError(f"fractions tensor has {E} columns but {len(elements)} elements were named")
    t = torch.as_tensor(temperature_K, dtype=torch.float64, device=frac.device)
    if t.ndim == 0:
        t = t.expand(n)
    t = t.contiguous()
    if t.shape[0] != n:
        raise ValueError(f"temperature_K has {t.shape[0]} values for {n} compositions")
    if not bool(torch.isfinite(t).all() and (t >= 0).all()):
        raise ValueError("temperature_K must be finite and >= 0 K")
    if not bool(torch.isfinite(frac).all() and (frac >= 0).all()):
        raise ValueError("fractions must be finite and >= 0")
    cells = layout_cells(elements, layout)
    flat = torch.as_tensor(cells[:, 0] * 18 + cells[:, 1], dtype=torch.int32, device=frac.device)
    from hea_fast._backend import cuda_empty

    out = cuda_empty((n, 2, 9, 18), torch.float32, frac.device)
    stream = torch.cuda.current_stream(frac.device).cuda_stream
    cuda_module().pseudo_images(frac.data_ptr(), t.data_ptr(), flat.data_ptr(), out.data_ptr(), n, E, stream)
    return out
