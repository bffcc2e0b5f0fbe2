"""Anchor table, standardization and nearest-anchor clustering against brute force and closed forms."""
from __future__ import annotations

import re

import numpy as np
import pytest

from hea_fast.mixture import DEFAULT_ANCHORS, assign_clusters, load_anchor_table, resolve_anchors
from hea_fast.mixture.anchors import AnchorError, Standardizer


def test_anchor_table_has_cited_named_alloys():
    tab = load_anchor_table()
    assert {"NbMoTaW", "HfNbTaTiZr", "CoCrFeMnNi"} <= set(tab["name"])
    assert set(DEFAULT_ANCHORS) <= set(tab["name"])
    assert tab["name"].is_unique
    for _, r in tab.iterrows():
        assert re.fullmatch(r"10\.\d{4,5}/\S+", r["doi"]), r["doi"]
        assert len(r["reference"]) > 20 and r["reported_phase"]
    assert tab.set_index("name").loc["CoCrFeMnNi", "reported_phase"] == "FCC"
    assert tab.set_index("name").loc["NbMoTaW", "reported_phase"] == "BCC"


def test_resolve_anchors_names_formulas_and_errors():
    names, formulas = resolve_anchors("NbMoTaW, CoCrFeMnNi,AlTi")
    assert names == ["NbMoTaW", "CoCrFeMnNi", "AlTi"]
    assert formulas == ["NbMoTaW", "CoCrFeMnNi", "AlTi"]
    assert resolve_anchors(["Al0.5CoCrCuFeNi"])[1] == ["Al0.5CoCrCuFeNi"]
    with pytest.raises(AnchorError, match="no anchors"):
        resolve_anchors("")
    with pytest.raises(AnchorError, match="repeat"):
        resolve_anchors(["CoCrNi", "CoCrNi"])


def test_standardizer_matches_population_moments():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(50, 3))
    X[:, 2] = 7.0  # constant column: scale 1, standardizes to 0 (no NaN)
    s = Standardizer.fit(X)
    Z = s.transform(X)
    np.testing.assert_allclose(Z[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt((Z[:, :2] ** 2).mean(0)), 1, rtol=1e-12)
    assert np.all(Z[:, 2] == 0)
    with pytest.raises(AnchorError, match="expected 3 descriptor columns"):
        s.transform(X[:, :2])
    X[4, 1] = np.nan
    with pytest.raises(AnchorError, match="non-finite value nan at row 4, column 1"):
        Standardizer.fit(X)


def test_assign_clusters_equals_brute_force_on_subsets():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(400, 6))
    A = rng.normal(size=(3, 6))
    for subset in [(0,), (1, 4), (0, 2, 3, 5), None]:
        cols = list(range(6)) if subset is None else list(subset)
        brute = [int(np.argmin([sum((z[j] - a[j]) ** 2 for j in cols) for a in A])) for z in Z]
        np.testing.assert_array_equal(assign_clusters(Z, A, subset), brute)
    with pytest.raises(AnchorError, match="empty descriptor subset"):
        assign_clusters(Z, A, ())


def test_anchor_descriptors_closed_forms():
    """VEC of the anchors by hand: Cantor (9+6+8+7+10)/5 = 8, NbMoTaW (5+6+5+6)/4 = 5.5."""
    pytest.importorskip("hea_fast.composition")
    from hea_fast.features import featurize

    _names, formulas = resolve_anchors(["CoCrFeMnNi", "NbMoTaW", "HfNbTaTiZr"])
    df = featurize(formulas, descriptors=["VEC", "dS_mix"])
    np.testing.assert_allclose(df["VEC"], [8.0, 5.5, 4.4], rtol=1e-12)
    R = 8.314462618
    np.testing.assert_allclose(df["dS_mix"], [R * np.log(5), R * np.log(4), R * np.log(5)], rtol=1e-6)


def test_an_unreadable_anchor_formula_is_named_with_its_reason():
    """The anchor error gives the formula's own reason, once, without the batch error's errors=
    advice (fit has no errors= option for anchors) or its line layout."""
    from hea_fast.mixture import SparseMixtureClassifier

    with pytest.raises(AnchorError) as exc:
        SparseMixtureClassifier()._anchor_raw(["NbMoTaW", "Xx2Fe"], ["VEC"])
    text = str(exc.value)
    assert "unknown element symbol 'Xx' at position 0 in formula 'Xx2Fe'" in text
    assert "errors=" not in text and "\n" not in text and ":;" not in text
