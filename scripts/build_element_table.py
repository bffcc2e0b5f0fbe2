#!/usr/bin/env python
"""Regenerate the snapshot element tables hea_fast/data/elements.csv and pair_enthalpy.csv.

The package reads only the committed CSVs, so its numbers do not move when pymatgen, mendeleev or
matminer change their data; this script documents (and can redo) how the snapshot was made.

Columns and sources (see hea_fast/data/README.md for the full citations):
  radius_pm        metallic radius for 12-fold coordination (pm): mendeleev `metallic_radius_c12`
                   (Pauling 1947); gaps (lanthanides, actinides) from pymatgen `metallic_radius` (Å ×100)
  chi_pauling      Pauling electronegativity: pymatgen `X` (Allred 1961 revision, as in the CRC Handbook)
  chi_allen        Allen electronegativity on the Pauling-like scale: mendeleev `en_allen` (eV) × 0.169
                   (Allen 1989; Mann et al. 2000). NOT matminer's Magpie AllenElectronegativity, whose
                   rows for Z ≥ 57 are shifted by one element. Missing (NaN) where Allen gave no value.
  vec              valence electron concentration, HEA convention (Guo et al. 2011): s-block = group,
                   d-block = group number (Cu/Ag/Au 11, Zn/Cd/Hg 12), p-block = group − 10,
                   rare earths (Sc, Y, La–Lu) 3, actinides = electrons outside the Rn core
                   (Th 4, Pa 5, U 6, Pu 8). Computed here from the periodic table, not from matminer's
                   valence table (its 5d values count the filled 4f shell).
  tm_K             melting point (K): pymatgen `melting_point`
  bulk_modulus_GPa bulk modulus (GPa): pymatgen `bulk_modulus`; gaps from Kittel (2005) Table 3.3
  molar_volume_cm3 molar volume (cm³/mol): pymatgen `molar_volume`
Each property has a `<name>_source` column naming where the value came from.

pair_enthalpy.csv: Takeuchi & Inoue (2005) binary liquid ΔH_mix (kJ/mol) for the AB equiatomic
liquid, Miedema model, as shipped by matminer (utils/data_files/MiedemaLiquidDeltaHf.tsv); the
script cross-checks it against ../shared/data/takeuchi_hmix_chen2023/takeuchi.csv and prints every
disagreement.

Usage:  python scripts/build_element_table.py [--data-home DIR] [--check]
  --data-home  the shared data folder (default: hea_fast.datasets.data_home(), i.e. $HEA_FAST_DATA)
  --check  regenerate in memory and compare with the committed CSVs (exit 1 on a difference).
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "hea_fast" / "data"

ALLEN_EV_TO_PAULING = 0.169  # Allen, JACS 111 (1989) 9003: chi_spec(eV) * 0.169 ~ Pauling scale

# Bulk moduli missing from pymatgen (GPa): Kittel, Introduction to Solid State Physics, 8th ed.
# (Wiley 2005), Ch. 3, Table 3 "Isothermal bulk modulus and compressibility" (after Gschneidner,
# Solid State Phys. 16, 275 (1964)); tabulated in 1e11 N/m^2, converted to GPa. Os, Hf, Ir and Cr of
# this table agree with the "experimental bulk modulus" of the NRL tight-binding database
# (Mehl & Papaconstantopoulos, PRB 54, 4519 (1996)).
KITTEL_BULK_GPA = {"Zr": 83.3, "Ga": 56.9, "Ge": 77.2, "In": 41.1, "Sr": 11.6, "Tc": 297.0, "Os": 418.0}

# pymatgen gives Eu 1.804 Å and Yb 1.76 Å, trivalent-like values (Eu equals Sm and Gd exactly);
# the divalent metals are much larger. CN12 metallic radii from Greenwood & Earnshaw, Chemistry of
# the Elements, 2nd ed. (1997), Table 30.3.
GREENWOOD_RADIUS_PM = {"Eu": 204.2, "Yb": 193.9}

RARE_EARTHS = {"Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er",
               "Tm", "Yb", "Lu"}
ACTINIDE_VEC = {"Ac": 3, "Th": 4, "Pa": 5, "U": 6, "Np": 7, "Pu": 8}


def data_home(arg: str | None) -> Path:
    """--data-home, else the package's data home (hea_fast.datasets: $HEA_FAST_DATA, ~/.cache/hea_fast)."""
    if arg:
        return Path(arg)
    from hea_fast.datasets import data_home as package_data_home

    return package_data_home()


