"""The X-Yield grid and streaming whole-grid Maresca–Curtin simulation.

Grid (X-Yield): every ternary and quaternary alloy of a palette at 1 at.% steps and every quinary
to septenary alloy at 5 at.% steps (each element > 0), at 300–2500 K in 100 K steps. For the
10-element palette (Al, Cr, Hf, Mo, Nb, Ta, Ti, V, W, Zr) that is 40,194,882 compositions × 23
temperatures = 924,482,286 points; with Fe, 68,676,993 × 23 = 1,579,570,839.

Points are numbered `point = rank * n_temperatures + t` where `rank` is the composition's rank in the
simplex lattice (`hea_fast.lattice.CompositionSpace`) and `t` the temperature index. Yield strengths
are σ_y in MPa (Maresca–Curtin 2020, see `hea_fast.xyield.maresca_curtin`), temperatures in K.

`simulate_grid` streams rank chunks through the fused C++ kernel (enumerate → σ_y → reduce) with
flat memory and returns reductions instead of rows: a uniform random sample of N points (seeded,
drawn by rank so it never enumerates the grid), per-temperature count/mean/std/max and top-k,
per-system (element subset) × temperature maxima, and per-temperature histograms. It shows a
progress bar, checkpoints after every chunk (an .npz written atomically with `hea_fast._io.atomic_path`,
keyed by a `hea_fast._io.fingerprint` of the grid, model and reductions) and resumes from it. With
`client=` (dask.distributed) the rank chunks run as tasks on the cluster and their partial
reductions merge in chunk order, giving exactly the local result.
"""
from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hea_fast._backend import core, cuda_empty, cuda_module, cuda_stream, resolve_device
from hea_fast._io import CheckpointError, atomic_path, fingerprint
from hea_fast.lattice import CompositionSpace
from hea_fast.xyield.maresca_curtin import DEFAULT_MODEL, check_model, element_inputs

__all__ = [
    "XYIELD_PALETTE",
    "XYIELD_PARTS",
    "XYIELD_TEMPERATURES_K",
    "XYieldGrid",
    "GridSummary",
    "simulate_grid",
]

XYIELD_PALETTE = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
XYIELD_PARTS = ((3, 1), (4, 1), (5, 5), (6, 5), (7, 5))  # (n_elements, step at.%)
XYIELD_TEMPERATURES_K = tuple(range(300, 2600, 100))


