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
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from hea_fast.composition import CompositionBatch, as_batch

__all__ = [
    "CompositionSpace",
    "ExplicitSpace",
    "Scorer",
    "DescriptorScorer",
    "MixtureScorer",
    "SSVAEScorer",
    "YieldScorer",
    "CNNYieldScorer",
    "Combined",
    "ScreenResult",
    "screen",
    "merge_topk",
]

_CHECKPOINT_VERSION = 1
DEFAULT_CHUNK_SIZE = 200_000
DEFAULT_CLUSTER_CHUNK_SIZE = 2_000_000
DEFAULT_GPU_CHUNK_SIZE = 20_000_000


# --------------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------------
# The lattice space is `hea_fast.lattice.CompositionSpace` (C++ ranking/unranking); re-exported here
# so `hea_fast.screen.CompositionSpace(elements, n_elements, step_percent, bounds, required, forbidden)`
# is the screening entry point the docs name.
from hea_fast.lattice import CompositionSpace  # noqa: E402


def _describe(space) -> dict:
    if hasattr(space, "spec"):
        return {"kind": "lattice", **space.spec()}
    if hasattr(space, "describe"):
        return space.describe()
    return {"kind": type(space).__name__, "size": len(space)}


class ExplicitSpace:
    """A given list of candidate compositions (formulas, dicts, DataFrame or CompositionBatch)."""

    def __init__(self, compositions: Any):
        self.batch = as_batch(compositions)
        self.elements = tuple(self.batch.elements)

    def __len__(self) -> int:
        return len(self.batch)

    def decode(self, start: int, stop: int, threads: int | None = None) -> CompositionBatch:
        return self.batch[start:stop]

    def describe(self) -> dict:
        import hashlib

        digest = hashlib.sha1(np.ascontiguousarray(self.batch.fractions).tobytes()).hexdigest()
        return {"kind": "explicit", "elements": list(self.elements), "size": len(self), "sha1": digest}


# --------------------------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------------------------
class Scorer:
    """Maps a chunk to named score columns.

    Subclasses set `name` (the score column), `descriptors` (descriptor names they need, or None)
    and implement `score(batch, desc) -> np.ndarray` (higher is better). `threshold` (optional)
    is a minimum the score must reach for a composition to be kept.
    """

    name: str = "score"
    descriptors: tuple[str, ...] | None = None
    threshold: float | None = None

    def score(self, batch: CompositionBatch, desc: pd.DataFrame | None) -> np.ndarray:
        raise NotImplementedError

    def columns(self, batch: CompositionBatch, desc: pd.DataFrame | None) -> dict[str, np.ndarray]:
        return {self.name: np.asarray(self.score(batch, desc), dtype=np.float64)}

    def needed_descriptors(self) -> tuple[str, ...]:
        return tuple(self.descriptors or ())

    def lattice_columns(self, space, start: int, stop: int, table: str, threads) -> dict[str, np.ndarray] | None:
        """Score columns of lattice ranks [start, stop) computed straight from the ranks in C++ (no
        decoded fractions, no descriptor frame), or None when this scorer has no such path."""
        return None


class DescriptorScorer(Scorer):
    """Any callable on the descriptor DataFrame, e.g. `lambda d: -d["delta"]`."""

    def __init__(self, fn: Callable[[pd.DataFrame], Any], name: str = "score",
                 descriptors: Sequence[str] | None = None, threshold: float | None = None):
        self.fn = fn
        self.name = name
        self.descriptors = tuple(descriptors) if descriptors is not None else None
        self.threshold = threshold

    def score(self, batch, desc):
        return np.asarray(self.fn(desc), dtype=np.float64)


