"""The fused mixture predictive (kernel `probit`: `core.mixture_probit`, wrapped by
`hea_fast.mixture.probit.mixture_probit`) against its NumPy reference, a closed form written out per
row and the model's Monte Carlo predictive; bad arguments are refused."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.features import featurize
from hea_fast.mixture import SparseMixtureClassifier
from hea_fast.mixture.probit import ProbitModel, mixture_probit, mixture_probit_reference


def _synthetic_scorer(engine, K, rng, d=5, cl=(0, 1, 3), sub=(1, 2, 4)):
    pm = ProbitModel.random(rng, K, d, cl, sub)
    return S.MixtureScorer.from_probit(tuple(f"x{j}" for j in range(d)), pm, engine=engine)


@pytest.mark.parametrize("K", [1, 2, 4])
def test_fused_probit_kernel_matches_reference(K):
    rng = np.random.default_rng(K)
    sc = _synthetic_scorer("cpp", K, rng)
    pm = sc.probit
    X = rng.normal(size=(5000, 5)) * 2.0
    X[7, 2], X[11, 0], X[13, 4] = np.nan, np.inf, -np.inf
    desc = pd.DataFrame(X, columns=list(sc.descriptors))
    p = sc.score(None, desc)
    ref = mixture_probit_reference(X, *pm)
    assert np.isnan(p[[7, 11, 13]]).all() and np.isnan(ref[[7, 11, 13]]).all()
    np.testing.assert_allclose(p, ref, rtol=1e-13, atol=1e-15, equal_nan=True)
    np.testing.assert_array_equal(mixture_probit(X, *pm), p)
    # the numpy engine is the reference
    np.testing.assert_array_equal(S.MixtureScorer.from_probit(sc.descriptors, pm, engine="numpy").score(None, desc),
                                  ref)
    # independent closed form: brute-force nearest anchor in full Euclidean distance, and
    # MacKay's formula written out per row
    Z = (X - pm.mean) / pm.scale
    for i in rng.choice(np.flatnonzero(np.isfinite(Z).all(axis=1)), 200, replace=False):
        c = 0 if K == 1 else int(np.argmin(((Z[i, pm.cl] - pm.anchors) ** 2).sum(axis=1)))
        a = np.concatenate([[1.0], Z[i, pm.sub]])
        kappa = 1.0 / np.sqrt(1.0 + np.pi * a @ pm.cov[c] @ a / 8.0)
        assert p[i] == pytest.approx(1.0 / (1.0 + np.exp(-kappa * (a @ pm.mu[c]))), rel=1e-12)
    # thread count does not change the result
    sc.threads = 1
    np.testing.assert_array_equal(sc.score(None, desc), p)


def test_fused_probit_kernel_rejects_bad_arguments():
    X, m, s = np.zeros((3, 2)), np.zeros(2), np.ones(2)
    cl, sub, mu, cov = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64), np.zeros((2, 2)), np.zeros((2, 2, 2))
    A = np.zeros((2, 1))
    with pytest.raises(ValueError, match=r"scale\[1\] = -1"):
        mixture_probit(X, m, np.array([1.0, -1.0]), cl, A, sub, mu, cov)
    with pytest.raises(ValueError, match=r"sub\[0\] = 5"):
        mixture_probit(X, m, s, cl, A, np.array([5], dtype=np.int64), mu, cov)
    with pytest.raises(ValueError, match="cov"):
        mixture_probit(X, m, s, cl, A, sub, mu, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="anchors"):
        mixture_probit(X, m, s, cl, np.zeros((3, 1)), sub, mu, cov)


def test_mixture_scorer_probit_matches_monte_carlo():
    """The screening fast path (probit approximation of the posterior predictive) agrees with the
    model's Monte Carlo average over posterior draws."""
    model = SparseMixtureClassifier.load_default()
    space = S.CompositionSpace(["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Nb", "Mo", "Ta", "W"], 4, 10.0)
    batch = space.decode(0, len(space))
    desc = featurize(batch)
    fast = S.MixtureScorer(model).score(batch, desc)
    mc = S.MixtureScorer(model, method="mc").score(batch, desc)
    assert np.isfinite(fast).all()
    assert np.max(np.abs(fast - mc)) < 0.02
    # the decision at the paper's 0.75 threshold changes only for alloys right at the boundary
    flip = (fast >= 0.75) != (mc >= 0.75)
    assert np.all(np.abs(mc[flip] - 0.75) < 0.02)


def test_mixture_scorer_engines_agree_on_the_bundled_model():
    space = S.CompositionSpace(["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Nb", "Mo", "Ta", "W"], 4, 10.0)
    batch = space.decode(0, len(space))
    fast, ref = S.MixtureScorer(), S.MixtureScorer(engine="numpy")
    desc = featurize(batch, descriptors=list(fast.descriptors))
    np.testing.assert_allclose(fast.score(batch, desc), ref.score(batch, desc), rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="'fortran'"):
        S.MixtureScorer(engine="fortran")
    with pytest.raises(ValueError, match="'laplace'"):
        S.MixtureScorer(method="laplace")
