"""The data-efficiency protocol (benchmarks/papers/ssvae/PROTOCOL.md): both models select on the same
validation rows, and no selection step reads the test labels."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from hea_fast.ssvae import efficiency as eff  # noqa: E402
from hea_fast.ssvae.data import load_splits  # noqa: E402

TINY = {"ssvae": {"ssvae_kw": {"epochs": 3, "min_epochs": 1}},
        "mlp": {"mlp_kw": {"epochs": 4, "alphas": (1e-4, 1.0)}}}
SELECTION_FIELDS = ("best_epoch", "val_brier", "alpha", "val_brier_by_alpha", "val_brier_smoothed",
                    "labelled_orig_index", "validation_orig_index", "test_proba")


@pytest.fixture(scope="module")
def base():
    return load_splits(42)


def _with_labels(splits, part, y):
    return {**splits, part: replace(splits[part], y=np.asarray(y, np.float32))}


def test_subset_keeps_n_stratified_rows_and_hides_the_rest(base):
    sub = eff.subset_labels(base, 50, seed=3)
    L, L0 = sub["labelled"], base["labelled"]
    assert len(L.y) == 50
    assert abs(L.y.mean() - L0.y.mean()) < 1 / 50 + 1e-9  # stratified
    kept, moved = set(L.orig_index), set(sub["unlabelled"].orig_index) - set(base["unlabelled"].orig_index)
    assert not kept & moved and kept | moved == set(L0.orig_index)
    assert len(sub["unlabelled"].y) == len(base["unlabelled"].y) + 864 - 50
    assert sub["validation"] is base["validation"] and sub["test"] is base["test"]
    assert set(eff.subset_labels(base, 864, 0)["labelled"].orig_index) == set(L0.orig_index)
    for bad in (1, 865, 50.0, True):
        with pytest.raises(ValueError, match="n_labels"):
            eff.subset_labels(base, bad, 0)


def test_fitting_functions_refuse_the_test_split(base):
    sub = eff.subset_labels(base, 50, 0)
    assert set(eff.selection_data(sub)) == {"labelled", "unlabelled", "validation"}
    with pytest.raises(ValueError, match="test"):
        eff.fit_mlp(sub, 0, epochs=1)
    with pytest.raises(ValueError, match="test"):
        eff.fit_ssvae([sub], [0], config=eff.ssvae_config(epochs=1, min_epochs=1))


@pytest.mark.parametrize("model", eff.MODELS)
def test_permuting_test_labels_changes_no_selection(base, model):
    y = base["test"].y
    perm = _with_labels(base, "test", np.random.default_rng(0).permutation(y))
    assert (perm["test"].y != y).any()
    a = eff.run_protocol(base, model, 50, [0, 1], **TINY[model])
    b = eff.run_protocol(perm, model, 50, [0, 1], **TINY[model])
    for ra, rb in zip(a, b):
        for k in SELECTION_FIELDS:
            assert ra.get(k) == rb.get(k), k  # the selected epoch / alpha and the fitted model
        # the test labels are read once, when the selected model is scored
        assert ra["test_auc"] == pytest.approx(roc_auc_score(y, ra["test_proba"]), abs=1e-5)
        assert rb["test_auc"] == pytest.approx(roc_auc_score(perm["test"].y, rb["test_proba"]), abs=1e-5)
    assert any(ra["test_auc"] != rb["test_auc"] for ra, rb in zip(a, b))


def test_both_models_select_on_the_same_validation_rows(base):
    rows = {m: eff.run_protocol(base, m, 100, [2], **TINY[m])[0] for m in eff.MODELS}
    assert rows["mlp"]["validation_orig_index"] == rows["ssvae"]["validation_orig_index"] \
        == base["validation"].orig_index.tolist()
    assert rows["mlp"]["labelled_orig_index"] == rows["ssvae"]["labelled_orig_index"]
    # the MLP's reported score is the validation Brier of an independent sklearn refit at the chosen
    # alpha and epoch, on the standardisation of labelled + unlabelled descriptors
    r = rows["mlp"]
    sub = eff.subset_labels(base, 100, 2)
    e = np.concatenate([sub["labelled"].e, sub["unlabelled"].e]).astype(np.float64)
    mu, sd = e.mean(0), e.std(0)
    net = MLPClassifier((100, 100), alpha=r["alpha"], batch_size=32, learning_rate_init=1e-3, random_state=2)
    Xl = (sub["labelled"].e - mu) / sd
    for ep in range(r["best_epoch"] + 1):
        net.partial_fit(Xl, sub["labelled"].y.astype(int), classes=np.array([0, 1]))
    p = net.predict_proba((base["validation"].e - mu) / sd)[:, 1]
    assert r["val_brier"] == pytest.approx(np.mean((p - base["validation"].y) ** 2), rel=1e-9)
    assert r["val_brier"] == min(r["val_brier_by_alpha"].values())
    # and selection reads those validation labels: flipping them changes both models' scores
    flipped = _with_labels(base, "validation", 1 - base["validation"].y)
    for m in eff.MODELS:
        assert eff.run_protocol(flipped, m, 100, [2], **TINY[m])[0]["val_brier"] != rows[m]["val_brier"]


def test_auc_rows_and_paired_bootstrap_against_sklearn():
    rng = np.random.default_rng(5)
    y = (rng.random((4, 60)) < 0.5).astype(float)
    p = np.round(rng.random((4, 60)), 1)  # ties
    ref = [roc_auc_score(yy, pp) for yy, pp in zip(y, p)]
    assert eff._auc_rows(p, y) == pytest.approx(ref, abs=1e-12)
    yt = (np.arange(40) % 2).astype(float)
    good = np.tile(0.2 + 0.6 * yt, (3, 1))  # perfect ranking
    noise = rng.random((3, 40))
    recs = [{"model": m, "n_labels": 10, "seed": s, "test_acc": 0.0, "test_auc": float(roc_auc_score(yt, P[s])),
             "test_brier": 0.0, "val_brier": 0.0, "best_epoch": 1, "alpha": 1.0, "test_proba": P[s].tolist()}
            for m, P in (("ssvae", good), ("mlp", noise)) for s in range(3)]
    out = eff.summarize(recs, yt, n_boot=300)
    (pair,) = out["paired"]
    assert pair["auc"]["mean_diff"] == pytest.approx(np.mean([1 - roc_auc_score(yt, q) for q in noise]))
    assert pair["verdict_auc"] == "ssvae better" and pair["auc"]["boot_ci95"][0] > 0
