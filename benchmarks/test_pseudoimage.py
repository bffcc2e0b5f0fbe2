"""Pseudo-image kernel (hea_fast.xyield.pseudoimage): C++ kernel vs the vectorized NumPy reference
`pseudo_images_reference`, same run. Ratios: benchmarks/baselines/pseudoimage.json; runs:
benchmarks/results/pseudoimage.md.

Three ratios, all guarded (a third of the baseline is the CI floor):
* pseudoimage_vs_numpy_wall: the public functions on the same (n, E) array of amounts, wall clock,
  the kernel on 2 threads: what a user sees (both sides pay the same input coercion,
  hea_fast.composition.as_batch);
* pseudoimage_batch_vs_numpy_wall: the same on an already validated CompositionBatch, so both sides
  time the image construction only;
* pseudoimage_kernel_vs_numpy_1thread_cpu: one thread each, CPU time (what other processes on a
  shared machine disturb least).
"""
from __future__ import annotations

import os
import time

import numpy as np

from hea_fast.composition import CompositionBatch
from hea_fast.xyield.pseudoimage import pseudo_images, pseudo_images_reference

PAL = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")


def test_pseudo_images_vs_numpy(benchmark, quick, check_ratio, paired_best):
    n = 20_000 if quick else 200_000
    rng = np.random.default_rng(0)
    frac = rng.dirichlet(np.ones(len(PAL)), size=n)
    T = rng.uniform(300, 2500, size=n)
    out = benchmark(lambda: pseudo_images(frac, T, elements=PAL, threads=2))
    np.testing.assert_array_equal(out, pseudo_images_reference(frac, T, elements=PAL))
    batch = CompositionBatch(frac, PAL)
    # kernel and reference alternate (a burst of load, or of page faults from another process's
    # allocations, hits both alike); the time of one call includes allocating its 26 MB (quick) output
    rounds = 15 if quick else 7
    t_k, t_np, b_k, b_np = paired_best([lambda: pseudo_images(frac, T, elements=PAL, threads=2),
                                        lambda: pseudo_images_reference(frac, T, elements=PAL),
                                        lambda: pseudo_images(batch, T, threads=2),
                                        lambda: pseudo_images_reference(batch, T)], repeat=rounds)
    load = os.getloadavg()[0]
    print(f"\n{n:,} images, load average {load:.1f}: public kernel (2 threads) {n / t_k / 1e6:.2f} M images/s, "
          f"numpy {n / t_np / 1e6:.2f} M/s; on a validated batch {n / b_k / 1e6:.2f} vs {n / b_np / 1e6:.2f} M/s")
    check_ratio("pseudoimage_vs_numpy_wall", t_np / t_k)
    check_ratio("pseudoimage_batch_vs_numpy_wall", b_np / b_k)
    c_k, c_np = paired_best([lambda: pseudo_images(batch, T, threads=1), lambda: pseudo_images_reference(batch, T)],
                            repeat=rounds, clock=time.process_time)
    check_ratio("pseudoimage_kernel_vs_numpy_1thread_cpu", c_np / c_k)
