"""The screening driver: stream rank chunks, score each, keep the top-k, report the final rows.

`screen` streams fixed-size rank chunks, so memory stays flat however large the space: each chunk
is scored by the best path its scorer offers (`Scorer.fused_topk`, then `Scorer.lattice_columns`,
else decode -> featurize -> `Scorer.columns`), filtered by the thresholds and reduced to its own
top-k (`hea_fast.screen.topk`). Only the final k rows are decoded again to report compositions,
descriptors and every score column.

Local screens run best-first when the scorer can bound its scores cheaply (`Scorer.fused_bounds`,
the phase ensemble's per-tile bounds): each window of `BEST_FIRST_RANKS` ranks is bounded first and
scored best bound first, so the pool fills with good candidates early, its floor rises, and the
later chunks skip every tile that cannot reach it. The merge does not depend on the order, so the
result is that of rank order (tests/test_screen_phase.py). Dask screens do the same on the cluster
(`hea_fast.screen.dask`: bounds as tasks, then waves best bound first); GPU screens run in rank order.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from hea_fast.screen.checkpoint import ScreenCheckpoint
from hea_fast.screen.combined import as_scorer
from hea_fast.screen.domain import decode_ranks, default_pool, domain_scorer, probe_size, select_in_domain
from hea_fast.screen.palette import featurize_chunk
from hea_fast.screen.scorers import Scorer
from hea_fast.screen.spaces import CompositionSpace, describe
from hea_fast.screen.topk import select

if TYPE_CHECKING:  # pandas is imported where rows are reported: `hea-fast --help` stays fast
    import pandas as pd

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_CLUSTER_CHUNK_SIZE", "DEFAULT_GPU_CHUNK_SIZE", "ScreenResult",
           "report_rows", "score_chunk", "screen"]

DEFAULT_CHUNK_SIZE = 200_000
DEFAULT_CLUSTER_CHUNK_SIZE = 2_000_000
DEFAULT_GPU_CHUNK_SIZE = 20_000_000
#: Best-first screening (local runs of a scorer with `fused_bounds`): the chunks are taken in windows
#: of about this many ranks (at least one chunk); the scorer bounds every chunk of a window (cheap: no
#: tree walked; about 40 M ranks/s for the default phase model on 2 threads), then scores them best
#: bound first, so the pool's floor rises early and the other chunks skip most of their tiles. One
#: window holds a space of up to 2^31 ranks (the 1.66 B HEA space): ordering the whole space is what
#: makes the floor rise early. The result is the same in any order. 0: rank order.
BEST_FIRST_RANKS = 1 << 31
#: ... and at most this many chunks (a tiny chunk_size would otherwise hold millions of bound arrays).
BEST_FIRST_MAX_CHUNKS = 16_384


@dataclasses.dataclass
class ScreenResult:
    """`top`: the best compositions, best first: rank (1 = best), lattice_index (index in the space),
    formula, scores, (in_domain, domain_score, domain_reason and the nearest training alloy:
    nearest_training_alloy, nearest_distance, nearest_single, with a domain-aware scorer), fractions,
    descriptors.
    `n_scored`: compositions scored; `n_passing`: those meeting every threshold (both over the whole
    space). `domain`: None, or what the applicability domain did on the candidate pool
    (`hea_fast.screen.domain`: pool size, in / out of domain counts, a warning when fewer than
    top_k in-domain candidates were found)."""

    top: pd.DataFrame
    n_scored: int
    n_passing: int
    elapsed_s: float
    space: dict
    score_name: str
    domain: dict | None = None

    @property
    def throughput(self) -> float:
        return self.n_scored / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def to_parquet(self, path: str | os.PathLike) -> Path:
        from hea_fast._io import atomic_path

        with atomic_path(path) as tmp:
            self.top.to_parquet(tmp, index=False)
        return Path(path)

    def summary(self) -> dict:
        out = {
            "space": self.space,
            "score": self.score_name,
            "n_scored": self.n_scored,
            "n_passing": self.n_passing,
            "n_top": len(self.top),
            "elapsed_s": round(self.elapsed_s, 3),
            "compositions_per_s": round(self.throughput, 1),
        }
        if self.domain is not None:
            out["domain"] = self.domain
        return out


def check_palette(space, scorer, table: str) -> None:
    """Refuse a palette with elements (or pairs) whose alloys the scorer cannot score: they would
    all get NaN and drop out of the screen unseen."""
    forbidden = set(space.spec()["forbidden"])
    usable = [e for e in space.elements if e not in forbidden]
    gaps = scorer.palette_gaps(usable, table)
    if gaps:
        shown = "; ".join(gaps[:6]) + (f"; and {len(gaps) - 6} more" if len(gaps) > 6 else "")
        raise ValueError(f"the scorer of {scorer.name!r} cannot score the alloys of this palette that hold: {shown}."
                         " Drop those elements from the palette or forbid them (CompositionSpace(forbidden=...), "
                         "hea-fast screen --forbid)")


def screen(
    space,
    scorer=None,
    *,
    top_k: int = 1000,
    threshold: float | None = None,
    chunk_size: int | None = None,
    descriptors: Sequence[str] | None = None,
    table: str = "default",
    client=None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    threads: int | None = None,
    merge_fan_in: int = 8,
    max_chunks: int | None = None,
    device: str = "cpu",
    include_out_of_domain: bool = False,
    domain_pool: int | None = None,
) -> ScreenResult:
    """Screen `space` with `scorer` and return the `top_k` compositions.

    `scorer`: a `Scorer` or a callable on the descriptor frame; None is the default phase model
    (`PhaseScorer()`: P(single phase) of the bundled `hea_fast.phase` model, with its
    applicability domain). For a scorer with an applicability domain (`PhaseScorer`, or a
    `Combined` requiring one) the whole space is scored and the best `domain_pool` candidates
    (default max(20 * top_k, 10,000)) are kept; their domain is scored, best first, until the result
    is found: the best `top_k` in-domain ones (`include_out_of_domain=True`: the best `top_k` of the pool whatever
    their domain); see `hea_fast.screen.domain`. Without a checkpoint the space is first scanned for
    the pool's best 2 `top_k` only, and again for the whole pool only when those do not settle the
    result (the same result either way). Other scorers ignore both keywords.

    `threshold` (if given) overrides the scorer's own minimum. `chunk_size`: ranks per chunk (per
    Dask task); default 200,000 locally, 2,000,000 on a cluster, 20,000,000 on a GPU. `descriptors`
    limits featurization (default: what the scorer needs, or all descriptors when it does not say);
    the reported rows carry every descriptor. `client`: a dask.distributed.Client to run chunks on a
    cluster. `checkpoint`: a JSON path that makes the run resumable. `max_chunks` stops after that
    many new chunks (the checkpoint then resumes the rest), which is how interruption is tested.
    `device="cuda"` scores chunks on the GPU (a scorer with a GPU path, e.g. a MixtureScorer on a
    CompositionSpace; scores agree with the CPU to rounding); "auto" uses the GPU when one is
    visible and the scorer supports it.
    """
    if not (hasattr(space, "__len__") and hasattr(space, "decode")):
        raise TypeError(f"space must be a CompositionSpace or an ExplicitSpace (formulas: ExplicitSpace([...])), "
                        f"got {type(space).__name__}")
    top_k = _whole("top_k", top_k, 1)
    merge_fan_in = _whole("merge_fan_in", merge_fan_in, 1)
    if max_chunks is not None:
        max_chunks = _whole("max_chunks", max_chunks, 0)
    auto_chunk = chunk_size is None
    if auto_chunk:
        # a cluster task should carry ~0.1 s of fused work, far above Dask's ~1 ms per-task overhead
        chunk_size = DEFAULT_CHUNK_SIZE if client is None else DEFAULT_CLUSTER_CHUNK_SIZE
    chunk_size = _whole("chunk_size", chunk_size, 1)
    if scorer is None:
        from hea_fast.screen.scorers import PhaseScorer

        scorer = PhaseScorer(threads=threads)
    scorer = as_scorer(scorer)
    owner = domain_scorer(scorer)
    pool = top_k
    if owner is not None:
        pool = default_pool(top_k) if domain_pool is None else _whole("domain_pool", domain_pool, 1)
        if pool < top_k:
            raise ValueError(f"domain_pool ({pool}) must be at least top_k ({top_k})")
    if threshold is not None:
        scorer.threshold = float(threshold)
    for part in scorer.walk():  # the requirements of a Combined scorer too
        part.check_threshold()
    if isinstance(space, CompositionSpace):
        check_palette(space, scorer, table)
    if descriptors is None:
        descriptors = scorer.needed_descriptors() or (None if scorer.reads_descriptors() else ())
    gpu = _gpu_screener(space, scorer, table, device, client)
    if gpu is not None and auto_chunk:  # a launch per 200 k ranks would leave a GPU mostly idle
        chunk_size = DEFAULT_GPU_CHUNK_SIZE
    n_total = len(space)
    n_chunks = (n_total + chunk_size - 1) // chunk_size
    desc_space = describe(space)
    run = {"space": desc_space, "scorer": type(scorer).__name__, "score": scorer.name,
           "threshold": scorer.threshold, "chunk_size": chunk_size, "top_k": top_k}
    if owner is not None:  # the chunks keep the pool (a top-M), which the checkpoint carries
        run["domain_pool"] = pool
    required = [[r.name, r.threshold] for part in scorer.walk() for r in getattr(part, "require", ())]
    if required:  # a Combined scorer's requirements decide which rows pass as much as its own threshold
        run["required"] = required
    keys = [s.run_key() for s in scorer.walk() if hasattr(s, "run_key")]
    if keys:  # the model's identity: a checkpoint of another model is another run
        run["models"] = keys
    if gpu is not None:  # GPU scores agree with the CPU's to rounding only: do not mix them in one run
        run["device"] = "cuda"

    def bounds(c):
        return c * chunk_size, min(n_total, (c + 1) * chunk_size)

    window = (min(BEST_FIRST_MAX_CHUNKS, max(1, BEST_FIRST_RANKS // chunk_size))
              if BEST_FIRST_RANKS > 0 and gpu is None else 0)
    chunk_tiles: dict = {}  # each chunk's bounds, computed once for both scans (they share the threshold)

    def scan(ck: ScreenCheckpoint, k: int, desc: str) -> None:
        """Score the chunks `ck` has not done (up to max_chunks), folding each chunk's top-k into it."""
        todo = [c for c in range(n_chunks) if c not in ck.done]
        if max_chunks is not None:
            todo = todo[:max_chunks]
        bar = None
        if progress:
            from hea_fast._progress import progress_bar

            bar = progress_bar(total=n_total, initial=min(n_total, len(ck.done) * chunk_size), unit="comp",
                               unit_scale=True, desc=desc, smoothing=0.1)
        try:
            if client is None:
                for c, tiles in chunk_order(todo, bounds, space, scorer, table, threads, window, bar, chunk_tiles):
                    a, b = bounds(c)
                    part = gpu(a, b, k) if gpu is not None else score_chunk(space, scorer, a, b, k, descriptors,
                                                                            table, threads, floor=ck.floor(k),
                                                                            tiles=tiles)
                    ck.add(c, part, k)
                    if bar is not None:
                        bar.update(b - a)
                    ck.save()
            else:
                from hea_fast.screen.dask import screen_dask

                screen_dask(client, space, scorer, todo, bounds, k, descriptors, table, ck, bar, merge_fan_in,
                            window, chunk_tiles)
        finally:
            ck.save(force=True)
            if bar is not None:
                bar.close()

    t0 = time.perf_counter()
    chosen = ck = None
    probe = probe_size(top_k, include_out_of_domain)
    if owner is not None and probe < pool and checkpoint is None and max_chunks is None:
        # the domain's first batch is the pool's best `probe` candidates: a scan keeping only those
        # (much cheaper than the whole pool) settles the result whenever that batch does
        ck = ScreenCheckpoint(None, {**run, "domain_pool": probe})
        scan(ck, probe, "screen")
        scores, ranks, n_passing = ck.state
        chosen = select_in_domain(space, owner, ranks, scores, top_k, n_passing, include_out_of_domain, threads,
                                  pool_size=pool, settled_only=True)
    if chosen is None:  # no probe, or its batch did not settle the result: the whole pool
        desc = "screen" if ck is None else f"screen (pool {pool:,})"
        ck = ScreenCheckpoint(checkpoint, run)
        ck.load()
        scan(ck, pool, desc)
        scores, ranks, n_passing = ck.state
        if owner is not None:
            chosen = select_in_domain(space, owner, ranks, scores, top_k, n_passing, include_out_of_domain,
                                      threads, pool_size=pool)
    elapsed = time.perf_counter() - t0

    dom, info = None, None
    if owner is not None:
        ranks, scores, dom, info = chosen
        info["domain_pool"] = pool
    top = report_rows(space, scorer, ranks, descriptors, table, threads)
    if len(ranks):
        # the score the ranking used (the fused kernel's, bitwise the general path's for palettes of
        # up to 16 elements, within rounding beyond), so the reported order is the column's order
        top[scorer.name] = scores
    if dom is not None:
        at = top.columns.get_loc(scorer.name) + 1
        for j, col in enumerate(("in_domain", "domain_score", "domain_reason")):
            top.insert(at + j, col, dom[col].to_numpy())
        near = owner.nearest_frame(decode_ranks(space, ranks, threads), threads) \
            if len(ranks) and hasattr(owner, "nearest_frame") else None
        if near is not None:  # which training alloy each candidate resembles, and what the sources said of it
            for j, col in enumerate(near.columns):
                top.insert(at + 3 + j, col, near[col].to_numpy())
    n_scored = sum(bounds(c)[1] - bounds(c)[0] for c in ck.done)
    return ScreenResult(top=top, n_scored=n_scored, n_passing=n_passing, elapsed_s=elapsed,
                        space=desc_space, score_name=scorer.name, domain=info)


