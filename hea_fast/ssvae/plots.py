"""PNG figures of the SSVAE analysis (arXiv 2409.06740, Figs. 2–6): ROC curves, the latent space
coloured by label and by number of elements with a KDE of its density, element-group blobs of
equiatomic 4-element alloys, a SHAP summary and a nudging trajectory. Arrays in, a saved PNG out
(matplotlib Agg, written atomically via `hea_fast.plots.save_figure`)."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
# isort: on

from hea_fast.plots import pyplot, save_figure
from hea_fast.ssvae.design import classifier_proba, features_of
from hea_fast.ssvae.model import SSVAE

#: Element groups of the paper's latent-space analysis (all equiatomic 4-element alloys of each).
GROUPS = {
    "magnetic": ("Fe", "Co", "Ni", "Mn", "Cr"),
    "noble": ("Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au"),
    "refractory": ("Ti", "V", "Cr", "Zr", "Nb", "Mo", "Hf", "Ta", "W"),
}


def latent_loc(model: SSVAE, x_atpct, p) -> np.ndarray:
    """loc of q(z | x, φ=p) for at.% rows x (n, E) and φ values p (n,) (labels or probabilities)."""
    with torch.no_grad():
        loc, _ = model.encode_z(torch.as_tensor(np.asarray(x_atpct, np.float32)),
                                torch.as_tensor(np.asarray(p, np.float32)).reshape(-1, 1))
    return loc.double().numpy()


def roc_curves(model: SSVAE, splits: dict, path: str | os.PathLike, parts=("labelled", "validation", "test")) -> Path:
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    for part in parts:
        s = splits[part]
        p = classifier_proba(model, s.e)
        fpr, tpr, _ = roc_curve(s.y, p)
        ax.plot(fpr, tpr, lw=1.6, label=f"{part} (AUC {roc_auc_score(s.y, p):.3f}, acc {((p > 0.5) == (s.y > 0.5)).mean():.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("SSVAE classifier q(φ | e)")
    return save_figure(fig, path)


def latent_space(model: SSVAE, x_atpct, y, path: str | os.PathLike) -> Path:
    """Three panels: z (loc of q(z|x, y)) coloured by label, by number of elements, and a KDE."""
    from scipy.stats import gaussian_kde

    plt = pyplot()
    z = latent_loc(model, x_atpct, y)
    n_el = (np.asarray(x_atpct) > 0).sum(1)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, c, title, cmap in ((axes[0], y, "single phase (label)", "coolwarm"),
                               (axes[1], n_el, "number of elements", "viridis")):
        sc = ax.scatter(z[:, 0], z[:, 1], c=c, s=8, cmap=cmap, alpha=0.8)
        fig.colorbar(sc, ax=ax)
        ax.set_title(title)
    kde = gaussian_kde(z[:, :2].T)
    lo, hi = z[:, :2].min(0) - 0.5, z[:, :2].max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    dens = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    axes[2].contourf(gx, gy, dens, levels=20, cmap="magma")
    axes[2].set_title("KDE of the latent density")
    for ax in axes:
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    return save_figure(fig, path)


def group_alloys(elements, groups=GROUPS):
    """{group: (formulas, at.% rows (n, E))} of every equiatomic 4-element alloy of each group."""
    idx = {e: i for i, e in enumerate(elements)}
    out = {}
    for g, els in groups.items():
        combos = [c for c in itertools.combinations(els, 4) if all(e in idx for e in c)]
        X = np.zeros((len(combos), len(elements)))
        for r, c in enumerate(combos):
            X[r, [idx[e] for e in c]] = 25.0
        out[g] = (["".join(c) for c in combos], X)
    return out


def element_group_blobs(model: SSVAE, path: str | os.PathLike, background=None) -> Path:
    """Latent locations (encoded with their predicted probability) of the equiatomic 4-element alloys
    of the magnetic / noble / refractory groups, over an optional background (n, 2) of z."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    if background is not None:
        ax.scatter(background[:, 0], background[:, 1], s=4, c="0.8", label="training alloys")
    for g, (names, X) in group_alloys(model.config.elements).items():
        p = classifier_proba(model, features_of(model, X))
        z = latent_loc(model, X, p)
        ax.scatter(z[:, 0], z[:, 1], s=18, label=f"{g} ({len(names)})")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.legend(fontsize=8)
    ax.set_title("equiatomic 4-element alloys by element group")
    return save_figure(fig, path)


