"""Pseudo-image construction: C++ kernel vs the vectorized NumPy reference, same run."""
from __future__ import annotations

import time

import numpy as np

from hea_fast.xyield.pseudoimage import _pseudo_images_numpy, layout_cells, pseudo_images



def best_time(fn, repeat=3):
    """Best of `repeat` wall times (benchmarks/conftest.py is not importable under importlib mode)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


PAL = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")


def test_pseudo_images_vs_numpy(benchmark, quick, check_ratio):
    n = 20_000 if quick else 200_000
    rng = np.random.default_rng(0)
    frac = rng.dirichlet(np.ones(len(PAL)), size=n)
    T = rng.uniform(300, 2500, size=n)
    cells = layout_cells(PAL, "rptr")
    out = benchmark(lambda: pseudo_images(frac, T, elements=PAL))
    np.testing.assert_array_equal(out, _pseudo_images_numpy(frac, T, cells))
    t_k = best_time(lambda: pseudo_images(frac, T, elements=PAL), repeat=3)
    t_np = best_time(lambda: _pseudo_images_numpy(frac, T, cells), repeat=3)
    print(f"\nkernel {n / t_k / 1e6:.2f} M images/s, numpy {n / t_np / 1e6:.2f} M images/s")
    check_ratio("pseudo_images_vs_numpy", t_np / t_k)
