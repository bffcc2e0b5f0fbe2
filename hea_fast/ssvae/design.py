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
p_i ∝ p_i · exp(−λ cost_i) (the minimiser of KL(p'‖p) + λ Σ p'_i cost_i).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from hea_fast.composition import CompositionBatch, CompositionError, as_batch
from hea_fast.features import featurize_array
from hea_fast.ssvae.model import SSVAE

__all__ = ["DesignError", "Constraints", "compositions_to_atpct", "features_of", "classifier_proba", "screen",
           "screen_proba", "generate", "nudge", "format_formula", "round_atpct"]


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
        X = np.asarray(compositions, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(els):
            raise DesignError(f"composition array has shape {X.shape}; expected (n, {len(els)})")
        if not np.isfinite(X).all() or (X < 0).any():
            raise DesignError("composition array holds negative or non-finite amounts")
        s = X.sum(axis=1, keepdims=True)
        if (s <= 0).any():
            raise DesignError(f"composition row {int(np.flatnonzero(s[:, 0] <= 0)[0])} is empty")
        return (100.0 * X / s).astype(dtype), np.ones(len(X), bool), [""] * len(X)
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
    if isinstance(compositions, np.ndarray):
        n = compositions.shape[0]
        out = np.empty(n, np.float64)
        for a in range(0, n, chunk_size):
            x, _, _ = compositions_to_atpct(model, compositions[a : a + chunk_size])
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
@dataclass
class Constraints:
    allowed: tuple | None = None  # only these elements may appear
    forbidden: tuple = ()
    bounds: dict = field(default_factory=dict)  # element -> (min at.%, max at.%)
    cost: dict = field(default_factory=dict)  # element -> cost per unit (e.g. $/kg, g/cm³)
    cost_weight: float = 0.0  # λ in p_i ∝ p_i exp(-λ cost_i)

    def active(self) -> bool:
        return bool(self.allowed is not None or self.forbidden or self.bounds or (self.cost and self.cost_weight))

    def check(self, elements):
        known = set(elements)
        names = set(self.forbidden) | set(self.bounds) | set(self.cost) | set(self.allowed or ())
        bad = sorted(names - known)
        if bad:
            raise DesignError(f"constraint names element(s) {bad} outside the model's elements")
        lo = sum(b[0] for b in self.bounds.values())
        for e, (a, b) in self.bounds.items():
            if not 0 <= a <= b <= 100:
                raise DesignError(f"bounds for {e} must satisfy 0 <= min <= max <= 100, got ({a}, {b})")
        if lo > 100:
            raise DesignError(f"lower bounds sum to {lo} at.% > 100: infeasible")

    def apply(self, elements, fractions: np.ndarray) -> np.ndarray:
        """Project decoder-mean fractions (n, E) onto the constraint set; rows sum to 1."""
        if not self.active():
            return fractions
        self.check(elements)
        p = np.array(fractions, dtype=np.float64)
        mask = np.ones(len(elements), bool)
        if self.allowed is not None:
            mask &= np.isin(elements, list(self.allowed))
        mask &= ~np.isin(elements, list(self.forbidden))
        if self.cost and self.cost_weight:
            c = np.array([self.cost.get(e, 0.0) for e in elements])
            p = p * np.exp(-self.cost_weight * (c - c[mask].min() if mask.any() else c))
        p = np.where(mask, p, 0.0)
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
        # Iterative clip-and-renormalise: fix the elements that hit a bound, rescale the free rest.
        for r in range(p.shape[0]):
            q = p[r]
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
            p[r] = q
        return p


# ---- generation and nudging --------------------------------------------------------------------------
def _decode(model, z, p, constraints):
    z = torch.as_tensor(np.atleast_2d(np.asarray(z, np.float32)))
    if z.shape[-1] != model.config.z_dim:
        raise DesignError(f"z has {z.shape[-1]} coordinates; the model's latent size is {model.config.z_dim}")
    y = torch.as_tensor(np.asarray(p, np.float32)).reshape(-1, 1).expand(z.shape[0], 1)
    with torch.no_grad():
        f = model.decode(z, y)
    if constraints is not None and constraints.active():
        f = torch.as_tensor(constraints.apply(model.config.elements, f.numpy()), dtype=torch.float32)
    return f


def generate(model: SSVAE, z, p_target=1.0, constraints: Constraints | None = None, threads=None) -> pd.DataFrame:
    """Decode latent point(s) z (d,) or (n, d) with φ = p_target (a probability in [0, 1]).

    Returns one row per z: z coordinates, p_target, the rounded formula, its predicted P(single),
    and |asked − predicted| (the generation consistency the paper discusses).
    """
    p_target = np.asarray(p_target, np.float64)
    if not np.all((p_target >= 0) & (p_target <= 1)):
        raise DesignError(f"p_target must lie in [0, 1], got {p_target}")
    f = _decode(model, z, p_target, constraints)
    ints = round_atpct(f)
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
    out["p_single"] = p_pred
    out["abs_error"] = np.abs(out["p_single"] - out["p_target"])
    if empty:
        out.loc[empty, "alloy"] = ""
    return out


def nudge(model: SSVAE, formula, cutoff: float = 0.6, max_steps: int = 10,
          constraints: Constraints | None = None, threads=None) -> pd.DataFrame:
    """The paper's iterative design loop from one start alloy; the whole trajectory.

    Step 0 is the start alloy truncated to integer at.% (as the authors' ``calculate_compositions``
    writes it); the encoder sees the integer at.% renormalised to 100; each step encodes with the current p, decodes with 1 − p, rounds, re-scores,
    and the loop stops once p ≥ cutoff or after max_steps decodes. Columns: step, alloy, p_single,
    z1…zd (loc of q(z | x, p) of that step's alloy), reached (p ≥ cutoff).
    """
    if not 0 < cutoff <= 1:
        raise DesignError(f"cutoff must be in (0, 1], got {cutoff}")
    if max_steps < 0:
        raise DesignError(f"max_steps must be >= 0, got {max_steps}")
    x, _, _ = compositions_to_atpct(model, [formula], dtype=np.float64)
    if constraints is not None and constraints.active():
        x = 100 * constraints.apply(model.config.elements, x / 100.0)
    # Start alloy: truncated at.% of the normalised formula, as the authors' calculate_compositions
    # (a tiny tolerance keeps 20.000000000000004 → 20 and 19.999999999999996 → 20 alike).
    ints = np.floor(x[0] + 1e-9).astype(np.int64)
    rows = []
    for step in range(max_steps + 1):
        alloy = format_formula(model.config.elements, ints)
        if not alloy:
            raise DesignError(f"step {step}: the rounded composition is empty")
        xi = (100.0 * ints / ints.sum())[None, :]  # encoder input: normalised at.%
        e = features_of(model, xi, threads)
        xi = xi.astype(np.float32)
        with torch.no_grad():
            y = model.classifier_prob(torch.as_tensor(e.astype(np.float32)))
            loc, _ = model.encode_z(torch.as_tensor(xi), y)
        p = float(y[0, 0])
        rows.append({"step": step, "alloy": alloy, "p_single": p,
                     **{f"z{i + 1}": float(loc[0, i]) for i in range(loc.shape[1])}, "reached": p >= cutoff})
        if p >= cutoff or step == max_steps:
            break
        f = _decode(model, loc.numpy(), 1.0 - p, constraints)
        ints = round_atpct(f)[0]
    return pd.DataFrame(rows)
