"""Phase-labelled datasets: Yan 2021, Singh 2023 (via Peivaste), Machaka 2021, Gao 2017 (via Feng
2021) and Peivaste's 2023 compilation, as tidy frames with ``phase`` in the common vocabulary
(`hea_fast.datasets.tidy.PHASE_TOKENS`) and ``single_phase`` (1 = exactly one solid solution).

Sources: Yan, Lu, Wang, Comput. Mater. Sci. 199 (2021) 110723; Singh et al., Sci. Rep. 13 (2023);
Machaka et al., Data in Brief 38 (2021) 107346; the Gao table used by Feng et al., npj Comput.
Mater. 7, 10 (2021); Peivaste et al., Sci. Rep. (2023). Each repair is described in the folder's
PROVENANCE.md and noted per row in ``cleaning``.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hea_fast.datasets.catalog import get, register
from hea_fast.datasets.files import fetch, read_csv
from hea_fast.datasets.tidy import (
    ATOMIC_NUMBER,
    SOLID_SOLUTIONS,
    Parsed,
    canonical_formulas,
    clean_strings,
    fix_leading_zero,
    normalize_phase,
    parse_strings,
    single_phase_from,
    tidy_frame,
)

__all__ = ["MACHAKA_FRACTION_COLUMNS", "MACHAKA_ATOMIC_WEIGHTS", "base_notation_fractions", "phase_frame",
           "read_machaka", "load_yan2021", "load_singh2023",
           "load_machaka2021", "load_gao2017", "load_peivaste2023"]


def phase_frame(meta: dict, strings: pd.Series, phase_raw: pd.Series, source, *, tail=None, cleaning=None,
                parsed: Parsed | None = None, phase: pd.Series | None = None, raw_strings=None) -> pd.DataFrame:
    """A tidy frame with formula_raw, phase_raw, phase and single_phase; `strings` are parsed,
    `raw_strings` (default `strings`) are what the source wrote."""
    parsed = parse_strings(strings) if parsed is None else parsed
    phase = phase_raw.map(normalize_phase) if phase is None else phase
    raw_strings = strings if raw_strings is None else pd.Series(raw_strings)
    m = dict(meta)
    m.update({"formula_raw": raw_strings.astype(str).str.strip().to_numpy(), "phase_raw": phase_raw.to_numpy(),
              "phase": phase.to_numpy(), "single_phase": single_phase_from(phase).to_numpy()})
    t = dict(tail or {})
    if cleaning is not None:
        t["cleaning"] = cleaning
    return tidy_frame(m, parsed, source=source, tail=t)


def _join(*notes: str) -> str:
    return "; ".join(x for x in notes if x)


# ---------------------------------------------------------------------------------------------
@register("yan2021")
def _build_yan(verify: bool) -> pd.DataFrame:
    raw = read_csv("yan2021_sphea", "2021Yan_dataset.csv", verify)
    feats = read_csv("yan2021_sphea", "2021Yan_feature_engineered.csv", verify)
    if len(feats) != len(raw) or not (feats["Alloys"].to_numpy() == raw["Alloys"].to_numpy()).all():
        raise ValueError("2021Yan_feature_engineered.csv is not row-aligned with 2021Yan_dataset.csv")
    strings = raw["Alloys"].astype(str).str.strip()
    parsed = parse_strings(strings)
    cleaning = ["zero amount dropped" if re.search(r"[A-Z][a-z]?0(?![.\d])", s) else "" for s in strings]
    meta = {"formula_raw": strings, "single_phase": raw["Class"].astype(np.int64), "phase_raw": raw["Phase"]}
    tail = {c: feats[c].to_numpy() for c in ("k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix",
                                             "delta_h_mix")}
    tail["cleaning"] = cleaning
    return tidy_frame(meta, parsed, source="yan2021", tail=tail)


def load_yan2021(*, verify: bool | None = None) -> pd.DataFrame:
    """Yan et al. 2021: 1807 rows, ``single_phase`` (1 = single-phase solid solution, 808 rows).

    Columns: formula, formula_raw, single_phase, phase_raw (SP-SS/Non-SP-SS), element fractions, the 8
    engineered features of the source (k GPa, vm cm³/mol, tm K, vac, delta %, delta_chi,
    delta_s_mix J/mol/K, delta_h_mix kJ/mol; `vac` counts all non-core electrons, see PROVENANCE),
    source, parse_error, duplicate, label_conflict, cleaning. Zero amounts (``Al0CoCrFeNi``) are dropped
    by the parser; conflicting duplicates are kept and flagged.
    """
    return get("yan2021", verify)


# ---------------------------------------------------------------------------------------------
@register("singh2023")
def _build_singh(verify: bool) -> pd.DataFrame:
    raw = read_csv("singh2023_via_peivaste", "singh_sheet_1033.csv", verify)
    strings, notes = clean_strings(raw["Alloy_repaired"])
    notes = [_join(n, "AlLIMgSnZn -> AlLiMgSnZn") if a != r else n
             for n, a, r in zip(notes, raw["Alloy"].astype(str), raw["Alloy_repaired"].astype(str))]
    return phase_frame({"xlsx_row": raw["xlsx_row"].astype(np.int64).to_numpy()}, strings, raw["Phase"],
                       "singh2023", cleaning=notes, raw_strings=raw["Alloy_repaired"])


def load_singh2023(*, verify: bool | None = None) -> pd.DataFrame:
    """The 'Swati Singh' phase sheet (likely Singh et al. 2023), 1033 rows, 800 compositions.

    ``phase`` in the common vocabulary (BCC 375, IM 262, FCC 205, FCC+BCC 140, FCC+IM 50, BCC+IM 1);
    ``single_phase`` = exactly BCC or FCC (580 rows). Formulas from the repaired column, whitespace
    removed. Duplicates (232 rows) and conflicting labels are kept and flagged.
    """
    return get("singh2023", verify)


# ---------------------------------------------------------------------------------------------
def read_machaka(path: Path) -> pd.DataFrame:
    """Read the Machaka CSV, repairing its 9 records that were exported as one quoted field
    (column ``_repaired_quoting`` marks them)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip() for h in rows[0]]
    records, repaired = [], []
    for r in rows[1:]:
        if not any(x.strip() for x in r):
            continue  # blank trailing lines
        was_quoted = False
        if len([x for x in r if x.strip()]) == 1 and "," in r[0]:
            # the whole line was one quoted field (its inner quotes doubled): parse the field again
            r = next(csv.reader(io.StringIO(r[0])))
            was_quoted = True
        r = (r + [""] * len(header))[: len(header)]
        records.append(r)
        repaired.append(was_quoted)
    df = pd.DataFrame(records, columns=header)
    df = df.loc[:, [c for c in df.columns if c]]
    df["_repaired_quoting"] = repaired
    return df


