"""SparseMixtureClassifier and enrichment (the CLI is tested in test_mixture_cli.py).

References: a 2-cluster logistic model with known coefficient signs; the posterior predictive by
2-D quadrature of the exact posterior; enrichment counted by hand and a bootstrap written as a
plain loop; the binomial standard error."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hea_fast.mixture.enrichment import EnrichmentError, enrichment, enrichment_curve
from hea_fast.mixture.model import ModelError, SparseMixtureClassifier, k_sweep

FAST = dict(n_iter=120, burn_in=40, n_chains=2, n_draws=150)
COLS = list("abcde")


@pytest.fixture(scope="module")
def two_cluster_frame(two_cluster_data):
    def make(n=360, seed=0):
        X, y, _lab, _anchors = two_cluster_data(n, seed)
        return pd.DataFrame(X, columns=COLS), y

    return make


ANCHORS = pd.DataFrame([[2.0, 0, 0, 0, 0], [-2.0, 0, 0, 0, 0]], columns=COLS, index=["P", "M"])


@pytest.fixture(scope="module")
def fitted(two_cluster_frame):
    X, y = two_cluster_frame()
    m = SparseMixtureClassifier(anchors=ANCHORS, max_size=3, random_state=1, **FAST).fit(X, y)
    return m, X, y


def test_recovers_subset_and_coefficient_signs(fitted):
    m, X, y = fitted
    assert m.selected_descriptors_ == ["a", "b", "c"]
    assert m.anchor_names_ == ["P", "M"]
    co = m.coefficients().set_index(["anchor", "term"])["p_positive"]
    # truth: cluster P uses +2 b - 2 c, cluster M uses -2 b + 2 c
    assert co[("P", "b")] > 0.99 and co[("P", "c")] < 0.01
    assert co[("M", "b")] < 0.01 and co[("M", "c")] > 0.99
    # the mixture explains the data far better than the best single global model
    assert m.free_energy_ < m.global_free_energy_ - 20
    # the anchors differ only in a (raw +-2): the boundary is the bisector a = 0 in raw units
    np.testing.assert_array_equal(m.cluster_of(X), (X["a"].to_numpy() < 0).astype(int))
    assert m.score(X, y) > 0.75


def test_predictive_of_many_rows_is_computed_in_blocks_with_the_same_result(fitted):
    """predict_proba scores rows x draws <= 2**20 at a time (flat memory: 100,000 rows x 1,000 draws took
    2.6 GB at once): 40 copies of the data span several blocks and equal the rows scored alone."""
    m, X, _y = fitted
    n_draws = max(len(D) for D in m.coef_draws_)
    big = pd.concat([X] * 40, ignore_index=True)
    assert len(big) > 2 * ((1 << 20) // n_draws)
    np.testing.assert_allclose(m.predict_proba(big), np.tile(m.predict_proba(X), (40, 1)), rtol=1e-13, atol=0)


def test_save_load_round_trip_identical(fitted, tmp_path):
    m, X, _y = fitted
    m.save(tmp_path / "model")
    m2 = SparseMixtureClassifier.load(tmp_path / "model")
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))
    pd.testing.assert_frame_equal(m2.coefficients(), m.coefficients())
    assert m2.selected_descriptors_ == m.selected_descriptors_
    assert m2.free_energy_ == m.free_energy_
    assert list(m2.ranking_["subset"]) == list(m.ranking_["subset"])
    np.testing.assert_array_equal(m2.ranking_["wbic"], m.ranking_["wbic"])
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    cfg["version"] = 999
    (tmp_path / "model" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="version 999"):
        SparseMixtureClassifier.load(tmp_path / "model")
    with pytest.raises(ModelError, match="no config.json"):
        SparseMixtureClassifier.load(tmp_path)


def test_posterior_predictive_matches_quadrature():
    """Global model, one descriptor: predict_proba vs the exact posterior predictive (2-D grid)."""
    rng = np.random.default_rng(4)
    n = 40
    x = rng.normal(1.0, 2.0, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(int)
    X = pd.DataFrame({"x": x})
    m = SparseMixtureClassifier(anchors=(), max_size=1, n_iter=100, burn_in=200, n_chains=4, n_draws=2000,
                                compare_global=False, random_state=0).fit(X, y)
    assert m.standardizer_.mean[0] == pytest.approx(x.mean()) and m.standardizer_.scale[0] == pytest.approx(x.std())
    z = (x - x.mean()) / x.std()
    g = np.linspace(-10, 10, 801)
    W0, W1 = np.meshgrid(g, g, indexing="ij")
    eta = W0[..., None] + W1[..., None] * z
    loglik = (y * eta - np.logaddexp(0, eta)).sum(-1) - (W0**2 + W1**2) / (2 * 10.0)
    post = np.exp(loglik - loglik.max())
    post /= post.sum()
    assert post[[0, -1], :].sum() + post[:, [0, -1]].sum() < 1e-9  # the grid covers the posterior
    xn = np.array([-3.0, 0.0, 1.0, 4.0])
    zn = (xn - x.mean()) / x.std()
    ref = np.array([(post / (1 + np.exp(-(W0 + W1 * v)))).sum() for v in zn])
    got = m.predict_proba(pd.DataFrame({"x": xn}))[:, 1]
    np.testing.assert_allclose(got, ref, atol=0.015)


def test_auto_anchors_and_k_sweep_pick_the_true_pair(two_cluster_frame):
    X, y = two_cluster_frame(n=300, seed=2)
    cands = pd.concat([ANCHORS, pd.DataFrame([[0, 0, 0, 2.0, 0]], columns=COLS, index=["Q"])])
    sweep = k_sweep(X, y, ks=(1, 2), candidate_anchors=cands, max_size=3, random_state=0, **FAST)
    k1, k2 = sweep.iloc[0], sweep.iloc[1]
    assert k1["K"] == 1 and k1["anchors"] == ()
    assert set(k2["anchors"]) == {"P", "M"}
    assert k2["wbic"] < k1["wbic"] - 20


def test_bad_inputs(two_cluster_frame):
    X, y = two_cluster_frame(n=60)
    with pytest.raises(ModelError, match="only 0 and 1"):
        SparseMixtureClassifier(anchors=ANCHORS, max_size=1, **FAST).fit(X, np.where(y == 1, 3, 0))
    with pytest.raises(ModelError, match="cluster_on"):
        SparseMixtureClassifier(anchors=ANCHORS, cluster_on="nope", **FAST).fit(X, y)
    for bad in (-1, 2**63, 0.5):  # used to run as seed modulo 2**64 in the compiled sampler
        with pytest.raises(ModelError, match=r"random_state must be an integer in \[0, 2\*\*63\), got"):
            SparseMixtureClassifier(anchors=ANCHORS, max_size=1, random_state=bad, **FAST).fit(X, y)
    X2 = X.copy()
    X2.iloc[5, 2] = np.inf
    with pytest.raises(ValueError, match="non-finite value inf at row 5, descriptor 'c'"):
        SparseMixtureClassifier(anchors=ANCHORS, max_size=1, **FAST).fit(X2, y)
    with pytest.raises(ModelError, match="not fitted"):
        SparseMixtureClassifier().predict_proba(X)


def test_backend_parameter_is_deprecated_alias_of_engine(two_cluster_frame):
    X, y = two_cluster_frame(n=60)
    kw = dict(anchors=ANCHORS, max_size=1, compare_global=False, random_state=3, **FAST)
    with pytest.warns(DeprecationWarning, match="engine="):
        old = SparseMixtureClassifier(backend="auto", **kw).fit(X, y)
    new = SparseMixtureClassifier(engine="cpp", **kw).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))


def test_load_errors_name_the_file(fitted, tmp_path):
    m, _X, _y = fitted
    m.save(tmp_path / "model")
    (tmp_path / "model" / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=r"arrays\.npz"):
        SparseMixtureClassifier.load(tmp_path / "model")
    (tmp_path / "model" / "config.json").write_text('{"format": ')
    with pytest.raises(ModelError, match=r"config\.json is not valid JSON"):
        SparseMixtureClassifier.load(tmp_path / "model")
    assert not [f for f in (tmp_path / "model").iterdir() if ".tmp" in f.name]  # atomic writes cleaned up


def test_screening_module_is_a_deprecated_alias():
    import importlib
    import sys

    sys.modules.pop("hea_fast.mixture.screening", None)
    with pytest.warns(DeprecationWarning, match="hea_fast.mixture.enrichment"):
        old = importlib.import_module("hea_fast.mixture.screening")
    assert old.enrichment is enrichment and old.enrichment_curve is enrichment_curve
    assert old.ScreeningError is EnrichmentError


# --------------------------------------------------------------------------- enrichment
def test_enrichment_hand_computation():
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.76, 0.5, 0.3, 0.75, 0.95, 0.1])
    r = enrichment(y, p, threshold=0.75, n_boot=500, seed=3)
    # passing: indices 0, 1, 2, 5, 6 -> single-phase 0, 2, 6
    assert (r.n_pass, r.n_pass_positive) == (5, 3)
    assert r.precision == pytest.approx(0.6) and r.base_rate == pytest.approx(0.5)
    assert r.enrichment == pytest.approx(1.2) and r.recall == pytest.approx(0.75)
    # the bootstrap, written as a plain loop over the same resamples
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 8, size=(500, 8))
    vals = []
    for row in idx:
        passing = [i for i in row if p[i] >= 0.75]
        if passing:
            vals.append(sum(y[i] for i in passing) / len(passing))
    assert r.n_boot_empty == 500 - len(vals)
    lo, hi = np.quantile(vals, [0.025, 0.975])
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo), pytest.approx(hi))


def test_enrichment_bootstrap_in_blocks_equals_the_whole_index_matrix():
    # 5,000 rows: the resamples are drawn in blocks of 838 (flat memory); the interval must be the one of
    # the (n_boot, n) index matrix drawn at once from the same seed
    rng = np.random.default_rng(7)
    n = 5000
    y = (rng.random(n) < 0.4).astype(int)
    p = np.clip(0.5 * y + 0.6 * rng.random(n), 0, 1)
    r = enrichment(y, p, threshold=0.75, n_boot=2000, seed=11)
    idx = np.random.default_rng(11).integers(0, n, size=(2000, n))
    passed = p[idx] >= 0.75
    k = passed.sum(axis=1)
    vals = (passed & (y[idx] == 1)).sum(axis=1)[k > 0] / k[k > 0]
    lo, hi = np.quantile(vals, [0.025, 0.975])
    assert (r.ci_low, r.ci_high) == (lo, hi) and r.n_boot_empty == int((k == 0).sum())


def test_enrichment_bootstrap_width_matches_binomial():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    r = enrichment(y, np.ones(400), threshold=0.75, n_boot=4000, seed=1)
    se = math.sqrt(y.mean() * (1 - y.mean()) / y.size)
    assert r.precision == pytest.approx(y.mean())
    assert (r.ci_high - r.ci_low) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_enrichment_curve_and_errors():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    p = np.clip(0.5 * y + 0.5 * rng.random(100), 0, 1)
    cur = enrichment_curve(y, p, thresholds=[0.0, 0.25, 0.5, 0.75])
    assert cur["n_pass"].is_monotonic_decreasing
    assert cur["precision"].iloc[0] == pytest.approx(y.mean())
    assert cur["precision"].iloc[-1] >= cur["precision"].iloc[0]
    with pytest.raises(EnrichmentError, match="proba must lie in"):
        enrichment(y, p + 1.0)
    with pytest.raises(EnrichmentError, match="only 0 and 1"):
        enrichment(y + 1, p)
    for bad, shown in (([0.5, 75.0], "75.0"), ([np.nan], "nan"), ([-0.1, 0.2], "-0.1")):  # 75 meant as a percent
        with pytest.raises(EnrichmentError, match=f"in \\[0, 1\\], got {shown}"):
            enrichment_curve(y, p, thresholds=bad)
    one = enrichment_curve(y, p, thresholds=0.5)  # a single threshold is a curve of one point
    assert one["n_pass"].tolist() == [int((p >= 0.5).sum())]


def test_formulas_batch_and_descriptor_frame_give_the_same_model():
    """The estimator accepts formulas, a CompositionBatch or a descriptor DataFrame: the same
    alloys in any of the three forms give the same fit and the same predictions."""
    from hea_fast.composition import CompositionBatch
    from hea_fast.features import featurize

    formulas = ["NbMoTaW", "NbMoTaWV", "HfNbTaTiZr", "CoCrFeMnNi", "CoCrFeNi", "CoCrNi", "AlCoCrFeNi",
                "Al2CoCrFeNi", "AlCoCrCuFeNi", "CoCrFeNiTi", "CoCrFeNiMo", "Al0.3CoCrFeNi", "MoNbTaV",
                "CrMoNbV", "AlCrMoTi", "HfNbTiZr", "NbTaTiV", "AlMoNbTi"]
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0])
    names = ["VEC", "delta", "dH_mix"]
    kw = dict(descriptors=names, max_size=2, compare_global=False, random_state=3, **FAST)
    batch = CompositionBatch.from_formulas(formulas)
    frame = featurize(formulas, descriptors=names)[names]
    fits = [SparseMixtureClassifier(**kw).fit(X, y) for X in (formulas, batch, frame)]
    for m in fits[1:]:
        assert m.selected_descriptors_ == fits[0].selected_descriptors_
        assert m.free_energy_ == fits[0].free_energy_
        np.testing.assert_array_equal(m.cluster_sizes_, fits[0].cluster_sizes_)
    p = fits[0].predict_proba(formulas)
    np.testing.assert_allclose(fits[0].predict_proba(batch), p, rtol=1e-13)
    np.testing.assert_allclose(fits[0].predict_proba(frame), p, rtol=1e-13)
    np.testing.assert_allclose(fits[1].predict_proba(formulas), p, rtol=1e-13)
    assert fits[0].input_kind_ == "compositions" and fits[2].input_kind_ == "descriptors"
    with pytest.raises(ModelError, match="descriptor DataFrame"):
        fits[2].predict_proba(formulas)


def test_rows_the_model_cannot_score_get_nan_and_the_rest_are_scored(two_cluster_frame):
    """The bundled model (L <= 4) reads VEC, chi_allen_mean, dchi_allen and Lambda: an Nd alloy (no
    Allen χ in the default table), an unparseable formula and a pure element (δ = 0, so Λ = inf) get
    NaN probabilities and label -1 with one warning naming each reason; an N alloy (no bulk modulus,
    K not read) is scored; the scored rows equal the posterior predictive computed here from the
    model's arrays with plain NumPy."""
    from hea_fast.elements import ElementDataError
    from hea_fast.features import BadRowsWarning, featurize

    m = SparseMixtureClassifier.load_default()
    assert m.cluster_on == "subset" and "chi_allen_mean" in m.selected_descriptors_
    rows = ["CoCrFeMnNi", "AlNdNi", "CrMnFeCoNiN0.1", "XxFe", "NbMoTaW", "Fe"]
    with pytest.warns(BadRowsWarning, match=r"predict_proba: 3 of 6 rows cannot be scored .*row 1: Nd has no "
                      r"chi_allen.*row 5: non-finite descriptor\(s\) the model reads: Lambda = inf") as rec:
        p = m.predict_proba(rows)
    assert len(rec) == 1 and p.shape == (6, 2)
    assert np.isnan(p[[1, 3, 5]]).all() and np.isfinite(p[[0, 2, 4]]).all()
    # reference: nearest anchor in the subset's standardized coordinates, mean sigmoid over its draws
    sub = list(m.selected_descriptors_)
    F = featurize([rows[i] for i in (0, 2, 4)], sub).to_numpy()
    cols = [m.feature_names_in_.index(c) for c in sub]
    Z = (F - np.asarray(m.standardizer_.mean)[cols]) / np.asarray(m.standardizer_.scale)[cols]
    A = np.asarray(m.anchors_z_)[:, cols]
    lab = np.argmin(((Z[:, None, :] - A[None, :, :]) ** 2).sum(-1), axis=1) if len(A) > 1 else np.zeros(3, int)
    want = [np.mean(1 / (1 + np.exp(-(m.coef_draws_[c][:, 0] + m.coef_draws_[c][:, 1:] @ z)))) for z, c in zip(Z, lab)]
    np.testing.assert_allclose(p[[0, 2, 4], 1], want, rtol=1e-10)
    lab01, why = m.predict(rows, return_reasons=True)
    assert list(lab01[[1, 3, 5]]) == [-1, -1, -1] and set(lab01[[0, 2, 4]]) <= {0, 1}
    assert "Nd has no chi_allen" in why[1] and "unknown element symbol 'Xx'" in why[3] and why[0] == why[2] == ""
    assert "Lambda = inf" in why[5]
    with pytest.raises(ElementDataError, match="chi_allen of Nd"):
        m.predict_proba(rows[:3], errors="raise")
    # descriptor-frame models: a NaN in a column the model reads is a NaN row, with the column named
    fm, X, _y = _frame_model(two_cluster_frame)
    X2 = X.copy()
    X2.iloc[4, 0] = np.nan
    pp, why = fm.predict_proba(X2, return_reasons=True)
    assert np.isnan(pp[4]).all() and "a = nan" in why[4] and np.isfinite(np.delete(pp, 4, axis=0)).all()
    np.testing.assert_array_equal(np.delete(pp, 4, axis=0), np.delete(fm.predict_proba(X), 4, axis=0))


