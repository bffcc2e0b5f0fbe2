"""Descriptor throughput: the compiled one-pass kernel vs its float64 NumPy reference and vs
matminer's YangSolidSolution (δ and Ω only, per composition, on a small sample, extrapolated).

Workload: random 5-element compositions of Al-Co-Cr-Fe-Ni (Dirichlet(1) fractions), all 16
descriptors with the default element table; 1 M compositions (quick mode: 50 k).
"""
from __future__ import annotations

import os
import types

import numpy as np
import pytest

from hea_fast._backend import core
from hea_fast.elements import ElementTable
from hea_fast.features import featurize_array, reference_descriptors


def _best_time():
    # pytest runs with --import-mode=importlib, so benchmarks/conftest.py is not importable by name.
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_hea_bench_conftest", Path(__file__).with_name("conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.best_time


best_time = _best_time()
ELEMENTS = ("Al", "Co", "Cr", "Fe", "Ni")


@pytest.fixture(scope="module")
def workload():
    quick = bool(os.environ.get("HEA_FAST_BENCH_QUICK"))
    n = 50_000 if quick else 1_000_000
    X = np.random.default_rng(2024).dirichlet(np.ones(len(ELEMENTS)), size=n)
    return types.SimpleNamespace(fractions=X, elements=ELEMENTS)


def _inputs(b):
    t = ElementTable.load("default")
    return t, t.property_matrix(b.elements), t.pair_matrix(b.elements)


def test_featurize_kernel_vs_numpy(benchmark, workload, check_ratio, quick):
    t, props, H = _inputs(workload)
    X = workload.fractions
    n = len(X)
    threads = core.hardware_threads()
    rep = 3 if quick else 7
    t_kernel = best_time(lambda: core.descriptors(X, props, H, t.gas_constant, threads=threads), repeat=rep)
    t_api = best_time(lambda: featurize_array(workload), repeat=rep)
    t_one = best_time(lambda: core.descriptors(X, props, H, t.gas_constant, threads=1), repeat=rep)
    t_ref = best_time(lambda: reference_descriptors(X, props, H, t.gas_constant), repeat=2, min_time=0.0)
    print(f"\n[featurize] n={n} threads={threads}: kernel {n / t_kernel / 1e6:.2f} M comp/s, "
          f"featurize_array {n / t_api / 1e6:.2f} M comp/s, 1 thread {n / t_one / 1e6:.2f} M comp/s, "
          f"NumPy reference {n / t_ref / 1e6:.3f} M comp/s")
    check_ratio("featurize_kernel_vs_numpy", t_ref / t_kernel)
    check_ratio("featurize_kernel_1thread_vs_numpy", t_ref / t_one)
    benchmark.extra_info.update(n=n, threads=threads, comps_per_s=n / t_kernel)
    benchmark(featurize_array, workload)


def test_featurize_vs_matminer(workload, check_ratio, quick):
    alloy = pytest.importorskip("matminer.featurizers.composition.alloy")
    from pymatgen.core import Composition

    yss = alloy.YangSolidSolution()
    m = 200  # ~30 ms per pass: the same sample in quick and full mode
    comps = [Composition(dict(zip(ELEMENTS, row))) for row in workload.fractions[:m]]
    t_mm = best_time(lambda: [yss.featurize(c) for c in comps], repeat=3, min_time=0.0) / m
    # hea_fast side on the same 50 k rows in both modes, so the recorded ratio means the same thing
    sub = types.SimpleNamespace(fractions=workload.fractions[:50_000], elements=ELEMENTS)
    t_k = best_time(lambda: featurize_array(sub), repeat=5)
    per_comp = t_k / len(sub.fractions)
    print(f"\n[featurize] matminer YangSolidSolution {1 / t_mm:.0f} comp/s (2 descriptors); "
          f"hea_fast {1 / per_comp / 1e6:.2f} M comp/s (16 descriptors)")
    check_ratio("featurize_vs_matminer_yang", t_mm / per_comp)


@pytest.mark.skipif(os.environ.get("HEA_FAST_DISABLE_CUDA") is not None, reason="CUDA disabled")
def test_featurize_cuda_throughput(workload):
    from hea_fast._backend import cuda_available, cuda_status

    if not cuda_available():
        pytest.skip(f"no CUDA GPU: {cuda_status()}")
    t_gpu = best_time(lambda: featurize_array(workload, device="cuda"), repeat=3)
    print(f"\n[featurize] CUDA (incl. host<->device copies) {len(workload.fractions) / t_gpu / 1e6:.2f} M comp/s")
