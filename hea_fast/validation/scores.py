"""Scores of probabilistic binary predictions, with seeded bootstrap confidence intervals.

Point values come from `sklearn.metrics` (accuracy and balanced accuracy at p >= 0.5, ROC AUC,
Brier score, log-loss) plus the expected calibration error:

    ECE = Σ_b (n_b / n) |ȳ_b − p̄_b|,   b = equal-width bins [k/B, (k+1)/B) of p (the last closed),

the gap between observed frequency and mean predicted probability, weighted by bin size (Naeini et
al., AAAI 2015; Guo et al., ICML 2017). Empty bins contribute nothing.

Confidence intervals: percentile bootstrap (Efron & Tibshirani 1993, §13.3) from `n_boot`
resamples drawn with ``numpy.random.default_rng(seed)``. With `groups` (e.g. the alloy system)
whole groups are resampled (cluster bootstrap), because compositions of one system are not
independent; a resample without both classes gives no AUC/balanced accuracy and is skipped for
those metrics. The resampled scores use vectorised NumPy forms of the same metrics (checked equal
to sklearn's in tests/test_validation.py).
"""
from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "LOWER_IS_BETTER", "expected_calibration_error", "metrics", "paired_difference",
           "point_metrics"]

#: Reported metrics, in table order.
METRICS = ("accuracy", "balanced_accuracy", "auc", "brier", "log_loss", "ece")
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})
_EPS = np.finfo(np.float64).eps


