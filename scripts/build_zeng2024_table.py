#!/usr/bin/env python
"""Rebuild the d-VAE paper's element table ("zeng2024") from public element data.

Writes hea_fast/data/zeng2024_elements.csv (70 elements, one `<column>_source` per property) and
hea_fast/data/zeng2024_pairs.csv (Miedema ΔH_AB in kJ/mol for every pair of the 68 elements with
Miedema parameters). The package reads only these committed files, so `ElementTable("zeng2024")`
works without the data home; tests/test_elements.py checks them against the authors' own lookup
(dvae_hea_zeng2024/element_lookup_70.csv, mixing_enthalpy_pairs_435.csv) where the data home has it.

The authors (Zeng, Khan, Post, arXiv 2409.06740) built their lookup with mendeleev (2023) and qmpy;
each column here is that computation redone from a public, licensed source. "mendeleev 0.14.0" is
the elements.db of the mendeleev 0.14.0 wheel on PyPI (MIT), fetched with pip and checked against its
SHA-256: later releases changed some of these columns (0.15 dropped `atomic_volume`; 1.x lists only
graphite, without a melting point, for carbon), so the build pins the release the authors used.

  radius_pm        mendeleev 0.14.0 `atomic_radius` (pm; Slater 1964)               = authors (70/70)
  chi_pauling      mendeleev 0.14.0 `en_pauling`; Eu, Tb, Yb (no mendeleev value) from pymatgen `X`
                                                                                   = authors except Tb
                   (pymatgen 1.1, authors 1.2: a hand-filled value in their notebook)
  vec              electrons outside the noble-gas core in mendeleev 0.14.0's electronic
                   configuration (all s, p, d and f electrons, so Ta 19, W 20, Sn 14: the authors'
                   "vac", not the HEA VEC)                                         = authors (70/70)
  tm_K             mendeleev 0.14.0 melting point (K); for elements with several allotropes
                   mendeleev returned one value per allotrope and the authors used their mean
                   (C 4737.65, P 584.83, Se 473.55, Sn 395.71 — Sn's mean of grey and white tin is
                   110 K below white tin's 505.08 K, kept because it is the paper's feature); 0.01 K
                                                                                   = authors (70/70)
  bulk_modulus_GPa the authors' per-element table published under the MIT licence in
                   cengc13/ml-hea-corrosion-code-data@bb8d644b (single-phase-HEA/dataset/2021Yan-SP-HEA/
                   bulk_modulus_added.csv, "bulk modulus data from the website periodictable.com",
                   © 2023 Cheng Zeng, MIT); embedded below (BULK_MODULUS_ZENG2023)  = authors (70/70)
  molar_volume_cm3 mendeleev 0.14.0 `atomic_volume` (cm³/mol; later releases compute weight/density
                   instead, up to 13 % different, e.g. Ca)                          = authors (70/70)

Pair enthalpies: the authors used qmpy's Miedema model (qmpy.analysis.miedema, MIT; S. Kirklin
after J. Doak), i.e. the enthalpy of formation of the *ordered* AB compound at x_B = 0.5
(surface-fraction term γ = 8, γ_AB rounded to an integer, P = 14.2/12.35/10.7, Q/P = 9.4,
R/P = product of the elements' R/P for a transition/non-transition pair from de Boer et al.'s lists)
— *without* the transformation-enthalpy term H_trans (with it, the 29 Si pairs would be 17 kJ/mol
higher than the authors'), rounded to 0.1 kJ/mol. This is not the Takeuchi–Inoue liquid ΔH^mix of
the "default" table (Fe–Ni −2.7 here, −2 there; Al–Fe −32.1 here, −11 there). The element
parameters (φ*, n_ws^1/3, V^2/3, valence, R/P) are de Boer et al., *Cohesion in Metals* (1988), as
tabulated by matminer (`utils/data_files/Miedema.csv`, BSD), rounded as qmpy tabulates them (two
decimals for n_ws^1/3 and V^2/3), with the entries where qmpy's `data/miedema.yml` differs taken
from qmpy (QMPY_OVERRIDES below: divalent Eu and Yb, five V^2/3 roundings, Ag R/P, three valences).
All 435 authors' pairs are reproduced exactly (tests/test_elements.py).

Entropy convention of the table (R = 8.314, ΔS = −R Σ c ln(c + 2⁻²³)) lives in hea_fast/elements.py.

Usage:  python scripts/build_zeng2024_table.py [--mendeleev-wheel FILE] [--check]
  --mendeleev-wheel  a local mendeleev-0.14.0-py3-none-any.whl (default: `pip download` it to a temp dir)
  --check            regenerate in memory and compare with the committed CSVs (exit 1 on a difference)
"""
from __future__ import annotations

