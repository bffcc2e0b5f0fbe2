"""Applicability domain of a phase model: how far an alloy lies from the alloys the model was trained on.

Three rules, applied to every alloy (`ApplicabilityDomain.score`, or `score_features` on the arrays
of a screening pool):

(i) elements   An element that fewer than ``min_element_count`` training alloys contain (default 1:
               absent from training) puts the alloy out: ``domain_score = +inf``, the reason names
               the element and its count. The model never saw it, whatever the descriptors say.
(ii) fractions An element whose fraction lies outside the range it takes in the training alloys
               that contain it, widened by ``fraction_tolerance`` (absolute, default 0.01 = 1 at.%),
               puts the alloy out; the reason names the element, its fraction, the range and the
               accepted range. ``domain_score`` is not changed by this rule (it stays the distance
               ratio of iii). The lower end is never widened below ``min_fraction_ratio`` (default
               0.5) times the smallest training fraction: the descriptors respond to an element's
               presence more than to its amount (γ takes the smallest and largest atoms present,
               whatever their amount; δ grows as the square root of a small amount), so a trace
               below anything the training alloys hold is an extrapolation that the absolute
               tolerance would hide. CoCrFeNi + 0.04 at.% Hf moves γ from 1.03 to 1.32 and the
               default model's P from 0.84 to 0.64, while the smallest Hf amount in its training
               alloys is 0.5 at.%; the rule puts it out. It only bites for elements whose smallest
               training fraction is below 2 x fraction_tolerance (C, B, Si, Al, Co, Hf, Nb, ... in
               the bundled model), and never inside the 5-35 at.% screening space.
(iii) distance d_k(x), the mean Euclidean distance from the alloy's feature vector z(x) to its k
               nearest training alloys (default k = 5), is compared with the training
               distribution of the same quantity computed leave-one-out: for each training alloy,
               the mean distance to its k nearest *other* training alloys. Exact duplicates (the
               same feature vector, i.e. the same composition) count once as neighbours, so an
               alloy listed by several sources is not its own neighbour at distance 0; each
               training alloy, duplicates included, contributes its value to the distribution.
               threshold = the ``quantile`` (default 0.99, ``method="higher"``) of that
               distribution, and ``domain_score = d_k(x) / threshold``: monotone in d_k, ≤ 1
               inside. A training alloy's own d_k is at most its leave-one-out value (it is its
               own nearest neighbour at distance 0), so with quantile q at least a fraction q of
               the training alloys are in domain by construction, all of them at q = 1.

(iv) components An alloy with fewer than ``min_components`` elements (fraction > 0; default 1 =
               rule off) is out; ``domain_score`` is not changed. The bundled default phase model
               sets 3: the shared sources contradict each other on binaries (Yan 2021 labels 64 %
               of its 705 binaries single-phase, the Peivaste bulk sheets 2 % of their 144), so a
               binary's prediction depends on which source's convention the user follows. Measured
               out of source (benchmarks/papers/phase_validation/domain.md): binaries accuracy 0.62,
               log-loss 0.86, ECE 0.26 against 0.76 / 0.53 / 0.05 for alloys of ≥ 3 elements.

``in_domain`` = finite score ≤ 1 and rules (i), (ii) and (iv) pass; ``domain_reason`` is "" inside and names
every failed rule otherwise. An alloy whose descriptors cannot be computed (an element lacking data
in the element table, e.g. a lanthanide's Allen electronegativity, or a non-finite value such as
Λ = +inf for a pure element) gets ``domain_score = NaN`` (this takes precedence over +inf: there is
no distance to report), ``in_domain = False`` and the reason from `hea_fast.features`.

Feature space. z(x) = [(d(x) − μ) / σ | w · c(x)]: the model's descriptors d (default the 15 of the
default phase model, `DEFAULT_DESCRIPTORS`), standardised with the training mean μ and standard
deviation σ (ddof 0; σ = 0 replaced by 1), followed by the element fractions c over the training
elements, multiplied by one constant ``fraction_weight`` w (default 4; w = 0 gives the descriptor
space alone). Fractions are not standardised per element: a rare element's small spread would make
any amount of it look far, which rule (i) already covers. Why append them at all: descriptors are
rule-of-mixture averages, so an alloy with an unusual mix of known elements can have ordinary
descriptor values; with w = 4, replacing 20 at.% of one element by another (|Δc| = 0.28) counts as
1.1 standard deviations of one descriptor.

Measured on the shared phase data (the LOSO folds of `hea_fast.validation.protocols.loso_folds`;
the domain fitted on each fold's training alloys and the held-out source scored; the model is the
mean of the logreg_fractions and hgb probabilities in
benchmarks/papers/phase_validation/results.jsonl, i.e. the default model before calibration;
5,300 held-out alloys over 6 sources; k = 5, q = 0.99, tolerance 0.01):

=================  ============  ==========================  ==========================  =======================
feature space      flagged       log-loss / acc. / AUC in    log-loss / acc. / AUC out   flagged by distance (iii)
=================  ============  ==========================  ==========================  =======================
descriptors, w=0   11.8 % (626)  0.573 / 0.740 / 0.757       0.681 / 0.711 / 0.812       168: 0.584 / 0.786
+ fractions, w=4   12.0 % (636)  0.572 / 0.740 / 0.757       0.686 / 0.708 / 0.814       239: 0.744 / 0.703
=================  ============  ==========================  ==========================  =======================

(last column: alloys the distance rule puts out, their log-loss / accuracy). Both spaces flag about
the same share, and out-of-domain alloys are predicted worse on average (log-loss 0.69 vs 0.57),
but only with the fractions does the distance rule single out alloys the model gets wrong
(log-loss 0.74 vs 0.57 inside); on the descriptors alone it flags alloys predicted *better* than
average. w = 2 and 8 gave within 0.01 of w = 4. Per rule (w = 4): unknown element 61 alloys
(log-loss 0.37), fraction range alone 336 (0.70),
distance alone 48 (0.57), range and distance 191 (0.79). The out-of-domain alloys are mostly from
yan2021 (481 of its 1,578; log-loss out 0.79 vs in 0.62) and peivaste2023 (144 of 1,660, where
they are easier: 0.38 vs 0.59), so "out" means "unlike the training data", not "surely wrong".
The threshold is generous: the training data hold isolated alloys (Rb-Cs, Ru-Cs-Re-Os binaries
and the like) whose leave-one-out distances fill the top percent, so on the pooled data
(threshold 4.88, median training d_k 0.49) every one of 1e5 random 5-element alloys of the 15
usual HEA metals at 5-35 at.% is inside (domain_score median 0.43, max 0.82); lower `quantile` for
a tighter domain.

Speed: exact brute-force kNN over the distinct training alloys (3,123 points in 67 dimensions on
the pooled data) by blocks of BLAS products (`_knn`): 23,000 rows per CPU-second for such a pool
(1e5 rows in 4.2 CPU-s, one thread, on the shared 2-core machine; 1.4 s wall on two workers, BLAS held at
one thread per worker), about 3 x a scipy cKDTree
query of the same points (7,900 rows per CPU-second: kd-trees degrade in this many dimensions).
A screen of a whole lattice should score the domain of its top candidates, not of every point.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hea_fast._io import atomic_path, atomic_write_json, read_json
from hea_fast.composition import CompositionError, row_amounts
from hea_fast.features import DESCRIPTORS, featurize_array, resolve
from hea_fast.phase.records import align_fractions, composition_matches

__all__ = ["ApplicabilityDomain", "DEFAULT_DESCRIPTORS", "DOMAIN_COLUMNS"]

#: The 15 descriptors of the default phase model: the registry minus Ω (+inf whenever ΔH_mix = 0).
DEFAULT_DESCRIPTORS: tuple[str, ...] = tuple(d.name for d in DESCRIPTORS if d.name != "Omega")
#: Columns of `ApplicabilityDomain.score`.
DOMAIN_COLUMNS = ("domain_score", "in_domain", "domain_reason")

_FORMAT = 1  # version of the to_dict()/arrays() layout
_JSON, _NPZ = "domain.json", "domain.npz"
_CHUNK = 128  # query rows per block of the distance computation (work arrays stay in cache)
_MARGIN = 8  # candidates beyond k re-measured exactly
_GROUP = 16  # training points per column group of the candidate bound


class ApplicabilityDomain:
    """Applicability domain of a model trained on a set of alloys (see the module docstring).

    descriptors: registry names (`hea_fast.features`), in the model's column order (None: the 15
    of `DEFAULT_DESCRIPTORS`). k: neighbours averaged. quantile: of the training leave-one-out
    distances that sets the threshold (0 < q ≤ 1). min_element_count: training alloys that must
    contain an element for it to be known (≥ 1). fraction_tolerance: absolute widening of each
    element's training fraction range (≥ 0). min_fraction_ratio: the lower end of that range is
    at least this times the smallest training fraction (0-1; 0 = the tolerance alone, the rule of
    domains saved before it existed). fraction_weight: multiplier of the element fractions
    appended to the standardised descriptors (≥ 0; 0 = descriptors only). min_components: fewest
    elements an alloy may have to be in domain (≥ 1; 1 = no such rule). table: the element
    table's name (the one the model's descriptors use). Deterministic: no randomness.
    """

    def __init__(self, descriptors: Sequence[str] | None = None, k: int = 5, quantile: float = 0.99,
                 min_element_count: int = 1, fraction_tolerance: float = 0.01, fraction_weight: float = 4.0,
                 table: str = "default", min_components: int = 1, min_fraction_ratio: float = 0.5):
        names = DEFAULT_DESCRIPTORS if descriptors is None else (
            (descriptors,) if isinstance(descriptors, str) else tuple(descriptors))
        labels, resolved, _ = resolve(list(names), table)  # unknown / repeated names raise, naming them
        if list(labels) != list(resolved):
            raise ValueError(f"descriptors must be registry names, not a named set: {list(names)}")
        if not isinstance(table, str):
            raise TypeError(f"table must be an element table's name (it is stored with the domain), got {table!r}")
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = float(quantile)
        if not 0.0 < q <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")
        if isinstance(min_element_count, bool) or int(min_element_count) != min_element_count or min_element_count < 1:
            raise ValueError(f"min_element_count must be an integer >= 1, got {min_element_count!r}")
        if isinstance(min_components, bool) or int(min_components) != min_components or min_components < 1:
            raise ValueError(f"min_components must be an integer >= 1, got {min_components!r}")
        tol, w, ratio = float(fraction_tolerance), float(fraction_weight), float(min_fraction_ratio)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"min_fraction_ratio must be in [0, 1], got {min_fraction_ratio!r}")
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"fraction_tolerance must be finite and >= 0, got {fraction_tolerance!r}")
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"fraction_weight must be finite and >= 0, got {fraction_weight!r}")
        self.descriptors = tuple(names)
        self.k, self.quantile, self.min_element_count = int(k), q, int(min_element_count)
        self.fraction_tolerance, self.fraction_weight, self.table = tol, w, table
        self.min_components, self.min_fraction_ratio = int(min_components), ratio
        self._fitted = False

    # ---- fitting --------------------------------------------------------------------------------
    def fit(self, X, threads: int | None = None, *, elements: Sequence[str] | None = None) -> "ApplicabilityDomain":
        """Fit on training compositions `X` (anything `hea_fast.composition.as_batch` reads;
        elements: the columns of an array of amounts). A row whose descriptors cannot be computed raises ValueError naming it (a training alloy
        must have a place in the feature space)."""
        D, F, elements, reasons, _ = self._featurize(X, threads, elements)
        bad = np.flatnonzero(reasons != "")
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"training row {i} has no usable descriptors ({reasons[i]}); drop it before fitting "
                             f"({len(bad)} such row(s))")
        return self.fit_features(D, F, elements, threads=threads)

    def fit_features(self, descriptors: np.ndarray, fractions: np.ndarray, elements: Sequence[str],
                     threads: int | None = None) -> "ApplicabilityDomain":
        """Fit on the arrays of the training alloys: descriptors (n, len(self.descriptors)) in
        `self.descriptors` order, fractions (n, E) over `elements` (rows sum to 1)."""
        D, F, els = self._check_arrays(descriptors, fractions, elements)
        if not np.isfinite(D).all():
            i = int(np.flatnonzero(~np.isfinite(D).all(axis=1))[0])
            bad = ", ".join(f"{nm}={v!r}" for nm, v in zip(self.descriptors, D[i].tolist()) if not math.isfinite(v))
            raise ValueError(f"training row {i} has non-finite descriptor(s) {bad}; drop it before fitting")
        if not (np.isfinite(F).all() and (F >= 0).all()):
            raise ValueError("training fractions must be finite and non-negative")
        n = D.shape[0]
        present = F > 0
        counts = present.sum(axis=0)
        keep = counts > 0  # elements of the training alloys (the fraction columns of z)
        self.n_train_ = n
        self.elements_ = tuple(e for e, kp in zip(els, keep) if kp)
        self.element_counts_ = counts[keep].astype(np.int64)
        Fk = F[:, keep]
        with np.errstate(invalid="ignore"):
            self.fraction_min_ = np.where(present[:, keep], Fk, np.inf).min(axis=0)
            self.fraction_max_ = np.where(present[:, keep], Fk, -np.inf).max(axis=0)
        self.mean_ = D.mean(axis=0)
        sd = D.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = self._z(D, Fk)
        points, inverse, counts_u = np.unique(Z, axis=0, return_inverse=True, return_counts=True)
        if points.shape[0] < self.k + 1:
            raise ValueError(f"k={self.k} needs at least {self.k + 1} distinct training alloys, got {points.shape[0]}")
        self.points_ = np.ascontiguousarray(points)
        self.multiplicity_ = counts_u.astype(np.int64)
        self._prepare()
        # each point's nearest is itself (distance exactly 0; no other point is at 0: rows are distinct)
        self.loo_distances_ = self._knn(self.points_, threads, skip_self=True)
        self.threshold_ = float(np.quantile(self.loo_distances_[inverse.reshape(-1)], self.quantile, method="higher"))
        if not self.threshold_ > 0:
            raise ValueError("the training leave-one-out distances are all zero; cannot set a threshold")
        self._fitted = True
        return self

    # ---- scoring --------------------------------------------------------------------------------
    def score(self, X, threads: int | None = None, *, elements: Sequence[str] | None = None) -> pd.DataFrame:
        """Domain of compositions `X` (anything `as_batch` reads; elements: the columns of an array
        of amounts): a DataFrame with one row per
        input row (the index of pandas input, else 0..n-1) and columns `DOMAIN_COLUMNS`. Rows that
        are not compositions or lack descriptor data get NaN, False and the reason; the batch never
        fails for them."""
        self._check_fitted()
        D, F, elements, reasons, labels = self._featurize(X, threads, elements)
        out = self.score_features(D, F, elements, reasons=reasons, threads=threads)
        if labels is not None and len(labels) == len(out):
            out.index = labels
        return out

    def score_features(self, descriptors: np.ndarray, fractions: np.ndarray, elements: Sequence[str], *,
                       reasons=None, with_reasons: bool = True, threads: int | None = None) -> pd.DataFrame:
        """The lower-level `score`, on arrays (screening pools): descriptors (n, len(self.descriptors))
        in `self.descriptors` order (NaN where not computable), fractions (n, E) over `elements`
        (element symbols; any order and set). reasons: optional (n,) strings from
        `featurize_array(..., return_reasons=True)` used for NaN rows. with_reasons=False leaves
        out the `domain_reason` column (faster on millions of rows). threads: kd-tree query
        workers (None = all cores)."""
        self._check_fitted()
        D, F, els = self._check_arrays(descriptors, fractions, elements)
        n = D.shape[0]
        finite = np.isfinite(D).all(axis=1) & np.isfinite(F).all(axis=1)
        col = {e: j for j, e in enumerate(self.elements_)}
        known = self.element_counts_ >= self.min_element_count
        why: list[tuple[np.ndarray, object]] = []  # (row mask, text or per-row texts) per failed rule
        unknown = np.zeros(n, dtype=bool)
        Fk = np.zeros((n, len(self.elements_)))
        out_range = np.zeros(n, dtype=bool)
        tol = self.fraction_tolerance
        for j, e in enumerate(els):
            x = F[:, j]
            has = x > 0
            if not has.any():
                continue
            t = col.get(e)
            if t is None or not known[t]:
                unknown |= has
                c = 0 if t is None else int(self.element_counts_[t])
                why.append((has, f"{e} is absent from the training alloys" if c == 0 else
                            f"{e} is rare in the training alloys ({c} of {self.n_train_} contain it, "
                            f"min_element_count={self.min_element_count})"))
                if t is None:
                    continue
            Fk[:, t] = x
            lo, hi = float(self.fraction_min_[t]), float(self.fraction_max_[t])
            floor = max(lo - tol, self.min_fraction_ratio * lo)
            bad = has & ((x < floor) | (x > hi + tol))
            if bad.any():
                out_range |= bad
                why.append((bad, lambda xs, e=e, lo=lo, hi=hi, floor=floor:
                            [f"{e} fraction {v:.4g} outside its training range [{lo:.4g}, {hi:.4g}]"
                             f" (accepted [{max(floor, 0.0):.4g}, {hi + tol:.4g}]: tolerance {tol:g}, lower end"
                             f" at least {self.min_fraction_ratio:g} x the smallest)" for v in xs], x))
        few = np.zeros(n, dtype=bool)
        if self.min_components > 1:
            ncomp = (F > 0).sum(axis=1)
            few = finite & (ncomp < self.min_components)
            if few.any():
                why.append((few, lambda xs: [f"{int(v)} element(s), fewer than min_components={self.min_components}"
                                             for v in xs], ncomp))
        dk = np.full(n, np.nan)
        dk[finite & unknown] = np.inf
        todo = np.flatnonzero(finite & ~unknown)
        if len(todo):
            dk[todo] = self.knn_distance(self._z(D[todo], Fk[todo]), threads=threads)
        score = dk / self.threshold_
        far = finite & ~unknown & (score > 1.0)
        in_domain = finite & ~unknown & ~out_range & ~far & ~few
        frame = {"domain_score": score, "in_domain": in_domain}
        if with_reasons:
            frame["domain_reason"] = self._reasons(n, D, finite, reasons, why, far, dk, score)
        return pd.DataFrame(frame, columns=list(frame))

    def knn_distance(self, Z: np.ndarray, threads: int | None = None) -> np.ndarray:
        """d_k: mean Euclidean distance of each row of feature matrix `Z` (see `transform`) to its k
        nearest distinct training alloys."""
        self._check_fitted()
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.points_.shape[1]:
            raise ValueError(f"feature matrix of shape {Z.shape}; expected (n, {self.points_.shape[1]})")
        return self._knn(np.ascontiguousarray(Z), threads)

    def training_match(self, fractions: np.ndarray, elements: Sequence[str], tol: float = 1e-3,
                       return_index: bool = False) -> np.ndarray:
        """Whether each row of `fractions` (n, E) over `elements` is a training composition: the same
        elements and every fraction within `tol` (default 1e-3, the resolution at which the training data
        counts compositions as one) of a training alloy's. "The same elements" is read at that resolution
        on both sides: an element below tol / 2 (0.05 at.% by default) counts as absent, so a training
        alloy with a trace addition matches itself (so such a trace below the key resolution is a training
        composition here, while rule ii may still put it out of domain: both statements hold). The training fractions are read back from the fitted
        points (their fraction part is fraction_weight x c), so nothing else is stored. A row with any
        amount of an element no training alloy has never matches. Needs fraction_weight > 0.
        return_index=True gives, instead of the mask, the index of the matched training point (``points_``
        order; the one with the smallest largest |Δ fraction|, the lower index on a tie) or -1."""
        self._check_fitted()
        if not self.fraction_weight > 0:
            raise ValueError("training_match needs a domain fitted with fraction_weight > 0")
        F = np.asarray(fractions, dtype=np.float64)
        els = (elements,) if isinstance(elements, str) else tuple(str(e) for e in elements)
        if F.ndim != 2 or F.shape[1] != len(els):
            raise ValueError(f"fractions have shape {F.shape}; expected (n, {len(els)}) over {list(els)}")
        Fk, foreign = self._aligned(F, els)
        T = self.points_[:, len(self.descriptors):] / self.fraction_weight
        out = np.full(F.shape[0], -1, dtype=np.int64)
        # a match needs the same element set, so each query is compared only with the training alloys of
        # its own set, on the set's columns
        for r, cand, gap in composition_matches(Fk, T, tol):
            best = np.argmin(gap, axis=1)
            hit = np.take_along_axis(gap, best[:, None], axis=1)[:, 0] <= tol + 1e-12
            out[r] = np.where(hit, cand[best], -1)
        out[foreign] = -1
        return out if return_index else out >= 0

    def transform(self, descriptors: np.ndarray, fractions: np.ndarray, elements: Sequence[str]) -> np.ndarray:
        """Feature matrix z = [(d − μ)/σ | w·c] of the rows (fractions of elements unknown to the
        training alloys are left out; `score_features` puts such rows out by rule i)."""
        self._check_fitted()
        D, F, els = self._check_arrays(descriptors, fractions, elements)
        return self._z(D, self._aligned(F, els)[0])

    def _aligned(self, F: np.ndarray, els: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(Fk, foreign): the fractions F over `els` as columns of the training elements (others left out),
        and which rows hold an element no training alloy has."""
        return align_fractions(F, els, self.elements_)

    # ---- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Settings and fitted scalars/lists, JSON-able (floats round-trip exactly through json)."""
        self._check_fitted()
        return {"format": _FORMAT, "descriptors": list(self.descriptors), "k": self.k, "quantile": self.quantile,
                "min_element_count": self.min_element_count, "fraction_tolerance": self.fraction_tolerance,
                "fraction_weight": self.fraction_weight, "min_components": self.min_components,
                "min_fraction_ratio": self.min_fraction_ratio,
                "table": self.table, "n_train": self.n_train_,
                "threshold": self.threshold_, "elements": list(self.elements_),
                "element_counts": self.element_counts_.tolist(), "fraction_min": self.fraction_min_.tolist(),
                "fraction_max": self.fraction_max_.tolist(), "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist()}

    def arrays(self) -> dict:
        """The fitted arrays for `np.savez`: points (distinct training feature vectors),
        loo_distances, multiplicity."""
        self._check_fitted()
        return {"points": self.points_, "loo_distances": self.loo_distances_, "multiplicity": self.multiplicity_}

    @classmethod
    def from_parts(cls, d: dict, arrays, source: str = "domain") -> "ApplicabilityDomain":
        """Rebuild from `to_dict()` and `arrays()`; scores are bitwise those of the original.
        source names the origin in errors."""
        try:
            if d.get("format") != _FORMAT:
                raise ValueError(f"unknown format {d.get('format')!r} (this version reads {_FORMAT})")
            obj = cls(d["descriptors"], k=d["k"], quantile=d["quantile"], min_element_count=d["min_element_count"],
                      fraction_tolerance=d["fraction_tolerance"], fraction_weight=d["fraction_weight"],
                      table=d["table"], min_components=d.get("min_components", 1),
                      # domains saved before the rule existed keep the rule they were fitted with
                      min_fraction_ratio=d.get("min_fraction_ratio", 0.0))
            obj.n_train_, obj.threshold_ = int(d["n_train"]), float(d["threshold"])
            obj.elements_ = tuple(d["elements"])
            obj.element_counts_ = np.asarray(d["element_counts"], dtype=np.int64)
            for name in ("fraction_min", "fraction_max", "mean", "scale"):
                setattr(obj, name + "_", np.asarray(d[name], dtype=np.float64))
            obj.points_ = np.ascontiguousarray(np.asarray(arrays["points"], dtype=np.float64))
            obj.loo_distances_ = np.asarray(arrays["loo_distances"], dtype=np.float64)
            obj.multiplicity_ = np.asarray(arrays["multiplicity"], dtype=np.int64)
            E, nd = len(obj.elements_), len(obj.descriptors)
            shapes = {"element_counts": (obj.element_counts_.shape, (E,)), "fraction_min": (obj.fraction_min_.shape, (E,)),
                      "fraction_max": (obj.fraction_max_.shape, (E,)), "mean": (obj.mean_.shape, (nd,)),
                      "scale": (obj.scale_.shape, (nd,)), "points": (obj.points_.shape[1:], (nd + E,)),
                      "loo_distances": (obj.loo_distances_.shape, obj.points_.shape[:1]),
                      "multiplicity": (obj.multiplicity_.shape, obj.points_.shape[:1])}
            for name, (got, want) in shapes.items():
                if tuple(got) != tuple(want):
                    raise ValueError(f"{name} has shape {tuple(got)}, expected {tuple(want)}")
            if obj.points_.shape[0] < obj.k + 1 or not obj.threshold_ > 0:
                raise ValueError("too few training points or a non-positive threshold")
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"applicability domain {source} is not valid: {what}") from None
        obj._prepare()
        obj._fitted = True
        return obj

    def save(self, directory) -> Path:
        """Write `domain.json` and `domain.npz` into `directory` (created), atomically."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / _NPZ) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **self.arrays())
        atomic_write_json(folder / _JSON, self.to_dict(), indent=1)
        return folder

    @classmethod
    def load(cls, directory) -> "ApplicabilityDomain":
        """Read a domain written by `save`; a missing or corrupt file raises naming its path."""
        folder = Path(directory)
        d = read_json(folder / _JSON, what="applicability domain")
        npz = folder / _NPZ
        if not npz.is_file():
            raise FileNotFoundError(f"applicability domain arrays {npz} do not exist")
        try:
            with open(npz, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # fh: closed on a bad zip too
                arrays = {name: z[name] for name in z.files}
        except Exception as exc:  # zipfile/format errors of a corrupt file
            raise ValueError(f"applicability domain arrays {npz} cannot be read: {exc}") from None
        if not isinstance(d, dict):
            raise ValueError(f"applicability domain {folder / _JSON} is not a JSON object")
        return cls.from_parts(d, arrays, source=str(folder))

    def __repr__(self) -> str:
        fit = (f", n_train={self.n_train_}, threshold={self.threshold_:.4g}" if self._fitted else ", unfitted")
        comp = f", min_components={self.min_components}" if self.min_components > 1 else ""
        comp += f", min_fraction_ratio={self.min_fraction_ratio:g}" if self.min_fraction_ratio != 0.5 else ""
        return (f"ApplicabilityDomain(k={self.k}, quantile={self.quantile}, fraction_weight={self.fraction_weight}"
                f"{comp}{fit})")

    # ---- helpers --------------------------------------------------------------------------------
    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError("ApplicabilityDomain is not fitted: call fit(X) or load a saved one")

    def _prepare(self) -> None:
        self._norms = np.einsum("ij,ij->i", self.points_, self.points_)
        self._m2pt = np.ascontiguousarray(-2.0 * self.points_.T)

    def _knn(self, Z: np.ndarray, threads, skip_self: bool = False) -> np.ndarray:
        """Mean exact distance to the k nearest points (k + 1 dropping the first when skip_self).

        Brute force over the (few thousand) distinct training points, which beats a kd-tree in
        this many dimensions. Per block of query rows: s = |p|² − 2 z·p by BLAS (orders a row's
        points as |z − p|² does); t = the (k + `_MARGIN`)-th smallest of the minima of s over
        column groups of `_GROUP` points, an upper bound of the (k + `_MARGIN`)-th smallest s of
        the row (that many groups hold a value ≤ t); every point with s ≤ t is re-measured exactly
        as sqrt(Σ (z − p)²), and the k smallest exact distances are averaged in ascending order.
        The result is the exact kNN mean (bitwise that of a full NumPy brute force) unless more
        than `_MARGIN` points tie with the k-th neighbour to the rounding of s (~1e-13)."""
        n, m = Z.shape[0], self.points_.shape[0]
        k = self.k + (1 if skip_self else 0)
        kc = min(k + _MARGIN, m)
        groups = -(-m // _GROUP)
        out = np.empty(n)

        def chunk(a: int) -> None:
            Q = Z[a:a + _CHUNK]
            c = Q.shape[0]
            used = np.flatnonzero((Q != 0).any(axis=0))  # a pool's palette touches few fraction columns
            s = np.full((c, groups * _GROUP), np.inf)
            np.matmul(Q[:, used], self._m2pt[used], out=s[:, :m]) if len(used) < Q.shape[1] else \
                np.matmul(Q, self._m2pt, out=s[:, :m])
            s[:, :m] += self._norms
            gmin = s.reshape(c, groups, _GROUP).min(axis=2)
            # fewer groups than candidates wanted (under ~16 (k + 8) training points): every point is one
            t = np.partition(gmin, kc - 1, axis=1)[:, kc - 1] if kc <= groups else s[:, :m].max(axis=1)
            rows, cols = np.nonzero(s <= t[:, None])
            diff = Q[rows] - self.points_[cols]
            d = np.sqrt((diff * diff).sum(axis=1))
            order = np.lexsort((d, rows))  # by row, then distance
            start = np.searchsorted(rows[order], np.arange(c))
            pick = start[:, None] + np.arange(1 if skip_self else 0, k)[None, :]
            out[a:a + c] = d[order][pick].mean(axis=1)

        starts = range(0, n, _CHUNK)
        workers = _workers(threads)
        if workers == 1 or n <= _CHUNK:
            for a in starts:
                chunk(a)
        else:  # NumPy and BLAS release the GIL; chunks write disjoint slices of `out`
            # one BLAS thread per worker: BLAS's own threads on top of the workers' oversubscribe the cores
            # (2 workers on 2 cores: 3.0 s per 1e5 rows with BLAS at 2 threads, 1.4 s at 1; results identical)
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                list(pool.map(chunk, starts))
        return out

    def _z(self, D: np.ndarray, Fk: np.ndarray) -> np.ndarray:
        Zd = (D - self.mean_) / self.scale_
        if self.fraction_weight == 0.0:
            return np.ascontiguousarray(np.hstack([Zd, np.zeros((D.shape[0], Fk.shape[1]))]))
        return np.ascontiguousarray(np.hstack([Zd, self.fraction_weight * Fk]))

    def _check_arrays(self, descriptors, fractions, elements):
        D = np.asarray(descriptors, dtype=np.float64)
        F = np.asarray(fractions, dtype=np.float64)
        els = (elements,) if isinstance(elements, str) else tuple(str(e) for e in elements)
        if D.ndim != 2 or D.shape[1] != len(self.descriptors):
            raise ValueError(f"descriptors have shape {D.shape}; expected (n, {len(self.descriptors)}) in the order "
                             f"{list(self.descriptors)}")
        if F.ndim != 2 or F.shape != (D.shape[0], len(els)):
            raise ValueError(f"fractions have shape {F.shape}; expected ({D.shape[0]}, {len(els)}) for elements "
                             f"{list(els)}")
        if len(set(els)) != len(els):
            raise ValueError(f"duplicate element symbols in {list(els)}")
        return D, F, els

    def _featurize(self, X, threads, elements=None):
        """(descriptors, fractions, elements, reasons, labels) of every input row (labels: those of
        pandas input, else None); rows that are not compositions get NaN fractions and the reason."""
        D, reasons = featurize_array(X, list(self.descriptors), self.table, threads, elements=elements, errors="nan",
                                     return_reasons=True)
        try:
            ra = row_amounts(X, elements, "skip")
        except CompositionError:  # featurize_array reported it per row; no fractions to read
            ra = None
        n = D.shape[0]
        if ra is None or ra.n_rows != n:
            raise ValueError(f"could not read the fractions of the {n} input rows")
        A = ra.array()
        ok = np.isfinite(A).all(axis=1) & (A >= 0).all(axis=1)
        total = np.zeros(ra.m)
        for j in range(A.shape[1]):  # column by column: zero columns of other rows leave the sum's bits alone
            total += np.where(ok, A[:, j], 0.0)
        ok &= total > 0
        F = np.full((n, len(ra.elements)), np.nan)
        rows = np.arange(ra.m) if ra.rows is None else np.asarray(ra.rows)
        F[rows[ok]] = A[ok] if ra.normalized else A[ok] / total[ok, None]
        return D, F, ra.elements, np.asarray(reasons, dtype=object), ra.labels

    def _reasons(self, n, D, finite, reasons, why, far, dk, score) -> np.ndarray:
        parts: dict[int, list[str]] = {}
        for i in np.flatnonzero(~finite).tolist():
            r = "" if reasons is None else str(reasons[i])
            if not r:
                bad = [nm for nm, v in zip(self.descriptors, D[i]) if not math.isfinite(v)]
                r = f"descriptor(s) {', '.join(bad)} not finite" if bad else "fractions not finite"
            parts[i] = [r]
        for mask, text, *x in why:
            idx = np.flatnonzero(mask)
            texts = text(x[0][idx]) if callable(text) else [text] * len(idx)
            for i, t in zip(idx.tolist(), texts):
                parts.setdefault(i, []).append(t)
        for i in np.flatnonzero(far).tolist():
            parts.setdefault(i, []).append(f"{self.k}-NN distance {dk[i]:.4g} is {score[i]:.3g} x the training "
                                           f"threshold {self.threshold_:.4g}")
        out = np.full(n, "", dtype=object)
        for i, p in parts.items():
            out[i] = "; ".join(p)
        return out

def _workers(threads) -> int:
    return (os.cpu_count() or 1) if threads is None else max(int(threads), 1)
