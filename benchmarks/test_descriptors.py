"""Descriptor throughput (kernel `descriptors`): the compiled one-pass kernel vs its float64 NumPy
reference (`featurize_reference`), vs matminer's YangSolidSolution (δ and Ω only, per
composition, on a small sample, extrapolated), and the public API (`featurize` on a DataFrame of
element fractions, an (n, E) array with `elements=`, a CompositionBatch) vs the kernel on the same
fractions (`api_vs_kernel`: the API's throughput over the kernel's, same process, alternating runs).

Workload: random 5-element compositions of Al-Co-Cr-Fe-Ni (Dirichlet(1) fractions), all 16
descriptors with the default element table; 1 M compositions (quick mode: 50 k; 200 k for the API
ratios, where a fixed per-call cost would otherwise weigh more than in real use).
"""
from __future__ import annotations

import os
import time
import types

import numpy as np
import pytest

from hea_fast._backend import core
from hea_fast.composition import CompositionBatch
from hea_fast.elements import ElementTable
from hea_fast.features import featurize, featurize_array, featurize_reference

ELEMENTS = ("Al", "Co", "Cr", "Fe", "Ni")


@pytest.fixture(scope="module")
def workload():
    n = 50_000 if os.environ.get("HEA_FAST_BENCH_QUICK") else 1_000_000
    X = np.random.default_rng(2024).dirichlet(np.ones(len(ELEMENTS)), size=n)
    return types.SimpleNamespace(fractions=X, elements=ELEMENTS)


def _inputs(b):
    t = ElementTable.load("default")
    return t, t.property_matrix(b.elements), t.pair_matrix(b.elements)


def test_descriptors_kernel_vs_numpy(benchmark, workload, check_ratio, quick, timer, paired_best):
    t, props, H = _inputs(workload)
    X = workload.fractions
    n = len(X)
    threads = core.hardware_threads()
    rep = 3 if quick else 7
    t_kernel = timer(lambda: core.descriptors(X, props, H, t.gas_constant, threads=threads), repeat=rep)
    t_api = timer(lambda: featurize_array(workload), repeat=rep)
    t_one = timer(lambda: core.descriptors(X, props, H, t.gas_constant, threads=1), repeat=rep)
    t_ref = timer(lambda: featurize_reference(X, props, H, t.gas_constant), repeat=2, min_time=0.0)
    print(f"\n[descriptors] n={n} threads={threads}: kernel {n / t_kernel / 1e6:.2f} M comp/s, "
          f"featurize_array {n / t_api / 1e6:.2f} M comp/s, 1 thread {n / t_one / 1e6:.2f} M comp/s, "
          f"NumPy reference {n / t_ref / 1e6:.3f} M comp/s")
    # wall clock: recorded, not guarded (with two busy processes beside it the all-threads ratio fell from
    # 21 to 3.9, 2026-12-07)
    check_ratio("descriptors_kernel_vs_numpy_wall", t_ref / t_kernel)
    check_ratio("descriptors_kernel_1thread_vs_numpy_wall", t_ref / t_one)
    # one thread each, CPU time, alternating: what CI guards (the wall ratios above halve when another
    # process holds one of the two cores)
    from threadpoolctl import threadpool_limits

    sub = X[: min(n, 50_000)]
    with threadpool_limits(limits=1):  # the reference's BLAS calls on one thread too
        c_one, c_ref = paired_best([lambda: core.descriptors(sub, props, H, t.gas_constant, threads=1),
                                    lambda: featurize_reference(sub, props, H, t.gas_constant)], repeat=3,
                                   clock=time.process_time)
    check_ratio("descriptors_kernel_1thread_vs_numpy_cpu", c_ref / c_one)
    benchmark.extra_info.update(n=n, threads=threads, comps_per_s=n / t_kernel)
    benchmark(featurize_array, workload)


def test_descriptors_vs_matminer(workload, check_ratio, timer):
    alloy = pytest.importorskip("matminer.featurizers.composition.alloy")
    from pymatgen.core import Composition

    yss = alloy.YangSolidSolution()
    m = 200  # ~30 ms per pass: the same sample in quick and full mode
    comps = [Composition(dict(zip(ELEMENTS, row))) for row in workload.fractions[:m]]
    t_mm = timer(lambda: [yss.featurize(c) for c in comps], repeat=3, min_time=0.0) / m
    # hea_fast side on the same 50 k rows in both modes, so the recorded ratio means the same thing
    sub = types.SimpleNamespace(fractions=workload.fractions[:50_000], elements=ELEMENTS)
    t_k = timer(lambda: featurize_array(sub), repeat=5)
    per_comp = t_k / len(sub.fractions)
    print(f"\n[descriptors] matminer YangSolidSolution {1 / t_mm:.0f} comp/s (2 descriptors); "
          f"hea_fast {1 / per_comp / 1e6:.2f} M comp/s (16 descriptors)")
    check_ratio("descriptors_vs_matminer_yang", t_mm / per_comp)


@pytest.mark.skipif(os.environ.get("HEA_FAST_DISABLE_CUDA") is not None, reason="CUDA disabled")
def test_descriptors_cuda_throughput(workload, timer):
    from hea_fast._backend import cuda_available, cuda_status

    if not cuda_available():
        pytest.skip(f"no CUDA GPU: {cuda_status()}")
    t_gpu = timer(lambda: featurize_array(workload, device="cuda"), repeat=3)
    print(f"\n[descriptors] CUDA (incl. host<->device copies) {len(workload.fractions) / t_gpu / 1e6:.2f} M comp/s")


def test_featurize_api_vs_kernel(check_ratio, quick, paired_best):
    """`featurize` on each input kind reads the fractions in place (a DataFrame's columns, the array,
    the batch) and adds only a per-call cost to the kernel: target >= 0.7 of its throughput."""
    import pandas as pd

    n = 200_000 if quick else 1_000_000
    X = np.random.default_rng(7).dirichlet(np.ones(len(ELEMENTS)), size=n)
    t = ElementTable.load("default")
    props, H = t.property_matrix(ELEMENTS), t.pair_matrix(ELEMENTS)
    threads = core.hardware_threads()
    # a frame as read from a file: one float64 block (element-major), plus a text column
    frame = pd.DataFrame({"name": ["x"] * n, **{e: X[:, j].copy() for j, e in enumerate(ELEMENTS)}})
    batch = CompositionBatch.from_valid(X, ELEMENTS)
    kinds = {"dataframe": lambda: featurize(frame, threads=threads),
             "ndarray": lambda: featurize(X, elements=ELEMENTS, threads=threads),
             "batch": lambda: featurize(batch, threads=threads)}
    kernel = lambda: core.descriptors(X, props, H, t.gas_constant, threads=threads)  # noqa: E731
    np.testing.assert_array_equal(kinds["ndarray"]().to_numpy(), kernel())
    times = paired_best([kernel, *kinds.values()], repeat=5 if quick else 7)
    line = [f"kernel {n / times[0] / 1e6:.2f} M comp/s"]
    for (name, _), t_api in zip(kinds.items(), times[1:]):
        line.append(f"{name} {n / t_api / 1e6:.2f} M/s ({times[0] / t_api:.2f}x)")
        check_ratio(f"descriptors_api_vs_kernel_{name}", times[0] / t_api)
    print(f"\n[descriptors] n={n} threads={threads}: " + ", ".join(line))
