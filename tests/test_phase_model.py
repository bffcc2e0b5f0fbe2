"""The default phase model (hea_fast.phase.model / estimator): the exported PhaseModel against the
fitted scikit-learn estimator, storage, bad rows, the bundled default, calibration, determinism."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hea_fast.composition import CompositionBatch
from hea_fast.features import BadRowsWarning
from hea_fast.phase.model import PhaseModel, PhaseModelError, default_model_dir, feature_matrix, load_model

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402

from hea_fast.phase.domain import ApplicabilityDomain  # noqa: E402
from hea_fast.phase.estimator import PhaseEnsembleClassifier, apply_platt, fit_platt  # noqa: E402

PALETTE = ("Al", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zr", "Nb", "Mo", "Hf", "Ta", "W")


def synthetic(n, seed):
    """Random 3-5 element alloys of PALETTE; P(y=1) a steep logistic function of the Cu + W - Ni
    fractions, which only the linear member sees directly: the member average is under-confident."""
    rng = np.random.default_rng(seed)
    F = np.zeros((n, len(PALETTE)))
    for i in range(n):
        k = int(rng.integers(3, 6))
        cols = rng.choice(len(PALETTE), size=k, replace=False)
        F[i, cols] = rng.dirichlet(np.full(k, 3.0))
    z = 60.0 * (F[:, PALETTE.index("Cu")] + F[:, PALETTE.index("W")] - F[:, PALETTE.index("Ni")] - 0.05)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return CompositionBatch(F, PALETTE), y


@pytest.fixture(scope="module")
def data():
    return synthetic(400, 0), synthetic(600, 1)


@pytest.fixture(scope="module")
def fitted(data):
    (b, y), _ = data
    return PhaseEnsembleClassifier(max_iter=20, random_state=0).fit(b, y)


@pytest.fixture(scope="module")
def model(fitted, data):
    (b, _), _ = data
    return fitted.export(ApplicabilityDomain().fit(b, threads=1), metadata={"note": "test"})


def test_exported_model_equals_the_estimator(fitted, model, data):
    _, (bt, _) = data
    want = fitted.predict_proba(bt)
    got = model.predict_proba(bt, threads=2)
    assert got.shape == want.shape == (len(bt), 2)
    assert np.isfinite(want).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(bt), (want[:, 1] >= 0.5).astype(np.int64))


def test_feature_matrix_is_descriptors_then_fractions(fitted, data):
    from hea_fast.features import featurize_array

    _, (bt, _) = data
    V, why = feature_matrix(bt, fitted.descriptors_, fitted.elements_)
    assert (why == "").all()
    np.testing.assert_array_equal(V[:, :15], featurize_array(bt, descriptors=list(fitted.descriptors_)))
    col = {e: j for j, e in enumerate(bt.elements)}
    for k, e in enumerate(fitted.elements_):
        np.testing.assert_array_equal(V[:, 15 + k], bt.fractions[:, col[e]])


def test_save_load_round_trip_is_bitwise(model, data, tmp_path):
    _, (bt, _) = data
    model.save(tmp_path / "m")
    back = PhaseModel.load(tmp_path / "m")
    assert back.params.to_dict() == model.params.to_dict()
    assert back.metadata == model.metadata
    np.testing.assert_array_equal(back.predict_proba(bt), model.predict_proba(bt))
    a, b = back.predict_frame(bt), model.predict_frame(bt)
    assert a.equals(b)
    assert list(a.columns) == ["p_single", "in_domain", "domain_score", "reason"]
    assert load_model(tmp_path / "m").predict_frame(bt).equals(b)


def test_load_errors_name_the_path(model, tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent")):
        PhaseModel.load(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="model.json"):
        PhaseModel.load(tmp_path / "empty")
    d = model.save(tmp_path / "m")
    text = (d / "model.json").read_text()
    (d / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(PhaseModelError, match=str(d / "model.json")):
        PhaseModel.load(d)
    (d / "model.json").write_text(json.dumps({"format": "something else", "version": 1}))
    with pytest.raises(PhaseModelError, match="not a phase model file"):
        PhaseModel.load(d)
    doc = json.loads(text)
    del doc["params"]["lin_coef"]
    (d / "model.json").write_text(json.dumps(doc))
    with pytest.raises(PhaseModelError, match="lin_coef"):
        PhaseModel.load(d)
    with pytest.raises(FileNotFoundError, match="nonesuch"):
        load_model("nonesuch")


def test_bad_rows_get_nan_and_a_reason(model):
    X = ["CoCrFeNi", "NdFeCoNi", "Al0.5CoCrFeNi", "CoCrQq", "Fe", "TiZrHfNb"]
    with pytest.warns(BadRowsWarning, match="3 of 6 rows"):
        p = model.predict_proba(X)[:, 1]
    assert np.isfinite(p[[0, 2, 5]]).all() and np.isnan(p[[1, 3, 4]]).all()
    p2, why = model.predict_proba(X, return_reasons=True)
    np.testing.assert_array_equal(p2[:, 1], p)
    assert why[0] == why[2] == why[5] == ""
    assert "Nd" in why[1] and "Qq" in why[3] and why[4].startswith("a pure element (Fe), ") and "Lambda" in why[4]
    # each valid row alone gives the same probability (no cross-row effect)
    for i in (0, 2, 5):
        assert model.predict_proba([X[i]])[0, 1] == p[i]
    with pytest.warns(BadRowsWarning):
        assert model.predict(X).tolist()[1] == -1
    frame = model.predict_frame(X)
    assert not frame["in_domain"].iloc[1] and "Nd" in frame["reason"].iloc[1]
    assert np.isnan(frame["p_single"].iloc[1]) and np.isnan(frame["domain_score"].iloc[1])
    assert np.isfinite(frame["p_single"].iloc[[0, 2, 5]]).all()
    with pytest.raises(ValueError, match="Nd"):
        model.predict_proba(X[:3], errors="raise")
    with pytest.raises(ValueError, match="Qq"):
        model.predict_proba(X, errors="raise")


def test_unknown_element_gets_a_probability_but_is_out_of_domain(model):
    frame = model.predict_frame(["CoCrFeNiRe", "CoCrFeNi"])
    assert "Re" not in model.elements
    assert np.isfinite(frame["p_single"]).all()
    assert not frame["in_domain"].iloc[0] and "Re" in frame["reason"].iloc[0]
    assert np.isinf(frame["domain_score"].iloc[0])


def test_frame_keeps_the_pandas_index(model):
    import pandas as pd

    s = pd.Series(["CoCrFeNi", "NdFeCoNi", "TiZrHfNb"], index=["a", "b", "c"])
    f = model.predict_frame(s)
    assert list(f.index) == ["a", "b", "c"]
    d = model.domain_frame(s)
    assert list(d.columns) == ["in_domain", "domain_score", "domain_reason"]
    np.testing.assert_array_equal(d["in_domain"].to_numpy(), f["in_domain"].to_numpy())


def test_platt_fit_matches_unpenalised_logistic_regression():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.98, 4000)
    z = np.log(p) - np.log1p(-p)
    y = (rng.random(p.size) < 1.0 / (1.0 + np.exp(-(2.0 * z + 0.5)))).astype(int)
    a, b = fit_platt(p, y)
    ref = LogisticRegression(C=1e12, tol=1e-12, max_iter=10000).fit(z[:, None], y)
    assert a == pytest.approx(float(ref.coef_[0, 0]), abs=1e-4)
    assert b == pytest.approx(float(ref.intercept_[0]), abs=1e-4)
    assert a == pytest.approx(2.0, abs=0.2) and b == pytest.approx(0.5, abs=0.15)
    np.testing.assert_allclose(apply_platt(p, a, b), ref.predict_proba(z[:, None])[:, 1], atol=1e-6)


def test_calibration_reduces_held_out_log_loss(fitted, data):
    (b, y), (bt, yt) = data
    raw = PhaseEnsembleClassifier(calibrate=False, max_iter=20, random_state=0).fit(b, y)
    assert raw.best_params_ == fitted.best_params_  # same members, only the calibration differs
    p_avg = raw.predict_proba(bt)[:, 1]
    p_cal = fitted.predict_proba(bt)[:, 1]
    np.testing.assert_allclose(p_cal, apply_platt(p_avg, fitted.cal_a_, fitted.cal_b_), atol=1e-15)
    assert fitted.cal_a_ > 1.5  # the average is under-confident here
    assert log_loss(yt, p_cal) < log_loss(yt, p_avg) - 0.02


def test_same_seed_same_model(fitted, data, model):
    (b, y), _ = data
    again = PhaseEnsembleClassifier(max_iter=20, random_state=0).fit(b, y)
    assert again.export().params.to_dict() == model.params.to_dict()
    np.testing.assert_array_equal(again.oof_p_avg_, fitted.oof_p_avg_)


def test_boosted_member_reads_float32_descriptors_so_the_element_order_does_not_matter(fitted, model, data):
    """trees='boosting': the tree member is scikit-learn's boosted trees refitted here on the float32-rounded
    descriptors with the selected settings (bitwise); the export's thresholds are `float32_cut`s, and a composition scores the same
    whatever order its elements are written in, in the per-row kernel and in the fused screen."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hea_fast.phase.convert import float32_cut
    from hea_fast.phase.estimator import student_features
    from hea_fast.phase.model import feature_matrix
    from hea_fast.screen import PhaseScorer, hea_space
    from hea_fast.screen.domain import decode_ranks

    (b, y), (bt, _) = data
    fd = len(fitted.descriptors_)
    V = feature_matrix(b, fitted.descriptors_, fitted.elements_, threads=1)[0][:, :fd]
    Vt = feature_matrix(bt, fitted.descriptors_, fitted.elements_, threads=1)[0][:, :fd]
    ref = HistGradientBoostingClassifier(max_iter=20, early_stopping=False, random_state=0,
                                         **fitted.best_params_["trees"]).fit(student_features(V), y)
    np.testing.assert_array_equal(fitted.trees_.predict_proba(student_features(Vt)),
                                  ref.predict_proba(student_features(Vt)))
    # the export compares float64 descriptors against float32_cut thresholds (its fixed points)
    inner = model.params.node_feature >= 0
    thr = model.params.node_threshold[inner]
    np.testing.assert_array_equal(float32_cut(thr), thr)
    space = hea_space(["Ti", "Cr", "Fe", "Ni", "Cu"], 5, 5.0)
    rows = decode_ranks(space, np.arange(0, space.size, max(1, space.size // 500)))
    reversed_rows = CompositionBatch(np.asarray(rows.fractions)[:, ::-1], tuple(rows.elements)[::-1])
    p = model.predict_proba(rows)[:, 1]
    # (the linear member's sums differ by ulps; a tree branch would differ by a leaf value)
    np.testing.assert_allclose(model.predict_proba(reversed_rows)[:, 1], p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.predict_proba(rows)[:, 1], p, rtol=0, atol=1e-12)
    scores, ranks, _ = PhaseScorer(model).fused_topk(space, 0, space.size, 50, "default", 1)
    np.testing.assert_allclose(scores, model.predict_proba(decode_ranks(space, ranks))[:, 1], rtol=0, atol=1e-12)


def test_soft_label_rows_are_the_documented_duplication():
    """Row i once as label 1 (weight q_i) and once as label 0 (weight 1 - q_i), in row order, zero weights
    dropped: 0/1 labels give back the rows themselves, each with weight 1."""
    from hea_fast.phase.estimator import soft_label_rows

    rows, lab, w = soft_label_rows([0.25, 1.0, 0.0, 0.5])
    assert rows.tolist() == [0, 0, 1, 2, 3, 3] and lab.tolist() == [1, 0, 1, 0, 1, 0]
    np.testing.assert_array_equal(w, [0.25, 0.75, 1.0, 1.0, 0.5, 0.5])
    y = np.array([1, 0, 0, 1, 1])
    rows, lab, w = soft_label_rows(y)
    assert rows.tolist() == [0, 1, 2, 3, 4] and lab.tolist() == y.tolist() and (w == 1).all()


def test_forest_on_label_fractions(data):
    """fit(..., label_fraction=q): the forest is scikit-learn's forest fitted by hand to the soft-label rows
    with the leaf size chosen on the vote (bitwise); the forest then follows the fractions at the training
    compositions; bad fractions are named; the export records which labels the trees saw."""
    from sklearn.ensemble import RandomForestClassifier

    from hea_fast.phase.estimator import soft_label_rows

    (b, y), (bt, _) = data
    rng = np.random.default_rng(5)
    q = np.clip(y + rng.choice([-0.4, -0.2, 0.0], size=y.size) * np.where(y == 1, 1, -1), 0, 1)
    hard = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=3).fit(b, y)
    soft = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=3).fit(b, y, label_fraction=q)
    assert hard.tree_labels_ == "vote" and soft.tree_labels_ == "fraction"
    assert soft.best_params_ == hard.best_params_  # chosen on the vote
    fd = len(soft.descriptors_)
    V = feature_matrix(b, soft.descriptors_, soft.elements_, threads=1)[0][:, :fd]
    Vt = feature_matrix(bt, soft.descriptors_, soft.elements_, threads=1)[0][:, :fd]
    rows, lab, w = soft_label_rows(q)
    rf = RandomForestClassifier(n_estimators=300, random_state=3, n_jobs=1,
                                min_samples_leaf=hard.best_params_["trees"]["min_samples_leaf"])
    rf.fit(V[rows], lab, sample_weight=w)
    np.testing.assert_array_equal(soft.trees_.predict_proba(Vt), rf.predict_proba(Vt))
    at_train_soft = soft.trees_.predict_proba(V)[:, 1]
    at_train_hard = hard.trees_.predict_proba(V)[:, 1]
    assert np.mean(np.abs(at_train_soft - q)) < 0.5 * np.mean(np.abs(at_train_hard - q))
    assert soft.export().metadata["tree_labels"] == "fraction" and hard.export().metadata["tree_labels"] == "vote"
    for bad, msg in ((q[:-1], "shape"), (np.where(np.arange(q.size) == 7, 1.5, q), "row 7 has 1.5"),
                     (np.where(np.arange(q.size) == 2, np.nan, q), "row 2 has nan")):
        with pytest.raises(ValueError, match=msg):
            PhaseEnsembleClassifier(calibrate=False, trees="forest").fit(b, y, label_fraction=bad)


def test_forest_member_is_the_mean_of_an_independently_refitted_forest_and_the_linear_member(data, tmp_path,
                                                                                              monkeypatch):
    """trees='forest': p = (p_linear + p_forest) / 2 with the forest refitted here by scikit-learn on the
    same features with the selected min_samples_leaf (an independent fit, same seed)."""
    from sklearn.ensemble import RandomForestClassifier

    from hea_fast.phase.estimator import FOREST_GRID
    from hea_fast.phase.model import feature_matrix

    (b, y), (bt, _) = data
    est = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=3).fit(b, y)
    leaf = est.best_params_["trees"]["min_samples_leaf"]
    assert leaf in FOREST_GRID["min_samples_leaf"]
    V, _ = feature_matrix(b, est.descriptors_, est.elements_, threads=1)
    Vt, _ = feature_matrix(bt, est.descriptors_, est.elements_, threads=1)
    fd = len(est.descriptors_)
    rf = RandomForestClassifier(n_estimators=300, min_samples_leaf=leaf, random_state=3, n_jobs=1).fit(V[:, :fd], y)
    want = 0.5 * est.linear_.predict_proba(Vt)[:, 1] + 0.5 * rf.predict_proba(Vt[:, :fd])[:, 1]
    np.testing.assert_allclose(est.predict_proba(bt)[:, 1], want, rtol=0, atol=1e-12)
    # exported (the C++ forest walker): the estimator's probabilities; saved with its nodes in nodes.npz
    m = est.export()
    np.testing.assert_allclose(m.predict_proba(bt)[:, 1], want, rtol=0, atol=1e-15)
    from hea_fast.phase import model as model_module

    monkeypatch.setattr(model_module, "NODES_IN_JSON", 100)  # this small forest goes to nodes.npz too
    assert m.params.node_feature.size > model_module.NODES_IN_JSON
    d = m.save(tmp_path / "forest")
    assert (d / "nodes.npz").exists() and "node_value" not in (d / "model.json").read_text()
    again = PhaseModel.load(d)
    np.testing.assert_array_equal(again.predict_proba(bt)[:, 1], m.predict_proba(bt)[:, 1])
    with pytest.raises(ValueError, match="trees must be one of .*'bagging'"):
        PhaseEnsembleClassifier(trees="bagging").fit(b, y)