def _whole(name: str, value, least: int) -> int:
    """`value` as an int >= `least`; ValueError naming `name` and the value otherwise (2.5, "10", None)."""
    try:
        ok = not isinstance(value, (bool, str)) and float(value).is_integer()
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or int(value) < least:
        raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    return int(value)


def _gpu_screener(space, scorer: Scorer, table: str, device, client):
    """The scorer's GPU screener when `device` asks for one (and it has one), else None."""
    want = str(device).lower()
    if want == "cpu":
        return None
    from hea_fast._backend import cuda_available, resolve_device

    if want == "auto":
        return scorer.cuda_screen(space, table) if client is None and cuda_available() else None
    if resolve_device(device) != "cuda":  # raises with the reason when CUDA is unavailable
        return None
    if client is not None:
        raise ValueError("device='cuda' runs on this process's GPU; it cannot be combined with client=")
    gpu = scorer.cuda_screen(space, table)
    if gpu is None:
        raise ValueError("device='cuda' screening takes a scorer with a GPU path (a MixtureScorer with "
                         "method='probit', engine='cpp' on a CompositionSpace with element data for every palette "
                         f"element); got {type(scorer).__name__} on {type(space).__name__}")
    return gpu


def _note(bar, text: str) -> None:
    """Show `text` beside a progress bar that can (tqdm, the plain fallback); others are left alone."""
    post = getattr(bar, "set_postfix", None)
    if post is not None:
        post(order=text)


