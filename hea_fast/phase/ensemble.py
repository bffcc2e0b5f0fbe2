"""The phase ensemble (kernel ``phase_ensemble``, csrc/cpu/phase_ensemble_cpu.cpp).

P(single phase) of a composition with feature vector v = [descriptors (F_d) | fractions of
``elements`` (F_e)] is the average of two members, then a Platt calibration:

    logit_lin = Σ_j ((v_j − mean_j) / scale_j) · coef_j + intercept        (logistic regression)
    raw       = baseline + Σ_t leaf_t(v)                                   (gradient-boosted trees)
    p_avg     = w_lin · σ(logit_lin) + w_tree · σ(raw)
    p         = σ(cal_a · logit(p_avg) + cal_b),   σ(z) = 1 / (1 + e^−z),  logit(p) = log p − log1p(−p)

A tree walks from its root: at an internal node go left iff v[feature] <= threshold. The tree sum
runs in tree order from ``baseline`` in float64, as scikit-learn's HistGradientBoostingClassifier
does, so the tree member equals its ``predict_proba`` bitwise for the same v. A row with a
non-finite feature gets p = NaN.

Boosted trees fitted on float32-rounded features (`hea_fast.phase.convert.params_from_sklearn`
with ``features_float32=True``, the ``fast`` model's distilled student): each threshold t becomes
the largest float64 t' with float32(x) <= t  <=>  x <= t' (`hea_fast.phase.convert.float32_cut`), so
the float64 kernels reproduce scikit-learn's ``predict_proba(float32(v))`` bitwise without rounding anything. This is what makes the trees
indifferent to the order in which a descriptor was summed: scikit-learn bins repeated training
values, so thresholds often *are* training values (VEC 9.0, r̄ 125 pm), and the same composition
summed in the palette's element order (the fused lattice kernel) or in a formula's (the per-row
kernel) can differ by an ulp and would go the other way at such a node; after float32 rounding both
are the same value.

Forest members (``tree_link="mean"``, a scikit-learn RandomForestClassifier): the member is the mean
of the trees' leaf fractions, p_tree = (Σ_t leaf_t(v)) / T with ``baseline`` 0, and the nodes compare
float32(v) as scikit-learn does (``tree_float32``). For feature rows `phase_ensemble` sums a
forest's leaves with a C++ forest walker (``core.phase_forest_sum``, bitwise scikit-learn's
predict_proba, as `phase_ensemble_reference`); the lattice drivers run forests in the fused block
kernel (float32 node tests, the leaves summed in tree order from 0.0, p_tree = raw / T), where a
block whose feature box cannot reach the top-k skips the trees (the leaves the box can reach,
found depth first).

`EnsembleParams` holds the parameters (`hea_fast.phase.convert.params_from_sklearn` converts
fitted scikit-learn members, `to_dict`/`from_dict` round-trip them through JSON bitwise);
`phase_ensemble_reference`
is the NumPy formula, the tests' reference for the C++ drivers:

* `phase_ensemble(V, params)`: feature rows -> p;
* `phase_ensemble_lattice(space, start, stop, params)`: lattice ranks of a
  `hea_fast.lattice.CompositionSpace` -> descriptors by the descriptor block kernel and fractions
  from the ranks -> p, without decoding; NaN for a composition holding an element that lacks
  descriptor data (a palette element outside ``params.elements`` adds no fraction feature);
* `phase_ensemble_topk(space, start, stop, k, params, threshold)`: the same fused with a top-k,
  (scores, ranks, n_passing) best first, ties by lower rank (the contract of
  ``hea_fast.screen`` scorers' ``fused_topk``);
* `phase_ensemble_tile_bounds(space, start, stop, params, threshold)`: per tile of `TILE` ranks an
  upper bound of p and the passing count from the block bounds alone (no tree walked), which
  `phase_ensemble_topk(..., tiles=)` uses to skip tiles that cannot reach its top-k (a screen visits
  the most promising chunks first, so its pool's floor rises early: best-first screening).

Results never depend on ``threads`` (tests/test_phase_ensemble.py).
"""
from __future__ import annotations

