"""Phase models: accuracy on the cross-source protocol against screening speed (issue #15 item 3).

Every candidate phase model is screened on the same slice of the default HEA space (15-element
DEFAULT_PALETTE, 5 principal elements, every element 5-35 at.% at 1 at.% steps: 1,661,863,203
compositions; 2,000,000 ranks from the middle of the lattice order, 200,000 in quick mode), through
its fastest screening path, by `hea_fast.screen.score_chunk` over chunks of the engine's default
size, top-1000 merged as `screen` does, 2 kernel threads:

=====================  =====================================================================  ==================
row                    model                                                                  path
=====================  =====================================================================  ==================
default ensemble       the bundled default (`hea_fast.phase`): mean of the logistic           fused top-k
                       regression on 15 descriptors + element fractions and a 300-tree
                       random forest on the 15 descriptors fitted to soft labels
default, top-20,000    the same model keeping, per chunk, the 20,000 best (the domain pool    fused top-20,000
                       `screen` keeps for a model with a domain, as the 1.66 B run does)
fast                   the bundled ``fast`` model: the same linear member with the forest     fused top-k
                       distilled into 600 depth-4 boosted trees (the default until
                       2026-12-06 23:38 UTC)
first default          the default until 2026-12-06 14:05 UTC: the same linear member with    fused top-k
                       300 depth-3 boosted trees fitted to the labels
                       (scripts/train_default_phase.py --trees boosting --labels vote, refitted here on
                       the shared phase data; the protocol's ``ensemble``)
logreg alone           the default's linear member: EnsembleParams with no tree,              fused top-k
                       w_lin = 1, w_tree = 0
forest alone           the default's 300 trees: w_lin = 0, w_tree = 1                         fused top-k
mixture (paper)        the bundled SparseMixtureClassifier, probit predictive                 fused top-k
SSVAE head             the bundled project-trained SSVAE classifier head                      lattice_columns +
                                                                                              top-k
=====================  =====================================================================  ==================

A slice this short is the fused kernels' worst case: the top-k fills slowly, so the bounds that let a
block skip its trees (or a forest's rows stop walking) rarely bind; over the whole 1.66 B space they
skip most of the work (benchmarks/results/phase_screen_1p66e9.md). Compositions per wall second and per
CPU second (process CPU time, both threads summed: what the
other jobs on a shared machine disturb least) are the best of 3 calls (2 in quick mode), the models called in
turn so that a burst of load hits all of them alike. The accuracy columns are read from the
protocol's results (benchmarks/papers/phase_validation/selection.json): mean AUC and mean log-loss
over the 6 held-out sources (leave-one-source-out) and the grouped K-fold AUC. 'logreg alone' is the
same model family as the protocol's ``logreg_fractions`` row (tuned on each training fold by the same
grid; the bundled member is that grid's choice on all the data); the forest alone has no protocol row.
Correctness: every row's top-k scores are recomputed from the decoded
compositions by an independent path (the NumPy formula `phase_ensemble_reference`, the mixture's
NumPy probit, the SSVAE's torch model) and must agree.

`test_default_forest_fused_vs_general_path` times the default through its fused kernel against the
same model through the general path (decode, descriptors, the C++ forest walker) on 100,000 ranks,
the fused top scores checked against scikit-learn; `test_phase_requirement_sides_vs_exact` times the
default as a requirement (`--scorer phase+yield`) asked only for its side of the threshold against
the same requirement with every P computed.

The first default and the forest recipe are fitted on the shared phase data (about 10 s and 15 s of
one core): without the data home the tests skip (tests/conftest.py convention). The table is printed; runs are recorded
in benchmarks/results/phase_models_speed.md.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from hea_fast.phase import PhaseModel, load_model  # noqa: E402
from hea_fast.phase.ensemble import phase_ensemble_reference  # noqa: E402
from hea_fast.screen import (  # noqa: E402
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PALETTE,
    MixtureScorer,
    PhaseScorer,
    SSVAEScorer,
    hea_space,
    score_chunk,
)
from hea_fast.screen.domain import decode_ranks, default_pool  # noqa: E402
from hea_fast.screen.topk import merge_topk  # noqa: E402

SELECTION = Path(__file__).resolve().parent / "papers" / "phase_validation" / "selection.json"
THREADS = 2
K = 1000


@pytest.fixture(scope="module")
def space():
    return hea_space(DEFAULT_PALETTE, 5, 1.0)


@pytest.fixture(scope="module")
def default_model():
    return load_model("default")


@pytest.fixture(scope="module")
def fast_model():
    return load_model("fast")


@pytest.fixture(scope="module")
def first_default():
    """The first default phase model refitted (scripts/train_default_phase.py --trees boosting --labels vote: same
    data, conflict rule, seed and grids; the trees' depth 3 as its training fixed)."""
    from threadpoolctl import threadpool_limits

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.validation import DEFAULT_SOURCES, element_columns, harmonised_phase_data, pool

    pooled = pool(harmonised_phase_data(DEFAULT_SOURCES, conflict="majority"), "majority")
    els = element_columns(pooled)
    with threadpool_limits(limits=1):
        est = PhaseEnsembleClassifier(calibrate=False, max_depths=(3,), random_state=0, threads=1, trees="boosting")
        est.fit(pooled[els], pooled["single_phase"].to_numpy(), pooled["system"].to_numpy())
    return est.export()


def _variant(model, **changes) -> PhaseModel:
    return PhaseModel(dataclasses.replace(model.params, **changes), None, {}, model.table)


def _linear_only(model) -> PhaseModel:
    return _variant(model, tree_offsets=np.zeros(1, np.int64), node_feature=np.zeros(0, np.int32),
                    node_threshold=np.zeros(0), node_left=np.zeros(0, np.int32), node_right=np.zeros(0, np.int32),
                    node_value=np.zeros(0), node_missing_left=np.zeros(0, np.uint8), w_lin=1.0, w_tree=0.0,
                    tree_baseline=0.0, tree_link="logit", tree_float32=False)


def _screen(space, scorer, start, stop, k=K):
    """`screen`'s scan of [start, stop): the scorer's fastest path chunk by chunk, each merged into
    the top-k as it finishes, the merged list's worst score passed on as the floor once it is full
    (`hea_fast.screen.engine.screen` does the same through its checkpoint)."""
    acc = (np.empty(0), np.empty(0, dtype=np.int64), 0)
    for a in range(start, stop, DEFAULT_CHUNK_SIZE):
        floor = float(acc[0].min()) if len(acc[0]) >= k else None
        part = score_chunk(space, scorer, a, min(a + DEFAULT_CHUNK_SIZE, stop), k, None, "default", THREADS,
                           floor=floor)
        acc = merge_topk(acc, part, k=k)
    return acc


def _independent(space, scorer, ranks) -> np.ndarray:
    """The scores of `ranks` by a path sharing no kernel with the screen's."""
    batch = decode_ranks(space, ranks, 1)
    if isinstance(scorer, PhaseScorer):
        V, why = scorer.model.feature_matrix(batch)
        assert (why == "").all()
        return phase_ensemble_reference(V, scorer.model.params)
    if isinstance(scorer, MixtureScorer):
        numpy = MixtureScorer(scorer.model, engine="numpy")
        from hea_fast.features import featurize

        return numpy.score(batch, featurize(batch, list(numpy.descriptors), errors="raise"))
    return SSVAEScorer(scorer.model, engine="torch").score(batch, None)


def _protocol() -> dict:
    models = json.loads(SELECTION.read_text())["models"]
    return {m: (e["loso_source_mean"]["auc"], e["loso_source_mean"]["log_loss"], e["grouped"]["auc"])
            for m, e in models.items()}


def test_phase_models_speed(quick, check_ratio, space, default_model, fast_model, first_default):
    from hea_fast.mixture import SparseMixtureClassifier
    from hea_fast.ssvae.model import load_model as load_ssvae

    pool = default_pool(K)
    fast = fast_model
    rows = [  # (row, protocol model or None, scorer, path, tolerance of the independent check, k)
        (f"default ensemble (logreg + {default_model.params.n_trees}-tree random forest)", "ensemble_forest_sources",
         PhaseScorer(default_model), "fused top-k", 1e-9, K),
        (f"default ensemble, top-{pool:,} per chunk (the domain pool `screen` keeps)", "ensemble_forest_sources",
         PhaseScorer(default_model), f"fused top-{pool:,}", 1e-9, pool),
        (f"fast (logreg + {fast.params.n_trees} depth-{fast.params.max_depth} trees distilled from the earlier "
         "default's forest)", "ensemble_distilled_soft", PhaseScorer(fast), "fused top-k", 1e-9, K),
        (f"first default (logreg + {first_default.params.n_trees} depth-{first_default.params.max_depth} boosted "
         "trees)", "ensemble", PhaseScorer(first_default), "fused top-k", 1e-9, K),
        ("logreg alone (the default's linear member)", "logreg_fractions", PhaseScorer(_linear_only(default_model)),
         "fused top-k", 1e-9, K),
        ("forest alone (the default's 300 trees)", None,
         PhaseScorer(_variant(default_model, w_lin=0.0, w_tree=1.0)), "fused top-k", 1e-9, K),
        ("mixture (paper, probit predictive)", "mixture", MixtureScorer(SparseMixtureClassifier.load_default()),
         "fused top-k", 1e-10, K),
        ("SSVAE head (bundled)", "ssvae_head", SSVAEScorer(load_ssvae("default")), "lattice_columns + top-k", 2e-5,
         K),
    ]
    n = 200_000 if quick else 2_000_000
    start = space.size // 3  # the slice of benchmarks/test_phase_ensemble.py
    for _, _, scorer, _, tol, k in rows:
        s, r, _ = _screen(space, scorer, start, start + 200_000, k)
        assert len(r) == k and np.all(np.diff(s) <= 0)
        np.testing.assert_allclose(s, _independent(space, scorer, r), rtol=0, atol=tol)

    wall = [float("inf")] * len(rows)
    cpu = [float("inf")] * len(rows)
    load0 = os.getloadavg()
    for _ in range(2 if quick else 3):
        for i, (_, _, scorer, _, _, k) in enumerate(rows):
            t0, c0 = time.perf_counter(), time.process_time()
            _screen(space, scorer, start, start + n, k)
            wall[i] = min(wall[i], time.perf_counter() - t0)
            cpu[i] = min(cpu[i], time.process_time() - c0)
    load1 = os.getloadavg()
    proto = _protocol()
    print(f"\n{n:,} ranks from rank {start:,} of the 5-element 1 at.% HEA space ({space.size:,}), top-{K}, "
          f"{THREADS} threads, chunks of {DEFAULT_CHUNK_SIZE:,}; load average {load0[0]:.1f} -> {load1[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print("| model | protocol row | mean AUC over held-out sources | mean log-loss | grouped AUC | path | "
          "M compositions/s wall (2 threads) | M per CPU-s |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, key, _, path, _, _), w, c in zip(rows, wall, cpu):
        auc, ll, g = proto[key] if key else (None, None, None)
        acc = (f"{auc:.3f} | {ll:.3f} | {g:.3f}" if key else "not on the protocol | - | -")
        print(f"| {name} | {key or '-'} | {acc} | {path} | {n / w / 1e6:.2f} | {n / c / 1e6:.2f} |")
    # same-run ratios (recorded; CPU time of an alternative over the default's, on this slice)
    check_ratio("phase_models_default_vs_fast_cpu", cpu[2] / cpu[0])
    check_ratio("phase_models_default_vs_mixture_cpu", cpu[6] / cpu[0])
    check_ratio("phase_models_default_vs_ssvae_cpu", cpu[7] / cpu[0])


@pytest.fixture(scope="module")
def forest_estimator():
    """The protocol's ``ensemble_forest_sources`` recipe (the bundled default) fitted on all the shared phase
    data, one row per (source, composition), its forest on each source's record fractions (about 20 s)."""
    from threadpoolctl import threadpool_limits

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.validation import DEFAULT_SOURCES, element_columns, harmonised_phase_data
    from hea_fast.validation.models import label_fractions

    rows = harmonised_phase_data(DEFAULT_SOURCES, conflict="majority")
    els = element_columns(rows)
    with threadpool_limits(limits=1):
        est = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=0, threads=1)
        est.fit(rows[els], rows["single_phase"].to_numpy(), rows["system"].to_numpy(),
                label_fraction=label_fractions(rows))
    return est


class _GeneralPath(PhaseScorer):
    """The same model without its fused paths: `screen` decodes each chunk, computes the descriptors
    and scores the rows (`PhaseModel.predict_proba`: the C++ forest walker), then keeps the top-k."""

    def fused_topk(self, *args, **kwargs):
        return None

    def lattice_columns(self, *args, **kwargs):
        return None


def test_default_forest_fused_vs_general_path(quick, check_ratio, space, default_model, forest_estimator):
    """The default (a 300-tree random forest averaged with the linear member) through its fused lattice
    kernel against the same model through the general path (decode, descriptors, the C++ forest walker:
    the same scores by another path), both through `screen`'s scan of the same 100,000 ranks
    (top-1000). The fused top scores are checked against scikit-learn: the recipe refitted here,
    predict_proba of its members on the decoded compositions (so the bundled model is also checked to be
    that recipe)."""
    from hea_fast.phase.model import feature_matrix

    est = forest_estimator
    fused, general = PhaseScorer(default_model), _GeneralPath(default_model)
    n = 100_000
    start = space.size // 3
    s, r, _ = _screen(space, fused, start, start + n, K)
    batch = decode_ranks(space, r, 1)
    V, _ = feature_matrix(batch, est.descriptors_, est.elements_, threads=1)
    fd = len(est.descriptors_)
    want = 0.5 * est.linear_.predict_proba(V)[:, 1] + 0.5 * est.trees_.predict_proba(V[:, :fd])[:, 1]
    np.testing.assert_allclose(s, want, rtol=0, atol=1e-12)
    s2, r2, _ = _screen(space, general, start, start + n, K)
    assert np.array_equal(r2, r)
    np.testing.assert_allclose(s2, s, rtol=0, atol=1e-12)
    wall, cpu = [float("inf")] * 2, [float("inf")] * 2
    for _ in range(2 if quick else 3):
        for i, scorer in enumerate((fused, general)):
            t0, c0 = time.perf_counter(), time.process_time()
            _screen(space, scorer, start, start + n, K)
            wall[i] = min(wall[i], time.perf_counter() - t0)
            cpu[i] = min(cpu[i], time.process_time() - c0)
    nodes = sum(t.tree_.node_count for t in est.trees_.estimators_)
    print(f"\n{n:,} ranks from rank {start:,}, top-{K}, {THREADS} threads; forest: "
          f"min_samples_leaf={est.best_params_['trees']['min_samples_leaf']}, {nodes:,} nodes")
    for name, path, w, c in (("default, fused", "fused top-k (block bounds, rows stop walking)", wall[0], cpu[0]),
                             ("default, general path", "decode + descriptors + C++ forest walker", wall[1], cpu[1])):
        print(f"| {name} | {path} | {n / w / 1e6:.3f} | {n / c / 1e6:.3f} |")
    check_ratio("phase_models_forest_fused_vs_general_cpu", cpu[1] / cpu[0])


class _ExactRequirement(PhaseScorer):
    """The same requirement scored exactly: every P computed, no floor or side (the path before the
    kernel was told the threshold)."""

    def lattice_columns(self, space, start, stop, table, threads):
        from hea_fast.phase.ensemble import phase_ensemble_lattice

        p = phase_ensemble_lattice(space, start, stop, self.model.params, table=self.model.table,
                                   threads=self._threads(threads))
        return {self.name: p}

    def lattice_sides(self, space, start, stop, table, threads):
        return self.lattice_columns(space, start, stop, table, threads)


def test_phase_requirement_sides_vs_exact(quick, check_ratio, default_model):
    """`--scorer phase+yield` (σ_y at 1300 K ranked among P(single phase) >= 0.75): the default phase
    model as a requirement asked only for its side of 0.75 (`Scorer.lattice_sides`) against the same
    requirement with every P computed, on 1,000,000 ranks (500,000 quick) of the 10 refractory
    elements, 5 at a time at 2 at.% steps (the space of the README's phase+yield figure); the same
    top-1000 and passing count (checked), then CPU time of each, best of 3 (2 quick) alternated."""
    from hea_fast.screen import Combined, CompositionSpace, YieldScorer

    space = CompositionSpace(("Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"), 5, 2.0)
    sides = Combined(YieldScorer(1300.0), require=[PhaseScorer(default_model, threshold=0.75)])
    exact = Combined(YieldScorer(1300.0), require=[_ExactRequirement(default_model, threshold=0.75)])
    n = 500_000 if quick else 1_000_000
    start = space.size // 3
    a, b = _screen(space, sides, start, start + n), _screen(space, exact, start, start + n)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) and a[2] == b[2] > 0
    wall, cpu = [float("inf")] * 2, [float("inf")] * 2
    for _ in range(2 if quick else 3):
        for i, scorer in enumerate((sides, exact)):
            t0, c0 = time.perf_counter(), time.process_time()
            _screen(space, scorer, start, start + n)
            wall[i] = min(wall[i], time.perf_counter() - t0)
            cpu[i] = min(cpu[i], time.process_time() - c0)
    print(f"\n{n:,} ranks from rank {start:,} of {space.size:,}, phase+yield, {a[2]:,} pass P >= 0.75")
    for name, w, c in (("requirement: side of 0.75", wall[0], cpu[0]), ("requirement: every P exact", wall[1], cpu[1])):
        print(f"| {name} | {n / w / 1e6:.3f} | {n / c / 1e6:.3f} |")
    check_ratio("phase_models_requirement_sides_vs_exact_cpu", cpu[1] / cpu[0])


