"""WBIC benchmarks (kernel: csrc/cpu/wbic_cpu.cpp, hea_fast.mixture.wbic; reference:
hea_fast.mixture.wbic_reference): one subset (n = 1000, 4 features, stderr <= 0.1) with the compiled
PG-Gibbs vs the NumPy PG-Gibbs reference in the same run, and the exhaustive search over all subsets
of size <= 4 from 20 candidates (6,195 subsets, n = 1000). The PG sampler alone:
benchmarks/test_polyagamma.py. Quick mode (CI): small n, loose stderr, few subsets."""
from __future__ import annotations

import itertools

import numpy as np
from scipy import special

from hea_fast.mixture.diagnostics import batch_means_stderr
from hea_fast.mixture.wbic import wbic, wbic_subsets
from hea_fast.mixture.wbic_reference import logistic_nll, wbic_reference


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:4] = [1.0, -0.8, 0.5, 0.3][: min(4, p)]
    y = (rng.random(n) < special.expit(0.3 + X @ w)).astype(float)
    return X, y


def _once(timer, fn):
    """(result, wall time) of one call of fn (timer: the conftest fixture)."""
    out = []
    t = timer(lambda: out.append(fn()), repeat=1, min_time=0.0)
    return out[0], t


def test_wbic_one_subset_vs_numpy(quick, check_ratio, timer):
    n, target = (300, 0.3) if quick else (1000, 0.1)
    X, y = _data(n, 4)
    kw = dict(n_iter=64, burn_in=20, target_stderr=target, seed=1)
    r, t_cpp = _once(timer, lambda: wbic(X, y, threads=1, **kw))
    assert r.stderr <= target
    # NumPy reference to the same standard error (same estimator, same adaptive rule)
    rn, t_np = _once(timer, lambda: wbic_reference(X, y, **kw))
    assert rn.stderr <= target
    print(f"\n[wbic one subset] n={n} stderr<={target}: C++ 1 thread {t_cpp*1e3:.0f} ms "
          f"({r.n_iter} it/chain), NumPy {t_np*1e3:.0f} ms ({rn.n_iter} it/chain); "
          f"WBIC {r.wbic:.3f}±{r.stderr:.3f} vs {rn.wbic:.3f}±{rn.stderr:.3f}")
    check_ratio("wbic_one_subset_vs_numpy", t_np / t_cpp)


def test_wbic_subset_search(quick, check_ratio, timer):
    n, p = (300, 20) if quick else (1000, 20)
    target = 0.3 if quick else 0.1
    X, y = _data(n, p, seed=2)
    subsets = [s for k in range(0, 5) for s in itertools.combinations(range(p), k)]
    assert len(subsets) == 6196  # 6,195 non-empty + the intercept-only model
    if quick:
        subsets = subsets[:: len(subsets) // 12][:12]
    r, dt = _once(timer, lambda: wbic_subsets(X, y, subsets, n_iter=64, burn_in=20, target_stderr=target,
                                              prune_above=15.0, seed=0))
    ran = ~r.pruned
    per = dt / max(1, ran.sum())
    print(f"\n[wbic search] {len(subsets)} subsets, n={n}, stderr<={target}: {dt:.1f} s on all cores; "
          f"{ran.sum()} sampled, {r.pruned.sum()} pruned by the Laplace prescreen (> 15 nats); "
          f"max stderr {np.nanmax(r.stderr):.3f}; {per * 1e3:.0f} ms per sampled subset")
    assert np.all(np.isfinite(r.wbic[ran])) and np.nanmax(r.stderr) <= target
    # NumPy reference on the best subset at the same standard error, for the ratio
    best = subsets[int(np.nanargmin(r.wbic))]
    _, t_np = _once(timer, lambda: wbic_reference(X[:, list(best)], y, n_iter=64, burn_in=20,
                                                  target_stderr=target, seed=0))
    check_ratio("wbic_search_per_subset_vs_numpy", t_np / per)


def test_wbic_one_subset_vs_pyro_nuts(quick, check_ratio, timer):
    """Same subset as test_wbic_one_subset_vs_numpy with Pyro NUTS on the tempered posterior
    (pyro.factor(beta * log-likelihood)); NUTS time is scaled to the same standard error."""
    import pytest

    if quick:
        pytest.skip("full mode only (Pyro NUTS takes about a minute)")
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import MCMC, NUTS

    n, target = 1000, 0.1
    X, y = _data(n, 4)
    beta = 1 / np.log(n)
    r, t_cpp = _once(timer, lambda: wbic(X, y, n_iter=64, burn_in=20, target_stderr=target, threads=1, seed=1))
    A = torch.tensor(np.hstack([np.ones((n, 1)), X]))
    yt = torch.tensor(y)

    def model():
        w = pyro.sample("w", dist.Normal(torch.zeros(5, dtype=torch.float64), 10.0**0.5).to_event(1))
        psi = A @ w
        pyro.factor("tempered_lik", beta * (yt * psi - torch.nn.functional.softplus(psi)).sum())

    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    torch.set_num_threads(1)
    mcmc = MCMC(NUTS(model), num_samples=1000, warmup_steps=300, disable_progbar=True)
    _, t_nuts = _once(timer, mcmc.run)
    ws = mcmc.get_samples()["w"].numpy()
    l = logistic_nll(A.numpy(), y, ws)
    se = batch_means_stderr(l[None, :])
    t_equiv = t_nuts * max(1.0, (se / target) ** 2)
    print(f"\n[wbic vs NUTS] C++ {t_cpp:.2f} s (stderr {r.stderr:.3f}); Pyro NUTS 1300 it {t_nuts:.1f} s, "
          f"WBIC {l.mean():.3f}±{se:.3f} (raw l, no control variate) -> {t_equiv:.1f} s at stderr {target}")
    assert abs(l.mean() - r.wbic) < 4 * np.hypot(se, r.stderr)
    check_ratio("wbic_one_subset_vs_pyro_nuts", t_equiv / t_cpp)