def test_distillation_compositions_follow_their_definition():
    """Rows: the training rows, then `near` Dirichlet draws on each row's own elements (mean = the row:
    the Dirichlet's closed-form mean, checked on 4,000 draws), blends inside the training elements'
    span, then alloys of 4-6 training elements; seeded."""
    from hea_fast.phase.estimator import distillation_compositions

    F = np.array([[0.5, 0.3, 0.2, 0, 0, 0, 0], [0, 0.25, 0.25, 0.25, 0.25, 0, 0], [0, 0, 0, 0.1, 0.2, 0.3, 0.4]])
    C = distillation_compositions(F, np.random.default_rng(0), near=10, mix=10, new=5)
    n = len(F)
    assert C.shape == (n * 26, 7) and np.allclose(C.sum(axis=1), 1.0, atol=1e-12) and (C >= 0).all()
    np.testing.assert_array_equal(C[:n], F)
    near = C[n:n + 10 * n].reshape(n, 10, 7)
    assert ((near > 0) <= (F[:, None, :] > 0)).all()  # only the row's own elements
    new = C[n + 20 * n:]
    assert np.isin((new > 0).sum(axis=1), (4, 5, 6)).all()
    np.testing.assert_array_equal(C, distillation_compositions(F, np.random.default_rng(0)))
    assert not np.array_equal(C, distillation_compositions(F, np.random.default_rng(1)))
    # Dirichlet(100 f): mean f, variance f (1 - f) / 101 per element
    D = distillation_compositions(F[:1], np.random.default_rng(2), near=4000, mix=0, new=0)[1:]
    f = F[0, :3]
    assert (np.abs(D[:, :3].mean(axis=0) - f) <= 4 * np.sqrt(f * (1 - f) / 101 / 4000)).all()
    np.testing.assert_allclose(D[:, :3].var(axis=0), f * (1 - f) / 101, rtol=0.1)
    # the new alloys favour the elements most training rows hold: element 1 (two rows) over element 0 (one)
    G = distillation_compositions(F, np.random.default_rng(3), near=0, mix=0, new=2000)[n:]
    held = (G > 0).mean(axis=0)
    assert held[1] > held[0] and held[2] > held[6]
    for bad in (np.zeros((0, 3)), np.array([[0.5, -0.5, 1.0]]), np.array([[np.nan, 1.0]])):
        with pytest.raises(ValueError, match="non-negative fractions"):
            distillation_compositions(bad, np.random.default_rng(0))


