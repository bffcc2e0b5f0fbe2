"""WBIC benchmarks (kernel: csrc/cpu/wbic_cpu.cpp, hea_fast.mixture.wbic; reference:
hea_fast.mixture.wbic_reference).

Like with like: each ratio's reference runs the same algorithm as the kernel, the tempered
Pólya-Gamma Gibbs sampler with the same control variate, the same start (tempered mode), the same
batch-means stopping rule and an exact PG sampler. The library's NumPy reference draws PG by a
gamma series truncated at 100 terms; here its PG step is swapped (monkeypatch) for
benchmarks/pg_exact_numpy.py, a NumPy transcription of the compiled exact sampler. Ratios:

* ``wbic_one_subset_vs_numpy_exact_pg``: one subset (n = 1000, 4 features, stderr <= 0.1), process
  CPU time, C++ on 1 thread;
* ``wbic_search_vs_numpy_exact_pg``: a subset search with the Laplace prescreen, C++
  (`wbic_subsets`, all cores) against `wbic_subsets_reference` on the same subsets, prune rule and
  target, wall time (full mode: all 6,196 subsets of size <= 4 of 20 candidates, n = 1000);
* ``wbic_one_subset_vs_pyro_nuts_cross_algorithm`` (full mode only): Pyro NUTS on the same tempered
  posterior. A different algorithm: NUTS has no conditionally Gaussian step, so it cannot use the
  control variate and needs (Var l / Var z) times more draws for the same standard error; the test
  measures that factor on the same data and prints the ratio with and without it.

The PG sampler alone: benchmarks/test_polyagamma.py. Quick mode (CI): small n, loose stderr,
few subsets."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from hea_fast.mixture import wbic_reference as WR
from hea_fast.mixture.diagnostics import batch_means_stderr
from hea_fast.mixture.wbic import wbic, wbic_subsets
from hea_fast.mixture.wbic_reference import logistic_nll, wbic_reference, wbic_subsets_reference


def _pg_exact():
    spec = importlib.util.spec_from_file_location("pg_exact_numpy", Path(__file__).with_name("pg_exact_numpy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.sample_polyagamma_exact_numpy


@pytest.fixture
def exact_pg(monkeypatch):
    """The NumPy reference with its PG step drawn exactly (the compiled sampler's algorithm)."""
    monkeypatch.setattr(WR, "sample_polyagamma_reference", _pg_exact())


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


def _cv_factor(X, y, n_iter=400, seed=5):
    """Var(raw l) / Var(control-variate z) of the batch-means standard error on the same chains:
    how many times more draws an estimator without the control variate needs."""
    A = np.hstack([np.ones((X.shape[0], 1)), X])
    beta = 1 / np.log(X.shape[0])
    w_hat, g, H = WR.tempered_mode(A, y, beta, 10.0)
    out = WR.gibbs_reference(A, y, beta, 10.0, n_iter, 20, 4, np.random.default_rng(seed), w0=w_hat, cv=(w_hat, g, H))
    return (batch_means_stderr(out["l"]) / batch_means_stderr(out["z"])) ** 2


def test_wbic_one_subset_vs_numpy(quick, check_ratio, cpu_time, exact_pg):
    n, target = (300, 0.3) if quick else (1000, 0.1)
    X, y = _data(n, 4)
    kw = dict(n_iter=64, burn_in=20, target_stderr=target, seed=1)
    res = {}
    t_cpp = cpu_time(lambda: res.__setitem__("cpp", wbic(X, y, threads=1, **kw)), repeat=2)
    t_np = cpu_time(lambda: res.__setitem__("np", wbic_reference(X, y, **kw)), repeat=1)
    r, rn = res["cpp"], res["np"]
    assert r.stderr <= target and rn.stderr <= target
    assert abs(r.wbic - rn.wbic) < 4 * np.hypot(r.stderr, rn.stderr)
    print(f"\n[wbic one subset] n={n} stderr<={target}, CPU time: C++ 1 thread {t_cpp*1e3:.0f} ms ({r.n_iter} it/chain), "
          f"NumPy exact-PG Gibbs with the same control variate {t_np*1e3:.0f} ms ({rn.n_iter} it/chain); "
          f"WBIC {r.wbic:.3f}±{r.stderr:.3f} vs {rn.wbic:.3f}±{rn.stderr:.3f}; control variate saves "
          f"{_cv_factor(X, y):.1f}x draws here")
    check_ratio("wbic_one_subset_vs_numpy_exact_pg", t_np / t_cpp)


def test_wbic_subset_search(quick, check_ratio, timer, exact_pg):
    n, p = (300, 20) if quick else (1000, 20)
    target = 0.3 if quick else 0.1
    X, y = _data(n, p, seed=2)
    subsets = [s for k in range(0, 5) for s in itertools.combinations(range(p), k)]
    assert len(subsets) == 6196  # 6,195 non-empty + the intercept-only model
    if quick:
        subsets = subsets[:: len(subsets) // 12][:12]
    kw = dict(n_iter=64, burn_in=20, target_stderr=target, prune_above=15.0, seed=0)
    r, dt = _once(timer, lambda: wbic_subsets(X, y, subsets, **kw))
    ran = ~r.pruned
    print(f"\n[wbic search] {len(subsets)} subsets, n={n}, stderr<={target}: C++ {dt:.2f} s on all cores; "
          f"{ran.sum()} sampled, {r.pruned.sum()} pruned by the Laplace prescreen (> 15 nats); "
          f"max stderr {np.nanmax(r.stderr):.3f}")
    assert np.all(np.isfinite(r.wbic[ran])) and np.nanmax(r.stderr) <= target
    rn, dt_np = _once(timer, lambda: wbic_subsets_reference(X, y, subsets, **kw))
    both = ran & ~rn.pruned
    assert both.sum() >= max(1, ran.sum() - 2)  # same prescreen up to borderline subsets
    z = (r.wbic[both] - rn.wbic[both]) / np.hypot(r.stderr[both], rn.stderr[both])
    assert np.all(np.abs(z) < 5), z
    print(f"  NumPy exact-PG reference, same subsets and rules: {dt_np:.2f} s ({(~rn.pruned).sum()} sampled)")
    check_ratio("wbic_search_vs_numpy_exact_pg", dt_np / dt)


def test_wbic_one_subset_vs_pyro_nuts(quick, check_ratio, timer):
    """Cross-algorithm: Pyro NUTS on the tempered posterior (pyro.factor(beta * log-likelihood)),
    its time scaled to the same standard error. NUTS averages the raw l(w) (no control variate)."""
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
    f = _cv_factor(X, y)
    print(f"\n[wbic vs NUTS, cross-algorithm] C++ {t_cpp:.2f} s (stderr {r.stderr:.3f}); Pyro NUTS 1300 it "
          f"{t_nuts:.1f} s, WBIC {l.mean():.3f}±{se:.3f} (raw l, no control variate) -> {t_equiv:.1f} s at stderr "
          f"{target}: ratio {t_equiv / t_cpp:.0f}; the control variate alone saves {f:.1f}x draws, so against "
          f"PG-Gibbs without it the ratio would be about {t_equiv / t_cpp / f:.0f}")
    assert abs(l.mean() - r.wbic) < 4 * np.hypot(se, r.stderr)
    check_ratio("wbic_one_subset_vs_pyro_nuts_cross_algorithm", t_equiv / t_cpp)
