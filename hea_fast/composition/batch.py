"""`CompositionBatch`, `as_batch`, `row_amounts` and the formula entry points (see the package docstring)."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Iterable, Sequence

import numpy as np

from hea_fast.composition.rows import RowAmounts, check_elements, frame_amounts
from hea_fast.parse import (
    ELEMENTS,
    ENGINES,
    CompositionBatchError,
    CompositionError,
    is_element,
    labelled_rows,
    parse_formula,
    parse_rejected,
)

__all__ = ["CompositionBatch", "parse_formulas", "parse_formulas_reference", "as_batch", "row_amounts"]

_Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}


def _validate_mapping(d: Mapping, label: Any) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        sym = str(k)
        if not is_element(sym):
            raise CompositionError(f"unknown element symbol {sym!r}", label)
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise CompositionError(f"amount of {sym} is not a number: {v!r}", label) from None
        if math.isnan(x) or math.isinf(x):
            raise CompositionError(f"non-finite amount {x!r} for {sym}", label)
        if x < 0:
            raise CompositionError(f"negative amount {x!r} for {sym}", label)
        if x > 0:
            out[sym] = out.get(sym, 0.0) + x
    if not out:
        raise CompositionError("all amounts are zero", label)
    s = 0.0
    for v in out.values():
        s += v
    if not math.isfinite(s):
        raise CompositionError("amounts overflow to infinity", label)
    return {k: v / s for k, v in out.items()}


def _fmt_amount(pct: float) -> str:
    s = f"{pct:.6f}".rstrip("0").rstrip(".")
    return s if s else "0"


def _outside_error(d: Mapping, els: tuple[str, ...], formula: Any) -> CompositionError:
    missing = [e for e in d if e not in els]
    return CompositionError(f"element(s) {missing} not in the requested element set {list(els)}", formula,
                            code="outside_set")


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class CompositionBatch:
    """n compositions as a dense (n, E) float64 fraction matrix over `elements` (rows sum to 1).

    `skipped`: (row label, reason) of input rows dropped by `errors="skip"`; `index`: the input
    row label of each kept row (None when every row was kept in order).
    """

    fractions: np.ndarray
    elements: tuple[str, ...]
    skipped: tuple = ()
    index: np.ndarray | None = None

    def __post_init__(self):
        fr = np.ascontiguousarray(np.asarray(self.fractions, dtype=np.float64))
        if fr.ndim == 1 and fr.size == 0:
            fr = fr.reshape(0, len(self.elements))
        if fr.ndim != 2:
            raise CompositionError(f"fractions must be a 2-D (n, E) array, got shape {fr.shape}")
        els = check_elements(self.elements)
        if fr.shape[1] != len(els):
            raise CompositionError(f"fractions have {fr.shape[1]} columns but {len(els)} elements were given")
        if fr.size:
            bad = ~np.isfinite(fr)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise CompositionError(f"non-finite fraction {float(fr[i, j])!r} for {els[j]} in row {i}")
            if (fr < 0).any():
                i, j = np.argwhere(fr < 0)[0]
                raise CompositionError(f"negative fraction {float(fr[i, j])!r} for {els[j]} in row {i}")
            s = fr.sum(axis=1)
            off = np.abs(s - 1.0) > 1e-6
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise CompositionError(f"row {i} fractions sum to {float(s[i])!r}, not 1 (normalise first)")
        object.__setattr__(self, "fractions", fr)
        object.__setattr__(self, "elements", els)

    @classmethod
    def _trusted(cls, fractions: np.ndarray, elements: tuple[str, ...], skipped: tuple = (),
                 index: np.ndarray | None = None) -> "CompositionBatch":
        # The compiled parser's output is valid by construction (finite, >= 0, rows sum to 1 up
        # to rounding); re-checking 1 M rows would cost as much as parsing them.
        obj = object.__new__(cls)
        for k, v in (("fractions", fractions), ("elements", elements), ("skipped", skipped), ("index", index)):
            object.__setattr__(obj, k, v)
        return obj

    @classmethod
    def from_valid(cls, fractions: np.ndarray, elements: tuple[str, ...], index: np.ndarray | None = None
                   ) -> "CompositionBatch":
        """A batch from fractions known to be valid (finite, >= 0, rows summing to 1), without
        re-checking them: for kernels whose output is valid by construction (the lattice decoder,
        the compiled parser), where checking 1 M rows would cost as much as producing them."""
        return cls._trusted(np.ascontiguousarray(fractions, dtype=np.float64), tuple(elements), index=index)

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_formulas(cls, formulas: Iterable[str], elements: Sequence[str] | None = None,
                      errors: str = "raise", engine: str = "cpp", threads: int | None = None
                      ) -> "CompositionBatch":
        """Parse formulas (list, tuple, NumPy array, pandas Series, …) into a batch.

        elements: the output columns in this order (a formula with another element is a bad row); None: every
        element that occurs, in atomic-number order. errors: "raise" reports every bad row at once
        (`CompositionBatchError`, label + reason); "skip" drops them, recording (label, reason) in `skipped` and the
        kept labels in `index`. Labels are positions, or the index of a pandas Series. engine: "cpp" (default, the
        compiled multi-threaded parser) or "python" (the pure-Python reference), identical results. threads: for
        "cpp" (None: all cores). Items that are not strings (dicts, pymatgen Compositions) are read row by row.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        if isinstance(formulas, str):
            formulas = [formulas]
        values, labels = _values_and_labels(formulas)
        els = None if elements is None else check_elements(elements)
        n = len(values)
        if engine == "python":
            dicts, bad = [], []
            for i, f in enumerate(values):
                try:
                    dicts.append((i, parse_formula(f) if isinstance(f, str) else _coerce_one(f, f)))
                except CompositionError as exc:
                    bad.append((i, exc))
            return cls._from_dicts(dicts, bad, n, els, errors, labels, values)

        from hea_fast._backend import core

        ez = None if els is None else np.array([_Z[e] for e in els], dtype=np.int64)
        F, zcols, status, pos, length = core.parse_formulas(values, ez, threads)
        els = tuple(ELEMENTS[z - 1] for z in zcols) if els is None else els
        relabel = labelled_rows(F, els, status, values)
        if not status.any() and not relabel:
            return cls._trusted(F, els)
        bad, extra = [], []
        for i in sorted(set(relabel).union(np.flatnonzero(status).tolist())):
            code = core.PARSE_STATUS[status[i]] if status[i] else "label"  # read with a trailing label as elements
            f = values[i]
            if code == "not_a_string":  # dicts, pymatgen Compositions, None, surrogates: in Python
                try:
                    extra.append((i, parse_formula(f) if isinstance(f, str) else _coerce_one(f, f)))
                except CompositionError as exc:
                    bad.append((i, exc))
            elif code == "outside_set":  # inside after all without a trailing label ("(FCC)")? else an error below
                extra.append((i, parse_formula(f)))
            else:  # a published notation (dashes, subscripts, LaTeX) or a trailing label: parse_formula's retry
                F[i] = 0.0
                r = parse_rejected(f, code, pos[i], length[i])
                (extra if isinstance(r, dict) else bad).append((i, r))
        if extra:
            if elements is None:
                new = {e for _, d in extra for e in d} - set(els)
                if new:
                    full = tuple(sorted(set(els) | new, key=_Z.__getitem__))
                    G = np.zeros((n, len(full)))
                    G[:, [full.index(e) for e in els]] = F
                    F, els = G, full
            col = {e: j for j, e in enumerate(els)}
            for i, d in extra:
                if any(e not in col for e in d):
                    bad.append((i, _outside_error(d, els, values[i])))
                    continue
                for e, v in d.items():
                    F[i, col[e]] = v
            bad.sort(key=lambda x: x[0])
        if elements is None and relabel and not F.any(axis=0).all():  # a column only a label had put there
            keep = F.any(axis=0)
            F, els = np.ascontiguousarray(F[:, keep]), tuple(e for e, k in zip(els, keep) if k)
        return cls._finish(F, els, bad, n, errors, labels)

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping], elements: Sequence[str] | None = None,
                   errors: str = "raise") -> "CompositionBatch":
        """{element: amount} rows (any units; each row is normalised). Also accepts pymatgen
        Compositions as rows."""
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        rows = list(rows)
        dicts, bad = [], []
        for i, r in enumerate(rows):
            try:
                dicts.append((i, _coerce_one(r, r)))
            except CompositionError as exc:
                bad.append((i, exc))
        return cls._from_dicts(dicts, bad, len(rows), None if elements is None else check_elements(elements),
                               errors, None, rows)

    @classmethod
    def from_dict(cls, d: Mapping, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """One composition {element: amount} (any units) → a batch of one row."""
        return cls.from_dicts([d], elements)

    @classmethod
    def from_dataframe(cls, df, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """Element columns (symbols as column names, at.% or fractions; other columns ignored).
        Rows are normalised; NaN or negative amounts raise naming the row and column."""
        ra = frame_amounts(df, None, "raise")
        mask, first, total = ra.invalid_rows()
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            j, why, lab = int(first[i]), ra.reason(i, int(first[i])), ra.label(i)
            raise CompositionError(f"{why} in row {lab!r}" if j < 0 else
                                   f"{why.rsplit(' for ', 1)[0]} in row {lab!r}, column {ra.elements[j]!r}")
        F = np.empty((ra.m, len(ra.elements)))
        for j, col in enumerate(ra.data):
            np.divide(col, total, out=F[:, j])
        batch = cls._trusted(F, ra.elements)
        return batch.select(elements) if elements is not None else batch

    @classmethod
    def _from_dicts(cls, dicts, bad, n_rows, els, errors, labels, originals):
        """dicts: [(row position, {element: fraction})]; bad: [(row position, CompositionError)];
        originals: the input rows (named in errors)."""
        if els is not None:
            ok = []
            for i, d in dicts:
                if any(e not in els for e in d):
                    bad.append((i, _outside_error(d, els, originals[i])))
                else:
                    ok.append((i, d))
            dicts = ok
            bad.sort(key=lambda x: x[0])
        else:
            present = {e for _, d in dicts for e in d}
            els = tuple(sorted(present, key=_Z.__getitem__))
        col = {e: j for j, e in enumerate(els)}
        F = np.zeros((n_rows, len(els)))
        for i, (r, d) in enumerate(dicts):
            for e, v in d.items():
                F[r, col[e]] = v
        return cls._finish(F, els, bad, n_rows, errors, labels)

    @classmethod
    def _finish(cls, F, els, bad, n_rows, errors, labels):
        """F: (n_rows, E) with zero rows where `bad` [(row position, error)] failed."""
        def label(i):
            return i if labels is None else labels[i]

        if bad and errors == "raise":
            raise CompositionBatchError([(label(i), e) for i, e in bad], n_rows)
        if not bad:
            return cls(F, els)
        keep = np.ones(n_rows, dtype=bool)
        keep[[i for i, _ in bad]] = False
        if labels is None:
            index = np.flatnonzero(keep)
        else:
            index = np.asarray(labels, dtype=object)[keep]
            try:
                index = index.astype(np.int64)
            except (TypeError, ValueError):
                pass
        return cls(F[keep], els, skipped=tuple((label(i), str(e)) for i, e in bad), index=index)

    # -- access ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.fractions.shape[0]

    def __getitem__(self, key) -> "CompositionBatch":
        """Rows by int, slice, integer array or boolean mask; `index` is carried along (the input
        labels of those rows), `skipped` stays with the batch it describes and is not copied."""
        if isinstance(key, (int, np.integer)):
            n = len(self)
            if not -n <= int(key) < n:
                raise IndexError(f"row {int(key)} is out of range for a batch of {n}")
            k = int(key) % n
            key = slice(k, k + 1)
        elif not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool:
                if key.shape != (len(self),):
                    raise IndexError(f"boolean mask of shape {key.shape} for a batch of {len(self)} rows")
            elif not np.issubdtype(key.dtype, np.integer):
                raise IndexError(f"rows must be selected by int, slice, integer array or boolean mask, got {key.dtype}")
        fr = np.ascontiguousarray(self.fractions[key])
        index = None if self.index is None else np.asarray(self.index)[key]
        # rows of a valid batch are valid: no re-validation (a chunk of 1 M rows would pay for it)
        return CompositionBatch._trusted(fr, self.elements, index=index)

    def __repr__(self) -> str:
        return f"CompositionBatch(n={len(self)}, elements={list(self.elements)})"

    def select(self, elements: Sequence[str]) -> "CompositionBatch":
        """The same compositions over `elements` (reordered / extended with zero columns). Raises if a
        composition contains an element that is not in `elements`."""
        els = check_elements(elements)
        pos = {e: j for j, e in enumerate(els)}
        F = np.zeros((len(self), len(els)))
        for j, e in enumerate(self.elements):
            if e in pos:
                F[:, pos[e]] = self.fractions[:, j]
            elif (self.fractions[:, j] > 0).any():
                i = int(np.flatnonzero(self.fractions[:, j] > 0)[0])
                raise CompositionError(f"row {i} contains {e}, which is not in the element set {list(els)}")
        return CompositionBatch._trusted(F, els, self.skipped, self.index)  # reordered valid rows stay valid

    def formulas(self, decimals: int = 6) -> list[str]:
        """Canonical formulas: elements in atomic-number order, amounts in at.%, zeros omitted,
        e.g. 'Al10Co22.5Cr22.5Fe22.5Ni22.5'."""
        order = sorted(range(len(self.elements)), key=lambda j: _Z[self.elements[j]])
        return ["".join(self.elements[j] + _fmt_amount(round(row[j] * 100.0, decimals)) for j in order if row[j] > 0)
                for row in self.fractions]

    def to_dicts(self) -> list[dict[str, float]]:
        return [{e: float(v) for e, v in zip(self.elements, row) if v > 0} for row in self.fractions]

    def to_dataframe(self, percent: bool = False):
        import pandas as pd

        return pd.DataFrame(self.fractions * (100.0 if percent else 1.0), columns=list(self.elements),
                            index=self.index)

    @property
    def n_components(self) -> np.ndarray:
        """Number of elements present in each composition."""
        return (self.fractions > 0).sum(axis=1)


def _values_and_labels(obj) -> tuple[list, Any]:
    """(list of items, row labels or None for positions)."""
    import pandas as pd

    if isinstance(obj, pd.Series):
        return obj.tolist(), obj.index
    if isinstance(obj, np.ndarray):
        return obj.tolist(), None
    return (obj if type(obj) in (list, tuple) else list(obj)), None  # lists are read only


def _is_missing(obj) -> bool:  # None, NaN and the pandas missing markers
    return obj is None or (isinstance(obj, float) and math.isnan(obj)) or type(obj).__name__ in ("NAType", "NaTType")


def _coerce_one(obj, label) -> dict[str, float]:
    if isinstance(obj, str):
        return parse_formula(obj)
    if isinstance(obj, Mapping):
        return _validate_mapping(obj, label)
    if hasattr(obj, "get_el_amt_dict"):  # pymatgen Composition
        return _validate_mapping(obj.get_el_amt_dict(), str(obj))
    if _is_missing(obj):
        raise CompositionError(f"missing formula ({obj!r})", obj)
    raise CompositionError(f"cannot interpret {type(obj).__name__} {obj!r} as a composition", obj)


def _from_amounts(A, elements: Sequence[str] | None) -> CompositionBatch:
    """An (n, E) or (E,) array of amounts (any unit) over `elements` -> a normalised batch."""
    ra = row_amounts(A, elements)
    mask, first, total = ra.invalid_rows()
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        j = int(first[i])
        raise CompositionError(f"row {i}: " + (ra.reason(i, j) if j < 0 else f"amount of {ra.elements[j]} is "
                                               f"{float(ra.column(j)[i])!r} (must be finite and >= 0)"))
    return CompositionBatch._trusted(ra.array() / total[:, None], ra.elements)


def as_batch(obj, elements: Sequence[str] | None = None, errors: str = "raise") -> CompositionBatch:
    """The one way in: coerce user input to a `CompositionBatch` of atomic fractions.

    Accepts a formula or a sequence/Series/array of formulas (the `hea_fast.parse` grammar), a
    {element: amount} dict or a sequence of dicts, pymatgen Compositions, a DataFrame of element
    columns, an (n, E) or (E,) array of amounts (any unit, rows normalised) with `elements=` naming
    its columns, or a batch (or any object with ``fractions`` and ``elements``).
    elements: the output columns, in this order (a composition with another element is an error);
    None keeps the input's elements (atomic-number order for parsed input).
    errors: "raise" (every bad row reported at once) or "skip" (bad rows dropped and recorded in
    `skipped`, the kept rows' labels in `index`); applies to row-wise input (formulas, dicts).
    """
    if isinstance(obj, CompositionBatch):
        return obj.select(elements) if elements is not None else obj
    if isinstance(obj, str):
        return CompositionBatch.from_formulas([obj], elements, errors)
    if isinstance(obj, Mapping):
        return CompositionBatch.from_dict(obj, elements)
    if hasattr(obj, "get_el_amt_dict"):
        return CompositionBatch.from_dicts([obj], elements)
    if hasattr(obj, "fractions") and hasattr(obj, "elements"):  # duck-typed batches
        batch = CompositionBatch(np.asarray(obj.fractions, dtype=np.float64), tuple(obj.elements))
        return batch.select(elements) if elements is not None else batch
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return CompositionBatch.from_dataframe(obj, elements)
    if _is_amounts(obj, elements):
        return _from_amounts(obj, elements)
    return CompositionBatch.from_formulas(obj, elements, errors)


def _is_amounts(obj, elements) -> bool:
    """An array of amounts, or a list of rows of numbers with `elements`."""
    return (isinstance(obj, np.ndarray) and obj.dtype.kind in "fiub") or (
        isinstance(obj, (list, tuple)) and bool(obj) and elements is not None
        and isinstance(obj[0], (list, tuple, np.ndarray, int, float)) and not isinstance(obj[0], bool))


def row_amounts(obj, elements: Sequence[str] | None = None, errors: str = "raise") -> RowAmounts:
    """The rows of `obj` (anything `as_batch` accepts) as `RowAmounts`, numeric input uncopied: a
    DataFrame's element columns (atomic-number order, or `elements`), an (n, E) array's rows (with
    `elements=`), a `CompositionBatch`'s fractions; other input goes through `as_batch`.
    errors: "raise" (bad rows raise) or "skip" (unreadable rows recorded in `bad`)."""
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    import pandas as pd

    if isinstance(obj, CompositionBatch) and elements is None:
        return RowAmounts(obj.fractions, obj.elements, len(obj), labels=None if obj.index is None else
                          pd.Index(obj.index), normalized=True)
    if hasattr(obj, "fractions") and hasattr(obj, "elements") and elements is None:  # duck-typed: kernel checks
        fr, els = np.asarray(obj.fractions, dtype=np.float64), tuple(str(e) for e in obj.elements)
        if fr.ndim != 2 or fr.shape[1] != len(els) or len(set(els)) != len(els):  # a repeat would mix with itself
            raise CompositionError(f"fractions of shape {fr.shape} do not match the distinct elements {list(els)}")
        return RowAmounts(_array_data(fr), els, fr.shape[0])
    if isinstance(obj, pd.DataFrame):
        return frame_amounts(obj, elements, errors)
    if _is_amounts(obj, elements):
        if elements is None:
            raise CompositionError("an array of amounts has no element labels: pass elements=[...] naming its "
                                   "columns, or build CompositionBatch(fractions, elements)")
        els = check_elements(elements)
        try:
            A = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise CompositionError(f"cannot read the array of amounts as numbers ({exc})") from None
        A = A[None, :] if A.ndim == 1 else A
        if A.ndim != 2 or A.shape[1] != len(els):
            raise CompositionError(f"array of amounts of shape {A.shape} does not match the {len(els)} elements "
                                   f"{list(els)}")
        return RowAmounts(_array_data(A), els, A.shape[0])
    labels = None
    if isinstance(obj, pd.Series):
        labels, obj = obj.index, obj.tolist()
    elif not isinstance(obj, (str, Mapping, list, tuple, np.ndarray, CompositionBatch)) and not (
            hasattr(obj, "get_el_amt_dict") or hasattr(obj, "fractions")):
        obj = list(obj)
    batch = as_batch(obj, elements, errors)
    if not batch.skipped:
        return RowAmounts(batch.fractions, batch.elements, len(batch), labels=labels, normalized=True)
    bad = {int(i): reason for i, reason in batch.skipped}
    return RowAmounts(batch.fractions, batch.elements, len(batch) + len(bad), np.asarray(batch.index, dtype=np.int64),
                      bad, labels, normalized=True)


def _array_data(A):
    return A if A.flags.c_contiguous else tuple(A[:, j] for j in range(A.shape[1]))


def parse_formulas(formulas, elements: Sequence[str] | None = None, errors: str = "raise",
                   threads: int | None = None) -> CompositionBatch:
    """Parse formulas with the compiled multi-threaded parser (the `parse` kernel)."""
    return CompositionBatch.from_formulas(formulas, elements, errors, engine="cpp", threads=threads)


def parse_formulas_reference(formulas, elements: Sequence[str] | None = None, errors: str = "raise") -> CompositionBatch:
    """The same batch from the pure-Python reference parser (`hea_fast.parse.parse_formula`)."""
    return CompositionBatch.from_formulas(formulas, elements, errors, engine="python")
