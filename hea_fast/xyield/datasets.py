"""X-Yield datasets as ready arrays/tensors with the paper's splits.

X-Yield (Chen et al., cross-quality few-shot transfer for alloy yield strength; Bi-RPT) pairs
  * a **low-quality** set: Maresca–Curtin (2020) simulated yield strengths (MPa) of compositions
    drawn uniformly from the X-Yield grid (`hea_fast.xyield.grid.XYieldGrid`), restricted to the grid
    temperatures covering the experimental range (300–1900 K for the 240 points: every grid
    temperature within 50 K of [min T_exp, max T_exp]); the paper used 100,000 points;
  * a **high-quality** set: the 240 experimental points (Borg et al. 2020 MPEA database, via the
    X-Yield repository), with the paper's 10 cross-validation folds (stored with the data) and the
    few-shot splits: 5 % / 10 % of the points for training (11 / 23 points, the paper's counts),
    stratified by number of principal elements, seeded.

Every set is an `XYieldSet`: fractions (n, 10) over `XYIELD_ELEMENTS`, temperature_K (n,),
yield_MPa (n,), n_elements (n,), fold (n,) (-1 for simulated points); `.images(layout)` gives the
(n, 2, 9, 18) float32 pseudo-images of `hea_fast.xyield.pseudoimage`, `.tensors()` torch tensors
(torch is imported only there). Targets are in MPa; `.targets("GPa")` gives the paper's GPa scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hea_fast.datasets import XYIELD_ELEMENTS, load_xyield_experimental

__all__ = [
    "XYIELD_ELEMENTS",
    "PAPER_FEW_SHOT_TRAIN_SIZES",
    "XYieldSet",
    "load_high_quality",
    "load_low_quality",
    "low_quality_temperatures",
    "cv_folds",
    "few_shot_split",
]

# Training-set sizes of the paper's few-shot protocols (fraction of the 240 points -> points).
PAPER_FEW_SHOT_TRAIN_SIZES = {0.05: 11, 0.10: 23}


@dataclass
class XYieldSet:
    """A set of (composition, temperature) -> yield strength points."""

    fractions: np.ndarray  # (n, E) float64, rows sum to 1
    temperature_K: np.ndarray  # (n,) float64
    yield_MPa: np.ndarray  # (n,) float64
    elements: tuple = XYIELD_ELEMENTS
    n_elements: np.ndarray = field(default=None)  # (n,) int64
    fold: np.ndarray = field(default=None)  # (n,) int64, -1 when not part of the CV protocol
    name: str = ""

    def __post_init__(self):
        self.fractions = np.ascontiguousarray(self.fractions, dtype=np.float64)
        self.temperature_K = np.ascontiguousarray(self.temperature_K, dtype=np.float64)
        self.yield_MPa = np.ascontiguousarray(self.yield_MPa, dtype=np.float64)
        n = self.fractions.shape[0]
        if self.n_elements is None:
            self.n_elements = (self.fractions > 0).sum(axis=1).astype(np.int64)
        if self.fold is None:
            self.fold = np.full(n, -1, dtype=np.int64)
        for name in ("temperature_K", "yield_MPa", "n_elements", "fold"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")

    def __len__(self) -> int:
        return self.fractions.shape[0]

    def subset(self, idx) -> "XYieldSet":
        idx = np.asarray(idx)
        return XYieldSet(self.fractions[idx], self.temperature_K[idx], self.yield_MPa[idx], self.elements,
                         self.n_elements[idx], self.fold[idx], self.name)

    def images(self, layout: str = "rptr", threads=None) -> np.ndarray:
        """(n, 2, 9, 18) float32 pseudo-images (channel 0 fractions at the layout cells, channel 1
        (T_K - 273.15)/2000)."""
        from hea_fast.xyield.pseudoimage import pseudo_images

        return pseudo_images(self.fractions, self.temperature_K, layout=layout, elements=self.elements,
                             threads=threads)

    def targets(self, unit: str = "MPa") -> np.ndarray:
        """Yield strengths as float32 in 'MPa' or 'GPa'."""
        if unit == "MPa":
            return self.yield_MPa.astype(np.float32)
        if unit == "GPa":
            return (self.yield_MPa / 1000.0).astype(np.float32)
        raise ValueError(f"unit must be 'MPa' or 'GPa', got {unit!r}")

    def tensors(self, layout: str = "rptr", unit: str = "GPa", device="cpu"):
        """(images, targets) as torch float32 tensors on `device`."""
        import torch

        x = torch.from_numpy(self.images(layout))
        y = torch.from_numpy(self.targets(unit))
        return x.to(device), y.to(device)

    def to_dataframe(self):
        import pandas as pd

        df = pd.DataFrame(self.fractions * 100.0, columns=list(self.elements))
        df["n_elements"] = self.n_elements
        df["T_K"] = self.temperature_K
        df["YS_MPa"] = self.yield_MPa
        df["fold"] = self.fold
        return df


# ---------------------------------------------------------------------------------------------
def load_high_quality() -> XYieldSet:
    """The 240 experimental points with their CV fold (0–9) in `.fold` (`hea_fast.datasets`)."""
    df = load_xyield_experimental()
    frac = df[list(XYIELD_ELEMENTS)].to_numpy(np.float64)
    frac = frac / frac.sum(axis=1, keepdims=True)
    return XYieldSet(frac, df["T_K"].to_numpy(np.float64), df["YS_MPa"].to_numpy(np.float64), XYIELD_ELEMENTS,
                     (frac > 0).sum(axis=1).astype(np.int64), df["fold"].to_numpy(np.int64), "xyield_high_quality")


def low_quality_temperatures(grid_temperatures_K=range(300, 2600, 100), margin_K: float = 50.0) -> np.ndarray:
    """Grid temperatures within `margin_K` of the experimental range (300–1900 K for the 240 points)."""
    hq = load_high_quality()
    lo, hi = hq.temperature_K.min() - margin_K, hq.temperature_K.max() + margin_K
    t = np.asarray(list(grid_temperatures_K), dtype=np.float64)
    return t[(t >= lo) & (t <= hi)]


def load_low_quality(n: int = 100_000, seed: int = 0, elements=XYIELD_ELEMENTS, temperatures_K=None,
                     model: str = "continuous", threads=None) -> XYieldSet:
    """`n` points drawn uniformly without replacement from the X-Yield grid over `elements` at
    `temperatures_K` (default: `low_quality_temperatures()`), labelled with the Maresca–Curtin
    yield strength (MPa). Reproducible for a given seed."""
    from hea_fast.xyield.grid import XYieldGrid

    if temperatures_K is None:
        temperatures_K = low_quality_temperatures()
    grid = XYieldGrid(elements=elements, temperatures_K=temperatures_K)
    df = grid.sample(n, seed=seed, model=model, threads=threads)
    frac = df[list(grid.elements)].to_numpy(np.float64)
    return XYieldSet(frac, df["T_K"].to_numpy(np.float64), df["yield_MPa"].to_numpy(np.float64), tuple(grid.elements),
                     df["n_elements"].to_numpy(np.int64), None, "xyield_low_quality")


def cv_folds(dataset: XYieldSet | None = None):
    """The paper's 10-fold CV: list of (train_idx, test_idx) int64 arrays, fold k tests fold == k."""
    ds = dataset if dataset is not None else load_high_quality()
    folds = sorted(int(f) for f in np.unique(ds.fold) if f >= 0)
    if not folds:
        raise ValueError("dataset has no CV folds (fold == -1 everywhere)")
    idx = np.arange(len(ds))
    return [(idx[ds.fold != k], idx[ds.fold == k]) for k in folds]