def _symbols_in(series, valid: set[str]) -> set[str]:
    out: set[str] = set()
    for f in series.dropna().astype(str):
        out.update(s for s in re.findall(r"[A-Z][a-z]?", f) if s in valid)
    return out


def dataset_elements(home: Path, valid: set[str]) -> dict[str, set[str]]:
    """Elements occurring in the alloy compositions of every shared dataset."""
    found: dict[str, set[str]] = {}
    found["yan2021_sphea"] = _symbols_in(pd.read_csv(home / "yan2021_sphea/2021Yan_dataset.csv")["Alloys"], valid)
    found["peivaste2023"] = _symbols_in(
        pd.read_csv(home / "peivaste2023_compilation/Dataset_HEAs_all_sheets_long.csv")["Alloy_repaired"], valid)
    found["singh2023"] = _symbols_in(
        pd.read_csv(home / "singh2023_via_peivaste/singh_sheet_1033.csv")["Alloy_repaired"], valid)
    found["gao2017"] = _symbols_in(pd.read_csv(home / "gao2017_feng2021/gao_hea_355.csv")["composition_at_pct"], valid)
    m = pd.read_csv(home / "machaka2021_dib/HEA_Phase_DataSet_v1d.csv", encoding="utf-8-sig")
    m.columns = m.columns.str.strip()
    found["machaka2021"] = {c for c in m.columns if c in valid and pd.to_numeric(m[c], errors="coerce").gt(0).any()}
    b = pd.read_csv(home / "mpea_borg2020/compositions.csv")
    found["borg2020"] = {c for c in b.columns if c in valid and b[c].fillna(0).gt(0).any()}
    x = pd.read_csv(home / "xyield_exp240/xyield_exp240.csv")
    found["xyield_exp240"] = {c for c in x.columns if c in valid and x[c].gt(0).any()}
    return found


def hea_vec(sym: str, block: str, group: float) -> tuple[float, str]:
    if sym in RARE_EARTHS:
        return 3.0, "rule:rare-earth=3"
    if sym in ACTINIDE_VEC:
        return float(ACTINIDE_VEC[sym]), "rule:actinide=electrons outside [Rn]"
    if block == "s":
        return float(group), "rule:s-block=group"
    if block == "d":
        return float(group), "rule:d-block=group"
    if block == "p":
        if sym == "He":
            return 2.0, "rule:He"
        return float(group - 10), "rule:p-block=group-10"
    raise ValueError(f"no VEC rule for {sym} (block {block!r})")