#: The screens of test_best_first_vs_rank_order: (name, elements, n_elements, step at.%); quick mode runs the first.
BEST_FIRST_SPACES = [
    ("demo: 15 metals, 5 elements, 5 at.%", DEFAULT_PALETTE, 5, 5.0),
    ("15 metals, 5 elements, 2 at.%", DEFAULT_PALETTE, 5, 2.0),
    ("15 metals, 4 elements, 1 at.%", DEFAULT_PALETTE, 4, 1.0),
    ("9 refractory metals, 6 elements, 2.5 at.%", ("Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr"), 6, 2.5),
]


def test_best_first_vs_rank_order(quick, check_ratio, default_model, fast_model):
    """`hea_fast.screen.screen` end to end (top-1000 in-domain from the 20,000-candidate domain pool,
    every element 5-35 at.%: `hea_space`), best-first (the default: each window of BEST_FIRST_RANKS
    ranks bounded per tile, then scored best bound first, hopeless tiles skipped) against rank order
    (BEST_FIRST_RANKS = 0: every chunk in lattice order, the pool's floor passed on), for the default
    and the `fast` model, on the screens of BEST_FIRST_SPACES (quick mode: the demo's space, default
    model only). Same model, same kernel, same result (checked: the same top rows, counts and domain
    summary); wall and CPU time of each, best of 3 (2 quick) alternated. The ratio guarded is the
    default's CPU time in rank order over best-first on the demo's space."""
    import pandas as pd

    from hea_fast.screen import engine, hea_space, screen

    window = engine.BEST_FIRST_RANKS

    def run(space, scorer, w):
        engine.BEST_FIRST_RANKS = w
        try:
            return screen(space, scorer, top_k=K, threads=THREADS, progress=False)
        finally:
            engine.BEST_FIRST_RANKS = window

    models = [("default", default_model)] + ([] if quick else [("fast", fast_model)])
    print(f"\ntop-{K} in-domain, {THREADS} threads, end to end (scan, domain of the pool, report), best of "
          f"{2 if quick else 3}")
    print("| screen | compositions | model | best-first s wall | rank order s wall | best-first M/s wall | "
          "CPU ratio (rank order / best-first) |")
    print("|---|---|---|---|---|---|---|")
    for j, (label, elements, n_el, step) in enumerate(BEST_FIRST_SPACES[:1] if quick else BEST_FIRST_SPACES):
        space = hea_space(elements, n_el, step)
        for name, model in models:
            scorer = PhaseScorer(model, threads=THREADS)
            best, rank = run(space, scorer, window), run(space, scorer, 0)
            pd.testing.assert_frame_equal(best.top, rank.top)
            assert (best.n_passing, best.domain) == (rank.n_passing, rank.domain)
            wall, cpu = [float("inf")] * 2, [float("inf")] * 2
            for _ in range(2 if quick else 3):
                for i, w in enumerate((window, 0)):
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(space, scorer, w)
                    wall[i] = min(wall[i], time.perf_counter() - t0)
                    cpu[i] = min(cpu[i], time.process_time() - c0)
            n = len(space)
            print(f"| {label} | {n:,} | {name} | {wall[0]:.2f} | {wall[1]:.2f} | {n / wall[0] / 1e6:.2f} | "
                  f"{cpu[1] / cpu[0]:.2f} |")
            if j == 0 and name == "default":
                check_ratio("phase_screen_best_first_vs_rank_order_cpu", cpu[1] / cpu[0])