class MixtureScorer(Scorer):
    """P(single phase) from a fitted `hea_fast.mixture.SparseMixtureClassifier`.

    method="probit" (default for screening) uses the posterior mean μ_c and covariance Σ_c of each
    cluster's weights and MacKay's probit approximation of the posterior predictive,
    p ≈ σ(aᵀμ_c / sqrt(1 + π aᵀΣ_c a / 8)) (MacKay 1992; Bishop PRML eq. 4.153): O(d²) per alloy
    instead of one sigmoid per posterior draw. tests/test_screen.py checks it against the model's
    Monte Carlo average over draws (`method="mc"`, the model's own predict_proba).
    """

    def __init__(self, model=None, name: str = "p_single", threshold: float | None = None, method: str = "probit",
                 engine: str = "cpp", threads=None):
        """model: a fitted SparseMixtureClassifier, a saved model directory, or None for the
        bundled default (trained on Singh 2023 by scripts/train_default_mixture.py).
        engine: "cpp" (fused C++ kernel, default) or "numpy" (its reference) for method="probit"."""
        if method not in ("probit", "mc"):
            raise ValueError(f"method must be 'probit' or 'mc', got {method!r}")
        if engine not in ("cpp", "numpy"):
            raise ValueError(f"engine must be 'cpp' or 'numpy', got {engine!r}")
        self.engine = engine
        self.threads = threads
        if model is None or isinstance(model, (str, os.PathLike)):
            from hea_fast.commands.screen import load_mixture

            model = load_mixture(model)
        self.model = model
        self.name = name
        self.threshold = threshold
        self.method = method
        names = list(getattr(model, "feature_names_in_", None) or ())
        if method == "mc":
            # the model's own predict_proba reads every descriptor it was fitted on
            self.descriptors = tuple(names) or None
            return
        # probit fast path: only the selected subset's descriptors are needed (clusters are formed in
        # the subset's standardized coordinates when cluster_on="subset")
        sub = [int(j) for j in model.subset_]
        cl = sub if getattr(model, "cluster_on", "subset") == "subset" else list(range(len(names)))
        cols = sorted(set(sub) | set(cl))
        self.descriptors = tuple(names[j] for j in cols)
        pos = {j: i for i, j in enumerate(cols)}
        self._sub = [pos[j] for j in sub]
        self._cl = [pos[j] for j in cl]
        mean, scale = model.standardizer_.mean, model.standardizer_.scale
        self._mean = np.asarray(mean, dtype=np.float64)[cols]
        self._scale = np.asarray(scale, dtype=np.float64)[cols]
        anchors = np.asarray(model.anchors_z_, dtype=np.float64)
        self._anchors = anchors[:, cl] if anchors.shape[0] > 1 else None
        self._mu = [np.asarray(D, dtype=np.float64).mean(axis=0) for D in model.coef_draws_]
        self._cov = [np.cov(np.asarray(D, dtype=np.float64), rowvar=False) for D in model.coef_draws_]

    def score(self, batch, desc):
        if self.method == "mc":
            cols = list(self.descriptors) if self.descriptors else list(desc.columns)
            return self.model.predict_proba(desc[cols])[:, 1]
        names = list(self.descriptors)
        # the screening loop hands over exactly these columns: no reindexing copy then
        frame = desc if list(desc.columns) == names else desc[names]
        X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
        if self.engine == "cpp":
            from hea_fast._backend import core

            return core.mixture_probit(X, *self._kernel_args(), threads=self.threads)
        return self._score_numpy(X)

    def _kernel_args(self):
        """The fused kernel's model arrays, built once (not per chunk)."""
        args = self.__dict__.get("_kernel_args_cache")
        if args is None:
            K = len(self._mu)
            anchors = self._anchors if self._anchors is not None else np.zeros((K, len(self._cl)))
            args = (self._mean, self._scale, np.asarray(self._cl, dtype=np.int64), anchors,
                    np.asarray(self._sub, dtype=np.int64), np.stack(self._mu), np.stack(self._cov))
            self._kernel_args_cache = args
        return args

    def lattice_columns(self, space, start, stop, table, threads):
        fused = _fused_args(space, self, table)
        if fused is None:
            return None
        from hea_fast._backend import core

        return {self.name: core.screen_mixture_scores(space._space, start, stop, *fused, threads=threads)}

    def _score_numpy(self, X):
        """NumPy reference of the fused C++ predictive (`engine="numpy"`)."""
        Z = (X - self._mean) / self._scale
        ok = np.isfinite(Z).all(axis=1)  # e.g. Λ = ΔS/δ² is inf for a pure element: never kept
        Z = np.where(ok[:, None], Z, 0.0)
        if self._anchors is None:
            lab = np.zeros(Z.shape[0], dtype=np.int64)
        else:  # nearest anchor, ties to the lower index (as hea_fast.mixture.search.nearest_anchor)
            Zc = Z[:, self._cl]
            # einsum (no BLAS): with 2-4 columns a threaded GEMM is slower than a plain loop and
            # stalls when the cores are busy
            d2 = (self._anchors * self._anchors).sum(axis=1)[None, :] - 2.0 * np.einsum("ij,kj->ik", Zc, self._anchors)
            lab = np.argmin(d2, axis=1)
        A = np.hstack([np.ones((Z.shape[0], 1)), Z[:, self._sub]])
        p = np.full(Z.shape[0], np.nan)
        for c in range(len(self._mu)):
            sel = (lab == c) & ok
            if not sel.any():
                continue
            a = A[sel]
            mean = np.einsum("ij,j->i", a, self._mu[c])
            var = np.einsum("ij,jk,ik->i", a, self._cov[c], a)
            p[sel] = 1.0 / (1.0 + np.exp(-mean / np.sqrt(1.0 + np.pi * var / 8.0)))
        return p


