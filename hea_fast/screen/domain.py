"""The applicability domain in a screen: scored on a candidate pool, not on the whole space.

A phase model's domain (`hea_fast.phase.domain.ApplicabilityDomain`: known elements, training
fraction ranges, distance to the k nearest training alloys) is a k-NN query per composition, far too
slow for 10^9 compositions. So a screen whose scorer has a domain (`PhaseScorer`, or a `Combined`
that requires one) works in two stages:

1. **Everything** is scored by the fused pass (P(single phase), the threshold) and the best
   ``pool`` candidates are kept as an ordinary top-M (``pool = domain_pool``, default
   ``max(20 * top_k, 10_000)``; chunks, Dask merges and checkpoints carry this top-M). ``n_scored``
   and ``n_passing`` count the whole space.
2. **The pool** is decoded and its domain scored (`PhaseModel.domain_frame`) in score order, in
   batches (``2 * top_k`` candidates, then 4 times as many each time), until ``top_k`` in-domain
   candidates are found or the pool is exhausted: the candidates below are never needed, since the
   result takes the best ones. With ``include_out_of_domain=False`` (default) the result is the best
   ``top_k`` *in-domain* candidates of the pool, in score order; with True the best ``top_k`` of the
   pool whatever their domain (only those are examined). The rows carry ``in_domain``,
   ``domain_score`` and ``domain_reason`` either way.

Since the second stage needs only the pool's best ``2 * top_k`` candidates when they hold ``top_k``
in-domain ones (``top_k`` with ``include_out_of_domain``), a screen without a checkpoint first scans
for that many (`probe_size`; a top-k that small fills and prunes far sooner than the whole pool) and
scans again for the whole pool only when they do not settle the result (`select_in_domain(...,
settled_only=True)` returns None): the result and the summary are those of the whole pool either
way (tests/test_screen_phase.py). A checkpointed screen scans for the whole pool at once, so that
its file holds one run.

The summary (`ScreenResult.domain`, the JSON's ``"domain"``) reports the pool size, how many of its
best candidates were examined (``pool_examined``) and how many of those were in / out of domain, and
whether the pool held every passing composition. When fewer than ``top_k`` in-domain candidates were
found in a pool that did not hold every passing composition (the whole pool was then examined), a
warning says so and suggests a larger ``domain_pool``: in-domain alloys ranked below the pool are
never seen.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["DomainPoolWarning", "default_pool", "domain_scorer", "probe_size", "select_in_domain"]


class DomainPoolWarning(UserWarning):
    """Fewer in-domain candidates than asked were found in the screen's domain pool."""


def default_pool(top_k: int) -> int:
    """The default size of the domain pool: max(20 * top_k, 10,000)."""
    return max(20 * int(top_k), 10_000)


def domain_scorer(scorer):
    """The scorer (itself or one inside a `Combined`) that owns an applicability domain, or None."""
    for s in scorer.walk():
        if getattr(s, "has_domain", False):
            return s
    return None


def probe_size(top_k: int, include_out_of_domain: bool) -> int:
    """The first batch of `select_in_domain`: the pool's best top_k (include_out_of_domain) or 2 top_k."""
    return int(top_k) if include_out_of_domain else 2 * int(top_k)


