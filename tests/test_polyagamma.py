"""Exact Pólya-Gamma sampler (csrc/include/hea_fast/polyagamma.h) tested as a distribution.

References are independent of the sampler: closed-form mean and variance (Polson, Scott & Windle
2013), the closed-form Laplace transform E exp(-s w) = cosh(c/2)^b / cosh(sqrt(c^2/4 + s/2))^b, and an
exact CDF from term-wise integration of the J* density series (inverse-Gaussian CDFs), compared
with a Kolmogorov-Smirnov test.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from hea_fast._backend import core
from hea_fast.mixture.polyagamma import pg_mean, pg_var, sample_polyagamma, sample_polyagamma_reference
from hea_fast.mixture.wbic_common import WBICError

BETA_1000 = 1.0 / math.log(1000.0)  # the tempered Gibbs shape at n = 1000


def _draws(b, c, n, seed=0):
    return sample_polyagamma(np.full(n, float(b)), np.full(n, float(c)), seed=seed)


@pytest.mark.parametrize("b", [0.05, BETA_1000, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("c", [0.0, 1.3, 6.0])
def test_mean_and_variance_match_closed_forms(b, c):
    x = _draws(b, c, 2_000_000, seed=11)
    m, v = pg_mean(b, c), pg_var(b, c)
    se_m = x.std() / math.sqrt(x.size)
    assert abs(x.mean() - m) < 4.5 * se_m, (x.mean(), m, se_m)
    # SE of the sample variance from the 4th central moment
    d = x - x.mean()
    se_v = math.sqrt(max((d**4).mean() - d.var() ** 2, 0.0) / x.size)
    assert abs(d.var() - v) < 4.5 * se_v, (d.var(), v, se_v)


def test_mean_exact_to_0p1_percent_at_gibbs_shape():
    """b = 1/log(1000) ~ 0.145, where polyagamma's default method is 0.3 % low: 40 M draws make
    3 standard errors = 0.1 %, so a 0.3 % bias would fail by 9 SE."""
    b = BETA_1000
    for c, seed in [(1.0, 2)]:
        x = _draws(b, c, 40_000_000, seed=seed)
        rel = x.mean() / pg_mean(b, c) - 1.0
        se_rel = x.std() / math.sqrt(x.size) / pg_mean(b, c)
        assert se_rel < 0.00036
        assert abs(rel) < 1e-3, rel
        assert abs(rel) < 3.5 * se_rel, (rel, se_rel)
        var_rel = x.var() / pg_var(b, c) - 1.0
        assert abs(var_rel) < 5e-3, var_rel  # the 4th-moment SE of the variance is ~0.15 % here


@pytest.mark.parametrize("b,c", [(BETA_1000, 0.0), (BETA_1000, 2.0), (0.7, 0.5), (1.0, 3.0), (2.3, 1.0)])
def test_laplace_transform(b, c):
    x = _draws(b, c, 400_000, seed=5)
    for s in [0.5, 2.0, 8.0, 30.0]:
        e = np.exp(-s * x)
        exact = (math.cosh(c / 2) / math.cosh(math.sqrt(c * c / 4 + s / 2))) ** b
        assert abs(e.mean() - exact) < 4.5 * e.std() / math.sqrt(x.size) + 1e-12, (s, e.mean(), exact)


def _pg_cdf(x, b, c, nterms=300):
    """Exact CDF of PG(b, c) for b <= 1: P(J*(b, c/2) <= 4x) integrating the series term-wise."""
    h, z = float(b), abs(float(c)) / 2.0
    t = 4.0 * np.asarray(x, dtype=float)[:, None]
    n = np.arange(nterms)[None, :]
    logC = special.gammaln(n + h) - special.gammaln(h) - special.gammaln(n + 1.0)
    k = 2.0 * n + h
    if z == 0:
        F = special.erfc(k / np.sqrt(2.0 * t))  # Levy(k^2) CDF
        logpre = h * math.log(2.0) + logC
        terms = np.exp(logpre) * F
    else:
        # tilted first-passage CDF: e^{-kz} Phi((tz-k)/sqrt t) + e^{kz} Phi(-(tz+k)/sqrt t)
        st = np.sqrt(t)
        a = special.log_ndtr((t * z - k) / st) - k * z
        bb = special.log_ndtr(-(t * z + k) / st) + k * z
        logpre = h * math.log(2.0) + logC + h * math.log(math.cosh(z))
        terms = np.exp(logpre + a) + np.exp(logpre + bb)
    sign = np.where(n % 2 == 0, 1.0, -1.0)
    return (sign * terms).sum(axis=1)


@pytest.mark.parametrize("b,c", [(0.05, 0.0), (BETA_1000, 0.0), (BETA_1000, 1.5), (0.6, 4.0), (1.0, 0.0)])
def test_ks_against_exact_cdf(b, c):
    x = np.sort(_draws(b, c, 40_000, seed=9))
    # the series CDF is itself checked at the extremes
    assert abs(_pg_cdf(np.array([50.0]), b, c)[0] - 1.0) < 1e-9
    grid = _pg_cdf(np.geomspace(1e-5, 20, 200), b, c)
    assert np.all(np.diff(grid) >= -1e-12) and grid[0] >= 0
    F = np.concatenate([_pg_cdf(ch, b, c) for ch in np.array_split(x, 20)])
    i = np.arange(1, x.size + 1)
    D = max((i / x.size - F).max(), (F - (i - 1) / x.size).max())
    p = stats.kstwo.sf(D, x.size)
    assert p > 1e-3, (D, p)


@pytest.mark.parametrize("h", [0.02, BETA_1000, 0.4, 0.8, 0.97, 1.0])
def test_density_series_and_envelopes(h):
    # the J* density series integrates to 1 and has the right Laplace transform cosh(sqrt(2s))^-h
    f = lambda x: core.jstar_density(h, np.array([x]))[0]  # noqa: E731
    total = integrate.quad(f, 0, 80, limit=400, points=[0.01, 0.1, 1.0])[0]
    assert abs(total - 1.0) < 1e-7
    for s in [0.3, 2.0]:
        lt = integrate.quad(lambda x: math.exp(-s * x) * f(x), 0, 80, limit=400, points=[0.01, 0.1, 1.0])[0]
        assert abs(lt - math.cosh(math.sqrt(2 * s)) ** -h) < 1e-7
    # envelopes the sampler relies on: g_h <= a_0 everywhere, g_h <= Kp e^{-pi^2 x/8} for x >= t
    xs = np.concatenate([np.linspace(1e-3, 2, 2000), np.linspace(2, 40, 4000)])
    g = core.jstar_density(h, xs)
    a0 = 2**h * h / np.sqrt(2 * np.pi * xs**3) * np.exp(-h * h / (2 * xs))
    assert np.all(g <= a0 * (1 + 1e-12) + 1e-300)
    t, Kp = core.jstar_envelope(h)
    right = (xs >= t) & (xs <= 20)  # beyond ~20 the float series is below its rounding noise
    assert np.all(g[right] <= Kp * np.exp(-np.pi**2 * xs[right] / 8))


def test_reproducible_and_thread_independent():
    b = np.full(50_000, BETA_1000)
    c = np.linspace(-5, 5, b.size)
    a1 = core.polyagamma(b, c, seed=3, threads=1)
    a2 = core.polyagamma(b, c, seed=3, threads=2)
    a3 = core.polyagamma(b, c, seed=4, threads=2)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)
    assert np.all(a1 > 0) and np.all(np.isfinite(a1))


def test_reference_sampler_moments():
    """The NumPy reference (truncated series + moment-matched remainder) used by the Gibbs
    reference has exact first two moments."""
    x = sample_polyagamma(np.full(100_000, BETA_1000), np.full(100_000, 2.0), seed=1, engine="numpy")
    se = x.std() / math.sqrt(x.size)
    assert abs(x.mean() - pg_mean(BETA_1000, 2.0)) < 4.5 * se
    # engine="numpy" is the public reference with its default K = 100 terms
    np.testing.assert_array_equal(x, sample_polyagamma_reference(np.full(100_000, BETA_1000), 2.0, 1))
    # K is the number of exact series terms; any K keeps the first two moments exact
    for K in (1, 10, 400):
        xk = sample_polyagamma_reference(np.full(100_000, 0.7), np.full(100_000, 1.5), rng=2, K=K)
        assert abs(xk.mean() - pg_mean(0.7, 1.5)) < 4.5 * xk.std() / math.sqrt(xk.size)
        assert abs(xk.var() / pg_var(0.7, 1.5) - 1) < 0.05
    with pytest.raises(WBICError, match="K"):
        sample_polyagamma_reference(1.0, 0.0, K=0)


def test_method_keyword_is_deprecated():
    b, c = np.full(1000, 0.3), np.linspace(-2, 2, 1000)
    with pytest.warns(DeprecationWarning, match="engine="):
        a = sample_polyagamma(b, c, seed=3, method="reference")
    np.testing.assert_array_equal(a, sample_polyagamma(b, c, seed=3, engine="numpy"))
    with pytest.warns(DeprecationWarning, match="engine="):
        e = sample_polyagamma(b, c, seed=3, method="exact")
    np.testing.assert_array_equal(e, sample_polyagamma(b, c, seed=3))
    with pytest.warns(DeprecationWarning, match="polyagamma"):
        from hea_fast.mixture.wbic import sample_polyagamma as old  # noqa: F401  (moved name)


def test_bad_input():
    with pytest.raises(WBICError, match="-1"):
        sample_polyagamma(-1.0, 0.0)
    with pytest.raises(WBICError, match="nan"):
        sample_polyagamma(1.0, float("nan"))
    with pytest.raises(ValueError, match="b"):
        core.polyagamma(np.array([0.0]), np.array([1.0]))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(b=st.floats(0.02, 3.0), c=st.floats(-30.0, 30.0), seed=st.integers(0, 2**32 - 1))
def test_property_any_b_c(b, c, seed):
    """Any b in [0.02, 3], |c| <= 30: draws are finite, positive, symmetric in c (same stream, same
    values), and their mean agrees with b/(2c) tanh(c/2) within 5 standard errors."""
    x = sample_polyagamma(np.full(20_000, b), np.full(20_000, c), seed=seed)
    assert np.all(np.isfinite(x)) and np.all(x > 0)
    np.testing.assert_array_equal(x, sample_polyagamma(np.full(20_000, b), np.full(20_000, -c), seed=seed))
    assert abs(x.mean() - pg_mean(b, c)) < 5 * x.std() / math.sqrt(x.size)


def test_variance_closed_form_at_large_tilt():
    """pg_var against the closed form in 60-digit arithmetic (mpmath) for c up to 1e5: the direct
    float form overflows (cosh^2(c/2) c^3 = inf) for c >~ 690 and gave 0 there, which also shrank
    the NumPy reference sampler's variance (its remainder is moment-matched to pg_var)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    cs = np.r_[np.geomspace(1e-3, 1e5, 80), 0.0099, 0.0101, 689.0, 700.0, 710.0]
    for c in cs:
        C = mpmath.mpf(float(c))
        exact = float((mpmath.sinh(C) - C) / (4 * C**3 * mpmath.cosh(C / 2) ** 2))
        assert pg_var(0.7, c) == pytest.approx(0.7 * exact, rel=1e-9), c
        assert pg_var(0.7, -c) == pg_var(0.7, c)
    # the reference sampler's draws at c = 1000 have the exact variance (they had 0.65 of it)
    x = sample_polyagamma_reference(np.full(100_000, 1.0), np.full(100_000, 1000.0), rng=4)
    assert abs(x.var() / pg_var(1.0, 1000.0) - 1) < 0.05
    assert abs(x.mean() - pg_mean(1.0, 1000.0)) < 4.5 * x.std() / math.sqrt(x.size)
