"""Plots shared by the commands (PNG via matplotlib's Agg backend; no display needed)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt




def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save atomically (`hea_fast._io.atomic_path`; the format follows the suffix) and close the figure."""
    from hea_fast._io import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return Path(path)


def screen_summary(top: pd.DataFrame, score: str, path: str | os.PathLike, title: str = "") -> Path:
    """Three panels for a screening result: score of the ranked top-k, how often each element
    appears in it (with its mean fraction), and the top-k in the δ–ΔH_mix plane coloured by score."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(np.arange(1, len(top) + 1), top[score].to_numpy(), lw=1.5)
    ax.set_xlabel("rank")
    ax.set_ylabel(score)
    ax.set_title("score of the ranked top-k")
    ax.grid(alpha=0.3)

    ax = axes[1]
    xcols = [c for c in top.columns if c.startswith("x_")]
    if xcols:
        frac = top[xcols].to_numpy()
        present = (frac > 0).mean(axis=0)
        mean_frac = np.where(frac > 0, frac, np.nan)
        import warnings

        with warnings.catch_warnings():  # elements absent from the whole top-k give an all-NaN column
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_frac = np.nanmean(mean_frac, axis=0)
        order = np.argsort(-present)
        labels = [xcols[i][2:] for i in order]
        ax.bar(labels, present[order], color="tab:blue", label="share of top-k containing it")
        ax2 = ax.twinx()
        ax2.plot(labels, np.nan_to_num(mean_frac[order]) * 100, "o", color="tab:red", label="mean at.% when present")
        ax2.set_ylabel("mean at.% when present", color="tab:red")
        ax.set_ylabel("share of top-k containing element")
        ax.tick_params(axis="x", rotation=60)
    ax.set_title("elements in the top-k")

    ax = axes[2]
    if {"delta", "dH_mix"}.issubset(top.columns):
        sc = ax.scatter(top["delta"], top["dH_mix"], c=top[score], s=10, cmap="viridis")
        fig.colorbar(sc, ax=ax, label=score)
        ax.set_xlabel("δ (%)")
        ax.set_ylabel("ΔH_mix (kJ/mol)")
        ax.set_title("top-k in descriptor space")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