import argparse
import hashlib
import io
import re
import sqlite3
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "hea_fast" / "data"
ELEMENTS_CSV = "zeng2024_elements.csv"
PAIRS_CSV = "zeng2024_pairs.csv"

MENDELEEV_LEGACY = "mendeleev==0.14.0"
MENDELEEV_LEGACY_WHEEL = "mendeleev-0.14.0-py3-none-any.whl"
MENDELEEV_LEGACY_SHA256 = "93bd66417b245c4f4be3d797892489bb362f7860265788931fc732382497c427"

#: The 70 elements of the Yan 2021 alloys (the authors' lookup), alphabetical as in their file.
ELEMENTS = (
    "Ag Al As Au B Ba Be Bi C Ca Cd Ce Co Cr Cs Cu Dy Er Eu Fe Ga Gd Ge Hf Ho In Ir K La Li Lu Mg Mn Mo "
    "Na Nb Nd Ni Os P Pb Pd Pr Pt Rb Re Rh Ru Sb Sc Se Si Sm Sn Sr Ta Tb Tc Te Th Ti Tl Tm U V W Y Yb Zn Zr"
).split()

#: Bulk modulus (GPa) by atomic number: cengc13/ml-hea-corrosion-code-data, commit
#: bb8d644b738285bc861b8f545310863f40c105f2, single-phase-HEA/dataset/2021Yan-SP-HEA/bulk_modulus_added.csv
#: (MIT License, Copyright (c) 2023 Cheng Zeng; its Note: "bulk modulus data from the website:
#: https://periodictable.com/Properties/A/BulkModulus.sp.html"), the 70 rows of the Yan elements.
BULK_MODULUS_ZENG2023 = {
    3: 9.0, 4: 129.0, 5: 321.0, 6: 34.0, 11: 6.0, 12: 45.0, 13: 76.0, 14: 99.0, 15: 12.0, 19: 2.0,
    20: 16.0, 21: 58.0, 22: 109.0, 23: 159.0, 24: 160.0, 25: 118.0, 26: 169.0, 27: 179.0, 28: 179.0,
    29: 140.0, 30: 69.0, 31: 56.0, 32: 74.0, 33: 21.0, 34: 10.0, 37: 1.0, 38: 14.9, 39: 40.0, 40: 91.0,
    41: 171.0, 42: 230.0, 43: 157.0, 44: 221.0, 45: 380.0, 46: 180.0, 47: 99.0, 48: 40.0, 49: 40.0,
    50: 58.0, 51: 39.0, 52: 63.0, 55: 0.0, 56: 11.0, 57: 28.0, 58: 19.0, 59: 28.0, 60: 31.0, 62: 37.0,
    63: 9.0, 64: 37.0, 65: 38.0, 66: 39.0, 67: 38.0, 68: 42.0, 69: 44.0, 70: 30.0, 71: 47.0, 72: 107.0,
    73: 201.0, 74: 308.0, 75: 370.0, 76: 373.0, 77: 321.0, 78: 230.0, 79: 219.0, 81: 44.0, 82: 46.0,
    83: 30.0, 90: 52.0, 92: 99.0,
}
BULK_SOURCE = "zeng2023:bulk_modulus_added.csv"

#: Where qmpy's data/miedema.yml (MIT) differs from matminer's Miedema.csv (rounded as qmpy):
#: symbol -> {parameter: qmpy value}. Parameters: phi (φ*, V), n13 (n_ws^1/3, d.u.^1/3),
#: v23 (V^2/3, cm²), valence, rp (R/P). Eu and Yb: qmpy uses the divalent-metal parameters.
QMPY_OVERRIDES = {
    "Ag": {"rp": 0.15},
    "B": {"v23": 2.80}, "Hf": {"v23": 5.65}, "Nb": {"v23": 4.89}, "P": {"v23": 4.15}, "Ru": {"v23": 4.06},
    "Eu": {"phi": 2.50, "n13": 0.88, "v23": 9.43},
    "Yb": {"phi": 2.58, "n13": 0.92, "v23": 8.52},
    "Lu": {"valence": 17}, "N": {"valence": 3}, "Pu": {"valence": 7},
}

