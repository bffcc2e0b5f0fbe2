"""Simplex-lattice composition spaces: exact size, ranking and rank -> composition decoding.

A `CompositionSpace` is every alloy of a palette with a given number of principal elements at a
given step (at.%), optionally with per-element fraction bounds and required / forbidden elements:

    for each part (k, step) and each k-element subset S of the allowed palette containing the
    required elements, every composition with c_e = u_e / N (N = 100 / step) for e in S,
    u_e >= 1 (each chosen element is present), lo_e <= c_e <= hi_e, and c_e = 0 outside S.

Its size is exact (Σ over subsets of the number of bounded integer compositions of N into k parts;
without bounds C(n_allowed, k)·C(N−1, k−1)), computed in C++ before anything runs. Compositions are
numbered by *rank* (parts in the given order, subsets lexicographically, unit vectors
lexicographically) and any rank range decodes independently in C++ (`hea_fast._core.LatticeSpace`,
csrc/cpu/lattice_cpu.cpp), so a rank range is a self-contained chunk for threads, Dask tasks and
resumable checkpoints. Each subset is a *system* (`systems()`, `system_of(ranks)`).

The kernel (one name: lattice): csrc/include/hea_fast/lattice.h, csrc/cpu/lattice_cpu.cpp (the
`hea_fast._core.LatticeSpace` that `core_space` returns and the fused kernels walk) and
csrc/cuda/lattice_cuda.cu (`hea_fast._cuda.DeviceLattice`, `device_space()`, `device="cuda"`);
`CompositionSpace.fractions_reference` is the pure-Python enumeration it must reproduce
(tests/test_lattice.py checks both against an independent itertools enumeration).

Example (the X-Yield grid: ternary/quaternary at 1 %, quinary–septenary at 5 %)::

    space = CompositionSpace.from_parts(["Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr"],
                                        [(3, 1), (4, 1), (5, 5), (6, 5), (7, 5)])
    len(space)                     # 40_194_882
    space.fractions(0, 1000)       # (1000, 10) float64, rows sum to 1
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from hea_fast._backend import core, cuda_empty, cuda_module, cuda_stream, resolve_device, to_cuda
from hea_fast.composition import CompositionBatch, as_batch

__all__ = ["CompositionSpace", "steps_to_units"]


def steps_to_units(step_percent: float) -> int:
    """N = 100 / step_percent; raises ValueError unless it is an integer in [1, 100000]."""
    try:
        s = float(step_percent)
    except (TypeError, ValueError):
        raise ValueError(f"step_percent must be a number, got {step_percent!r}") from None
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"step_percent must be a positive number, got {step_percent!r}")
    n = 100.0 / s
    N = int(round(n))
    if N < 1 or abs(n - N) > 1e-9 * max(1.0, n) or N > 100_000:
        raise ValueError(f"step_percent={step_percent!r} must divide 100 into an integer number of steps (<= 100000)")
    return N


class CompositionSpace:
    """A palette of elements, number(s) of principal elements, step(s), bounds and constraints.

    Parameters
    ----------
    elements : sequence of str
        The palette (at most 64 elements); column order of every fraction array.
    n_elements : int or iterable of int
        Number(s) of principal elements (e.g. 5, or range(4, 7)).
    step_percent : float or mapping {n_elements: step}
        Grid step in at.% (100 / step must be an integer), one for all or one per n_elements.
    bounds : mapping element -> (lo, hi), optional
        Atomic-fraction bounds (0 <= lo <= hi <= 1) applied to the element when present; an
        element with lo > 0 is required. A bound replaces `min_fraction` / `max_fraction` for
        its element.
    required, forbidden : iterables of element symbols
        Elements every composition contains / no composition contains.
    min_fraction, max_fraction : float, optional
        Atomic-fraction range of *every* element that is present (0 and 1: no limit). Unlike a
        per-element lower bound, `min_fraction` requires no element. The usual definition of a
        high-entropy alloy is ``min_fraction=0.05, max_fraction=0.35`` (`hea_fast.screen.hea_space`).
    """

    def __init__(self, elements, n_elements, step_percent, bounds=None, required=(), forbidden=(),
                 min_fraction=0.0, max_fraction=1.0):
        try:
            ks = [_count_arg(n_elements)] if not hasattr(n_elements, "__iter__") else [_count_arg(k) for k in n_elements]
        except TypeError:
            raise ValueError(f"n_elements must be a whole number or an iterable of them, got {n_elements!r}") from None
        if not ks:
            raise ValueError("n_elements must name at least one number of principal elements")
        if isinstance(step_percent, Mapping):
            missing = [k for k in ks if k not in step_percent]
            if missing:
                raise ValueError(f"step_percent mapping has no step for n_elements {missing}")
            parts = [(k, step_percent[k]) for k in ks]
        else:
            parts = [(k, step_percent) for k in ks]
        self._init(elements, parts, bounds, required, forbidden, min_fraction, max_fraction)

    @classmethod
    def from_parts(cls, elements, parts, bounds=None, required=(), forbidden=(), min_fraction=0.0,
                   max_fraction=1.0):
        """Space from an explicit list of (n_elements, step_percent) parts, ranked in that order."""
        obj = cls.__new__(cls)
        obj._init(elements, [(int(k), s) for k, s in parts], bounds, required, forbidden, min_fraction, max_fraction)
        return obj

    def _init(self, elements, parts, bounds, required, forbidden, min_fraction=0.0, max_fraction=1.0):
        if isinstance(elements, str):  # tuple("TiZrNb") would be the palette T, i, Z, r, N, b
            raise ValueError(f"elements must be a sequence of element symbols, got the string {elements!r} "
                             "(e.g. ['Ti', 'Zr', 'Nb'])")
        els = tuple(str(e) for e in elements)
        if not els:
            raise ValueError("the palette is empty")
        if len(set(els)) != len(els):
            dup = sorted({e for e in els if els.count(e) > 1})
            raise ValueError(f"duplicate element(s) {dup} in the palette")
        if len(els) > 64:
            raise ValueError(f"palettes are limited to 64 elements, got {len(els)}")
        idx = {e: i for i, e in enumerate(els)}
        try:
            fmin, fmax = float(min_fraction), float(max_fraction)
        except (TypeError, ValueError):
            raise ValueError(f"min_fraction/max_fraction must be numbers, got {min_fraction!r}, {max_fraction!r}") from None
        if not (0.0 <= fmin <= fmax <= 1.0):
            raise ValueError(f"min_fraction={min_fraction!r}, max_fraction={max_fraction!r} must satisfy "
                             "0 <= min_fraction <= max_fraction <= 1 (atomic fractions)")
        lo = [fmin] * len(els)
        hi = [fmax] * len(els)
        req = [0] * len(els)
        explicit = {}
        for e, b in dict(bounds or {}).items():
            if e not in idx:
                raise ValueError(f"bounds given for {e!r}, which is not in the palette {els}")
            try:
                blo, bhi = (float(v) for v in b)
            except (TypeError, ValueError):
                raise ValueError(f"bounds[{e!r}] must be a (lo, hi) pair of fractions, got {b!r}") from None
            if not (0.0 <= blo <= bhi <= 1.0):
                raise ValueError(f"bounds[{e!r}] = {b!r} must satisfy 0 <= lo <= hi <= 1 (atomic fractions)")
            lo[idx[e]], hi[idx[e]] = blo, bhi
            explicit[e] = (blo, bhi)
            req[idx[e]] = int(blo > 0)  # a per-element lower bound requires the element
        forb = [0] * len(els)
        user_req = [0] * len(els)
        for name, flags, seq in (("required", user_req, required), ("forbidden", forb, forbidden)):
            seq = [seq] if isinstance(seq, str) else list(seq)
            for e in seq:
                if e not in idx:
                    raise ValueError(f"{name} element {e!r} is not in the palette {els}")
                flags[idx[e]] = 1
        req = [int(a or b) for a, b in zip(req, user_req)]
        clash = [els[i] for i in range(len(els)) if forb[i] and req[i]]
        if clash:
            raise ValueError(f"element(s) {clash} are both required (or lower-bounded) and forbidden")
        norm_parts = []
        for k, s in parts:
            if not (1 <= k <= 16):
                raise ValueError(f"n_elements must be in [1, 16], got {k}")
            N = steps_to_units(s)
            if N < k:
                raise ValueError(f"step {s}% leaves fewer than {k} steps: {k} principal elements cannot all be present")
            for k2, s2, N2 in norm_parts:
                if k2 == k and math.gcd(N, N2) >= k:  # the two lattices share the points at step 100/gcd %
                    raise ValueError(f"parts ({k}, {s2:g}%) and ({k}, {float(s):g}%) share compositions (every {k}-element "
                                     f"alloy at {100 / math.gcd(N, N2):g} at.% steps), which would be screened twice: "
                                     "give each number of elements once")
            norm_parts.append((k, float(s), N))
        self._elements = els
        self._parts = tuple(norm_parts)
        self._lo, self._hi, self._req, self._forb = lo, hi, req, forb
        self._explicit, self._fmin, self._fmax = explicit, fmin, fmax
        self._required = {e for e, f in zip(els, user_req) if f}
        self._space = None
        self._build()

    def _build(self):
        self._space = core.LatticeSpace(len(self._elements), [(k, N) for k, _, N in self._parts], self._lo, self._hi,
                                        self._req, self._forb)
        self._table = None
        self._device = None

    @property
    def core_space(self):
        """The compiled `hea_fast._core.LatticeSpace` (what the fused C++ kernels take as the space)."""
        return self._space

    def device_space(self):
        """The space uploaded to the current GPU, a `hea_fast._cuda.DeviceLattice` (built lazily on
        first use; CUDA is never touched otherwise)."""
        if self._device is None:
            self._device = cuda_module().DeviceLattice(len(self._elements), [(k, N) for k, _, N in self._parts],
                                                       self._lo, self._hi, self._req, self._forb)
        return self._device


    # -- pickling (Dask tasks, multiprocessing): rebuild the C++ object from the parameters --------
    def __getstate__(self):
        return self.spec()

    def __setstate__(self, state):
        other = CompositionSpace.from_spec(state)
        self.__dict__.update(other.__dict__)

    def spec(self) -> dict:
        """JSON-able parameters that rebuild this exact space (also its checkpoint fingerprint)."""
        # a (0, 1) bound says nothing without a global range (dropped: older specs and fingerprints
        # hold), but with min_fraction / max_fraction it lifts that range for its element
        unlimited = (self._fmin, self._fmax) == (0.0, 1.0)
        b = {e: [lo, hi] for e, (lo, hi) in self._explicit.items() if not (unlimited and (lo, hi) == (0.0, 1.0))}
        out = {
            "elements": list(self._elements),
            "parts": [[k, s] for k, s, _ in self._parts],
            "bounds": b,
            "required": [e for e in self._elements if e in self._required],
            "forbidden": [e for i, e in enumerate(self._elements) if self._forb[i]],
        }
        if (self._fmin, self._fmax) != (0.0, 1.0):  # absent otherwise: older specs and fingerprints hold
            out["min_fraction"], out["max_fraction"] = self._fmin, self._fmax
        out["size"] = self.size
        return out

    @classmethod
    def from_spec(cls, spec: Mapping) -> "CompositionSpace":
        obj = cls.from_parts(spec["elements"], [tuple(p) for p in spec["parts"]],
                             {e: tuple(v) for e, v in spec.get("bounds", {}).items()},
                             spec.get("required", ()), spec.get("forbidden", ()),
                             spec.get("min_fraction", 0.0), spec.get("max_fraction", 1.0))
        if "size" in spec and spec["size"] != obj.size:
            raise ValueError(f"spec size {spec['size']} does not match the rebuilt space ({obj.size})")
        return obj

    # -- size and structure -----------------------------------------------------------------------
    @property
    def elements(self) -> tuple:
        return self._elements

    @property
    def parts(self) -> tuple:
        """((n_elements, step_percent), ...) in rank order."""
        return tuple((k, s) for k, s, _ in self._parts)

    @property
    def size(self) -> int:
        return int(self._space.size)

    def __len__(self) -> int:
        return self.size

    def __repr__(self):
        return f"CompositionSpace(elements={self._elements}, parts={self.parts}, size={self.size:,})"

    def _tab(self):
        if self._table is None:
            self._table = self._space.block_table()
        return self._table

    @property
    def n_systems(self) -> int:
        return int(self._space.n_blocks)

    @property
    def max_elements(self) -> int:
        return int(self._space.max_k)

    @property
    def system_offsets(self) -> np.ndarray:
        """(n_systems + 1,) int64: system s holds ranks [offsets[s], offsets[s+1])."""
        return self._tab()["offset"]

    def systems(self) -> list:
        """Element tuple of every system (subset), in rank order."""
        t = self._tab()
        return [tuple(self._elements[e] for e in row[:k]) for row, k in zip(t["elem"], t["k"])]

    def system_table(self):
        """DataFrame: system, elements ('-'-joined), n_elements, step_percent, first_rank, count."""
        import pandas as pd

        t = self._tab()
        steps = np.array([self._parts[p][1] for p in t["part"]]) if len(t["part"]) else np.zeros(0)
        return pd.DataFrame({
            "system": np.arange(self.n_systems),
            "elements": ["-".join(s) for s in self.systems()],
            "n_elements": t["k"].astype(np.int64),
            "step_percent": steps,
            "first_rank": t["offset"][:-1],
            "count": t["count"],
        })

    def system_of(self, ranks, threads=None) -> np.ndarray:
        return self._space.blocks_of(self._ranks(ranks), threads=threads)

    # -- decoding -------------------------------------------------------------------------------
    def check_range(self, start=None, stop=None) -> tuple[int, int]:
        """(start, count) of the rank range [start, stop) (None: the ends); ValueError outside [0, size)."""
        n = self.size
        start = 0 if start is None else int(start)
        stop = n if stop is None else int(stop)
        if not (0 <= start <= stop <= n):
            raise ValueError(f"rank range [{start}, {stop}) is outside [0, {n})")
        return start, stop - start

    def _ranks(self, ranks):
        r = np.ascontiguousarray(np.asarray(ranks).reshape(-1))
        if r.size and not np.issubdtype(r.dtype, np.integer):
            raise ValueError(f"ranks must be integers, got dtype {r.dtype}")
        return r.astype(np.int64, copy=False)

    def fractions(self, start=None, stop=None, threads=None, device="cpu"):
        """(stop − start, E) float64 fractions of ranks [start, stop): a NumPy array, or a CUDA
        torch tensor decoded on the GPU with device='cuda'. `fractions_reference` is the same in
        pure Python."""
        s, c = self.check_range(start, stop)
        if resolve_device(device) == "cuda":
            import torch

            out = cuda_empty((c, len(self._elements)), torch.float64)
            self.device_space().fractions(s, c, out.data_ptr(), cuda_stream())
            return out
        return self._space.fractions(s, c, threads=threads)

    def fractions_reference(self, start=None, stop=None) -> np.ndarray:
        """`fractions(start, stop)` by plain enumeration in rank order (pure Python: parts in order,
        subsets lexicographically, unit vectors lexicographically, bounds applied on c = u / N).
        The specification of the compiled decoder, for tests and small spaces only."""
        s, c = self.check_range(start, stop)
        E = len(self._elements)
        out = np.zeros((c, E))
        allowed = [i for i in range(E) if not self._forb[i]]
        need = {i for i in range(E) if self._req[i]}
        rank = row = 0
        for k, _, N in self._parts:
            for sub in itertools.combinations(allowed, k):
                if not need <= set(sub):
                    continue
                for u in _positive_compositions(N, k):
                    if not all(self._lo[i] - 1e-12 <= uj / N <= self._hi[i] + 1e-12 for i, uj in zip(sub, u)):
                        continue
                    if rank >= s + c:
                        return out
                    if rank >= s:
                        out[row, list(sub)] = np.array(u) / N
                        row += 1
                    rank += 1
        return out

    def fractions_at(self, ranks, threads=None, device="cpu"):
        """(n, E) float64 fractions of arbitrary ranks (NumPy, or a CUDA tensor with device='cuda')."""
        r = self._ranks(ranks)
        if resolve_device(device) == "cuda":
            import torch

            if r.size and (r.min() < 0 or r.max() >= self.size):
                raise ValueError(f"ranks must lie in [0, {self.size}), got {r.min()}..{r.max()}")
            rt = to_cuda(r)
            out = cuda_empty((r.size, len(self._elements)), torch.float64)
            self.device_space().fractions_at(rt.data_ptr(), r.size, out.data_ptr(), cuda_stream())
            return out
        return self._space.fractions_at(r, threads=threads)

    def sparse(self, start=None, stop=None, threads=None):
        """(element_index int32, fraction float64), each (n, max_elements), padded with -1 / 0."""
        s, c = self.check_range(start, stop)
        return self._space.sparse(s, c, threads=threads)

    def decode(self, start=None, stop=None, threads=None):
        """Ranks [start, stop) as a `hea_fast.composition.CompositionBatch`."""
        # the lattice's fractions are valid by construction (finite, >= 0, rows sum to 1): skip
        # the constructor's O(n E) checks, which cost as much as decoding
        return CompositionBatch.from_valid(self.fractions(start, stop, threads), tuple(self._elements))

    def rank(self, compositions, threads=None) -> np.ndarray:
        """Rank of each composition (int64; −1 where it is not a point of this space).

        compositions: an (n, E) fraction array in palette order, or anything
        `hea_fast.composition.as_batch` accepts (formulas, dicts, DataFrame, CompositionBatch); a
        composition with an element outside the palette is not a point (−1)."""
        if isinstance(compositions, np.ndarray) and compositions.ndim == 2 and compositions.shape[1] == len(self._elements):
            frac = np.ascontiguousarray(compositions, dtype=np.float64)
        else:
            batch = as_batch(compositions)
            f, els = batch.fractions, batch.elements
            frac = np.zeros((f.shape[0], len(self._elements)))
            inside = np.ones(f.shape[0], dtype=bool)
            for j, e in enumerate(els):
                if e in self._elements:
                    frac[:, self._elements.index(e)] = f[:, j]
                else:
                    inside &= ~(f[:, j] > 0)  # an element outside the palette: not a point
            res = np.full(f.shape[0], -1, dtype=np.int64)
            if inside.any():
                res[inside] = self._space.rank(np.ascontiguousarray(frac[inside]), threads=threads)
            return res
        return self._space.rank(frac, threads=threads)

    def __contains__(self, composition) -> bool:
        return bool(self.rank(composition)[0] >= 0)

    def chunks(self, chunk_size: int, start: int = 0, stop: int | None = None):
        """Rank ranges [(a, b), ...] of at most `chunk_size` covering [start, stop)."""
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        s, c = self.check_range(start, stop)
        return [(a, min(a + chunk_size, s + c)) for a in range(s, s + c, chunk_size)]

    def sample_ranks(self, n: int, seed: int = 0) -> np.ndarray:
        """`n` distinct ranks drawn uniformly (sorted), reproducible for a given seed."""
        n = int(n)
        if not (0 <= n <= self.size):
            raise ValueError(f"cannot draw {n} distinct compositions from a space of {self.size}")
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(self.size, size=n, replace=False)).astype(np.int64)

    @staticmethod
    def count(n_allowed: int, k: int, step_percent: float) -> int:
        """Closed form without bounds: C(n_allowed, k) · C(N − 1, k − 1)."""
        N = steps_to_units(step_percent)
        return math.comb(n_allowed, k) * math.comb(N - 1, k - 1)



def _count_arg(k) -> int:
    """A whole number of principal elements (TypeError for anything else, e.g. 2.5 or "5")."""
    if isinstance(k, (bool, str)) or not float(k).is_integer():
        raise TypeError
    return int(k)


def _positive_compositions(N: int, k: int):
    """Tuples of k integers >= 1 summing to N, in lexicographic order."""
    if k == 1:
        yield (N,)
        return
    for first in range(1, N - k + 2):
        for rest in _positive_compositions(N - first, k - 1):
            yield (first, *rest)
