"""The formula grammar: the pure-Python reference parser and its error messages (DESIGN.md §4).

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

Published notations (`normalise_notation`). A text the grammar rejects is tried once more after
rewriting notations found in papers and compilations that have one reading: Unicode subscript
digits (`AlCoCrFeNi₂.₁`), LaTeX subscripts (`Al$_{0.5}$CoCrFeNi`, `Al_{0.5}…`, `\\mathrm{Al}`),
square brackets as group parentheses (`[CoCrFeNi]96Nb4`), an element's amount in parentheses
(`Al(0.5)CoCrFeNi`), hyphens or dashes between components
(`Al-Co-Cr-Fe-Ni`, `Al0.5–CoCrFeNi`), a trailing `at.%`, a trailing remark in parentheses none of
whose words reads as element symbols (`CoCrFeMnNi (as-cast)`, `Al0.3CoCrFeNi (aged 700 C)`,
`CoCrFeMnNi (Cantor alloy)`), trailing
footnote markers (`CoCrFeMnNi*`, `HfNbTaTiZr†`) and a family written with variables and their values
(`AlxCoCrFeNi (x = 0.3)`, `AlxCoCrFeNiTiy, x = 0.5, y = 0.2`: every variable x, y, z used in the
formula must have a value and every value a variable; a variable without a value stays an error). Trailing phase and processing labels
(`CoCrFeNi (FCC)`, `AlCoCrFeNi (BCC+B2)`, `NbMoTaW BCC`, `…-HIP`; `strip_labels`) are dropped before
parsing, because several are valid element sequences (FCC = F + C + C, HIP = H + I + P): a label is
never read as elements. A dash before a number is not a separator
(`Ti-6Al-4V` names an alloy in weight percent; it stays a "negative amount" error, with a hint), and
a text that mentions wt.% is never rewritten (its error says why). If the rewritten text fails too,
the error is the original text's, at its position. Texts the grammar accepts are never rewritten,
so the fallback costs nothing on clean input (the batch parser re-reads in Python only the rows
that hold B, C, F, H, I, P or S and end in a label).

Errors raise `CompositionError` (a ValueError) naming the formula, the character position (a Python
string index) and the reason; `CompositionBatch.from_formulas` reports every bad row at once
(`CompositionBatchError.errors`) or, with `errors="skip"`, drops and records them.

Two implementations of the grammar: the pure-Python reference below (`parse_formula`, the
specification) and the compiled batch parser `hea_fast._core.parse_formulas` (csrc/cpu/parse_cpu.cpp,
multi-threaded, GIL released), which `CompositionBatch.from_formulas` uses by default. They mirror
each other statement by statement and give bit-identical fractions and identical errors
(tests/test_parse.py checks this on a hypothesis-generated corpus). `parse_formula_reference` (the
grammar alone) is the reference of the compiled kernel; `parse_formula` adds the published-notation
retry, which batches (`hea_fast.composition`) apply to the rows the kernel rejects.
"""
from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "ELEMENTS",
    "MAX_DEPTH",
    "ENGINES",
    "MESSAGES",
    "CompositionError",
    "CompositionBatchError",
    "element_z",
    "is_element",
    "error_for_status",
    "parse_formula",
    "parse_amounts",
    "parse_formula_reference",
    "normalise_notation",
    "family_variable",
    "parse_rejected",
    "strip_labels",
    "labelled_rows",
    "LABEL_ELEMENTS",
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
            f"{len(errors)} of {n_rows} compositions are invalid (the errors= option of the function called "
            "skips them or gives their rows NaN):\n"
            + "\n".join(lines) + more
        )


def element_z(symbol: str) -> int:
    """Atomic number of `symbol`; raises CompositionError for unknown symbols."""
    try:
        return _Z[symbol]
    except KeyError:
        raise CompositionError(f"unknown element symbol {symbol!r}") from None


def is_element(sym: str) -> bool:
    """True for a known element symbol (case-sensitive; D and T are not elements here)."""
    return sym in _Z