class XYieldGrid:
    """The X-Yield grid over `elements` at `temperatures_K`.

    `parts` lists (n_elements, step at.%) in rank order (default: 3–4 at 1 %, 5–7 at 5 %);
    `volumes` (dict element -> Å³) overrides the table's atomic volumes.
    """

    def __init__(self, elements=XYIELD_PALETTE, temperatures_K=XYIELD_TEMPERATURES_K, parts=XYIELD_PARTS,
                 volumes=None):
        self.space = CompositionSpace.from_parts(elements, parts)
        T = np.ascontiguousarray(np.asarray(list(temperatures_K), dtype=np.float64).reshape(-1))
        if T.size == 0:
            raise ValueError("temperatures_K is empty")
        bad = ~np.isfinite(T) | (T < 0)
        if bad.any():
            raise ValueError(f"temperatures_K must be finite and >= 0 K, got {T[bad][0]!r}")
        self.temperatures_K = T
        self.volumes = dict(volumes or {})
        self.inputs = element_inputs(self.space.elements, self.volumes)
        missing = [e for e, c in zip(self.space.elements, self.inputs.C11) if not np.isfinite(c)]
        if missing:
            raise ValueError(f"element(s) {missing} have no elastic constants in the Maresca-Curtin table")

    @property
    def elements(self) -> tuple:
        return self.space.elements

    @property
    def n_compositions(self) -> int:
        return len(self.space)

    @property
    def n_temperatures(self) -> int:
        return int(self.temperatures_K.size)

    def __len__(self) -> int:
        return self.n_compositions * self.n_temperatures

    def __repr__(self):
        return (f"XYieldGrid(elements={self.elements}, {self.n_compositions:,} compositions x "
                f"{self.n_temperatures} temperatures = {len(self):,} points)")

    def spec(self) -> dict:
        return {"space": self.space.spec(), "temperatures_K": self.temperatures_K.tolist(),
                "volumes": {k: float(v) for k, v in sorted(self.volumes.items())}}

    def _kernel_args(self):
        i = self.inputs
        return i.V, i.C11, i.C12, i.C44

    # -- evaluation ---------------------------------------------------------------------------
    def sigma(self, start=None, stop=None, model: str = DEFAULT_MODEL, threads=None, device="cpu"):
        """(n, n_temperatures) σ_y (MPa) of compositions with ranks [start, stop): NumPy, or a CUDA
        torch tensor computed by the fused GPU kernel with device='cuda'."""
        s, c = self.space.check_range(start, stop)
        if resolve_device(device) == "cuda":
            import torch

            out = cuda_empty((c, self.n_temperatures), torch.float64)
            cuda_module().mc_grid_sigma(self.space.device_space(), s, s + c, *self._kernel_args(),
                                        self.temperatures_K, check_model(model), out.data_ptr(), cuda_stream())
            return out
        return core.mc_grid_sigma(self.space.core_space, s, s + c, *self._kernel_args(), self.temperatures_K,
                                  check_model(model), threads=threads)

    def sigma_at(self, points, model: str = DEFAULT_MODEL, threads=None) -> np.ndarray:
        """σ_y (MPa) at point indices (rank * n_temperatures + t)."""
        p = np.ascontiguousarray(np.asarray(points, dtype=np.int64).reshape(-1))
        return core.mc_grid_points(self.space.core_space, p, *self._kernel_args(), self.temperatures_K,
                                   check_model(model), threads=threads)

    def points_frame(self, points, sigma=None, threads=None):
        """DataFrame of points: element fractions, n_elements, system, T_K, rank, point (+ yield_MPa)."""
        import pandas as pd

        p = np.asarray(points, dtype=np.int64).reshape(-1)
        ranks, t = np.divmod(p, self.n_temperatures)
        frac = self.space.fractions_at(ranks, threads=threads)
        df = pd.DataFrame(frac, columns=list(self.elements))
        df["n_elements"] = (frac > 0).sum(axis=1).astype(np.int64)
        df["system"] = self.space.system_of(ranks) if len(p) else np.zeros(0, np.int64)
        df["T_K"] = self.temperatures_K[t]
        df["rank"] = ranks
        df["point"] = p
        if sigma is not None:
            df["yield_MPa"] = np.asarray(sigma, dtype=np.float64)
        return df

    def sample(self, n: int, seed: int = 0, model: str = DEFAULT_MODEL, threads=None):
        """`n` distinct points drawn uniformly from the grid (seeded), with σ_y (MPa), as a DataFrame
        sorted by point index. Costs O(n): points are drawn by index and decoded, never enumerated."""
        n = int(n)
        if not (0 <= n <= len(self)):
            raise ValueError(f"cannot draw {n} distinct points from a grid of {len(self):,}")
        rng = np.random.default_rng(seed)
        pts = np.sort(rng.choice(len(self), size=n, replace=False)).astype(np.int64)
        return self.points_frame(pts, self.sigma_at(pts, model, threads), threads)


# ---------------------------------------------------------------------------------------------
@dataclass
class GridSummary:
    """Reductions of a whole-grid simulation (σ_y in MPa, T in K)."""

    grid: XYieldGrid
    model: str
    per_temperature: object  # DataFrame: T_K, count, mean_MPa, std_MPa, max_MPa, argmax_point, argmax_formula
    per_system: object  # DataFrame or None: system, elements, n_elements, T_K, max_MPa, argmax_point, argmax_formula
    histogram: object  # DataFrame or None: T_K, bin_lo_MPa, bin_hi_MPa, count (first/last rows: under/overflow)
    topk: object  # DataFrame or None: T_K, position, yield_MPa, point, rank + composition columns
    sample: object = None  # DataFrame or None
    complete: bool = True
    points_done: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def write_parquet(self, path, tables=("per_temperature", "per_system", "histogram", "topk", "sample")):
        """Write the first available table in `tables` to `path` and the others next to it as
        `<stem>.<table>.parquet` (each atomically, `hea_fast._io.atomic_path`). Returns the written paths."""
        path = Path(path)
        avail = [t for t in tables if getattr(self, t) is not None]
        if not avail:
            raise ValueError("nothing to write: no reduction was requested")
        written = []
        for i, name in enumerate(avail):
            target = path if i == 0 else path.with_name(f"{path.stem}.{name}{path.suffix or '.parquet'}")
            with atomic_path(target) as tmp:
                getattr(self, name).to_parquet(tmp, index=False)
            written.append(target)
        return written


