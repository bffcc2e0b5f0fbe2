"""Virtual screening of composition spaces: enumerate → featurize → score → keep the top-k.

The space is a simplex lattice over a palette of elements (`CompositionSpace`, decoded by rank in
C++ through `hea_fast.lattice`) or an explicit list of candidates (`ExplicitSpace`). `screen` streams
fixed-size rank chunks, so memory stays flat however large the space: each chunk is featurized,
scored, filtered by the scorers' thresholds and reduced to its own top-k of (score, rank) pairs;
top-k lists merge associatively, with ties broken by rank so the result is exactly the same whatever
the chunking, the number of workers or the order chunks finish in. Only the final k rows are decoded
again to report compositions, descriptors and every score column.

With `client=` (a `dask.distributed.Client`) chunks become Dask tasks and the reduction is a tree
of top-k merges on the cluster (fan-in `merge_fan_in`); Dask re-runs the tasks of a worker that dies,
so nothing is lost. Runs are resumable: with `checkpoint=PATH` the state (finished chunks and the
merged top-k) is written atomically every few seconds and a rerun skips the finished chunks.

Modules: `spaces` (CompositionSpace, ExplicitSpace, DEFAULT_PALETTE), `scorers` (each scorer owns
its fused / lattice / GPU path), `palette` (element data prepared once per palette), `topk`,
`engine` (`screen`, chunk scoring, report rows), `checkpoint`, `dask`, `cuda`.
"""
from hea_fast.screen.engine import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CLUSTER_CHUNK_SIZE,
    DEFAULT_GPU_CHUNK_SIZE,
    ScreenResult,
    score_chunk,
    screen,
)
from hea_fast.screen.scorers import (
    CNNYieldScorer,
    Combined,
    DescriptorScorer,
    MixtureScorer,
    Scorer,
    SSVAEScorer,
    YieldScorer,
)
from hea_fast.screen.spaces import DEFAULT_PALETTE, CompositionSpace, ExplicitSpace
from hea_fast.screen.topk import merge_topk

__all__ = [
    "CompositionSpace",
    "ExplicitSpace",
    "DEFAULT_PALETTE",
    "Scorer",
    "DescriptorScorer",
    "MixtureScorer",
    "SSVAEScorer",
    "YieldScorer",
    "CNNYieldScorer",
    "Combined",
    "ScreenResult",
    "screen",
    "score_chunk",
    "merge_topk",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CLUSTER_CHUNK_SIZE",
    "DEFAULT_GPU_CHUNK_SIZE",
]
