"""Row amounts read without a copy, for the kernels that normalise and check rows themselves:
`RowAmounts` (an (m, E) array or E columns, the input positions of its rows and the unreadable ones) and
`frame_amounts` (a DataFrame's element columns); `hea_fast.composition.row_amounts` builds one from any
input `as_batch` accepts."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from hea_fast.parse import CompositionError, element_z, is_element

__all__ = ["RowAmounts", "frame_amounts", "check_elements"]


def check_elements(elements: Sequence[str]) -> tuple[str, ...]:
    """`elements` as a tuple of distinct known symbols; CompositionError naming the bad one otherwise."""
    if isinstance(elements, str):
        raise CompositionError(f"elements must be a sequence of symbols, not the string {elements!r}")
    els = tuple(str(e) for e in elements)
    for e in els:
        if not is_element(e):
            raise CompositionError(f"unknown element symbol {e!r} in elements={list(els)}")
    if len(set(els)) != len(els):
        raise CompositionError(f"duplicate elements in {list(els)}")
    return els


@dataclasses.dataclass(frozen=True, eq=False)
class RowAmounts:
    """The amounts of `n_rows` input rows, read without a copy (see `row_amounts`). data: an (m, E)
    C-contiguous float64 array or a tuple of E 1-D float64 columns, which the compiled kernels read in
    place; amounts in any unit unless `normalized`; not checked (`invalid_rows`). rows: input positions
    of the m data rows (None: all, in order); bad: {input position: reason} of unreadable rows;
    labels: the input's row labels (None: positions)."""

    data: Any
    elements: tuple[str, ...]
    n_rows: int
    rows: np.ndarray | None = None
    bad: Mapping = dataclasses.field(default_factory=dict)
    labels: Any = None
    normalized: bool = False

    @property
    def m(self) -> int:  # data rows
        return self.data.shape[0] if isinstance(self.data, np.ndarray) else len(self.data[0]) if self.data else 0

    def column(self, j: int) -> np.ndarray:
        return self.data[:, j] if isinstance(self.data, np.ndarray) else self.data[j]

    def array(self, rows=None) -> np.ndarray:
        """The data rows (all, or positions / a mask over the m rows) as a C-contiguous array."""
        if isinstance(self.data, np.ndarray):
            return np.ascontiguousarray(self.data if rows is None else self.data[rows], dtype=np.float64)
        return np.stack([c if rows is None else c[rows] for c in self.data], axis=1)

    def invalid_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bad-row mask, column of each row's first NaN/inf/negative amount or -1, row sums: 0 or inf is bad)."""
        first = np.full(self.m, -1, dtype=np.int64)
        total = np.zeros(self.m)
        for j in range(len(self.elements)):
            col = self.column(j)
            bad = ~(np.isfinite(col) & (col >= 0))
            first[(first < 0) & bad] = j
            with np.errstate(over="ignore"):
                total += np.where(bad, 0.0, col)
        return (first >= 0) | ~((total > 0) & (total < np.inf)), first, total

    def label(self, pos: int):
        """The input label of input row `pos` (a Python scalar)."""
        v = pos if self.labels is None else self.labels[pos]
        return v.item() if isinstance(v, np.generic) else v

    def reason(self, i: int, col: int) -> str:
        """Why data row i is invalid (`col` from `invalid_rows`)."""
        if col < 0:  # the finite amounts sum to 0 or overflow to inf
            return "amounts overflow to infinity" if self.array([i]).any() else "all amounts are zero"
        v = float(self.column(col)[i])
        return f"{'non-finite' if not math.isfinite(v) else 'negative'} amount {v!r} for {self.elements[col]}"


def _column_values(df, c):
    try:
        return df[c].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise CompositionError(f"column {c!r} does not hold numbers (dtype {df[c].dtype})") from None


def frame_amounts(df, elements, errors) -> RowAmounts:
    cols = [c for c in df.columns if isinstance(c, str) and is_element(c)]
    if not cols:
        raise CompositionError(f"no element columns among {list(df.columns)[:10]}")
    if len(set(cols)) != len(cols):
        raise CompositionError(f"duplicate element columns in {cols}")
    if elements is None:
        cols.sort(key=element_z)
        return RowAmounts(tuple(_column_values(df, c) for c in cols), tuple(cols), len(df), labels=df.index)
    els = check_elements(elements)
    data = tuple(_column_values(df, e) if e in df.columns else np.zeros(len(df)) for e in els)
    bad: dict = {}
    for c in (c for c in cols if c not in els):
        for i in np.flatnonzero(_column_values(df, c) != 0).tolist():  # NaN is not a zero amount either
            bad.setdefault(i, f"contains {c}, which is not in the element set {list(els)}")
    if bad and errors == "raise":
        raise CompositionError(f"row {RowAmounts((), (), len(df), labels=df.index).label(min(bad))!r} {bad[min(bad)]}")
    if not bad:
        return RowAmounts(data, els, len(df), labels=df.index)
    keep = np.ones(len(df), dtype=bool)
    keep[list(bad)] = False
    return RowAmounts(tuple(c[keep] for c in data), els, len(df), np.flatnonzero(keep), bad, df.index)
