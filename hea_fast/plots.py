"""Plots shared by the commands (PNG via matplotlib's Agg backend; no display needed)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed); an ImportError naming the extra
    to install when matplotlib is missing (the core install does not need it)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'hea_fast[plots]'") from None
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


def screen_summary(top: pd.DataFrame, score: str, path: str | os.PathLike, title: str = "",
                   score_label: str | None = None) -> Path:
    """Three panels for a screening result: the score against the position in the ranking, how
    often each element appears in the top-k (with its mean at.% where present; no marker for an
    element the top-k never contains), and the top-k in the δ–ΔH_mix plane coloured by score.
    `title` should say what was screened and how (scorer, temperature, threshold, space)."""
    plt = pyplot()
    label = score_label or score
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    ax.plot(np.arange(1, len(top) + 1), top[score].to_numpy(), lw=1.5)
    ax.set_xlabel("position in the ranking (1 = best)")
    ax.set_ylabel(label)
    ax.set_title(f"{label} of the top {len(top):,}")
    ax.grid(alpha=0.3)

    ax = axes[1]
    xcols = [c for c in top.columns if c.startswith("x_")]
    if xcols:
        frac = top[xcols].to_numpy()
        present = (frac > 0).mean(axis=0)
        order = np.argsort(-present, kind="stable")
        order = order[present[order] > 0]  # elements the top-k never contains have no bar and no dot
        labels = [xcols[i][2:] for i in order]
        sub = frac[:, order]
        with np.errstate(invalid="ignore"):
            mean_pct = 100 * np.where(sub > 0, sub, 0).sum(0) / (sub > 0).sum(0)
        ax.bar(labels, present[order], color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(labels, mean_pct, "o", color="tab:red")
        ax2.set_ylabel("mean at.% where present (dots)", color="tab:red")
        ax2.set_ylim(0, max(5.0, float(np.nanmax(mean_pct)) * 1.15) if len(order) else 100)
        ax.set_ylabel("share of the top-k containing the element (bars)")
        ax.tick_params(axis="x", rotation=60)
    ax.set_title("elements in the top-k")

    ax = axes[2]
    if {"delta", "dH_mix"}.issubset(top.columns):
        sc = ax.scatter(top["delta"], top["dH_mix"], c=top[score], s=10, cmap="viridis")
        fig.colorbar(sc, ax=ax, label=label)
        ax.set_xlabel("δ, atomic size mismatch (%)")
        ax.set_ylabel("ΔH_mix (kJ/mol)")
        ax.set_title("top-k in descriptor space")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
