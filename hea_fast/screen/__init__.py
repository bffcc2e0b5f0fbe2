"""Virtual screening of composition spaces: enumerate → featurize → score → keep the top-k.

The space is a simplex lattice over a palette of elements (`CompositionSpace`, decoded by rank in
C++ through `hea_fast.lattice`) or an explicit list of candidates (`ExplicitSpace`). `screen` streams
fixed-size rank chunks, so memory stays flat however large the space: each chunk is featurized,
scored, filtered by the scorers' thresholds and reduced to its own top-k of (score, rank) pairs;
top-k lists merge associatively, with ties broken by rank so the result is exactly the same whatever
the chunking, the number of workers or the order chunks finish in. Only the final k rows are decoded
again to report compositions, descriptors and every score column. A scorer that can bound its scores
cheaply (`Scorer.fused_bounds`: the phase model) is screened best-first: the space is bounded tile by
tile, then scored best bound first, so the pool's floor rises at once and hopeless tiles are skipped
(`engine.BEST_FIRST_RANKS`; the same result as rank order).

With `client=` (a `dask.distributed.Client`) chunks become Dask tasks and the reduction is a tree
of top-k merges on the cluster (fan-in `merge_fan_in`); Dask re-runs the tasks of a worker that dies,
so nothing is lost. Runs are resumable: with `checkpoint=PATH` the state (finished chunks and the
merged top-k) is written atomically every few seconds and a rerun skips the finished chunks.

The default scorer is `PhaseScorer` (the bundled `hea_fast.phase` model, P(single phase) with an
applicability domain scored on a candidate pool: `domain`); `MixtureScorer` is the paper's sparse
mixture. `hea_space` is the usual definition of a high-entropy alloy (every element 5-35 at.%), the
default space of `hea-fast screen`; `CompositionSpace` itself has no bounds unless given.

Modules: `spaces` (CompositionSpace, ExplicitSpace, DEFAULT_PALETTE, hea_space), `scorers` (each
scorer owns its fused / lattice / GPU path; `ssvae_scorer`: `SSVAEScorer`), `palette` (element data prepared once per palette),
`topk`, `domain` (the applicability domain on the candidate pool), `engine` (`screen`, chunk
scoring, report rows), `checkpoint`, `dask`, `cuda`.
"""
from hea_fast.screen.combined import Combined
from hea_fast.screen.domain import DomainPoolWarning
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
    DescriptorScorer,
    MixtureScorer,
    PhaseScorer,
    Scorer,
    YieldScorer,
)
from hea_fast.screen.spaces import (
    DEFAULT_PALETTE,
    HEA_MAX_FRACTION,
    HEA_MIN_FRACTION,
    CompositionSpace,
    ExplicitSpace,
    hea_space,
)
from hea_fast.screen.ssvae_scorer import SSVAEScorer
from hea_fast.screen.topk import merge_topk

__all__ = [
    "CompositionSpace",
    "ExplicitSpace",
    "DEFAULT_PALETTE",
    "HEA_MIN_FRACTION",
    "HEA_MAX_FRACTION",
    "hea_space",
    "Scorer",
    "DescriptorScorer",
    "MixtureScorer",
    "PhaseScorer",
    "SSVAEScorer",
    "YieldScorer",
    "CNNYieldScorer",
    "Combined",
    "ScreenResult",
    "DomainPoolWarning",
    "screen",
    "score_chunk",
    "merge_topk",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CLUSTER_CHUNK_SIZE",
    "DEFAULT_GPU_CHUNK_SIZE",
]
