"""WBIC by tempered PG-Gibbs (hea_fast.mixture.wbic, kernel csrc/cpu/wbic_cpu.cpp) against independent references:
2-D quadrature of the tempered posterior (one feature + intercept), self-normalised importance
sampling with >= 1e6 draws (4 features), the NumPy reference sampler, and Watanabe's (2013) theory
for a regular model (WBIC - F = O(1), both ~ l(w_hat) + (d/2) log n)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from hea_fast.mixture.wbic import (
    WBICError,
    WBICResult,
    laplace_wbic,
    posterior_draws,
    tempered_mode,
    wbic,
    wbic_subsets,
)
from hea_fast.mixture.wbic_reference import logistic_nll, wbic_reference


def _data(n, w, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(w) - 1))
    p = special.expit(w[0] + X @ np.asarray(w[1:]))
    y = (rng.random(n) < p).astype(float)
    return X, y


def _grid_2d(X, y, beta, prior_var, half_width=7.0, m=241):
    """Tempered posterior on a dense grid around the tempered mode: returns (E_beta[l], F, l_grid, logw)."""
    A = np.hstack([np.ones((len(y), 1)), X])
    w_hat, _g, H = tempered_mode(A, y, beta, prior_var)
    sd = np.sqrt(np.diag(np.linalg.inv(beta * H + np.eye(2) / prior_var)))
    g0 = w_hat[0] + np.linspace(-half_width, half_width, m) * sd[0]
    g1 = w_hat[1] + np.linspace(-half_width, half_width, m) * sd[1]
    W0, W1 = np.meshgrid(g0, g1, indexing="ij")
    ws = np.stack([W0.ravel(), W1.ravel()], axis=1)
    l = logistic_nll(A, y, ws)
    logprior = -0.5 * (ws**2).sum(1) / prior_var - math.log(2 * math.pi * prior_var)
    cell = (g0[1] - g0[0]) * (g1[1] - g1[0])
    lt = logprior - beta * l
    wt = np.exp(lt - lt.max())
    e_l = float((wt * l).sum() / wt.sum())
    return e_l, A, w_hat, cell, l, logprior


def test_one_feature_matches_2d_quadrature():
    X, y = _data(300, [0.3, 1.2], seed=1)
    beta = 1 / math.log(300)
    exact, *_ = _grid_2d(X, y, beta, 10.0)
    r = wbic(X, y, n_iter=1500, burn_in=20, seed=3)
    assert r.backend == "cpp"
    assert abs(r.wbic - exact) < 4 * r.stderr, (r.wbic, exact, r.stderr)
    assert 0 < r.stderr < 0.2 and abs(r.rhat - 1) < 0.05
    # NumPy reference sampler against the same quadrature
    rn = wbic(X, y, n_iter=300, burn_in=20, seed=4, engine="numpy")
    assert abs(rn.wbic - exact) < 4 * rn.stderr, (rn.wbic, exact, rn.stderr)
    # C++ vs NumPy (statistical agreement)
    assert abs(r.wbic - rn.wbic) < 4 * math.hypot(r.stderr, rn.stderr)


def test_four_features_match_importance_sampling():
    X, y = _data(150, [-0.4, 1.0, -0.7, 0.3, 0.0], seed=2)
    n = len(y)
    beta, pv = 1 / math.log(n), 10.0
    A = np.hstack([np.ones((n, 1)), X])
    w_hat, _g, H = tempered_mode(A, y, beta, pv)
    S = np.linalg.inv(beta * H + np.eye(5) / pv)
    L = np.linalg.cholesky(S * 1.3)
    Li = np.linalg.inv(L)
    rng = np.random.default_rng(7)
    nu, num, den, chunks = 8.0, [], [], 20
    for _ in range(chunks):  # 20 x 55k = 1.1e6 Student-t proposal draws (chunked: flat memory)
        e = rng.standard_normal((55_000, 5))
        u = rng.chisquare(nu, 55_000)
        ws = w_hat + (e @ L.T) * np.sqrt(nu / u)[:, None]
        l = logistic_nll(A, y, ws)
        logq = -(nu + 5) / 2 * np.log1p((((ws - w_hat) @ Li.T) ** 2).sum(1) / nu)
        lt = -beta * l - 0.5 * (ws**2).sum(1) / pv - logq
        num.append(l)
        den.append(lt)
    l = np.concatenate(num)
    lt = np.concatenate(den)
    wt = np.exp(lt - lt.max())
    wt /= wt.sum()
    ref = float((wt * l).sum())
    ref_se = float(np.sqrt((wt**2 * (l - ref) ** 2).sum()))
    assert 1 / (wt**2).sum() > 3e5  # effective sample size of the reference
    r = wbic(X, y, n_iter=1000, burn_in=20, seed=5)
    assert abs(r.wbic - ref) < 4 * math.hypot(r.stderr, ref_se), (r.wbic, ref, r.stderr, ref_se)


def test_wbic_minus_free_energy_on_regular_model():
    """Watanabe (2013) Thm 4 / Eq. 9 for a regular model (d = 2): F = l(w_hat) + (d/2) log n + O(1)
    and WBIC - F = O(1); to leading order (Laplace) WBIC - F = log prior(w_hat) - log det(H/n)/2
    + (d/2) log(2 pi). F and E_beta[l] come from quadrature, and the sampler must match E_beta[l]."""
    n = 2000
    X, y = _data(n, [0.2, 0.8], seed=3)
    beta = 1 / math.log(n)
    e_l, A, w_hat_b, cell, l, logprior = _grid_2d(X, y, 1.0, 10.0, half_width=9.0, m=161)
    # free energy at beta = 1 on its own grid: F = -log sum prior exp(-l) cell
    lt = logprior - l
    F = -(special.logsumexp(lt) + math.log(cell))
    wbic_q, *_ = _grid_2d(X, y, beta, 10.0)
    w_mle, _g, H = tempered_mode(A, y, 1.0, 1e12)
    l_hat = float(logistic_nll(A, y, w_mle))
    d = 2
    assert abs(F - (l_hat + d / 2 * math.log(n))) < 5.0
    pred = (-0.5 * (w_mle @ w_mle) / 10.0 - math.log(2 * math.pi * 10.0)) - 0.5 * np.linalg.slogdet(H / n)[1] \
        + d / 2 * math.log(2 * math.pi)
    assert abs((wbic_q - F) - pred) < 0.5, (wbic_q - F, pred)
    r = wbic(X, y, n_iter=1000, burn_in=20, seed=8)
    assert abs(r.wbic - wbic_q) < 4 * r.stderr


def test_thread_count_does_not_change_results_and_prune():
    X, y = _data(250, [0.1, 1.0, 0.0, -0.8], seed=4)
    subsets = [(), (0,), (1,), (2,), (0, 2), (0, 1, 2)]
    kw = dict(n_iter=64, burn_in=10, seed=11, n_chains=3)
    a = wbic_subsets(X, y, subsets, threads=1, **kw)
    b = wbic_subsets(X, y, subsets, threads=2, **kw)
    np.testing.assert_array_equal(a.wbic, b.wbic)
    np.testing.assert_array_equal(a.stderr, b.stderr)
    # a subset's result depends on (seed, columns) only: not on its position or the other subsets
    alone = wbic_subsets(X, y, [subsets[4]], threads=1, **kw)
    assert alone.wbic[0] == a.wbic[4] and alone.stderr[0] == a.stderr[4]
    rev = wbic_subsets(X, y, subsets[::-1], threads=2, **kw)
    np.testing.assert_array_equal(rev.wbic[::-1], a.wbic)
    c = wbic_subsets(X, y, subsets, seed=12, n_iter=64, burn_in=10, n_chains=3)
    assert not np.array_equal(a.wbic, c.wbic)
    p = wbic_subsets(X, y, subsets, prune_above=15.0, **kw)
    best = p.laplace_wbic.min()
    np.testing.assert_array_equal(p.pruned, p.laplace_wbic > best + 15.0)
    assert p.pruned.any() and np.all(np.isnan(p.wbic[p.pruned]))
    np.testing.assert_array_equal(p.wbic[~p.pruned], a.wbic[~p.pruned])
    df = p.to_dataframe()
    assert list(df["size"]) == [len(s) for s in subsets]


def test_adaptive_stopping_reaches_target():
    X, y = _data(300, [0.0, 1.0, 0.5], seed=5)
    r = wbic(X, y, n_iter=32, burn_in=10, target_stderr=0.15, seed=1)
    assert r.stderr <= 0.15 and r.n_iter > 32


def test_beta_and_prior_options():
    X, y = _data(200, [0.0, 1.0], seed=6)
    r = wbic(X, y, n_for_beta=5000, n_iter=64, burn_in=10)
    assert r.beta == pytest.approx(1 / math.log(5000))
    r2 = wbic(X, y, beta=0.5, n_iter=64, burn_in=10)
    assert r2.beta == 0.5
    # a tighter prior moves the Laplace-WBIC (prior enters the tempered posterior)
    assert laplace_wbic(X, y, prior_var=0.01) != pytest.approx(laplace_wbic(X, y, prior_var=10.0))


def test_posterior_draws_match_quadrature_mean():
    X, y = _data(300, [0.3, 1.2], seed=1)
    draws = posterior_draws(X, y, n_draws=1500, burn_in=50, seed=2)
    assert draws.shape == (4 * 1500, 2)
    e_l, A, w_hat, cell, l, logprior = _grid_2d(X, y, 1.0, 10.0)
    # posterior mean by quadrature on the same grid
    lt = logprior - l
    wt = np.exp(lt - lt.max())
    m = 241  # grid coordinates exactly as _grid_2d builds them
    Hb = tempered_mode(A, y, 1.0, 10.0)[2]
    sdb = np.sqrt(np.diag(np.linalg.inv(Hb + np.eye(2) / 10.0)))
    G0 = w_hat[0] + np.linspace(-7, 7, m) * sdb[0]
    G1 = w_hat[1] + np.linspace(-7, 7, m) * sdb[1]
    W0, W1 = np.meshgrid(G0, G1, indexing="ij")
    mean_q = np.array([(wt * W0.ravel()).sum(), (wt * W1.ravel()).sum()]) / wt.sum()
    se = draws.std(0) / math.sqrt(draws.shape[0]) * 2.0  # IAT <= 4 for this well-conditioned model
    assert np.all(np.abs(draws.mean(0) - mean_q) < 4 * se), (draws.mean(0), mean_q, se)


def test_bad_input_names_the_value():
    X, y = _data(50, [0.0, 1.0], seed=0)
    y2 = y.copy()
    y2[3] = 2.0
    with pytest.raises(WBICError, match="2.0"):
        wbic(X, y2)
    X2 = X.copy()
    X2[5, 0] = np.nan
    with pytest.raises(WBICError, match="row 5"):
        wbic(X2, y)
    with pytest.raises(WBICError, match="prior_var"):
        wbic(X, y, prior_var=-1)
    with pytest.raises(WBICError, match="outside"):
        wbic_subsets(X, y, [(0, 3)])
    with pytest.raises(WBICError, match="n_for_beta"):
        wbic(X, y, n_for_beta=1)


@pytest.mark.gpu
def test_cuda_matches_cpu_statistically():
    X, y = _data(400, [0.2, 1.0, -0.6, 0.0], seed=9)
    subsets = [(0,), (0, 1), (0, 1, 2), ()]
    kw = dict(n_iter=600, burn_in=20, seed=3)
    cpu = wbic_subsets(X, y, subsets, **kw)
    gpu = wbic_subsets(X, y, subsets, device="cuda", **kw)
    assert gpu.backend == "cuda"
    np.testing.assert_allclose(gpu.laplace_wbic, cpu.laplace_wbic, rtol=1e-12)
    assert np.all(np.abs(gpu.wbic - cpu.wbic) < 4.5 * np.hypot(gpu.stderr, cpu.stderr))
    assert np.all(np.abs(gpu.rhat - 1) < 0.05)
    again = wbic_subsets(X, y, subsets, device="cuda", **kw)
    np.testing.assert_array_equal(again.wbic, gpu.wbic)  # reproducible for a seed


def test_package_wbic_is_the_function():
    """README: `from hea_fast.mixture import wbic; wbic(X, y)`. The package attribute is the function
    (no callable-module trick); the module's names are imported from hea_fast.mixture.wbic."""
    import importlib
    import inspect

    import hea_fast.mixture as M
    from hea_fast.mixture import wbic as w_pkg

    mod = importlib.import_module("hea_fast.mixture.wbic")
    assert inspect.ismodule(mod) and inspect.isfunction(w_pkg)
    assert w_pkg is M.wbic is mod.wbic is wbic
    assert M.wbic_subsets is mod.wbic_subsets and M.posterior_draws is mod.posterior_draws
    assert list(inspect.signature(M.wbic).parameters)[:3] == ["X", "y", "prior_var"]
    X, y = _data(80, [0.0, 1.0], seed=12)
    a, b = M.wbic(X, y, n_iter=16, burn_in=4, seed=2), wbic(X, y, n_iter=16, burn_in=4, seed=2)
    assert isinstance(a, WBICResult) and a == b


