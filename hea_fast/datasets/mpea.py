"""Yield-strength data: the Borg 2020 MPEA database and the X-Yield experimental set derived from it.

Sources: C. K. H. Borg et al., Sci. Data 7, 430 (2020) (CitrineInformatics/MPEA_dataset); the 240
experimental points of X-Yield / Bi-RPT (xxchenxx/glass-froming-ability-prediction), with their 10
CV folds. Units: temperatures K (``T_C`` in °C as the sources give them), yield strength MPa
(``YS_MPa``) and GPa (``YS_GPa``). `xyield_filter` rebuilds the X-Yield set from Borg 2020.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hea_fast.datasets.catalog import get, register
from hea_fast.datasets.files import read_csv
from hea_fast.datasets.tidy import (
    Parsed,
    canonical_formulas,
    composition_keys,
    element_columns,
    normalize_phase,
    parse_strings,
    single_phase_from,
    tidy_frame,
)

__all__ = ["KELVIN_OFFSET", "XYIELD_ELEMENTS", "MPEA_COLUMNS", "class5", "load_mpea", "load_xyield_experimental",
           "xyield_filter"]

KELVIN_OFFSET = 273.15
#: The 10 refractory elements of X-Yield, in its column order.
XYIELD_ELEMENTS = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")

#: Borg 2020 column -> tidy name
MPEA_COLUMNS = {
    "IDENTIFIER: Reference ID": "reference_id",
    "FORMULA": "formula_raw",
    "PROPERTY: Microstructure": "microstructure",
    "PROPERTY: Processing method": "processing",
    "PROPERTY: BCC/FCC/other": "phase_coarse",
    "PROPERTY: grain size ($\\mu$m)": "grain_size_um",
    "PROPERTY: Exp. Density (g/cm$^3$)": "density_exp_g_cm3",
    "PROPERTY: Calculated Density (g/cm$^3$)": "density_calc_g_cm3",
    "PROPERTY: HV": "HV",
    "PROPERTY: Type of test": "test_type",
    "PROPERTY: Test temperature ($^\\circ$C)": "T_C",
    "PROPERTY: YS (MPa)": "YS_MPa",
    "PROPERTY: UTS (MPa)": "UTS_MPa",
    "PROPERTY: Elongation (%)": "elongation_pct",
    "PROPERTY: Elongation plastic (%)": "elongation_plastic_pct",
    "PROPERTY: Exp. Young modulus (GPa)": "young_exp_GPa",
    "PROPERTY: Calculated Young modulus (GPa)": "young_calc_GPa",
    "PROPERTY: O content (wppm)": "O_content_wppm",
    "PROPERTY: N content (wppm)": "N_content_wppm",
    "PROPERTY: C content (wppm)": "C_content_wppm",
    "REFERENCE: doi": "doi",
    "REFERENCE: year": "year",
    "REFERENCE: title": "title",
}


@register("mpea")
def _build_mpea(verify: bool) -> pd.DataFrame:
    raw = read_csv("mpea_borg2020", "MPEA_dataset.csv", verify)
    missing = [c for c in MPEA_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"MPEA_dataset.csv lacks expected columns {missing}")
    raw = raw.drop_duplicates(keep="first").reset_index(drop=True)  # 20 exact duplicate rows
    raw = raw.rename(columns=MPEA_COLUMNS)
    strings = raw["formula_raw"].astype(str).str.strip()
    parsed = parse_strings(strings)
    phase = raw["microstructure"].map(normalize_phase)
    # PROVENANCE: single-phase = microstructure exactly BCC or FCC (B2 alone is ordered, not SS)
    meta = {"formula_raw": strings, "phase_raw": raw["microstructure"], "phase": phase,
            "phase_coarse": raw["phase_coarse"], "single_phase": single_phase_from(phase)}
    tail = {c: raw[c].to_numpy() for c in raw.columns if c not in ("formula_raw", "microstructure", "phase_coarse")}
    tail["T_K"] = raw["T_C"].to_numpy(np.float64) + KELVIN_OFFSET
    tail["YS_GPa"] = raw["YS_MPa"].to_numpy(np.float64) / 1000.0
    return tidy_frame(meta, parsed, source="borg2020", tail=tail)


def load_mpea(*, verify: bool | None = None) -> pd.DataFrame:
    """Borg et al. 2020 MPEA database, 1525 rows (the 20 exact duplicate rows of 1545 dropped).

    Columns: formula, formula_raw, phase_raw (the source's Microstructure, e.g. "BCC+Laves+Sec."),
    phase (common vocabulary: B2/L12/Laves/Sec. → IM, "Other" → OTHER), phase_coarse (the source's
    BCC/FCC/other), single_phase (1 = microstructure exactly one of BCC/FCC/HCP, <NA> when not
    reported), element fractions, reference_id, processing, test_type (C/T), T_C (°C as given), T_K,
    YS_MPa, YS_GPa, UTS_MPa, HV, elongation, moduli, densities, doi, year, title, flags.
    """
    return get("mpea", verify)


# ---------------------------------------------------------------------------------------------
def class5(ys_gpa) -> np.ndarray:
    """The X-Yield 5-bin class: int(YS_GPa * 2), i.e. 0.5 GPa bins, the last bin open (≥ 2 GPa)."""
    return np.floor(np.asarray(ys_gpa, dtype=np.float64) * 2.0).astype(np.int64)


@register("xyield_experimental")
def _build_xyield(verify: bool) -> pd.DataFrame:
    raw = read_csv("xyield_exp240", "xyield_exp240.csv", verify)
    at = raw[list(XYIELD_ELEMENTS)].to_numpy(np.float64)
    # at.% rounded to 2 decimals sum to 99.99–100.14: renormalise to fractions
    frac = at / at.sum(axis=1, keepdims=True)
    parsed = Parsed(frac, XYIELD_ELEMENTS, canonical_formulas(frac, XYIELD_ELEMENTS), [""] * len(raw))
    meta = {"fold": raw["fold"].astype(np.int64), "n_elements": raw["n_elements"].astype(np.int64)}
    tail = {"T_C": raw["T_C"].to_numpy(np.float64), "T_K": raw["T_K"].to_numpy(np.float64),
            "YS_GPa": raw["YS_GPa"].to_numpy(np.float64), "YS_MPa": raw["YS_MPa"].to_numpy(np.float64),
            "class5": raw["class5"].astype(np.int64).to_numpy()}
    return tidy_frame(meta, parsed, source="xyield_exp240", tail=tail, label=None)


def load_xyield_experimental(*, verify: bool | None = None) -> pd.DataFrame:
    """The 240 experimental X-Yield points: fold (0–9, the CV fold where the row is a test point),
    n_elements, formula, fractions over XYIELD_ELEMENTS (Al, Cr, Hf, Mo, Nb, Ta, Ti, V, W, Zr),
    T_C, T_K, YS_GPa, YS_MPa, class5 (= int(2·YS_GPa): 0.5 GPa bins, counts 51/84/73/31/1)."""
    return get("xyield_experimental", verify)


def xyield_filter(mpea: pd.DataFrame | None = None, *, compression_only: bool = False) -> pd.DataFrame:
    """Rebuild the X-Yield experimental set from Borg 2020 (the documented filter).

    Keep rows with a yield strength and a test temperature, coarse phase ``BCC``
    (``phase_coarse``), and every element in XYIELD_ELEMENTS; group by (composition rounded to 0.1
    at.%, T) and average YS. `compression_only` keeps test_type "C" only. Returns one row per group:
    formula, XYIELD_ELEMENTS fractions, n_elements, T_C, T_K, YS_MPa, YS_GPa, class5, n_records.
    """
    df = load_mpea() if mpea is None else mpea
    need = {"phase_coarse", "YS_MPa", "T_C"}
    if not need <= set(df.columns):
        raise ValueError(f"xyield_filter needs a load_mpea() frame; missing columns {sorted(need - set(df.columns))}")
    cols = element_columns(df)
    outside = [c for c in cols if c not in XYIELD_ELEMENTS]
    frac_all = df[cols].to_numpy(np.float64)
    ok = df["YS_MPa"].notna().to_numpy() & df["T_C"].notna().to_numpy()
    ok &= (df["phase_coarse"].astype(str).str.strip() == "BCC").to_numpy()
    ok &= ~np.isnan(frac_all).any(axis=1)
    if outside:
        ok &= (df[outside].fillna(1.0).to_numpy() == 0).all(axis=1)
    if compression_only:
        ok &= (df["test_type"].astype(str).str.strip() == "C").to_numpy()
    sub = df.loc[ok]
    frac = np.zeros((len(sub), len(XYIELD_ELEMENTS)))
    for j, e in enumerate(XYIELD_ELEMENTS):
        if e in sub.columns:
            frac[:, j] = sub[e].to_numpy(np.float64)
    g = pd.DataFrame({"key": composition_keys(frac), "T_C": sub["T_C"].to_numpy(np.float64),
                      "YS_MPa": sub["YS_MPa"].to_numpy(np.float64)})
    for j, e in enumerate(XYIELD_ELEMENTS):
        g[e] = frac[:, j]
    agg = {"YS_MPa": "mean", **{e: "mean" for e in XYIELD_ELEMENTS}}
    grouped = g.groupby(["key", "T_C"], sort=False).agg(agg)
    counts = g.groupby(["key", "T_C"], sort=False).size()
    out_frac = grouped[list(XYIELD_ELEMENTS)].to_numpy(np.float64)
    out_frac = out_frac / out_frac.sum(axis=1, keepdims=True)
    out = pd.DataFrame({"formula": canonical_formulas(out_frac, XYIELD_ELEMENTS)})
    for j, e in enumerate(XYIELD_ELEMENTS):
        out[e] = out_frac[:, j]
    out["n_elements"] = (out_frac > 0).sum(axis=1).astype(np.int64)
    t_c = grouped.index.get_level_values("T_C").to_numpy(np.float64)
    out["T_C"] = t_c
    out["T_K"] = t_c + KELVIN_OFFSET
    out["YS_MPa"] = grouped["YS_MPa"].to_numpy(np.float64)
    out["YS_GPa"] = out["YS_MPa"] / 1000.0
    out["class5"] = class5(out["YS_GPa"])
    out["n_records"] = counts.to_numpy(np.int64)
    out["source"] = "borg2020/xyield_filter"
    out.attrs["elements"] = list(XYIELD_ELEMENTS)
    return out