def has_bounds(scorer: Scorer, space, table: str, threads=None) -> bool:
    """Whether `scorer` bounds its scores on `space` (`Scorer.fused_bounds` of an empty range is not None)."""
    return scorer.fused_bounds(space, 0, 0, table, threads) is not None


def best_bound_first(chunks, tiles: dict) -> list:
    """`chunks` by their bounds `tiles[c].best`, highest first (ties: lower chunk id)."""
    return sorted(chunks, key=lambda c: (-tiles[c].best, c))


def chunk_order(todo, bounds, space, scorer: Scorer, table: str, threads, window: int, bar=None,
                tiles: dict | None = None):
    """(chunk, tiles) in the order a local screen scores them: with `window` > 0 and a scorer with
    `fused_bounds`, each window of `window` chunks of `todo` best bound first, with the chunk's
    bounds for `score_chunk(tiles=)`; otherwise `todo` in order, tiles None. `bar` (a progress bar or
    None) says when a window is being bounded. `tiles`: chunk -> bounds already computed (for the
    same scorer and threshold), filled with the new ones."""
    if window <= 0 or not has_bounds(scorer, space, table, threads):
        yield from ((c, None) for c in todo)
        return
    tiles = {} if tiles is None else tiles
    for i in range(0, len(todo), window):
        group = todo[i:i + window]
        new = [c for c in group if c not in tiles]
        every = max(1, len(new) // 20)
        for j, c in enumerate(new):
            if len(new) > 1 and j % every == 0:
                _note(bar, f"bounding chunks {j:,}/{len(new):,}")
            tiles[c] = scorer.fused_bounds(space, *bounds(c), table, threads)
        if len(group) > 1:
            _note(bar, "best bound first")
        yield from ((c, tiles[c]) for c in best_bound_first(group, tiles))


def score_chunk(space, scorer: Scorer, start: int, stop: int, k: int, descriptors, table: str,
                threads=None, fused: bool = True, floor: float | None = None,
                tiles=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Score ranks [start, stop) and return its top-k (scores, ranks, n_passing).

    The scorer's fused top-k pass is used when it has one (the mixture model on a lattice: scores
    bitwise those of the general path for palettes of up to 16 elements), else its
    `lattice_columns` (ranks scored in C++ without decoding), else the general path: decode,
    featurize `descriptors`, `scorer.columns`. `fused=False` forces the general path. `floor`: the
    worst score of the full top-k this part will be merged into (rows below it may be left out of
    the part; the merge is the same). `tiles`: the scorer's `fused_bounds` of [start, stop) (None: none)."""
    if fused:
        extra = {} if tiles is None else {"tiles": tiles}
        part = scorer.fused_topk(space, start, stop, k, table, threads, floor=floor, **extra)
        if part is not None:
            return part
    cols = scorer.lattice_columns(space, start, stop, table, threads) if fused else None
    if cols is None:
        batch = space.decode(start, stop, threads=threads)
        cols = scorer.columns(batch, featurize_chunk(batch, descriptors, table, threads))
    idx = np.flatnonzero(scorer.keep_mask(cols))
    s, r = select(cols[scorer.name][idx], idx.astype(np.int64) + start, k)
    return s, r, int(idx.size)


def report_rows(space, scorer: Scorer, ranks: np.ndarray, descriptors, table, threads) -> pd.DataFrame:
    """Decode the final top-k (space indices `ranks`, best first) and recompute their descriptors and
    every score column. Columns: ``rank`` (position in the ranking, 1 = best), ``lattice_index``
    (the composition's index in the space, `space.rank` of it), formula, scores, ``x_<El>``
    fractions, descriptors."""
    import pandas as pd

    if len(ranks) == 0:
        return pd.DataFrame(columns=["rank", "lattice_index", "formula", scorer.name])
    batch = decode_ranks(space, ranks, threads)  # a lattice: every rank decoded in one C++ call
    from hea_fast.features import featurize

    desc_all = featurize(batch, table=table, threads=threads, errors="raise")
    cols = scorer.columns(batch, desc_all if descriptors is None else desc_all[list(descriptors)])
    out = pd.DataFrame({"rank": np.arange(1, len(ranks) + 1, dtype=np.int64),
                        "lattice_index": np.asarray(ranks, dtype=np.int64), "formula": batch.formulas()})
    frac = pd.DataFrame(batch.fractions, columns=list(batch.elements))
    return pd.concat([out, pd.DataFrame(dict(cols)), frac.add_prefix("x_"), desc_all.reset_index(drop=True)],
                     axis=1)