def test_dask_best_first_vs_rank_order(quick, default_model):
    """The same comparison on a Dask LocalCluster (2 worker processes x 1 thread, loopback; chunks of
    DEFAULT_CLUSTER_CHUNK_SIZE ranks): best-first (chunks bounded as tasks, submitted best bound first
    in growing waves with the pool's floor so far; each chunk's tiles visited best bound first by the
    kernel) against rank order (one wave), the demo's space and 15 metals x 4 elements at 1 at.%, top-1000
    in-domain, best of 2 after a warm-up run; the same result checked. Full mode only (a cluster start
    is slow and load-sensitive in CI)."""
    if quick:
        pytest.skip("full benchmark mode only")
    distributed = pytest.importorskip("dask.distributed")
    import pandas as pd

    from hea_fast.screen import engine, hea_space, screen

    window = engine.BEST_FIRST_RANKS
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    try:
        scorer = PhaseScorer(default_model)
        print("\n| screen | compositions | best-first s wall | rank order s wall |\n|---|---|---|---|")
        for label, elements, n_el, step in (BEST_FIRST_SPACES[0], BEST_FIRST_SPACES[2]):
            space = hea_space(elements, n_el, step)
            wall, res = [float("inf")] * 2, [None, None]
            screen(space, scorer, top_k=K, progress=False, client=client)  # warm the workers
            for _ in range(2):
                for i, w in enumerate((window, 0)):
                    engine.BEST_FIRST_RANKS = w
                    try:
                        t0 = time.perf_counter()
                        res[i] = screen(space, scorer, top_k=K, progress=False, client=client)
                        wall[i] = min(wall[i], time.perf_counter() - t0)
                    finally:
                        engine.BEST_FIRST_RANKS = window
            pd.testing.assert_frame_equal(res[0].top, res[1].top)
            assert (res[0].n_passing, res[0].domain) == (res[1].n_passing, res[1].domain)
            print(f"| {label} | {len(space):,} | {wall[0]:.2f} | {wall[1]:.2f} |")
    finally:
        client.close()
        cluster.close()


