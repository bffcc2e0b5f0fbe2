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
  ``wbic_search_vs_numpy_exact_pg_cpu`` (recorded, not guarded): the same runs' process CPU time
  (the C++ side summed over its threads);
* ``wbic_one_subset_vs_pyro_nuts_cross_algorithm`` (full mode only): Pyro NUTS on the same tempered
  posterior. A different algorithm: NUTS has no conditionally Gaussian step, so it cannot use the
  control variate and needs (Var l / Var z) times more draws for the same standard error; the test
  measures that factor on the same data and prints the ratio with and without it.

The two sides of each ratio are called alternately (`paired_best`: a burst of load on the shared
machine hits both alike), on the same data with the same settings, and the benchmark asserts that
their WBIC agree. The NumPy exact sampler computes its envelope constant once per PG shape and
caches it (the C++ computes it once per model, about 40 us); until 2026-12-07 it recomputed it
(2-5 ms in Python) on every Gibbs iteration, which inflated both ratios 5-10x
(benchmarks/results/wbic.md).

The PG sampler alone: benchmarks/test_polyagamma.py. Quick mode (CI): small n, loose stderr,
few subsets."""
from __future__ import annotations

import importlib.util
import itertools
import time
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
    return mod


@pytest.fixture
def exact_pg(monkeypatch):
    """The NumPy reference with its PG step drawn exactly (the compiled sampler's algorithm)."""
    mod = _pg_exact()
    monkeypatch.setattr(WR, "sample_polyagamma_reference", mod.sample_polyagamma_exact_numpy)
    return mod


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


def test_wbic_one_subset_vs_numpy(quick, check_ratio, paired_best, exact_pg):
    n, target = (300, 0.3) if quick else (1000, 0.1)
    X, y = _data(n, 4)
    kw = dict(n_iter=64, burn_in=20, target_stderr=target, seed=1)
    res = {}
    # process CPU time, one thread each, the two sides alternating (best of 3)
    t_cpp, t_np = paired_best(
        [lambda: res.__setitem__("cpp", wbic(X, y, threads=1, **kw)),
         lambda: res.__setitem__("np", wbic_reference(X, y, **kw))],
        repeat=3, clock=time.process_time)
    r, rn = res["cpp"], res["np"]
    assert r.stderr <= target and rn.stderr <= target
    assert abs(r.wbic - rn.wbic) < 4 * np.hypot(r.stderr, rn.stderr)
    it_cpp, it_np = r.n_chains * (r.n_iter + 20), rn.n_chains * (rn.n_iter + 20)  # Gibbs sweeps incl. burn-in
    print(f"\n[wbic one subset] n={n} stderr<={target}, CPU time (best of 3, alternated): C++ 1 thread "
          f"{t_cpp*1e3:.1f} ms ({r.n_iter} it/chain, {t_cpp/it_cpp*1e6:.0f} us/sweep), NumPy exact-PG Gibbs with "
          f"the same control variate {t_np*1e3:.1f} ms ({rn.n_iter} it/chain, {t_np/it_np*1e6:.0f} us/sweep; "
          f"per sweep {t_np/it_np/(t_cpp/it_cpp):.1f}x); WBIC {r.wbic:.3f}±{r.stderr:.3f} vs {rn.wbic:.3f}±{rn.stderr:.3f}; "
          f"control variate saves {_cv_factor(X, y):.1f}x draws here")
    check_ratio("wbic_one_subset_vs_numpy_exact_pg", t_np / t_cpp)


def test_wbic_subset_search(quick, check_ratio, paired_best, exact_pg):
    n, p = (300, 20) if quick else (1000, 20)
    target = 0.3 if quick else 0.1
    X, y = _data(n, p, seed=2)
    subsets = [s for k in range(0, 5) for s in itertools.combinations(range(p), k)]
    assert len(subsets) == 6196  # 6,195 non-empty + the intercept-only model
    if quick:
        subsets = subsets[:: len(subsets) // 12][:12]
    kw = dict(n_iter=64, burn_in=20, target_stderr=target, prune_above=15.0, seed=0)
    res, cpu = {}, {"cpp": np.inf, "np": np.inf}

    def side(key, fn):
        def call():
            c0 = time.process_time()
            res[key] = fn()
            cpu[key] = min(cpu[key], time.process_time() - c0)  # all threads of the process
        return call

    # wall time, C++ on all cores, NumPy (one thread), alternating; best of 3 (quick) or 2 (full)
    dt, dt_np = paired_best([side("cpp", lambda: wbic_subsets(X, y, subsets, **kw)),
                             side("np", lambda: wbic_subsets_reference(X, y, subsets, **kw))],
                            repeat=3 if quick else 2)
    r, rn = res["cpp"], res["np"]
    ran = ~r.pruned
    print(f"\n[wbic search] {len(subsets)} subsets, n={n}, stderr<={target}: C++ {dt:.3f} s wall on all cores "
          f"({cpu['cpp']:.3f} s CPU); {ran.sum()} sampled, {r.pruned.sum()} pruned by the Laplace prescreen "
          f"(> 15 nats); max stderr {np.nanmax(r.stderr):.3f}")
    assert np.all(np.isfinite(r.wbic[ran])) and np.nanmax(r.stderr) <= target
    both = ran & ~rn.pruned
    assert both.sum() >= max(1, ran.sum() - 2)  # same prescreen up to borderline subsets
    z = (r.wbic[both] - rn.wbic[both]) / np.hypot(r.stderr[both], rn.stderr[both])
    assert np.all(np.abs(z) < 5), z
    print(f"  NumPy exact-PG reference, same subsets and rules: {dt_np:.3f} s wall ({cpu['np']:.3f} s CPU; "
          f"{(~rn.pruned).sum()} sampled); max |z| of the {both.sum()} subsets both sampled {np.max(np.abs(z)):.2f}")
    check_ratio("wbic_search_vs_numpy_exact_pg", dt_np / dt)
    check_ratio("wbic_search_vs_numpy_exact_pg_cpu", cpu["np"] / cpu["cpp"])  # record only (no baseline)


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
