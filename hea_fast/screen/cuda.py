"""Screening on a GPU: the mixture model's fused screen as one CUDA thread per composition.

`cuda.screen_mixture_scores` scores a rank range with the row functions of its host reference
`core.screen_mixture_scores(method="row")`; torch picks the candidates on the device and the exact
(score, rank) top-k runs on those few on the host. Element data and the model are uploaded once.
"""
from __future__ import annotations

import math

import numpy as np

from hea_fast.screen.spaces import device_lattice, native_lattice
from hea_fast.screen.topk import select

__all__ = ["CudaMixtureScreen"]


class CudaMixtureScreen:
    """`(start, stop, k) -> (scores, ranks, n_passing)` on the GPU for `MixtureScorer.fused_args`
    arguments `fused` on the lattice `space`, keeping finite scores >= `threshold`."""

    def __init__(self, space, fused: tuple, threshold: float | None):
        import torch

        from hea_fast._backend import core, cuda_module, to_cuda

        core.screen_mixture_scores(native_lattice(space), 0, 0, *fused)  # host validation of every array
        props, H, gas, log_offset, cols, mean, scale, cl, anchors, sub, mu, cov = fused
        K = int(mu.shape[0])
        a2 = (np.asarray(anchors) ** 2).sum(axis=1) if K > 1 else np.zeros(K)
        def up(a, dtype=torch.float64):
            # a copy: the palette arrays are cached read-only, and torch warns on wrapping those
            return to_cuda(np.array(a), dtype)

        self._t = {"props": up(props), "pair": up(H), "columns": up(cols, torch.int32), "mean": up(mean),
                   "scale": up(scale), "cl": up(cl, torch.int64), "anchors": up(anchors), "sub": up(sub, torch.int64),
                   "mu": up(mu), "cov": up(cov), "a2": up(a2)}
        self._sizes = {"n_columns": len(cols), "K": K, "n_cl": len(cl), "n_sub": len(sub)}
        self._params = (float(gas), float(log_offset))
        self._lattice = device_lattice(space)
        self._cuda = cuda_module()
        self.threshold = threshold

    def scores(self, start: int, stop: int):
        """P(single phase) of ranks [start, stop) as a CUDA float64 tensor."""
        import torch

        from hea_fast._backend import cuda_empty, cuda_stream

        n = stop - start
        t, z = self._t, self._sizes
        out = cuda_empty((n,), torch.float64, t["mu"].device)
        self._cuda.screen_mixture_scores(
            self._lattice, start, n, t["props"].data_ptr(), t["pair"].data_ptr(), *self._params,
            t["columns"].data_ptr(), z["n_columns"], t["mean"].data_ptr(), t["scale"].data_ptr(), z["K"], z["n_cl"],
            t["cl"].data_ptr(), t["anchors"].data_ptr(), z["n_sub"], t["sub"].data_ptr(), t["mu"].data_ptr(),
            t["cov"].data_ptr(), t["a2"].data_ptr(), out.data_ptr(), cuda_stream(out.device))
        return out

    def __call__(self, start: int, stop: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        import torch

        out = self.scores(start, stop)
        ok = torch.isfinite(out)
        if self.threshold is not None:
            ok &= out >= self.threshold
        n_pass = int(ok.sum())
        if n_pass == 0:
            return np.empty(0), np.empty(0, dtype=np.int64), 0
        if n_pass > k:
            masked = torch.where(ok, out, torch.full_like(out, -math.inf))
            kth = torch.topk(masked, k).values[-1]
            cand = torch.nonzero(masked >= kth).squeeze(1)  # every tie at the boundary
        else:
            cand = torch.nonzero(ok).squeeze(1)
        s, r = select(out[cand].cpu().numpy(), cand.cpu().numpy().astype(np.int64) + start, k)
        return s, r, n_pass