class SSVAEScorer(Scorer):
    """P(single phase) from the SSVAE classifier head (compositions outside its 30 elements get NaN
    and are never kept)."""

    def __init__(self, model, name: str = "p_single_ssvae", threshold: float | None = None):
        self.model = model
        self.name = name
        self.threshold = threshold

    def score(self, batch, desc):
        from hea_fast.ssvae import design

        return np.asarray(design.screen_proba(self.model, batch), dtype=np.float64)


class YieldScorer(Scorer):
    """Maresca–Curtin yield strength (MPa) at `temperature_K`. `threads`: kernel threads (None: all
    cores; Dask tasks run it with 1, see `_unpack_scorer`)."""

    def __init__(self, temperature_K: float, model: str = "two-regime", name: str | None = None,
                 threshold: float | None = None, threads: int | None = None):
        self.temperature_K = float(temperature_K)
        self.model = model
        self.name = name or f"sigma_y_{self.temperature_K:g}K_MPa"
        self.threshold = threshold
        self.threads = threads

    def score(self, batch, desc):
        from hea_fast.xyield import simulate

        return np.asarray(
            simulate.yield_strength(batch, self.temperature_K, model=self.model,
                                    threads=getattr(self, "threads", None)), dtype=np.float64
        ).reshape(len(batch))

    def lattice_columns(self, space, start, stop, table, threads):
        """σ_y by the X-Yield grid kernel (lattice ranks -> σ_y in one C++ pass) when every palette
        element has Maresca–Curtin inputs."""
        if not isinstance(space, CompositionSpace):
            return None
        inputs = _mc_palette_inputs(tuple(space.elements))
        if inputs is None:
            return None
        from hea_fast._backend import core
        from hea_fast.xyield.simulate import _check_model

        T = np.array([self.temperature_K])
        sig = core.mc_grid_sigma(space._space, start, stop, *inputs, T, _check_model(self.model),
                                 threads=threads if threads is not None else getattr(self, "threads", None))
        return {self.name: np.asarray(sig, dtype=np.float64).reshape(stop - start)}


@functools.lru_cache(maxsize=16)
def _mc_palette_inputs(elements: tuple):
    """(V, C11, C12, C44) of a palette for the grid kernel, or None when some element lacks them."""
    from hea_fast.xyield.simulate import element_inputs

    try:
        i = element_inputs(elements)
    except (KeyError, ValueError):
        return None
    arrays = tuple(np.ascontiguousarray(np.asarray(a, dtype=np.float64)) for a in (i.V, i.C11, i.C12, i.C44))
    if not all(np.isfinite(a).all() for a in arrays):
        return None
    for a in arrays:
        a.setflags(write=False)
    return arrays


class CNNYieldScorer(Scorer):
    """X-Yield CNN prediction (GPa) at `temperature_K` from a trained `hea_fast.xyield.cnn` model."""

    def __init__(self, model, temperature_K: float, name: str | None = None, threshold: float | None = None):
        self.model = model
        self.temperature_K = float(temperature_K)
        self.name = name or f"cnn_ys_{self.temperature_K:g}K_GPa"
        self.threshold = threshold

    def score(self, batch, desc):
        from hea_fast.xyield import protocol

        return np.asarray(protocol.predict(self.model, batch, self.temperature_K), dtype=np.float64)


