"""The nearest training alloys of a prediction (hea_fast.phase.neighbors, PhaseModel.neighbors,
`hea-fast phase predict --neighbors`): against a brute-force distance matrix, against the domain's own
kNN distance (a second algorithm), and the bundled training alloys against the domain's points."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from hea_fast.composition import CompositionBatch
from hea_fast.parse import parse_amounts
from hea_fast.phase import load_model
from hea_fast.phase.model import PhaseModel, PhaseModelError
from hea_fast.phase.neighbors import TRAINING_ALLOYS_FILE, nearest, point_rows


@pytest.fixture(scope="module")
def model():
    return load_model("default")


def _brute(P, Z, k):
    D = np.sqrt(((Z[:, None, :] - P[None, :, :]) ** 2).sum(axis=2))
    order = np.lexsort((np.broadcast_to(np.arange(len(P)), D.shape), D), axis=1)[:, :k]
    return order, np.take_along_axis(D, order, axis=1)


def test_nearest_equals_brute_force(model):
    dom = model.domain
    rng = np.random.default_rng(5)
    P = dom.points_
    # queries: training points, points nudged a little, and convex mixtures of two points
    i, j = rng.integers(0, len(P), 300), rng.integers(0, len(P), 300)
    t = rng.random((300, 1))
    Z = np.vstack([P[rng.choice(len(P), 100, replace=False)],
                   P[i[:100]] + rng.normal(0, 0.05, (100, P.shape[1])),
                   t[:100] * P[i[:100]] + (1 - t[:100]) * P[j[:100]]])
    for k in (1, 3, 7):
        idx, dist = nearest(dom, Z, k)
        want_idx, want_d = _brute(P, Z, k)
        np.testing.assert_allclose(dist, want_d, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(idx, want_idx)
    idx, dist = nearest(dom, P[:50], 1)  # a training point's nearest is itself, at 0
    np.testing.assert_array_equal(idx[:, 0], np.arange(50))
    assert (dist == 0).all()
    with pytest.raises(ValueError, match="k must be"):
        nearest(dom, Z, 0)
    with pytest.raises(ValueError, match="shape"):
        nearest(dom, Z[:, :5], 1)


def test_neighbor_distances_average_to_the_domain_score(model):
    """The mean of the k (= domain.k) nearest-neighbour distances is the domain's kNN distance, which
    `score_features` computes by its own algorithm; divided by the threshold it is the domain score."""
    X = ["CoCrFeMnNi", "Al0.3CoCrFeNi", "HfNbTaTiZr", "Ti35Nb25Mo25Ta10W5", "Ti5Zr5Nb5Ta80W5", "CrMoNbV",
         "Fe40Mn40Co10Cr10", "AlCrFeNiV", "Cu20Ni80", "Co25Cr25Fe25Ni25"]
    k = model.domain.k
    nb = model.neighbors(X, k=k)
    score = model.predict_frame(X)["domain_score"].to_numpy()
    mean = nb[[f"neighbor{j}_distance" for j in range(1, k + 1)]].to_numpy().mean(axis=1)
    np.testing.assert_allclose(mean, score, rtol=1e-12, atol=1e-15)
    d = nb[[f"neighbor{j}_distance" for j in range(1, k + 1)]].to_numpy()
    assert (np.diff(d, axis=1) >= 0).all()


def test_bundled_training_alloys_match_the_domain_points(model):
    a, dom = model.training_alloys, model.domain
    assert a is not None and len(a["formula"]) == len(dom.points_) == dom.n_train_
    T = dom.points_[:, len(dom.descriptors):] / dom.fraction_weight
    col = {e: j for j, e in enumerate(dom.elements_)}
    for i in np.random.default_rng(0).choice(len(T), 400, replace=False):
        f = parse_amounts(str(a["formula"][i]))  # as written: at.% to 0.01, every element present
        row = np.zeros(len(col))
        for e, v in f.items():
            row[col[e]] = v
        assert set(f) == {dom.elements_[c] for c in np.flatnonzero(T[i] > 0)}, a["formula"][i]
        np.testing.assert_allclose(row, T[i] * 100, rtol=0, atol=0.005 + 1e-9, err_msg=str(a["formula"][i]))
    n, s = a["n_sources"], a["n_single_sources"]
    assert ((0 <= s) & (s <= n) & (n >= 1)).all()
    assert np.array_equal([len(p.split(";")) for p in a["provenance"]], n)
    assert np.array_equal([sum(x.endswith(":1") for x in p.split(";")) for p in a["provenance"]], s)
    assert np.array_equal(a["single_phase"] == 1, 2 * s > n)  # the vote (ties were dropped from training)
    assert not (2 * s == n).any()


def test_neighbors_of_known_and_bad_rows(model):
    nb = model.neighbors(["CoCrFeMnNi", "Fe", "Nd20Fe40Co40", "HfNbTaTiZr"], k=2)
    assert list(nb.columns) == ["neighbor1", "neighbor1_distance", "neighbor1_single", "neighbor2",
                                "neighbor2_distance", "neighbor2_single"]
    assert nb.loc[0, "neighbor1"] == "Cr20Mn20Fe20Co20Ni20" and nb.loc[0, "neighbor1_single"] == "6/6"
    assert nb.loc[0, "neighbor1_distance"] < 1e-12 and nb.loc[3, "neighbor1"] == "Ti20Zr20Nb20Hf20Ta20"
    for r in (1, 2):  # no descriptors: a pure element, an element without data
        assert nb.loc[r, "neighbor1"] == "" and np.isnan(nb.loc[r, "neighbor1_distance"])
    # pandas input keeps its index
    s = pd.Series(["NbMoTaW"], index=["x"])
    assert list(model.neighbors(s, k=1).index) == ["x"]


def test_training_alloys_are_saved_loaded_and_checked(model, tmp_path):
    d = tmp_path / "m"
    model.save(d)
    back = PhaseModel.load(d)
    for f in ("formula", "provenance", "n_sources", "n_single_sources", "single_phase"):
        np.testing.assert_array_equal(back.training_alloys[f], model.training_alloys[f])
    # a file that does not fit the domain names itself
    bad = {f: v[:-1] for f, v in model.training_alloys.items()}
    np.savez(d / TRAINING_ALLOYS_FILE, **bad)
    with pytest.raises(PhaseModelError, match=f"{TRAINING_ALLOYS_FILE}.*2819.*2820 points"):
        PhaseModel.load(d)
    (d / TRAINING_ALLOYS_FILE).write_bytes(b"not a zip")
    with pytest.raises(PhaseModelError, match="training alloys unreadable"):
        PhaseModel.load(d)
    # without the file: neighbors still work, formulas from the domain's points, no source votes
    (d / TRAINING_ALLOYS_FILE).unlink()
    bare = PhaseModel.load(d)
    assert bare.training_alloys is None
    nb = bare.neighbors(["CoCrFeMnNi"], k=1)
    assert list(nb.columns) == ["neighbor1", "neighbor1_distance"] and nb.loc[0, "neighbor1"] == "Cr20Mn20Fe20Co20Ni20"
    shutil.rmtree(d)


def test_point_rows_maps_points_back_to_their_rows():
    from hea_fast.phase import ApplicabilityDomain

    base = ["CoCrFeMnNi", "CoCrFeNi", "Al0.3CoCrFeNi", "HfNbTaTiZr", "NbMoTaW", "MoNbTaVW", "CrMoNbV", "TiZrNbHf",
            "AlCrFeNiV", "Co30Cr20Fe25Ni25", "Ti30Nb30Mo10Ta25W5", "CoCrNi", "FeMnCoCr"]
    rows = base + base[:4]  # duplicates map to their first row
    rng = np.random.default_rng(1)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    batch = CompositionBatch.from_formulas(rows)
    dom = ApplicabilityDomain(k=3).fit(batch)
    D, F, els, _, _ = dom._featurize(batch, 1)
    first = point_rows(dom, D, F, els)
    Fk, _ = dom._aligned(F, els)
    Z = dom._z(D, Fk)
    np.testing.assert_array_equal(Z[first], dom.points_)
    assert len(first) == len(set(rows)) and all(rows.index(rows[i]) == i for i in first)
    with pytest.raises(ValueError, match="do not reproduce"):
        point_rows(dom, D[:-1], F[:-1], els)


def test_cli_neighbors(tmp_path, capsys):
    from hea_fast.cli import main

    src = tmp_path / "in.csv"
    pd.DataFrame({"Alloy": ["CoCrFeMnNi", "notaformula", "Ti5Zr5Nb5Ta80W5"]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["phase", "predict", str(src), "-o", str(out), "--neighbors", "2"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert df.loc[0, "neighbor1"] == "Cr20Mn20Fe20Co20Ni20" and df.loc[0, "neighbor1_single"] == "6/6"
    assert df.loc[1, "neighbor1"] == "" and df.loc[1, "neighbor2_distance"] == ""
    assert float(df.loc[2, "neighbor1_distance"]) <= float(df.loc[2, "neighbor2_distance"])
    capsys.readouterr()
    assert main(["phase", "predict", str(src), "-o", str(out), "--neighbors", "2", "--model", "mixture"]) == 2
    assert "--neighbors needs a phase model" in capsys.readouterr().err