def few_shot_split(fraction: float = 0.05, seed: int = 0, dataset: XYieldSet | None = None, n_train: int | None = None):
    """Few-shot split (train_idx, test_idx) stratified by number of principal elements.

    n_train defaults to the paper's size for `fraction` (0.05 -> 11, 0.10 -> 23 of the 240 points),
    else round(fraction * n). Each stratum gets its share by largest remainder (at least one point
    per stratum when n_train allows), and its points are drawn with numpy's Generator(seed).
    """
    ds = dataset if dataset is not None else load_high_quality()
    n = len(ds)
    if not (0.0 < fraction < 1.0):
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    if n_train is None:
        key = round(float(fraction), 6)
        n_train = PAPER_FEW_SHOT_TRAIN_SIZES.get(key) if n == 240 else None
        if n_train is None:
            n_train = int(round(fraction * n))
    if not (1 <= n_train < n):
        raise ValueError(f"n_train must lie in [1, {n - 1}], got {n_train}")
    strata, counts = np.unique(ds.n_elements, return_counts=True)
    share = counts / counts.sum() * n_train
    alloc = np.floor(share).astype(np.int64)
    if n_train >= len(strata):
        alloc = np.maximum(alloc, 1)
    # largest remainder, ties broken by stratum order; then trim if the minimum pushed us over
    while alloc.sum() < n_train:
        rem = share - alloc
        rem[alloc >= counts] = -math.inf
        alloc[int(np.argmax(rem))] += 1
    while alloc.sum() > n_train:
        over = alloc - share
        over[alloc <= 1] = -math.inf
        alloc[int(np.argmax(over))] -= 1
    rng = np.random.default_rng(seed)
    train = []
    for s, k in zip(strata, alloc):
        members = np.flatnonzero(ds.n_elements == s)
        train.append(rng.choice(members, size=int(k), replace=False))
    train = np.sort(np.concatenate(train)).astype(np.int64)
    test = np.setdiff1d(np.arange(n), train).astype(np.int64)
    return train, test