def select_in_domain(space, owner, ranks: np.ndarray, scores: np.ndarray, top_k: int, n_passing: int,
                     include_out_of_domain: bool, threads=None, pool_size: int | None = None,
                     settled_only: bool = False):
    """From the pool (`ranks`, `scores`, best first) -> (ranks, scores, domain frame of the kept rows,
    summary dict). `owner.domain_frame(batch, threads)` scores the pool's domain.

    `pool_size`: the domain pool the screen asked for (None: len(ranks)); `ranks` may then be only its
    best `probe_size` candidates (a screen's cheap first scan): with `settled_only`, None is returned
    unless those settle the result — the first batch holds top_k in-domain ones, or
    include_out_of_domain, or they are every passing composition — in which case the result and the
    summary are exactly those of the whole pool."""
    import pandas as pd

    ranks = np.asarray(ranks, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    pool_size = len(ranks) if pool_size is None else int(pool_size)
    held = min(pool_size, int(n_passing))  # the pool's size: the best pool_size of the passing ones
    complete = pool_size >= n_passing  # the pool holds every composition that passed the thresholds
    if len(ranks) < held and len(ranks) < probe_size(top_k, include_out_of_domain):
        raise ValueError(f"{len(ranks)} candidates are fewer than the first batch of a pool of {pool_size}")
    frames, examined, n_in = [], 0, 0
    size = min(len(ranks), probe_size(top_k, include_out_of_domain))
    while examined < size:  # the best `size` candidates: top_k, or 2 top_k, 8 top_k, ... until top_k are in
        part = decode_ranks(space, ranks[examined:size], threads)
        frames.append(owner.domain_frame(part, threads=threads).reset_index(drop=True))
        n_in += int(frames[-1]["in_domain"].to_numpy(dtype=bool).sum())
        examined = size
        if include_out_of_domain or n_in >= top_k:
            break
        if settled_only and len(ranks) < held:  # the next batch lies beyond these candidates
            return None
        size = min(len(ranks), 4 * size)
    if frames:
        dom = pd.concat(frames, ignore_index=True)
    else:
        dom = pd.DataFrame({"in_domain": np.zeros(0, bool), "domain_score": np.zeros(0), "domain_reason": []})
    inside = dom["in_domain"].to_numpy(dtype=bool)
    keep = np.arange(examined) if include_out_of_domain else np.flatnonzero(inside)
    keep = keep[:top_k]
    info = {"pool": held, "pool_examined": int(examined), "pool_in_domain": n_in,
            "pool_out_of_domain": int(examined - n_in),
            "pool_holds_every_passing": bool(complete), "include_out_of_domain": bool(include_out_of_domain),
            "n_top_in_domain": int(inside[keep].sum()),
            "scored_on_everything": "p_single and the thresholds (n_scored, n_passing)",
            "scored_on_the_pool": "in_domain, domain_score (the k-NN applicability domain), on its best "
                                  "candidates in score order until top_k in-domain ones are found"}
    # fewer than top_k because fewer passed at all (every one of them in domain) is no domain matter
    if not include_out_of_domain and n_in < top_k and not (complete and n_in == held):
        if complete:
            msg = (f"only {n_in} of the {held:,} compositions that passed the thresholds are in the model's "
                   f"applicability domain (asked for {top_k}); include_out_of_domain=True / "
                   "--include-out-of-domain ranks the others too")
        else:
            msg = (f"only {n_in} in-domain candidates among the best {held:,} (the domain pool; asked for "
                   f"{top_k}): in-domain alloys ranked below the pool were not examined; pass a larger "
                   f"domain_pool / --domain-pool (e.g. {4 * held:,})")
        info["warning"] = msg
        warnings.warn(msg, DomainPoolWarning, stacklevel=3)
    return ranks[keep], scores[keep], dom.iloc[keep].reset_index(drop=True), info


def decode_ranks(space, ranks: np.ndarray, threads=None):
    """The compositions of space indices `ranks` as a CompositionBatch (one C++ call on a lattice)."""
    from hea_fast.composition import CompositionBatch

    if hasattr(space, "fractions_at"):
        fr = space.fractions_at(np.asarray(ranks, dtype=np.int64), threads=threads)
        return CompositionBatch(fractions=np.ascontiguousarray(fr), elements=tuple(space.elements))
    if hasattr(space, "batch"):  # an ExplicitSpace: its batch indexed at once
        return space.batch[np.asarray(ranks, dtype=np.int64)]
    rows = [space.decode(int(r), int(r) + 1, threads=1) for r in ranks]
    return CompositionBatch(fractions=np.ascontiguousarray(np.vstack([b.fractions for b in rows])),
                            elements=tuple(rows[0].elements))
