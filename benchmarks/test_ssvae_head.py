"""SSVAE classifier-head kernel (hea_fast.ssvae.head, csrc/cpu/ssvae_head_cpu.cpp) against the torch
model it replaces, same process. Ratios: benchmarks/baselines/ssvae_head.json; runs:
benchmarks/results/ssvae_head.md.

* ssvae_head_rows_vs_torch: P(single phase) of descriptor rows, the kernel (float32, all threads)
  vs `SSVAE.classifier_prob` (torch float32, its default threads), wall clock;
  ssvae_head_rows_vs_torch_cpu: the same in process CPU time (all threads summed: the work each
  side does, which other jobs on a shared machine disturb least);
* ssvae_screen_cpp_vs_torch: `hea_fast.screen.screen(space, SSVAEScorer(model))` over a lattice, the
  C++ path (`lattice_columns`: ranks -> zeng2024 descriptors -> head in one pass) vs the previous
  torch path (`SSVAEScorer(engine="torch")`: decode, featurize, torch), both on the same ranks (the
  first 200,000; full mode 1,000,000), same top rows (to float32 rounding), alternating, best of 3,
  compositions/s on the wall clock (default threads each); ssvae_screen_cpp_vs_torch_cpu: one thread
  each (`threads=1`, torch.set_num_threads(1)), compositions per CPU-second. Before 2026-12-07 the
  C++ path scored 5 chunks against torch's 1 (full: all 65 against 3), one run each, and the CPU
  ratio set torch's 2-thread CPU time against the C++ path's.

The model is an untrained SSVAE of the released architecture (8 -> 100 -> 100 -> 1, standardised
inputs), so the benchmark runs without the data home; speed does not depend on the weights.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from hea_fast.screen import CompositionSpace, SSVAEScorer, screen
from hea_fast.screen.spaces import DEFAULT_PALETTE
from hea_fast.ssvae.head import ssvae_head
from hea_fast.ssvae.model import SSVAE, SSVAEConfig


def _model():
    torch.manual_seed(0)
    mean = [200.0, 10.0, 2000.0, 6.0, 5.0, 0.2, 12.0, -10.0]
    std = [50.0, 2.0, 400.0, 2.0, 2.0, 0.1, 2.0, 8.0]
    m = SSVAE(SSVAEConfig(feature_mean=mean, feature_std=std))
    for lin in m.encoder_y.linears:
        torch.nn.init.normal_(lin.weight, 0.0, 1.5 / lin.in_features**0.5)
    return m.eval(), np.array(mean), np.array(std)


def test_ssvae_head_rows_vs_torch(quick, check_ratio, timer):
    m, mean, std = _model()
    n = 100_000 if quick else 1_000_000
    e = mean + std * np.random.default_rng(0).normal(size=(n, 8))

    def torch_path():
        with torch.no_grad():
            return m.classifier_prob(torch.as_tensor(e.astype(np.float32)))[:, 0].numpy()

    np.testing.assert_allclose(ssvae_head(m, e), torch_path(), atol=5e-6)
    t_k = timer(lambda: ssvae_head(m, e), repeat=3, min_time=0.0)
    t_t = timer(torch_path, repeat=3, min_time=0.0)
    c_k = timer(lambda: ssvae_head(m, e), repeat=3, min_time=0.0, clock=time.process_time)
    c_t = timer(torch_path, repeat=3, min_time=0.0, clock=time.process_time)
    print(f"\nhead on {n:,} rows, load average {os.getloadavg()[0]:.1f}: kernel {n / t_k / 1e6:.2f} M rows/s, "
          f"torch ({torch.get_num_threads()} threads) {n / t_t / 1e6:.2f} M rows/s; per CPU-second "
          f"{n / c_k / 1e6:.2f} vs {n / c_t / 1e6:.2f} M rows")
    check_ratio("ssvae_head_rows_vs_torch", t_t / t_k)
    check_ratio("ssvae_head_rows_vs_torch_cpu", c_t / c_k)


def test_ssvae_screen_cpp_vs_torch(quick, check_ratio, paired_best):
    from threadpoolctl import threadpool_limits

    m, _, _ = _model()
    space = CompositionSpace(DEFAULT_PALETTE, n_elements=(4, 5), step_percent=5)  # 12.96 M compositions
    chunks = 1 if quick else 5  # both paths score the same ranks: the first `chunks` chunks of 200,000
    screen(space, SSVAEScorer(m), top_k=100, progress=False, max_chunks=1)  # first calls: tables, caches
    screen(space, SSVAEScorer(m, engine="torch"), top_k=100, progress=False, max_chunks=1)
    res = {}

    def run(engine, threads=None):
        r = screen(space, SSVAEScorer(m, engine=engine), top_k=100, progress=False, max_chunks=chunks,
                   threads=threads)
        res[engine] = r

    t_cpp, t_old = paired_best([lambda: run("cpp"), lambda: run("torch")], repeat=3)
    r_cpp, r_old = res["cpp"], res["torch"]
    assert r_cpp.n_scored == r_old.n_scored and r_cpp.n_passing == r_old.n_passing
    a, b = r_cpp.top, r_old.top
    name = SSVAEScorer(m).name
    np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-5)  # float32 rounding (~5e-6)
    assert len(set(a["lattice_index"]) & set(b["lattice_index"])) >= 0.9 * len(a)  # but where scores tie
    n = r_cpp.n_scored
    # one thread each, CPU time, alternating: the C++ path with threads=1, torch with set_num_threads(1)
    # (restored after), BLAS on one thread; the torch path's zeng2024 featurization (a C++ call in
    # `design.screen`) runs at its default threads whatever `threads` says
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            c_cpp, c_old = paired_best([lambda: run("cpp", 1), lambda: run("torch", 1)], repeat=3,
                                       clock=time.process_time)
    finally:
        torch.set_num_threads(prev)
    print(f"\nscreen(CompositionSpace(15 elements, 4-5 components, 5 %), SSVAEScorer), the same {n:,} ranks, "
          f"load average {os.getloadavg()[0]:.1f}: C++ {n / t_cpp / 1e6:.2f} M compositions/s wall, torch path "
          f"({prev} threads) {n / t_old / 1e6:.3f} M/s; one thread each, per CPU-second {n / c_cpp / 1e6:.2f} vs "
          f"{n / c_old / 1e6:.3f} M; top-100 scores max |diff| {np.abs(a[name].to_numpy() - b[name].to_numpy()).max():.1e}")
    check_ratio("ssvae_screen_cpp_vs_torch", t_old / t_cpp)
    check_ratio("ssvae_screen_cpp_vs_torch_cpu", c_old / c_cpp)