def test_threshold_screens(quick, check_ratio, default_model, fast_model):
    """`screen(..., threshold=t)` end to end on the demo's space (4,357,353 compositions; top-1000
    in-domain of the 20,000-candidate pool) at t = 0.6 and 0.9, against the exhaustive reference: every
    p of the space by `phase_ensemble_lattice` (the same kernel with no pruning), from which the
    passing count and the top follow (checked equal: n_passing, and the pool's best scores). Since
    2026-12-07 the fused top-k treats the threshold as a floor (a row sure to fail it is settled
    without walking every tree), and tiles whose bounds straddle the threshold keep their bound for
    the best-first order; before, a screen whose pool never filled walked every tree of every row (the
    demo at t = 0.9: 20 s, 4x the exhaustive pass). The ratio guarded is the exhaustive pass's CPU time
    over the default's t = 0.9 screen (different work for the same answer: a screen's speed-up over
    brute force). Best of 2 alternated; quick mode: the default model only."""
    from hea_fast.phase.ensemble import phase_ensemble_lattice
    from hea_fast.screen import screen

    space = hea_space(DEFAULT_PALETTE, 5, 5.0)
    models = [("default", default_model)] + ([] if quick else [("fast", fast_model)])
    print(f"\ndemo space ({len(space):,}), top-{K} in-domain, {THREADS} threads, best of 2")
    print("| model | threshold | passing | screen s wall | screen s CPU | exhaustive p s CPU |\n|---|---|---|---|---|---|")
    for name, model in models:
        scorer = PhaseScorer(model, threads=THREADS)
        c0 = time.process_time()
        p = phase_ensemble_lattice(space, 0, len(space), model.params, threads=THREADS)
        exhaustive = time.process_time() - c0
        for t in (0.6, 0.9):
            res = screen(space, scorer, top_k=K, threshold=t, threads=THREADS, progress=False)
            assert res.n_passing == int((p >= t).sum()) > 0
            pool = np.sort(p[p >= t])[::-1][:default_pool(K)]
            best = res.top["p_single"].to_numpy()
            assert best.max() == pytest.approx(pool[0], abs=1e-12) and best.min() >= pool[-1] - 1e-12
            wall, cpu = float("inf"), float("inf")
            for _ in range(2):
                t0, c0 = time.perf_counter(), time.process_time()
                screen(space, scorer, top_k=K, threshold=t, threads=THREADS, progress=False)
                wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
            print(f"| {name} | {t:g} | {res.n_passing:,} | {wall:.2f} | {cpu:.2f} | {exhaustive:.2f} |")
            if name == "default" and t == 0.9:
                check_ratio("phase_screen_threshold_vs_exhaustive_cpu", exhaustive / cpu)
