"""Alloy compositions: the formula grammar and `CompositionBatch` (DESIGN.md §4).

Grammar (whitespace between tokens, anything `str.isspace()` accepts, is ignored)::

    formula := item+
    item    := SYMBOL [amount] | "(" formula ")" [amount]
    amount  := ([0-9]+ ["." [0-9]*] | "." [0-9]+) [[eE] [+-]? [0-9]+]

Symbols are case-sensitive element symbols H … Og (the isotopes D and T are rejected; write H).
A missing amount means 1; zero amounts are dropped. Amounts may be in any unit (moles, at.%,
fractions): the result is normalised to atomic fractions summing to 1. `E` followed by a lower-case
letter starts an element (`Al1Er`), otherwise it is an exponent (`Al1E-2Co`). Groups nest up to
`MAX_DEPTH` (32) levels. A text that is only a missing-value marker (`NaN`, `inf`, `None`, `N/A`, …,
any case) is an error, although `NaN` would read as Na + N and `INF` as I + N + F.

Group subscripts (the group-share rule). At each nesting level the *unit sum* is the sum of that
level's amounts, a group counting as its subscript (1 when absent). When the level contains a group
and its unit sum is 100 or 1 (within 1e-6 relative), the formula is written as shares (at.% or
fractions) and a group's subscript is the **group's total share**, split by the group's internal
ratios: `(CoCrCuFeNi)96Nb4` is Nb 4 % and 19.2 % of each other element, `(FeNi)0.5Cr0.5` is Cr 50 %.
Otherwise the subscript multiplies the group's amounts, as in chemistry: `Ti(ZrHf)2` is
Ti 1 : Zr 2 : Hf 2 (20/40/40 %). The rule is applied level by level, so nested groups each follow it.

Errors raise `CompositionError` (a ValueError) naming the formula, the character position (a Python
string index) and the reason; `CompositionBatch.from_formulas` reports every bad row at once
(`CompositionBatchError.errors`) or, with `errors="skip"`, drops and records them.

Two implementations of the grammar: the pure-Python reference below (`parse_formula`, the
specification) and the compiled batch parser `hea_fast._core.parse_formulas` (csrc/cpu/parse_cpu.cpp,
multi-threaded, GIL released), which `CompositionBatch.from_formulas` uses by default. They mirror
each other statement by statement and give bit-identical fractions and identical errors
(tests/test_composition.py checks this on a hypothesis-generated corpus).
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
    "MAX_DEPTH",
    "CompositionError",
    "CompositionBatchError",
    "CompositionBatch",
    "parse_formula",
    "parse_amounts",
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
MAX_DEPTH = 32
_SHARE_TOL = 1e-6
_DIGITS = frozenset("0123456789")
# ASCII digits only: Python's \d and float() would also accept other scripts' digits.
_MANTISSA = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")
ENGINES = ("cpp", "python")


class CompositionError(ValueError):
    """A formula or composition that cannot be parsed; names the formula, position and reason.

    Attributes: `reason`, `formula`, `position` (a string index or None), and for formula errors
    `code` (a `_core.PARSE_STATUS` name such as "unknown_symbol") and `length` (characters).
    """

    def __init__(self, reason: str, formula: Any = None, position: int | None = None, *,
                 code: str | None = None, length: int = 0):
        self.reason = reason
        self.formula = formula
        self.position = position
        self.code = code
        self.length = length
        msg = reason
        if position is not None:
            msg += f" at position {position}"
        if formula is not None:
            msg += f" in formula {formula!r}"
        super().__init__(msg)


class CompositionBatchError(CompositionError):
    """Several rows of a batch failed; `errors` is a list of (row label, CompositionError) in row
    order (the label is the position, or the Series index for a pandas Series)."""

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


def _known(sym: str) -> bool:
    return sym in _Z


# --------------------------------------------------------------------------------------------
# Error messages (shared by both parsers: each reports a code, a position and a length)
# --------------------------------------------------------------------------------------------
_MESSAGES = {
    "empty": "empty formula",
    "unknown_symbol": "unknown element symbol {tok!r}",
    "unexpected_char": "unexpected character {tok!r}",
    "negative": "negative amount",
    "decimal_comma": "decimal comma (use '.' as the decimal separator)",
    "malformed_number": "malformed number {tok!r}",
    "malformed_exponent": "malformed exponent in {tok!r}",
    "nonfinite": "amount {tok!r} overflows to infinity",
    "amount_without_element": "amount without an element (a number must follow an element symbol or ')')",
    "unclosed_paren": "unbalanced parentheses: '(' is never closed",
    "unexpected_close": "unbalanced parentheses: unexpected ')'",
    "empty_group": "empty group '()'",
    "too_deep": f"groups nested deeper than {MAX_DEPTH} levels",
    "all_zero": "all amounts are zero",
    "overflow": "amounts overflow to infinity",
    "missing_value": "missing value {tok!r}, not a formula",
}
# Whole texts (whitespace aside, ASCII case ignored) that mean "no value" although some would parse
# (NaN = Na + N, INF = I + N + F).
# ('na' is not one: Na is sodium.)
_MISSING_MARKERS = frozenset(["nan", "inf", "+inf", "-inf", "infinity", "none", "null", "n/a", "<na>"])


def _error(code: str, formula: str, pos: int, length: int) -> CompositionError:
    pos = int(pos)
    length = int(length)
    tok = formula[pos: pos + length] if pos >= 0 else ""
    reason = _MESSAGES[code].format(tok=tok)
    if code == "unknown_symbol":
        if tok in ("D", "T"):
            reason += " (hydrogen isotopes are not elements here: write H)"
        elif formula.upper() == formula:
            reason += " (element symbols are case-sensitive: 'Co', not 'CO')"
    elif code == "unexpected_char" and tok == ",":
        reason += " (write decimals with '.', and nothing between elements)"
    return CompositionError(reason, formula, pos if pos >= 0 else None, code=code,
                            length=length if pos >= 0 else 0)


# --------------------------------------------------------------------------------------------
# Reference parser (pure Python). csrc/cpu/parse_cpu.cpp mirrors it statement by statement.
# --------------------------------------------------------------------------------------------
class _Fail(Exception):
    def __init__(self, code: str, pos: int, length: int):
        self.code, self.pos, self.length = code, pos, length


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        t = self.text
        while self.pos < len(t) and t[self.pos].isspace():
            self.pos += 1

    def amount(self) -> float | None:
        """An optional amount after a symbol or ')'; None when none follows."""
        self.skip_ws()
        t, p = self.text, self.pos
        m = _MANTISSA.match(t, p)
        if m is None:
            if p < len(t) and t[p] == ".":
                raise _Fail("malformed_number", p, 1)
            return None
        end = m.end()
        e = _EXPONENT.match(t, end)
        has_exp = e is not None
        if has_exp:
            end = e.end()
        c = t[end] if end < len(t) else ""
        nxt = t[end + 1] if end + 1 < len(t) else ""
        if c == ".":
            raise _Fail("malformed_number", p, end + 1 - p)
        if c == "," and nxt in _DIGITS:
            raise _Fail("decimal_comma", end, 1)
        # 'E' followed by a lower-case letter is an element (Er, Eu, Es), not an exponent
        if not has_exp and c in ("e", "E") and not (c == "E" and "a" <= nxt <= "z"):
            raise _Fail("malformed_exponent", p, end + 1 - p + (1 if nxt in ("+", "-") else 0))
        value = float(t[p:end])
        if not math.isfinite(value):
            raise _Fail("nonfinite", p, end - p)
        self.pos = end
        return value

    def level(self, depth: int) -> list:
        """Items of one nesting level: (0, inner items, subscript) for a group, (Z, symbol, amount)
        for an element. Returns at the end of the text or at a ')' (not consumed)."""
        items: list = []
        t = self.text
        n = len(t)
        while True:
            self.skip_ws()
            if self.pos >= n:
                break
            c = t[self.pos]
            if c == ")":
                if depth == 0:
                    raise _Fail("unexpected_close", self.pos, 1)
                break
            if c == "(":
                open_ = self.pos
                if depth + 1 > MAX_DEPTH:
                    raise _Fail("too_deep", open_, 1)
                self.pos += 1
                inner = self.level(depth + 1)
                if self.pos >= n:
                    raise _Fail("unclosed_paren", open_, 1)
                if not inner:
                    raise _Fail("empty_group", open_, 1)
                self.pos += 1
                amt = self.amount()
                items.append((0, inner, 1.0 if amt is None else amt))
                continue
            if "A" <= c <= "Z":
                k = 2 if self.pos + 1 < n and "a" <= t[self.pos + 1] <= "z" else 1
                sym = t[self.pos: self.pos + k]
                z = _Z.get(sym)
                if z is None:
                    raise _Fail("unknown_symbol", self.pos, k)
                self.pos += k
                amt = self.amount()
                items.append((z, sym, 1.0 if amt is None else amt))
                continue
            if c in _DIGITS or c == ".":
                raise _Fail("amount_without_element", self.pos, 1)
            if c == "-":
                q = self.pos + 1
                while q < n and t[q].isspace():
                    q += 1
                if q < n and (t[q] in _DIGITS or t[q] == "."):
                    raise _Fail("negative", self.pos, 1)
            raise _Fail("unexpected_char", self.pos, 1)
        return items


def _evaluate(items: list, out: dict[str, float], scale: float) -> None:
    """Resolve one level into `out` (the group-share rule; see the module docstring). Explicit
    left-to-right sums, not sum(): Python >= 3.12 compensates sum() of floats, the C++ does not."""
    total = 0.0
    has_group = False
    for z, _, a in items:
        total += a
        has_group = has_group or z == 0
    share = has_group and (abs(total - 100.0) <= _SHARE_TOL * 100.0 or abs(total - 1.0) <= _SHARE_TOL)
    for z, payload, amt in items:
        if z:
            out[payload] = out.get(payload, 0.0) + scale * amt
        elif amt == 0:
            continue
        elif share:
            inner: dict[str, float] = {}
            _evaluate(payload, inner, 1.0)
            s = 0.0
            for v in inner.values():
                s += v
            if s <= 0:
                continue
            for k, v in inner.items():
                out[k] = out.get(k, 0.0) + scale * amt * v / s
        else:
            _evaluate(payload, out, scale * amt)


def parse_amounts(formula: str) -> dict[str, float]:
    """Amounts as written (groups resolved, zeros dropped, not normalised), in order of first
    appearance."""
    if not isinstance(formula, str):
        raise CompositionError(f"formula must be a string, got {type(formula).__name__}", formula)
    text = formula.strip()
    if text.isascii() and text.lower() in _MISSING_MARKERS:
        start = len(formula) - len(formula.lstrip())
        raise _error("missing_value", formula, start, len(text))
    try:
        items = _Parser(formula).level(0)
    except _Fail as f:
        raise _error(f.code, formula, f.pos, f.length) from None
    if not items:
        raise _error("empty", formula, -1, 0)
    out: dict[str, float] = {}
    _evaluate(items, out, 1.0)
    out = {k: v for k, v in out.items() if v != 0.0}  # NaN (inf * 0) is kept: the sum check fails
    if not out:
        raise _error("all_zero", formula, -1, 0)
    return out


def parse_formula(formula: str) -> dict[str, float]:
    """Parse one alloy formula into {element: atomic fraction} (fractions sum to 1, elements in
    order of first appearance). The pure-Python reference of the grammar in the module docstring.

    >>> parse_formula("(CoCrCuFeNi)96Nb4")["Nb"]
    0.04
    >>> parse_formula("Ti(ZrHf)2")
    {'Ti': 0.2, 'Zr': 0.4, 'Hf': 0.4}
    """
    amounts = parse_amounts(formula)
    total = 0.0
    for v in amounts.values():
        total += v
    if not math.isfinite(total):
        raise _error("overflow", formula, -1, 0)
    return {k: v / total for k, v in amounts.items()}


def _validate_mapping(d: Mapping, label: Any) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        sym = str(k)
        if not _known(sym):
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


def _check_elements(elements: Sequence[str]) -> tuple[str, ...]:
    if isinstance(elements, str):
        raise CompositionError(f"elements must be a sequence of symbols, not the string {elements!r}")
    els = tuple(str(e) for e in elements)
    for e in els:
        if not _known(e):
            raise CompositionError(f"unknown element symbol {e!r} in elements={list(els)}")
    if len(set(els)) != len(els):
        raise CompositionError(f"duplicate elements in {list(els)}")
    return els


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
        els = _check_elements(self.elements)
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

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_formulas(cls, formulas: Iterable[str], elements: Sequence[str] | None = None,
                      errors: str = "raise", engine: str = "cpp", threads: int | None = None
                      ) -> "CompositionBatch":
        """Parse formulas (list, tuple, NumPy array, pandas Series, …) into a batch.

        elements: the output columns in this order (a formula with another element is a bad row);
        None: every element that occurs, in atomic-number order.
        errors: "raise" reports every bad row at once (`CompositionBatchError`, label + reason);
        "skip" drops them, recording (label, reason) in `skipped` and the kept labels in `index`.
        Labels are positions, or the index of a pandas Series.
        engine: "cpp" (default) parses with the compiled multi-threaded parser; "python" with the
        pure-Python reference. Both give identical results. threads: for "cpp" (None: all cores).
        Items that are not strings (dicts, pymatgen Compositions) are accepted row by row.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        if isinstance(formulas, str):
            formulas = [formulas]
        values, labels = _values_and_labels(formulas)
        els = None if elements is None else _check_elements(elements)
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
        if els is None:
            els = tuple(ELEMENTS[z - 1] for z in zcols)
        if not status.any():
            return cls._trusted(F, els)
        names = core.PARSE_STATUS
        bad, extra = [], []
        for i in np.flatnonzero(status).tolist():
            code = names[status[i]]
            f = values[i]
            if code == "not_a_string":  # dicts, pymatgen Compositions, None, surrogates: in Python
                try:
                    extra.append((i, parse_formula(f) if isinstance(f, str) else _coerce_one(f, f)))
                except CompositionError as exc:
                    bad.append((i, exc))
            elif code == "outside_set":
                bad.append((i, _outside_error(parse_formula(f), els, f)))
            else:
                bad.append((i, _error(code, f, pos[i], length[i])))
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
        return cls._from_dicts(dicts, bad, len(rows), None if elements is None else _check_elements(elements),
                               errors, None, rows)

    @classmethod
    def from_dict(cls, d: Mapping, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """One composition {element: amount} (any units) → a batch of one row."""
        return cls.from_dicts([d], elements)

    @classmethod
    def from_dataframe(cls, df, elements: Sequence[str] | None = None) -> "CompositionBatch":
        """Element columns (symbols as column names, at.% or fractions; other columns ignored).
        Rows are normalised; NaN or negative amounts raise naming the row and column."""
        cols = [c for c in df.columns if isinstance(c, str) and _known(c)]
        if not cols:
            raise CompositionError(f"no element columns among {list(df.columns)[:10]}")
        A = df[cols].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(A)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise CompositionError(f"non-finite amount {float(A[i, j])!r} in row {df.index[i]!r}, column {cols[j]!r}")
        if (A < 0).any():
            i, j = np.argwhere(A < 0)[0]
            raise CompositionError(f"negative amount {float(A[i, j])!r} in row {df.index[i]!r}, column {cols[j]!r}")
        s = A.sum(axis=1)
        if (s <= 0).any():
            i = int(np.flatnonzero(s <= 0)[0])
            raise CompositionError(f"all amounts are zero in row {df.index[i]!r}")
        A = A / s[:, None]
        order = sorted(range(len(cols)), key=lambda j: _Z[cols[j]])
        batch = cls(np.ascontiguousarray(A[:, order]), tuple(cols[j] for j in order))
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
        els = _check_elements(elements)
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


def _values_and_labels(obj) -> tuple[list, Any]:
    """(list of items, row labels or None for positions)."""
    try:
        import pandas as pd

        if isinstance(obj, pd.Series):
            return obj.tolist(), obj.index
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, np.ndarray):
        return obj.tolist(), None
    if type(obj) in (list, tuple):  # read only (the compiled parser takes its own tuple)
        return obj, None
    return list(obj), None


def _is_missing(obj) -> bool:
    if obj is None or (isinstance(obj, float) and math.isnan(obj)):
        return True
    return type(obj).__name__ in ("NAType", "NaTType")  # pandas missing markers


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
        return CompositionBatch.from_dicts([obj], elements)
    try:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            return CompositionBatch.from_dataframe(obj, elements)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        raise CompositionError("a bare float array has no element labels: build CompositionBatch(fractions, elements)")
    return CompositionBatch.from_formulas(obj, elements, errors)
