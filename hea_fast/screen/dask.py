"""Screening on a Dask cluster: chunks as tasks, a tree of top-k merges on the cluster.

Groups of `fan_in` chunk tasks merge on the cluster and their results fold into the checkpoint as
they finish (so a rerun resumes). With a scorer that bounds its scores (`Scorer.fused_bounds`) the
screen is best-first as on local threads: the chunks are bounded on the cluster, then submitted best
bound first in growing waves, each told the pool's floor so far. Dask re-runs the tasks of a worker that dies, so nothing is lost;
tests/test_screen_dask.py kills one mid-run. The scorer travels as cloudpickle bytes, unpickled once
per worker process.
"""
from __future__ import annotations

import functools
import uuid

from hea_fast._extras import require
from hea_fast.screen.engine import best_bound_first, has_bounds, score_chunk
from hea_fast.screen.scorers import Scorer
from hea_fast.screen.topk import merge_list

__all__ = ["bound_chunk_packed", "score_chunk_packed", "screen_dask", "unpack_scorer"]


@functools.lru_cache(maxsize=4)
def unpack_scorer(blob: bytes) -> Scorer:
    """The scorer of a Dask task, unpickled once per worker process. A worker runs one task per
    thread, so scorers with their own kernel threads (`threads` attribute) get one each."""
    import cloudpickle

    scorer = cloudpickle.loads(blob)
    for s in scorer.walk():
        if hasattr(s, "threads"):
            s.threads = 1
    return scorer


def score_chunk_packed(space, scorer_blob: bytes, *args):
    """`score_chunk` on a Dask worker, the scorer arriving as cloudpickle bytes."""
    return score_chunk(space, unpack_scorer(scorer_blob), *args)


def bound_chunk_packed(space, scorer_blob: bytes, start: int, stop: int, table: str):
    """`Scorer.fused_bounds` of ranks [start, stop) on a Dask worker."""
    return unpack_scorer(scorer_blob).fused_bounds(space, start, stop, table, 1)


def screen_dask(client, space, scorer, todo, bounds, top_k, descriptors, table, ck, bar, fan_in,
                window: int = 0, tiles: dict | None = None) -> None:
    """Score the chunk ids `todo` (`bounds(c)` -> rank range) on `client`, folding the merged groups
    into the checkpoint `ck` and advancing the progress bar `bar` (or None).

    `window` > 0 (best-first, as local screens): the chunks of each window of `window` chunks are
    bounded on the cluster first (`Scorer.fused_bounds`; a scorer without bounds keeps rank order),
    then submitted best bound first in waves of fan_in, 2 fan_in, 4 fan_in, ... chunks, each wave told
    the pool's floor after the waves before it and each chunk its tile bounds (`tiles`: chunk ->
    bounds already computed, filled with the new ones). Otherwise one wave in rank order with the
    floor of a resumed run's pool. The result is the same either way."""
    require(("dask", "distributed"), "dask", "hea_fast.screen.dask (screening on a Dask cluster)")
    import cloudpickle

    # hash=False and a run token in every key: two screens of the same space in a row must not share
    # keys (the first run's release of a content-hashed key could race the second run's scatter)
    run = uuid.uuid4().hex[:12]
    space_f = client.scatter(space, broadcast=True, hash=False)
    # cloudpickle, not plain pickle: a scoring function defined in a notebook or in a module
    # registered with cloudpickle.register_pickle_by_value travels by value to the workers
    scorer_f = client.scatter(cloudpickle.dumps(scorer), broadcast=True, hash=False)
    if window <= 0 or not has_bounds(scorer, space, table, 1):
        _run_wave(client, space_f, scorer_f, todo, {}, bounds, top_k, descriptors, table, ck, bar, fan_in, run)
        return
    tiles = {} if tiles is None else tiles
    for i in range(0, len(todo), window):
        group = todo[i:i + window]
        new = [c for c in group if c not in tiles]
        futs = [client.submit(bound_chunk_packed, space_f, scorer_f, *bounds(c), table,
                              key=f"hea-screen-bound-{c}-{run}", retries=2) for c in new]
        tiles.update(zip(new, client.gather(futs)))
        group = best_bound_first(group, tiles)
        start, size = 0, fan_in
        while start < len(group):
            wave = group[start:start + size]
            _run_wave(client, space_f, scorer_f, wave, tiles, bounds, top_k, descriptors, table, ck, bar, fan_in, run)
            start, size = start + size, 2 * size


def _run_wave(client, space_f, scorer_f, todo, tiles, bounds, top_k, descriptors, table, ck, bar, fan_in,
              run: str) -> None:
    """Submit the chunks `todo` (groups of `fan_in` merged on the cluster) with the checkpoint's
    current floor and each chunk's tile bounds (`tiles`, may be empty), and fold the merged groups
    into `ck` as they finish. `run`: the screen's token in the task keys."""
    from dask.distributed import as_completed

    sizes, groups = {}, {}
    floor = ck.floor(top_k)  # the pool so far (a resumed run's, or the waves before): rows below cannot enter
    for i in range(0, len(todo), fan_in):
        g = todo[i:i + fan_in]
        futs = []
        for c in g:
            a, b = bounds(c)
            f = client.submit(score_chunk_packed, space_f, scorer_f, a, b, top_k, descriptors, table, 1, True, floor,
                              tiles.get(c), key=f"hea-screen-chunk-{c}-{a}-{b}-{run}", retries=2)
            futs.append(f)
            sizes[f.key] = (f, b - a)
        gf = client.submit(merge_list, futs, top_k, key=f"hea-screen-merge-{g[0]}-{g[-1]}-{run}", retries=2)
        groups[gf.key] = (gf, g)
    for fut in as_completed([f for f, _ in sizes.values()] + [gf for gf, _ in groups.values()]):
        if fut.key in sizes:
            if bar is not None:
                bar.update(sizes[fut.key][1])
            continue
        _, g = groups.pop(fut.key)
        ck.add(g, fut.result(), top_k)
        ck.save()
