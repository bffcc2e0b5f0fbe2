"""GPU figures for benchmarks/RESULTS.md (issue 9), run on a lent GPU machine by
scripts/device_check.sh; `--device cpu` runs the same code paths on the CPU only (a smoke test
that needs no GPU).

Each figure is measured on the GPU and on the CPU in the same process (CPU on a smaller sample,
per-item rate), and set against the floor that memory bandwidth implies (bytes each item must
read and write at least, divided by the peak bandwidth given with --bandwidth-tbs).

    python scripts/device_bench.py --out gpu_bench.json            # on the GPU machine
    python scripts/device_bench.py --device cpu --small             # anywhere
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from hea_fast.screen import DEFAULT_PALETTE


def _sync(device):
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def best_time(fn, device, repeat=3):
    fn()  # warm-up (allocations, module loads, first-launch costs)
    _sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def random_compositions(n, n_palette=15, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, n_palette))
    cols = np.argsort(rng.random((n, n_palette)), axis=1)[:, :k]
    np.put_along_axis(X, cols, rng.dirichlet(np.ones(k), size=n), axis=1)
    return X


PALETTE = DEFAULT_PALETTE  # the 15 usual HEA metals


def bench_descriptors(device, n_gpu, n_cpu, bw):
    from hea_fast._backend import core
    from hea_fast.features import DESCRIPTORS, prepare, resolve

    _, names, tab = resolve(None, None)
    X = random_compositions(max(n_gpu, n_cpu) if device == "cpu" else n_cpu)
    props, H = prepare(X, PALETTE, names, tab)
    t_cpu = best_time(lambda: core.descriptors(X[:n_cpu], props, H, tab.gas_constant, tab.log_offset), "cpu")
    res = {"cpu_per_s": n_cpu / t_cpu, "n_cpu": n_cpu}
    bytes_per = 8 * (X.shape[1] + len(DESCRIPTORS))
    res["floor_per_s"] = bw * 1e12 / bytes_per
    res["bytes_per_item"] = bytes_per
    if device == "cuda":
        import torch

        from hea_fast._backend import cuda_empty, cuda_module, cuda_stream, to_cuda

        cu = cuda_module()
        xt, pt, ht = to_cuda(random_compositions(n_gpu, seed=1)), to_cuda(props), to_cuda(H)
        out = cuda_empty((n_gpu, len(DESCRIPTORS)), torch.float64, xt.device)
        s = cuda_stream()
        t = best_time(lambda: cu.descriptors(xt.data_ptr(), n_gpu, xt.shape[1], pt.data_ptr(), ht.data_ptr(),
                                             tab.gas_constant, tab.log_offset, out.data_ptr(), s), "cuda")
        res.update(gpu_per_s=n_gpu / t, n_gpu=n_gpu)
        # parity on a sample of the GPU rows (the tests do this thoroughly; this guards the figure)
        ref = core.descriptors(xt[:1000].cpu().numpy(), props, H, tab.gas_constant, tab.log_offset)
        res["max_rel_err_vs_cpu"] = float(np.nanmax(np.abs(out[:1000].cpu().numpy() - ref) /
                                                    np.maximum(np.abs(ref), 1e-300)))
    return res


def bench_wbic(device, n_subsets_gpu, n_subsets_cpu, M=20, n=1000, seed=0):
    from hea_fast.mixture.wbic import wbic_subsets

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, M))
    w = np.zeros(M)
    w[:4] = [1.5, -1.0, 0.7, 0.4]
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w)))).astype(np.int64)
    masks = rng.integers(1, 2 ** M, size=max(n_subsets_gpu, n_subsets_cpu))  # uniform over the 2^M subsets
    subsets = [tuple(int(j) for j in range(M) if (m >> j) & 1) for m in masks]
    kw = dict(n_iter=1000, burn_in=50, n_chains=4, seed=seed)
    t_cpu = best_time(lambda: wbic_subsets(X, y, subsets[:n_subsets_cpu], **kw), "cpu", repeat=1)
    res = {"cpu_per_s": n_subsets_cpu / t_cpu, "n_cpu": n_subsets_cpu, "M": M, "n": n, **kw,
           "cpu_full_search_est_s": 2 ** M / (n_subsets_cpu / t_cpu)}
    if device == "cuda":
        t = best_time(lambda: wbic_subsets(X, y, subsets[:n_subsets_gpu], device="cuda", **kw), "cuda", repeat=1)
        res.update(gpu_per_s=n_subsets_gpu / t, n_gpu=n_subsets_gpu, gpu_full_search_est_s=2 ** M / (n_subsets_gpu / t))
    return res


def bench_grid(device, n_gpu, n_cpu, bw, elements=None):
    from hea_fast.xyield.grid import XYIELD_PALETTE, XYieldGrid

    # default: the 11-element grid (X-Yield palette + Fe, 1,579,570,839 points)
    grid = XYieldGrid(elements=tuple(elements or XYIELD_PALETTE + ("Fe",)))
    T = grid.n_temperatures
    n_cpu = min(n_cpu, grid.n_compositions)
    t_cpu = best_time(lambda: grid.sigma(0, n_cpu), "cpu", repeat=2)
    res = {"grid": repr(grid), "points": len(grid), "cpu_points_per_s": n_cpu * T / t_cpu,
           "bytes_per_point": 8, "floor_points_per_s": bw * 1e12 / 8}
    if device == "cuda":
        n_gpu = min(n_gpu, grid.n_compositions)
        t = best_time(lambda: grid.sigma(0, n_gpu, device="cuda"), "cuda")
        res.update(gpu_points_per_s=n_gpu * T / t, whole_grid_est_s=len(grid) / (n_gpu * T / t))
    return res


def bench_screen(device, n_gpu, n_cpu):
    """decode (lattice) -> descriptors, the device-resident part of screening."""
    from hea_fast._backend import core
    from hea_fast.features import DESCRIPTORS, prepare, resolve
    from hea_fast.lattice import CompositionSpace

    space = CompositionSpace(PALETTE, 5, 5.0)
    _, names, tab = resolve(None, None)
    props, H = prepare(np.ones((1, len(PALETTE))), PALETTE, names, tab)
    n_cpu = min(n_cpu, len(space))

    def cpu():
        X = space.fractions(0, n_cpu)
        core.descriptors(X, props, H, tab.gas_constant, tab.log_offset)

    res = {"space": repr(space), "cpu_per_s": n_cpu / best_time(cpu, "cpu", repeat=2)}
    if device == "cuda":
        import torch

        from hea_fast._backend import cuda_empty, cuda_module, cuda_stream, to_cuda

        cu = cuda_module()
        n_gpu = min(n_gpu, len(space))
        pt, ht = to_cuda(props), to_cuda(H)
        out = cuda_empty((n_gpu, len(DESCRIPTORS)), torch.float64, pt.device)

        def gpu():
            xt = space.fractions(0, n_gpu, device="cuda")
            cu.descriptors(xt.data_ptr(), n_gpu, xt.shape[1], pt.data_ptr(), ht.data_ptr(), tab.gas_constant,
                           tab.log_offset, out.data_ptr(), cuda_stream())

        res["gpu_per_s"] = n_gpu / best_time(gpu, "cuda")
    return res


def bench_screen_fused(device, n_elements, small):
    """The whole screening job: every alloy of the space scored by the bundled mixture model, top
    1000 kept; CPU fused kernel (all cores) vs screen(device='cuda') (chunks of 50 M ranks)."""
    from hea_fast import screen as S

    space = S.CompositionSpace(PALETTE, 4 if small else n_elements, 5.0)
    sc = S.MixtureScorer()
    t0 = time.perf_counter()
    cpu = S.screen(space, sc, top_k=1000, progress=False)
    res = {"space": repr(space), "cpu_per_s": len(space) / (time.perf_counter() - t0)}
    if device == "cuda":
        S.screen(S.CompositionSpace(PALETTE, 3, 5.0), sc, top_k=10, progress=False, device="cuda")  # warm-up
        _sync("cuda")
        t0 = time.perf_counter()
        gpu = S.screen(space, sc, top_k=1000, progress=False, device="cuda", chunk_size=50_000_000)
        res["gpu_per_s"] = len(space) / (time.perf_counter() - t0)
        res["same_top_ranks"] = bool((gpu.top["lattice_index"].to_numpy() == cpu.top["lattice_index"].to_numpy()).all())
        res["max_abs_score_diff"] = float(np.max(np.abs(gpu.top["p_single"].to_numpy() - cpu.top["p_single"].to_numpy())))
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--small", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--bandwidth-tbs", type=float, default=4.8, help="peak memory bandwidth, TB/s (H200: 4.8)")
    ap.add_argument("--only", default="descriptors,wbic,grid,screen,screen_fused")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    a = ap.parse_args(argv)
    s = 0.01 if a.small else 1.0
    info = {"machine": platform.node(), "cpu_count": os.cpu_count(), "device": a.device}
    if a.device == "cuda":
        import torch

        info["gpu"] = torch.cuda.get_device_name()
    out = {"info": info}
    only = set(a.only.split(","))
    if "descriptors" in only:
        out["descriptors"] = bench_descriptors(a.device, int(1e8 * s) or 1000, int(2e6 * s), a.bandwidth_tbs)
        print("descriptors", out["descriptors"], flush=True)
    if "grid" in only:
        out["grid"] = bench_grid(a.device, int(5e7 * s), int(2e5 * s), a.bandwidth_tbs)
        print("grid", out["grid"], flush=True)
    if "screen" in only:
        out["screen"] = bench_screen(a.device, int(1e8 * s), int(2e6 * s))
        print("screen", out["screen"], flush=True)
    if "screen_fused" in only:
        out["screen_fused"] = bench_screen_fused(a.device, 6, a.small)
        print("screen_fused", out["screen_fused"], flush=True)
    if "wbic" in only:
        out["wbic"] = bench_wbic(a.device, max(int(8192 * s), 16), max(int(64 * s), 4))
        print("wbic", out["wbic"], flush=True)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=2)
        os.replace(tmp, a.out)
    return out


if __name__ == "__main__":
    main()
