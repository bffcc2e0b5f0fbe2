"""Exact Shapley values of the SSVAE classifier head (hea_fast.ssvae.explain, C++ head kernel)
against independent references: the permutation definition evaluated with a NumPy forward pass (in
float64 to float64 rounding), the previous torch implementation `exact_shapley_reference` (float64
runs to float64 rounding), the Shapley axioms (efficiency, dummy, symmetry), the authors'-weights
golden file (computed outside this package) and shap's KernelExplainer."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from hea_fast.ssvae.explain import coalition_weights, exact_shapley, exact_shapley_reference
from hea_fast.ssvae.model import SSVAE, SSVAEConfig, load_released


def _small_model(F, seed, mean=None, std=None):
    torch.manual_seed(seed)
    cfg = SSVAEConfig(features=tuple(f"f{i}" for i in range(F)), hidden=(6, 5),
                      feature_mean=mean or [], feature_std=std or [])
    m = SSVAE(cfg)
    for p in m.encoder_y.parameters():
        torch.nn.init.normal_(p, 0.0, 0.8)
    return m.eval()


def _numpy_prob(model, e):
    """float64 NumPy forward of encoder_y (softplus hidden layers, sigmoid output)."""
    h = (e - model.feature_mean.double().numpy()) / model.feature_std.double().numpy() if model.config.feature_mean else e
    lins = model.encoder_y.linears
    for i, lin in enumerate(lins):
        h = h @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy()
        if i < len(lins) - 1:
            h = np.logaddexp(0.0, h)
    return 1.0 / (1.0 + np.exp(-h[:, 0]))


def _permutation_shapley(model, x, bg):
    """φ_i = mean over all F! orderings of the marginal contribution of i (a second definition)."""
    F = len(x)

    def v(S):
        inp = bg.copy()
        inp[:, list(S)] = x[list(S)]
        return _numpy_prob(model, inp).mean()

    cache = {}
    phi = np.zeros(F)
    perms = list(itertools.permutations(range(F)))
    for perm in perms:
        S = frozenset()
        for i in perm:
            T = S | {i}
            for k in (S, T):
                if k not in cache:
                    cache[k] = v(k)
            phi[i] += cache[T] - cache[S]
            S = T
    return phi / len(perms), cache[frozenset()]


@pytest.mark.parametrize("F,seed", [(4, 0), (5, 1)])
def test_matches_permutation_definition(F, seed):
    rng = np.random.default_rng(seed)
    mean, std = list(rng.normal(size=F)), list(rng.uniform(0.5, 2, size=F))
    m = _small_model(F, seed, mean, std)
    bg = rng.normal(size=(7, F)) * 2
    x = rng.normal(size=(3, F)) * 2
    res = exact_shapley(m, x, bg)
    for r in range(3):
        phi, base = _permutation_shapley(m, x[r], bg)
        np.testing.assert_allclose(res.values[r], phi, atol=2e-6)
        assert res.base_value == pytest.approx(base, abs=1e-6)
    np.testing.assert_allclose(res.prediction, _numpy_prob(m, x), atol=1e-6)


@pytest.mark.parametrize("F,seed", [(4, 0), (5, 1)])
def test_float64_matches_permutation_definition_to_rounding(F, seed):
    """In float64 the kernel's values are the brute-force permutation definition to float64 rounding."""
    rng = np.random.default_rng(seed)
    mean, std = list(rng.normal(size=F)), list(rng.uniform(0.5, 2, size=F))
    m = _small_model(F, seed, mean, std)
    bg = rng.normal(size=(7, F)) * 2
    x = rng.normal(size=(3, F)) * 2
    res = exact_shapley(m, x, bg, dtype="float64")
    for r in range(3):
        phi, base = _permutation_shapley(m, x[r], bg)
        np.testing.assert_allclose(res.values[r], phi, rtol=1e-11, atol=1e-14)
        assert res.base_value == pytest.approx(base, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("output", ["probability", "logit"])
def test_matches_previous_implementation(output):
    """Like for like with the previous torch implementation (`exact_shapley_reference`): float64 runs
    of both agree to float64 rounding, float32 runs to float32 rounding."""
    rng = np.random.default_rng(7)
    F = 8
    m = _small_model(F, 7, list(rng.normal(size=F)), list(rng.uniform(0.5, 2, size=F)))
    bg = rng.normal(size=(40, F)) * 2
    x = rng.normal(size=(3, F)) * 2
    new64, old64 = exact_shapley(m, x, bg, output, dtype="float64"), exact_shapley_reference(m, x, bg, output, dtype="float64")
    np.testing.assert_allclose(new64.values, old64.values, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(new64.prediction, old64.prediction, rtol=1e-13, atol=1e-15)
    assert new64.base_value == pytest.approx(old64.base_value, rel=1e-13, abs=1e-15)
    new32, old32 = exact_shapley(m, x, bg, output), exact_shapley_reference(m, x, bg, output)
    scale = 1.0 if output == "probability" else max(1.0, np.abs(old64.prediction).max())
    np.testing.assert_allclose(new32.values, old32.values, atol=3e-6 * scale)
    np.testing.assert_allclose(new32.values, new64.values, atol=3e-6 * scale)


def test_axioms():
    rng = np.random.default_rng(3)
    m = _small_model(6, 3)
    with torch.no_grad():  # feature 2 is a dummy: no path from it to the output
        m.encoder_y.linears[0].weight[:, 2] = 0.0
    bg = rng.normal(size=(20, 6))
    x = rng.normal(size=(4, 6))
    x[1] = bg[5]  # a row with x_j = b_j for... (not all b), keeps the test general
    res = exact_shapley(m, x, bg, output="logit")
    with torch.no_grad():
        fx = m.classifier_logit(torch.as_tensor(x, dtype=torch.float32))[:, 0].double().numpy()
        fb = m.classifier_logit(torch.as_tensor(bg, dtype=torch.float32))[:, 0].double().numpy().mean()
    np.testing.assert_allclose(res.values.sum(1), fx - fb, atol=1e-5)  # efficiency
    np.testing.assert_allclose(res.values[:, 2], 0.0, atol=1e-7)  # dummy
    # a background of a single row equal to x gives zero attributions
    z = exact_shapley(m, x[:1], x[:1])
    np.testing.assert_allclose(z.values, 0.0, atol=1e-7)


def test_symmetry_axiom():
    """Features 1 and 4 enter the network identically (equal first-layer columns, equal scaling) and
    x and every background row hold equal values in them: their attributions are equal."""
    rng = np.random.default_rng(4)
    m = _small_model(6, 4, [0.3] * 6, [1.5] * 6)
    with torch.no_grad():
        m.encoder_y.linears[0].weight[:, 4] = m.encoder_y.linears[0].weight[:, 1]
    bg = rng.normal(size=(25, 6))
    bg[:, 4] = bg[:, 1]
    x = rng.normal(size=(3, 6))
    x[:, 4] = x[:, 1]
    for dtype, tol in (("float64", 1e-13), ("float32", 1e-6)):
        res = exact_shapley(m, x, bg, dtype=dtype)
        np.testing.assert_allclose(res.values[:, 4], res.values[:, 1], atol=tol)
        assert np.abs(res.values[:, 1]).max() > 1e-3  # not trivially zero


def test_coalition_weights_closed_form():
    W = coalition_weights(3)
    # Shapley weights for F=3: |S|=0 -> 1/3, |S|=1 -> 1/6, |S|=2 -> 1/3; rows of W sum per feature to 0
    assert W.shape == (8, 3)
    np.testing.assert_allclose(W.sum(0), 0.0, atol=1e-15)
    np.testing.assert_allclose(W[0b111, 0], 1 / 3)  # S={1,2}, adding 0
    np.testing.assert_allclose(W[0b011, 0], 1 / 6)  # S={1} ∪ {0}
    np.testing.assert_allclose(W[0b001, 0], 1 / 3)  # S={} ∪ {0}
    np.testing.assert_allclose(W[0b000, 0], -1 / 3)
    assert math.isclose(np.abs(W[:, 0]).sum(), 2.0)


def test_golden_released_shap(shared_data):
    """The authors' weights, 864 labelled rows as background: the data folder's exact values."""
    from hea_fast.ssvae.data import load_splits

    g = pd.read_csv(shared_data / "dvae_hea_zeng2024_model" / "golden_exact_shap_test138.csv")
    sp = load_splits(42)
    rows = [0, 57, 137]
    assert list(g["Alloys"].iloc[rows]) == list(sp["test"].alloys[rows])
    res = exact_shapley(load_released(), sp["test"].e[rows], sp["labelled"].e)
    np.testing.assert_allclose(res.values, g.filter(like="phi_").to_numpy()[rows], atol=1e-6)
    np.testing.assert_allclose(res.prediction, g["p_single"].iloc[rows], atol=1e-6)
    assert res.base_value == pytest.approx(0.509514, abs=1e-6)  # PROVENANCE: E[f] = 0.509514


def test_matches_shap_kernel_explainer(shared_data):
    shap = pytest.importorskip("shap")
    from hea_fast.ssvae.data import load_splits

    m = load_released()
    sp = load_splits(42)
    bg = sp["labelled"].e[:40].astype(np.float64)
    x = sp["test"].e[:3].astype(np.float64)

    def f(a):
        with torch.no_grad():
            return m.classifier_prob(torch.as_tensor(a, dtype=torch.float32))[:, 0].double().numpy()

    ke = shap.KernelExplainer(f, bg)
    sv = np.asarray(ke.shap_values(x, nsamples=1000, silent=True))  # ≥ 2^8: all coalitions, exact
    res = exact_shapley(m, x, bg)
    np.testing.assert_allclose(res.values, sv, atol=1e-6)
    assert res.base_value == pytest.approx(float(ke.expected_value), abs=1e-7)


def test_bad_input():
    m = _small_model(4, 0)
    with pytest.raises(ValueError, match="3 columns"):
        exact_shapley(m, np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        exact_shapley(m, np.full((1, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="output"):
        exact_shapley(m, np.zeros((1, 4)), np.zeros((2, 4)), output="odds")
    with pytest.raises(ValueError, match="dtype"):
        exact_shapley(m, np.zeros((1, 4)), np.zeros((2, 4)), dtype="float16")
    with pytest.raises(ValueError, match="background is empty"):
        exact_shapley(m, np.zeros((1, 4)), np.zeros((0, 4)))


def test_weighted_background_equals_repeated_rows(rng):
    m = _small_model(5, 2)
    x, bg = rng.normal(size=(3, 5)), rng.normal(size=(9, 5))
    w = np.array([1, 3, 0, 2, 1, 1, 4, 1, 2], float)
    res = exact_shapley(m, x, bg, weights=w)
    ref = exact_shapley(m, x, np.repeat(bg, w.astype(int), axis=0))
    np.testing.assert_allclose(res.values, ref.values, atol=1e-12)
    assert res.base_value == pytest.approx(ref.base_value, abs=1e-12)
    np.testing.assert_allclose(res.values.sum(1), res.prediction - res.base_value, atol=1e-12)  # efficiency


@pytest.mark.parametrize("n,test_size", [(1373, 0.1), (1235, 0.3), (371, 0.2), (10, 0.25), (7, 0.5)])
def test_shuffle_split_matches_sklearn(n, test_size):
    """The NumPy split that replaces scikit-learn in `load_splits`: the same rows in the same order."""
    from sklearn.model_selection import train_test_split

    from hea_fast.ssvae.data import shuffle_split

    for seed in (0, 1, 42, 2**31 + 5):
        train, test = shuffle_split(n, test_size, seed)
        ref_train, ref_test = train_test_split(np.arange(n), test_size=test_size, random_state=seed)
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)
    with pytest.raises(ValueError, match="test_size"):
        shuffle_split(10, 1.5, 0)
    with pytest.raises(ValueError, match="seed"):
        shuffle_split(10, 0.2, -1)
    with pytest.raises(ValueError, match="cannot split 1 rows"):
        shuffle_split(1, 0.5, 0)


def test_summarize_background_clusters(rng):
    """Well-separated clusters of known sizes: one medoid per cluster (the member nearest the
    cluster's mean, in standardised units), weighted by the cluster's size."""
    from hea_fast.ssvae.explain import summarize_background

    sizes = [5, 17, 1, 9, 30]
    centres = np.array([[0, 0, 0], [50, 0, 0], [0, 50, 0], [0, 0, 50], [50, 50, 50]], float)
    label = np.repeat(np.arange(5), sizes)
    X = centres[label] + rng.normal(size=(len(label), 3))
    perm = rng.permutation(len(X))
    X, label = X[perm], label[perm]
    rows, w = summarize_background(X, 5, seed=3)
    assert sorted(w) == sorted(sizes) and w.sum() == len(X)
    sd = X.std(0)
    idx = [int(np.flatnonzero((X == r).all(1))[0]) for r in rows]
    assert idx == sorted(idx)  # background order
    for i, wi in zip(idx, w):
        members = np.flatnonzero(label == label[i])
        assert wi == len(members)
        dist = (((X[members] - X[members].mean(0)) / sd) ** 2).sum(1)
        assert i == members[np.argmin(dist)]
    again = summarize_background(X, 5, seed=3)
    np.testing.assert_array_equal(again[0], rows)
    np.testing.assert_array_equal(again[1], w)
    all_rows, ones = summarize_background(X, len(X), seed=0)
    np.testing.assert_array_equal(all_rows, X)
    assert (ones == 1).all()
    dup_rows, dup_w = summarize_background(np.repeat(X[:2], 4, axis=0), 5)  # 2 distinct rows only
    assert len(dup_rows) == 2 and dup_w.tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match="positive integer"):
        summarize_background(X, 0)


def test_explain_runs_without_torch_or_sklearn(shared_data, tmp_path):
    """`hea-fast ssvae explain` on the test alloys reads the head's weights and the splits without
    importing torch, Pyro or scikit-learn (their imports were most of the command's time)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "e.csv"
    code = ("import sys; from hea_fast.cli import main; "
            f"rc = main(['ssvae', 'explain', '--background-size', '20', '-o', {str(out)!r}]); "
            "bad = [m for m in ('torch', 'pyro', 'sklearn') if m in sys.modules]; "
            "print('rc', rc, 'imported', bad); sys.exit(rc or len(bad))")
    import hea_fast

    # the same hea_fast as this process (installed or in place), from a neutral working directory
    env = dict(os.environ, HEA_FAST_DATA=str(shared_data),
               PYTHONPATH=str(Path(hea_fast.__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    df = pd.read_csv(out)
    assert len(df) == 138
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.explain import summarize_background
    from hea_fast.ssvae.model import load_model

    sp = load_splits(42)
    assert list(df["alloy"]) == list(sp["test"].alloys)
    bg, w = summarize_background(sp["labelled"].e, 20, seed=0)
    ref = exact_shapley(load_model("default"), sp["test"].e, bg, weights=w)  # the torch model, same weights
    np.testing.assert_allclose(df.filter(like="phi_").to_numpy(), ref.values, atol=1e-9)
    np.testing.assert_allclose(df["p_single"], ref.prediction, atol=1e-9)


def test_no_rows_still_give_the_base_value():
    """Explaining zero rows returned base_value NaN; E_B[f] is defined by the background alone.
    Reference: the (weighted) mean of the float64 NumPy forward pass over the background."""
    m = _small_model(5, 3)
    rng = np.random.default_rng(4)
    bg = rng.normal(size=(23, 5))
    w = rng.random(23)
    ref = _numpy_prob(m, bg)
    for weights, base in ((None, ref.mean()), (w, (w * ref).sum() / w.sum())):
        res = exact_shapley(m, np.empty((0, 5)), bg, weights=weights)
        assert res.values.shape == (0, 5) and res.prediction.shape == (0,)
        assert res.base_value == pytest.approx(base, abs=1e-6)
        assert res.base_value == exact_shapley(m, bg[:2], bg, weights=weights).base_value  # the same kernel path
    res = exact_shapley_reference(m, np.empty((0, 5)), bg, dtype="float64")
    assert res.values.shape == (0, 5) and res.base_value == pytest.approx(ref.mean(), abs=1e-12)
