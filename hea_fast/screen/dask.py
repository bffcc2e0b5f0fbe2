"""Screening on a Dask cluster: chunks as tasks, a tree of top-k merges on the cluster.

Groups of `fan_in` chunk tasks merge on the cluster and their results fold into the checkpoint as
they finish (so a rerun resumes). Dask re-runs the tasks of a worker that dies, so nothing is lost;
tests/test_screen_dask.py kills one mid-run. The scorer travels as cloudpickle bytes, unpickled once
per worker process.
"""
from __future__ import annotations

import functools

from hea_fast._extras import require
from hea_fast.screen.engine import score_chunk
from hea_fast.screen.scorers import Scorer
from hea_fast.screen.topk import merge_list

__all__ = ["score_chunk_packed", "screen_dask", "unpack_scorer"]


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


def screen_dask(client, space, scorer, todo, bounds, top_k, descriptors, table, ck, bar, fan_in) -> None:
    """Score the chunk ids `todo` (`bounds(c)` -> rank range) on `client`, folding the merged groups
    into the checkpoint `ck` and advancing the progress bar `bar` (or None)."""
    require(("dask", "distributed"), "dask", "hea_fast.screen.dask (screening on a Dask cluster)")
    import cloudpickle
    from dask.distributed import as_completed

    space_f = client.scatter(space, broadcast=True)
    # cloudpickle, not plain pickle: a scoring function defined in a notebook or in a module
    # registered with cloudpickle.register_pickle_by_value travels by value to the workers
    scorer_f = client.scatter(cloudpickle.dumps(scorer), broadcast=True)
    sizes, groups = {}, {}
    floor = ck.floor(top_k)  # a resumed run's pool: rows below its worst score cannot enter it
    for i in range(0, len(todo), fan_in):
        g = todo[i:i + fan_in]
        futs = []
        for c in g:
            a, b = bounds(c)
            f = client.submit(score_chunk_packed, space_f, scorer_f, a, b, top_k, descriptors, table, 1, True, floor,
                              key=f"hea-screen-chunk-{c}-{a}-{b}-{id(ck)}", retries=2)
            futs.append(f)
            sizes[f.key] = (f, b - a)
        gf = client.submit(merge_list, futs, top_k, key=f"hea-screen-merge-{g[0]}-{g[-1]}-{id(ck)}", retries=2)
        groups[gf.key] = (gf, g)
    for fut in as_completed([f for f, _ in sizes.values()] + [gf for gf, _ in groups.values()]):
        if fut.key in sizes:
            if bar is not None:
                bar.update(sizes[fut.key][1])
            continue
        _, g = groups.pop(fut.key)
        ck.add(g, fut.result(), top_k)
        ck.save()
