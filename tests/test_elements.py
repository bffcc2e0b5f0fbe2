"""Element tables: coverage of the shared datasets, column conventions checked against published
values, the Takeuchi-Inoue pair table against an independent copy, the zeng2024 table, errors."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_fast.elements import PROPERTIES, ElementDataError, ElementTable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default():
    return ElementTable.load("default")


def test_default_table_shape_and_sources(default):
    assert len(default) >= 60
    assert list(default.properties.columns) == list(PROPERTIES)
    raw = pd.read_csv(ROOT / "hea_fast" / "data" / "elements.csv")
    # every property column has a source column; values are missing exactly where it says so
    for p in PROPERTIES:
        src = raw[f"{p}_source"]
        assert (raw[p].isna() == (src == "missing")).all(), p
    # the radius, Pauling chi, VEC, Tm and Vm columns are complete for every alloy element
    for p in ("radius_pm", "chi_pauling", "vec", "tm_K", "molar_volume_cm3"):
        assert default.properties[p].notna().all(), p


def test_every_dataset_element_is_in_the_default_table(default, shared_data):
    yan = pd.read_csv(shared_data / "yan2021_sphea" / "2021Yan_dataset.csv")["Alloys"]
    symbols = {s for f in yan for s in re.findall(r"[A-Z][a-z]?", f)}
    assert len(symbols) == 70
    assert symbols <= set(default.symbols)


@pytest.mark.parametrize(
    "el,vec",
    [("Fe", 8), ("Co", 9), ("Ni", 10), ("Cu", 11), ("Ag", 11), ("Au", 11), ("Zn", 12), ("Al", 3),
     ("Si", 4), ("Sn", 4), ("Ti", 4), ("Hf", 4), ("Ta", 5), ("W", 6), ("Re", 7), ("La", 3), ("Gd", 3),
     ("Yb", 3), ("Sc", 3), ("Y", 3), ("Mg", 2), ("Li", 1)],
)
def test_vec_follows_the_hea_convention(default, el, vec):
    # Guo et al. 2011 convention: d-block = group, p-block = group - 10, rare earths 3
    assert default.properties.loc[el, "vec"] == vec


def test_allen_electronegativity_on_pauling_scale_and_not_shifted(default):
    # Allen / Mann et al. (2000) values in Pauling units for the 5d row; matminer's Magpie table is
    # shifted by one element for Z >= 57, which would put Ta's value on Hf, etc.
    published = {"Hf": 1.16, "Ta": 1.34, "W": 1.47, "Re": 1.60, "Os": 1.65, "Ir": 1.68, "Pt": 1.72,
                 "Au": 1.92, "Fe": 1.80, "Ni": 1.88, "Al": 1.61, "Si": 1.92}
    for el, v in published.items():
        assert default.properties.loc[el, "chi_allen"] == pytest.approx(v, abs=0.011), el
    # no Allen value exists for La-Yb: they must be missing, not filled from a neighbour
    for el in ("La", "Ce", "Gd", "Yb"):
        assert np.isnan(default.properties.loc[el, "chi_allen"])


def test_radii_are_cn12_metallic_radii(default):
    # Pauling CN12 metallic radii (pm), as tabulated e.g. in Greenwood & Earnshaw
    for el, r in {"Fe": 126, "Co": 125, "Ni": 124, "Cr": 128, "Cu": 128, "Al": 143, "Ti": 147,
                  "Zr": 160, "Nb": 146, "Mo": 139, "W": 139, "Ta": 146}.items():
        assert default.properties.loc[el, "radius_pm"] == pytest.approx(r, abs=0.5), el
    # divalent Eu and Yb are much larger than their trivalent neighbours
    p = default.properties["radius_pm"]
    assert p["Eu"] > p["Sm"] + 15 and p["Yb"] > p["Tm"] + 15


def test_filled_bulk_moduli_are_marked(default):
    raw = pd.read_csv(ROOT / "hea_fast" / "data" / "elements.csv").set_index("symbol")
    assert raw.loc["Zr", "bulk_modulus_GPa_source"].startswith("kittel")
    assert 80 <= default.properties.loc["Zr", "bulk_modulus_GPa"] <= 100


def test_pair_table_published_values_and_symmetry(default):
    # Takeuchi & Inoue (2005), Table of binary liquid mixing enthalpies (kJ/mol)
    published = {("Al", "Ni"): -22, ("Co", "Cr"): -4, ("Fe", "Ni"): -2, ("Al", "Co"): -19,
                 ("Cu", "Ni"): 4, ("Fe", "Si"): -35, ("Ni", "Si"): -40, ("Nb", "Ti"): 2,
                 ("Al", "Ti"): -30, ("Cr", "Fe"): -1, ("Cu", "Fe"): 13, ("Hf", "Zr"): 0}
    for (a, b), h in published.items():
        assert default.pair_enthalpy(a, b) == h
        assert default.pair_enthalpy(b, a) == h
    els = ["Al", "Co", "Cr", "Fe", "Ni", "U", "Pu", "Th"]
    H = default.pair_matrix(els)
    assert np.array_equal(H, H.T) and np.all(np.diag(H) == 0) and np.isfinite(H).all()


def test_pair_table_agrees_with_the_chen2023_copy(default, shared_data):
    """Independent copy of the same table (one decimal instead of integers): the d-VAE metals
    (without Si, whose sp-d hybridisation term Chen's copy lacks) agree to rounding."""
    chen = pd.read_csv(shared_data / "takeuchi_hmix_chen2023" / "takeuchi.csv", index_col=0)
    els = ["Fe", "Ni", "Cr", "Co", "Al", "Ti", "Cu", "Mo", "V", "Nb", "Mn", "Zr", "Ta", "W", "Hf",
           "Rh", "Ru", "Re", "Os", "Pt", "Pd", "Ir", "Mg", "Ag", "Zn", "Sn", "Au", "Li", "Sc"]
    d = np.array([abs(default.pair_enthalpy(a, b) - chen.loc[a, b]) for i, a in enumerate(els) for b in els[i + 1:]])
    assert np.mean(d <= 0.5) > 0.95
    # actinides: matminer's file labels U as "Pa" and Pu as "U"; the build script relabels them
    for b in ("Fe", "Ni", "Al", "Zr"):
        assert abs(default.pair_enthalpy("U", b) - chen.loc["U", b]) <= 3.0
        assert default.pair_enthalpy("Pu", b) == pytest.approx(chen.loc["Pu", b], abs=0.51)


def test_zeng2024_table(shared_data):
    t = ElementTable.load("zeng2024")
    assert len(t) == 70 and len(t.pairs) == 435
    assert t.properties.loc["Ta", "vec"] == 19  # all non-core electrons, not the HEA VEC
    assert t.gas_constant == 8.314 and t.log_offset == np.finfo(np.float32).eps
    assert t.properties["chi_allen"].isna().all()
    raw = pd.read_csv(shared_data / "dvae_hea_zeng2024" / "mixing_enthalpy_pairs_435.csv")
    row = raw.iloc[3]
    assert t.pair_enthalpy(row.el2, row.el1) == row.dH_mix_kJmol


def test_errors_name_the_missing_thing(default):
    with pytest.raises(ElementDataError, match="unknown element table 'nope'"):
        ElementTable.load("nope")
    with pytest.raises(ElementDataError, match=r"\['Xx'\]"):
        default.property_matrix(["Fe", "Xx"])
    with pytest.raises(ElementDataError, match="chi_allen of La"):
        default.require(["Fe", "La"], ["chi_allen"], why="dchi_allen")
    custom = ElementTable.from_frames("t", pd.DataFrame({"radius_pm": [1.0, 2.0]}, index=["A", "B"]))
    with pytest.raises(ElementDataError, match="pair A-B"):
        custom.pair_enthalpy("A", "B")
    assert np.isnan(custom.pair_matrix(["A", "B"])[0, 1])
    with pytest.raises(ElementDataError, match="duplicate"):
        ElementTable.from_frames("d", pd.DataFrame({"radius_pm": [1.0, 2.0]}, index=["A", "A"]))


def test_zeng2024_missing_data_home(tmp_path, monkeypatch):
    from hea_fast import elements

    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path))
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    elements.clear_cache()
    try:
        with pytest.raises(FileNotFoundError, match="dvae_hea_zeng2024"):
            ElementTable.load("zeng2024")
    finally:
        elements.clear_cache()


def test_build_script_reproduces_the_snapshot(shared_data):
    for mod in ("mendeleev", "pymatgen.core", "matminer"):
        pytest.importorskip(mod)
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_element_table.py"), "--check",
                        "--data-home", str(shared_data)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