def test_distilled_member_follows_an_independently_refitted_forest_and_runs_in_the_fused_kernel(data):
    """trees='distilled': the teacher is the forest scikit-learn fits with the selected min_samples_leaf
    (bitwise, same seed); the student (600 boosted trees of depth <= 4) stays close to it on unseen
    alloys, far closer than the forest is to the labels; the exported model is the estimator's and the
    fused lattice kernel runs it (equal to the per-row path); the calibrated variant refits teacher and
    student per calibration fold."""
    from sklearn.ensemble import RandomForestClassifier

    from hea_fast.phase.estimator import STUDENT, student_features
    from hea_fast.screen import PhaseScorer, hea_space
    from hea_fast.screen.domain import decode_ranks

    (b, y), (bt, yt) = data
    est = PhaseEnsembleClassifier(calibrate=False, trees="distilled", random_state=3).fit(b, y)
    leaf = est.best_params_["trees"]["teacher"]["min_samples_leaf"]
    assert est.best_params_["trees"]["student"] == STUDENT
    V, _ = feature_matrix(b, est.descriptors_, est.elements_, threads=1)
    Vt, _ = feature_matrix(bt, est.descriptors_, est.elements_, threads=1)
    fd = len(est.descriptors_)
    rf = RandomForestClassifier(n_estimators=300, min_samples_leaf=leaf, random_state=3, n_jobs=1).fit(V[:, :fd], y)
    p_teacher = rf.predict_proba(Vt[:, :fd])[:, 1]
    np.testing.assert_array_equal(est.teacher_.predict_proba(Vt[:, :fd])[:, 1], p_teacher)
    p_student = est.trees_.predict_proba(student_features(Vt[:, :fd]))[:, 1]
    rmse = np.sqrt(np.mean((p_student - p_teacher) ** 2))
    assert rmse < 0.1 and rmse < 0.5 * np.sqrt(np.mean((p_teacher - yt) ** 2))
    assert est.distillation_["n_rows"] == 26 * len(y) and est.distillation_["rmse"] < rmse
    p = est.predict_proba(bt)[:, 1]
    np.testing.assert_allclose(p, 0.5 * est.linear_.predict_proba(Vt)[:, 1] + 0.5 * p_student, rtol=0, atol=1e-15)
    m = est.export()
    assert m.params.tree_link == "logit" and not m.params.tree_float32 and m.params.n_trees == STUDENT["max_iter"]
    assert m.metadata["distillation"]["student"] == STUDENT
    np.testing.assert_allclose(m.predict_proba(bt)[:, 1], p, rtol=0, atol=1e-12)
    space = hea_space(["Ti", "Cr", "Fe", "Ni", "Cu"], 5, 5.0)
    scores, ranks, _ = PhaseScorer(m).fused_topk(space, 0, space.size, 10, "default", 1)
    np.testing.assert_allclose(scores, m.predict_proba(decode_ranks(space, ranks))[:, 1], rtol=0, atol=1e-12)
    # the calibrated variant distils again in each calibration fold (a 50-tree student keeps this quick)
    from hea_fast.phase import estimator

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(estimator.STUDENT, "max_iter", 50)
        cal = PhaseEnsembleClassifier(trees="distilled", calibration_folds=2, random_state=3).fit(b, y)
    assert cal.export().params.n_trees == 50
    assert np.isfinite(cal.oof_p_avg_).all() and cal.cal_a_ > 0 and (cal.cal_a_, cal.cal_b_) != (1.0, 0.0)


