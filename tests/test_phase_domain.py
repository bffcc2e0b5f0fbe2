"""The applicability domain of the phase model (hea_fast.phase.domain), checked against an
independent NumPy brute force (standardisation, leave-one-out kNN, quantile threshold) on synthetic
training sets: a Cantor family (Co-Cr-Fe-Mn-Ni near equiatomic, a few with 10 at.% Al) and a
refractory family (4-5 of Ti, Zr, Nb, Hf, Ta, Mo, W, V). No data home needed."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_fast.composition import element_z
from hea_fast.features import featurize_array
from hea_fast.phase.domain import DEFAULT_DESCRIPTORS, DOMAIN_COLUMNS, ApplicabilityDomain

CANTOR = ["Co", "Cr", "Fe", "Mn", "Ni"]
REFRACTORY = ["Ti", "Zr", "Nb", "Hf", "Ta", "Mo", "W", "V"]


def _training(seed=0, n=100, n_al=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [dict(zip(CANTOR, rng.dirichlet(np.full(5, 20.0)))) for _ in range(n)]
    for _ in range(n):
        els = rng.choice(REFRACTORY, size=int(rng.integers(4, 6)), replace=False)
        rows.append(dict(zip(els, rng.dirichlet(np.full(len(els), 20.0)))))
    for _ in range(n_al):
        d = dict(zip(CANTOR, 0.9 * rng.dirichlet(np.full(5, 20.0))))
        d["Al"] = 0.1
        rows.append(d)
    return pd.DataFrame(rows).fillna(0.0)


@pytest.fixture(scope="module")
def train():
    return _training()


@pytest.fixture(scope="module")
def domain(train):
    return ApplicabilityDomain().fit(train, threads=1)


def _reference(train: pd.DataFrame, k=5, quantile=0.99, w=4.0):
    """Independent brute force: (elements, transform, d_k of feature rows, LOO of each training row,
    threshold). Fraction columns in atomic-number order (the domain's order for a DataFrame)."""
    els = sorted(train.columns, key=element_z)
    train = train[els]
    D = featurize_array(train, list(DEFAULT_DESCRIPTORS))
    F = train.to_numpy(float) / train.to_numpy(float).sum(axis=1, keepdims=True)
    mu, sd = D.mean(axis=0), D.std(axis=0)
    sd[sd == 0] = 1.0

    def z(Dq, Fq):
        return np.hstack([(Dq - mu) / sd, w * Fq])

    P = np.unique(z(D, F), axis=0)

    def dk(Z, skip_self=False):
        d = np.sqrt(((Z[:, None, :] - P[None, :, :]) ** 2).sum(axis=2))
        d.sort(axis=1)
        return d[:, 1:k + 1].mean(axis=1) if skip_self else d[:, :k].mean(axis=1)

    loo_rows = dk(z(D, F), skip_self=True)  # every training row, duplicates included
    thr = np.quantile(loo_rows, quantile, method="higher")
    return els, z, dk, loo_rows, thr


# ---- the training alloys -------------------------------------------------------------------------
def test_training_alloys_are_in_domain(train):
    all_in = ApplicabilityDomain(quantile=1.0).fit(train).score(train)
    assert all_in["in_domain"].all()
    assert (all_in["domain_reason"] == "").all()
    assert (all_in["domain_score"] <= 1.0).all()
    for q in (0.99, 0.9, 0.5):
        s = ApplicabilityDomain(quantile=q).fit(train).score(train)
        assert s["in_domain"].mean() >= q
    assert list(s.columns) == list(DOMAIN_COLUMNS)


def test_threshold_and_loo_match_brute_force(train, domain):
    els, z, dk, loo_rows, thr = _reference(train)
    assert domain.threshold_ == pytest.approx(thr, rel=1e-12)
    assert domain.n_train_ == len(train)
    # LOO per distinct point: the brute force's rows map onto the domain's points
    D = featurize_array(train, list(DEFAULT_DESCRIPTORS))
    Z = domain.transform(D, train[els].to_numpy(float), els)
    np.testing.assert_allclose(Z, z(D, train[els].to_numpy(float)), rtol=0, atol=1e-13)
    idx = [int(np.argmin(((domain.points_ - row) ** 2).sum(axis=1))) for row in Z]
    np.testing.assert_allclose(domain.loo_distances_[idx], loo_rows, rtol=1e-12)


def test_duplicates_are_not_their_own_neighbours(train):
    dup = pd.concat([train, train.iloc[:10], train.iloc[:10]], ignore_index=True)
    a = ApplicabilityDomain().fit(train)
    b = ApplicabilityDomain().fit(dup)
    # the standardisation moves with the duplicates; the distinct points do not multiply
    assert b.points_.shape == a.points_.shape
    assert b.multiplicity_.sum() == len(dup) and b.multiplicity_.max() == 3
    assert (b.loo_distances_ > 0).all()
    _els, _z, _dk, loo_rows, thr = _reference(dup)
    assert b.threshold_ == pytest.approx(thr, rel=1e-12)
    assert loo_rows[0] == pytest.approx(loo_rows[len(train)], rel=0) and loo_rows[0] > 0


# ---- the three rules -----------------------------------------------------------------------------
def test_element_absent_from_training_is_out(domain):
    s = domain.score(["CoCrFeNiCu", "Co20Cr20Fe20Mn20Ni20"])
    assert np.isposinf(s["domain_score"].iloc[0]) and not s["in_domain"].iloc[0]
    assert "Cu is absent from the training alloys" in s["domain_reason"].iloc[0]
    assert s["in_domain"].iloc[1] and s["domain_reason"].iloc[1] == ""


def test_rare_element_by_min_element_count(train):
    al = "Al10Co18Cr18Fe18Mn18Ni18"
    assert ApplicabilityDomain(min_element_count=3).fit(train).score([al])["in_domain"].iloc[0]
    s = ApplicabilityDomain(min_element_count=4).fit(train).score([al])
    assert np.isposinf(s["domain_score"].iloc[0]) and not s["in_domain"].iloc[0]
    assert "Al is rare in the training alloys (3 of 203 contain it, min_element_count=4)" in s["domain_reason"].iloc[0]


def test_composition_far_from_every_training_alloy_is_out(train, domain):
    # known elements, each within its training fraction range: only the distance can put it out
    far = ["Co20Cr20Fe20Ni20W20", "Co20Cr20Fe20Ni20Ti20"]
    s = domain.score(far)
    assert not s["in_domain"].any()
    assert (s["domain_score"] > 1).all()
    assert s["domain_reason"].str.startswith("5-NN distance").all()
    assert not s["domain_reason"].str.contains("range").any()
    els, z, dk, _loo, thr = _reference(train)
    b = pd.DataFrame([{"Co": .2, "Cr": .2, "Fe": .2, "Ni": .2, "W": .2}, {"Co": .2, "Cr": .2, "Fe": .2, "Ni": .2,
                                                                           "Ti": .2}]).fillna(0.0).reindex(columns=els, fill_value=0.0)
    ref = dk(z(featurize_array(b, list(DEFAULT_DESCRIPTORS)), b.to_numpy(float))) / thr
    np.testing.assert_allclose(s["domain_score"].to_numpy(), ref, rtol=1e-12)


def test_fraction_range_rule(train):
    tol = 0.02
    dom = ApplicabilityDomain(fraction_tolerance=tol, quantile=1.0).fit(train)
    j = dom.elements_.index("Co")
    lo, hi = dom.fraction_min_[j], dom.fraction_max_[j]
    assert lo == pytest.approx(train.loc[train["Co"] > 0, "Co"].min(), rel=1e-14)
    assert hi == pytest.approx(train["Co"].max(), rel=1e-14)

    def row(co):  # Co at `co`, the rest equiatomic Cr-Fe-Mn-Ni
        return {"Co": co, **{e: (1 - co) / 4 for e in CANTOR[1:]}}

    s = dom.score([row(hi + tol + 0.005), row(hi + tol - 0.005), row(lo - tol - 0.005)])
    r = s["domain_reason"].tolist()
    assert f"Co fraction {hi + tol + 0.005:.4g} outside its training range [{lo:.4g}, {hi:.4g}]" in r[0]
    assert not s["in_domain"].iloc[0] and not s["in_domain"].iloc[2]
    assert "range" not in r[1]
    assert "Co fraction" in r[2]
    # the rule does not change the score; a wider tolerance lifts it
    wide = ApplicabilityDomain(fraction_tolerance=0.2, quantile=1.0).fit(train).score([row(hi + tol + 0.005)])
    assert "range" not in wide["domain_reason"].iloc[0]
    assert wide["domain_score"].iloc[0] == s["domain_score"].iloc[0]


def test_trace_below_half_the_smallest_training_amount_is_out():
    # Al in training only at 1.2 at.%: the absolute tolerance (1 at.%) alone would accept any trace of it
    rng = np.random.default_rng(7)
    rows = [dict(zip(CANTOR, rng.dirichlet(np.full(5, 20.0)))) for _ in range(60)]
    for _ in range(4):
        d = dict(zip(CANTOR, 0.988 * rng.dirichlet(np.full(5, 20.0))))
        d["Al"] = 0.012
        rows.append(d)
    train = pd.DataFrame(rows).fillna(0.0)

    def alloy(al):
        return {"Al": al, **{e: (1 - al) / 5 for e in CANTOR}}

    queries = [alloy(0.004), alloy(0.008), alloy(0.012)]  # below 0.5 x 0.012, above it, at the smallest
    new = ApplicabilityDomain(quantile=1.0).fit(train)
    old = ApplicabilityDomain(quantile=1.0, min_fraction_ratio=0.0).fit(train)
    a, b = new.score(queries), old.score(queries)
    assert a["in_domain"].tolist() == [False, True, True]
    assert a["domain_reason"].iloc[0].startswith("Al fraction 0.004 outside its training range [0.012, 0.012]"
                                                 " (accepted [0.006, 0.022]")
    assert "range" not in "".join(a["domain_reason"].iloc[1:])
    # ratio 0: the tolerance alone (lower end 0.012 - 0.01 = 0.002); the score is the same either way
    assert b["in_domain"].tolist() == [True, True, True]
    np.testing.assert_array_equal(a["domain_score"].to_numpy(), b["domain_score"].to_numpy())
    # where the smallest amount exceeds 2 x tolerance the tolerance decides, as before
    wide = ApplicabilityDomain(quantile=1.0, fraction_tolerance=0.001).fit(train).score(queries)
    assert wide["in_domain"].tolist() == [False, False, True]
    assert "accepted [0.011, 0.013]" in wide["domain_reason"].iloc[1]
    # saved and loaded with the rule; a domain saved before the rule existed keeps the tolerance alone
    assert ApplicabilityDomain.from_parts(new.to_dict(), new.arrays()).score(queries)["in_domain"].tolist() == \
        [False, True, True]
    legacy = new.to_dict()
    del legacy["min_fraction_ratio"]
    assert ApplicabilityDomain.from_parts(legacy, new.arrays()).score(queries)["in_domain"].tolist() == [True] * 3


def test_bundled_default_puts_a_trace_of_a_large_atom_out():
    from hea_fast.phase.model import PhaseModel

    out = PhaseModel.load_default().domain_frame(["CoCrFeNi", "Co24.99Cr24.99Fe24.99Ni24.99Hf0.04",
                                                  "Co24Cr24Fe24Ni24Hf4"])
    assert out["in_domain"].tolist() == [True, False, True]
    assert out["domain_reason"].iloc[1].startswith("Hf fraction 0.0004 outside its training range")


def test_min_components_rule(train):
    # a binary and a ternary of training elements, each element within its training range
    binary, ternary, quinary = "Co50Cr50", "Co34Cr33Fe33", "Co20Cr20Fe20Mn20Ni20"
    off = ApplicabilityDomain(quantile=1.0, fraction_tolerance=1.0, fraction_weight=0.0).fit(train)
    on = ApplicabilityDomain(quantile=1.0, fraction_tolerance=1.0, fraction_weight=0.0, min_components=3).fit(train)
    a, b = off.score([binary, ternary, quinary]), on.score([binary, ternary, quinary])
    # the rule changes neither the score nor any other verdict; only the binary loses in_domain
    np.testing.assert_array_equal(a["domain_score"].to_numpy(), b["domain_score"].to_numpy())
    assert b["domain_reason"].iloc[0].startswith("2 element(s), fewer than min_components=3")
    assert not b["in_domain"].iloc[0]
    assert b["in_domain"].iloc[1:].tolist() == a["in_domain"].iloc[1:].tolist()
    assert "min_components" not in "".join(b["domain_reason"].iloc[1:])
    assert "min_components" not in "".join(a["domain_reason"])
    # a trace third element counts as a component (the rule counts elements present)
    assert "min_components" not in on.score(["Co49.9Cr50Fe0.1"])["domain_reason"].iloc[0]
    # it travels with the saved domain; files written before the rule existed read as 1 (off)
    d = on.to_dict()
    assert d["min_components"] == 3
    assert ApplicabilityDomain.from_parts(d, on.arrays()).min_components == 3
    del d["min_components"]
    assert ApplicabilityDomain.from_parts(d, on.arrays()).min_components == 1
    assert "min_components=3" in repr(on)


# ---- the score: exact kNN, monotone --------------------------------------------------------------
def test_score_features_equals_brute_force_knn(train, domain):
    els, z, dk, _loo, thr = _reference(train)
    rng = np.random.default_rng(1)
    D0 = featurize_array(train, list(DEFAULT_DESCRIPTORS))
    F0 = train[els].to_numpy(float)
    # points around and between the training alloys (arbitrary feature rows, not compositions)
    i, j = rng.integers(0, len(train), (2, 400))
    t = rng.uniform(-0.5, 1.5, (400, 1))
    D = D0[i] + t * (D0[j] - D0[i]) + rng.normal(0, 0.05, (400, D0.shape[1])) * D0.std(axis=0)
    F = np.clip(F0[i] + t * (F0[j] - F0[i]), 0, None)
    s = domain.score_features(D, F, els, threads=1)
    ref = dk(z(D, F)) / thr
    np.testing.assert_allclose(s["domain_score"].to_numpy(), ref, rtol=1e-12)
    assert (s["domain_score"] > 1).any() and (s["domain_score"] <= 1).any()
    # more threads, other element order: same numbers
    perm = rng.permutation(len(els))
    s2 = domain.score_features(D, F[:, perm], [els[p] for p in perm], threads=3)
    np.testing.assert_array_equal(s2["domain_score"].to_numpy(), s["domain_score"].to_numpy())


@pytest.mark.parametrize("n", [3, 6, 10, 40, 110])
def test_small_training_sets_match_brute_force(n):
    """Under ~16 (k + 8) training points the candidate bound has fewer column groups than candidates
    wanted: every point is then a candidate (this used to keep too few, reading the next row's)."""
    train = _training(seed=n, n=n, n_al=0)
    dom = ApplicabilityDomain().fit(train, threads=1)
    els, z, dk, loo_rows, thr = _reference(train)
    assert dom.threshold_ == pytest.approx(thr, rel=1e-12)
    rng = np.random.default_rng(n)
    D0 = featurize_array(train, list(DEFAULT_DESCRIPTORS))
    F0 = train[els].to_numpy(float)
    i, j = rng.integers(0, len(train), (2, 150))
    t = rng.uniform(-0.5, 1.5, (150, 1))
    D = D0[i] + t * (D0[j] - D0[i])
    F = np.clip(F0[i] + t * (F0[j] - F0[i]), 0, None)
    s = dom.score_features(D, F, els, threads=1)
    np.testing.assert_allclose(s["domain_score"].to_numpy(), dk(z(D, F)) / thr, rtol=1e-12)


def test_score_is_monotone_along_a_ray_away_from_the_data(train, domain):
    els, z, dk, _loo, thr = _reference(train)
    D0 = featurize_array(train, list(DEFAULT_DESCRIPTORS))
    F0 = train[els].to_numpy(float)
    rng = np.random.default_rng(2)
    for trial in range(5):
        u = rng.normal(size=D0.shape[1])
        u /= np.linalg.norm(u)
        proj = ((D0 - domain.mean_) / domain.scale_) @ u
        start = int(np.argmax(proj))  # the training alloy farthest along u: (x0 - p)·u >= 0 for all p
        ts = np.linspace(0, 20, 81)
        D = D0[start] + ts[:, None] * (u * domain.scale_)[None, :]
        F = np.repeat(F0[start:start + 1], len(ts), axis=0)
        s = domain.score_features(D, F, els)["domain_score"].to_numpy()
        assert (np.diff(s) >= 0).all(), trial
        assert s[0] <= 1 < s[-1]
    # and, anywhere, the score orders alloys as the brute-force kNN distance does
    D = D0[rng.integers(0, len(train), 300)] * rng.uniform(0.8, 1.2, (300, D0.shape[1]))
    F = F0[rng.integers(0, len(train), 300)]
    sc = domain.score_features(D, F, els)["domain_score"].to_numpy()
    ref = dk(z(D, F))
    np.testing.assert_allclose(sc, ref / thr, rtol=1e-12)
    assert (np.diff(sc[np.argsort(ref, kind="stable")]) >= 0).all()


# ---- bad rows ------------------------------------------------------------------------------------
def test_rows_without_descriptors_get_nan_and_a_reason(domain):
    s = domain.score(["Nd20Fe80", "Fe", "CoCrFeMnNi", "Xx2Fe"])
    assert np.isnan(s["domain_score"].iloc[0]) and not s["in_domain"].iloc[0]
    assert "Nd has no chi_allen in element table 'default'" in s["domain_reason"].iloc[0]
    assert "Nd is absent from the training alloys" in s["domain_reason"].iloc[0]
    assert np.isnan(s["domain_score"].iloc[1]) and "Lambda not finite" in s["domain_reason"].iloc[1]
    assert s["in_domain"].iloc[2]
    assert np.isnan(s["domain_score"].iloc[3]) and "Xx" in s["domain_reason"].iloc[3]
    # arrays of amounts with a NaN row: the batch never fails
    a = domain.score(pd.DataFrame({"Co": [1.0, np.nan], "Cr": 1.0, "Fe": 1.0, "Mn": 1.0, "Ni": 1.0}, index=["a", "b"]))
    assert list(a.index) == ["a", "b"]
    assert a.loc["a", "in_domain"] and np.isnan(a.loc["b", "domain_score"]) and "non-finite" in a.loc["b", "domain_reason"]
    arr = domain.score(np.array([[1, 1, 1, 1, 1.0], [np.nan, 1, 1, 1, 1], [0, 0, 0, 0, 0]]), elements=CANTOR)
    assert arr["in_domain"].tolist() == [True, False, False]
    assert arr["domain_score"].iloc[0] == a.loc["a", "domain_score"]
    assert "non-finite amount nan for Co" in arr["domain_reason"].iloc[1]
    assert "all amounts are zero" in arr["domain_reason"].iloc[2]


def test_fit_refuses_rows_without_descriptors(train):
    bad = pd.concat([train, pd.DataFrame([{"Fe": 1.0}])], ignore_index=True).fillna(0.0)
    with pytest.raises(ValueError, match=f"training row {len(train)} has non-finite descriptor.*Lambda=inf"):
        ApplicabilityDomain().fit(bad)


@pytest.mark.parametrize("kw, match", [({"k": 0}, "k must be"), ({"quantile": 1.5}, "quantile must be"),
                                       ({"descriptors": ["delta", "nope"]}, "nope"),
                                       ({"min_element_count": 0}, "min_element_count"),
                                       ({"min_components": 0}, "min_components"),
                                       ({"min_components": 2.5}, "min_components"),
                                       ({"fraction_weight": -1}, "fraction_weight"),
                                       ({"fraction_tolerance": float("nan")}, "fraction_tolerance"),
                                       ({"min_fraction_ratio": 1.5}, "min_fraction_ratio"),
                                       ({"min_fraction_ratio": float("nan")}, "min_fraction_ratio")])
def test_bad_settings_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        ApplicabilityDomain(**kw)


def test_unfitted_and_shape_errors(domain):
    with pytest.raises(RuntimeError, match="not fitted"):
        ApplicabilityDomain().score(["CoCrFeMnNi"])
    with pytest.raises(ValueError, match="descriptors have shape"):
        domain.score_features(np.zeros((2, 3)), np.zeros((2, 1)), ["Fe"])
    with pytest.raises(ValueError, match="needs at least 6 distinct"):
        ApplicabilityDomain().fit(["CoCrFeMnNi", "CoCrFeNi", "HfNbTaTiZr"])


# ---- batches, persistence, imports ---------------------------------------------------------------
def test_batch_equals_rows_one_at_a_time(domain):
    rng = np.random.default_rng(3)
    X = [f"Co{a:.3f}Cr{b:.3f}Fe1Mn1Ni{c:.3f}" for a, b, c in rng.uniform(0.2, 3, (40, 3))]
    X += ["HfNbTaTiZr", "CoCrFeNiCu", "Nd20Fe80", "Co20Cr20Fe20Ni20W20", "Ti35Zr35Nb30"]
    whole = domain.score(X)
    rows = pd.concat([domain.score([x]) for x in X], ignore_index=True)
    np.testing.assert_array_equal(whole["domain_score"].to_numpy(), rows["domain_score"].to_numpy())
    assert whole["in_domain"].tolist() == rows["in_domain"].tolist()
    assert whole["domain_reason"].tolist() == rows["domain_reason"].tolist()
    assert whole["in_domain"].any() and not whole["in_domain"].all()


def test_persistence_round_trip_is_bitwise(tmp_path, train, domain):
    X = ["CoCrFeMnNi", "HfNbTaTiZr", "Co20Cr20Fe20Ni20W20", "CoCrFeNiCu", "Nd20Fe80", "Fe"] + \
        [f"Ti{a:.2f}Zr1Nb1Hf{b:.2f}" for a, b in np.random.default_rng(4).uniform(0.5, 2, (20, 2))]
    before = domain.score(X)
    domain.save(tmp_path / "dom")
    loaded = ApplicabilityDomain.load(tmp_path / "dom")
    assert loaded.to_dict() == domain.to_dict()
    for name, arr in domain.arrays().items():
        got = loaded.arrays()[name]
        assert got.dtype == arr.dtype and got.tobytes() == arr.tobytes(), name
    after = loaded.score(X)
    assert before["domain_score"].to_numpy().tobytes() == after["domain_score"].to_numpy().tobytes()
    pd.testing.assert_frame_equal(before, after)
    # through JSON text and plain arrays too
    parts = ApplicabilityDomain.from_parts(json.loads(json.dumps(domain.to_dict())),
                                           {k: v.copy() for k, v in domain.arrays().items()})
    assert parts.score(X)["domain_score"].to_numpy().tobytes() == before["domain_score"].to_numpy().tobytes()


def test_load_errors_name_the_path(tmp_path, domain):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "none")):
        ApplicabilityDomain.load(tmp_path / "none")
    d = domain.save(tmp_path / "d")
    (d / "domain.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=f"{d / 'domain.npz'} cannot be read"):
        ApplicabilityDomain.load(d)
    d2 = domain.save(tmp_path / "d2")
    (d2 / "domain.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=str(d2 / "domain.json")):
        ApplicabilityDomain.load(d2)
    d3 = domain.save(tmp_path / "d3")
    arrays = dict(domain.arrays())
    arrays["loo_distances"] = arrays["loo_distances"][:-1]
    with open(d3 / "domain.npz", "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ValueError, match=f"{d3}.*loo_distances has shape"):
        ApplicabilityDomain.load(d3)
    bad = domain.to_dict()
    del bad["threshold"]
    with pytest.raises(ValueError, match="missing entry 'threshold'"):
        ApplicabilityDomain.from_parts(bad, domain.arrays())


def test_module_imports_no_scikit_learn():
    src = Path(__file__).resolve().parents[1] / "hea_fast" / "phase" / "domain.py"
    mods = set()
    for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add((node.module or "").split(".")[0])
    assert mods <= {"__future__", "math", "os", "concurrent", "pathlib", "typing", "numpy", "pandas", "scipy",
                    "hea_fast", "threadpoolctl"}, mods