class Combined(Scorer):
    """Rank by one scorer while requiring others to pass their thresholds, e.g.
    `Combined(YieldScorer(1300), require=[MixtureScorer(model, threshold=0.75)])`."""

    def __init__(self, rank_by: Scorer, require: Sequence[Scorer] = ()):
        self.rank_by = rank_by
        self.require = list(require)
        self.name = rank_by.name
        self.threshold = rank_by.threshold
        for r in self.require:
            if r.threshold is None:
                raise ValueError(f"required scorer {r.name!r} has no threshold")

    def needed_descriptors(self):
        out: list[str] = []
        for s in [self.rank_by, *self.require]:
            out.extend(s.needed_descriptors())
        return tuple(dict.fromkeys(out))

    def columns(self, batch, desc):
        """The required scorers on every row, then `rank_by` only on the rows that pass them (NaN
        elsewhere, which `_keep_mask` drops anyway): an expensive ranking score (a yield model, a
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
        for s in [*self.require, self.rank_by]:
            part = s.lattice_columns(space, start, stop, table, threads)
            if part is None:
                return None
            cols.update(part)
        return cols

    def keep_mask(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        keep = np.ones(len(next(iter(cols.values()))), dtype=bool)
        for r in self.require:
            keep &= cols[r.name] >= r.threshold
        return keep


def _as_scorer(scorer) -> Scorer:
    if isinstance(scorer, Scorer):
        return scorer
    if callable(scorer):
        return DescriptorScorer(scorer)
    raise TypeError(f"scorer must be a hea_fast.screen.Scorer or a callable on descriptors, got {type(scorer)!r}")


def _keep_mask(scorer: Scorer, cols: dict[str, np.ndarray]) -> np.ndarray:
    primary = cols[scorer.name]
    keep = np.isfinite(primary)
    if scorer.threshold is not None:
        keep &= primary >= scorer.threshold
    if isinstance(scorer, Combined):
        keep &= scorer.keep_mask(cols)
    return keep


# --------------------------------------------------------------------------------------------
# Top-k reduction (exact and order-independent)
# --------------------------------------------------------------------------------------------
def _select_topk(scores: np.ndarray, ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (highest score, then lowest rank) sorted best first."""
    if len(scores) > k:
        # partial selection on the score, then exact ordering with the rank tie-break
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        cand = np.flatnonzero(scores >= kth)  # includes every tie at the boundary
        scores, ranks = scores[cand], ranks[cand]
    order = np.lexsort((ranks, -scores))[:k]
    return scores[order], ranks[order]