MACHAKA_FRACTION_COLUMNS = ("Al", "Co", "Cr", "Fe", "Ni", "Cu", "Mn", "Ti", "V", "Nb", "Mo", "Zr", "Hf", "Ta", "W",
                            "C", "Mg", "Zn", "Si", "Re", "N", "Sc", "Li", "Sn", "Be")


#: Standard atomic weights (g/mol; IUPAC 2021, conventional values) of the elements of Machaka's columns, for
#: the base-element notation, which is in weight percent.
MACHAKA_ATOMIC_WEIGHTS = {"Al": 26.982, "Co": 58.933, "Cr": 51.996, "Fe": 55.845, "Ni": 58.693, "Cu": 63.546,
                          "Mn": 54.938, "Ti": 47.867, "V": 50.942, "Nb": 92.906, "Mo": 95.95, "Zr": 91.224,
                          "Hf": 178.49, "Ta": 180.95, "W": 183.84, "C": 12.011, "Mg": 24.305, "Zn": 65.38,
                          "Si": 28.085, "Re": 186.21, "N": 14.007, "Sc": 44.956, "Li": 6.94, "Sn": 118.71,
                          "Be": 9.0122}
_DASH = re.compile("[\u2013\u2014]")  # en and em dashes
_BASE_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Z][a-z]?)")


def base_notation_fractions(text: str) -> dict:
    """Atomic fractions of a base-element (metallurgical) formula in weight percent, 'Co–33Cr–9W–0.35N–0.01C':
    the first element is the balance to 100 wt%, the others carry their wt% before the symbol; converted
    with the standard atomic weights (`MACHAKA_ATOMIC_WEIGHTS`). Raises ValueError naming the text."""
    parts = _DASH.split(re.sub(r"\s+", "", text))
    base, wt = parts[0], {}
    for p in parts[1:]:
        m = _BASE_PART.fullmatch(p)
        if m is None or m.group(2) in wt or m.group(2) == base:
            raise ValueError(f"cannot read {p!r} in base-element formula {text!r}")
        wt[m.group(2)] = float(m.group(1))
    wt = {base: 100.0 - sum(wt.values()), **wt}
    unknown = [e for e in wt if e not in MACHAKA_ATOMIC_WEIGHTS]
    if unknown or wt[base] <= 0:
        raise ValueError(f"base-element formula {text!r}: " + (f"no atomic weight for {unknown}" if unknown
                                                                else f"the base {base} has no balance left"))
    mol = {e: w / MACHAKA_ATOMIC_WEIGHTS[e] for e, w in wt.items() if w > 0}
    total = sum(mol.values())
    return {e: v / total for e, v in mol.items()}


