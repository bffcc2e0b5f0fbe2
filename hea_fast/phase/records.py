"""What the published records say about a known composition: the phase model's memory.

The training sources report many well-known alloys several times (CoCrFeMnNi: 157 records). For such an
alloy the model answers from memory, and the records are a second answer: the fraction of them calling it
one solid-solution phase. `PhaseModel.predict_frame(memory=True)` (what `hea-fast phase predict` and
`phase evaluate` do) blends the two, p = (1 − w)·p_model + w·q with q = single-phase records / records and
w = n / (n + `MEMORY_KAPPA`) for the n records (`blend`); screens and `predict_proba` stay the model alone.

`RecordTable` holds every recorded composition of the training data, including the ones the model was
*not* trained on because its sources tie (AlCoCrFeNi: three sources say single phase, three say not; 56
of its 117 records call it single phase), and answers, for query compositions, the records of every
recorded composition within 1e-3 of it (`RecordTable.records_for`): near-identical compositions that the
data's 1e-3 keys split by rounding (Al0.3CoCrFeNi is recorded under two keys) count together. Saved as
``records.npz`` in a model directory (scripts/train_default_phase.py writes it).

`composition_matches` is the matching both this and `ApplicabilityDomain.training_match` use: the same
element set (an element below tol / 2 counts as absent) and every fraction within tol.
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = ["RECORDS_FILE", "MEMORY_KAPPA", "RecordTable", "align_fractions", "blend", "composition_matches"]

RECORDS_FILE = "records.npz"
#: w = n / (n + κ): κ = 3 is what a leave-one-source-out over the six training sources picks (pooled
#: log-loss among w in {0, .25, .5, .75, 1} and κ in {1, 3, 10, 30}); nested one level down it was chosen
#: in most folds (benchmarks/papers/phase_validation/memory_blend.md); for the per-source default
#: (memory_blend_tol_sources.md) κ = 3 is again the best over all six sources and chosen in three folds (w = ½
#: in the other three).
MEMORY_KAPPA = 3.0
_FIELDS = ("formula", "elements", "fractions", "n_records", "n_single")
_NPZ_ERRORS = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def composition_matches(Q: np.ndarray, T: np.ndarray, tol: float = 1e-3,
                        block: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For query fractions `Q` (n, E) and reference fractions `T` (m, E) over the same columns: yields
    (rows, candidates, gap), gap[i, j] the largest |Δ fraction| between query rows[i] and reference
    candidates[j], for every query and the references with its element set (an element below tol / 2
    counts as absent on both sides, so off the set's columns both sides are within tol). Queries in
    blocks of `block` rows; a query whose set no reference has is not yielded."""
    by_set: dict[bytes, list[int]] = {}
    for i, key in enumerate(np.packbits(T > 0.5 * tol, axis=1)):
        by_set.setdefault(key.tobytes(), []).append(i)
    support = Q > 0.5 * tol
    packed = np.packbits(support, axis=1)
    if packed.shape[1] <= 8:  # up to 64 elements: one integer per row, a 1-D unique (10x the row-wise one)
        keys = np.zeros((packed.shape[0], 8), dtype=np.uint8)
        keys[:, :packed.shape[1]] = packed
        _, first, inverse = np.unique(keys.view(np.uint64).ravel(), return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(first) + 1))
    for u in range(len(first)):
        cand = by_set.get(packed[first[u]].tobytes())
        if cand is None:
            continue
        cand = np.asarray(cand, dtype=np.int64)
        cols = np.flatnonzero(support[first[u]])
        Tc = T[np.ix_(cand, cols)]
        rows = order[starts[u]:starts[u + 1]]
        for a in range(0, rows.size, block):
            r = rows[a:a + block]
            yield r, cand, np.abs(Q[np.ix_(r, cols)][:, None, :] - Tc[None, :, :]).max(axis=2)