def _formula(frac_row, elements):
    return "".join(f"{e}{round(100 * f, 3):g}" for e, f in zip(elements, frac_row) if f > 0)


def simulate_grid(grid: XYieldGrid | None = None, *, model: str = DEFAULT_MODEL, sample: int = 0, seed: int = 0,
                  topk: int = 10, per_system: bool = True, stats: bool = True, hist_bins: int = 250,
                  hist_range=(0.0, 5000.0), chunk_size: int = 1 << 21, rank_range=None, checkpoint=None,
                  progress: bool = True, threads=None, output=None, client=None) -> GridSummary:
    """Stream the whole grid (or `rank_range=(a, b)` of its compositions) and reduce.

    sample: number of points drawn uniformly (seeded) from the grid (0: none); the paper used 100,000.
    topk: per-temperature top-k points (0: none). per_system: per-system × temperature maxima.
    stats: per-temperature count/mean/std/max and histograms (`hist_bins` on `hist_range` MPa,
    plus under/overflow bins). chunk_size: compositions per streamed chunk (memory is O(chunk_size
    × n_temperatures) only for the sample, otherwise O(systems × temperatures)).
    checkpoint: path of a resumable state file (.npz), rewritten atomically after every chunk;
    a run with the same grid/model/reductions/chunking resumes from it; it is removed on success.
    A corrupt checkpoint, or one of another run, raises `hea_fast._io.CheckpointError` naming it.
    output: Parquet path to write (see `GridSummary.write_parquet`).
    client: a `dask.distributed.Client`; chunks then run as tasks on its workers and their partial
    reductions are merged here in chunk order, so the result equals the local one exactly.
    """
    import pandas as pd

    grid = grid if grid is not None else XYieldGrid()
    code = check_model(model)
    nT = grid.n_temperatures
    sp = grid.space
    a, b = (0, sp.size) if rank_range is None else (int(rank_range[0]), int(rank_range[1]))
    if not (0 <= a <= b <= sp.size):
        raise ValueError(f"rank_range {rank_range!r} is outside [0, {sp.size}]")
    hist_bins = int(hist_bins)
    if hist_bins < 1:
        raise ValueError(f"hist_bins must be >= 1, got {hist_bins}")
    h_lo, h_hi = (float(v) for v in hist_range)
    if not (np.isfinite(h_lo) and np.isfinite(h_hi) and h_hi > h_lo):
        raise ValueError(f"hist_range must be finite (lo, hi) in MPa with lo < hi, got {hist_range!r}")
    topk = int(topk)
    if topk < 0:
        raise ValueError(f"topk must be >= 0, got {topk}")
    sample = int(sample)
    if not (0 <= sample <= len(grid)):  # checked here: the sample is drawn after the (long) stream
        raise ValueError(f"cannot draw {sample} distinct points from a grid of {len(grid):,}")
    chunks = sp.chunks(chunk_size, a, b) if (stats or topk or per_system) else []
    nblk = sp.n_systems

    state = {
        "hist": np.zeros((nT, hist_bins + 2), np.int64),
        "tmax": np.full(nT, -np.inf), "targ": np.full(nT, -1, np.int64),
        "bmax": np.full((nblk, nT), -np.inf), "barg": np.full((nblk, nT), -1, np.int64),
        "tsum": np.zeros(nT), "tsum2": np.zeros(nT),
        "topv": np.full((nT, topk), -np.inf), "topi": np.full((nT, topk), -1, np.int64),
        "next_chunk": np.array(0, np.int64),
    }
    fp = fingerprint({"grid": grid.spec(), "model": model, "range": [a, b], "chunk": int(chunk_size),
                       "hist": [hist_bins, h_lo, h_hi], "topk": topk, "stats": bool(stats),
                       "per_system": bool(per_system)})
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.exists():
        _load_ckpt(ckpt, state, fp)
    t0 = time.perf_counter()
    done_pts = 0
    bar = None
    start_chunk = int(state["next_chunk"])
    if progress and chunks:
        from hea_fast._progress import progress_bar

        total = (b - a) * nT
        initial = (chunks[start_chunk][0] - a) * nT if start_chunk < len(chunks) else total
        bar = progress_bar(total=total, initial=initial, unit="pt", unit_scale=True, desc="X-Yield grid", smoothing=0.1)
    args = (code, bool(stats), bool(per_system), hist_bins, h_lo, h_hi, topk, threads)

    def merge(ci, part):
        nonlocal done_pts
        _merge_partial(state, part, stats, per_system, topk)
        lo, hi = chunks[ci]
        state["next_chunk"] = np.array(ci + 1, np.int64)
        done_pts += (hi - lo) * nT
        if ckpt is not None:
            _save_ckpt(ckpt, state, fp)
        if bar is not None:
            bar.update((hi - lo) * nT)

    try:
        if client is None:
            for ci in range(start_chunk, len(chunks)):
                merge(ci, _reduce_chunk(grid, *chunks[ci], *args))
        else:
            from distributed import as_completed

            g = client.scatter(grid, broadcast=True)
            futs = {client.submit(_reduce_chunk, g, *chunks[ci], *args, key=f"xyield-grid-{fp}-{ci}"): ci
                    for ci in range(start_chunk, len(chunks))}
            ready, nxt = {}, start_chunk
            for fut in as_completed(futs):
                ready[futs[fut]] = fut.result()
                fut.release()
                while nxt in ready:  # merge in chunk order: identical to the local result
                    merge(nxt, ready.pop(nxt))
                    nxt += 1
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0

    T = grid.temperatures_K
    per_T = per_sys = hist = top = None
    if stats:
        count = state["hist"].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = state["tsum"] / count
            std = np.sqrt(np.maximum(state["tsum2"] / count - mean**2, 0.0))
        am = state["targ"]
        per_T = pd.DataFrame({"T_K": T, "count": count, "mean_MPa": mean, "std_MPa": std, "max_MPa": state["tmax"],
                              "argmax_point": am, "argmax_formula": _formulas(grid, am)})
        edges = np.linspace(h_lo, h_hi, hist_bins + 1)
        lo_e = np.concatenate([[-np.inf], edges[:-1], [h_hi]])
        hi_e = np.concatenate([[h_lo], edges[1:], [np.inf]])
        hist = pd.DataFrame({"T_K": np.repeat(T, hist_bins + 2), "bin_lo_MPa": np.tile(lo_e, nT),
                             "bin_hi_MPa": np.tile(hi_e, nT), "count": state["hist"].reshape(-1)})
    if per_system:
        tab = sp.system_table()
        touched = state["barg"] >= 0
        sys_idx, t_idx = np.nonzero(touched)
        args = state["barg"][sys_idx, t_idx]
        per_sys = pd.DataFrame({"system": sys_idx, "elements": tab["elements"].to_numpy()[sys_idx],
                                "n_elements": tab["n_elements"].to_numpy()[sys_idx], "T_K": T[t_idx],
                                "max_MPa": state["bmax"][sys_idx, t_idx], "argmax_point": args,
                                "argmax_formula": _formulas(grid, args)})
    if topk:
        pts = state["topi"].reshape(-1)
        keep = pts >= 0
        pos = np.tile(np.arange(topk), nT)[keep]
        top = grid.points_frame(pts[keep], state["topv"].reshape(-1)[keep])
        top.insert(0, "position", pos)
    samp = grid.sample(sample, seed=seed, model=model, threads=threads) if sample else None
    summary = GridSummary(grid, model, per_T, per_sys, hist, top, samp, complete=True,
                          points_done=done_pts, seconds=seconds)
    if output is not None:
        summary.write_parquet(output)
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return summary