def shap_summary(values, feature_values, features, path: str | os.PathLike, title: str | None = None) -> Path:
    """Beeswarm-style summary: per feature (sorted by mean |φ|), φ of each row coloured by the
    feature's value rank (low blue → high red)."""
    plt = pyplot()
    values = np.asarray(values)
    fv = np.asarray(feature_values, float)
    order = np.argsort(np.abs(values).mean(0))
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(features) + 1.2))
    for row, j in enumerate(order):
        ranks = fv[:, j].argsort().argsort() / max(1, len(fv) - 1)
        ax.scatter(values[:, j], row + rng.uniform(-0.25, 0.25, len(values)), c=ranks, cmap="coolwarm", s=7)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([features[j] for j in order])
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("Shapley value (effect on P(single phase))")
    ax.set_title((title or f"exact Shapley values of P(single phase), {len(values)} alloys")
                 + "\ncolour: the descriptor's value, low (blue) to high (red)", fontsize=9)
    return save_figure(fig, path)


_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}


def nudge_trajectory(traj, path: str | os.PathLike, background=None, background_c=None,
                     cutoff: float | None = None) -> Path:
    """A `design.nudge` trajectory: its latent path (z1, z2 of each step, zoomed on the path, over the
    training alloys' latent locations `background` (n, 2) coloured by their label `background_c`
    when given) and P(single phase) per step. Only the start, the best step and the end are named,
    so the labels of a long path do not overlap."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    z = traj[["z1", "z2"]].to_numpy()
    p = traj["p_single"].to_numpy()
    steps = traj["step"].to_numpy()
    best = int(p.argmax())
    span = max(np.ptp(z[:, 0]), np.ptp(z[:, 1]), 0.5)
    lo, hi = z.min(0) - 0.6 * span, z.max(0) + 0.6 * span
    if background is not None:
        bg = np.asarray(background)
        if background_c is not None:
            c = np.asarray(background_c) > 0.5
            for m, colour, lab in ((c, "tab:red", "single phase"), (~c, "tab:blue", "multi-phase")):
                ax.scatter(bg[m, 0], bg[m, 1], s=6, c=colour, alpha=0.35, label=f"training alloys: {lab}")
        else:
            ax.scatter(bg[:, 0], bg[:, 1], s=6, c="0.7", alpha=0.5, label="training alloys")
        ax.legend(fontsize=7, loc="best")
    ax.plot(z[:, 0], z[:, 1], "-o", color="k", ms=4, zorder=3)
    marks = {0: "start", best: "best", len(z) - 1: "end"}  # later keys win when steps coincide
    if best == 0:
        marks[0] = "start = best"
    if best == len(z) - 1 and len(z) > 1:
        marks[best] = "best = end"
    offsets = {0: (6, 6), best: (6, -12), len(z) - 1: (-30, 8)}
    for i, lab in marks.items():
        ax.annotate(lab, z[i], xytext=offsets.get(i, (6, 6)), textcoords="offset points", fontsize=8, zorder=4,
                    bbox=_BOX)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title("latent path" + (" over the labelled training alloys" if background is not None else ""), fontsize=9)
    bx.plot(steps, p, "-o", color="k", ms=4)
    if cutoff is not None:
        bx.axhline(cutoff, color="tab:green", ls="--", lw=1, label=f"cutoff {cutoff:g}")
        bx.legend(fontsize=7, loc="lower right")
    for i, lab in marks.items():
        bx.annotate(f"{lab}: {traj['alloy'].iloc[i]}", (steps[i], p[i]), xytext=offsets.get(i, (6, 6)),
                    textcoords="offset points", fontsize=7, bbox=_BOX)
    bx.set_xlabel("step")
    bx.set_ylabel("P(single phase)")
    bx.set_ylim(0, 1.1)
    bx.set_xlim(-0.5, steps.max() + 2.5)
    bx.set_title(f"iterative design from {traj['alloy'].iloc[0]}: P(single phase) per step", fontsize=9)
    return save_figure(fig, path)
