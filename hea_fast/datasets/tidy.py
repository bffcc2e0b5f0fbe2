"""Tidy-frame helpers shared by the dataset loaders: phase vocabulary, formula-string repairs,
parsing through the composition batch parser, composition keys, duplicate and conflict flags.

A loader's frame has one row per record: ``formula`` (canonical, at.%), one float64 column per
element holding atomic fractions (``df.attrs["elements"]``), labels, ``source``, ``parse_error``
(``""`` or the reason; such rows keep NaN fractions), ``composition_id`` (equal ids = the same
composition at 0.1 at.%), ``duplicate``, ``label_conflict`` / ``phase_conflict`` and ``cleaning``
(a note on any repair applied to the row). `tidy_frame` assembles it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hea_fast.composition import ELEMENTS, CompositionBatch, parse_amounts

__all__ = ["PHASE_TOKENS", "SOLID_SOLUTIONS", "ATOMIC_NUMBER", "normalize_phase", "single_phase_from",
           "fix_leading_zero", "fill_group_balance", "FORMULA_REPAIRS", "clean_strings", "element_columns",
           "composition_batch", "Parsed", "parse_strings", "canonical_formulas", "composition_keys",
           "label_conflicts", "tidy_frame"]

# ---------------------------------------------------------------------------------------------
# Phases
PHASE_TOKENS = ("FCC", "BCC", "HCP", "IM", "AM", "MULTI", "OTHER")
"""Common phase vocabulary, in the order tokens are written: FCC/BCC/HCP solid solutions, IM
(intermetallic, incl. ordered B2/L12/Laves/σ and unspecified secondary phases), AM (amorphous),
MULTI (multi-phase, constituents not given), OTHER (reported but not classifiable). A phase string
joins tokens with "+" in this order, repeating a token for several phases of one lattice
("BCC+BCC")."""
SOLID_SOLUTIONS = ("FCC", "BCC", "HCP")
_TOKEN_RANK = {t: i for i, t in enumerate(PHASE_TOKENS)}
_TOKEN_ALIASES = {
    "FCC": "FCC", "BCC": "BCC", "HCP": "HCP", "IM": "IM", "AM": "AM", "AMOR": "AM", "AMORPHOUS": "AM",
    "MULTI": "MULTI", "OTHER": "OTHER", "B2": "IM", "L12": "IM", "LAVES": "IM", "SEC.": "IM", "SEC": "IM",
    "SIGMA": "IM",
}


def normalize_phase(label) -> str | None:
    """Map a source's phase string to the common vocabulary (see PHASE_TOKENS); None when empty.

    ``"BCC+FCC"`` → ``"FCC+BCC"``, ``"FCC + Im"`` → ``"FCC+IM"``, ``"bcc"`` → ``"BCC"``,
    ``"BCC+Laves+Sec."`` → ``"BCC+IM+IM"``, ``"amor"`` → ``"AM"``. Raises ValueError naming an
    unknown token.
    """
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    s = str(label).replace("\xa0", " ").strip()
    if not s:
        return None
    tokens = []
    for part in s.split("+"):
        t = part.strip().upper()
        if not t:
            continue
        if t not in _TOKEN_ALIASES:
            raise ValueError(f"unknown phase token {part.strip()!r} in phase label {label!r}")
        tokens.append(_TOKEN_ALIASES[t])
    if not tokens:
        return None
    return "+".join(sorted(tokens, key=_TOKEN_RANK.__getitem__))


def single_phase_from(phase: pd.Series) -> pd.Series:
    """1 when the phase string is exactly one solid-solution phase, 0 otherwise, <NA> when unknown
    (int64 when nothing is unknown, else nullable Int64)."""
    out = phase.isin(SOLID_SOLUTIONS).astype("Int64")
    out[phase.isna()] = pd.NA
    if not out.isna().any():
        out = out.astype(np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# Formula strings as the sources wrote them
_LEADING_ZERO = re.compile(r"(?<=[A-Za-z])0(\d+)(?![\d.])")


def fix_leading_zero(s: str) -> str:
    """'Ti025' and 'Nb06' are typos for Ti0.25 / Nb0.6 (a molar amount never starts with 0 then a
    digit); see gao2017_feng2021 and peivaste2023_compilation PROVENANCE."""
    return _LEADING_ZERO.sub(r"0.\1", s)


# Group formulas the grammar cannot read as meant (checked against the source's own fractions).
FORMULA_REPAIRS = {
    # top level sums to 100.2, so the grammar multiplies the group (C 0.02 %); Machaka's fraction
    # columns give C = 2.2/100.2: the group subscript is its share
    "(Fe40Mn40Co10Cr10)98C2.2": ("Fe39.2Mn39.2Co9.8Cr9.8C2.2", "group subscript read as its at.% share"),
    # its twin in Machaka is '(FeCoNi)86-Al7Ti7' (fractions Al 0.07, Ti 0.07): the second group's
    # subscript is per element
    "(FeCoNi)86(AlTi)7": ("(FeCoNi)86Al7Ti7", "'(AlTi)7' read as Al7Ti7 like its twin (FeCoNi)86-Al7Ti7"),
}
_BARE_GROUP = re.compile(r"\(([^()]*)\)(?![\d.])")


def fill_group_balance(f: str) -> str:
    """'Sr20Ca20Yb20(Li0.55Mg0.45)Zn20': the other amounts are at.% summing to 80, so the group
    without a subscript is the 20 % balance (its molar twin SrCaYb(Li0.55Mg0.45)Zn says the same).
    Without this the group would count as 1 part in 81."""
    m = list(_BARE_GROUP.finditer(f))
    if len(m) != 1:
        return f
    rest = f[: m[0].start()] + f[m[0].end():]
    try:
        total = sum(parse_amounts(rest).values())
    except ValueError:
        return f
    if not (50.0 < total <= 99.0):
        return f
    return f"{f[: m[0].end()]}{100.0 - total:g}{f[m[0].end():]}"


def clean_strings(s: pd.Series) -> tuple[pd.Series, list]:
    """Whitespace (incl. NBSP/tabs) removed, hyphen separators dropped, leading-zero typos and the
    known group formulas repaired; returns the strings and a note per row (``""`` when untouched)."""
    out, notes = [], []
    for v in s.astype(str):
        w = re.sub(r"\s+", "", v.replace("\xa0", " "))
        note = []
        h = re.sub(r"(?<=\d)-(?=[A-Z(])", "", w)  # '(FeCoNi)86-Al7Ti7': hyphen used as a separator
        if h != w:
            note.append(f"hyphen separator removed ({w} -> {h})")
        f = fix_leading_zero(h)
        if f != h:
            note.append(f"leading-zero amount read as decimal ({h} -> {f})")
        if f in FORMULA_REPAIRS:
            f2, why = FORMULA_REPAIRS[f]
            note.append(f"{why} ({f} -> {f2})")
            f = f2
        g = fill_group_balance(f)
        if g != f:
            note.append(f"group without subscript in an at.% formula takes the balance ({f} -> {g})")
            f = g
        if re.search(r"(?<=[A-Za-z])0(?![.\d])", f):
            note.append("zero amount dropped")
        out.append(f)
        notes.append("; ".join(note))
    return pd.Series(out, index=s.index), notes


# ---------------------------------------------------------------------------------------------
# Compositions
#: element symbol -> atomic number (the order of element columns when a source does not fix one)
ATOMIC_NUMBER = {s: i + 1 for i, s in enumerate(ELEMENTS)}


def element_columns(df: pd.DataFrame) -> list[str]:
    """The element-fraction columns of a loader's frame (``df.attrs["elements"]`` when present)."""
    els = df.attrs.get("elements")
    if els:
        return [e for e in els if e in df.columns]
    return [c for c in df.columns if c in ATOMIC_NUMBER]