def merge_topk(*parts: tuple[np.ndarray, np.ndarray, int], k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge (scores, ranks, n_passing) triples into one top-k triple (associative, commutative)."""
    if not parts:
        return np.empty(0), np.empty(0, dtype=np.int64), 0
    s = np.concatenate([p[0] for p in parts])
    r = np.concatenate([p[1] for p in parts]).astype(np.int64)
    n = int(sum(p[2] for p in parts))
    s, r = _select_topk(s, r, k)
    return s, r, n


def _merge_list(parts, k):
    return merge_topk(*parts, k=k)


def _featurize(batch: CompositionBatch, descriptors, table: str, threads):
    if descriptors == ():
        return None
    from hea_fast.features import featurize, featurize_array

    if descriptors is None:
        return featurize(batch, table=table, threads=threads)
    names = list(descriptors)
    fast = _palette_kernel_inputs(tuple(batch.elements), tuple(names), table)
    if fast is not None and len(batch.fractions):
        # lattice chunks all share the palette: element data prepared once per (palette, descriptors)
        from hea_fast._backend import core

        props, H, gas, log_offset, cols = fast
        arr = core.descriptors(np.ascontiguousarray(batch.fractions, dtype=np.float64), props, H, gas, log_offset,
                               threads=threads, columns=cols)
    else:
        arr = featurize_array(batch, descriptors=names, table=table, threads=threads)
    return pd.DataFrame(arr, columns=names, copy=False)


@functools.lru_cache(maxsize=32)
def _palette_kernel_inputs(elements: tuple, names: tuple, table: str):
    """(props, H, R, log offset, column indices) for `names` over a whole palette, or None when some
    palette element lacks data a descriptor needs (then each chunk is prepared on its own, so
    chunks without that element still work, as `featurize_array` does)."""
    from hea_fast.elements import ElementDataError
    from hea_fast.features import _INDEX, _prepare, _resolve

    try:
        _, resolved, tab = _resolve(list(names), table)
        props, H = _prepare(np.ones((1, len(elements))), elements, resolved, tab)
    except (ElementDataError, ValueError):
        return None
    for a in (props, H):
        a.setflags(write=False)
    return props, H, tab.gas_constant, tab.log_offset, [_INDEX[n] for n in resolved]


def _fused_args(space, scorer: Scorer, table: str):
    """Arguments of `core.screen_mixture_topk` when the chunk can take the fused C++ kernel (a
    lattice space scored by a MixtureScorer with the probit predictive and the C++ engine, every
    palette element with finite descriptor data), else None."""
    if not (isinstance(space, CompositionSpace) and type(scorer) is MixtureScorer and scorer.method == "probit"
            and scorer.engine == "cpp"):
        return None
    palette = _fused_palette_inputs(tuple(space.elements), tuple(scorer.descriptors), table)
    return None if palette is None else (*palette, *scorer._kernel_args())


@functools.lru_cache(maxsize=32)
def _fused_palette_inputs(elements: tuple, names: tuple, table: str):
    """The palette half of `_fused_args` (props, H, R, log offset, int32 columns), checked once per
    (palette, descriptors): None unless every property and enthalpy is finite (the fused kernel
    has no per-row fallback for missing element data)."""
    fast = _palette_kernel_inputs(elements, names, table)
    if fast is None or not all(np.isfinite(a).all() for a in fast[:2]):
        return None
    props, H, gas, log_offset, cols = fast
    cols = np.asarray(cols, dtype=np.int32)
    cols.setflags(write=False)
    return props, H, gas, log_offset, cols


def _score_chunk(space, scorer: Scorer, start: int, stop: int, k: int, descriptors, table: str,
                 threads=None, fused: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """Score ranks [start, stop) and return its top-k (scores, ranks, n_passing).

    Lattice spaces scored by the mixture model go through one fused C++ pass (decode, the model's
    descriptors, probit predictive, top-k; `core.screen_mixture_topk`) whose scores are bitwise those
    of the general path below for palettes of up to 16 elements (tests/test_screen.py); `fused=False`
    forces the general path. Scorers with a `lattice_columns` path (the mixture model, the
    Maresca–Curtin yield, `Combined` of such) score the ranks in C++ without decoding them."""
    args = _fused_args(space, scorer, table) if fused else None
    if args is not None:
        from hea_fast._backend import core

        s, r, n = core.screen_mixture_topk(space._space, start, stop, *args, threshold=scorer.threshold, k=k,
                                           threads=threads)
        return s, r, int(n)
    cols = scorer.lattice_columns(space, start, stop, table, threads) if fused else None
    if cols is None:
        batch = space.decode(start, stop, threads=threads)
        desc = _featurize(batch, descriptors, table, threads)
        cols = scorer.columns(batch, desc)
    keep = _keep_mask(scorer, cols)
    idx = np.flatnonzero(keep)
    scores = cols[scorer.name][idx]
    ranks = idx.astype(np.int64) + start
    s, r = _select_topk(scores, ranks, k)
    return s, r, int(idx.size)


class _CudaScreen:
    """The fused screen on a GPU: `cuda.screen_mixture_scores` scores a rank range (one thread per
    composition, the row functions of the host reference `core.screen_mixture_scores`), torch
    picks the candidates on the device and the exact (score, rank) top-k runs on those few on the
    host. Element data and the model are uploaded once."""

    def __init__(self, space, scorer: Scorer, table: str):
        import torch

        from hea_fast._backend import cuda_module

        fused = _fused_args(space, scorer, table)
        if fused is None:
            raise ValueError("device='cuda' screening takes a MixtureScorer (method='probit', engine='cpp') on a "
                             f"CompositionSpace with element data for every palette element; got {type(scorer).__name__} "
                             f"on {type(space).__name__}")
        from hea_fast._backend import core

        core.screen_mixture_scores(space._space, 0, 0, *fused)  # host validation of every array
        props, H, gas, log_offset, cols, mean, scale, cl, anchors, sub, mu, cov = fused
        dev = torch.device("cuda")

        def up(a, dtype=torch.float64):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=dev)

        K = int(mu.shape[0])
        a2 = (np.asarray(anchors) ** 2).sum(axis=1) if K > 1 else np.zeros(K)
        self._t = {"props": up(props), "pair": up(H), "columns": up(cols, torch.int32), "mean": up(mean),
                   "scale": up(scale), "cl": up(cl, torch.int64), "anchors": up(anchors), "sub": up(sub, torch.int64),
                   "mu": up(mu), "cov": up(cov), "a2": up(a2)}
        self._sizes = {"n_columns": len(cols), "K": K, "n_cl": len(cl), "n_sub": len(sub)}
        self._params = (float(gas), float(log_offset))
        self._lattice = space._device_lattice()
        self._cuda = cuda_module()
        self.threshold = scorer.threshold

    def scores(self, start: int, stop: int):
        """P(single phase) of ranks [start, stop) as a CUDA float64 tensor."""
        import torch

        from hea_fast._backend import cuda_empty

        n = stop - start
        out = cuda_empty((n,), torch.float64)
        t, z = self._t, self._sizes
        self._cuda.screen_mixture_scores(
            self._lattice, start, n, t["props"].data_ptr(), t["pair"].data_ptr(), *self._params,
            t["columns"].data_ptr(), z["n_columns"], t["mean"].data_ptr(), t["scale"].data_ptr(), z["K"], z["n_cl"],
            t["cl"].data_ptr(), t["anchors"].data_ptr(), z["n_sub"], t["sub"].data_ptr(), t["mu"].data_ptr(),
            t["cov"].data_ptr(), t["a2"].data_ptr(), out.data_ptr(), torch.cuda.current_stream().cuda_stream)
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
        s, r = _select_topk(out[cand].cpu().numpy(), cand.cpu().numpy().astype(np.int64) + start, k)
        return s, r, n_pass


@functools.lru_cache(maxsize=4)
def _unpack_scorer(blob: bytes) -> Scorer:
    """The scorer of a Dask task, unpickled once per worker process. A worker runs one task per
    thread, so scorers with their own kernel threads (`threads` attribute) get one each."""
    import cloudpickle

    scorer = cloudpickle.loads(blob)
    stack = [scorer]
    while stack:
        s = stack.pop()
        if hasattr(s, "threads"):
            s.threads = 1
        if isinstance(s, Combined):
            stack.extend([s.rank_by, *s.require])
    return scorer


def _score_chunk_packed(space, scorer_blob: bytes, *args):
    """`_score_chunk` on a Dask worker, the scorer arriving as cloudpickle bytes (unpickled once
    per worker process)."""
    return _score_chunk(space, _unpack_scorer(scorer_blob), *args)


# --------------------------------------------------------------------------------------------
# Results and checkpoints
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ScreenResult:
    """`top`: the best compositions (rank, formula, fractions, descriptors, scores), best first.
    `n_scored`: compositions scored; `n_passing`: those meeting every threshold."""

    top: pd.DataFrame
    n_scored: int
    n_passing: int
    elapsed_s: float
    space: dict
    score_name: str

    @property
    def throughput(self) -> float:
        return self.n_scored / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def to_parquet(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        self.top.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path

    def summary(self) -> dict:
        return {
            "space": self.space,
            "score": self.score_name,
            "n_scored": self.n_scored,
            "n_passing": self.n_passing,
            "n_top": len(self.top),
            "elapsed_s": round(self.elapsed_s, 3),
            "compositions_per_s": round(self.throughput, 1),
        }


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class _Checkpoint:
    """Finished chunk ids + merged top-k, in one JSON file (small: k entries)."""

    def __init__(self, path: str | os.PathLike | None, fingerprint: dict):
        self.path = Path(path) if path else None
        self.fingerprint = fingerprint
        self.done: set[int] = set()
        self.state = (np.empty(0), np.empty(0, dtype=np.int64), 0)
        self._last = 0.0

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        data = json.loads(self.path.read_text())
        if data.get("version") != _CHECKPOINT_VERSION or data.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} belongs to a different screening run (space, scorer, chunk size "
                "or top_k differ); delete it or choose another --checkpoint path"
            )
        self.done = set(data["done"])
        self.state = (
            np.asarray(data["scores"], dtype=np.float64),
            np.asarray(data["ranks"], dtype=np.int64),
            int(data["n_passing"]),
        )

    def save(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 5.0:
            return
        self._last = now
        s, r, n = self.state
        payload = {
            "version": _CHECKPOINT_VERSION,
            "fingerprint": self.fingerprint,
            "done": sorted(self.done),
            "scores": [float(x) for x in s],
            "ranks": [int(x) for x in r],
            "n_passing": int(n),
        }
        _atomic_write_bytes(self.path, json.dumps(payload).encode())


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------
def screen(
    space,
    scorer,
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
) -> ScreenResult:
    """Screen `space` with `scorer` and return the `top_k` compositions.

    `threshold` (if given) overrides the scorer's own minimum. `chunk_size`: ranks per chunk (per
    Dask task); default 200,000 locally, 2,000,000 on a cluster, 20,000,000 on a GPU. `descriptors` limits featurization
    (default: what the scorer needs, or all descriptors when it does not say); the reported rows
    carry every descriptor. `client`: a dask.distributed.Client to run chunks on a cluster.
    `checkpoint`: a JSON path that makes the run resumable. `max_chunks` stops after that many new
    chunks (the checkpoint then resumes the rest), which is how interruption is tested.
    `device="cuda"` scores chunks on the GPU (a MixtureScorer on a CompositionSpace; scores agree
    with the CPU to rounding); "auto" uses the GPU when one is visible and the scorer supports it.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    auto_chunk = chunk_size is None
    if auto_chunk:
        # a cluster task should carry ~0.1 s of fused work, far above Dask's ~1 ms per-task overhead
        chunk_size = DEFAULT_CHUNK_SIZE if client is None else DEFAULT_CLUSTER_CHUNK_SIZE
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    scorer = _as_scorer(scorer)
    if threshold is not None:
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        scorer.threshold = float(threshold)
    if descriptors is None:
        need = scorer.needed_descriptors()
        descriptors = need if need else None
    gpu = None
    want = str(device).lower()
    if want != "cpu":
        from hea_fast._backend import cuda_available, resolve_device

        if want == "auto":
            use = client is None and cuda_available() and _fused_args(space, scorer, table) is not None
        else:
            use = resolve_device(device) == "cuda"  # raises with the reason when CUDA is unavailable
            if use and client is not None:
                raise ValueError("device='cuda' runs on this process's GPU; it cannot be combined with client=")
        if use:
            gpu = _CudaScreen(space, scorer, table)
            if auto_chunk:  # a launch per 200 k ranks would leave a GPU mostly idle
                chunk_size = DEFAULT_GPU_CHUNK_SIZE
    n_total = len(space)
    n_chunks = (n_total + chunk_size - 1) // chunk_size
    desc_space = _describe(space)
    fingerprint = {
        "space": desc_space,
        "scorer": type(scorer).__name__,
        "score": scorer.name,
        "threshold": scorer.threshold,
        "chunk_size": chunk_size,
        "top_k": top_k,
    }
    if gpu is not None:  # GPU scores agree with the CPU's to rounding only: do not mix them in one run
        fingerprint["device"] = "cuda"
    ck = _Checkpoint(checkpoint, fingerprint)
    ck.load()
    todo = [c for c in range(n_chunks) if c not in ck.done]
    if max_chunks is not None:
        todo = todo[:max_chunks]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_total, initial=min(n_total, len(ck.done) * chunk_size), unit="comp",
                   unit_scale=True, desc="screen", smoothing=0.1)

    t0 = time.perf_counter()
    n_new = 0

    def bounds(c):
        return c * chunk_size, min(n_total, (c + 1) * chunk_size)

    try:
        if client is None:
            for c in todo:
                a, b = bounds(c)
                if gpu is not None:
                    part = gpu(a, b, top_k)
                else:
                    part = _score_chunk(space, scorer, a, b, top_k, descriptors, table, threads)
                ck.state = merge_topk(ck.state, part, k=top_k)
                ck.done.add(c)
                n_new += b - a
                if bar is not None:
                    bar.update(b - a)
                ck.save()
        else:
            n_new = _screen_dask(client, space, scorer, todo, bounds, top_k, descriptors, table, ck, bar,
                                 merge_fan_in)
    finally:
        ck.save(force=True)
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0

    scores, ranks, n_passing = ck.state
    top = _report_rows(space, scorer, ranks, descriptors, table, threads)
    if len(ranks):
        # the score the ranking used (the fused kernel's, bitwise the general path's for palettes of
        # up to 16 elements, within rounding beyond), so the reported order is the column's order
        top[scorer.name] = scores
    n_scored = sum(bounds(c)[1] - bounds(c)[0] for c in ck.done)
    return ScreenResult(top=top, n_scored=n_scored, n_passing=n_passing, elapsed_s=elapsed,
                        space=desc_space, score_name=scorer.name)