# --------------------------------------------------------------------------------------------
# Error messages (shared by both parsers: each reports a code, a position and a length)
# --------------------------------------------------------------------------------------------
MESSAGES = {
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


def error_for_status(code: str, formula: str, pos: int, length: int) -> CompositionError:
    pos = int(pos)
    length = int(length)
    tok = formula[pos: pos + length] if pos >= 0 else ""
    reason = MESSAGES[code].format(tok=tok)
    if code == "unknown_symbol":
        if tok in ("D", "T"):
            reason += " (hydrogen isotopes are not elements here: write H)"
        elif formula.upper() == formula:
            reason += " (element symbols are case-sensitive: 'Co', not 'CO')"
    elif code == "unexpected_char" and tok == ",":
        reason += " (write decimals with '.', and nothing between elements)"
    elif code == "negative" and _WT_NAME.search(formula):
        reason += (" (a dash before a number reads as a negative amount; names like 'Ti-6Al-4V' give weight "
                   "percent: convert to atomic amounts)")
    if _WT_PERCENT.search(formula):
        reason += " (weight percent is not read: convert to atomic amounts)"
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


_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_LATEX_TEXT = re.compile(r"\\(?:mathrm|text|textrm|rm)\s*\{([^{}]*)\}")
_LATEX_SUB = re.compile(r"_\{([^{}]*)\}")
_LATEX_SUB_BARE = re.compile(r"_(?=[0-9.]|[xyz](?![a-z]))")  # "Al_0.5", and "Al_x" of a family
# a dash (ASCII hyphen, Unicode hyphens, en/em dash) between a component and the next element or group
_SEPARATOR = re.compile(r"(?<=[A-Za-z0-9.)\]])\s*[-\u2010\u2011\u2012\u2013\u2014]\s*(?=[A-Z(\[])")
# an amount in parentheses after an element or group, "Al(0.5)CoCrFeNi": a group holding only a
# number is no formula, so the reading is unique
_PAREN_AMOUNT = re.compile(r"(?<=[A-Za-z)])\(\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*\)")
_AT_PERCENT = re.compile(r"\s*\(?\s*at\s*\.?\s*%\s*\)?\s*$", re.IGNORECASE)
# a trailing remark in parentheses: "(as-cast)", "(aged 700 C)", "(Cantor alloy)"; an "=" makes it a
# variable's value ("(x = 0.3)"), which _VALUES reads instead. A remark that may name part of the
# composition is never dropped (`_drop_remark`): one with a word that reads as element symbols
# ("(balance Fe)", "(Al-free)", "(doped with 0.5 C)", "(HIP)", which would be a group) or a balance
# ("(bal.)") stays an error
_REMARK = re.compile(r"\s*\(\s*([A-Za-z][^()=]*)\)\s*$")
_TEMPERATURE = re.compile(r"[0-9]{3,4}\s*\u00b0?\s*[CKF]\b|\u00b0\s*[CF]\b")
_BALANCE = re.compile(r"\bbal", re.IGNORECASE)
# a "remark" that may stand for the amount of what precedes it: nan, inf, a lone variable letter
_AMOUNT_LIKE = re.compile(r"[+-]?(?:nan|inf(?:inity)?)|[A-Za-z]", re.IGNORECASE)
# trailing footnote markers of a table: "CoCrFeMnNi*", "HfNbTaTiZr†", "NbMoTaW **"
_FOOTNOTE = re.compile(r"\s*[*\u2020\u2021\u00a7#]+\s*$")
# a family written with variables and their values: "AlxCoCrFeNi (x = 0.3)", "AlxCoCrFeNi, x=0.3",
# "AlxCoCrFeNiTiy (x = 0.5, y = 0.2)": the trailing values, then each variable after an element
# symbol or a group replaced by its value (variables x, y, z: no element symbol holds them save Dy,
# whose y is taken for a variable only when the result parses; a variable without a value stays an error)
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_VALUES = re.compile(rf"[\s,;]*\(?\s*([xyz]\s*=\s*{_NUMBER}(?:\s*[,;]\s*[xyz]\s*=\s*{_NUMBER})*)\s*\)?\s*$")
_VARIABLE = re.compile(r"(?<=[A-Za-z)])([xyz])(?![a-z])")
# Phase and processing labels that compilations append to a formula: "CoCrFeNi (FCC)",
# "AlCoCrFeNi (BCC+B2)", "NbMoTaW BCC", "Al0.3CoCrFeNi-HIP". Several are valid element sequences
# (FCC = F + C + C, BCC = B + C + C, HCP = H + C + P, HIP = H + I + P, B2 = boron 2), so the grammar
# alone would silently add elements. In parentheses or brackets every label below counts; written
# bare after a space or a dash only the unambiguous ones of three or more letters do, so a real
# component such as " B2" (boron) is kept.
_LABELS_BARE = ("FCC", "BCC", "HCP", "BCT", "HIP", "SPS", "SLM", "LPBF", "EBM")
_LABELS = _LABELS_BARE + ("B2", "L12", "L1_2", "L21", "L2_1", "D03", "DO3", "D0_3", "C14", "C15", "IM", "SSS", "SS",
                          "AM", "HIPed", "AC", "WQ", "AQ", "FC", "HT", "CR", "HR", "CW", "DED", "AR")


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_LAB = rf"(?:{_alternation(_LABELS)})(?![A-Za-z0-9_])"
_LAB_BARE = rf"(?:{_alternation(_LABELS_BARE)})(?![A-Za-z0-9_])"
_LAB_LIST = rf"{_LAB}(?:\s*[+/,&]\s*{_LAB})*"
_LABEL_TAIL = re.compile(
    rf"(?:\s*[(\[]\s*{_LAB_LIST}\s*[)\]]"                          # (FCC), [BCC+B2], (HIP)
    rf"|(?<=[A-Za-z0-9.)\]])(?:\s+|\s*[-\u2010-\u2014]\s*){_LAB_BARE}(?:\s*[+/]\s*{_LAB})*)"  # " FCC", "-HIP"
    rf"\s*$")
#: The elements a label read as a formula adds (the batch parser re-reads rows holding one).
LABEL_ELEMENTS = frozenset("B C F H I P S".split())
_WT_NAME = re.compile(r"[A-Za-z)]\s*-\s*[0-9.]+\s*[A-Z]")
_WT_PERCENT = re.compile(r"wt\s*\.?\s*%|mass\s*%|weight\s*%", re.IGNORECASE)


def normalise_notation(formula: str) -> str:
    """`formula` with the published notations of the module docstring rewritten into the grammar
    (subscript digits, LaTeX subscripts and text macros, square brackets, amounts in parentheses,
    dashes between components,
    a trailing at.% or a remark in parentheses that names no element); other text is left alone. The parsers call
    it only on texts the grammar rejects.

    >>> normalise_notation("Al$_{0.5}$Co-Cr-Fe-Ni₂")
    'Al0.5CoCrFeNi2'
    """
    if _WT_PERCENT.search(formula):  # weight percent must not be read as atomic amounts
        return formula
    t = formula.translate(_SUBSCRIPTS)
    t = _LATEX_TEXT.sub(r"\1", t)
    t = t.replace("$", "")
    t = _LATEX_SUB.sub(r"\1", t)
    t = _LATEX_SUB_BARE.sub("", t)
    t = t.replace("[", "(").replace("]", ")")
    t = _FOOTNOTE.sub("", t)
    t = _substitute_variables(t)
    t = _PAREN_AMOUNT.sub(r"\1", t)
    t = _SEPARATOR.sub("", t)
    return strip_labels(_AT_PERCENT.sub("", _drop_remark(t)))


def _names_elements(word: str) -> bool:
    """Whether `word` (letters only) can be read as a run of element symbols ("Ni", "NbTa", "C", "In")."""
    ok = [True] + [False] * len(word)  # ok[i]: word[:i] splits into element symbols
    for i in range(len(word)):
        if ok[i] and word[i].isupper():
            for k in (1, 2):
                if i + k <= len(word) and (k == 1 or word[i + 1].islower()) and is_element(word[i:i + k]):
                    ok[i + k] = True
    return ok[-1]


def _drop_remark(t: str) -> str:
    """`t` without a trailing remark in parentheses ("(as-cast)", "(Cantor alloy)", "(aged 700 C)"),
    unless the remark may name part of the composition: a word that reads as element symbols ("Fe",
    "NbTa", "C", "In") other than a temperature's unit ("700 C", "1200 K", "°C"), or a balance; nor
    one that may stand for an amount ("Nb(nan)", "Nb(inf)", "Nb(x)")."""
    m = _REMARK.search(t)
    if m is None or _AMOUNT_LIKE.fullmatch(m.group(1).strip()):
        return t
    words = _TEMPERATURE.sub("", m.group(1))
    if any(_names_elements(w) for w in re.findall(r"[A-Za-z]+", words)) or _BALANCE.search(words):
        return t
    return t[:m.start()]


def family_variable(formula: str) -> str | None:
    """The first variable (x, y or z) written after an element symbol or a group in `formula`, as in
    the family notation `AlxCoCrFeNi`, or None."""
    m = _VARIABLE.search(formula)
    return None if m is None else m.group(1)


def _substitute_variables(t: str) -> str:
    """`t` with trailing variable values ("(x = 0.3)") applied to the variables after element symbols
    or groups ("Alx" -> "Al0.3"); unchanged when it has no such values or a value names a variable
    the formula does not use."""
    m = _VALUES.search(t)
    if m is None or m.start() == 0:
        return t
    values = {}
    for part in re.split(r"[,;]", m.group(1)):
        var, num = (x.strip() for x in part.split("="))
        values[var] = num
    head = t[:m.start()]
    used = set(_VARIABLE.findall(head))
    if not used or not set(values) <= used or not used <= set(values):
        return t
    return _VARIABLE.sub(lambda v: values[v.group(1)], head)


def strip_labels(formula: str) -> str:
    """`formula` without trailing phase or processing labels (see `_LABELS`): "(FCC)", "[BCC+B2]",
    " HCP", "-HIP", repeated ("(FCC) (HIP)"); other text is returned unchanged.

    >>> strip_labels("AlCoCrFeNi (BCC+B2)")
    'AlCoCrFeNi'
    >>> strip_labels("Fe40Mn40Co10Cr10 B2")  # bare "B2" is boron
    'Fe40Mn40Co10Cr10 B2'
    """
    t = formula
    while t:
        end = t.rstrip()[-1:]
        if not (end in (")", "]") or end.isupper()):  # every label ends so: most formulas skip the search
            break
        m = _LABEL_TAIL.search(t)
        if m is None:
            break
        t = t[:m.start()]
    return t


def labelled_rows(F, elements, status, values) -> list:
    """Rows of a kernel batch (fractions `F` (n, E) over `elements`, per-row `status`, texts
    `values`) that the grammar read (status 0) with a trailing label as elements: they hold an
    element of `LABEL_ELEMENTS` and `strip_labels` changes their text. The batch re-reads them."""
    cols = [j for j, e in enumerate(elements) if e in LABEL_ELEMENTS]
    if not cols:
        return []
    cand = ((status == 0) & (F[:, cols] != 0).any(axis=1)).nonzero()[0]
    return [i for i in cand.tolist() if isinstance(values[i], str) and strip_labels(values[i]) != values[i]]


def _items(formula: str, notations: bool) -> list:
    """The parsed items of `formula`; with `notations`, trailing labels are dropped first
    (`strip_labels`) and a text the grammar rejects is retried once with `normalise_notation`.
    The error is the original text's."""
    text = strip_labels(formula) if notations else formula
    try:
        return _Parser(text).level(0)
    except _Fail as f:
        failure = f
    alt = normalise_notation(formula) if notations else formula
    if alt != formula and alt.strip():
        try:
            return _Parser(alt).level(0)
        except _Fail:
            pass
    raise error_for_status(failure.code, formula, failure.pos, failure.length) from None


def parse_rejected(formula: str, code: str, pos: int, length: int):
    """A batch's answer for a text the compiled kernel rejected with status (code, pos, length):
    its fractions (dict) when a published notation makes it readable (`parse_formula`'s retry),
    else the `CompositionError`. code "label": a text the kernel read with a trailing label
    (`labelled_rows`), read again without it."""
    if code == "label" or (code != "missing_value" and normalise_notation(formula) != formula):
        try:
            return parse_formula(formula)
        except CompositionError as exc:
            return exc
    return error_for_status(code, formula, pos, length)


def parse_amounts(formula: str, notations: bool = True) -> dict[str, float]:
    """Amounts as written (groups resolved, zeros dropped, not normalised), in order of first
    appearance. notations=False: the grammar alone, without the published-notation retry."""
    if not isinstance(formula, str):
        raise CompositionError(f"formula must be a string, got {type(formula).__name__}", formula)
    text = formula.strip()
    if text.isascii() and text.lower() in _MISSING_MARKERS:
        start = len(formula) - len(formula.lstrip())
        raise error_for_status("missing_value", formula, start, len(text))
    items = _items(formula, notations)
    if not items:
        raise error_for_status("empty", formula, -1, 0)
    out: dict[str, float] = {}
    _evaluate(items, out, 1.0)
    out = {k: v for k, v in out.items() if v != 0.0}  # NaN (inf * 0) is kept: the sum check fails
    if not out:
        raise error_for_status("all_zero", formula, -1, 0)
    return out


def parse_formula(formula: str) -> dict[str, float]:
    """Parse one alloy formula into {element: atomic fraction} (fractions sum to 1, elements in
    order of first appearance): the grammar of the module docstring, with the published-notation
    retry (`normalise_notation`) for texts the grammar rejects.

    >>> parse_formula("(CoCrCuFeNi)96Nb4")["Nb"]
    0.04
    >>> parse_formula("Ti(ZrHf)2")
    {'Ti': 0.2, 'Zr': 0.4, 'Hf': 0.4}
    """
    return _fractions(parse_amounts(formula), formula)


def parse_formula_reference(formula: str) -> dict[str, float]:
    """The reference of the compiled kernel (`hea_fast._core.parse_formulas`, statement by
    statement): `parse_formula` without the published-notation retry, i.e. the grammar alone.
    Batches (`CompositionBatch.from_formulas`, either engine) add the retry on the rows the kernel
    rejects."""
    return _fractions(parse_amounts(formula, notations=False), formula)


def _fractions(amounts: dict, formula: str) -> dict[str, float]:
    total = 0.0
    for v in amounts.values():
        total += v
    if not math.isfinite(total):
        raise error_for_status("overflow", formula, -1, 0)
    return {k: v / total for k, v in amounts.items()}