def align_fractions(F: np.ndarray, els: Sequence[str], elements: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Q, foreign): fractions `F` over `els` as columns of `elements` (others left out), and which rows
    hold any amount of an element not in `elements`."""
    col = {e: j for j, e in enumerate(elements)}
    Q = np.zeros((F.shape[0], len(elements)))
    foreign = np.zeros(F.shape[0], dtype=bool)
    for j, e in enumerate(els):
        if e in col:
            Q[:, col[e]] = F[:, j]
        else:
            foreign |= F[:, j] > 0
    return Q, foreign


def blend(p: np.ndarray, n_records: np.ndarray, n_single: np.ndarray, kappa: float = MEMORY_KAPPA) -> np.ndarray:
    """(1 − w)·p + w·(n_single / n_records), w = n_records / (n_records + kappa); p where n_records is 0."""
    p = np.asarray(p, dtype=np.float64)
    n = np.asarray(n_records, dtype=np.float64)
    k = np.asarray(n_single, dtype=np.float64)
    w = n / (n + kappa)
    return np.where(n > 0, (1.0 - w) * p + w * (k / np.where(n > 0, n, 1.0)), p)


class RecordTable:
    """The recorded compositions of a training set and their phase records.

    formula (m,), elements (E,), fractions (m, E) (rows sum to 1), n_records (m,) >= 1, n_single (m,) with
    0 <= n_single <= n_records. `from_frame` builds it from harmonised rows (one per source and composition).
    """

    def __init__(self, formula, elements, fractions, n_records, n_single):
        self.formula = np.asarray(formula, dtype=str)
        self.elements = tuple(str(e) for e in np.asarray(elements).ravel())
        self.fractions = np.asarray(fractions, dtype=np.float64)
        self.n_records = np.asarray(n_records)
        self.n_single = np.asarray(n_single)
        m = len(self.formula)
        if self.fractions.shape != (m, len(self.elements)):
            raise ValueError(f"record fractions have shape {self.fractions.shape}; expected ({m}, {len(self.elements)})")
        if len(set(self.elements)) != len(self.elements):
            raise ValueError(f"record elements repeat: {list(self.elements)}")
        if self.n_records.shape != (m,) or self.n_single.shape != (m,):
            raise ValueError(f"record counts have shapes {self.n_records.shape}, {self.n_single.shape}; expected ({m},)")
        if not (self.n_records.dtype.kind in "iu" and self.n_single.dtype.kind in "iu" and (self.n_records >= 1).all()
                and (self.n_single >= 0).all() and (self.n_single <= self.n_records).all()):
            raise ValueError("record counts are not integers with 0 <= n_single <= n_records, n_records >= 1")
        if m and not (np.isfinite(self.fractions).all() and (self.fractions >= 0).all()
                      and np.allclose(self.fractions.sum(axis=1), 1.0, atol=1e-9)):
            raise ValueError("record fractions are not finite, non-negative rows summing to 1")

    def __len__(self) -> int:
        return len(self.formula)

    def __repr__(self) -> str:
        return (f"RecordTable({len(self)} compositions, {int(self.n_records.sum())} records, "
                f"{len(self.elements)} elements)")

    @classmethod
    def from_frame(cls, data, elements: Sequence[str] | None = None) -> "RecordTable":
        """From harmonised rows (`hea_fast.validation.harmonised_phase_data`: one row per source and
        composition, columns key, formula, n_records, n_single and the fractions of `elements`, by default
        ``data.attrs["elements"]``): one entry per key, the records of every source summed; the formula
        and fractions of the key's first row."""
        els = list(data.attrs.get("elements", ()) if elements is None else elements)
        if not els:
            raise ValueError("no element columns: pass elements= or a frame with attrs['elements']")
        g = data.groupby("key", sort=True)
        first = g.head(1).set_index("key").loc[list(g.groups)]
        F = first[els].to_numpy(np.float64)
        return cls(first["formula"].to_numpy(str), els, F / F.sum(axis=1, keepdims=True),
                   g["n_records"].sum().to_numpy(np.int64), g["n_single"].sum().to_numpy(np.int64))

    def records_for(self, fractions: np.ndarray, elements: Sequence[str],
                    tol: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """(n_records, n_single), int64 per row of `fractions` (n, E) over `elements` (amounts in any unit:
        rows are normalised): the records of every recorded composition with the row's element set and every
        fraction within `tol`, summed (0, 0 for none; a row with any amount of an element the table lacks, or
        without a positive finite total, matches nothing)."""
        F = np.asarray(fractions, dtype=np.float64)
        els = (elements,) if isinstance(elements, str) else tuple(str(e) for e in elements)
        if F.ndim != 2 or F.shape[1] != len(els):
            raise ValueError(f"fractions have shape {F.shape}; expected (n, {len(els)}) over {list(els)}")
        total = F.sum(axis=1, keepdims=True)
        good = (np.isfinite(total) & (total > 0)).ravel()
        F = np.where(good[:, None], F / np.where(good[:, None], total, 1.0), 0.0)
        Q, foreign = align_fractions(F, els, self.elements)
        n, k = np.zeros(F.shape[0], dtype=np.int64), np.zeros(F.shape[0], dtype=np.int64)
        for rows, cand, gap in composition_matches(Q, self.fractions, tol):
            hit = (gap <= tol + 1e-12).astype(np.int64)
            n[rows] = hit @ self.n_records[cand].astype(np.int64)
            k[rows] = hit @ self.n_single[cand].astype(np.int64)
        n[foreign] = k[foreign] = 0
        return n, k

    # -- storage ---------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``records.npz`` into directory `path` (atomic)."""
        from hea_fast._io import atomic_path

        path = Path(path)
        with atomic_path(path / RECORDS_FILE, suffix=".npz") as tmp:
            np.savez_compressed(tmp, formula=self.formula, elements=np.asarray(self.elements, dtype=str),
                                fractions=self.fractions, n_records=self.n_records, n_single=self.n_single)
        return path / RECORDS_FILE

    @classmethod
    def load(cls, path) -> "RecordTable":
        """Read ``records.npz`` of directory `path`; ValueError naming the file when it is unreadable or
        inconsistent."""
        f = Path(path) / RECORDS_FILE
        try:
            with open(f, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                missing = [k for k in _FIELDS if k not in z.files]
                if missing:
                    raise ValueError(f"lacks {missing}")
                return cls(*(z[k] for k in _FIELDS))
        except _NPZ_ERRORS as exc:
            raise ValueError(f"{f}: records unreadable ({exc})") from None
