"""Inverse design with the SSVAE (arXiv 2409.06740, Sec. "inverse design"): screening, generation
from a latent point, and the iterative "nudging" loop, with optional design constraints.

* `screen(model, compositions)`: P(single phase) = q(φ=1 | e(x)), the classifier head over the 8
  ``zeng2024`` descriptors computed by the C++ kernel (`hea_fast.features`), in chunks.
* `generate(model, z, p_target)`: decoder mean softmax(decoder([z, p])) → at.% → rounded formula,
  re-scored by the classifier; the row reports asked vs predicted probability.
* `nudge(model, formula, cutoff=0.6)`: the authors' loop (their ``interpolate.py``): encode
  z = loc of q(z | x, p) with p the current predicted probability, decode with 1 − p, round,
  re-score, stop at p ≥ cutoff. The whole trajectory is returned.

Rounding: decoded fractions are rounded to whole at.% as the authors do: ``round(f, 2)`` in float32,
×100 in float32, truncated to int (float32 quirk: 0.53 → 52, 0.59 → 58); elements at 0 are dropped.
The result need not sum to 100; descriptors use the normalised fractions.

Constraints (`Constraints`, not in the paper, which names them as missing): allowed / forbidden
elements (their probability is set to 0 and the rest renormalised), per-element bounds in at.%
(enforced by iterative clipping and renormalising the free elements), and a penalty
Σ_i c_i·cost_i (e.g. $/kg or density g/cm³) that re-weights the decoder mean as
p_i ∝ p_i · exp(−λ cost_i) (the minimiser of KL(p'‖p) + λ Σ p'_i cost_i). Limits on the alloy's
shape, e.g. the high-entropy-alloy definition `HEA` (five or more elements, each 5–35 at.%):
required elements, min/max number of elements, min/max at.% of every element present. The decoded
composition is then projected onto them: the required elements plus the most probable allowed
ones (as many as the decoder gives >= min_fraction, within the element-count limits), each
amount clipped into its limits (and to at least 1 at.%, so no chosen element vanishes in the rounding)
and the rest renormalised; whole at.% are then chosen by largest
remainders within the limits (summing to 100), so every generated alloy meets every limit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
# isort: on

from hea_fast.composition import CompositionBatch, CompositionError, as_batch
from hea_fast.features import featurize_array
from hea_fast.ssvae.model import SSVAE

__all__ = ["DesignError", "Constraints", "compositions_to_atpct", "features_of", "classifier_proba", "screen",
           "screen_proba", "generate", "nudge", "best_step", "format_formula", "round_atpct", "HEA"]


class DesignError(ValueError):
    """Bad design input (unknown element, infeasible bounds, formula outside the model's elements)."""


# ---- compositions --------------------------------------------------------------------------------
def compositions_to_atpct(model: SSVAE, compositions, errors: str = "raise", dtype=np.float32):
    """-> (x at.% (n, E) over the model's elements, ok mask (n,), reasons list).

    compositions: formulas (the grammar of `hea_fast.composition`), dicts, pymatgen Compositions,
    a pandas Series or DataFrame of element columns — anything `hea_fast.composition.as_batch`
    accepts — or an (n, E) array of amounts over the model's elements. A row that cannot be read,
    or holds an element outside the model's E elements, raises `DesignError` naming every such row
    (errors='raise') or is flagged (errors='report', or 'skip' as `hea_fast.composition` spells it:
    ok False, the reason in `reasons`, its row of x is zero; rows stay aligned with the input).
    """
    if errors not in ("raise", "report", "skip"):
        raise DesignError(f"errors must be 'raise' or 'report', got {errors!r}")
    els = tuple(model.config.elements)
    if isinstance(compositions, np.ndarray) and compositions.dtype.kind in "fiu":
        X = _array_atpct(compositions, len(els), dtype)
        return X, np.ones(len(X), bool), [""] * len(X)
    if isinstance(compositions, (str, Mapping)) or hasattr(compositions, "get_el_amt_dict"):
        compositions = [compositions]
    elif not isinstance(compositions, pd.DataFrame):
        compositions = list(compositions)  # rows by position (a Series' index is not used)
    try:
        batch = as_batch(compositions, errors="skip")
    except CompositionError as exc:  # input that is not rows of compositions at all
        raise DesignError(str(exc)) from exc
    n = len(batch) + len(batch.skipped)
    ok = np.ones(n, bool)
    reasons = [""] * n
    for row, reason in batch.skipped:
        ok[int(row)] = False
        reasons[int(row)] = reason
    kept = np.arange(n) if batch.index is None else np.asarray(batch.index, dtype=np.int64)
    col = {e: i for i, e in enumerate(els)}
    inside = np.array([e in col for e in batch.elements], bool)
    F = batch.fractions
    for r in np.flatnonzero((F[:, ~inside] > 0).any(axis=1)):
        row = int(kept[r])
        extra = [e for e, v in zip(batch.elements, F[r]) if v > 0 and e not in col]
        what = f"{compositions[row]!r}: " if isinstance(compositions, list) else f"row {row}: "
        ok[row] = False
        reasons[row] = f"{what}element(s) {extra} are not among the model's {len(els)} elements"
    if errors == "raise" and not ok.all():
        bad = np.flatnonzero(~ok)
        more = f" (and {bad.size - 3} more)" if bad.size > 3 else ""
        raise DesignError(f"{bad.size} of {n} compositions cannot be scored: "
                          + "; ".join(f"row {i}: {reasons[i]}" for i in bad[:3]) + more)
    X = np.zeros((n, len(els)), np.float64)
    X[np.ix_(kept, [col[e] for e, k in zip(batch.elements, inside) if k])] = 100.0 * F[:, inside]
    X[~ok] = 0.0
    return X.astype(dtype), ok, reasons


def _array_atpct(compositions, n_elements: int, dtype, first_row: int = 0) -> np.ndarray:
    """at.% rows of an (n, E) array of amounts; errors name the row as `first_row` + its position
    (`screen` passes its chunks' offsets, so a message names the row of the whole array)."""
    X = np.asarray(compositions, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_elements:
        raise DesignError(f"composition array has shape {X.shape}; expected (n, {n_elements})")
    bad = ~np.isfinite(X).all(axis=1) | (X < 0).any(axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DesignError(f"composition row {first_row + r} holds negative or non-finite amounts: "
                          f"{X[r][~np.isfinite(X[r]) | (X[r] < 0)].tolist()}")
    s = X.sum(axis=1, keepdims=True)
    if (s <= 0).any():
        raise DesignError(f"composition row {first_row + int(np.flatnonzero(s[:, 0] <= 0)[0])} is empty")
    return (100.0 * X / s).astype(dtype)


def features_of(model: SSVAE, x_atpct: np.ndarray, threads=None) -> np.ndarray:
    """The 8 zeng2024 descriptors (float64) of at.% rows over the model's elements."""
    X = np.asarray(x_atpct, dtype=np.float64)
    # rows come from compositions_to_atpct / the decoder: finite, >= 0, non-empty; normalising them
    # makes a valid batch without re-checking (that would cost as much as the featurization)
    batch = CompositionBatch.from_valid(X / X.sum(axis=1, keepdims=True), tuple(model.config.elements))
    return featurize_array(batch, descriptors="zeng2024", threads=threads)


def classifier_proba(model: SSVAE, feats: np.ndarray) -> np.ndarray:
    """q(φ=1 | e): the classifier head's P(single phase) for raw descriptor rows e (n, 8)."""
    with torch.no_grad():
        return model.classifier_prob(torch.as_tensor(np.asarray(feats, np.float32)))[:, 0].numpy()


def format_formula(elements, atpct_int) -> str:
    return "".join(f"{e}{int(v)}" for e, v in zip(elements, atpct_int) if int(v) > 0)


def round_atpct(fractions: torch.Tensor) -> np.ndarray:
    """Authors' rounding of decoded fractions to integer at.% (see module docstring)."""
    f = fractions.to(torch.float32)
    return (torch.round(f, decimals=2) * 100).numpy().astype(np.float32).astype(np.int64)


# ---- screening -------------------------------------------------------------------------------------
def screen(model: SSVAE, compositions, chunk_size: int = 200_000, threads=None, errors="raise") -> np.ndarray:
    """P(single phase) for a batch: formulas, dicts, or an (n, E) array of amounts over the model's
    elements. Featurization (C++ kernel) and the classifier run chunk by chunk so memory stays flat.
    With errors='report', rows outside the model's elements give NaN."""
    if chunk_size < 1:
        raise DesignError(f"chunk_size must be >= 1, got {chunk_size}")
    if isinstance(compositions, np.ndarray) and compositions.dtype.kind in "fiu":
        if compositions.ndim != 2:
            _array_atpct(compositions, len(model.config.elements), np.float32)  # raises, naming the shape
        n = compositions.shape[0]
        out = np.empty(n, np.float64)
        for a in range(0, n, chunk_size):
            x = _array_atpct(compositions[a : a + chunk_size], len(model.config.elements), np.float32, first_row=a)
            out[a : a + chunk_size] = classifier_proba(model, features_of(model, x, threads))
        return out
    x, ok, _ = compositions_to_atpct(model, compositions, errors=errors)
    out = np.full(len(x), np.nan)
    idx = np.flatnonzero(ok)
    for a in range(0, len(idx), chunk_size):
        sel = idx[a : a + chunk_size]
        out[sel] = classifier_proba(model, features_of(model, x[sel], threads))
    return out


def screen_proba(model: SSVAE, batch, chunk_size: int = 200_000, threads=None) -> np.ndarray:
    """P(single phase) for a `CompositionBatch` (or any object with ``fractions`` (n, k) and
    ``elements``) over any element columns: rows with a non-zero amount of an element outside the
    model's elements get NaN (the screening pipeline never keeps them). Used by
    `hea_fast.screen.SSVAEScorer`."""
    F = np.asarray(batch.fractions, dtype=np.float64)
    els = tuple(batch.elements)
    if F.ndim != 2 or F.shape[1] != len(els):
        raise DesignError(f"batch fractions have shape {F.shape} for {len(els)} elements")
    idx = {e: i for i, e in enumerate(model.config.elements)}
    inside = np.array([e in idx for e in els], bool)
    ok = ~(F[:, ~inside] > 0).any(axis=1) & (F[:, inside].sum(axis=1) > 0)
    X = np.zeros((F.shape[0], len(idx)))
    X[:, [idx[e] for e, k in zip(els, inside) if k]] = F[:, inside]
    out = np.full(F.shape[0], np.nan)
    sel = np.flatnonzero(ok)
    if sel.size:
        out[sel] = screen(model, X[sel], chunk_size=chunk_size, threads=threads)
    return out


# ---- constraints -----------------------------------------------------------------------------------
#: The composition limits of the high-entropy-alloy definition (Yeh et al., Adv. Eng. Mater. 6 (2004)
#: 299: five or more principal elements, each between 5 and 35 at.%): `Constraints(**HEA)`.
HEA = {"min_elements": 5, "min_fraction": 5.0, "max_fraction": 35.0}


@dataclass
class Constraints:
    """Limits on designed compositions (amounts in at.%).

    allowed / forbidden: elements that may / must not appear. required: elements every alloy
    contains. bounds: element -> (min, max) at.% (a min > 0 makes the element required).
    min_elements / max_elements: how many elements an alloy has. min_fraction / max_fraction: at.%
    of every element present (``Constraints(**HEA)``: 5 or more elements, each 5-35 at.%).
    cost / cost_weight: the penalty p_i ∝ p_i·exp(−λ·cost_i)."""

    allowed: tuple | None = None  # only these elements may appear
    forbidden: tuple = ()
    bounds: dict = field(default_factory=dict)  # element -> (min at.%, max at.%)
    cost: dict = field(default_factory=dict)  # element -> cost per unit (e.g. $/kg, g/cm³)
    cost_weight: float = 0.0  # λ in p_i ∝ p_i exp(-λ cost_i)
    required: tuple = ()
    min_elements: int | None = None
    max_elements: int | None = None
    min_fraction: float | None = None  # at.% of each element present
    max_fraction: float | None = None

    def active(self) -> bool:
        return bool(self.allowed is not None or self.forbidden or self.bounds or (self.cost and self.cost_weight)
                    or self.shaped())

    def shaped(self) -> bool:
        """Limits on amounts or element counts: decoded compositions are then rounded to whole at.%
        that still meet them (not the authors' rounding)."""
        return bool(self.bounds) or self._hea()

    def _hea(self) -> bool:
        """Limits on the element count or on every element's amount: the decoded composition is
        projected onto a chosen set of elements (`_project_shaped`)."""
        return bool(self.required or self.min_elements or self.max_elements or self.min_fraction
                    or self.max_fraction is not None)

    def check(self, elements):
        known = set(elements)
        names = set(self.forbidden) | set(self.bounds) | set(self.cost) | set(self.allowed or ()) | set(self.required)
        bad = sorted(names - known)
        if bad:
            raise DesignError(f"constraint names element(s) {bad} outside the model's elements")
        lo = sum(b[0] for b in self.bounds.values())
        for e, (a, b) in self.bounds.items():
            if not 0 <= a <= b <= 100:
                raise DesignError(f"bounds for {e} must satisfy 0 <= min <= max <= 100, got ({a}, {b})")
        if lo > 100:
            raise DesignError(f"lower bounds sum to {lo} at.% > 100: infeasible")
        for e, (a, b) in self.bounds.items():  # designs are written in whole at.%
            if a > 0 and not _whole_between(a, b):
                raise DesignError(f"bounds for {e} ({a:g}, {b:g}) at.% hold no whole at.%, and designed alloys are "
                                  f"given in whole at.%: widen them to include one (e.g. ({max(1.0, np.floor(a)):g}, "
                                  f"{max(1.0, np.ceil(b)):g}))")
        fmin, fmax = self.min_fraction or 0.0, 100.0 if self.max_fraction is None else self.max_fraction
        if not 0 <= fmin <= fmax <= 100 or fmax <= 0:
            raise DesignError(f"need 0 <= min_fraction <= max_fraction <= 100 at.% (max > 0), got {fmin}, {fmax}")
        if not _whole_between(max(fmin, 1.0), fmax):
            raise DesignError(f"min_fraction {fmin:g} and max_fraction {fmax:g} at.% hold no whole at.% of 1 or more, "
                              "and designed alloys are given in whole at.%")
        if not np.isfinite(self.cost_weight):
            raise DesignError(f"cost_weight must be a finite number, got {self.cost_weight}")
        bad_cost = sorted(e for e, c in self.cost.items() if not np.isfinite(float(c)))
        if bad_cost:
            raise DesignError(f"cost of element(s) {bad_cost} is not a finite number "
                              f"({', '.join(f'{e}={self.cost[e]}' for e in bad_cost)}); to exclude an element, forbid it")
        clash = sorted(set(self.required) & set(self.forbidden))
        if clash:
            raise DesignError(f"element(s) {clash} are both required and forbidden")

    def _mask(self, elements) -> np.ndarray:
        mask = np.ones(len(elements), bool)
        if self.allowed is not None:
            mask &= np.isin(elements, list(self.allowed))
        return mask & ~np.isin(elements, list(self.forbidden))

    def _limits(self, elements):
        """Per-element (lo, hi) in at.% for an element that is present; the required mask."""
        n = len(elements)
        lo = np.full(n, float(self.min_fraction or 0.0))
        hi = np.full(n, 100.0 if self.max_fraction is None else float(self.max_fraction))
        req = np.isin(elements, list(self.required))
        for i, e in enumerate(elements):
            if e in self.bounds:
                a, b = self.bounds[e]
                lo[i], hi[i] = max(lo[i], a), min(hi[i], b)
                req[i] |= a > 0
        bad = [e for e, a, b in zip(elements, lo, hi) if a > b]
        if bad:
            raise DesignError(f"element(s) {bad}: the bounds and min/max_fraction leave no amount")
        return lo, hi, req

    def count_range(self, elements) -> tuple[int, int]:
        """(fewest, most) elements an alloy may have under these constraints; DesignError if none."""
        self.check(elements)
        mask = self._mask(elements)
        lo, hi, req = self._limits(elements)
        if (req & ~mask).any():
            raise DesignError(f"required element(s) {list(np.asarray(elements)[req & ~mask])} are not allowed")
        fmin, fmax = self.min_fraction or 0.0, 100.0 if self.max_fraction is None else self.max_fraction
        k_lo = max(int(self.min_elements or 1), int(req.sum()), int(np.ceil(100.0 / fmax - 1e-9)))
        k_hi = min(int(self.max_elements or len(elements)), int(mask.sum()),
                   int(np.floor(100.0 / fmin + 1e-9)) if fmin > 0 else len(elements))
        if k_lo > k_hi:
            raise DesignError(f"no alloy meets the constraints: they need at least {k_lo} elements but allow at most "
                              f"{k_hi} ({int(mask.sum())} allowed elements, {fmin:g}-{fmax:g} at.% each)")
        if lo[req].sum() > 100 + 1e-9:
            raise DesignError(f"the required elements' minimum amounts sum to {lo[req].sum():g} at.% > 100")
        return k_lo, k_hi

    def apply(self, elements, fractions: np.ndarray) -> np.ndarray:
        """Project decoder-mean fractions (n, E) onto the constraint set; rows sum to 1."""
        if not self.active():
            return fractions
        self.check(elements)
        p = np.array(fractions, dtype=np.float64)
        mask = self._mask(elements)
        if self.cost and self.cost_weight:
            p = _cost_reweight(np.where(mask, p, 0.0), np.array([float(self.cost.get(e, 0.0)) for e in elements]),
                               self.cost_weight)
        p = np.where(mask, p, 0.0)
        if self._hea():
            return np.vstack([self._project_shaped(elements, row, mask) for row in p])
        lo = np.array([self.bounds.get(e, (0.0, 100.0))[0] for e in elements]) / 100.0
        hi = np.array([self.bounds.get(e, (0.0, 100.0))[1] for e in elements]) / 100.0
        hi = np.where(mask, hi, 0.0)
        if (lo > hi).any():
            e = elements[int(np.flatnonzero(lo > hi)[0])]
            raise DesignError(f"element {e} has a lower bound but is not allowed")
        if hi.sum() < 1 - 1e-12:
            raise DesignError(f"upper bounds of the allowed elements sum to {100 * hi.sum():.3g} at.% < 100")
        s = p.sum(axis=1, keepdims=True)
        p = np.where(s > 0, p / np.where(s > 0, s, 1), mask / mask.sum())
        return np.vstack([_clip_renormalise(q, lo, hi, mask) for q in p])

    def _project_shaped(self, elements, p, mask) -> np.ndarray:
        """One row: choose the support (required elements, then the most probable allowed ones, as
        many as the decoder puts >= min_fraction on, within the element-count limits), then clip
        each amount into its limits and renormalise the rest."""
        k_lo, k_hi = self.count_range(elements)
        lo, hi, req = self._limits(elements)
        lo, hi = lo / 100.0, hi / 100.0
        p = p / p.sum() if p.sum() > 0 else mask / mask.sum()
        order = [i for i in np.argsort(-p, kind="stable") if mask[i] and not req[i]]
        floor_ = max(float(self.min_fraction or 0.0) / 100.0, 0.01)
        want = int(req.sum()) + int(sum(p[i] >= floor_ for i in order))
        for k in range(min(max(want, k_lo), k_hi), k_hi + 1):
            support = req.copy()
            support[order[: k - int(req.sum())]] = True
            # every chosen element gets at least 1 at.%, the least whole at.% of an element present
            # (`to_atpct` keeps the elements above zero): a required element, or one added to reach
            # min_elements, that the decoder gives ~1e-12 must not vanish in the rounding
            lo_s = np.where(support, np.maximum(lo, 0.01), 0.0)
            if lo_s.sum() <= 1 + 1e-12 and hi[support].sum() >= 1 - 1e-12:
                q = np.where(support, np.maximum(p, 1e-12), 0.0)
                return _clip_renormalise(q / q.sum(), lo_s, np.where(support, hi, 0.0), support)
        raise DesignError(f"no alloy of {k_lo}-{k_hi} allowed elements meets the amount limits")

    def to_atpct(self, elements, fractions) -> np.ndarray:
        """Whole at.% of projected fractions (n, E): the authors' rounding when the constraints do not
        limit amounts or element counts, else a rounding that keeps every limit and sums to 100."""
        f = fractions if isinstance(fractions, torch.Tensor) else torch.as_tensor(np.asarray(fractions, np.float32))
        if not self.shaped():
            return round_atpct(f)
        lo, hi, _ = self._limits(elements)
        x = 100.0 * f.numpy().astype(np.float64)
        # the projection leaves exact zeros outside the chosen elements; with bounds alone, amounts the
        # authors' rounding would drop (< 0.5 at.%) stay out unless a lower bound requires the element
        support = x > 1e-9 if self._hea() else (x >= 0.5) | (lo > 0)
        return np.vstack([_round_in_limits(row, lo, hi, sup) for row, sup in zip(x, support)])

    def violations(self, elements, atpct) -> str:
        """Why an integer at.% row breaks the constraints ('' when it meets them all)."""
        x = np.asarray(atpct, np.float64)
        present = x > 0
        els = np.asarray(elements)
        why = []
        mask = self._mask(elements)
        if (present & ~mask).any():
            why.append(f"element(s) {list(els[present & ~mask])} not allowed")
        missing = [e for e in self.required if not present[list(elements).index(e)]]
        if missing:
            why.append(f"required element(s) {missing} missing")
        n = int(present.sum())
        if self.min_elements and n < self.min_elements:
            why.append(f"{n} elements < {self.min_elements}")
        if self.max_elements and n > self.max_elements:
            why.append(f"{n} elements > {self.max_elements}")
        if self.shaped():
            lo, hi, _ = self._limits(elements)
            out = present & ((x < lo - 1e-9) | (x > hi + 1e-9))
            if out.any():
                why.append("amount(s) outside their limits: " + ", ".join(f"{e} {v:g}" for e, v in zip(els[out], x[out])))
        return "; ".join(why)


def _whole_between(a: float, b: float) -> bool:
    """Whether [a, b] holds an integer (1e-9 tolerance: 2.9999999999 counts as 3)."""
    return np.ceil(a - 1e-9) <= np.floor(b + 1e-9)


def _cost_reweight(p, cost, weight) -> np.ndarray:
    """Rows of p_i·exp(−λ·cost_i), normalised, in log space: λ·Δcost beyond ~709 (a negative λ to favour
    a high melting point in K, say) overflowed exp() and the rows became NaN (then an equimolar
    fallback). Rows without mass stay zero."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.clip(-weight * cost, -1e300, 1e300)  # absurd λ·cost: saturate, never inf - inf
    with np.errstate(divide="ignore"):
        s = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)) + d, -np.inf)
    top = s.max(axis=1, keepdims=True)
    out = np.where(np.isfinite(top), np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
    return out / np.maximum(out.sum(axis=1, keepdims=True), np.finfo(float).tiny)


def _clip_renormalise(q, lo, hi, mask):
    """Iterative clip-and-renormalise of one row of fractions: fix the elements that hit a bound,
    rescale the free rest, until every bound holds."""
    q = np.array(q, dtype=np.float64)
    fixed = np.zeros(len(q), bool)
    for _ in range(len(q) + 1):
        free = ~fixed & mask
        budget = 1.0 - q[fixed].sum()
        fs = q[free].sum()
        if fs > 0:
            q[free] *= budget / fs
        elif free.any():
            q[free] = budget / free.sum()
        viol = free & ((q < lo - 1e-12) | (q > hi + 1e-12))
        if not viol.any():
            break
        q[viol] = np.clip(q[viol], lo[viol], hi[viol])
        fixed |= viol
    return q


def _round_in_limits(x, lo, hi, present) -> np.ndarray:
    """Integers close to at.% row x (largest remainders), summing to 100, each `present` element
    kept within [max(ceil(lo), 1), floor(hi)], the others 0."""
    ilo = np.where(present, np.maximum(np.ceil(lo - 1e-9), 1), 0)
    ihi = np.where(present, np.floor(hi + 1e-9), 0)
    r = np.clip(np.floor(x + 1e-9), ilo, ihi)
    rem = x - r
    for _ in range(200):
        d = int(round(100 - r.sum()))
        if d == 0:
            break
        if d > 0:
            can = np.flatnonzero(r < ihi)
            if not can.size:
                break
            j = can[np.argmax(rem[can])]
            r[j] += 1
        else:
            can = np.flatnonzero(r > ilo)
            if not can.size:
                break
            j = can[np.argmin(rem[can])]
            r[j] -= 1
        rem[j] = x[j] - r[j]
    return r.astype(np.int64)


# ---- generation and nudging --------------------------------------------------------------------------
def _decode(model, z, p, constraints):
    z = np.atleast_2d(np.asarray(z, np.float32))
    if z.ndim != 2 or z.shape[-1] != model.config.z_dim:
        raise DesignError(f"z has shape {z.shape}; the model's latent size is {model.config.z_dim}: give (d,) or "
                          f"(n, d) with d = {model.config.z_dim}")
    if not np.isfinite(z).all():
        r = int(np.flatnonzero(~np.isfinite(z).all(axis=1))[0])
        raise DesignError(f"latent point {r} has non-finite coordinates {z[r].tolist()}")
    p = np.asarray(p, np.float32).reshape(-1, 1)
    if len(p) not in (1, len(z)):
        raise DesignError(f"{len(p)} target probabilities for {len(z)} latent points: give one, or one per point")
    z = torch.as_tensor(z)
    y = torch.as_tensor(p).expand(z.shape[0], 1)
    with torch.no_grad():
        f = model.decode(z, y)
    if constraints is not None and constraints.active():
        f = torch.as_tensor(constraints.apply(model.config.elements, f.numpy()), dtype=torch.float32)
    return f


def _whole_atpct(model, f, constraints) -> np.ndarray:
    if constraints is not None and constraints.shaped():
        return constraints.to_atpct(model.config.elements, f)
    return round_atpct(f)


def best_step(trajectory: pd.DataFrame) -> pd.Series:
    """The step of a `nudge` trajectory with the highest P(single phase) (the earliest on ties)."""
    return trajectory.loc[trajectory["p_single"].to_numpy().argmax()]


def generate(model: SSVAE, z, p_target=1.0, constraints: Constraints | None = None, threads=None) -> pd.DataFrame:
    """Decode latent point(s) z (d,) or (n, d) with φ = p_target (a probability in [0, 1]).

    Returns one row per z: z coordinates, p_target, the rounded formula, its number of elements,
    its predicted P(single), and |asked − predicted| (the generation consistency the paper
    discusses). With `constraints`, the decoded composition is projected onto them first and
    rounded so that the whole at.% still meet them (`Constraints.to_atpct`).
    """
    p_target = np.asarray(p_target, np.float64)
    if not np.all((p_target >= 0) & (p_target <= 1)):
        raise DesignError(f"p_target must lie in [0, 1], got {p_target}")
    f = _decode(model, z, p_target, constraints)
    ints = _whole_atpct(model, f, constraints)
    formulas = [format_formula(model.config.elements, row) for row in ints]
    empty = [i for i, s in enumerate(formulas) if not s]
    p_pred = np.full(len(formulas), np.nan)
    keep = np.array([bool(s) for s in formulas])
    if keep.any():
        p_pred[keep] = classifier_proba(model, features_of(model, ints[keep].astype(np.float64), threads))
    zz = np.atleast_2d(np.asarray(z, np.float64))
    out = pd.DataFrame({f"z{i + 1}": zz[:, i] for i in range(zz.shape[1])})
    out["p_target"] = np.broadcast_to(p_target, len(out))
    out["alloy"] = formulas
    out["n_elements"] = (ints > 0).sum(axis=1)
    out["p_single"] = p_pred
    out["abs_error"] = np.abs(out["p_single"] - out["p_target"])
    if empty:
        out.loc[empty, "alloy"] = ""
    return out


def nudge(model: SSVAE, formula, cutoff: float = 0.6, max_steps: int = 10,
          constraints: Constraints | None = None, threads=None) -> pd.DataFrame:
    """The paper's iterative design loop from one start alloy; the whole trajectory.

    Step 0 is the start alloy truncated to integer at.% (as the authors' ``calculate_compositions``
    writes it) or, with active `constraints`, the start alloy projected onto them first (so step 0 may
    differ from `formula`: e.g. gain a fifth element under the HEA definition); the encoder sees the integer at.% renormalised to 100; each step encodes with the current p, decodes with 1 − p, rounds, re-scores,
    and the loop stops once p ≥ cutoff or after max_steps decodes. Each step is a function of the
    previous alloy alone, so an alloy met a second time means the loop would repeat the same cycle
    until max_steps: it stops there (the repeated alloy is the last row). Columns: step, alloy,
    p_single, z1…zd (loc of q(z | x, p) of that step's alloy), reached (p ≥ cutoff), repeats (the
    earlier step whose alloy this row repeats, -1 if none).
    """
    if not 0 < cutoff <= 1:
        raise DesignError(f"cutoff must be in (0, 1], got {cutoff}")
    if max_steps < 0:
        raise DesignError(f"max_steps must be >= 0, got {max_steps}")
    x, _, _ = compositions_to_atpct(model, [formula], dtype=np.float64)
    if constraints is not None and constraints.active():
        x = 100 * constraints.apply(model.config.elements, x / 100.0)
    if constraints is not None and constraints.shaped():
        ints = constraints.to_atpct(model.config.elements, x / 100.0)[0]
    else:
        # Start alloy: truncated at.% of the normalised formula, as the authors' calculate_compositions
        # (a tiny tolerance keeps 20.000000000000004 → 20 and 19.999999999999996 → 20 alike).
        ints = np.floor(x[0] + 1e-9).astype(np.int64)
    rows = []
    seen: dict[tuple, int] = {}
    for step in range(max_steps + 1):
        alloy = format_formula(model.config.elements, ints)
        if not alloy:
            raise DesignError(f"step {step}: the rounded composition is empty")
        repeats = seen.setdefault(tuple(int(v) for v in ints), step)
        xi = (100.0 * ints / ints.sum())[None, :]  # encoder input: normalised at.%
        e = features_of(model, xi, threads)
        xi = xi.astype(np.float32)
        with torch.no_grad():
            y = model.classifier_prob(torch.as_tensor(e.astype(np.float32)))
            loc, _ = model.encode_z(torch.as_tensor(xi), y)
        p = float(y[0, 0])
        rows.append({"step": step, "alloy": alloy, "p_single": p,
                     **{f"z{i + 1}": float(loc[0, i]) for i in range(loc.shape[1])}, "reached": p >= cutoff,
                     "repeats": repeats if repeats != step else -1})
        if p >= cutoff or step == max_steps or repeats != step:
            break
        f = _decode(model, loc.numpy(), 1.0 - p, constraints)
        ints = _whole_atpct(model, f, constraints)[0]
    return pd.DataFrame(rows)
