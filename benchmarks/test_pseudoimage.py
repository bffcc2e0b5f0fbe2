"""Pseudo-image kernel (hea_fast.xyield.pseudoimage): C++ kernel vs the vectorized NumPy reference
`pseudo_images_reference`, same run. Ratios: benchmarks/baselines/pseudoimage.json; runs:
benchmarks/results/pseudoimage.md."""
from __future__ import annotations


import numpy as np

from hea_fast.composition import CompositionBatch
from hea_fast.xyield.pseudoimage import pseudo_images, pseudo_images_reference

PAL = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")


def test_pseudo_images_vs_numpy(benchmark, quick, check_ratio, timer, cpu_time):
    n = 20_000 if quick else 200_000
    rng = np.random.default_rng(0)
    frac = rng.dirichlet(np.ones(len(PAL)), size=n)
    T = rng.uniform(300, 2500, size=n)
    out = benchmark(lambda: pseudo_images(frac, T, elements=PAL))
    np.testing.assert_array_equal(out, pseudo_images_reference(frac, T, elements=PAL))
    t_k = timer(lambda: pseudo_images(frac, T, elements=PAL), repeat=3, min_time=0.0)
    t_np = timer(lambda: pseudo_images_reference(frac, T, elements=PAL), repeat=3, min_time=0.0)
    print(f"\nkernel {n / t_k / 1e6:.2f} M images/s, numpy {n / t_np / 1e6:.2f} M images/s")
    # recorded only: the 2-thread wall-time ratio swings 0.4-1.7 on a loaded 2-core machine (the
    # scatter is memory-bound and the kernel's second thread competes with the load)
    check_ratio("pseudoimage_vs_numpy_wall", t_np / t_k)
    # CI floor: like for like, one thread each, CPU time (insensitive to other processes' load), on
    # an already validated batch so that both sides time the image construction, not the input
    # coercion (an (n, E) array is copied and normalised by hea_fast.composition.as_batch)
    batch = CompositionBatch(frac, PAL)
    c_k = cpu_time(lambda: pseudo_images(batch, T, threads=1), repeat=5)
    c_np = cpu_time(lambda: pseudo_images_reference(batch, T), repeat=5)
    check_ratio("pseudoimage_kernel_vs_numpy_1thread_cpu", c_np / c_k)
