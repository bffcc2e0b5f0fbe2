"""SSVAE figures are written (PNG) from the released model; the element-group alloys are all the
equiatomic 4-element combinations (C(n, 4))."""
from __future__ import annotations

from math import comb

import numpy as np

from hea_fast.ssvae import plots


def test_group_alloys_are_all_equiatomic_quaternaries():
    from hea_fast.ssvae.model import TOP30

    g = plots.group_alloys(TOP30)
    for name, els in plots.GROUPS.items():
        forms, X = g[name]
        assert len(forms) == comb(len(els), 4) == len(set(forms))
        np.testing.assert_array_equal(np.sort(X, 1)[:, -4:], 25.0)
        np.testing.assert_allclose(X.sum(1), 100.0)


def test_figures_written(tmp_path, shared_data):
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.explain import exact_shapley
    from hea_fast.ssvae.model import load_released

    m = load_released()
    sp = load_splits(42)
    paths = [plots.roc_curves(m, sp, tmp_path / "roc.png"),
             plots.latent_space(m, sp["labelled"].x, sp["labelled"].y, tmp_path / "latent.png"),
             plots.element_group_blobs(m, tmp_path / "blobs.png")]
    r = exact_shapley(m, sp["test"].e[:4], sp["labelled"].e[:50])
    paths.append(plots.shap_summary(r.values, sp["test"].e[:4], m.config.features, tmp_path / "shap.png"))
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nudge_plot_names_only_start_best_end_and_promises_no_absent_background(tmp_path, monkeypatch):
    """A 10-step path is labelled at start, best and end only (no overlapping labels); without a
    background the title does not mention training alloys."""
    import pandas as pd

    from hea_fast import plots as base

    figs = []
    real = base.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (figs.append(fig), real(fig, path))[1])
    p = [0.1, 0.4, 0.2, 0.9, 0.3, 0.5, 0.6, 0.2, 0.7, 0.4, 0.8]
    traj = pd.DataFrame({"step": range(11), "alloy": [f"Fe{50 - i}Ni{50 + i}" for i in range(11)], "p_single": p,
                         "z1": np.linspace(0, 1, 11), "z2": np.sin(np.arange(11))})
    plots.nudge_trajectory(traj, tmp_path / "n.png", cutoff=0.95)
    ax, bx = figs[0].axes[:2]
    assert "training" not in ax.get_title()
    assert sorted(t.get_text() for t in ax.texts) == ["best", "end", "start"]
    assert sorted(t.get_text().split(":")[0] for t in bx.texts) == ["best", "end", "start"]
    assert any("Fe47Ni53" in t.get_text() for t in bx.texts)  # step 3, P = 0.9: the best
    assert (tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"