def _frame_model(two_cluster_frame):
    X, y = two_cluster_frame(n=80)
    m = SparseMixtureClassifier(anchors=ANCHORS, max_size=1, compare_global=False, cluster_on="all", random_state=2,
                                **FAST).fit(X, y)
    return m, X, y


def test_save_over_a_model_that_fails_part_way_leaves_no_loadable_mix(fitted, tmp_path, monkeypatch):
    """Overwriting a model directory: if the write fails after the new arrays, `load` must refuse
    the directory rather than pair the old config.json with the new arrays.npz."""
    m, X, _y = fitted
    d = tmp_path / "model"
    m.save(d)
    other = SparseMixtureClassifier.load(d)
    other.coef_draws_ = [D[:, :2].copy() for D in m.coef_draws_]  # a model with another subset size
    other.subset_, other.selected_descriptors_ = m.subset_[:1], m.selected_descriptors_[:1]

    def fail(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError, match="disk full"):
        other.save(d)
    monkeypatch.undo()
    with np.load(d / "arrays.npz") as z:
        assert z["draws_c0"].shape[1] == 2  # the new arrays are in place ...
    with pytest.raises(ModelError, match="no config.json"):  # ... so the old config must be gone
        SparseMixtureClassifier.load(d)
    other.save(d)  # a complete save loads and predicts as the model saved
    np.testing.assert_array_equal(SparseMixtureClassifier.load(d).predict_proba(X), other.predict_proba(X))