def _reduce_chunk(grid, lo, hi, code, stats, per_system, hist_bins, h_lo, h_hi, topk, threads):
    """Reductions of compositions [lo, hi) from a fresh state (a pure function: also a Dask task)."""
    nT, nblk = grid.n_temperatures, grid.space.n_systems
    p = {
        "hist": np.zeros((nT, hist_bins + 2), np.int64) if stats else None,
        "tmax": np.full(nT, -np.inf), "targ": np.full(nT, -1, np.int64),
        "bmax": np.full((nblk, nT), -np.inf) if per_system else None,
        "barg": np.full((nblk, nT), -1, np.int64) if per_system else None,
        "tsum": np.zeros(nT) if stats else None, "tsum2": np.zeros(nT) if stats else None,
    }
    # reductions that were not asked for are passed as None and skipped by the kernel
    p["topv"], p["topi"] = core.mc_grid_reduce(grid.space.core_space, lo, hi, *grid._kernel_args(), grid.temperatures_K,
                                               code, p["hist"], h_lo, h_hi, p["tmax"], p["targ"], p["bmax"], p["barg"],
                                               p["tsum"], p["tsum2"], topk, threads=threads)
    return p


def _merge_partial(state, p, stats, per_system, topk):
    """Fold one chunk's partial reductions into the running state. Chunks arrive in rank order,
    so a strict `>` keeps the first (smallest point index) maximum, as within a chunk."""
    if stats:
        state["hist"] += p["hist"]
        state["tsum"] += p["tsum"]
        state["tsum2"] += p["tsum2"]
    up = p["tmax"] > state["tmax"]
    state["tmax"][up], state["targ"][up] = p["tmax"][up], p["targ"][up]
    if per_system:
        up = p["bmax"] > state["bmax"]
        state["bmax"][up], state["barg"][up] = p["bmax"][up], p["barg"][up]
    if topk:
        _merge_topk(state["topv"], state["topi"], p["topv"], p["topi"])


