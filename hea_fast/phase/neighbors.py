"""The training alloys nearest a composition, in the applicability domain's feature space.

A domain score says how far an alloy lies from what the model knows; the nearest training alloys say
*which* known alloys it resembles and what the sources reported for them, which is what a
materials scientist checks before trusting a prediction. `nearest` finds the k nearest distinct
training points of feature rows (the domain's z = [standardised descriptors | w · fractions]);
`point_rows` maps the domain's points back to the training rows they came from, so a model can
carry each point's formula and source votes (`PhaseModel.training_alloys`, file
``training_alloys.npz`` of a model directory; scripts/train_default_phase.py writes it).
"""
from __future__ import annotations

import numpy as np

__all__ = ["TRAINING_ALLOYS_FILE", "TRAINING_ALLOY_FIELDS", "TRAINING_RECORD_FIELDS", "nearest", "point_rows"]

TRAINING_ALLOYS_FILE = "training_alloys.npz"
#: per domain point: canonical formula, "source:label" votes, sources reporting it, of them calling
#: it single phase, and the pooled label the model was trained on
TRAINING_ALLOY_FIELDS = ("formula", "provenance", "n_sources", "n_single_sources", "single_phase")
#: optional, per domain point: the records behind it over all sources, and of them calling it single phase
#: (what `PhaseModel.predict_frame(memory=True)` blends in for a training composition)
TRAINING_RECORD_FIELDS = ("n_records", "n_single")
_CHUNK = 128  # query rows per block: its (128, n_train) work arrays stay ~3 MB each
_MARGIN = 8  # candidates beyond k re-measured exactly (near ties of the BLAS expansion)


def point_rows(domain, descriptors: np.ndarray, fractions: np.ndarray, elements) -> np.ndarray:
    """For each point of the fitted `domain` (its ``points_`` order), the index of the first training
    row it came from. The rows (descriptors in the domain's order, fractions over `elements`) must be
    the ones the domain was fitted on: ValueError when they do not give the same points bit for bit."""
    D, F, els = domain._check_arrays(descriptors, fractions, elements)
    Fk, foreign = domain._aligned(F, els)
    if foreign.any():
        raise ValueError(f"row {int(np.flatnonzero(foreign)[0])} holds an element the domain was not fitted on")
    Z = domain._z(D, Fk)
    points, first = np.unique(Z, axis=0, return_index=True)
    if points.shape != domain.points_.shape or not np.array_equal(points, domain.points_):
        raise ValueError(f"these {len(Z)} rows do not reproduce the domain's {len(domain.points_)} training points "
                         "(another training set, order-independent check)")
    return first.astype(np.int64)


def nearest(domain, Z: np.ndarray, k: int, threads=None) -> tuple[np.ndarray, np.ndarray]:
    """(index, distance), each (n, k): the k nearest distinct training points of each feature row of
    `Z` (see `ApplicabilityDomain.transform`), nearest first, and their Euclidean distances. Exact:
    the k + 8 best candidates of the BLAS expansion |z|² − 2 z·p + |p|² are re-measured as
    sqrt(Σ (z − p)²) (wrong only if more than 8 points tie with the k-th to ~1e-13)."""
    domain._check_fitted()
    Z = np.ascontiguousarray(np.asarray(Z, dtype=np.float64))
    P = domain.points_
    if Z.ndim != 2 or Z.shape[1] != P.shape[1]:
        raise ValueError(f"feature matrix of shape {Z.shape}; expected (n, {P.shape[1]})")
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= len(P):
        raise ValueError(f"k must be an integer in [1, {len(P)}] (the training points), got {k!r}")
    k = int(k)
    kc = min(k + _MARGIN, len(P))
    n = Z.shape[0]
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k))
    norms = np.einsum("ij,ij->i", P, P)
    for a in range(0, n, _CHUNK):
        Q = Z[a:a + _CHUNK]
        s = Q @ P.T
        s *= -2.0
        s += norms  # |z − p|² − |z|²: the same order over p
        cand = np.argpartition(s, kc - 1, axis=1)[:, :kc] if kc < len(P) else np.tile(np.arange(len(P)), (len(Q), 1))
        diff = Q[:, None, :] - P[cand]
        d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        order = np.lexsort((cand, d), axis=1)[:, :k]  # by distance, then point index
        idx[a:a + len(Q)] = np.take_along_axis(cand, order, axis=1)
        dist[a:a + len(Q)] = np.take_along_axis(d, order, axis=1)
    return idx, dist