def _machaka_compositions(strings: pd.Series, notes: list) -> Parsed:
    """Formulas parsed, except the base-element notation 'Co–33Cr–9W–0.35N–0.01C' (weight percent, the
    first element the balance), converted to atomic fractions by `base_notation_fractions`. The source's
    fraction columns are not used: they disagree with the formula in ~69 records (PROVENANCE), and for the
    base-element rows they hold the wt% figures as fractions with W under Fe in 4 of the 5 alloys."""
    base = strings.str.contains(_DASH)
    parsed = parse_strings(strings.where(~base, ""))
    rows = {}
    for i in np.flatnonzero(base.to_numpy()):
        try:
            rows[i] = base_notation_fractions(strings.iat[i])
        except ValueError as exc:
            rows[i] = str(exc)
    extra = {e for r in rows.values() if isinstance(r, dict) for e in r} - set(parsed.elements)
    if extra:
        els = tuple(sorted(set(parsed.elements) | extra, key=lambda e: ATOMIC_NUMBER[e]))
        parsed = parse_strings(strings.where(~base, ""), elements=els)
    col = {e: j for j, e in enumerate(parsed.elements)}
    frac = parsed.fractions
    err = list(parsed.error)
    for i, r in rows.items():
        if isinstance(r, str):
            frac[i] = np.nan
            err[i] = r
            continue
        frac[i] = 0.0
        for e, v in r.items():
            frac[i, col[e]] = v
        err[i] = ""
        notes[i] = _join(notes[i], "base-element notation in wt% (first element the balance): converted to at.% "
                                   "with standard atomic weights")
    return Parsed(frac, parsed.elements, canonical_formulas(frac, parsed.elements), err)


@register("machaka2021")
def _build_machaka(verify: bool) -> pd.DataFrame:
    raw = read_machaka(fetch("machaka2021_dib", "HEA_Phase_DataSet_v1d.csv", verify=verify))
    strings, notes = clean_strings(raw["Alloy"])
    parsed = _machaka_compositions(strings, notes)
    for i in np.flatnonzero(raw["_repaired_quoting"].to_numpy()):
        notes[i] = _join(notes[i], "record was one quoted CSV field: re-split")
    ms = raw["Microstructure"].replace("", np.nan)
    multi = raw["Multiphase"].str.strip().replace("", np.nan)
    phase = ms.map(normalize_phase)
    # Microstructure "BCC" also holds dual (D) / multiple (M) BCC records and one 'Im' (B2) record
    # (PROVENANCE): encode them as two phases of that lattice / with an IM, so that single_phase
    # ("exactly one solid solution") equals the source's Multiphase == 'S' wherever it is given.
    for i in range(len(raw)):
        p, m = phase.iat[i], multi.iat[i]
        if p in SOLID_SOLUTIONS and m in ("D", "M"):
            phase.iat[i] = f"{p}+{p}"
        elif p is not None and m == "Im" and "IM" not in p.split("+"):
            phase.iat[i] = normalize_phase(p + "+IM")
    meta = {"alloy_id": raw["Alloy ID"].to_numpy(), "multiphase": multi.to_numpy(),
            "im_structure": raw["IM_Structure"].replace("", np.nan).to_numpy(),
            "phases_source": raw["Phases"].replace("", np.nan).to_numpy(),
            "microstructure_text": raw["Microstructure_"].replace("", np.nan).to_numpy()}
    tail = {"synthesis_route": raw["Sythesis_Route"].replace("", np.nan).to_numpy(),
            "reference": raw["References"].replace("", np.nan).to_numpy()}
    for c in ("Hot-Cold_Working", "Homogenization_Temp", "Homogenization_Time", "Annealing_Temp",
              "Annealing_Time_(min)", "Quenching", "HPR"):
        tail[c.lower().replace("-", "_").replace("(", "").replace(")", "")] = raw[c].replace("", np.nan).to_numpy()
    return phase_frame(meta, strings, ms, "machaka2021", tail=tail, cleaning=notes, parsed=parsed, phase=phase,
                       raw_strings=raw["Alloy"])