def test_interrupted_global_comparison_resumes_from_its_checkpoint(two_cluster_frame, tmp_path, monkeypatch):
    """fit(checkpoint=FILE) checkpoints the global comparison search too (FILE.global.json): a fit
    interrupted during it redoes only the unfinished chunks and equals an uninterrupted fit."""
    from hea_fast.mixture import search

    X, y = two_cluster_frame(n=160)
    kw = dict(anchors=ANCHORS, max_size=2, random_state=3, chunk_size=4, n_iter=24, burn_in=8, n_chains=2,
              n_draws=20)
    full = SparseMixtureClassifier(**kw).fit(X, y)
    real, calls = search._eval_chunk, []

    def interrupted(*a, **k):
        calls.append(a[5].cluster_on)
        if calls.count("global") == 3:  # the third chunk of the global search
            raise KeyboardInterrupt
        return real(*a, **k)

    ck = tmp_path / "ck.json"
    monkeypatch.setattr(search, "_eval_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        SparseMixtureClassifier(checkpoint=str(ck), **kw).fit(X, y)
    assert ck.exists() and (tmp_path / "ck.global.json").exists()
    calls.clear()
    m = SparseMixtureClassifier(checkpoint=str(ck), **kw).fit(X, y)
    n_chunks = -(-len(full.ranking_) // 4)
    assert calls == ["global"] * (n_chunks - 2)  # the anchored search and 2 global chunks were kept
    assert m.global_free_energy_ == full.global_free_energy_ and m.free_energy_ == full.free_energy_
    pd.testing.assert_frame_equal(m.global_ranking_, full.global_ranking_)