def composition_batch(df: pd.DataFrame, *, drop_errors: bool = True) -> CompositionBatch:
    """A CompositionBatch of the frame's element-fraction columns.

    Rows with a ``parse_error`` (NaN fractions) are left out when `drop_errors` (default), so the
    batch aligns with ``df[df.parse_error == ""]``; otherwise they raise.
    """
    cols = element_columns(df)
    sub = df
    if drop_errors and "parse_error" in df.columns:
        sub = df[df["parse_error"] == ""]
    frac = np.ascontiguousarray(sub[cols].to_numpy(np.float64))
    return CompositionBatch(frac, tuple(cols))


@dataclass
class Parsed:
    """Parsed formula strings: fractions with NaN rows where parsing failed, and per-row strings."""

    fractions: np.ndarray  # (n, E) float64
    elements: tuple
    formula: list  # canonical formulas ("" for failed rows)
    error: list  # "" or the reason


def parse_strings(raw, elements: tuple | None = None) -> Parsed:
    """Parse formula strings with the batch parser (`CompositionBatch.from_formulas`), each unique
    string once, into a fraction matrix.

    Elements default to every element that occurs, ordered by atomic number. Failures become NaN
    rows with the CompositionError message in `error`; missing values (None/NaN) parse as "".
    """
    raw = ["" if (r is None or (isinstance(r, float) and np.isnan(r))) else str(r) for r in raw]
    codes, uniq = pd.factorize(pd.Series(raw, dtype=object), sort=False)
    uniq = list(uniq)
    batch = CompositionBatch.from_formulas(uniq, elements, errors="skip")
    els = batch.elements
    ufrac = np.full((len(uniq), len(els)), np.nan)
    kept = np.arange(len(uniq)) if batch.index is None else np.asarray(batch.index, dtype=np.int64)
    ufrac[kept] = batch.fractions
    uerr = [""] * len(uniq)
    for k, reason in batch.skipped:
        uerr[int(k)] = str(reason) or f"cannot parse {uniq[int(k)]!r}"
    # formatting canonical formulas is the slow part: once per unique string, then broadcast
    uform = canonical_formulas(ufrac, els)
    return Parsed(ufrac[codes], tuple(els), [uform[k] for k in codes], [uerr[k] for k in codes])


