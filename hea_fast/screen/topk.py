"""Exact, order-independent top-k of (score, rank) pairs.

A top-k list is a triple (scores, ranks, n_passing), best first: higher score, then lower rank. The
rank tie-break makes the merge associative and commutative, so a screen's result is exactly the
same whatever the chunking, the number of workers or the order chunks finish in.

Here a "rank" is a composition's index in the space (`CompositionSpace.rank`), which the reported
rows call ``lattice_index``; their ``rank`` column is the position in the final ranking (1 = best).
"""
from __future__ import annotations

import numpy as np

__all__ = ["merge_topk", "merge_list", "select"]


def select(scores: np.ndarray, ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (highest score, then lowest rank) sorted best first."""
    if len(scores) > k:
        # partial selection on the score, then exact ordering with the rank tie-break
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        cand = np.flatnonzero(scores >= kth)  # includes every tie at the boundary
        scores, ranks = scores[cand], ranks[cand]
    order = np.lexsort((ranks, -scores))[:k]
    return scores[order], ranks[order]


def _is_ranked(scores: np.ndarray, ranks: np.ndarray) -> bool:
    """Whether (scores, ranks) are in top-k order already (higher score, then lower rank)."""
    a, b = scores[:-1], scores[1:]
    return bool(np.all((a > b) | ((a == b) & (ranks[:-1] < ranks[1:]))))


def merge_topk(*parts: tuple[np.ndarray, np.ndarray, int], k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge (scores, ranks, n_passing) triples into one top-k triple (associative, commutative)."""
    if not parts:
        return np.empty(0), np.empty(0, dtype=np.int64), 0
    parts = [(np.asarray(p[0], dtype=np.float64), np.asarray(p[1], dtype=np.int64), int(p[2])) for p in parts]
    n = int(sum(p[2] for p in parts))
    full = [p for p in parts if len(p[0]) >= k > 0]
    if full:  # rows scoring below a full list's worst score cannot enter (ties at it still may)
        base = max(full, key=lambda p: float(p[0].min()))
        worst = float(base[0].min())
        rest = [(p[0][p[0] >= worst], p[1][p[0] >= worst], 0) for p in parts if p is not base]
        if len(base[0]) == k and not any(len(p[0]) for p in rest) and _is_ranked(*base[:2]):
            return base[0], base[1], n  # the usual case of a screen's later chunks: nothing enters
        parts = [base, *rest]
    s = np.concatenate([p[0] for p in parts])
    r = np.concatenate([p[1] for p in parts]).astype(np.int64)
    s, r = select(s, r, k)
    return s, r, n


def merge_list(parts, k: int):
    """`merge_topk` of a list (the reduction task of a Dask screen)."""
    return merge_topk(*parts, k=k)