def _screen_dask(client, space, scorer, todo, bounds, top_k, descriptors, table, ck, bar, fan_in) -> int:
    """Chunks as Dask tasks; groups of `fan_in` chunks merge on the cluster, groups merge up a tree.
    Group results are folded into the checkpoint as they finish (so a rerun resumes)."""
    from dask.distributed import as_completed

    import cloudpickle

    space_f = client.scatter(space, broadcast=True)
    # cloudpickle, not plain pickle: a scoring function defined in a notebook or in a module
    # registered with cloudpickle.register_pickle_by_value travels by value to the workers
    scorer_f = client.scatter(cloudpickle.dumps(scorer), broadcast=True)
    groups = [todo[i:i + fan_in] for i in range(0, len(todo), fan_in)]
    group_futs = {}
    chunk_futs = []
    for g in groups:
        futs = []
        for c in g:
            a, b = bounds(c)
            f = client.submit(_score_chunk_packed, space_f, scorer_f, a, b, top_k, descriptors, table, 1,
                              key=f"hea-screen-chunk-{c}-{a}-{b}-{id(ck)}", retries=2)
            futs.append(f)
            chunk_futs.append((f, b - a))
        gf = client.submit(_merge_list, futs, top_k, key=f"hea-screen-merge-{g[0]}-{g[-1]}-{id(ck)}", retries=2)
        group_futs[gf.key] = (gf, g)
    sizes = {f.key: n for f, n in chunk_futs}
    n_new = 0
    pending_groups = {gf.key: (gf, g) for gf, g in group_futs.values()}
    for fut in as_completed([f for f, _ in chunk_futs] + [gf for gf, _ in group_futs.values()]):
        if fut.key in sizes:
            if bar is not None:
                bar.update(sizes[fut.key])
            n_new += sizes[fut.key]
            continue
        gf, g = pending_groups.pop(fut.key)
        part = fut.result()
        ck.state = merge_topk(ck.state, part, k=top_k)
        ck.done.update(g)
        ck.save()
    return n_new


