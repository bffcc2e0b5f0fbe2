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
