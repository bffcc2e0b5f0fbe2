"""Pólya-Gamma sampler benchmark (kernel: csrc/cpu/polyagamma_cpu.cpp, hea_fast.mixture.polyagamma):
exact compiled PG(b, c) draws at the tempered-Gibbs shape b = 1/log 1000 vs the NumPy truncated-series
reference (`sample_polyagamma_reference`), 1 thread each, in the same run."""
from __future__ import annotations

import numpy as np

from hea_fast._backend import core
from hea_fast.mixture.polyagamma import sample_polyagamma_reference


def test_pg_sampler_vs_numpy_reference(quick, check_ratio, timer):
    """Exact compiled PG(b, c) draws vs the NumPy truncated-series reference (1 thread each)."""
    m = 20_000 if quick else 200_000
    b = np.full(m, 1 / np.log(1000.0))
    c = np.random.default_rng(0).normal(0, 2, m)
    t_cpp = timer(lambda: core.polyagamma(b, c, seed=1, threads=1), repeat=3, min_time=0.0)
    t_np = timer(lambda: sample_polyagamma_reference(b, c, 1), repeat=3, min_time=0.0)
    print(f"\n[pg] {m} draws b=1/log 1000: C++ {t_cpp / m * 1e9:.0f} ns/draw, NumPy reference {t_np / m * 1e9:.0f} ns/draw")
    check_ratio("pg_exact_vs_numpy_reference", t_np / t_cpp)