def test_backend_keyword_is_deprecated_and_maps_to_engine():
    X, y = _data(80, [0.0, 1.0, -0.5], seed=13)
    kw = dict(n_iter=16, burn_in=4, seed=2)
    for old, new in (("auto", "cpp"), ("cpp", "cpp"), ("numpy", "numpy")):
        with pytest.warns(DeprecationWarning, match="engine="):
            a = wbic(X, y, backend=old, **kw)
        assert a == wbic(X, y, engine=new, **kw)
    with pytest.warns(DeprecationWarning, match="engine="):
        s = wbic_subsets(X, y, [(0,), (0, 1)], backend="numpy", **kw)
    t = wbic_subsets(X, y, [(0,), (0, 1)], engine="numpy", **kw)
    np.testing.assert_array_equal(s.wbic, t.wbic)
    with pytest.warns(DeprecationWarning, match="engine="):
        d = posterior_draws(X, y, n_draws=20, burn_in=5, seed=1, backend="cpp")
    np.testing.assert_array_equal(d, posterior_draws(X, y, n_draws=20, burn_in=5, seed=1))
    with pytest.raises(WBICError, match="engine"):
        wbic(X, y, engine="fortran", **kw)
    # the numpy engine is the public reference
    assert wbic(X, y, engine="numpy", **kw) == wbic_reference(X, y, **kw)


