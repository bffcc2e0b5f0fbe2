"""Applicability-domain checks of the bundled phase model at table scale (`hea-fast phase predict`,
`phase evaluate`): `ApplicabilityDomain.training_match` (is each row a training composition: the same
elements, every fraction within 1e-3 of a training alloy's) against the brute force it replaced on
2026-12-07 — every query against every training alloy over every element column, in blocks of 256
rows (the same quantity; a different algorithm: the current one compares a query only with the
training alloys of its own element set, on that set's columns). Same process, same rows, results
checked equal. Ratio: benchmarks/baselines/phase_domain.json.

Rows: compositions of the demo's HEA space (15 metals, 5 elements, 5 at.%) drawn at random (seed 0)
plus every training alloy, shuffled — 5,000 + the training set in quick mode, 50,000 + it in full.
"""
from __future__ import annotations

import time

import numpy as np

from hea_fast.phase import load_model
from hea_fast.screen import DEFAULT_PALETTE, hea_space
from hea_fast.screen.domain import decode_ranks


def _brute_training_match(dom, F, els, tol=1e-3):
    """The algorithm training_match used until 2026-12-07 (every query x every training alloy; an element
    below tol / 2 reads as absent on both sides since then)."""
    Fk, foreign = dom._aligned(F, els)
    T = dom.points_[:, len(dom.descriptors):] / dom.fraction_weight
    T_support = T > 0.5 * tol
    out = np.zeros(F.shape[0], dtype=bool)
    for a in range(0, F.shape[0], 256):
        Q = Fk[a:a + 256]
        close = (np.abs(Q[:, None, :] - T[None, :, :]) <= tol + 1e-12).all(axis=2)
        same = ((Q[:, None, :] > 0.5 * tol) == T_support[None, :, :]).all(axis=2)
        out[a:a + 256] = (close & same).any(axis=1)
    return out & ~foreign


def test_training_match_vs_brute_force(quick, check_ratio):
    dom = load_model("default").domain
    space = hea_space(DEFAULT_PALETTE, 5, 5.0)
    n = 5_000 if quick else 50_000
    rng = np.random.default_rng(0)
    drawn = decode_ranks(space, np.sort(rng.choice(len(space), n, replace=False)), 1)
    els = list(dom.elements_)
    col = {e: j for j, e in enumerate(els)}
    F = np.zeros((n, len(els)))
    for j, e in enumerate(drawn.elements):
        F[:, col[e]] = drawn.fractions[:, j]
    T = dom.points_[:, len(dom.descriptors):] / dom.fraction_weight
    F = np.vstack([F, T])[rng.permutation(n + len(T))]
    fast = dom.training_match(F, els)
    assert np.array_equal(fast, _brute_training_match(dom, F, els)) and fast.sum() >= len(T)
    best = [float("inf")] * 2
    for _ in range(2 if quick else 3):
        for i, fn in enumerate((dom.training_match, lambda a, b: _brute_training_match(dom, a, b))):
            t0 = time.perf_counter()
            fn(F, els)
            best[i] = min(best[i], time.perf_counter() - t0)
    rows = len(F)
    print(f"\n{rows:,} rows ({n:,} drawn + {len(T):,} training alloys), {len(els)} element columns, one thread")
    print(f"| training_match by element set | {best[0]:.3f} s | {rows / best[0]:,.0f} rows/s |")
    print(f"| brute force (every training alloy) | {best[1]:.3f} s | {rows / best[1]:,.0f} rows/s |")
    check_ratio("phase_domain_training_match_vs_brute_force", best[1] / best[0])