def _formulas(grid, points):
    points = np.asarray(points, dtype=np.int64)
    out = np.full(points.shape, "", dtype=object)
    ok = points >= 0
    if ok.any():
        frac = grid.space.fractions_at(points[ok] // grid.n_temperatures)
        out[ok] = [_formula(r, grid.elements) for r in frac]
    return out


def _merge_topk(topv, topi, tv, ti):
    """Merge a chunk's per-temperature top-k into the running one, ordered (σ desc, index asc)."""
    k = topv.shape[1]
    for t in range(topv.shape[0]):
        v = np.concatenate([topv[t], tv[t]])
        i = np.concatenate([topi[t], ti[t]])
        valid = i >= 0
        v, i = v[valid], i[valid]
        order = np.lexsort((i, -v))[:k]
        topv[t] = -np.inf
        topi[t] = -1
        topv[t, : order.size] = v[order]
        topi[t, : order.size] = i[order]


def _save_ckpt(path: Path, state: dict, fp: str):
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, fingerprint=np.array(fp), **state)


def _load_ckpt(path: Path, state: dict, fp: str) -> None:
    """Fill `state` from the checkpoint at `path`; CheckpointError (a ValueError) naming the file when
    it is unreadable, incomplete or written for another grid/model/reduction."""
    try:
        # np.load is handed an open file: on a corrupt archive it would leak the handle it opened
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if "fingerprint" not in z.files or str(z["fingerprint"]) != fp:
                raise CheckpointError(f"checkpoint {path} belongs to a different grid/model/reduction; "
                                      "remove it or use another path")
            missing = [k for k in state if k not in z.files]
            if missing:
                raise CheckpointError(f"checkpoint {path} lacks {missing}; it is not an X-Yield grid checkpoint: "
                                      "remove it or use another path")
            loaded = {k: z[k].copy() for k in state}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc}); the file is corrupt or truncated: "
                              "remove it to start over") from None
    for k, v in loaded.items():
        if v.shape != state[k].shape:
            raise CheckpointError(f"checkpoint {path}: {k} has shape {v.shape}, expected {state[k].shape}; "
                                  "remove it or use another path")
        state[k] = v
