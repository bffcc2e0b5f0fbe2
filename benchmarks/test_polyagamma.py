"""Pólya-Gamma sampler benchmark (kernel: csrc/cpu/polyagamma_cpu.cpp, hea_fast.mixture.polyagamma):
PG(b, c) draws at the tempered-Gibbs shape b = 1/log 1000, c ~ N(0, 2^2), 1 thread each, same run.

* ``pg_exact_vs_numpy_exact`` (like with like): the compiled exact sampler against the same
  algorithm in NumPy (benchmarks/pg_exact_numpy.py: inverse-Gaussian proposal, alternating-series
  acceptance, vectorised over draws). Both samplers' moments are checked against the closed forms.
* ``pg_exact_vs_numpy_truncated_k100``: against the library's reference
  `sample_polyagamma_reference` (gamma series truncated at K = 100 terms + a moment-matched gamma
  remainder: approximate, and 100 gamma draws per PG draw), a different algorithm.

The three samplers are timed alternately (`paired_best`, process CPU time, best of 3) on the same
(b, c), and the draws of each timed call are checked against the closed-form mean of PG(b, c_i).
The NumPy exact sampler's envelope constant (t, Kp) is cached per shape b (the C++ computes it once
per call, about 40 us); until 2026-12-07 it was recomputed (2-5 ms in Python) on every call,
which inflated `pg_exact_vs_numpy_exact` at 20,000 draws (benchmarks/results/polyagamma.md).
Alternation also means the NumPy exact sampler runs after the truncated one has freed its large
arrays, which raises glibc's mmap/trim thresholds: its temporaries then come from a warm heap
(no page faults), 30-40 % faster than in a fresh process; the ratio is the NumPy side's best case."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from hea_fast._backend import core
from hea_fast.mixture.polyagamma import pg_mean, pg_var, sample_polyagamma_reference


def _pg_exact():
    spec = importlib.util.spec_from_file_location("pg_exact_numpy", Path(__file__).with_name("pg_exact_numpy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.sample_polyagamma_exact_numpy


def _check_moments(x, b, c, what):
    """Sample mean and variance of PG(b, c) draws against the closed forms (z-scores < 5)."""
    m = x.size
    mean, var = pg_mean(b, c), pg_var(b, c)
    z_mean = (x.mean() - mean) / np.sqrt(var / m)
    # Var of the sample variance ~ (mu4 - var^2)/m; bound mu4 by the sample's fourth central moment
    mu4 = np.mean((x - x.mean()) ** 4)
    z_var = (x.var() - var) / np.sqrt(max(mu4 - var**2, 1e-300) / m)
    assert abs(z_mean) < 5 and abs(z_var) < 5, (what, b, c, z_mean, z_var)


def _check_mean(x, b, c, what):
    """Mean of draws x_i ~ PG(b, c_i) (c varying) against the closed form (z-score < 5)."""
    mean, sd = pg_mean(b, c).mean(), np.sqrt(pg_var(b, c).sum()) / x.size
    assert abs(x.mean() - mean) < 5 * sd, (what, x.mean(), mean, sd)


def test_pg_sampler_vs_numpy_reference(quick, check_ratio, paired_best):
    exact_np = _pg_exact()
    m = 20_000 if quick else 200_000
    b = np.full(m, 1 / np.log(1000.0))
    c = np.random.default_rng(0).normal(0, 2, m)
    # correctness at fixed tilts: both exact samplers draw PG(b, c) (this also fills the NumPy
    # sampler's envelope cache for this b, as the C++ computes its envelope before its draws)
    for cc in (0.0, 0.5, 3.0):
        bb, cv = np.full(m, b[0]), np.full(m, cc)
        _check_moments(np.asarray(core.polyagamma(bb, cv, seed=2, threads=1)), b[0], cc, "C++")
        _check_moments(exact_np(bb, cv, 2), b[0], cc, "NumPy exact")
    out = {}
    t_cpp, t_ex, t_tr = paired_best(
        [lambda: out.__setitem__("C++", np.asarray(core.polyagamma(b, c, seed=1, threads=1))),
         lambda: out.__setitem__("NumPy exact", exact_np(b, c, 1)),
         lambda: out.__setitem__("NumPy truncated K=100", sample_polyagamma_reference(b, c, 1))],
        repeat=3, clock=time.process_time)
    for what, x in out.items():  # the timed calls drew PG(b, c_i) on the same (b, c)
        _check_mean(x, b, c, what)
    print(f"\n[pg] {m} draws b=1/log 1000, CPU time (best of 3, alternated): C++ exact {t_cpp / m * 1e9:.0f} ns/draw, "
          f"NumPy exact (same algorithm) {t_ex / m * 1e9:.0f} ns/draw, NumPy series truncated at K = 100 terms "
          f"{t_tr / m * 1e9:.0f} ns/draw")
    check_ratio("pg_exact_vs_numpy_exact", t_ex / t_cpp)
    check_ratio("pg_exact_vs_numpy_truncated_k100", t_tr / t_cpp)