def test_distillation_weighs_the_training_compositions_as_documented(data):
    """distil_weight: the student equals scikit-learn's boosted trees fitted by hand to the teacher's soft
    labels with the training compositions weighing distil_weight draws (bitwise); a heavier weight makes
    the student follow its teacher more closely at the training compositions; bad weights are named."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hea_fast.composition import CompositionBatch
    from hea_fast.phase.estimator import DISTIL_DRAWS, DISTIL_WEIGHT, distillation_compositions

    (b, y), _ = data
    small = {"max_iter": 60, "max_depth": 4, "learning_rate": 0.1}
    est = PhaseEnsembleClassifier(calibrate=False, trees="distilled", random_state=3).fit(b, y)
    assert est.distil_weight == DISTIL_WEIGHT == sum(DISTIL_DRAWS.values())
    F, els = np.asarray(b.fractions), b.elements
    # the reference: the distillation set rebuilt from its definition, weights applied by hand
    C = distillation_compositions(F, np.random.default_rng(3), **DISTIL_DRAWS)
    V = feature_matrix(CompositionBatch(C, tuple(els)), est.descriptors_, (), threads=1)[0]
    assert np.isfinite(V).all()
    q = est.teacher_.predict_proba(V)[:, 1]
    base = np.where(np.arange(len(C)) < len(F), 7.0, 1.0)
    pos, neg = q > 0, q < 1
    V = V.astype(np.float32).astype(np.float64)  # the student sees float32-rounded descriptors
    ref = HistGradientBoostingClassifier(early_stopping=False, random_state=3, **small).fit(
        np.vstack([V[pos], V[neg]]), np.r_[np.ones(pos.sum()), np.zeros(neg.sum())],
        sample_weight=np.r_[q[pos] * base[pos], (1 - q[neg]) * base[neg]])
    fit_rms = {}
    for w in (1.0, 7.0, 100.0):
        other = PhaseEnsembleClassifier(calibrate=False, trees="distilled", random_state=3, distil_weight=w)
        other.descriptors_ = est.descriptors_
        student, info = other._distil(est.teacher_, F, els, student=small)
        if w == 7.0:
            np.testing.assert_array_equal(student.predict_proba(V)[:, 1], ref.predict_proba(V)[:, 1])
        fit_rms[w] = info["rmse_train"]
        direct = np.sqrt(np.mean((student.predict_proba(V[:len(F)])[:, 1] - q[:len(F)]) ** 2))
        assert info["rmse_train"] == pytest.approx(direct, rel=1e-12)
    assert fit_rms[100.0] < fit_rms[7.0] < fit_rms[1.0]
    assert est.export().metadata["distillation"]["train_weight"] == DISTIL_WEIGHT
    for bad in (0, -1.0, float("nan"), "heavy"):
        with pytest.raises(ValueError, match=f"distil_weight must be a positive number, got {bad!r}"):
            PhaseEnsembleClassifier(trees="distilled", calibrate=False, distil_weight=bad).fit(b, y)


def test_fit_rejects_rows_without_descriptors():
    with pytest.raises(ValueError, match="Nd"):
        PhaseEnsembleClassifier(max_iter=5).fit(["CoCrFeNi", "NdFeCoNi", "TiZrHfNb", "NbMoTaW"], [1, 0, 1, 1])


def test_default_model_loads_without_a_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path / "no_data_home"))
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    m = load_model("default")
    assert isinstance(m, PhaseModel) and m.domain is not None
    f = m.predict_frame(["CoCrFeMnNi", "HfNbTaTiZr", "NbMoTaW", "AlCoCrCuFeNi"])
    assert f["p_single"].between(0, 1).all()
    assert f["in_domain"].iloc[:3].all()  # the best-known single-phase HEAs are training alloys
    assert (default_model_dir() / "TRAINING.json").is_file()


def test_default_model_puts_binaries_out_of_domain(tmp_path, monkeypatch):
    """The bundled domain's component rule (min_components=3): the sources contradict each other on
    binaries (benchmarks/papers/phase_validation/domain.md), so a binary gets a probability but
    in_domain False and the reason."""
    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path / "no_data_home"))
    m = load_model("default")
    assert m.domain.min_components == 3
    f = m.predict_frame(["TiZr", "Cu50Zr50", "NbTaTi", "CoCrFeMnNi"])
    assert f["p_single"].between(0, 1).all()
    assert f["in_domain"].tolist() == [False, False, True, True]
    assert f["reason"].iloc[:2].str.contains("2 element(s), fewer than min_components=3", regex=False).all()
    assert (f["reason"].iloc[2:] == "").all()


def test_fast_model_is_the_pooled_forest_distilled(tmp_path, monkeypatch):
    """The bundled ``fast`` model (scripts/train_default_phase.py --trees distilled --rows pooled: the
    protocol's ``ensemble_distilled_soft``): 600 boosted trees of depth <= 4 (the complete-tree layout of the
    fused kernel), its TRAINING.json naming the recipe (teacher fitted to the record fractions of the pooled
    compositions). Its teacher is the earlier default (``ensemble_forest_soft``, checked against a refit in
    tests/test_validation.py); since the default became ``ensemble_forest_sources`` (fitted per source) the two
    share no member, but they still agree over the default HEA space: RMS difference < 0.06 and correlation
    > 0.95 on 2,000 random compositions (measured 0.041 and 0.977)."""
    from hea_fast.phase.estimator import STUDENT
    from hea_fast.phase.model import fast_model_dir
    from hea_fast.screen import DEFAULT_PALETTE, hea_space
    from hea_fast.screen.domain import decode_ranks

    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path / "no_data_home"))
    m, default = load_model("fast"), load_model("default")
    assert m.params.tree_link == "logit" and not m.params.tree_float32  # float32 cuts: float64 node tests
    assert m.params.n_trees == STUDENT["max_iter"] and m.params.max_depth <= STUDENT["max_depth"]
    training = json.loads((fast_model_dir() / "TRAINING.json").read_text())
    assert "ensemble_distilled_soft" in training["model"] and training["distillation"]["rmse"] < 0.1
    assert training.get("rows", "pooled") == "pooled" and training["tree_labels"] == "fraction" == m.metadata["tree_labels"]
    space = hea_space(DEFAULT_PALETTE, 5, 1.0)
    batch = decode_ranks(space, np.random.default_rng(0).integers(0, space.size, 2000), 1)
    p, q = m.predict_proba(batch)[:, 1], default.predict_proba(batch)[:, 1]
    assert np.sqrt(np.mean((p - q) ** 2)) < 0.06 and np.corrcoef(p, q)[0, 1] > 0.95


def test_default_model_is_the_forest_ensemble_and_screens_fused(tmp_path, monkeypatch):
    """The bundled default (scripts/train_default_phase.py: the protocol's ``ensemble_forest_sources``, its
    most accurate model; "best" is the same directory): a forest member (mean link, float32 tests,
    nodes in nodes.npz) fitted per source to the record fractions, the domain settings, its TRAINING.json; its
    probabilities (C++ forest walker) are the NumPy formula's bitwise, every one in [0, 1]; `screen`
    runs it through the fused lattice kernel, whose top-k is that of the decoded compositions'
    probabilities."""
    from hea_fast.phase.ensemble import phase_ensemble_reference
    from hea_fast.phase.model import bundled_model_dir

    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path / "no_data_home"))
    m = load_model("default")
    assert bundled_model_dir("best") == default_model_dir() and load_model("best").params.n_trees == 300
    assert m.params.tree_link == "mean" and m.params.tree_float32 and m.metadata["tree_labels"] == "fraction"
    assert (default_model_dir() / "nodes.npz").is_file()
    training = json.loads((default_model_dir() / "TRAINING.json").read_text())
    assert "ensemble_forest_sources" in training["model"] and training["rows"] == "sources"
    sel = training["protocol_metrics"]["default"]
    assert sel["model"] == "ensemble_forest_sources" and sel["beats_all_on_mean_auc"] and sel["beats_all_on_mean_log_loss"]
    assert sel["loso_pooled_ece"] <= sel["ece_target"] == 0.05
    assert m.domain.min_components == 3 and m.params.n_trees == 300
    alloys = ["CoCrFeMnNi", "HfNbTaTiZr", "NbMoTaW", "AlCoCrCuFeNi", "TiZr"]
    f = m.predict_frame(alloys)
    assert f["p_single"].between(0, 1).all() and f["in_domain"].tolist() == [True, True, True, True, False]
    V, _ = m.feature_matrix(alloys)
    np.testing.assert_array_equal(f["p_single"].to_numpy(), phase_ensemble_reference(V, m.params))
    from hea_fast.screen import PhaseScorer, hea_space

    space = hea_space(["Nb", "Mo", "Ta", "W", "Ti", "V"], 5, 5.0)
    s, r, n = PhaseScorer(m).fused_topk(space, 0, len(space), 25, "default", 2)
    p = m.predict_proba(space.decode(0, len(space)))[:, 1]
    order = np.lexsort((np.arange(len(p)), -p))[:25]
    assert n == len(space) and np.array_equal(r, order)
    np.testing.assert_allclose(s, p[order], rtol=0, atol=1e-12)


def test_inference_does_not_import_sklearn(tmp_path):
    import os

    import hea_fast

    code = ("import sys, hea_fast.phase as ph; m = ph.load_model('default'); "
            "m.predict_frame(['CoCrFeMnNi', 'NdFeCoNi']); "
            "print('sklearn' in sys.modules)")
    # the same hea_fast as this process (installed or in place), from a neutral working directory
    env = dict(os.environ, PYTHONPATH=str(Path(hea_fast.__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env=env)
    assert out.stdout.strip() == "False", out.stderr


# ---- known alloys: the model blended with the training records ---------------------------------------------
def test_training_match_index_is_the_nearest_training_alloy_within_tolerance():
    m = load_model("default")
    d = m.domain
    T = d.points_[:, len(d.descriptors):] / d.fraction_weight
    rng = np.random.default_rng(5)
    pick = rng.choice(len(T), 300, replace=False)
    Q = T[pick] + rng.uniform(-8e-4, 8e-4, (300, T.shape[1])) * (T[pick] > 0)  # within 1e-3 on its own elements
    Q = np.clip(Q, 0, None)
    far = np.clip(T[pick[:50]] + rng.uniform(0.01, 0.02, (50, T.shape[1])) * (T[pick[:50]] > 0), 0, None)
    Q = np.vstack([Q, far])
    idx = d.training_match(Q, d.elements_, return_index=True)
    # brute force: same support at the 1e-3 resolution, largest |Δ| <= 1e-3, the smallest such gap, lowest index
    support_t, support_q = T > 5e-4, Q > 5e-4
    for i in range(len(Q)):
        same = (support_t == support_q[i]).all(axis=1)
        gap = np.where(same, np.abs(T - Q[i]).max(axis=1), np.inf)
        j = int(np.argmin(gap))
        assert idx[i] == (j if gap[j] <= 1e-3 + 1e-12 else -1), i
    assert (idx[:300] >= 0).all() and (idx[300:] == -1).all()
    np.testing.assert_array_equal(d.training_match(Q, d.elements_), idx >= 0)


def _brute_records(records, formula):
    """(records, single-phase records) of every recorded composition with the alloy's element set and
    every fraction within 1e-3, one at a time (an element below 5e-4 counts as absent)."""
    F, els = _fractions([formula])
    q = dict(zip(els, F[0]))
    n = k = 0
    for i in range(len(records)):
        r = dict(zip(records.elements, records.fractions[i]))
        keys = set(q) | set(r)
        if {e for e in keys if q.get(e, 0) > 5e-4} != {e for e in keys if r.get(e, 0) > 5e-4}:
            continue
        if max(abs(q.get(e, 0.0) - r.get(e, 0.0)) for e in keys) <= 1e-3 + 1e-12:
            n, k = n + int(records.n_records[i]), k + int(records.n_single[i])
    return n, k


def test_memory_blends_known_alloys_only():
    m = load_model("default")
    alloys = ["CoCrFeMnNi", "NbMoTaW", "Ti35Nb25Mo25Ta10W5", "Nd20Fe80", "Co24.99Cr24.99Fe24.99Ni24.99Hf0.04",
              "AlCoCrFeNi"]
    plain = m.predict_frame(alloys)
    assert list(plain.columns) == ["p_single", "in_domain", "domain_score", "reason"]
    f = m.predict_frame(alloys, memory=True)
    assert list(f.columns) == ["p_single", "in_domain", "domain_score", "reason", "p_model", "training_records"]
    np.testing.assert_array_equal(f["p_model"].to_numpy(), plain["p_single"].to_numpy())
    np.testing.assert_array_equal(f["in_domain"].to_numpy(), plain["in_domain"].to_numpy())
    for i in (0, 1, 4, 5):  # the blend, against the records counted one by one
        n, k = _brute_records(m.records, alloys[i])
        assert n > 0 and f["training_records"].iloc[i] == f"{k}/{n}"
        w = n / (n + 3.0)
        assert f["p_single"].iloc[i] == pytest.approx((1 - w) * plain["p_single"].iloc[i] + w * k / n, abs=1e-15)
    # a new alloy keeps the model's P; a row without a probability stays NaN; a sub-resolution trace is the alloy
    assert f["p_single"].iloc[2] == plain["p_single"].iloc[2] and f["training_records"].iloc[2] == ""
    assert np.isnan(f["p_single"].iloc[3]) and f["training_records"].iloc[3] == ""
    assert f["training_records"].iloc[4] == f"{_brute_records(m.records, 'CoCrFeNi')[1]}/" \
        f"{_brute_records(m.records, 'CoCrFeNi')[0]}"
    # AlCoCrFeNi is no training composition (its six sources tie 3:3) but its records count
    assert not m.domain.training_match(*_fractions(["AlCoCrFeNi"]))[0]


def _fractions(formulas):
    from hea_fast.composition import as_batch

    b = as_batch(formulas)
    return np.asarray(b.fractions), b.elements


def test_models_saved_before_records_npz_keep_their_rule_and_bad_records_are_refused(tmp_path):
    m = load_model("default")
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "records.npz").is_file()
    (tmp_path / "m" / "records.npz").unlink()  # a model directory written before records.npz
    alloys = ["CoCrFeMnNi", "NbMoTaW", "AlCoCrFeNi"]
    back = load_model(tmp_path / "m")
    assert back.records is None
    f = back.predict_frame(alloys, memory=True)
    # its training compositions blend their own records (training_alloys.npz); the tie AlCoCrFeNi is not one
    a = back.training_alloys
    known = back.domain.training_match(*_fractions(alloys[:2]), return_index=True)
    n, k = a["n_records"][known].astype(float), a["n_single"][known].astype(float)
    w = n / (n + 3.0)
    np.testing.assert_allclose(f["p_single"].iloc[:2], (1 - w) * f["p_model"].iloc[:2] + w * k / n, rtol=0, atol=1e-15)
    assert f["training_records"].iloc[0] == f"{int(k[0])}/{int(n[0])}"
    assert f["p_single"].iloc[2] == f["p_model"].iloc[2] and f["training_records"].iloc[2] == ""
    path = tmp_path / "m" / "training_alloys.npz"
    with np.load(path) as z:
        fields = {k: z[k] for k in z.files}
    old = {k: v for k, v in fields.items() if k not in ("n_records", "n_single")}
    np.savez(path, **old)  # ... and one written before the records were stored at all
    f = load_model(tmp_path / "m").predict_frame(alloys, memory=True)
    np.testing.assert_array_equal(f["p_single"].to_numpy(), f["p_model"].to_numpy())
    assert (f["training_records"] == "").all()
    np.savez(path, **{**old, "n_records": fields["n_records"]})
    with pytest.raises(PhaseModelError, match="only part of"):
        load_model(tmp_path / "m")
    bad = dict(fields)
    bad["n_single"] = bad["n_records"] + 1
    np.savez(path, **bad)
    with pytest.raises(PhaseModelError, match="n_single <= n_records"):
        load_model(tmp_path / "m")
    np.savez(path, **fields)
    # a model without records saved over this directory does not inherit the stale records.npz
    m.save(tmp_path / "m")
    assert load_model(tmp_path / "m").records is not None
    m.records, kept = None, m.records
    m.save(tmp_path / "m")
    assert not (tmp_path / "m" / "records.npz").exists() and load_model(tmp_path / "m").records is None
    m.records = kept
    m.records.save(tmp_path / "m")
    bad_records = {"formula": m.records.formula, "elements": np.asarray(m.records.elements),
                   "fractions": m.records.fractions, "n_records": m.records.n_records,
                   "n_single": m.records.n_records + 1}
    np.savez(tmp_path / "m" / "records.npz", **bad_records)
    with pytest.raises(PhaseModelError, match=r"records\.npz.*n_single <= n_records"):
        load_model(tmp_path / "m")


def test_bundled_records_are_the_pooled_datas(shared_data):
    from hea_fast.validation import composition_keys, harmonised_phase_data, pool

    pooled = pool(harmonised_phase_data()).set_index("key")
    m = load_model("default")
    for formula in ("CoCrFeMnNi", "HfNbTaTiZr", "Al2CoCrFeNi"):
        F, els = _fractions([formula])
        key = composition_keys(F, els)[0]
        i = m.domain.training_match(F, els, return_index=True)[0]
        assert (int(m.training_alloys["n_single"][i]), int(m.training_alloys["n_records"][i])) == \
            (int(pooled.loc[key, "n_single"]), int(pooled.loc[key, "n_records"]))
    # records.npz: every recorded key once, with the records of all its sources (ties included)
    data = harmonised_phase_data()
    r = m.records
    assert len(r) == data["key"].nunique() > len(pooled) and int(r.n_records.sum()) == int(data["n_records"].sum())
    F, els = _fractions(["AlCoCrFeNi"])
    rows = data[data["key"] == composition_keys(F, els)[0]]
    assert rows["single_phase"].sum() * 2 == len(rows) == 6  # a 3:3 tie of the sources, so not a training row
    n, k = r.records_for(F, els)
    assert (int(n[0]), int(k[0])) == (int(rows["n_records"].sum()), int(rows["n_single"].sum())) == (117, 56)