def canonical_formulas(frac: np.ndarray, elements) -> list:
    """Canonical formulas of rows (``CompositionBatch.formulas``; empty string for NaN rows)."""
    ok = ~np.isnan(frac).any(axis=1)
    out = [""] * frac.shape[0]
    if ok.any():
        good = np.ascontiguousarray(frac[ok])
        good = good / good.sum(axis=1, keepdims=True)
        strs = CompositionBatch(good, tuple(elements)).formulas()
        for i, s in zip(np.flatnonzero(ok), strs):
            out[i] = s
    return out


def composition_keys(frac: np.ndarray, decimals: int = 3) -> np.ndarray:
    """Hashable per-row keys: fractions rounded to `decimals` (3 → 0.1 at.%); NaN rows get unique keys.

    0.1 at.% is the resolution at which PROVENANCE counts duplicates (Al0.348CoCrFeNi ≡ Al.35CoCrFeNi).
    """
    r = np.round(np.nan_to_num(frac, nan=-1.0) * 10**decimals).astype(np.int64)
    keys = np.array([row.tobytes() for row in r], dtype=object)
    bad = np.isnan(frac).any(axis=1)
    for i in np.flatnonzero(bad):
        keys[i] = b"unparsed:%d" % int(i)  # bytes like the others (mixed key types break sorting)
    return keys


def label_conflicts(keys: pd.Series, labels: pd.Series) -> np.ndarray:
    """True for rows whose composition key carries more than one distinct (non-missing) label."""
    pairs = pd.DataFrame({"k": keys.to_numpy(), "l": labels.astype(object).to_numpy()})
    pairs = pairs[labels.notna().to_numpy()].drop_duplicates()
    n_labels = pairs.groupby("k", sort=False).size()
    return keys.map(n_labels).fillna(0).to_numpy() > 1


def tidy_frame(meta: dict, parsed: Parsed, *, source, tail: dict | None = None,
               label: str | None = "single_phase") -> pd.DataFrame:
    """Assemble a tidy frame: formula, meta columns, element fractions, tail columns, flags."""
    n = len(parsed.formula)
    df = pd.DataFrame(meta)
    df.insert(0, "formula", parsed.formula)
    fr = pd.DataFrame(parsed.fractions, columns=list(parsed.elements))
    df = pd.concat([df.reset_index(drop=True), fr], axis=1)
    for k, v in (tail or {}).items():
        df[k] = v
    df["source"] = source if not isinstance(source, str) else [source] * n
    df["parse_error"] = parsed.error
    kser = pd.Series(composition_keys(parsed.fractions), dtype=object)
    # composition_id: same id = same composition at 0.1 at.% (use it for grouped CV splits so one
    # alloy never sits on both sides); -1 for unparsed rows
    ids, _ = pd.factorize(kser, sort=False)
    ids = ids.astype(np.int64)
    bad = np.isnan(parsed.fractions).any(axis=1)
    if bad.any():
        good_ids, _ = pd.factorize(kser[~bad], sort=False)
        ids = np.full(n, -1, dtype=np.int64)
        ids[~bad] = good_ids
    df["composition_id"] = ids
    df["duplicate"] = kser.duplicated(keep="first").to_numpy()
    if label is not None and label in df.columns:
        df["label_conflict"] = label_conflicts(kser, df[label])
    if "phase" in df.columns and label != "phase":
        df["phase_conflict"] = label_conflicts(kser, df["phase"])
    if "cleaning" not in df.columns:
        df["cleaning"] = ""
    df.attrs["elements"] = list(parsed.elements)
    return df