def _pmg_value(el, attr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = getattr(el, attr)
    if v is None:
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def build_elements(symbols: list[str]) -> pd.DataFrame:
    from mendeleev.fetch import fetch_table
    from pymatgen.core.periodic_table import Element

    men = fetch_table("elements").set_index("symbol")
    rows = []
    for s in symbols:
        el = Element(s)
        m = men.loc[s]
        row: dict = {"symbol": s, "Z": int(el.Z)}
        r = float(m["metallic_radius_c12"]) if pd.notna(m["metallic_radius_c12"]) else np.nan
        if np.isfinite(r):
            row["radius_pm"], row["radius_pm_source"] = r, "mendeleev:metallic_radius_c12"
        elif s in GREENWOOD_RADIUS_PM:
            row["radius_pm"], row["radius_pm_source"] = GREENWOOD_RADIUS_PM[s], "greenwood1997:table30.3"
        else:
            rp = _pmg_value(el, "metallic_radius")
            row["radius_pm"] = round(rp * 100.0, 6) if np.isfinite(rp) else np.nan
            row["radius_pm_source"] = "pymatgen:metallic_radius" if np.isfinite(rp) else "missing"
        x = _pmg_value(el, "X")
        row["chi_pauling"] = x
        row["chi_pauling_source"] = "pymatgen:X" if np.isfinite(x) else "missing"
        a = float(m["en_allen"]) if pd.notna(m["en_allen"]) else np.nan
        row["chi_allen"] = round(a * ALLEN_EV_TO_PAULING, 6) if np.isfinite(a) else np.nan
        row["chi_allen_source"] = "mendeleev:en_allen*0.169" if np.isfinite(a) else "missing"
        group = float(m["group_id"]) if pd.notna(m["group_id"]) else np.nan
        row["vec"], row["vec_source"] = hea_vec(s, str(m["block"]), group)
        t = _pmg_value(el, "melting_point")
        row["tm_K"], row["tm_K_source"] = t, ("pymatgen:melting_point" if np.isfinite(t) else "missing")
        k = _pmg_value(el, "bulk_modulus")
        if np.isfinite(k):
            row["bulk_modulus_GPa"], row["bulk_modulus_GPa_source"] = k, "pymatgen:bulk_modulus"
        elif s in KITTEL_BULK_GPA:
            row["bulk_modulus_GPa"], row["bulk_modulus_GPa_source"] = KITTEL_BULK_GPA[s], "kittel2005:table3"
        else:
            row["bulk_modulus_GPa"], row["bulk_modulus_GPa_source"] = np.nan, "missing"
        v = _pmg_value(el, "molar_volume")
        row["molar_volume_cm3"] = v
        row["molar_volume_cm3_source"] = "pymatgen:molar_volume" if np.isfinite(v) else "missing"
        rows.append(row)
    return pd.DataFrame(rows).sort_values("Z").reset_index(drop=True)


def matminer_pairs() -> pd.DataFrame:
    import matminer

    path = Path(matminer.__file__).parent / "utils" / "data_files" / "MiedemaLiquidDeltaHf.tsv"
    df = pd.read_csv(path, sep=r"\s+")
    df = df.rename(columns={"elem_A": "el1", "elem_B": "el2", "delta_Hf": "dH_kJmol"})
    # matminer's file mislabels the actinide tail of the Takeuchi-Inoue table (which runs
    # ... Bi, Th, U, Pu and has no Pa, Po or At): its "Pa" rows are U, its "U" rows are Pu, and the
    # three pairs written "Pa-Po", "U-Po", "U-At" are U-Th (+4), Pu-Th (0), Pu-U (+1). Verified
    # row by row against takeuchi_hmix_chen2023 (identical Pu row; see the cross-check output).
    df["el1"] = df["el1"].replace({"Pa": "U", "U": "Pu"})
    df["el2"] = df["el2"].replace({"Po": "Th", "At": "U"})
    if df.duplicated(["el1", "el2"]).any():
        raise RuntimeError("actinide relabelling produced duplicate pairs")
    return df[["el1", "el2", "dH_kJmol"]]


def cross_check_pairs(pairs: pd.DataFrame, home: Path) -> list[str]:
    """Compare with the Chen 2023 copy of the Takeuchi-Inoue matrix; return disagreement lines."""
    path = home / "takeuchi_hmix_chen2023" / "takeuchi.csv"
    if not path.is_file():
        return [f"cross-check skipped: {path} not found"]
    t = pd.read_csv(path, index_col=0)
    msgs = []
    seen = set()
    for a, b, h in pairs.itertuples(index=False):
        seen.add(frozenset((a, b)))
        if a not in t.index or b not in t.columns:
            msgs.append(f"{a}-{b}: not in the Chen 2023 matrix")
            continue
        h2 = float(t.loc[a, b])
        if not np.isclose(h, h2, atol=1e-9):
            msgs.append(f"{a}-{b}: matminer {h:+.1f} vs chen2023 {h2:+.1f}")
    els = list(t.columns)
    for i, a in enumerate(els):
        for b in els[i + 1:]:
            if frozenset((a, b)) not in seen:
                msgs.append(f"{a}-{b}: only in the Chen 2023 matrix ({float(t.loc[a, b]):+.1f})")
    return msgs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-home", default=None, help="shared data folder (default: the data home of hea_fast.datasets)")
    ap.add_argument("--check", action="store_true", help="compare with the committed CSVs instead of writing")
    args = ap.parse_args(argv)
    home = data_home(args.data_home)

    from pymatgen.core.periodic_table import Element

    valid = {e.symbol for e in Element}
    found = dataset_elements(home, valid)
    pairs = matminer_pairs()
    pair_elements = set(pairs.el1) | set(pairs.el2)
    alloy_elements = set().union(*found.values())
    # Every element of an alloy composition, plus the metals of the pair table (H is not a metal).
    symbols = sorted((alloy_elements | pair_elements) - {"H"}, key=lambda s: Element(s).Z)
    for name, els in sorted(found.items()):
        print(f"{name:16s} {len(els):3d} elements")
    print(f"element table: {len(symbols)} elements ({len(alloy_elements)} in alloy compositions)")

    elements = build_elements(symbols)
    missing = elements.filter(like="_source").apply(lambda c: (c == "missing").sum())
    print("missing values per column:\n" + missing[missing > 0].to_string())

    pairs = pairs.copy()
    # canonical order: lower Z first, then by Z of both (stable, diff-friendly)
    z = {s: Element(s).Z for s in pair_elements}
    swap = pairs.el1.map(z) > pairs.el2.map(z)
    pairs.loc[swap, ["el1", "el2"]] = pairs.loc[swap, ["el2", "el1"]].to_numpy()
    pairs = pairs.assign(_z1=pairs.el1.map(z), _z2=pairs.el2.map(z)).sort_values(["_z1", "_z2"])
    pairs = pairs.drop(columns=["_z1", "_z2"]).reset_index(drop=True)
    msgs = cross_check_pairs(pairs, home)
    # Chen 2023 prints one decimal where Takeuchi-Inoue print integers, so |diff| <= 0.5 is rounding.
    big = [m for m in msgs if "vs chen2023" in m and abs(float(m.split()[2]) - float(m.split()[5])) > 0.5]
    other = [m for m in msgs if "vs chen2023" not in m]
    print(f"pair table: {len(pairs)} pairs; vs takeuchi_hmix_chen2023: {len(msgs) - len(other)} differ, "
          f"{len(big)} by more than 0.5 kJ/mol")
    per_el = pd.Series([e for m in big for e in m.split(":")[0].split("-")]).value_counts()
    print("  elements most involved in > 0.5 differences: " + ", ".join(f"{k} {v}" for k, v in per_el.head(8).items()))
    for m in other:
        print("  " + m)

    outputs = {"elements.csv": elements, "pair_enthalpy.csv": pairs}
    if args.check:
        bad = 0
        for name, df in outputs.items():
            buf = io.StringIO()
            df.to_csv(buf, index=False, lineterminator="\n")
            if (OUT_DIR / name).read_text() != buf.getvalue():
                print(f"DIFFERS: {OUT_DIR / name}")
                bad += 1
        return 1 if bad else 0
    from hea_fast._io import atomic_path

    for name, df in outputs.items():
        with atomic_path(OUT_DIR / name) as tmp:
            df.to_csv(tmp, index=False, lineterminator="\n")
        print(f"wrote {OUT_DIR / name} ({len(df)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
