"""Anchor alloys and anchor-guided clustering (arXiv 2504.20354, Sec. "anchor-based guidance").

Each alloy is assigned to its nearest anchor alloy by Euclidean distance in standardized
descriptor space, z_j = (x_j − mean_j) / sd_j with the training set's mean and (population) standard
deviation, restricted to the selected descriptor subset when one is given:

    cluster(i) = argmin_k Σ_{j∈S} (z_ij − a_kj)²      (a_k: the anchor's standardized descriptors)

The named anchors (Senkov-type refractory NbMoTaW, HfNbTaTiZr, …; Cantor CoCrFeMnNi, …) live in
``hea_fast/data/anchors.csv`` with their references (see ``anchors_README.md`` there).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hea_fast.mixture.checks import check_finite

__all__ = [
    "AnchorError",
    "DEFAULT_ANCHORS",
    "Standardizer",
    "load_anchor_table",
    "resolve_anchors",
    "assign_clusters",
    "nearest_anchor",
]

#: The paper's contrast: Senkov-type refractory BCC vs Cantor FCC.
DEFAULT_ANCHORS = ("NbMoTaW", "CoCrFeMnNi")


class AnchorError(ValueError):
    """Unknown anchor name, or anchors that cannot be placed in descriptor space."""


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    return pd.read_csv(Path(__file__).resolve().parent.parent / "data" / "anchors.csv")


def load_anchor_table() -> pd.DataFrame:
    """The named anchor alloys (name, formula, family, reported_phase, reference, doi)."""
    return _table().copy()


def resolve_anchors(spec: Sequence[str] | str) -> tuple[list[str], list[str]]:
    """(names, formulas) for anchor names from the table or plain formulas.

    ``spec`` is a sequence or a comma-separated string; an entry that is not a table name is taken
    as a formula and named by itself."""
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    spec = list(spec)
    if not spec:
        raise AnchorError("no anchors given")
    tab = _table().set_index("name")
    names, formulas = [], []
    for s in spec:
        if not isinstance(s, str) or not s.strip():
            raise AnchorError(f"anchor must be a non-empty name or formula, got {s!r}")
        s = s.strip()
        formulas.append(str(tab.loc[s, "formula"]) if s in tab.index else s)
        names.append(s)
    if len(set(names)) != len(names):
        raise AnchorError(f"anchors repeat a name: {names}")
    return names, formulas


@dataclass
class Standardizer:
    """z = (x − mean) / scale with the training mean and population standard deviation.

    A constant column (sd = 0) gets scale 1, so it standardizes to 0 instead of NaN."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X) -> "Standardizer":
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] < 2:
            raise AnchorError(f"need a 2-D descriptor matrix with >= 2 rows, got shape {X.shape}")
        check_finite(X, "descriptor matrix", error=AnchorError)
        sd = X.std(axis=0)
        return cls(mean=X.mean(axis=0), scale=np.where(sd > 0, sd, 1.0))

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.mean.size:
            raise AnchorError(f"expected {self.mean.size} descriptor columns, got shape {X.shape}")
        check_finite(X, "descriptor matrix", error=AnchorError)
        return (X - self.mean) / self.scale


def nearest_anchor(X: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Index of the nearest anchor (Euclidean) for each row of X; ties go to the lower index.

    X (n, q) and anchors (K, q) must be in the same (standardized) coordinates."""
    X = np.asarray(X, dtype=float)
    A = np.asarray(anchors, dtype=float)
    if X.ndim != 2 or A.ndim != 2 or X.shape[1] != A.shape[1]:
        raise AnchorError(f"X {X.shape} and anchors {A.shape} must be 2-D with the same number of columns")
    if not np.all(np.isfinite(A)):
        raise AnchorError("anchor coordinates contain NaN/inf (an anchor lacks a descriptor value?)")
    # |x - a|^2 = |x|^2 - 2 x.a + |a|^2; |x|^2 is common to all anchors so it is dropped.
    d2 = (A * A).sum(axis=1)[None, :] - 2.0 * X @ A.T
    return np.argmin(d2, axis=1).astype(np.int64)


def assign_clusters(Z, anchors_z, subset: Sequence[int] | None = None) -> np.ndarray:
    """Nearest anchor for each row of the standardized matrix Z (restricted to ``subset``)."""
    Z = np.asarray(Z, dtype=float)
    A = np.asarray(anchors_z, dtype=float)
    if subset is not None:
        idx = list(subset)
        if not idx:
            raise AnchorError("cannot cluster on an empty descriptor subset")
        Z, A = Z[:, idx], A[:, idx]
    return nearest_anchor(Z, A)
