"""End-to-end screening throughput: enumerate → featurize → mixture P(single) → top-k.

Full mode (`make bench`): the demo space (5-element alloys of 15 metals at 5 %, 11.6 M
compositions) on 2 threads, and a 2-worker Dask LocalCluster against a 1-worker one on the same
space. Quick mode (CI): a 1.3 M-composition slice. The same-run ratio checked in CI is the screening
fast path (probit predictive, subset descriptors) against the reference path (all descriptors and
the model's Monte Carlo predictive over posterior draws) on the same chunk.
"""
from __future__ import annotations

import os
import time

import pytest

from hea_fast import screen as S
from hea_fast.commands.screen import DEFAULT_PALETTE, load_mixture


@pytest.fixture(scope="module")
def model():
    return load_mixture()


def test_screen_throughput(model, quick, check_ratio, timer):
    space = S.CompositionSpace(list(DEFAULT_PALETTE), 5, 5.0)
    fast = S.MixtureScorer(model)
    ref = S.MixtureScorer(model, method="mc")
    n = 20_000 if quick else 100_000
    t_fast = timer(lambda: S._score_chunk(space, fast, 0, n, 100, fast.descriptors, "default", None), repeat=3)
    t_ref = timer(lambda: S._score_chunk(space, ref, 0, n, 100, None, "default", None), repeat=2, min_time=0.0)
    print(f"\nchunk of {n:,}: fast {n / t_fast:,.0f}/s, reference (MC predictive) {n / t_ref:,.0f}/s")
    check_ratio("screen_fast_vs_mc_predictive", t_ref / t_fast)

    stop = 1_300_000 if quick else len(space)
    sub = S.ExplicitSpace(space.decode(0, stop)) if quick else space
    t0 = time.perf_counter()
    res = S.screen(sub, fast, top_k=1000, chunk_size=200_000, progress=False)
    dt = time.perf_counter() - t0
    print(f"end to end: {res.n_scored:,} compositions in {dt:.2f} s = {res.n_scored / dt:,.0f}/s")


@pytest.mark.skipif(bool(os.environ.get("HEA_FAST_BENCH_QUICK")), reason="full mode only (make bench)")
def test_dask_speedup(model):
    distributed = pytest.importorskip("dask.distributed")
    space = S.CompositionSpace(list(DEFAULT_PALETTE), 5, 5.0)
    scorer = S.MixtureScorer(model)
    times = {}
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as client:
            S.screen(S.ExplicitSpace(space.decode(0, 1000)), scorer, top_k=10, progress=False, client=client)
            t0 = time.perf_counter()
            S.screen(space, scorer, top_k=1000, chunk_size=500_000, progress=False, client=client)
            times[workers] = time.perf_counter() - t0
    print(f"\nLocalCluster: 1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s, "
          f"speed-up {times[1] / times[2]:.2f}x ({len(space):,} compositions)")
