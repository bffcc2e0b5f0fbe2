"""The phase ensemble kernel (hea_fast.phase.ensemble, csrc/cpu/phase_ensemble_cpu.cpp) against
independent references: scikit-learn's own predict_proba / decision_function of the two members,
the NumPy formula, `featurize` on decoded lattice fractions, and a brute-force sort for the top-k.
Models are fitted here on synthetic compositions (no data home needed)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("sklearn")

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from hea_fast._backend import core  # noqa: E402
from hea_fast.features import DESCRIPTORS, featurize_array  # noqa: E402
from hea_fast.lattice import CompositionSpace  # noqa: E402
from hea_fast.phase.convert import params_from_sklearn  # noqa: E402
from hea_fast.phase.ensemble import (  # noqa: E402
    TILE,
    EnsembleParams,
    TileBounds,
    lattice_inputs,
    phase_ensemble,
    phase_ensemble_lattice,
    phase_ensemble_reference,
    phase_ensemble_tile_bounds,
    phase_ensemble_topk,
    tree_raw_reference,
)

NAMES = tuple(d.name for d in DESCRIPTORS if d.name != "Omega")  # the 15 of the default phase model
TRAIN_ELEMENTS = ("Al", "Co", "Cr", "Cu", "Fe", "Mn", "Ni", "Ti", "V", "Nb", "Mo")
FRACTION_ELEMENTS = ("Al", "Co", "Cr", "Fe", "Ni", "Ti")  # Mn, Cu, ...: no fraction feature


def _synthetic(n=1500, seed=0):
    """Random 3-6 element compositions of TRAIN_ELEMENTS, their features v and a label that depends
    on descriptors and fractions (noisy), as a cross-source training set would."""
    rng = np.random.default_rng(seed)
    E = len(TRAIN_ELEMENTS)
    X = np.zeros((n, E))
    for i in range(n):
        k = rng.integers(3, 7)
        X[i, rng.choice(E, size=k, replace=False)] = rng.dirichlet(np.full(k, 2.0))
    D = featurize_array(X, descriptors=list(NAMES), elements=list(TRAIN_ELEMENTS), errors="raise")
    frac = X[:, [TRAIN_ELEMENTS.index(e) for e in FRACTION_ELEMENTS]]
    V = np.hstack([D, frac])
    vec, delta = D[:, NAMES.index("VEC")], D[:, NAMES.index("delta")]
    y = ((vec > 7.0) ^ (delta > 5.5)) | (rng.random(n) < 0.1) & (frac[:, 0] < 0.1)
    return V, y.astype(int)


@pytest.fixture(scope="module")
def fitted():
    V, y = _synthetic()
    scaler = StandardScaler().fit(V)
    logreg = LogisticRegression(max_iter=2000).fit(scaler.transform(V), y)
    Fd = len(NAMES)
    models = {}
    for name, depth, n_iter in (("depth3", 3, 120), ("depth4", 4, 40), ("deep", None, 30)):
        hgb = HistGradientBoostingClassifier(max_iter=n_iter, max_depth=depth, random_state=0,
                                             early_stopping=False).fit(V[:, :Fd], y)
        models[name] = hgb
    return V, y, scaler, logreg, models


def _params(fitted, which="depth3", **kw):
    V, y, scaler, logreg, models = fitted
    return params_from_sklearn(scaler, logreg, models[which], NAMES, FRACTION_ELEMENTS, **kw)


def _test_rows(fitted, n=700, seed=1):
    V = fitted[0]
    rng = np.random.default_rng(seed)
    W = V[rng.integers(0, len(V), n)] * rng.normal(1.0, 0.05, size=(n, V.shape[1]))
    return np.vstack([W, V[:300]])


# ---- the NumPy reference against scikit-learn ----------------------------------------------------
@pytest.mark.parametrize("which", ["depth3", "depth4", "deep"])
def test_reference_is_the_average_of_the_sklearn_members(fitted, which):
    V, y, scaler, logreg, models = fitted
    P = _params(fitted, which)
    W = _test_rows(fitted)
    Fd = len(NAMES)
    want = 0.5 * (logreg.predict_proba(scaler.transform(W))[:, 1] + models[which].predict_proba(W[:, :Fd])[:, 1])
    np.testing.assert_allclose(phase_ensemble_reference(W, P), want, rtol=0, atol=1e-12)
    # the tree member is scikit-learn's raw score bitwise, missing values included
    W2 = W.copy()
    W2[::7, 3] = np.nan
    assert np.array_equal(tree_raw_reference(W2, P), models[which].decision_function(W2[:, :Fd]))


# ---- the kernel on feature rows ---------------------------------------------------------------------
@pytest.mark.parametrize("which", ["depth3", "depth4", "deep"])
def test_rows_kernel_matches_reference_and_sklearn(fitted, which):
    V, y, scaler, logreg, models = fitted
    W = _test_rows(fitted)
    P = _params(fitted, which)
    p = phase_ensemble(W, P, threads=2)
    np.testing.assert_allclose(p, phase_ensemble_reference(W, P), rtol=0, atol=1e-12)
    want = 0.5 * (logreg.predict_proba(scaler.transform(W))[:, 1]
                  + models[which].predict_proba(W[:, :len(NAMES)])[:, 1])
    np.testing.assert_allclose(p, want, rtol=0, atol=1e-9)
    # a Platt calibration on top, and weights other than 1/2
    Q = _params(fitted, which, w_lin=0.3, w_tree=0.7, cal_a=1.7, cal_b=-0.4)
    np.testing.assert_allclose(phase_ensemble(W, Q), phase_ensemble_reference(W, Q), rtol=0, atol=1e-12)
    assert np.abs(phase_ensemble(W, Q) - p).max() > 1e-3  # the calibration does change the scores


def test_rows_kernel_nan_rows_and_threads(fitted):
    P = _params(fitted)
    W = _test_rows(fitted, n=1000)
    W[5, 0] = np.nan
    W[17, -1] = np.inf
    W[18, 2] = -np.inf
    p1 = phase_ensemble(W, P, threads=1)
    p2 = phase_ensemble(W, P, threads=2)
    assert np.array_equal(p1, p2, equal_nan=True)
    assert np.isnan(p1[[5, 17, 18]]).all()
    assert np.isfinite(np.delete(p1, [5, 17, 18])).all()
    ref = phase_ensemble_reference(W, P)
    assert np.array_equal(np.isnan(ref), np.isnan(p1))
    assert phase_ensemble(W[:0], P).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        phase_ensemble(W[:, :-1], P)


def test_extreme_members_saturate_cleanly(fitted):
    """Members far in their tails: p_avg at 0 or 1 exactly must not give NaN."""
    P = _params(fitted)
    big = dataclasses.replace(P, lin_intercept=800.0, tree_baseline=800.0)
    small = dataclasses.replace(P, lin_intercept=-800.0, tree_baseline=-800.0)
    W = _test_rows(fitted, n=100)
    for Q in (big, small):
        p, ref = phase_ensemble(W, Q), phase_ensemble_reference(W, Q)
        assert np.isfinite(p).all()
        np.testing.assert_allclose(p, ref, rtol=0, atol=1e-12)


def _random_params(rng, F, n_trees, max_depth, grid):
    """Random trees of depth <= max_depth (not complete: leaves at any level), thresholds drawn from
    a small grid (repeated values, ±inf) so that feature values equal to thresholds are common."""
    feat, thr, left, right, val, offsets = [], [], [], [], [], [0]
    for _ in range(n_trees):
        nodes = []  # (feature, threshold, left, right, value), children after their parent

        def grow(depth):
            i = len(nodes)
            nodes.append(None)
            if depth == max_depth or rng.random() < 0.25:
                nodes[i] = (-1, 0.0, -1, -1, float(rng.normal()))
                return i
            f, t = int(rng.integers(F)), float(rng.choice(grid))
            lo = grow(depth + 1)
            hi = grow(depth + 1)
            nodes[i] = (f, t, lo, hi, 0.0)
            return i

        grow(0)
        for f, t, lo, hi, v in nodes:
            feat.append(f), thr.append(t), left.append(lo), right.append(hi), val.append(v)
        offsets.append(offsets[-1] + len(nodes))
    return EnsembleParams(
        descriptors=tuple(f"d{j}" for j in range(F - 2)), elements=("A", "B"),
        lin_mean=rng.normal(size=F), lin_scale=rng.uniform(0.5, 2, F), lin_coef=rng.normal(size=F),
        lin_intercept=float(rng.normal()), tree_baseline=float(rng.normal()), tree_offsets=np.array(offsets),
        node_feature=np.array(feat), node_threshold=np.array(thr), node_left=np.array(left),
        node_right=np.array(right), node_value=np.array(val), node_missing_left=np.zeros(len(feat)),
        w_lin=0.4, w_tree=0.6, cal_a=float(rng.uniform(0.5, 2)), cal_b=float(rng.normal()))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_trees=st.integers(1, 40), max_depth=st.integers(0, 6))
def test_random_trees_match_reference(seed, n_trees, max_depth):
    """Any tree shape (the complete-layout path up to depth 4, the walking path beyond), values
    equal to thresholds (v <= t goes left), infinite thresholds: kernel == NumPy formula."""
    rng = np.random.default_rng(seed)
    F = 5
    grid = np.concatenate([np.round(rng.normal(size=6), 1), [np.inf, -np.inf]])
    P = _random_params(rng, F, n_trees, max_depth, grid)
    V = rng.choice(grid[:6], size=(200, F)) + rng.choice([0.0, 0.05, -0.05], size=(200, F))
    np.testing.assert_allclose(phase_ensemble(V, P, threads=2), phase_ensemble_reference(V, P), rtol=0, atol=1e-12)


# ---- lattice paths ----------------------------------------------------------------------------------
PALETTE = ("Al", "Co", "Cr", "Fe", "Mn", "Ni", "La")  # La: no Allen electronegativity in the default table


@pytest.fixture(scope="module")
def space():
    return CompositionSpace(PALETTE, n_elements=[4, 5], step_percent=5.0, bounds={"Al": (0.05, 0.2)},
                            min_fraction=0.05, max_fraction=0.35)


def _lattice_reference(space, P, start, stop):
    """featurize(decoded fractions) -> [descriptors | fractions of P.elements] -> NumPy formula."""
    X = space.fractions(start, stop)
    D, _ = featurize_array(X, descriptors=list(P.descriptors), elements=list(space.elements), errors="nan",
                           return_reasons=True)
    Z = np.zeros((len(X), len(P.elements)))
    for j, e in enumerate(P.elements):
        if e in space.elements:
            Z[:, j] = X[:, space.elements.index(e)]
    return phase_ensemble_reference(np.hstack([D, Z]), P), X


@pytest.mark.parametrize("which", ["depth3", "deep"])
def test_lattice_matches_featurize_rows(fitted, space, which):
    P = _params(fitted, which, cal_a=1.2, cal_b=0.1)
    n = space.size
    p = phase_ensemble_lattice(space, 0, n, P, threads=2)
    ref, X = _lattice_reference(space, P, 0, n)
    has_la = X[:, PALETTE.index("La")] > 0
    assert has_la.any() and (~has_la).any()
    assert np.isnan(p[has_la]).all() and np.isnan(ref[has_la]).all()
    assert np.isfinite(p[~has_la]).all()
    np.testing.assert_allclose(p[~has_la], ref[~has_la], rtol=0, atol=1e-9)
    # a sub-range, and the thread count changes nothing
    a, b = n // 3, n // 3 + 1234
    assert np.array_equal(phase_ensemble_lattice(space, a, b, P, threads=1), p[a:b], equal_nan=True)
    allowed = lattice_inputs(space.elements, P)[5]
    assert allowed.tolist() == [e != "La" for e in PALETTE]


def test_lattice_without_fraction_features_for_some_elements(fitted, space):
    """Mn is in the palette but not in params.elements: its fraction adds nothing; changing which
    elements carry a fraction feature changes the scores exactly as the row reference says."""
    P = _params(fitted)
    assert "Mn" not in P.elements
    p = phase_ensemble_lattice(space, 0, 5000, P)
    ref, _ = _lattice_reference(space, P, 0, 5000)
    np.testing.assert_allclose(p, ref, rtol=0, atol=1e-9)


def _brute_topk(scores, k, threshold, start):
    ok = np.isfinite(scores) & (scores >= (threshold if threshold is not None else -np.inf))
    idx = np.flatnonzero(ok)
    order = np.lexsort((idx, -scores[idx]))[:k]  # higher score first, then lower rank
    return scores[idx[order]], idx[order] + start, int(ok.sum())


@pytest.mark.parametrize("threshold", [None, 0.6])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.9, 0.1)])
def test_topk_matches_brute_force(fitted, space, threshold, weights):
    """Including blocks whose trees the top-k skips (a linear member that bounds p below the heap's
    minimum: most blocks with w_lin = 0.9): the result is that of scoring everything."""
    P = _params(fitted, w_lin=weights[0], w_tree=weights[1], cal_a=1.3, cal_b=0.2)
    start, stop = 1000, space.size - 500
    full = phase_ensemble_lattice(space, start, stop, P)
    for k in (1, 37, 10**6):
        s1, r1, n1 = phase_ensemble_topk(space, start, stop, k, P, threshold=threshold, threads=1)
        s2, r2, n2 = phase_ensemble_topk(space, start, stop, k, P, threshold=threshold, threads=2)
        bs, br, bn = _brute_topk(full, k, threshold, start)
        assert n1 == n2 == bn
        assert np.array_equal(r1, br) and np.array_equal(r2, br)
        assert np.array_equal(s1, bs) and np.array_equal(s2, bs)


@pytest.mark.parametrize("which", ["depth3", "deep"])
@pytest.mark.parametrize("threshold", [None, 0.6])
def test_topk_floor_leaves_out_only_rows_below_it(fitted, space, which, threshold):
    """With a floor (the worst score of a pool the result is merged into) the kernel skips the trees
    of blocks that cannot reach it (per-block bounds from the reachable leaves, depth <= 4; the
    trees' extreme leaves beyond), and returns exactly the brute-force top-k of the rows with
    p >= floor — ties at the floor kept — and the exact passing count."""
    P = _params(fitted, which, cal_a=1.1, cal_b=-0.1)
    start, stop = 0, space.size
    full = phase_ensemble_lattice(space, start, stop, P)
    fin = np.sort(full[np.isfinite(full)])[::-1]
    for floor in (fin[0], fin[10], fin[200], float(np.median(fin)), fin[-1], -np.inf):
        for k in (5, 300):
            s, r, n = phase_ensemble_topk(space, start, stop, k, P, threshold=threshold, threads=2, floor=floor)
            kept = np.where(full >= floor, full, np.nan)
            bs, br, _ = _brute_topk(kept, k, threshold, start)
            assert n == _brute_topk(full, k, threshold, start)[2]
            assert np.array_equal(r, br) and np.array_equal(s, bs)
    with pytest.raises(ValueError, match="floor"):
        phase_ensemble_topk(space, 0, 100, 5, P, floor=float("nan"))


def test_topk_ties_broken_by_rank(fitted, space):
    """A model that scores every composition alike: the top-k is the k lowest ranks with a score
    (compositions with La are NaN and never kept)."""
    P = _params(fitted)
    flat = dataclasses.replace(P, lin_coef=np.zeros_like(P.lin_coef), tree_offsets=np.array([0, 1]),
                               node_feature=np.array([-1]), node_threshold=np.zeros(1), node_left=np.array([-1]),
                               node_right=np.array([-1]), node_value=np.array([0.25]),
                               node_missing_left=np.zeros(1))
    full = phase_ensemble_lattice(space, 0, space.size, flat)
    ok = np.flatnonzero(np.isfinite(full))
    s, r, n = phase_ensemble_topk(space, 0, space.size, 25, flat, threads=2)
    assert n == len(ok)
    assert np.array_equal(r, ok[:25])
    assert np.unique(s).size == 1


# ---- parameters: validation and storage ---------------------------------------------------------
def test_json_round_trip_is_bitwise(fitted):
    P = _params(fitted, cal_a=0.9, cal_b=0.05)
    inner = np.flatnonzero(P.node_feature >= 0)
    thr = P.node_threshold.copy()
    thr[inner[:2]] = [np.inf, -np.inf]  # scikit-learn's split on missing values has threshold +inf
    P = dataclasses.replace(P, node_threshold=thr)
    W = _test_rows(fitted, n=300)
    np.testing.assert_allclose(phase_ensemble(W, P), phase_ensemble_reference(W, P), rtol=0, atol=1e-12)
    Q = EnsembleParams.from_dict(json.loads(json.dumps(P.to_dict(), allow_nan=False)))
    for f in dataclasses.fields(P):
        a, b = getattr(P, f.name), getattr(Q, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f.name
        else:
            assert a == b, f.name


def _bad(P, **kw):
    return lambda: dataclasses.replace(P, **kw)


def test_bad_params_raise_value_error(fitted):
    P = _params(fitted)
    n = P.node_feature.shape[0]
    inner = int(np.flatnonzero(P.node_feature >= 0)[0])
    cases = {
        "lin_mean": _bad(P, lin_mean=P.lin_mean[:-1]),
        "lin_scale": _bad(P, lin_scale=np.where(np.arange(P.n_features) == 2, 0.0, P.lin_scale)),
        "non-finite": _bad(P, lin_coef=np.where(np.arange(P.n_features) == 1, np.nan, P.lin_coef)),
        "node_left": _bad(P, node_left=np.where(np.arange(n) == inner, 10**6, P.node_left)),
        "node_right": _bad(P, node_right=np.where(np.arange(n) == inner, 0, P.node_right)),  # a cycle
        "NaN threshold": _bad(P, node_threshold=np.where(np.arange(n) == inner, np.nan, P.node_threshold)),
        "feature": _bad(P, node_feature=np.where(np.arange(n) == inner, P.n_features, P.node_feature)),
        "tree_offsets": _bad(P, tree_offsets=P.tree_offsets[::-1]),
        "node_value": _bad(P, node_value=P.node_value[:-1]),
        "weights": _bad(P, w_lin=0.9),
        "cal_a": _bad(P, cal_a=-1.0),
    }
    for what, make in cases.items():
        with pytest.raises(ValueError, match="EnsembleParams"):
            make()
        assert what  # every case raised


def test_kernel_checks_arrays_itself(fitted):
    """The compiled entry points validate their model arrays too (a tree walk can never leave its
    tree), so calling them directly with bad arrays raises instead of crashing."""
    P = _params(fitted)
    V = _test_rows(fitted, n=10)
    n = P.node_feature.shape[0]
    inner = int(np.flatnonzero(P.node_feature >= 0)[0])
    a = P.arrays()
    for key, value, msg in (
        ("node_left", np.where(np.arange(n) == inner, -5, P.node_left).astype(np.int32), "child"),
        ("node_right", np.where(np.arange(n) == inner, inner - int(P.tree_offsets[0]), P.node_right)
         .astype(np.int32), "child"),
        ("node_feature", np.where(np.arange(n) == inner, 99, P.node_feature).astype(np.int32), "feature"),
        ("node_threshold", np.where(np.arange(n) == inner, np.nan, P.node_threshold), "NaN threshold"),
        ("tree_offsets", np.array([0, n + 1]), "tree_offsets"),
        ("lin_scale", np.zeros(P.n_features), "lin_scale"),
        ("node_value", P.node_value[:-1], "node_value"),
    ):
        with pytest.raises(ValueError, match=msg):
            core.phase_ensemble(V, **{**a, key: value})
    with pytest.raises(TypeError):  # a model argument missing
        core.phase_ensemble(V, **{k: v for k, v in a.items() if k != "cal_a"})


def test_params_from_sklearn_refuses_what_it_cannot_convert(fitted):
    V, y, scaler, logreg, models = fitted
    Fd = len(NAMES)
    cat = np.column_stack([V[:, :3], np.arange(len(V)) % 4])
    hgb_cat = HistGradientBoostingClassifier(max_iter=5, categorical_features=[3]).fit(cat, y)
    with pytest.raises(ValueError, match="categorical"):
        params_from_sklearn(scaler, logreg, hgb_cat, NAMES, FRACTION_ELEMENTS)
    y3 = y + (V[:, 0] > np.median(V[:, 0]))
    hgb3 = HistGradientBoostingClassifier(max_iter=5).fit(V[:, :Fd], y3)
    with pytest.raises(ValueError, match="binary"):
        params_from_sklearn(scaler, logreg, hgb3, NAMES, FRACTION_ELEMENTS)
    with pytest.raises(ValueError, match="features"):
        params_from_sklearn(scaler, logreg, models["depth3"], NAMES, FRACTION_ELEMENTS[:-1])


# ---- forest members (NumPy path only) ---------------------------------------------------------------
@pytest.mark.parametrize("leaf", [1, 5])
def test_forest_member_equals_sklearn_predict_proba_bitwise(fitted, leaf):
    """A RandomForestClassifier as the tree member: the reference's mean of leaf fractions (float32
    node tests) is scikit-learn's predict_proba bitwise, missing values included; the C++ forest walker
    gives the same bits, the fused block kernel the same p to rounding; the parameters survive JSON
    bitwise."""
    V, y, scaler, logreg, _ = fitted
    Fd = len(NAMES)
    rf = RandomForestClassifier(n_estimators=25, min_samples_leaf=leaf, random_state=0).fit(V[:, :Fd], y)
    P = params_from_sklearn(scaler, logreg, rf, NAMES, FRACTION_ELEMENTS)
    assert P.tree_link == "mean" and P.tree_float32 and P.n_trees == 25
    with pytest.raises(ValueError, match="at least one tree"):
        dataclasses.replace(P, tree_offsets=np.zeros(1, np.int64), **{k: getattr(P, k)[:0] for k in (
            "node_feature", "node_threshold", "node_left", "node_right", "node_value", "node_missing_left")})
    W = _test_rows(fitted)
    W[::11, 2] = np.nan  # a missing descriptor: scikit-learn sends it down a side, p stays NaN overall
    p_rf = rf.predict_proba(W[:, :Fd])[:, 1]
    assert np.array_equal(tree_raw_reference(W, P) / P.n_trees, p_rf)
    ok = np.isfinite(W).all(axis=1)
    want = 0.5 * logreg.predict_proba(scaler.transform(W[ok]))[:, 1] + 0.5 * p_rf[ok]
    got = phase_ensemble_reference(W, P)
    np.testing.assert_allclose(got[ok], want, rtol=0, atol=1e-15)
    assert np.isnan(got[~ok]).all()
    # the C++ forest walker: bitwise the reference, whatever the thread count
    for threads in (1, 2, 3):
        assert np.array_equal(phase_ensemble(W, P, threads=threads), got, equal_nan=True)
    # and whatever the batch: each row scored alone gives the same bits (a table read in chunks of any size
    # writes the same file; the linear member's sum is row-wise, not a BLAS product that rounds a row by
    # its place in the batch)
    alone = np.concatenate([phase_ensemble(W[i:i + 1], P, threads=1) for i in range(len(W))])
    assert np.array_equal(alone, got, equal_nan=True)
    assert np.array_equal(phase_ensemble_reference(W[::-1], P)[::-1], got, equal_nan=True)
    # the fused block kernel (float32 node tests, leaves summed in tree order, then the mean): the same
    # p to the rounding of its exp/log polynomials, NaN rows alike
    fused = core.phase_ensemble(W, threads=2, **P.kernel_args())
    np.testing.assert_allclose(fused[ok], got[ok], rtol=0, atol=1e-13)
    assert np.isnan(fused[~ok]).all()
    Q = EnsembleParams.from_dict(json.loads(json.dumps(P.to_dict(), allow_nan=False)))
    assert Q.tree_link == "mean" and Q.tree_float32 and np.array_equal(phase_ensemble_reference(W, Q), got,
                                                                       equal_nan=True)
    # an old file (no tree_link / tree_float32 keys) reads as boosted trees
    d = _params(fitted).to_dict()
    assert "tree_link" not in d and "tree_float32" not in d  # boosted trees are written as before
    assert EnsembleParams.from_dict(d).tree_link == "logit"
    with pytest.raises(ValueError, match="tree_link"):
        dataclasses.replace(P, tree_link="median")


@pytest.fixture(scope="module")
def forests(fitted):
    """Fully grown (min_samples_leaf 1: pure leaves, as the bundled `best`) and smoothed forests."""
    V, y, scaler, logreg, _ = fitted
    Fd = len(NAMES)
    out = {}
    for leaf in (1, 5):
        rf = RandomForestClassifier(n_estimators=40, min_samples_leaf=leaf, random_state=leaf).fit(V[:, :Fd], y)
        out[leaf] = params_from_sklearn(scaler, logreg, rf, NAMES, FRACTION_ELEMENTS)
    return out


@pytest.mark.parametrize("leaf", [1, 5])
def test_forest_runs_in_the_fused_lattice_kernels(forests, space, leaf):
    """A forest member in the fused lattice kernels: every rank's p equals the NumPy formula on
    `featurize` of the decoded fractions (float32 node tests, mean of the leaves) to 1e-9, whatever
    the thread count; the top-k with floors and thresholds — which prunes blocks by the leaves their
    feature box reaches, and rows by the trees still to walk — is the brute-force top-k of those
    scores with the exact passing count."""
    P = dataclasses.replace(forests[leaf], cal_a=1.2, cal_b=0.1)
    n = space.size
    p = phase_ensemble_lattice(space, 0, n, P, threads=2)
    ref, X = _lattice_reference(space, P, 0, n)
    has_la = X[:, PALETTE.index("La")] > 0
    assert np.isnan(p[has_la]).all() and np.isfinite(p[~has_la]).all()
    np.testing.assert_allclose(p[~has_la], ref[~has_la], rtol=0, atol=1e-9)
    assert np.array_equal(phase_ensemble_lattice(space, 0, n, P, threads=1), p, equal_nan=True)
    fin = np.sort(p[np.isfinite(p)])[::-1]
    for threshold in (None, float(np.quantile(fin, 0.3)), float(fin[20])):
        for floor in (None, fin[0], fin[50], float(np.median(fin))):
            for k in (1, 40, 10**6):
                s, r, cnt = phase_ensemble_topk(space, 0, n, k, P, threshold=threshold, threads=2, floor=floor)
                kept = p if floor is None else np.where(p >= floor, p, np.nan)
                bs, br, _ = _brute_topk(kept, k, threshold, 0)
                assert cnt == _brute_topk(p, k, threshold, 0)[2]
                assert np.array_equal(r, br) and np.array_equal(s, bs)


@pytest.mark.parametrize("which", ["forest", "depth3", "deep"])
def test_lattice_floor_and_threshold_modes(fitted, forests, which):
    """`phase_ensemble_lattice(..., floor=f)` (what a screen that keeps p >= f needs): every p >= f
    bitwise that of the exact pass, every finite p < f replaced by a value < f (-inf where the block
    was skipped, an upper bound where a row stopped walking), NaN where the exact pass gives NaN; some
    rows do get the replacement, i.e. the pruning ran. `threshold=t` (a requirement of a screen): the
    side of t of every finite p as the exact pass says, whatever values stand for them."""
    P = forests[1] if which == "forest" else _params(fitted, which)
    big = CompositionSpace(TRAIN_ELEMENTS + ("La",), 5, 2.5, min_fraction=0.05, max_fraction=0.35)
    start, stop = big.size - 100_000, big.size  # the last systems hold La
    exact = phase_ensemble_lattice(big, start, stop, P, threads=2)
    fin = np.sort(exact[np.isfinite(exact)])
    assert np.isnan(exact).any()  # La: no descriptors
    for f in (fin[len(fin) // 2], fin[-200]):
        for threads in (1, 2):
            got = phase_ensemble_lattice(big, start, stop, P, threads=threads, floor=f)
            above = exact >= f
            assert np.array_equal(got[above], exact[above])
            below = np.isfinite(exact) & (exact < f)
            assert (got[below] < f).all() and (got[below] != exact[below]).any()
            assert np.array_equal(np.isnan(got), np.isnan(exact))
    with pytest.raises(ValueError, match="floor"):
        phase_ensemble_lattice(big, 0, 10, P, floor=float("nan"))
    # threshold: only the side matters — every finite p's side of t is kept, NaN may become -inf
    for t in (fin[len(fin) // 3], fin[-50]):
        for threads in (1, 2):
            got = phase_ensemble_lattice(big, start, stop, P, threads=threads, threshold=t)
            fine = np.isfinite(exact)
            assert np.array_equal(got[fine] >= t, exact[fine] >= t)
            assert (np.isnan(got[~fine]) | (got[~fine] == -np.inf)).all()
            assert (got[fine] != exact[fine]).any()  # sides settled without the trees
    with pytest.raises(ValueError, match="not both"):
        phase_ensemble_lattice(big, 0, 10, P, floor=0.5, threshold=0.5)


@pytest.mark.parametrize("which", ["forest", "depth3", "deep"])
def test_tile_bounds_bound_every_tile_and_topk_skips_exactly(fitted, forests, which):
    """`phase_ensemble_tile_bounds` (what a best-first screen orders chunks by): per tile of TILE ranks
    the bound is >= every p of the tile (-inf for a tile with no usable composition: La), the passing
    count is the exact count of p >= threshold or -1 (unknown: the bounds straddle the threshold),
    and thread counts change nothing. `phase_ensemble_topk(..., tiles=)` with any floor, k and thread
    count is the brute-force top-k with the exact count; tiles claiming a bound below the floor and a
    known count are not scored (their claimed count is added), so the kernel does read them; with an
    unknown count they are scored for it."""
    P = forests[1] if which == "forest" else _params(fitted, which, cal_a=1.1, cal_b=-0.1)
    big = CompositionSpace(TRAIN_ELEMENTS + ("La",), 5, 2.5, min_fraction=0.05, max_fraction=0.35)
    start, stop = big.size - 300_777, big.size  # the last systems hold La; not a whole number of tiles
    exact = phase_ensemble_lattice(big, start, stop, P, threads=2)
    fin = np.sort(exact[np.isfinite(exact)])
    n_tiles = -(-(stop - start) // TILE)
    for threshold in (None, float(fin[len(fin) // 2]), float(fin[-300])):
        tb = phase_ensemble_tile_bounds(big, start, stop, P, threshold=threshold, threads=2)
        tb1 = phase_ensemble_tile_bounds(big, start, stop, P, threshold=threshold, threads=1)
        assert np.array_equal(tb.bound, tb1.bound) and np.array_equal(tb.passing, tb1.passing)
        assert tb.bound.shape == tb.passing.shape == (n_tiles,)
        t = -np.inf if threshold is None else threshold
        for i in range(n_tiles):
            seg = exact[i * TILE:(i + 1) * TILE]
            f = seg[np.isfinite(seg)]
            if f.size == 0:
                assert tb.bound[i] == -np.inf and tb.passing[i] == 0
                continue
            assert np.isfinite(tb.bound[i]) and tb.bound[i] >= f.max()
            if tb.passing[i] >= 0:
                assert tb.passing[i] == int((f >= t).sum())
            else:  # unknown only where the tile has rows on both sides... or its bound cannot tell
                assert tb.passing[i] == -1 and tb.bound[i] >= t
        assert (tb.bound == -np.inf).any() and (tb.bound[np.isfinite(tb.bound)] < fin[-1]).any()
        if threshold is None:  # every side of -inf is known
            assert (tb.passing >= 0).all()
        else:
            assert (tb.passing == -1).any()
        assert tb.best == tb.bound.max()
        for floor in (None, float(fin[-200]), float(fin[len(fin) // 3])):
            for k in (1, 300, 1000):  # 1000: more than pass the last threshold (the heap never fills)
                for threads in (1, 2):
                    s, r, n = phase_ensemble_topk(big, start, stop, k, P, threshold=threshold, threads=threads,
                                                  floor=floor, tiles=tb)
                    kept = exact if floor is None else np.where(exact >= floor, exact, np.nan)
                    bs, br, _ = _brute_topk(kept, k, threshold, start)
                    assert n == _brute_topk(exact, k, threshold, start)[2]
                    assert np.array_equal(r, br) and np.array_equal(s, bs)
    # tiles that claim to be hopeless are skipped whole: their claimed counts, no rows
    fake = TileBounds(start, stop, None, np.full(n_tiles, -np.inf), np.ones(n_tiles, dtype=np.int64))
    s, r, n = phase_ensemble_topk(big, start, stop, 10, P, floor=float(fin[0]), tiles=fake)
    assert n == n_tiles and len(r) == 0
    # the same claim with unknown counts: every tile is scored for its count, none can enter the top
    unknown = TileBounds(start, stop, None, fake.bound, np.full(n_tiles, -1, dtype=np.int64))
    s, r, n = phase_ensemble_topk(big, start, stop, 10, P, floor=float(fin[-1]) + 1.0, tiles=unknown)
    assert n == fin.size and len(r) == 0
    with pytest.raises(ValueError, match=r"bounds of ranks \[0, 10\)"):
        phase_ensemble_topk(big, start, stop, 10, P, tiles=TileBounds(0, 10, None, fake.bound, fake.passing))
    with pytest.raises(ValueError, match="threshold"):
        phase_ensemble_topk(big, start, stop, 10, P, threshold=0.5, tiles=fake)
    from hea_fast.phase.ensemble import _lattice_args

    args = _lattice_args(big, start, stop, P, "default")
    with pytest.raises(ValueError, match="tile_bound"):
        core.phase_ensemble_topk(*args, k=5, tile_bound=np.zeros(3), tile_pass=np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="together"):
        core.phase_ensemble_topk(*args, k=5, tile_bound=fake.bound)
    with pytest.raises(ValueError, match="tile_bound / tile_pass"):
        core.phase_ensemble_topk(*args, k=5, tile_bound=fake.bound, tile_pass=np.full(n_tiles, -2, dtype=np.int64))


@pytest.mark.parametrize("w_lin", [0.5, 0.9])
def test_forest_topk_prunes_exactly_on_a_large_slice(forests, w_lin):
    """On 200,000 ranks of the 5-element HEA lattice most blocks are skipped by the bounds (the linear
    member, the box's reachable leaves) or stop walking early: the k best and the passing count are
    still those of scoring every rank (checked against the all-scores kernel, itself checked against
    the reference above), for one and two threads."""
    P = dataclasses.replace(forests[1], w_lin=w_lin, w_tree=1.0 - w_lin)
    big = CompositionSpace(TRAIN_ELEMENTS, 5, 1.0, min_fraction=0.05, max_fraction=0.35)
    start, stop = 1_000_000, 1_200_000
    full = phase_ensemble_lattice(big, start, stop, P, threads=2)
    ref, _ = _lattice_reference(big, P, start, start + 3000)
    np.testing.assert_allclose(full[:3000], ref, rtol=0, atol=1e-9)
    fin = np.sort(full)[::-1]
    for threshold in (None, float(fin[5000])):
        for k in (10, 1000):
            want = _brute_topk(full, k, threshold, start)
            for threads in (1, 2):
                s, r, cnt = phase_ensemble_topk(big, start, stop, k, P, threshold=threshold, threads=threads)
                assert cnt == want[2] and np.array_equal(r, want[1]) and np.array_equal(s, want[0])


def test_prepared_model_checks_its_link():
    """core.PhaseEnsembleModel validates like every kernel entry point; an unknown link is named."""
    a = dict(lin_mean=np.zeros(1), lin_scale=np.ones(1), lin_coef=np.ones(1), lin_intercept=0.0, tree_baseline=0.0,
             tree_offsets=np.array([0, 1]), node_feature=np.array([-1], dtype=np.int32), node_threshold=np.zeros(1),
             node_left=np.array([-1], dtype=np.int32), node_right=np.array([-1], dtype=np.int32),
             node_value=np.array([0.5]), node_missing_left=np.zeros(1, dtype=np.uint8), w_lin=0.5, w_tree=0.5,
             cal_a=1.0, cal_b=0.0)
    m = core.PhaseEnsembleModel(**a, tree_link="mean", tree_float32=True)
    assert m.n_trees == 1 and m.n_features == 1
    with pytest.raises(ValueError, match="tree_link must be 'logit'.*'median'"):
        core.PhaseEnsembleModel(**a, tree_link="median")
    with pytest.raises(ValueError, match="lin_scale"):
        core.PhaseEnsembleModel(**{**a, "lin_scale": np.zeros(1)})
    none = {**a, "tree_offsets": np.zeros(1, np.int64), **{k: a[k][:0] for k in a if k.startswith("node_")}}
    assert core.PhaseEnsembleModel(**none).n_trees == 0  # no trees: a linear model (logit link)
    with pytest.raises(ValueError, match="'mean'.*at least one tree"):
        core.PhaseEnsembleModel(**none, tree_link="mean")


# ---- boosted trees on float32-rounded features (the distilled default's student) ------------------------
def _around(values, n_ulps=3):
    """Each value, its float32 rounding, the float32 neighbours, their float64 midpoints and the few float64
    numbers on either side of each: where a float32 rounding and a threshold can disagree."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        a = np.float32(v)
        for f in (np.nextafter(a, np.float32(-np.inf)), a, np.nextafter(a, np.float32(np.inf))):
            g = np.nextafter(f, np.float32(np.inf))
            for c in (float(v), float(f), (float(f) + float(g)) / 2):
                x = c
                out.append(x)
                for direction in (-np.inf, np.inf):
                    x = c
                    for _ in range(n_ulps):
                        x = np.nextafter(x, direction)
                        out.append(x)
    return np.array(out)


def test_float32_cut_is_float32_rounding_as_a_float64_comparison():
    """float32(x) <= t  <=>  x <= float32_cut(t), checked at and around every place where they could
    differ (float32 values, midpoints between them, a few ulps either side), for thresholds that are
    float32 values, midpoints, arbitrary doubles, zero, negatives and infinities."""
    from hea_fast.phase.convert import float32_cut

    rng = np.random.default_rng(3)
    f32 = rng.normal(0, 50, 40).astype(np.float32).astype(np.float64)
    mids = (f32 + np.nextafter(f32.astype(np.float32), np.float32(np.inf)).astype(np.float64)) / 2
    ts = np.concatenate([f32, mids, rng.normal(0, 50, 40), [0.0, -0.0, 1.0, 125.0, 9.0, 1e-30, -1e-30]])
    cuts = float32_cut(ts)
    for t, c in zip(ts, cuts):
        x = _around([t, c])
        np.testing.assert_array_equal(x.astype(np.float32).astype(np.float64) <= t, x <= c)
    assert np.array_equal(float32_cut([np.inf, -np.inf]), [np.inf, -np.inf])


def test_trees_on_float32_features_equal_sklearn_bitwise_at_their_thresholds(fitted):
    """features_float32=True: the exported trees on raw float64 rows are scikit-learn's trees on the
    float32-rounded rows, bitwise, also for values at every threshold, at float32 rounding boundaries and
    a few ulps around them (descriptors of one composition summed in two element orders); the rows and
    reference paths agree; forests refuse the flag."""
    V, y, scaler, logreg, models = fitted
    Fd = len(NAMES)
    V32 = V.astype(np.float32).astype(np.float64)
    hgb = HistGradientBoostingClassifier(max_iter=60, max_depth=4, random_state=0, early_stopping=False)
    hgb.fit(V32[:, :Fd], y)
    P = params_from_sklearn(scaler, logreg, hgb, NAMES, FRACTION_ELEMENTS, features_float32=True)
    nodes = np.concatenate([pred[0].nodes for pred in hgb._predictors])
    internal = nodes[~nodes["is_leaf"].astype(bool)]
    rng = np.random.default_rng(5)
    rows = []
    for node in internal[rng.choice(len(internal), 60, replace=False)]:
        for x in _around([node["num_threshold"]], n_ulps=2):
            r = V[rng.integers(len(V))].copy()
            r[node["feature_idx"]] = x
            rows.append(r)
    W = np.vstack([np.array(rows), V[:200]])
    want = hgb.decision_function(W[:, :Fd].astype(np.float32).astype(np.float64))
    assert np.array_equal(tree_raw_reference(W, P), want)
    p = phase_ensemble(W, P, threads=2)
    np.testing.assert_allclose(p, phase_ensemble_reference(W, P), rtol=0, atol=1e-12)
    sk = 0.5 * (logreg.predict_proba(scaler.transform(W))[:, 1] + hgb.predict_proba(
        W[:, :Fd].astype(np.float32).astype(np.float64))[:, 1])
    np.testing.assert_allclose(p, sk, rtol=0, atol=1e-12)
    rf = RandomForestClassifier(n_estimators=3, random_state=0).fit(V[:, :Fd], y)
    with pytest.raises(ValueError, match="features_float32 applies to boosted trees"):
        params_from_sklearn(scaler, logreg, rf, NAMES, FRACTION_ELEMENTS, features_float32=True)