# ---- seeds: the compiled samplers take 64-bit seeds; others are refused, not reduced modulo 2**64 ----
@pytest.mark.parametrize("bad", [-1, 2**64, 2**64 + 5, 1.5, True, "7", None])
def test_seeds_outside_64_bits_are_refused_by_every_sampler(bad):
    from hea_fast.mixture.polyagamma import sample_polyagamma

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), (rng.random(40) < 0.5).astype(float)
    for engine in ("cpp", "numpy"):
        with pytest.raises(WBICError, match=r"seed must be an integer in \[0, 2\*\*64\), got "):
            wbic_subsets(X, y, [(0,)], n_iter=20, burn_in=5, n_chains=2, seed=bad, engine=engine)
        with pytest.raises(WBICError, match=r"seed must be an integer in \[0, 2\*\*64\)"):
            posterior_draws(X, y, n_draws=10, burn_in=5, n_chains=2, seed=bad, engine=engine)
        with pytest.raises(WBICError, match=r"seed must be an integer in \[0, 2\*\*64\)"):
            sample_polyagamma(np.ones(3), np.zeros(3), seed=bad, engine=engine)


def test_seed_types_and_the_top_of_the_range():
    from hea_fast.mixture.checks import check_seed
    from hea_fast.mixture.polyagamma import sample_polyagamma

    b, c = np.ones(5), np.zeros(5)
    top = 2**64 - 1  # the largest seed, read as such (it used to be what seed -1 silently became)
    np.testing.assert_array_equal(sample_polyagamma(b, c, seed=np.uint64(top)), sample_polyagamma(b, c, seed=top))
    np.testing.assert_array_equal(sample_polyagamma(b, c, seed=np.int64(5)), sample_polyagamma(b, c, seed=5))
    assert not np.array_equal(sample_polyagamma(b, c, seed=top), sample_polyagamma(b, c, seed=0))
    assert check_seed(np.int32(3)) == 3 and type(check_seed(np.int32(3))) is int
    with pytest.raises(ValueError, match=r"random_state must be an integer in \[0, 2\*\*63\), got 9223372036854775808"):
        check_seed(2**63, "random_state", bits=63)