# de Boer et al. (1988) Fig. 2.28 lists, by atomic number, as in qmpy: the R/P hybridisation term
# applies to a transition-metal / non-transition-metal pair only.
_TM_Z = set(range(20, 30)) | set(range(38, 48)) | {56, 57} | set(range(72, 80)) | {90, 92, 94}
_NON_TM_Z = (set(range(3, 8)) | set(range(11, 16)) | {19} | set(range(30, 34)) | {37} | set(range(48, 52))
             | {55} | set(range(80, 84)))


def legacy_mendeleev(wheel: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `elements` (indexed by symbol) and `phasetransitions` tables of mendeleev 0.14.0's
    elements.db, read from its PyPI wheel (SHA-256 checked)."""
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", MENDELEEV_LEGACY, "--no-deps",
                            "--only-binary", ":all:", "-d", tmp, "-q"], check=True)
            wheel = str(Path(tmp) / MENDELEEV_LEGACY_WHEEL)
        digest = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
        if digest != MENDELEEV_LEGACY_SHA256:
            raise SystemExit(f"{wheel}: SHA-256 {digest}, expected {MENDELEEV_LEGACY_SHA256} ({MENDELEEV_LEGACY})")
        db = Path(tmp) / "elements.db"
        with zipfile.ZipFile(wheel) as z:
            db.write_bytes(z.read("mendeleev/elements.db"))
        con = sqlite3.connect(db)
        try:
            els = pd.read_sql("select * from elements", con).set_index("symbol")
            pts = pd.read_sql("select * from phasetransitions", con)
        finally:
            con.close()
    return els, pts


def _vac(econf: str) -> int:
    """Electrons outside the noble-gas core: every s, p, d, f occupation after the [core]."""
    shells = econf.split("]", 1)[-1]
    return sum(int(m.group(3) or 1) for m in re.finditer(r"(\d)([spdf])(\d*)", shells))


def _melting_point(z: int, pts: pd.DataFrame) -> tuple[float, str]:
    """mendeleev's melting point; the mean over allotropes where it lists several (mendeleev 0.14's
    `Element.melting_point` returned {allotrope: Tm} for those, and the authors averaged the dict)."""
    vals = pts.loc[pts.atomic_number == z, "melting_point"].dropna().astype(float).tolist()
    if len(vals) > 1:
        return float(np.mean(vals)), "mendeleev-0.14.0:melting_point(mean of allotropes)"
    return vals[0], "mendeleev-0.14.0:melting_point"


def build_elements(men: pd.DataFrame, pts: pd.DataFrame) -> pd.DataFrame:
    from pymatgen.core.periodic_table import Element

    rows = []
    for s in ELEMENTS:
        m = men.loc[s]
        z = int(m.atomic_number)
        row: dict = {"symbol": s, "Z": z}
        row["radius_pm"], row["radius_pm_source"] = float(m.atomic_radius), "mendeleev-0.14.0:atomic_radius"
        if pd.notna(m.en_pauling):
            row["chi_pauling"], row["chi_pauling_source"] = float(m.en_pauling), "mendeleev-0.14.0:en_pauling"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["chi_pauling"], row["chi_pauling_source"] = float(Element(s).X), "pymatgen:X"
        row["vec"] = float(_vac(m.electronic_configuration))
        row["vec_source"] = "mendeleev-0.14.0:electronic_configuration(electrons outside the noble-gas core)"
        tm, src = _melting_point(z, pts)
        row["tm_K"], row["tm_K_source"] = round(tm, 2), src
        row["bulk_modulus_GPa"], row["bulk_modulus_GPa_source"] = BULK_MODULUS_ZENG2023[z], BULK_SOURCE
        row["molar_volume_cm3"] = float(m.atomic_volume)
        row["molar_volume_cm3_source"] = "mendeleev-0.14.0:atomic_volume"
        rows.append(row)
    df = pd.DataFrame(rows).sort_values("Z").reset_index(drop=True)
    if df.drop(columns=[c for c in df.columns if c.endswith("_source")]).isna().any().any():
        raise SystemExit("a zeng2024 element value is missing")
    return df


def miedema_parameters(men: pd.DataFrame) -> dict[str, dict]:
    """symbol -> {phi, n13, v23, Z, valence, tm, rp} for the ELEMENTS matminer parameterises."""
    import matminer

    path = Path(matminer.__file__).parent / "utils" / "data_files" / "Miedema.csv"
    mm = pd.read_csv(path).set_index("element")
    out = {}
    for s in ELEMENTS:
        if s not in mm.index:
            continue
        r, m = mm.loc[s], men.loc[s]
        # the P-choice flag of qmpy: d-block groups 3-11, and the f-block except divalent Eu and Yb
        is_tm = (m.block == "d" and 3 <= m.group_id <= 11) or (m.block == "f" and s not in ("Eu", "Yb"))
        p = {"phi": float(r.electronegativity), "n13": round(float(r.electron_density) ** (1 / 3), 2),
             "v23": round(float(r.molar_volume) ** (2 / 3), 2), "Z": int(m.atomic_number),
             "valence": int(r.valence_electrons), "tm": bool(is_tm), "rp": float(r.R_const)}
        p.update(QMPY_OVERRIDES.get(s, {}))
        out[s] = p
    return out


def _a(sym: str, p: dict) -> float:
    """qmpy's volume-contraction constant a by valence (Ag, Au, Cu: 0.07)."""
    return {1: 0.14, 2: 0.10, 3: 0.07}.get(p["valence"], 0.07 if sym in ("Ag", "Au", "Cu") else 0.04)