def _report_rows(space, scorer: Scorer, ranks: np.ndarray, descriptors, table, threads) -> pd.DataFrame:
    """Decode the final top-k ranks and recompute their descriptors and every score column."""
    if len(ranks) == 0:
        return pd.DataFrame(columns=["rank", "formula", scorer.name])
    order_cols = {}
    if hasattr(space, "fractions_at"):  # lattice: every rank decoded in one C++ call
        fr = space.fractions_at(np.asarray(ranks, dtype=np.int64), threads=threads)
        elements = tuple(space.elements)
    else:
        rows = [space.decode(int(r), int(r) + 1, threads=1) for r in ranks]
        fr = np.vstack([b.fractions for b in rows])
        elements = tuple(rows[0].elements)
    batch = CompositionBatch(fractions=np.ascontiguousarray(fr), elements=elements)
    from hea_fast.features import featurize

    desc_all = featurize(batch, table=table, threads=threads)
    desc_for_scorer = desc_all if descriptors is None else desc_all[list(descriptors)]
    cols = scorer.columns(batch, desc_for_scorer)
    out = pd.DataFrame({"rank": ranks.astype(np.int64), "formula": batch.formulas()})
    for k, v in cols.items():
        order_cols[k] = v
    frac = pd.DataFrame(batch.fractions, columns=list(batch.elements))
    out = pd.concat([out, pd.DataFrame(order_cols), frac.add_prefix("x_"), desc_all.reset_index(drop=True)],
                    axis=1)
    return out
