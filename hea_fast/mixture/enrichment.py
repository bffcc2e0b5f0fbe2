"""Screening by a probability threshold and its enrichment (arXiv 2504.20354, screening step).

For a threshold t, the alloys that pass are those with p_single >= t. The screen's *precision* is
the fraction single-phase among them, compared with the base rate (fraction single-phase among all
alloys); *enrichment* = precision / base rate (dimensionless; 1 = no better than picking at
random). The interval is a nonparametric bootstrap over alloys (resample all n alloys with
replacement, recompute precision among those that pass; percentile interval). Resamples in which
no alloy passes are dropped and counted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from hea_fast.mixture.checks import labels01

__all__ = ["EnrichmentResult", "enrichment", "enrichment_curve", "EnrichmentError", "ScreeningError"]


class EnrichmentError(ValueError):
    """Invalid labels, probabilities or settings for the enrichment analysis."""


ScreeningError = EnrichmentError  # the name before the module was renamed from screening.py


@dataclass(frozen=True)
class EnrichmentResult:
    """Precision among passing alloys with a bootstrap interval, and the base rate."""

    threshold: float
    n_total: int
    n_pass: int
    n_pass_positive: int
    precision: float  # fraction single-phase among passing (NaN when none pass)
    ci_low: float
    ci_high: float
    base_rate: float
    enrichment: float  # precision / base_rate
    recall: float  # fraction of all single-phase alloys that pass
    n_boot: int
    n_boot_empty: int  # bootstrap resamples in which nothing passed (excluded)
    level: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check(y_true, proba):
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1 or p.shape != y.shape:
        raise EnrichmentError(f"y_true and proba must be 1-D of equal length, got {y.shape} and {p.shape}")
    if y.size == 0:
        raise EnrichmentError("empty y_true")
    yf = labels01(y, "y_true", EnrichmentError)
    badp = ~np.isfinite(p) | (p < 0) | (p > 1)
    if badp.any():
        i = int(np.flatnonzero(badp)[0])
        raise EnrichmentError(f"proba must lie in [0, 1], got {p[i]!r} at index {i}")
    return yf.astype(np.int64), p


def enrichment(y_true, proba, threshold: float = 0.75, n_boot: int = 2000, seed: int = 0,
               level: float = 0.95) -> EnrichmentResult:
    """Fraction single-phase among alloys with proba >= threshold, its bootstrap interval and
    the enrichment over the base rate."""
    y, p = _check(y_true, proba)
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        raise EnrichmentError(f"threshold must be in [0, 1], got {threshold!r}")
    if int(n_boot) < 0:
        raise EnrichmentError(f"n_boot must be >= 0, got {n_boot!r}")
    if not 0.0 < float(level) < 1.0:
        raise EnrichmentError(f"level must be in (0, 1), got {level!r}")
    n = y.size
    passed = p >= t
    n_pass = int(passed.sum())
    n_pp = int(y[passed].sum())
    base = float(y.mean())
    prec = n_pp / n_pass if n_pass else float("nan")
    lo = hi = float("nan")
    n_empty = 0
    if n_boot:
        rng = np.random.default_rng(seed)
        # resamples in blocks of <= ~2**22 indices (flat memory on large tables); drawing the (n_boot, n) index
        # matrix block by block reads the same stream as drawing it whole (tests/test_mixture_model.py)
        pos_y = y == 1
        k = np.empty(int(n_boot), dtype=np.int64)
        pos = np.empty(int(n_boot), dtype=np.int64)
        step = max(1, (1 << 22) // max(n, 1))
        for b in range(0, int(n_boot), step):
            idx = rng.integers(0, n, size=(min(step, int(n_boot) - b), n))
            pb = passed[idx]
            k[b:b + len(idx)] = pb.sum(axis=1)
            pos[b:b + len(idx)] = (pb & pos_y[idx]).sum(axis=1)
        ok = k > 0
        n_empty = int((~ok).sum())
        if ok.any():
            vals = pos[ok] / k[ok]
            a = (1.0 - float(level)) / 2.0
            lo, hi = (float(v) for v in np.quantile(vals, [a, 1.0 - a]))
    n_pos = int(y.sum())
    return EnrichmentResult(
        threshold=t, n_total=n, n_pass=n_pass, n_pass_positive=n_pp, precision=prec, ci_low=lo,
        ci_high=hi, base_rate=base, enrichment=prec / base if base > 0 and n_pass else float("nan"),
        recall=n_pp / n_pos if n_pos else float("nan"), n_boot=int(n_boot), n_boot_empty=n_empty,
        level=float(level),
    )


def enrichment_curve(y_true, proba, thresholds=None) -> pd.DataFrame:
    """Precision, recall, number passing and enrichment at each threshold (default 0.05 … 0.95)."""
    y, p = _check(y_true, proba)
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
    thresholds = np.atleast_1d(np.asarray(thresholds, dtype=float))
    bad = thresholds[~((thresholds >= 0) & (thresholds <= 1))]  # NaN fails both
    if bad.size or thresholds.ndim != 1:
        raise EnrichmentError(f"thresholds must be a 1-D sequence of probabilities in [0, 1], got "
                              f"{float(bad[0]) if bad.size else thresholds.shape!r}")
    base = float(y.mean())
    n_pos = int(y.sum())
    rows = []
    for t in thresholds:
        passed = p >= t
        k = int(passed.sum())
        pp = int(y[passed].sum())
        prec = pp / k if k else np.nan
        rows.append(dict(threshold=float(t), n_pass=k, frac_pass=k / y.size, precision=prec,
                         recall=pp / n_pos if n_pos else np.nan,
                         enrichment=prec / base if (k and base > 0) else np.nan))
    out = pd.DataFrame(rows)
    out.attrs["base_rate"] = base
    return out