def _check(y, p):
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"y and p must be 1-d of equal length, got shapes {y.shape} and {p.shape}")
    if y.size == 0:
        raise ValueError("no predictions to score")
    u = np.unique(y)
    if not np.isin(u, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got values {u[:10].tolist()}")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("probabilities must be finite and in [0, 1]")
    return y.astype(np.int64), p


def expected_calibration_error(y, p, n_bins: int = 10) -> float:
    """ECE over `n_bins` equal-width probability bins (see the module docstring)."""
    y, p = _check(y, p)
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    sy = np.bincount(b, weights=y, minlength=n_bins)
    sp = np.bincount(b, weights=p, minlength=n_bins)
    return float(np.abs(sy - sp).sum() / y.size)


def point_metrics(y, p, n_bins: int = 10) -> dict:
    """The METRICS of one prediction set (sklearn), NaN for AUC/balanced accuracy when one class
    is absent."""
    from sklearn import metrics as skm

    y, p = _check(y, p)
    yhat = (p >= 0.5).astype(np.int64)
    both = np.unique(y).size == 2
    return {
        "accuracy": float(skm.accuracy_score(y, yhat)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, yhat)) if both else float("nan"),
        "auc": float(skm.roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(skm.brier_score_loss(y, p, pos_label=1)),
        "log_loss": float(skm.log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p, n_bins),
    }


def _resampled(Y: np.ndarray, P: np.ndarray, W: np.ndarray, n_bins: int) -> dict:
    """Metrics of B weighted resamples at once. Y, P: (n,) data; W: (B, n) resample counts."""
    n_tot = W.sum(axis=1)
    pos = W @ Y
    neg = n_tot - pos
    yhat = (P >= 0.5).astype(np.float64)
    correct = (yhat == Y).astype(np.float64)
    out = {"accuracy": (W @ correct) / n_tot}
    tpr = (W @ (yhat * Y)) / np.where(pos > 0, pos, np.nan)
    tnr = (W @ ((1 - yhat) * (1 - Y))) / np.where(neg > 0, neg, np.nan)
    out["balanced_accuracy"] = 0.5 * (tpr + tnr)
    # AUC = Mann-Whitney U / (n1 n0) with tied scores counting 1/2: sort by p, and for each positive
    # count the (weighted) negatives strictly below it plus half those tied with it.
    order = np.argsort(P, kind="mergesort")
    Ps, Ys, Ws = P[order], Y[order], W[:, order]
    Wneg = Ws * (1 - Ys)
    cum_neg = np.cumsum(Wneg, axis=1)
    # first and last index of each tie block of Ps
    starts = np.searchsorted(Ps, Ps, side="left")
    ends = np.searchsorted(Ps, Ps, side="right") - 1
    below = np.where(starts > 0, cum_neg[:, np.maximum(starts - 1, 0)], 0.0)
    tied = cum_neg[:, ends] - below
    u = ((below + 0.5 * tied) * (Ws * Ys)).sum(axis=1)
    out["auc"] = u / np.where((pos > 0) & (neg > 0), pos * neg, np.nan)
    out["brier"] = (W @ (P - Y) ** 2) / n_tot
    pc = np.clip(P, _EPS, 1 - _EPS)
    ll = -(Y * np.log(pc) + (1 - Y) * np.log1p(-pc))
    out["log_loss"] = (W @ ll) / n_tot
    b = np.minimum((P * n_bins).astype(np.int64), n_bins - 1)
    onehot = np.zeros((P.size, n_bins))
    onehot[np.arange(P.size), b] = 1.0
    sy = W @ (onehot * Y[:, None])
    sp = W @ (onehot * P[:, None])
    out["ece"] = np.abs(sy - sp).sum(axis=1) / n_tot
    return out


def _weights(n_rows: int, codes: np.ndarray, n_groups: int, n_boot: int, seed: int):
    """Yield (B, n_rows) resample-count matrices, `n_boot` rows in all, resampling the `n_groups`
    clusters given by `codes` with ``default_rng(seed)`` (chunks keep each matrix ~2.5 M entries)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, int(2e7 // max(1, n_rows * 8)))
    done = 0
    while done < n_boot:
        B = min(chunk, n_boot - done)
        pick = rng.integers(0, n_groups, size=(B, n_groups))
        flat = (np.arange(B)[:, None] * n_groups + pick).ravel()
        Wg = np.bincount(flat, minlength=B * n_groups).reshape(B, n_groups).astype(np.float64)
        yield Wg[:, codes]
        done += B


def _codes(groups, n):
    if groups is None:
        return np.arange(n), n
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups has shape {g.shape}, expected ({n},)")
    from pandas import factorize

    codes, uniq = factorize(g, sort=False)
    return codes, len(uniq)


def paired_difference(y, p_ref, p_other, n_boot: int = 1000, seed: int = 0, groups=None, ci: float = 0.95,
                      n_bins: int = 10) -> dict:
    """Metric differences ``other − ref`` on the same rows, with a paired percentile bootstrap (both
    prediction sets scored on the same resamples, clusters = `groups`). Returns ``{metric: {"value",
    "lo", "hi"}}``; an interval excluding 0 says the two models differ on these data."""
    y, p_ref = _check(y, p_ref)
    _, p_other = _check(y, p_other)
    a, b = point_metrics(y, p_ref, n_bins), point_metrics(y, p_other, n_bins)
    codes, n_groups = _codes(groups, y.size)
    Yf = y.astype(np.float64)
    diffs = {m: [] for m in METRICS}
    for W in _weights(y.size, codes, n_groups, n_boot, seed):
        ra, rb = _resampled(Yf, p_ref, W, n_bins), _resampled(Yf, p_other, W, n_bins)
        for m in METRICS:
            diffs[m].append(rb[m] - ra[m])
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    out = {}
    for m in METRICS:
        d = np.concatenate(diffs[m]) if diffs[m] else np.empty(0)
        d = d[np.isfinite(d)]
        lo, hi = (float(np.quantile(d, lo_q)), float(np.quantile(d, hi_q))) if d.size else (np.nan, np.nan)
        out[m] = {"value": b[m] - a[m], "lo": lo, "hi": hi}
    return out


def metrics(y, p, n_boot: int = 1000, seed: int = 0, groups=None, ci: float = 0.95, n_bins: int = 10) -> dict:
    """Point values and percentile bootstrap intervals of every metric in METRICS.

    Returns ``{metric: {"value", "lo", "hi"}, "n": rows, "n_pos": positives, "n_groups": clusters
    resampled (rows when `groups` is None), "n_boot", "seed", "ci"}``. `groups`: one label per row;
    when given, the bootstrap resamples whole groups (cluster bootstrap). ``n_boot=0`` gives NaN
    intervals.
    """
    y, p = _check(y, p)
    point = point_metrics(y, p, n_bins)
    out: dict = {}
    codes, n_groups = _codes(groups, y.size)
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    boot = {m: np.empty(0) for m in METRICS}
    if n_boot > 0:
        Yf = y.astype(np.float64)
        parts = [_resampled(Yf, p, W, n_bins) for W in _weights(y.size, codes, n_groups, n_boot, seed)]
        boot = {m: np.concatenate([q[m] for q in parts]) for m in METRICS}
    for m in METRICS:
        b = boot[m][np.isfinite(boot[m])]
        lo, hi = (float(np.quantile(b, lo_q)), float(np.quantile(b, hi_q))) if b.size else (np.nan, np.nan)
        out[m] = {"value": point[m], "lo": lo, "hi": hi}
    out.update(n=int(y.size), n_pos=int(y.sum()), n_groups=int(n_groups), n_boot=int(n_boot), seed=int(seed),
               ci=float(ci))
    return out