import functools
import math
import weakref
from dataclasses import MISSING, dataclass, fields

import numpy as np

__all__ = [
    "EnsembleParams",
    "lattice_inputs",
    "phase_ensemble",
    "phase_ensemble_lattice",
    "phase_ensemble_reference",
    "phase_ensemble_tile_bounds",
    "phase_ensemble_topk",
    "TileBounds",
    "tree_raw_reference",
]

_FLOAT_ARRAYS = ("lin_mean", "lin_scale", "lin_coef", "node_threshold", "node_value")
_INT32_ARRAYS = ("node_feature", "node_left", "node_right")
_SCALARS = ("lin_intercept", "tree_baseline", "w_lin", "w_tree", "cal_a", "cal_b")
_LINKS = ("logit", "mean")
_FLAGS = ("tree_link", "tree_float32")  # not kernel arguments


@dataclass(frozen=True, eq=False)
class EnsembleParams:
    """Parameters of the phase ensemble (see the module docstring for the formula).

    Node arrays hold every tree back to back: tree t is nodes [tree_offsets[t], tree_offsets[t+1]),
    root first; ``node_left``/``node_right`` are relative to the tree's first node and -1 on leaves,
    ``node_feature`` is -1 on leaves. Arrays are stored as read-only contiguous copies; the
    constructor checks shapes, finiteness and that every child index lies after its parent inside
    its tree, and raises ValueError naming the field otherwise.
    """

    descriptors: tuple[str, ...]
    elements: tuple[str, ...]
    lin_mean: np.ndarray
    lin_scale: np.ndarray
    lin_coef: np.ndarray
    lin_intercept: float
    tree_baseline: float
    tree_offsets: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_left: np.ndarray
    node_right: np.ndarray
    node_value: np.ndarray
    node_missing_left: np.ndarray
    w_lin: float = 0.5
    w_tree: float = 0.5
    cal_a: float = 1.0
    cal_b: float = 0.0
    tree_link: str = "logit"
    tree_float32: bool = False

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        if self.tree_link not in _LINKS:
            raise ValueError(f"EnsembleParams.tree_link must be one of {_LINKS}, got {self.tree_link!r}")
        if not isinstance(self.tree_float32, (bool, np.bool_)):
            raise ValueError(f"EnsembleParams.tree_float32 must be a bool, got {self.tree_float32!r}")
        put("tree_float32", bool(self.tree_float32))

        for name in ("descriptors", "elements"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(s, str) for s in value):
                raise ValueError(f"EnsembleParams.{name} must be a sequence of strings, got {value!r}")
            value = tuple(value)
            if len(set(value)) != len(value):
                raise ValueError(f"EnsembleParams.{name} has duplicates: {value!r}")
            put(name, value)
        for name in _SCALARS:
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"EnsembleParams.{name} must be a float, got {value!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"EnsembleParams.{name} must be finite, got {value!r}")
            put(name, value)
        for name, dtype in ([(n, np.float64) for n in _FLOAT_ARRAYS] + [(n, np.int32) for n in _INT32_ARRAYS]
                            + [("tree_offsets", np.int64), ("node_missing_left", np.uint8)]):
            put(name, _array(name, getattr(self, name), dtype))
        self._check()

    def _check(self):
        F = self.n_features
        for name in ("lin_mean", "lin_scale", "lin_coef"):
            a = getattr(self, name)
            if a.shape != (F,):
                raise ValueError(f"EnsembleParams.{name} has shape {a.shape}; expected ({F},) = "
                                 f"{len(self.descriptors)} descriptors + {len(self.elements)} elements")
            if not np.isfinite(a).all():
                raise ValueError(f"EnsembleParams.{name} has a non-finite value at index "
                                 f"{int(np.flatnonzero(~np.isfinite(a))[0])}")
        if (self.lin_scale == 0).any():
            raise ValueError(f"EnsembleParams.lin_scale is 0 at index {int(np.flatnonzero(self.lin_scale == 0)[0])}")
        if self.w_lin < 0 or self.w_tree < 0 or abs(self.w_lin + self.w_tree - 1.0) > 1e-9:
            raise ValueError(f"EnsembleParams weights must be >= 0 and sum to 1, got w_lin={self.w_lin!r}, "
                             f"w_tree={self.w_tree!r}")
        if not self.cal_a > 0:
            raise ValueError(f"EnsembleParams.cal_a must be > 0 (a calibration keeps the order), got {self.cal_a!r}")
        off = self.tree_offsets
        n = self.node_feature.shape[0]
        if off.ndim != 1 or off.shape[0] < 1 or off[0] != 0 or off[-1] != n:
            raise ValueError(f"EnsembleParams.tree_offsets must be 1-D, start at 0 and end at the node count {n}, "
                             f"got shape {off.shape} {off[:1].tolist()}...{off[-1:].tolist()}")
        if (np.diff(off) <= 0).any():
            t = int(np.flatnonzero(np.diff(off) <= 0)[0])
            raise ValueError(f"EnsembleParams.tree_offsets must increase strictly (every tree has a node); "
                             f"tree {t} spans [{off[t]}, {off[t + 1]})")
        for name in ("node_feature", "node_threshold", "node_left", "node_right", "node_value", "node_missing_left"):
            a = getattr(self, name)
            if a.shape != (n,):
                raise ValueError(f"EnsembleParams.{name} has shape {a.shape}; expected ({n},) like node_feature")
        _check_nodes(self, F)
        if self.tree_link == "mean" and self.n_trees == 0:
            raise ValueError("EnsembleParams.tree_link 'mean' (a forest: the mean of its trees) needs at least one "
                             "tree; a model without trees has tree_link 'logit'")

    @property
    def n_features(self) -> int:
        """F_d + F_e, the length of a feature vector v."""
        return len(self.descriptors) + len(self.elements)

    @property
    def n_trees(self) -> int:
        return int(self.tree_offsets.shape[0] - 1)

    @property
    def max_depth(self) -> int:
        """The largest number of internal nodes on a root-to-leaf path over all trees."""
        depth = np.zeros(self.node_feature.shape[0], dtype=np.int64)
        first = np.repeat(self.tree_offsets[:-1], np.diff(self.tree_offsets))
        # children come after their parent (checked), so one forward pass sets every depth
        for i in np.flatnonzero(self.node_feature >= 0):
            depth[first[i] + self.node_left[i]] = depth[i] + 1
            depth[first[i] + self.node_right[i]] = depth[i] + 1
        return int(depth.max(initial=0))

    def arrays(self) -> dict:
        """The model's arrays and scalars (``core.phase_forest_sum``'s model arguments)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("descriptors", "elements") + _FLAGS}

    def kernel_args(self) -> dict:
        """Keyword arguments of the fused C++ kernels (``core.phase_ensemble*``): `arrays` and the
        member's link and node-test flags."""
        return {**self.arrays(), "tree_link": self.tree_link, "tree_float32": bool(self.tree_float32)}

    def to_dict(self) -> dict:
        """JSON-ready dict: arrays as lists; floats written by JSON's repr round-trip bitwise;
        infinite thresholds (scikit-learn's split on missing values) as the strings "inf"/"-inf"."""
        out = {"format": "hea_fast.phase.EnsembleParams/1"}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _FLAGS and value == f.default:  # boosted trees: files as before these fields
                continue
            if isinstance(value, np.ndarray):
                value = [_json_float(x) for x in value.tolist()] if value.dtype == np.float64 else value.tolist()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict) -> EnsembleParams:
        """Inverse of `to_dict`; a missing or unknown key raises ValueError naming it."""
        if not isinstance(d, dict):
            raise ValueError(f"EnsembleParams.from_dict needs a dict, got {type(d).__name__}")
        d = {k: v for k, v in d.items() if k != "format"}
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"EnsembleParams.from_dict: unknown keys {unknown}")
        required = {f.name for f in fields(cls) if f.default is MISSING}
        missing = sorted(required - set(d))
        if missing:
            raise ValueError(f"EnsembleParams.from_dict: missing keys {missing}")
        kw = dict(d)
        for name in _FLOAT_ARRAYS:
            kw[name] = np.array([_from_json_float(name, x) for x in d[name]], dtype=np.float64)
        return cls(**kw)


