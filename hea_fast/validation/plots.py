"""Reliability diagrams (matplotlib, imported lazily; PNGs written atomically).

A reliability diagram plots, per bin of predicted probability, the observed single-phase frequency
against the mean prediction (`sklearn.calibration.calibration_curve`, equal-width bins); a
calibrated model lies on the diagonal. The lower strip is the histogram of predictions.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["reliability_diagram", "reliability_figure"]


def reliability_diagram(y, p, ax=None, n_bins: int = 10, label: str | None = None, hist_ax=None):
    """Draw one reliability curve on `ax` (a new figure when None); returns the axes.

    hist_ax: optional axes for the histogram of `p` (same bins)."""
    from sklearn.calibration import calibration_curve

    from hea_fast.validation.scores import expected_calibration_error

    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if ax is None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4, 4))
    frac, mean = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    ece = expected_calibration_error(y, p, n_bins)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax.plot(mean, frac, marker="o", ms=3, lw=1.2, label=f"{label + ': ' if label else ''}ECE {ece:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(single phase)")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    if hist_ax is not None:
        hist_ax.hist(p, bins=np.linspace(0, 1, n_bins + 1), color="0.5")
        hist_ax.set_xlim(0, 1)
        hist_ax.set_yticks([])
    return ax


def reliability_figure(predictions: pd.DataFrame, protocol: str, path, n_bins: int = 10, title: str | None = None):
    """One panel per model (reliability curve over its histogram) for `protocol`'s pooled test
    predictions (columns model, y, p as returned by `hea_fast.validation.run`); writes PNG `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from hea_fast._io import atomic_path

    sub = predictions[predictions["protocol"] == protocol]
    models = list(dict.fromkeys(sub["model"]))
    if not models:
        raise ValueError(f"no predictions for protocol {protocol!r}")
    ncol = min(4, len(models))
    nrow = math.ceil(len(models) / ncol)
    fig = plt.figure(figsize=(3.2 * ncol, 3.9 * nrow))
    outer = fig.add_gridspec(nrow, ncol, hspace=0.35, wspace=0.3)
    for i, m in enumerate(models):
        r, c = divmod(i, ncol)
        cell = outer[r, c].subgridspec(2, 1, height_ratios=[4, 1], hspace=0.08)
        ax = fig.add_subplot(cell[0])
        hax = fig.add_subplot(cell[1], sharex=ax)
        h = sub[sub["model"] == m]
        reliability_diagram(h["y"].to_numpy(), h["p"].to_numpy(), ax=ax, n_bins=n_bins, hist_ax=hax)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False)
        if c:
            ax.set_ylabel("")
        hax.set_xlabel("predicted P(single phase)", fontsize=8)
    fig.suptitle(title or f"reliability, protocol {protocol} (n = {len(sub) // max(1, len(models))} per model)", fontsize=10)
    out = Path(path)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return out