def miedema_ordered_dh(a: str, b: str, params: dict, x: float = 0.5) -> float:
    """qmpy's H_form_ord for A_(1-x) B_x in kJ/mol, without the H_trans term (see module doc)."""
    A, B = params[a], params[b]
    P = (10.7, 12.35, 14.2)[int(A["tm"]) + int(B["tm"])]
    hybrid = (A["Z"] in _TM_Z and B["Z"] in _NON_TM_Z) or (A["Z"] in _NON_TM_Z and B["Z"] in _TM_Z)
    rp = A["rp"] * B["rp"] if hybrid else 0.0
    dphi, dn = A["phi"] - B["phi"], A["n13"] - B["n13"]
    gamma = int(round(P * (9.4 * dn**2 - dphi**2 - rp) / ((1 / A["n13"] + 1 / B["n13"]) / 2)))
    va, vb = A["v23"], B["v23"]
    ca, cb = (1 - x) * va / ((1 - x) * va + x * vb), x * vb / ((1 - x) * va + x * vb)
    f_ba, f_ab = cb * (1 + 8 * (ca * cb) ** 2), ca * (1 + 8 * (ca * cb) ** 2)
    va, vb = va * (1 + _a(a, A) * f_ba * dphi), vb * (1 + _a(b, B) * f_ab * -dphi)
    ca, cb = (1 - x) * va / ((1 - x) * va + x * vb), x * vb / ((1 - x) * va + x * vb)
    return gamma * (1 - x) * x * va * vb * (1 + 8 * (ca * cb) ** 2) / ((1 - x) * va + x * vb)


def build_pairs(params: dict) -> pd.DataFrame:
    syms = sorted(params, key=lambda s: params[s]["Z"])
    rows = [(a, b, round(miedema_ordered_dh(a, b, params), 1) + 0.0)  # + 0.0: no "-0.0" in the file
            for i, a in enumerate(syms) for b in syms[i + 1:]]
    return pd.DataFrame(rows, columns=["el1", "el2", "dH_kJmol"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mendeleev-wheel", default=None, help=f"local {MENDELEEV_LEGACY_WHEEL} (default: pip download)")
    ap.add_argument("--check", action="store_true", help="compare with the committed CSVs instead of writing")
    args = ap.parse_args(argv)

    men, pts = legacy_mendeleev(args.mendeleev_wheel)
    elements = build_elements(men, pts)
    params = miedema_parameters(men)
    pairs = build_pairs(params)
    no_pairs = sorted(set(ELEMENTS) - set(params))
    print(f"zeng2024 table: {len(elements)} elements, {len(pairs)} Miedema pairs of {len(params)} elements "
          f"(no Miedema parameters: {', '.join(no_pairs)})")
    outputs = {ELEMENTS_CSV: elements, PAIRS_CSV: pairs}
    if args.check:
        bad = 0
        for name, df in outputs.items():
            buf = io.StringIO()
            df.to_csv(buf, index=False, lineterminator="\n")
            if (OUT_DIR / name).read_text() != buf.getvalue():
                print(f"DIFFERS: {OUT_DIR / name}")
                bad += 1
        return 1 if bad else 0
    sys.path.insert(0, str(ROOT))
    from hea_fast._io import atomic_path

    for name, df in outputs.items():
        with atomic_path(OUT_DIR / name) as tmp:
            df.to_csv(tmp, index=False, lineterminator="\n")
        print(f"wrote {OUT_DIR / name} ({len(df)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
