"""`Combined` (rank by one scorer among compositions that pass others) and `as_scorer`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from hea_fast.screen.scorers import DescriptorScorer, Scorer

__all__ = ["Combined", "as_scorer"]


class Combined(Scorer):
    """Rank by one scorer while requiring others to pass their thresholds, e.g.
    `Combined(YieldScorer(1300), require=[MixtureScorer(model, threshold=0.75)])`."""

    def __init__(self, rank_by: Scorer, require: Sequence[Scorer] = ()):
        self.rank_by = rank_by
        self.require = list(require)
        self.name = rank_by.name
        for r in self.require:
            if r.threshold is None:
                raise ValueError(f"required scorer {r.name!r} has no threshold")
        names = [s.name for s in (rank_by, *self.require)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:  # their columns would overwrite each other
            raise ValueError(f"Combined needs distinct score names; {dup[0]!r} is used twice (pass name=...)")

    @property
    def threshold(self):
        """The ranking score's threshold: the ranking scorer's own (one value, whichever is set)."""
        return self.rank_by.threshold

    @threshold.setter
    def threshold(self, value):
        self.rank_by.threshold = value

    def needed_descriptors(self):
        out: list[str] = []
        for s in [self.rank_by, *self.require]:
            out.extend(s.needed_descriptors())
        return tuple(dict.fromkeys(out))

    def reads_descriptors(self):
        return any(s.reads_descriptors() for s in [self.rank_by, *self.require])

    def walk(self):
        yield self
        for s in [self.rank_by, *self.require]:
            yield from s.walk()

    def palette_gaps(self, elements, table):
        return list(dict.fromkeys(g for s in [self.rank_by, *self.require] for g in s.palette_gaps(elements, table)))

    def columns(self, batch, desc):
        """The required scorers on every row, then `rank_by` only on the rows that pass them (NaN
        elsewhere, which `keep_mask` drops anyway): an expensive ranking score (a yield model, a
        CNN) is not computed for alloys the phase filter already rejected."""
        cols: dict[str, np.ndarray] = {}
        keep = np.ones(len(batch), dtype=bool)
        for s in self.require:
            cols.update(s.columns(batch, desc))
            keep &= cols[s.name] >= s.threshold
        if keep.all():
            cols.update(self.rank_by.columns(batch, desc))
            return cols
        idx = np.flatnonzero(keep)
        sub = (self.rank_by.columns(batch[idx], None if desc is None else desc.iloc[idx].reset_index(drop=True))
               if idx.size else {self.rank_by.name: np.empty(0)})
        for name, v in sub.items():
            col = np.full(len(batch), np.nan)
            col[idx] = v
            cols[name] = col
        return cols

    def lattice_columns(self, space, start, stop, table, threads):
        cols: dict[str, np.ndarray] = {}
        # a requirement's side of its threshold is all keep_mask reads of it
        for method in [*(r.lattice_sides for r in self.require), self.rank_by.lattice_columns]:
            part = method(space, start, stop, table, threads)
            if part is None:  # the general path scores the chunk: stop here
                return None
            cols.update(part)
        return cols

    def keep_mask(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        keep = super().keep_mask(cols)
        for r in self.require:
            keep &= cols[r.name] >= r.threshold
        return keep


def as_scorer(scorer) -> Scorer:
    """A Scorer as is; a callable on the descriptor frame as a `DescriptorScorer`."""
    if isinstance(scorer, Scorer):
        return scorer
    if callable(scorer):
        return DescriptorScorer(scorer)
    raise TypeError(f"scorer must be a hea_fast.screen.Scorer or a callable on descriptors, got {type(scorer)!r}")