def _json_float(x: float):
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")


def _from_json_float(name, x):
    if isinstance(x, str):
        if x in ("inf", "-inf", "nan"):
            return float(x)
        raise ValueError(f"EnsembleParams.from_dict: {name} holds {x!r}, not a number")
    return x


def _array(name, value, dtype) -> np.ndarray:
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"EnsembleParams.{name} is not an array: {exc}") from None
    if a.ndim != 1:
        raise ValueError(f"EnsembleParams.{name} must be 1-D, got shape {a.shape}")
    if a.size and np.issubdtype(dtype, np.integer):
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)):
            if not (np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all() and (a == np.round(a)).all()):
                raise ValueError(f"EnsembleParams.{name} must hold integers, got {a.dtype} values")
        info = np.iinfo(dtype)
        if a.min() < info.min or a.max() > info.max:
            raise ValueError(f"EnsembleParams.{name} has values outside {np.dtype(dtype).name}")
    try:
        a = np.array(a, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"EnsembleParams.{name} cannot be read as {np.dtype(dtype).name}: {exc}") from None
    a.flags.writeable = False
    return a


def _check_nodes(p: EnsembleParams, F: int):
    n = p.node_feature.shape[0]
    size = np.repeat(np.diff(p.tree_offsets), np.diff(p.tree_offsets))
    local = np.arange(n, dtype=np.int64) - np.repeat(p.tree_offsets[:-1], np.diff(p.tree_offsets))
    leaf = p.node_feature == -1
    inner = ~leaf

    def fail(i, what):
        t = int(np.searchsorted(p.tree_offsets, i, side="right") - 1)
        raise ValueError(f"EnsembleParams: node {int(i)} (tree {t}, local {int(local[i])}) {what}")

    bad = np.flatnonzero((p.node_feature < -1) | (p.node_feature >= F))
    if bad.size:
        fail(bad[0], f"has feature {int(p.node_feature[bad[0]])}, outside [-1, {F})")
    bad = np.flatnonzero(leaf & ((p.node_left != -1) | (p.node_right != -1)))
    if bad.size:
        fail(bad[0], "is a leaf (feature -1) but has children; leaves have node_left = node_right = -1")
    bad = np.flatnonzero(leaf & ~np.isfinite(p.node_value))
    if bad.size:
        fail(bad[0], f"has a non-finite leaf value {p.node_value[bad[0]]!r}")
    bad = np.flatnonzero(inner & np.isnan(p.node_threshold))
    if bad.size:
        fail(bad[0], "has a NaN threshold")
    for name in ("node_left", "node_right"):
        child = getattr(p, name).astype(np.int64)
        # a child after its parent inside the same tree: every walk ends at a leaf
        bad = np.flatnonzero(inner & ((child <= local) | (child >= size)))
        if bad.size:
            fail(bad[0], f"has {name} {int(child[bad[0]])}, outside ({int(local[bad[0]])}, {int(size[bad[0]])}) "
                         "(children index the tree's nodes after their parent)")
    bad = np.flatnonzero(p.node_missing_left > 1)
    if bad.size:
        fail(bad[0], "has node_missing_left not 0 or 1")


