"""Resumable screens: the finished chunk ids and the merged top-k in one JSON checkpoint.

The file is a `hea_fast._io.Checkpoint` (written atomically at most every 5 s, and at the end); its
fingerprint covers the space, the scorer, the threshold, the chunk size, top_k and the device, so a
checkpoint of another run is refused with an error naming the file instead of being mixed in.
"""
from __future__ import annotations

import os

import numpy as np

from hea_fast._io import Checkpoint
from hea_fast.screen.topk import merge_topk

__all__ = ["ScreenCheckpoint"]

VERSION = 2  # 1: the former {"version", "fingerprint", "done", ...} layout of hea_fast/screen.py


class ScreenCheckpoint:
    """`done`: finished chunk ids; `state`: the merged top-k (scores, ranks, n_passing)."""

    def __init__(self, path: str | os.PathLike | None, run: dict, min_interval_s: float = 5.0):
        self._file = Checkpoint(path, run, version=VERSION, min_interval_s=min_interval_s,
                                what="screening checkpoint")
        self.done: set[int] = set()
        self.state = (np.empty(0), np.empty(0, dtype=np.int64), 0)

    @property
    def path(self):
        return self._file.path

    def load(self) -> None:
        """Resume from the file when there is one (raises `CheckpointError` for another run's)."""
        saved = self._file.load()
        if saved is None:
            return
        self.done = set(saved["done"])
        self.state = (np.asarray(saved["scores"], dtype=np.float64), np.asarray(saved["ranks"], dtype=np.int64),
                      int(saved["n_passing"]))

    def add(self, chunks, part, k: int) -> None:
        """Fold the top-k `part` of the chunk id(s) `chunks` into the state."""
        self.state = merge_topk(self.state, part, k=k)
        self.done.update([chunks] if isinstance(chunks, (int, np.integer)) else chunks)

    def floor(self, k: int) -> float | None:
        """The worst score of the merged top-k once it holds k hits (a chunk's rows scoring below it
        cannot enter), else None."""
        s = self.state[0]
        return float(s.min()) if len(s) >= k else None

    def save(self, force: bool = False) -> None:
        def payload():  # built only when the file is written (at most every min_interval_s)
            s, r, n = self.state
            return {"done": sorted(self.done), "scores": s.tolist(), "ranks": [int(x) for x in r],
                    "n_passing": int(n)}

        self._file.save(payload, force=force)
