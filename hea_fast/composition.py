"""Alloy compositions: the formula grammar and `CompositionBatch` (DESIGN.md §4).

Grammar (whitespace anywhere is ignored)::

    formula := item+
    item    := SYMBOL [amount] | "(" formula ")" [amount]
    amount  := digits ["." digits] | "." digits, optionally followed by [eE][+-]digits

Symbols are case-sensitive element symbols (H … Og; the isotopes D and T are rejected). A missing
amount means 1; zero amounts are dropped. Amounts may be in any unit (moles, at.%, fractions): the
result is normalised to fractions summing to 1.

Group subscripts. At each nesting level the *unit sum* is the sum of the level's amounts, counting a
group as its subscript. When the unit sum is 100 or 1 (within 1e-6 relative) the formula is written
as shares (percent-like), and a group's subscript is the **group's total share**, split by the
group's internal ratios: `(CoCrCuFeNi)96Nb4` is Nb 4 % and 19.2 % of each other element. Otherwise
a subscript multiplies the group's amounts: `Ti(ZrHf)2` is Ti 1 : Zr 2 : Hf 2.

Errors raise `CompositionError` (a ValueError) naming the formula, the character position and the
reason; batch parsing collects every bad row (`CompositionBatchError.errors`) or skips them.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "ELEMENTS",
    "CompositionError",
    "CompositionBatchError",
    "CompositionBatch",
    "parse_formula",
    "as_batch",
]

# Element symbols in atomic-number order (Z = index + 1).
ELEMENTS: tuple[str, ...] = tuple(
    """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
    Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb
    Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf
    Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og""".split()
)
_Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SHARE_TOL = 1e-6


class CompositionError(ValueError):
    """A formula or composition that cannot be parsed; names the formula, position and reason."""

    def __init__(self, reason: str, formula: Any = None, position: int | None = None):
        self.reason = reason
        self.formula = formula
        self.position = position
        msg = reason
        if position is not None:
            msg += f" at position {position}"
        if formula is not None:
            msg += f" in formula {formula!r}"
        super().__init__(msg)


class CompositionBatchError(CompositionError):
    """Several rows of a batch failed; `errors` is a list of (row index, CompositionError)."""

    def __init__(self, errors: list[tuple[Any, CompositionError]], n_rows: int):
        self.errors = errors
        lines = [f"  row {i}: {e}" for i, e in errors[:20]]
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{len(errors)} of {n_rows} compositions are invalid (pass errors='skip' to drop them):\n"
            + "\n".join(lines) + more
        )


def element_z(symbol: str) -> int:
    """Atomic number of `symbol`; raises CompositionError for unknown symbols."""
    try:
        return _Z[symbol]
    except KeyError:
        raise CompositionError(f"unknown element symbol {symbol!r}") from None


# --------------------------------------------------------------------------------------------
# Reference parser (pure Python)
# --------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, reason: str, pos: int | None = None) -> CompositionError:
        return CompositionError(reason, self.text, self.pos if pos is None else pos)

    def skip_ws(self) -> None:
        t = self.text
        while self.pos < len(t) and t[self.pos].isspace():
            self.pos += 1

    def amount(self) -> float | None:
        """An optional amount; None when none follows."""
        self.skip_ws()
        t, p = self.text, self.pos
        if p >= len(t):
            return None
        if t[p] in "+-":
            q = p + 1
            while q < len(t) and t[q].isspace():
                q += 1
            if q < len(t) and (t[q].isdigit() or t[q] == "."):
                if t[p] == "-":
                    raise self.error("negative amount", p)
                raise self.error("unexpected '+' sign", p)
            raise self.error(f"unexpected character {t[p]!r}", p)
        m = _NUMBER.match(t, p)
        if m is None:
            if t[p] == ".":
                raise self.error("malformed number", p)
            return None
        end = m.end()
        if end < len(t) and t[end] == "," and end + 1 < len(t) and t[end + 1].isdigit():
            raise self.error("decimal comma (use '.' as the decimal separator)", end)
        if end < len(t) and t[end] == ".":
            raise self.error("malformed number", p)
        # 'E' followed by a lower-case letter is an element (Er, Eu, Es), not an exponent
        if end < len(t) and t[end] in "eE" and not m.group(2) and not (
                t[end] == "E" and end + 1 < len(t) and t[end + 1].islower()):
            raise self.error("malformed exponent", end)
        value = float(m.group(0))
        if not math.isfinite(value):
            raise self.error(f"non-finite amount {m.group(0)!r}", p)
        self.pos = end
        return value

    def sequence(self, depth: int) -> list[tuple[str, Any, float, bool]]:
        """Items of one level: (kind, payload, amount, explicit) with kind 'el' or 'group'."""
        items = []
        t = self.text
        while True:
            self.skip_ws()
            if self.pos >= len(t):
                if depth > 0:
                    raise self.error("unbalanced parentheses: missing ')'")
                break
            c = t[self.pos]
            if c == ")":
                if depth == 0:
                    raise self.error("unbalanced parentheses: unexpected ')'")
                break
            if c == "(":
                open_pos = self.pos
                self.pos += 1
                inner = self.sequence(depth + 1)
                if self.pos >= len(t) or t[self.pos] != ")":
                    raise self.error("unbalanced parentheses: missing ')'", open_pos)
                if not inner:
                    raise self.error("empty group '()'", open_pos)
                self.pos += 1
                amt = self.amount()
                items.append(("group", inner, 1.0 if amt is None else amt, amt is not None))
                continue
            if "A" <= c <= "Z":
                start = self.pos
                sym = c
                if self.pos + 1 < len(t) and "a" <= t[self.pos + 1] <= "z":
                    sym = t[self.pos: self.pos + 2]
                if sym not in _Z or sym in ("D", "T"):
                    raise self.error(f"unknown element symbol {sym!r}", start)
                self.pos += len(sym)
                amt = self.amount()
                items.append(("el", sym, 1.0 if amt is None else amt, amt is not None))
                continue
            if c.isdigit() or c == ".":
                raise self.error("amount without an element", self.pos)
            if c == "-":
                raise self.error("negative amount", self.pos)
            if c == ",":
                raise self.error("unexpected ',' (decimal comma? use '.')", self.pos)
            raise self.error(f"unexpected character {c!r}", self.pos)
        return items


def _is_share(total: float) -> bool:
    return abs(total - 100.0) <= _SHARE_TOL * 100.0 or abs(total - 1.0) <= _SHARE_TOL


def _evaluate(items, out: dict[str, float], scale: float) -> None:
    total = sum(a for _, _, a, _ in items)
    share = _is_share(total) and any(k == "group" for k, *_ in items)
    for kind, payload, amt, _ in items:
        if kind == "el":
            out[payload] = out.get(payload, 0.0) + scale * amt
        else:
            if amt == 0:
                continue
            if share:
                inner: dict[str, float] = {}
                _evaluate(payload, inner, 1.0)
                s = sum(inner.values())
                if s <= 0:
                    continue
                for k, v in inner.items():
                    out[k] = out.get(k, 0.0) + scale * amt * v / s
            else:
                _evaluate(payload, out, scale * amt)


def parse_amounts(formula: str) -> dict[str, float]:
    """Amounts as written (groups resolved, zeros dropped, not normalised)."""
    if not isinstance(formula, str):
        raise CompositionError(f"formula must be a string, got {type(formula).__name__}", formula)
    p = _Parser(formula)
    items = p.sequence(0)
    if not items:
        raise CompositionError("empty formula", formula)
    out: dict[str, float] = {}
    _evaluate(items, out, 1.0)
    out = {k: v for k, v in out.items() if v != 0.0}
    if not out:
        raise CompositionError("all amounts are zero", formula)
    return out


def parse_formula(formula: str) -> dict[str, float]:
    """Parse an alloy formula into {element: atomic fraction} (fractions sum to 1)."""
    amounts = parse_amounts(formula)
    total = sum(amounts.values())
    if not math.isfinite(total):
        raise CompositionError("amounts overflow to infinity", formula)
    return {k: v / total for k, v in amounts.items()}


def _validate_mapping(d: Mapping, label: Any) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        sym = str(k)
        if sym not in _Z or sym in ("D", "T"):
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
    s = sum(out.values())
    return {k: v / s for k, v in out.items()}


def _fmt_amount(pct: float) -> str:
    s = f"{pct:.6f}".rstrip("0").rstrip(".")
    return s if s else "0"


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class CompositionBatch:
    """n compositions as a dense (n, E) float64 fraction matrix over `elements` (rows sum to 1).

    `skipped`: (row index, reason) of input rows dropped by `errors="skip"`; `index`: the input
    row index of each kept row (None when every row was kept in order).
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
        els = tuple(str(e) for e in self.elements)
        if fr.shape[1] != len(els):
            raise CompositionError(f"fractions have {fr.shape[1]} columns but {len(els)} elements were given")
        for e in els:
            if e not in _Z or e in ("D", "T"):
                raise CompositionError(f"unknown element symbol {e!r}")
        if len(set(els)) != len(els):
            raise CompositionError(f"duplicate elements in {els}")
        if fr.size:
            bad = ~np.isfinite(fr)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise CompositionError(f"non-finite fraction {fr[i, j]!r} for {els[j]} in row {i}")
            if (fr < 0).any():
                i, j = np.argwhere(fr < 0)[0]
                raise CompositionError(f"negative fraction {fr[i, j]!r} for {els[j]} in row {i}")
            s = fr.sum(axis=1)
            off = np.abs(s - 1.0) > 1e-6
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise CompositionError(f"row {i} fractions sum to {s[i]!r}, not 1 (normalise first)")
        object.__setattr__(self, "fractions", fr)
        object.__setattr__(self, "elements", els)

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_formulas(cls, formulas: Iterable[str], elements: Sequence[str] | None = None,
                      errors: str = "raise") -> "CompositionBatch":
        """Parse formulas (list, tuple, pandas Series, …). errors='raise' reports every bad row at
        once (`CompositionBatchError`); errors='skip' drops them and records them in `skipped`."""
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        if isinstance(formulas, str):
            formulas = [formulas]
        labels, seq = _labels_and_values(formulas)
        dicts, bad = [], []
        for lab, f in zip(labels, seq):
            try:
                dicts.append((lab, parse_formula(f) if isinstance(f, str) else _coerce_one(f, lab)))
            except CompositionError as exc:
                bad.append((lab, exc))
        return cls._from_dicts(dicts, bad, len(seq), elements, errors)

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping], elements: Sequence[str] | None = None,
                   errors: str = "raise") -> "CompositionBatch":
        rows = list(rows)
        dicts, bad = [], []
        for i, r in enumerate(rows):
            try:
                dicts.append((i, _validate_mapping(r, r)))
            except CompositionError as exc:
                bad.append((i, exc))
        return cls._from_dicts(dicts, bad, len(rows), elements, errors)

    @classmethod
    def from_dict(cls, d: Mapping, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """One composition {element: amount} (any units) → a batch of one row."""
        return cls.from_dicts([d], elements)

    @classmethod
    def from_dataframe(cls, df, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """Element columns (symbols as column names, at.% or fractions; other columns ignored).
        Rows are normalised; NaN or negative amounts raise naming the row and column."""
        cols = [c for c in df.columns if isinstance(c, str) and c in _Z and c not in ("D", "T")]
        if not cols:
            raise CompositionError(f"no element columns among {list(df.columns)[:10]}")
        A = df[cols].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(A)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise CompositionError(f"non-finite amount {A[i, j]!r} in row {df.index[i]!r}, column {cols[j]!r}")
        if (A < 0).any():
            i, j = np.argwhere(A < 0)[0]
            raise CompositionError(f"negative amount {A[i, j]!r} in row {df.index[i]!r}, column {cols[j]!r}")
        s = A.sum(axis=1)
        if (s <= 0).any():
            i = int(np.flatnonzero(s <= 0)[0])
            raise CompositionError(f"all amounts are zero in row {df.index[i]!r}")
        A = A / s[:, None]
        order = sorted(range(len(cols)), key=lambda j: _Z[cols[j]])
        batch = cls(np.ascontiguousarray(A[:, order]), tuple(cols[j] for j in order))
        return batch.select(elements) if elements is not None else batch

    @classmethod
    def _from_dicts(cls, dicts, bad, n_rows, elements, errors):
        if elements is not None:
            els = tuple(elements)
            pos = {e: j for j, e in enumerate(els)}
            ok = []
            for lab, d in dicts:
                missing = [e for e in d if e not in pos]
                if missing:
                    bad.append((lab, CompositionError(f"element(s) {missing} not in the requested element set", d)))
                else:
                    ok.append((lab, d))
            dicts = ok
        else:
            present = {e for _, d in dicts for e in d}
            els = tuple(sorted(present, key=_Z.__getitem__))
            pos = {e: j for j, e in enumerate(els)}
        if bad and errors == "raise":
            bad.sort(key=lambda x: (str(type(x[0])), x[0]))
            raise CompositionBatchError(bad, n_rows)
        F = np.zeros((len(dicts), len(els)))
        for i, (_, d) in enumerate(dicts):
            for e, v in d.items():
                F[i, pos[e]] = v
        index = None
        if bad:
            index = np.array([lab for lab, _ in dicts], dtype=object)
            try:
                index = index.astype(np.int64)
            except (TypeError, ValueError):
                pass
        return cls(F, els, skipped=tuple((lab, str(e)) for lab, e in bad), index=index)

    # -- access ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.fractions.shape[0]

    def __getitem__(self, key) -> "CompositionBatch":
        if isinstance(key, (int, np.integer)):
            key = slice(int(key), int(key) + 1) if key >= 0 else slice(len(self) + int(key), len(self) + int(key) + 1 or None)
        return CompositionBatch(self.fractions[key], self.elements)

    def __repr__(self) -> str:
        return f"CompositionBatch(n={len(self)}, elements={list(self.elements)})"

    def select(self, elements: Sequence[str]) -> "CompositionBatch":
        """The same compositions over `elements` (reordered / extended with zero columns). Raises if a
        composition contains an element that is not in `elements`."""
        els = tuple(elements)
        pos = {e: j for j, e in enumerate(els)}
        F = np.zeros((len(self), len(els)))
        for j, e in enumerate(self.elements):
            if e in pos:
                F[:, pos[e]] = self.fractions[:, j]
            elif (self.fractions[:, j] > 0).any():
                i = int(np.flatnonzero(self.fractions[:, j] > 0)[0])
                raise CompositionError(f"row {i} contains {e}, which is not in the element set {list(els)}")
        return CompositionBatch(F, els, skipped=self.skipped, index=self.index)

    def formulas(self, decimals: int = 6) -> list[str]:
        """Canonical formulas: elements in atomic-number order, amounts in at.%, zeros omitted,
        e.g. 'Al10Co22.5Cr22.5Fe22.5Ni22.5'."""
        order = sorted(range(len(self.elements)), key=lambda j: _Z[self.elements[j]])
        out = []
        for row in self.fractions:
            parts = []
            for j in order:
                if row[j] > 0:
                    pct = round(row[j] * 100.0, decimals)
                    parts.append(self.elements[j] + _fmt_amount(pct))
            out.append("".join(parts))
        return out

    def to_dicts(self) -> list[dict[str, float]]:
        return [{e: float(v) for e, v in zip(self.elements, row) if v > 0} for row in self.fractions]

    def to_dataframe(self, percent: bool = False):
        import pandas as pd

        df = pd.DataFrame(self.fractions * (100.0 if percent else 1.0), columns=list(self.elements))
        if self.index is not None:
            df.index = self.index
        return df

    @property
    def n_components(self) -> np.ndarray:
        """Number of elements present in each composition."""
        return (self.fractions > 0).sum(axis=1)


def _labels_and_values(obj) -> tuple[list, list]:
    try:
        import pandas as pd

        if isinstance(obj, pd.Series):
            return list(obj.index), list(obj.to_numpy())
    except ImportError:  # pragma: no cover
        pass
    seq = list(obj)
    return list(range(len(seq))), seq


def _coerce_one(obj, label) -> dict[str, float]:
    if isinstance(obj, Mapping):
        return _validate_mapping(obj, label)
    if hasattr(obj, "get_el_amt_dict"):  # pymatgen Composition
        return _validate_mapping(obj.get_el_amt_dict(), str(obj))
    if obj is None or (isinstance(obj, float) and math.isnan(obj)):
        raise CompositionError("missing formula (None/NaN)", obj)
    raise CompositionError(f"cannot interpret {type(obj).__name__} {obj!r} as a composition", obj)


def as_batch(obj, elements: Sequence[str] | None = None, errors: str = "raise") -> CompositionBatch:
    """Coerce formulas (str or sequence/Series of str), dicts, a DataFrame of element columns,
    pymatgen Compositions or a CompositionBatch into a CompositionBatch."""
    if isinstance(obj, CompositionBatch):
        return obj.select(elements) if elements is not None else obj
    if isinstance(obj, str):
        return CompositionBatch.from_formulas([obj], elements, errors)
    if isinstance(obj, Mapping):
        return CompositionBatch.from_dict(obj, elements)
    if hasattr(obj, "get_el_amt_dict"):
        return CompositionBatch.from_dicts([_coerce_one(obj, str(obj))], elements)
    try:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            return CompositionBatch.from_dataframe(obj, elements)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        raise CompositionError("a bare float array has no element labels: build CompositionBatch(fractions, elements)")
    return CompositionBatch.from_formulas(obj, elements, errors)