def _expit(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _rows(V, params: EnsembleParams) -> np.ndarray:
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != params.n_features:
        raise ValueError(f"V has shape {V.shape}; the ensemble reads (n, {params.n_features}) rows "
                         f"({len(params.descriptors)} descriptors + {len(params.elements)} element fractions)")
    return V


def tree_raw_reference(V, params: EnsembleParams) -> np.ndarray:
    """The tree member's raw score baseline + Σ_t leaf_t(v) per row (NaN features follow
    node_missing_left, as scikit-learn does), summed in tree order."""
    V = _rows(V, params)
    n = V.shape[0]
    raw = np.full(n, params.tree_baseline)
    rows = np.arange(n)
    for t in range(params.n_trees):
        base = params.tree_offsets[t]
        node = np.full(n, base, dtype=np.int64)
        while True:
            feat = params.node_feature[node]
            inner = feat >= 0
            if not inner.any():
                break
            x = V[rows, np.maximum(feat, 0)]
            if params.tree_float32:  # scikit-learn's forests compare float32 features
                x = x.astype(np.float32).astype(np.float64)
            go_left = np.where(np.isnan(x), params.node_missing_left[node] == 1, x <= params.node_threshold[node])
            child = np.where(go_left, params.node_left[node], params.node_right[node])
            node = np.where(inner, base + child, node)
        raw += params.node_value[node]
    return raw


def phase_ensemble_reference(V, params: EnsembleParams) -> np.ndarray:
    """p (n,) of feature rows V (n, F_d + F_e) by the formula of the module docstring in NumPy
    float64; NaN for a row with a non-finite feature."""
    V = _rows(V, params)
    return _combine(V, params, tree_raw_reference(V, params))


def _combine(V, params: EnsembleParams, raw) -> np.ndarray:
    """p of rows V given the tree member's raw sums (the formula of the module docstring)."""
    # a row-wise sum, not `@` (BLAS gemv rounds a row differently by its place in the batch, so a table
    # scored in chunks of another size would differ in the last bit)
    logit_lin = (((V - params.lin_mean) / params.lin_scale) * params.lin_coef).sum(axis=1) + params.lin_intercept
    p_tree = raw / params.n_trees if params.tree_link == "mean" else _expit(raw)
    p_avg = params.w_lin * _expit(logit_lin) + params.w_tree * p_tree
    with np.errstate(divide="ignore"):
        logit = np.log(p_avg) - np.log1p(-p_avg)
    p = _expit(params.cal_a * logit + params.cal_b)
    p[~np.isfinite(V).all(axis=1)] = np.nan
    return p


# ---- C++ drivers --------------------------------------------------------------------------------
def _params(params) -> EnsembleParams:
    if not isinstance(params, EnsembleParams):
        raise TypeError(f"params must be an EnsembleParams, got {type(params).__name__}")
    return params


def phase_ensemble(V, params: EnsembleParams, threads=None) -> np.ndarray:
    """p (n,) of feature rows V (n, F_d + F_e) by the C++ kernel (equal to
    `phase_ensemble_reference` to rounding; the tree member bitwise); NaN for a row with a
    non-finite feature. A forest member (``tree_link="mean"``): its leaf sums by the C++ forest
    walker (``core.phase_forest_sum``, bitwise the reference's), the rest by the NumPy formula, so p
    equals `phase_ensemble_reference` bitwise. threads: None = all cores."""
    from hea_fast._backend import core

    if isinstance(params, EnsembleParams) and params.tree_link == "mean":
        V = np.ascontiguousarray(_rows(V, params))
        raw = core.phase_forest_sum(V, params.tree_float32, threads=threads, **params.arrays())
        return _combine(V, params, raw)
    params = _params(params)
    V = np.ascontiguousarray(_rows(V, params))
    return core.phase_ensemble(V, threads=threads, **params.kernel_args())


def lattice_inputs(elements, params: EnsembleParams, table: str = "default") -> tuple:
    """The palette arguments of ``core.phase_ensemble_lattice`` / ``_topk`` for the palette
    `elements`: (props (E, 7), pair (E, E), gas constant, log offset, int32 descriptor columns,
    uint8 allowed (0 for an element lacking a value some descriptor needs), int32 fraction feature
    of each element (-1 outside ``params.elements``)). A pair enthalpy a descriptor needs and the
    table lacks is NaN, so compositions holding both elements get NaN, as `featurize` gives."""
    params = _params(params)
    if not isinstance(table, str):
        raise TypeError(f"table must be an element table name, got {type(table).__name__}")
    return _lattice_inputs(tuple(elements), params.descriptors, params.elements, table)


@functools.lru_cache(maxsize=32)
def _lattice_inputs(elements: tuple, descriptors: tuple, fraction_elements: tuple, table: str) -> tuple:
    from hea_fast.elements import PROPERTIES, ElementDataError
    from hea_fast.features import DESCRIPTOR_INDEX, prepare, resolve

    _, names, tab = resolve(list(descriptors), table)
    E = len(elements)
    props = np.ones((E, len(PROPERTIES)))
    pair = np.zeros((E, E))
    allowed = np.zeros(E, dtype=np.uint8)
    for i, e in enumerate(elements):
        try:
            p, _ = prepare(np.ones((1, 1)), [e], names, tab)
        except ElementDataError:
            continue
        props[i], allowed[i] = p[0], 1
    ok = np.flatnonzero(allowed)
    if ok.size:
        sub = [elements[i] for i in ok]
        try:
            _, H = prepare(np.ones((1, ok.size)), sub, names, tab)
        except ElementDataError:  # a pair enthalpy some descriptor needs is unknown: NaN there
            H = tab.pair_matrix(sub)
        pair[np.ix_(ok, ok)] = H
    cols = np.array([DESCRIPTOR_INDEX[n] for n in names], dtype=np.int32)
    where = {e: len(descriptors) + j for j, e in enumerate(fraction_elements)}
    frac = np.array([where.get(e, -1) for e in elements], dtype=np.int32)
    for a in (props, pair, cols, allowed, frac):
        a.setflags(write=False)
    return props, pair, float(tab.gas_constant), float(tab.log_offset), cols, allowed, frac


_PREPARED: "weakref.WeakKeyDictionary[EnsembleParams, object]" = weakref.WeakKeyDictionary()


def _prepared(params: EnsembleParams):
    """The C++ ``PhaseEnsembleModel`` of `params` (checked and laid out once per parameter object: a
    forest's layout costs milliseconds, and a screen calls the kernel once per chunk); parameters are
    frozen with read-only arrays, so the prepared model never goes stale."""
    from hea_fast._backend import core

    model = _PREPARED.get(params)
    if model is None:
        model = _PREPARED[params] = core.PhaseEnsembleModel(**params.kernel_args())
    return model


def _lattice_args(space, start, stop, params, table):
    from hea_fast.lattice import CompositionSpace

    if not isinstance(space, CompositionSpace):
        raise TypeError(f"space must be a hea_fast.lattice.CompositionSpace, got {type(space).__name__}")
    props, pair, gas, log_offset, cols, allowed, frac = lattice_inputs(space.elements, params, table)
    return (space.core_space, int(start), int(stop), props, pair, gas, log_offset, cols, allowed, frac, _prepared(params))


def phase_ensemble_lattice(space, start: int, stop: int, params: EnsembleParams, table: str = "default",
                           threads=None, floor=None, threshold=None) -> np.ndarray:
    """p of lattice ranks [start, stop) of `space` (a `hea_fast.lattice.CompositionSpace`),
    computed from the ranks in one C++ pass; equal to `phase_ensemble` on the decoded fractions'
    `featurize` descriptors and fractions to rounding.

    `floor` (None: none): only whether p reaches it matters below it — a composition whose p is
    below floor may get any value below it instead (-inf, or an upper bound of p), so blocks and
    rows that cannot reach it skip the trees; every p >= floor is exact and NaN stays NaN (a
    screen that keeps p >= threshold passes its threshold).

    `threshold` (None: none; not with `floor`): only the side of it each p lies on matters — a
    value on the same side (a bound of p, +inf, -inf) may stand for p, and a NaN p may come back as
    -inf; blocks and rows whose side is settled skip the trees (a requirement of a screen)."""
    from hea_fast._backend import core

    params = _params(params)
    return core.phase_ensemble_lattice(*_lattice_args(space, start, stop, params, table), threads=threads,
                                       floor=None if floor is None else float(floor),
                                       threshold=None if threshold is None else float(threshold))


#: Lattice ranks per tile of `phase_ensemble_tile_bounds` (the fused kernels' work item).
TILE = 8192


@dataclass(frozen=True)
class TileBounds:
    """`phase_ensemble_tile_bounds` of ranks [start, stop) at `threshold`: per tile of `TILE` ranks,
    `bound` (an upper bound of p over its usable compositions, -inf when none) and `passing` (how
    many have p >= threshold; -1 where the bounds leave some composition's side of the threshold
    unknown: such a tile is evaluated for its count even when it cannot reach the k best)."""

    start: int
    stop: int
    threshold: float | None
    bound: np.ndarray
    passing: np.ndarray

    @property
    def best(self) -> float:
        """The largest tile bound (-inf for an empty range): no p of the range exceeds it."""
        return float(self.bound.max()) if self.bound.size else -math.inf


def phase_ensemble_tile_bounds(space, start: int, stop: int, params: EnsembleParams, threshold=None,
                               table: str = "default", threads=None) -> TileBounds:
    """Per tile of `TILE` lattice ranks of [start, stop): an upper bound of p and the passing count
    (p >= threshold), from each block's descriptors, the linear member's range over the block and
    the trees' smallest / largest leaves (no tree walked: a box bound of the forest gives the same
    here, since fully grown trees reach their extreme leaves from any wide box). About the cost of
    computing the descriptors of the range; independent of threads."""
    from hea_fast._backend import core

    params = _params(params)
    bound, passing = core.phase_ensemble_tile_bounds(*_lattice_args(space, start, stop, params, table),
                                                     threshold=threshold, threads=threads)
    return TileBounds(int(start), int(stop), None if threshold is None else float(threshold), bound, passing)


def phase_ensemble_topk(space, start: int, stop: int, k: int, params: EnsembleParams, threshold=None,
                        table: str = "default", threads=None, floor=None,
                        tiles: TileBounds | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The k best lattice ranks of [start, stop) by p with a finite p >= threshold (None: any):
    (scores, ranks, n_passing), best first, ties broken by the lower rank; independent of threads.

    `floor` (None: none): leave out rows with p < floor — pass the worst score of a full pool the
    result will be merged into; blocks that cannot reach it skip the trees, and the merged pool is
    exactly the same. n_passing counts every passing row whatever the floor. `tiles`: the
    `phase_ensemble_tile_bounds` of the same ranks, model and threshold; tiles whose bound cannot
    reach the k best so far (or floor, or threshold) are skipped whole when their passing count is
    known, with the same result."""
    from hea_fast._backend import core

    params = _params(params)
    tb = tp = None
    if tiles is not None:
        want = None if threshold is None else float(threshold)
        if (tiles.start, tiles.stop, tiles.threshold) != (int(start), int(stop), want):
            raise ValueError(f"tiles are the bounds of ranks [{tiles.start}, {tiles.stop}) at threshold "
                             f"{tiles.threshold}, not of [{start}, {stop}) at {want}")
        tb, tp = tiles.bound, tiles.passing
    s, r, n = core.phase_ensemble_topk(*_lattice_args(space, start, stop, params, table), threshold=threshold,
                                       k=int(k), threads=threads, floor=None if floor is None else float(floor),
                                       tile_bound=tb, tile_pass=tp)
    return s, r, int(n)