def load_machaka2021(*, verify: bool | None = None) -> pd.DataFrame:
    """Machaka et al. 2021 phase data with processing: 1360 records.

    PROVENANCE counts 1351 because 9 records were exported as one quoted CSV field; they are re-split
    here (``cleaning`` says so). ``phase`` from the normalised Microstructure (Im → IM), with dual /
    multiple same-lattice records ("D"/"M") written "BCC+BCC"; ``single_phase`` = exactly one
    solid solution, equal to the source's ``multiphase == "S"`` wherever that is given. Compositions
    are parsed from the formula (the fraction columns disagree with it in ~69 records); the base-element
    notation `Co–33Cr–9W–0.35N–0.01C` (wt%, Co the balance) is converted to at.% (``cleaning`` says so).
    """
    return get("machaka2021", verify)


# ---------------------------------------------------------------------------------------------
_GAO_PHASES = {"bcc": "BCC", "fcc": "FCC", "hcp": "HCP", "amor": "AM", "multi": "MULTI"}


@register("gao2017")
def _build_gao(verify: bool) -> pd.DataFrame:
    raw = read_csv("gao2017_feng2021", "gao_hea_355.csv", verify)
    strings = raw["composition_at_pct"].astype(str).str.strip().copy()
    nominal = raw["nominal_formula"].astype(str)
    notes = [""] * len(raw)
    for i, nom in enumerate(nominal):
        fixed = fix_leading_zero(re.sub(r"\s+", "", nom))
        if fixed != nom.strip():
            # The at.% string inherited the typo: 'Ti025' was read as Ti25 and 'Ti7. 5' as Ti7 (its
            # at.% says Ti 7.04 where the nominal Al40(…)7.5 sums to 100). Use the repaired nominal.
            strings.iat[i] = fixed
            notes[i] = f"typo in the source's nominal formula {nom!r}: composition from {fixed}"
    unknown = sorted(set(raw["phase"].astype(str)) - set(_GAO_PHASES))
    if unknown:
        raise ValueError(f"gao_hea_355.csv: unknown phase labels {unknown}")
    phase = raw["phase"].astype(str).map(_GAO_PHASES)
    meta = {"idx": raw["idx"].astype(np.int64).to_numpy(), "nominal_formula": nominal.to_numpy(),
            "ref_in_source": raw["ref_in_source"].to_numpy()}
    return phase_frame(meta, strings, raw["phase"], "gao2017", cleaning=notes, phase=phase)


def load_gao2017(*, verify: bool | None = None) -> pd.DataFrame:
    """The 355-alloy Gao table used by Feng et al. 2021: phase MULTI 217 / AM 59 / BCC 41 / FCC 24 /
    HCP 14 (MULTI = multi-phase, constituents not given); single_phase = BCC/FCC/HCP (79).
    Compositions from the at.% strings, except the two whose nominal formula has a typo that the
    at.% string inherited (`Ti025` → Ti0.25, `Ti7. 5` → Ti7.5); ``cleaning`` notes them."""
    return get("gao2017", verify)


# ---------------------------------------------------------------------------------------------
@register("peivaste2023")
def _build_peivaste(verify: bool) -> pd.DataFrame:
    raw = read_csv("peivaste2023_compilation", "Dataset_HEAs_all_sheets_long.csv", verify)
    strings, notes = clean_strings(raw["Alloy_repaired"])
    changed = (raw["Alloy"].astype(str) != raw["Alloy_repaired"].astype(str)).to_numpy()
    for i in np.flatnonzero(changed):
        notes[i] = _join(notes[i], f"b2->BCC corruption repaired ({raw['Alloy'].iat[i]!s} -> "
                                   f"{raw['Alloy_repaired'].iat[i]!s})")
    sheet = raw["source_sheet"].astype(str)
    meta = {"sheet": sheet.to_numpy(), "xlsx_row": raw["xlsx_row"].astype(np.int64).to_numpy()}
    return phase_frame(meta, strings, raw["Phase"], ("peivaste2023/" + sheet).to_numpy(), cleaning=notes,
                       raw_strings=raw["Alloy_repaired"])


def load_peivaste2023(*, verify: bool | None = None) -> pd.DataFrame:
    """Peivaste's 22-sheet compilation stacked: 10431 rows (``sheet``, ``xlsx_row``), formulas from the
    b2→BCC-repaired column (noted in ``cleaning``), group totals parsed with the group-total
    convention, phase labels mapped to the common vocabulary. Rows whose formula does not parse keep
    their reason in ``parse_error``."""
    return get("peivaste2023", verify)
