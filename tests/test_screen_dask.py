"""Screening on a real Dask LocalCluster (loopback, 2 worker processes) gives exactly the local
result, also through the fused mixture kernel on the workers and when a worker is killed mid-run."""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S

PALETTE = ["Co", "Cr", "Fe", "Mn", "Ni", "Al"]


def _mismatch_score(d: pd.DataFrame) -> np.ndarray:
    # a smooth descriptor score with many near-ties (exercises the rank tie-break)
    return -np.round(d["delta"].to_numpy(), 2) + 0.01 * d["VEC"].to_numpy()


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("dask.distributed")
    import sys

    import cloudpickle

    # the scoring functions live in this test module, which worker processes cannot import when
    # the package is installed (CI runs without the source tree on sys.path): ship them by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0")
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_dask_equals_local(dask_cluster):
    _, client = dask_cluster
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    local = S.screen(space, scorer, top_k=30, chunk_size=100, progress=False)
    dist = S.screen(space, scorer, top_k=30, chunk_size=100, progress=False, client=client, merge_fan_in=3)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_passing == local.n_passing and dist.n_scored == local.n_scored
    # the mixture model takes the fused C++ kernel on the workers too (threads=1 there)
    big = S.CompositionSpace(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"], 4, 5.0)
    mix = S.MixtureScorer(threshold=0.6)
    local = S.screen(big, mix, top_k=40, chunk_size=30_000, progress=False)
    dist = S.screen(big, mix, top_k=40, chunk_size=30_000, progress=False, client=client)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_passing == local.n_passing and 0 < local.n_passing < len(big)


def test_dask_default_phase_model_equals_local(dask_cluster):
    """The default phase model (a 300-tree forest run by the fused kernel, its layout prepared once per
    worker process) on the workers: the same top-k, domain pool and counts as on local threads."""
    _, client = dask_cluster
    space = S.hea_space(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W"], 5, 5.0)
    phase = S.PhaseScorer()
    local = S.screen(space, phase, top_k=25, chunk_size=20_000, progress=False)
    dist = S.screen(space, phase, top_k=25, chunk_size=20_000, progress=False, client=client)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_passing == local.n_passing == len(space) and dist.domain == local.domain


def _slow_score(d: pd.DataFrame) -> np.ndarray:
    time.sleep(0.05)
    return _mismatch_score(d)


def test_dask_survives_a_killed_worker(dask_cluster):
    cluster, client = dask_cluster
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_slow_score, name="score", descriptors=["delta", "VEC"])
    local = S.screen(space, S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"]),
                     top_k=30, chunk_size=40, progress=False)

    pids = client.run(os.getpid)  # {worker address: pid}, taken on the main thread
    victim = sorted(pids.values())[0]
    killed_at = []

    def kill_one():
        time.sleep(0.4)
        # hard-kill one worker process (its nanny restarts it): its running tasks and the results it
        # held are lost, and Dask must recompute them elsewhere
        os.kill(victim, signal.SIGKILL)
        killed_at.append(time.monotonic())

    t = threading.Thread(target=kill_one)
    t.start()
    dist = S.screen(space, scorer, top_k=30, chunk_size=40, progress=False, client=client, merge_fan_in=4)
    finished_at = time.monotonic()
    t.join()
    assert killed_at and killed_at[0] < finished_at, "the worker was not killed during the run"
    assert victim not in client.run(os.getpid).values()
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_scored == local.n_scored


def test_dask_best_first_waves_equal_rank_order(dask_cluster, monkeypatch):
    """With the default phase model the cluster screen is best-first (chunks bounded as tasks, then
    submitted best bound first in growing waves, each with the pool's floor so far): the same top-k,
    domain pool and counts as rank order (BEST_FIRST_RANKS = 0) and as local threads; the chunk tasks
    do get their tile bounds and a floor after the first wave."""
    from hea_fast.screen import dask as SD
    from hea_fast.screen import engine

    _, client = dask_cluster
    space = S.hea_space(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W"], 5, 5.0)
    phase = S.PhaseScorer()
    kw = dict(top_k=25, domain_pool=300, chunk_size=5_000, progress=False)
    submitted = []
    real = SD._run_wave

    def spy(client_, space_f, scorer_f, todo, tiles, *a):
        k, ck = a[1], a[4]  # k: the probe scan's 2 top_k (its first batch settles the domain here)
        submitted.append((list(todo), bool(tiles) and all(c in tiles for c in todo), ck.floor(k), k))
        return real(client_, space_f, scorer_f, todo, tiles, *a)

    monkeypatch.setattr(SD, "_run_wave", spy)
    best = S.screen(space, phase, client=client, merge_fan_in=3, **kw)
    waves = list(submitted)
    n_chunks, want, size = -(-len(space) // kw["chunk_size"]), [], 3
    while sum(want) < n_chunks:  # fan_in, 2 fan_in, 4 fan_in, ... chunks
        want.append(min(size, n_chunks - sum(want)))
        size *= 2
    assert len(want) >= 3 and [len(w) for w, _, _, _ in waves] == want and all(t for _, t, _, _ in waves)
    assert waves[0][2] is None and all(f is not None for _, _, f, _ in waves[1:])
    assert {k for *_, k in waves} == {2 * kw["top_k"]}
    order = [c for w, _, _, _ in waves for c in w]
    assert sorted(order) == list(range(len(order))) and order != sorted(order)
    monkeypatch.setattr(engine, "BEST_FIRST_RANKS", 0)
    submitted.clear()
    rank = S.screen(space, phase, client=client, merge_fan_in=3, **kw)
    assert len(submitted) == 1 and not submitted[0][1]
    local = S.screen(space, phase, **kw)
    for res in (rank, local):
        pd.testing.assert_frame_equal(best.top, res.top)
        assert (best.n_passing, best.domain) == (res.n_passing, res.domain)


def test_dask_probe_that_does_not_settle_rescans_the_pool(dask_cluster):
    """On binaries (out of the domain) and ternaries of 8 refractory metals the best 2 top_k hold fewer
    than top_k in-domain alloys, so the probe scan does not settle the result and the cluster scans for
    the whole pool: the same top rows, counts and domain summary as local threads (which take the same
    two branches; tests/test_screen_phase.py checks them against brute force)."""
    import warnings

    _, client = dask_cluster
    els = ["Nb", "Ta", "Mo", "W", "V", "Ti", "Cr", "Zr"]
    space = S.ExplicitSpace([f for n in (2, 3) for f in S.CompositionSpace(els, n, 10.0).decode().formulas()])
    phase = S.PhaseScorer()
    kw = dict(top_k=30, domain_pool=400, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dist = S.screen(space, phase, client=client, chunk_size=300, **kw)
        local = S.screen(space, phase, **kw)
    assert dist.domain["pool_examined"] > 2 * kw["top_k"]  # the probe's batch did not settle it
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert (dist.n_passing, dist.n_scored, dist.domain) == (local.n_passing, local.n_scored, local.domain)


def test_dask_space_with_a_bound_that_lifts_the_global_range(dask_cluster):
    """A space whose per-element bound (0, 1) lifts max_fraction for that element reaches the worker
    processes (pickled through its spec) as the same space: the result equals the local one, over
    every composition of the space (the spec used to drop the bound, and the workers failed)."""
    _, client = dask_cluster
    space = S.CompositionSpace(PALETTE, 4, 10.0, bounds={"Ni": (0.0, 1.0)}, max_fraction=0.3)
    # brute force: 4 of the palette at 10 % steps, every element <= 30 % but Ni
    fr = S.CompositionSpace(PALETTE, 4, 10.0).decode().fractions
    others = np.delete(fr, PALETTE.index("Ni"), axis=1)
    assert len(space) == int((others <= 0.3 + 1e-12).all(axis=1).sum()) > 0
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    local = S.screen(space, scorer, top_k=20, chunk_size=40, progress=False)
    dist = S.screen(space, scorer, top_k=20, chunk_size=40, progress=False, client=client, merge_fan_in=2)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_scored == local.n_scored == len(space)
    assert (local.top["x_Ni"] > 0.3).any()  # the lifted bound is used
