"""Screening: streaming top-k equals a brute-force sort of the whole space; chunking, resuming and
a real Dask LocalCluster (including a worker killed mid-run) give exactly the same result."""
from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.composition import CompositionBatch
from hea_fast.features import featurize


def _brute_force_space(elements, k, step):
    """Every composition with exactly k of `elements`, each a positive multiple of `step` at.%."""
    N = int(round(100 / step))
    rows = []
    for combo in itertools.combinations(range(len(elements)), k):
        for cut in itertools.combinations(range(1, N), k - 1):
            parts = np.diff((0,) + cut + (N,))
            row = np.zeros(len(elements))
            row[list(combo)] = parts / N
            rows.append(row)
    return np.array(rows)


def _mismatch_score(d: pd.DataFrame) -> np.ndarray:
    # a smooth descriptor score with many near-ties (exercises the rank tie-break)
    return -np.round(d["delta"].to_numpy(), 2) + 0.01 * d["VEC"].to_numpy()


PALETTE = ["Co", "Cr", "Fe", "Mn", "Ni", "Al"]


def test_space_size_matches_brute_force():
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    assert len(space) == len(_brute_force_space(PALETTE, 4, 10.0))


@pytest.mark.parametrize("chunk_size", [37, 250, 100_000])
def test_screen_equals_brute_force(chunk_size):
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    res = S.screen(space, scorer, top_k=25, chunk_size=chunk_size, progress=False)

    allfr = np.vstack([space.decode(0, len(space)).fractions])
    desc = featurize(CompositionBatch(fractions=allfr, elements=tuple(space.elements)))
    s = _mismatch_score(desc)
    order = np.lexsort((np.arange(len(s)), -s))[:25]
    np.testing.assert_array_equal(res.top["rank"].to_numpy(), order)
    np.testing.assert_allclose(res.top["score"].to_numpy(), s[order], rtol=0, atol=0)
    # the decoded compositions are the brute-force lattice points (as a set)
    bf = {tuple(np.round(r, 9)) for r in _brute_force_space(PALETTE, 4, 10.0)}
    for r in res.top[[f"x_{e}" for e in space.elements]].to_numpy():
        assert tuple(np.round(r, 9)) in bf
    assert res.n_scored == len(space)


def test_threshold_counts_passing():
    space = S.CompositionSpace(PALETTE, 3, 10.0)
    scorer = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), name="VEC_score", descriptors=["VEC"])
    res = S.screen(space, scorer, top_k=5, threshold=8.0, chunk_size=50, progress=False)
    desc = featurize(space.decode(0, len(space)))
    assert res.n_passing == int((desc["VEC"] >= 8.0).sum())
    assert (res.top["VEC_score"] >= 8.0).all()


def test_merge_topk_is_order_independent(rng):
    parts = []
    for _ in range(7):
        n = int(rng.integers(0, 40))
        s = rng.integers(0, 5, n).astype(float)  # heavy ties
        r = rng.choice(10_000, n, replace=False)
        parts.append((s, r, n))
    k = 11
    ref = S.merge_topk(*parts, k=k)
    allr = np.concatenate([p[1] for p in parts])
    alls = np.concatenate([p[0] for p in parts])
    # brute force: full sort by (-score, rank)
    o = sorted(range(len(alls)), key=lambda i: (-alls[i], allr[i]))[:k]
    np.testing.assert_array_equal(ref[1], allr[o])
    for perm in itertools.islice(itertools.permutations(range(7)), 20):
        acc = (np.empty(0), np.empty(0, dtype=np.int64), 0)
        for i in perm:
            acc = S.merge_topk(acc, parts[i], k=k)
        np.testing.assert_array_equal(acc[1], ref[1])
        assert acc[2] == ref[2]


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    full = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False)
    ck = tmp_path / "ck.json"
    part = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False, checkpoint=ck, max_chunks=3)
    assert part.n_scored == 180
    state = json.loads(ck.read_text())
    assert sorted(state["done"]) == [0, 1, 2]
    resumed = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False, checkpoint=ck)
    pd.testing.assert_frame_equal(resumed.top, full.top)
    assert resumed.n_scored == full.n_scored and resumed.n_passing == full.n_passing
    # a checkpoint of another run is refused, not silently mixed in
    with pytest.raises(ValueError, match="different screening run"):
        S.screen(space, scorer, top_k=21, chunk_size=60, progress=False, checkpoint=ck)


def test_explicit_space_and_errors():
    sp = S.ExplicitSpace(["CoCrFeMnNi", "NbMoTaW", "HfNbTaTiZr", "Al0.5CoCrFeNi"])
    res = S.screen(sp, lambda d: -d["delta"].to_numpy(), top_k=2, progress=False)
    d = featurize(["CoCrFeMnNi", "NbMoTaW", "HfNbTaTiZr", "Al0.5CoCrFeNi"])
    best = np.argsort(d["delta"].to_numpy(), kind="stable")[:2]
    np.testing.assert_array_equal(res.top["rank"].to_numpy(), best)
    with pytest.raises(ValueError, match="top_k"):
        S.screen(sp, lambda d: d["VEC"], top_k=0, progress=False)
    with pytest.raises(ValueError, match="threshold"):
        S.screen(sp, lambda d: d["VEC"], threshold=float("nan"), progress=False)


def test_yield_scorer_combined_with_descriptor_filter():
    space = S.CompositionSpace(["Mo", "Nb", "Ta", "V", "W", "Ti"], 4, 10.0)
    ys = S.YieldScorer(1300.0)
    flt = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), name="vec", descriptors=["VEC"], threshold=5.2)
    res = S.screen(space, S.Combined(ys, require=[flt]), top_k=10, chunk_size=100, progress=False)
    from hea_fast.xyield.simulate import yield_strength

    batch = space.decode(0, len(space))
    y = np.asarray(yield_strength(batch, 1300.0)).reshape(-1)
    vec = featurize(batch)["VEC"].to_numpy()
    y = np.where(vec >= 5.2, y, -np.inf)
    order = np.lexsort((np.arange(len(y)), -y))[:10]
    np.testing.assert_array_equal(res.top["rank"].to_numpy(), order)
    assert res.n_passing == int((vec >= 5.2).sum())


def test_combined_ranks_only_the_rows_that_pass_the_requirements():
    """Combined computes the ranking score only for rows meeting every requirement (it is the
    expensive one: a yield model, a CNN), and the result equals ranking everything and filtering."""
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    seen = []

    def rank_fn(d: pd.DataFrame) -> np.ndarray:
        seen.append(d.copy())
        return -d["delta"].to_numpy()

    flt = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), name="vec", descriptors=["VEC"], threshold=8.0)
    comb = S.Combined(S.DescriptorScorer(rank_fn, name="neg_delta", descriptors=["delta"]), require=[flt])
    res = S.screen(space, comb, top_k=15, chunk_size=97, progress=False)
    desc = featurize(space.decode(0, len(space)))
    ok = desc["VEC"].to_numpy() >= 8.0
    assert 0 < ok.sum() < len(space)
    n_ranked_in_chunks = sum(len(d) for d in seen) - 15  # the report recomputes the final 15 rows
    assert n_ranked_in_chunks == int(ok.sum())
    assert all((d["VEC"] >= 8.0).all() for d in seen)
    y = np.where(ok, -desc["delta"].to_numpy(), -np.inf)
    order = np.lexsort((np.arange(len(y)), -y))[:15]
    np.testing.assert_array_equal(res.top["rank"].to_numpy(), order)
    np.testing.assert_array_equal(res.top["neg_delta"].to_numpy(), y[order])
    assert res.n_passing == int(ok.sum())


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("dask.distributed")
    import sys

    import cloudpickle

    # the scoring functions live in this test module, which worker processes cannot import when
    # the package is installed (CI runs without the source tree on sys.path): ship them by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0")
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_dask_equals_local(dask_cluster):
    _, client = dask_cluster
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    local = S.screen(space, scorer, top_k=30, chunk_size=100, progress=False)
    dist = S.screen(space, scorer, top_k=30, chunk_size=100, progress=False, client=client, merge_fan_in=3)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_passing == local.n_passing and dist.n_scored == local.n_scored
    # the mixture model takes the fused C++ kernel on the workers too (threads=1 there)
    big = S.CompositionSpace(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"], 4, 5.0)
    mix = S.MixtureScorer(threshold=0.6)
    local = S.screen(big, mix, top_k=40, chunk_size=30_000, progress=False)
    dist = S.screen(big, mix, top_k=40, chunk_size=30_000, progress=False, client=client)
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_passing == local.n_passing and 0 < local.n_passing < len(big)


def _slow_score(d: pd.DataFrame) -> np.ndarray:
    time.sleep(0.05)
    return _mismatch_score(d)


def test_dask_survives_a_killed_worker(dask_cluster):
    cluster, client = dask_cluster
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_slow_score, name="score", descriptors=["delta", "VEC"])
    local = S.screen(space, S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"]),
                     top_k=30, chunk_size=40, progress=False)

    pids = client.run(os.getpid)  # {worker address: pid}, taken on the main thread
    victim = sorted(pids.values())[0]
    killed_at = []

    def kill_one():
        time.sleep(0.4)
        # hard-kill one worker process (its nanny restarts it): its running tasks and the results it
        # held are lost, and Dask must recompute them elsewhere
        os.kill(victim, signal.SIGKILL)
        killed_at.append(time.monotonic())

    t = threading.Thread(target=kill_one)
    t.start()
    dist = S.screen(space, scorer, top_k=30, chunk_size=40, progress=False, client=client, merge_fan_in=4)
    finished_at = time.monotonic()
    t.join()
    assert killed_at and killed_at[0] < finished_at, "the worker was not killed during the run"
    assert victim not in client.run(os.getpid).values()
    pd.testing.assert_frame_equal(dist.top, local.top)
    assert dist.n_scored == local.n_scored


def test_cli_screen_yield(tmp_path):
    from hea_fast.cli import main

    out = tmp_path / "top.parquet"
    rc = main(["screen", "--elements", "Mo,Nb,Ta,W,V", "--n-elements", "3-4", "--step", "10", "--scorer", "yield",
               "--temperature", "1000", "--top-k", "15", "-o", str(out), "--no-progress"])
    assert rc == 0
    top = pd.read_parquet(out)
    assert len(top) == 15
    col = "sigma_y_1000K_MPa"
    assert np.all(np.diff(top[col].to_numpy()) <= 0)
    assert json.loads(out.with_suffix(".json").read_text())["n_top"] == 15
    assert out.with_suffix(".png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["screen", "--help"])


def test_cli_screen_device_option(tmp_path, capsys):
    """--device auto screens wherever possible (the CPU here when no GPU is visible) with the same
    top rows as --device cpu; --help documents the option and an unknown device is refused."""
    from hea_fast._backend import cuda_available
    from hea_fast.cli import main

    base = ["screen", "--elements", "Ti,Zr,Nb,Ta,Mo", "--n-elements", "3", "--step", "10", "--top-k", "12",
            "--no-progress"]
    tops = {}
    for dev in ("cpu", "auto"):
        out = tmp_path / f"{dev}.parquet"
        assert main(base + ["--device", dev, "-o", str(out)]) == 0
        tops[dev] = pd.read_parquet(out)
    if not cuda_available():
        pd.testing.assert_frame_equal(tops["auto"], tops["cpu"])
    else:
        np.testing.assert_array_equal(tops["auto"]["rank"], tops["cpu"]["rank"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    assert "--device {cpu,cuda,auto}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(base + ["--device", "tpu"])
    assert exc.value.code == 2


def test_mixture_scorer_probit_matches_monte_carlo():
    """The screening fast path (probit approximation of the posterior predictive) agrees with the
    model's Monte Carlo average over posterior draws."""
    from hea_fast.commands.screen import load_mixture

    model = load_mixture()
    space = S.CompositionSpace(["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Nb", "Mo", "Ta", "W"], 4, 10.0)
    batch = space.decode(0, len(space))
    desc = featurize(batch)
    fast = S.MixtureScorer(model).score(batch, desc)
    mc = S.MixtureScorer(model, method="mc").score(batch, desc)
    assert np.isfinite(fast).all()
    assert np.max(np.abs(fast - mc)) < 0.02
    # the decision at the paper's 0.75 threshold changes only for alloys right at the boundary
    flip = (fast >= 0.75) != (mc >= 0.75)
    assert np.all(np.abs(mc[flip] - 0.75) < 0.02)


def test_mixture_scorer_defaults_to_the_bundled_model():
    from hea_fast.commands.screen import default_mixture_dir, load_mixture

    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Ta", "Mo"], 3, 10.0)
    a = S.screen(space, S.MixtureScorer(), top_k=10, progress=False)
    b = S.screen(space, S.MixtureScorer(load_mixture(default_mixture_dir())), top_k=10, progress=False)
    c = S.screen(space, S.MixtureScorer(str(default_mixture_dir())), top_k=10, progress=False)
    pd.testing.assert_frame_equal(a.top, b.top)
    pd.testing.assert_frame_equal(a.top, c.top)
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        S.MixtureScorer("no_such_model")


def _synthetic_scorer(engine, K, rng, d=5, cl=(0, 1, 3), sub=(1, 2, 4)):
    sc = S.MixtureScorer.__new__(S.MixtureScorer)
    sc.engine, sc.threads, sc.method = engine, None, "probit"
    sc.descriptors = tuple(f"x{j}" for j in range(d))
    sc._mean, sc._scale = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    sc._cl, sc._sub = list(cl), list(sub)
    sc._anchors = rng.normal(size=(K, len(cl))) if K > 1 else None
    q = len(sub) + 1
    sc._mu = [rng.normal(size=q) for _ in range(K)]
    sc._cov = []
    for _ in range(K):
        B = rng.normal(size=(q, q)) * 0.3
        sc._cov.append(B @ B.T)
    return sc


@pytest.mark.parametrize("K", [1, 2, 4])
def test_fused_probit_kernel_matches_reference(K):
    rng = np.random.default_rng(K)
    sc = _synthetic_scorer("cpp", K, rng)
    X = rng.normal(size=(5000, 5)) * 2.0
    X[7, 2], X[11, 0], X[13, 4] = np.nan, np.inf, -np.inf
    desc = pd.DataFrame(X, columns=list(sc.descriptors))
    p = sc.score(None, desc)
    ref = sc._score_numpy(X)
    assert np.isnan(p[[7, 11, 13]]).all() and np.isnan(ref[[7, 11, 13]]).all()
    np.testing.assert_allclose(p, ref, rtol=1e-13, atol=1e-15, equal_nan=True)
    # independent closed form: brute-force nearest anchor in full Euclidean distance, and
    # MacKay's formula written out per row
    Z = (X - sc._mean) / sc._scale
    for i in rng.choice(np.flatnonzero(np.isfinite(Z).all(axis=1)), 200, replace=False):
        c = 0 if K == 1 else int(np.argmin(((Z[i, sc._cl] - sc._anchors) ** 2).sum(axis=1)))
        a = np.concatenate([[1.0], Z[i, sc._sub]])
        kappa = 1.0 / np.sqrt(1.0 + np.pi * a @ sc._cov[c] @ a / 8.0)
        assert p[i] == pytest.approx(1.0 / (1.0 + np.exp(-kappa * (a @ sc._mu[c]))), rel=1e-12)
    # thread count does not change the result
    sc.threads = 1
    np.testing.assert_array_equal(sc.score(None, desc), p)


def test_fused_probit_kernel_rejects_bad_arguments():
    from hea_fast._backend import core

    X, m, s = np.zeros((3, 2)), np.zeros(2), np.ones(2)
    cl, sub, mu, cov = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64), np.zeros((2, 2)), np.zeros((2, 2, 2))
    A = np.zeros((2, 1))
    with pytest.raises(ValueError, match=r"scale\[1\] = -1"):
        core.mixture_probit(X, m, np.array([1.0, -1.0]), cl, A, sub, mu, cov)
    with pytest.raises(ValueError, match=r"sub\[0\] = 5"):
        core.mixture_probit(X, m, s, cl, A, np.array([5], dtype=np.int64), mu, cov)
    with pytest.raises(ValueError, match="cov"):
        core.mixture_probit(X, m, s, cl, A, sub, mu, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="anchors"):
        core.mixture_probit(X, m, s, cl, np.zeros((3, 1)), sub, mu, cov)


def test_mixture_scorer_engines_agree_on_the_bundled_model():
    space = S.CompositionSpace(["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Nb", "Mo", "Ta", "W"], 4, 10.0)
    batch = space.decode(0, len(space))
    fast, ref = S.MixtureScorer(), S.MixtureScorer(engine="numpy")
    desc = featurize(batch, descriptors=list(fast.descriptors))
    np.testing.assert_allclose(fast.score(batch, desc), ref.score(batch, desc), rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="'fortran'"):
        S.MixtureScorer(engine="fortran")


def test_palette_prepared_descriptors_equal_featurize_array():
    """Screening prepares element data once per palette; the values are bitwise those of
    featurize_array on each chunk, and a palette element without data falls back per chunk."""
    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize_array

    space = S.CompositionSpace(PALETTE, 4, 10.0)
    names = ("delta", "dH_mix", "VEC", "Omega", "dchi_allen")
    assert S._palette_kernel_inputs(tuple(space.elements), names, "default") is not None
    for a, b in [(0, 37), (37, 500), (500, len(space))]:
        batch = space.decode(a, b)
        got = S._featurize(batch, names, "default", None).to_numpy()
        assert np.array_equal(got, featurize_array(batch, descriptors=list(names)), equal_nan=True)
    # La has no Allen electronegativity in the default table: no palette-level inputs, and chunks
    # without La still featurize while a chunk with La raises the usual error
    la = S.CompositionSpace(["Co", "Cr", "Fe", "La"], 2, 25.0, forbidden=())
    assert S._palette_kernel_inputs(tuple(la.elements), names, "default") is None
    X = la.decode(0, len(la)).fractions
    no_la = CompositionBatch(X[X[:, 3] == 0], tuple(la.elements))
    assert np.array_equal(S._featurize(no_la, names, "default", None).to_numpy(),
                          featurize_array(no_la, descriptors=list(names)))
    with pytest.raises(ElementDataError, match="La"):
        S._featurize(CompositionBatch(X[X[:, 3] > 0], tuple(la.elements)), names, "default", None)


# --------------------------------------------------------------------------------------------
# The fused screening kernel (core.screen_mixture_topk)
# --------------------------------------------------------------------------------------------
def _descriptor_mixture(rng, names, K, cl, sub, shift=0.0):
    """A MixtureScorer over real descriptor names with random standardization, anchors and
    posterior moments (so every descriptor group of the block kernel can be exercised)."""
    from hea_fast.features import featurize

    sc = _synthetic_scorer("cpp", K, rng, d=len(names), cl=cl, sub=sub)
    sc.descriptors = tuple(names)
    sc.name, sc.threshold = "p", None
    # centre the standardization on real values so probabilities spread over (0, 1)
    d = featurize(S.CompositionSpace(["Nb", "Ta", "Ti", "V", "Zr", "Al"], 3, 20.0).decode(0, 100),
                  descriptors=list(names))
    v = d.to_numpy()
    sc._mean = np.nanmean(np.where(np.isfinite(v), v, np.nan), axis=0) + shift
    sc._scale = np.nanstd(np.where(np.isfinite(v), v, np.nan), axis=0) + 0.1
    if sc._anchors is not None:
        sc._anchors = rng.normal(size=(K, len(cl)))
    return sc


FUSED_CASES = [
    # (palette, parts, bounds, required, forbidden)
    (["Co", "Cr", "Fe", "Mn", "Ni", "Al", "Cu", "Ti"], [(4, 10.0), (5, 5.0)], None, (), ()),
    (["Nb", "Ta", "Ti", "V", "Zr", "Hf", "Mo", "W", "Cr", "Al"], [(3, 2.0), (4, 5.0)],
     {"Al": (0.0, 0.2), "Nb": (0.1, 0.5)}, ("Ti",), ("Cr",)),
]


@pytest.mark.parametrize("case", range(len(FUSED_CASES)))
@pytest.mark.parametrize("names,K,cl,sub", [
    (("VEC", "chi_allen_mean", "dchi_allen"), 2, (0, 1, 2), (0, 1, 2)),
    (("delta", "dH_mix", "dS_mix", "Omega", "Lambda", "gamma"), 3, (0, 2), (1, 3, 4, 5)),
    (("dchi_pauling", "Tm", "K", "Vm", "local_delta_r", "local_dchi", "r_mean"), 1, (0,), (0, 2, 4, 6)),
])
def test_fused_screen_kernel_equals_the_general_path(case, names, K, cl, sub):
    """decode -> descriptors -> probit -> top-k fused in C++ gives bitwise the scores, ranks and
    passing counts of the general path, for chunks that start and end inside systems, thresholds
    that keep all / some / none, k below and above the number passing, and 1 or 2 threads."""
    palette, parts, bounds, req, forb = FUSED_CASES[case]
    space = S.CompositionSpace.from_parts(palette, parts, bounds=bounds, required=req, forbidden=forb)
    rng = np.random.default_rng(case * 10 + K)
    sc = _descriptor_mixture(rng, names, K, cl, sub)
    assert S._fused_args(space, sc, "default") is not None
    n = len(space)
    cuts = sorted({0, 1, 63, 64, 65, 1000, n // 3, n // 3 + 4097, n - 1, n})
    spans = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a] + [(0, n)]
    some = 0
    for thr in (None, 0.5, 1.5):
        sc.threshold = thr
        for a, b in spans:
            for k, threads in ((7, 2), (n, 1)):
                got = S._score_chunk(space, sc, a, b, k, sc.descriptors, "default", threads)
                ref = S._score_chunk(space, sc, a, b, k, sc.descriptors, "default", threads, fused=False)
                assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1]), (thr, a, b, k)
                assert got[2] == ref[2]
                if thr == 0.5 and 0 < got[2] < b - a:
                    some += 1
        if thr == 1.5:
            assert got[2] == 0 and len(got[0]) == 0
    assert some > 0  # the 0.5 threshold really split some chunk
    # whole space, all kept: every composition is scored once, best first, ties by rank
    sc.threshold = None
    s, r, npass = S._score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2)
    assert len(r) == npass <= n and len(np.unique(r)) == len(r)
    assert np.all((s[:-1] > s[1:]) | ((s[:-1] == s[1:]) & (r[:-1] < r[1:])))


def test_fused_screen_kernel_on_a_palette_beyond_16_elements():
    """Beyond 16 palette elements the general path computes descriptors row by row (gathered), so
    the fused kernel agrees within rounding rather than bitwise; every rank is scored once."""
    palette = ["Al", "Co", "Cr", "Cu", "Fe", "Mn", "Ni", "Ti", "V", "Zr", "Nb", "Mo", "Hf", "Ta", "W",
               "Si", "Sn", "Zn", "Mg", "Sc"]
    space = S.CompositionSpace(palette, 3, 20.0)
    sc = S.MixtureScorer()
    assert S._fused_args(space, sc, "default") is not None
    n = len(space)
    got = S._score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2)
    ref = S._score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2, fused=False)
    assert got[2] == ref[2] == n
    a, b = np.argsort(got[1]), np.argsort(ref[1])
    np.testing.assert_array_equal(got[1][a], np.arange(n))
    np.testing.assert_array_equal(ref[1][b], np.arange(n))
    np.testing.assert_allclose(got[0][a], ref[0][b], rtol=1e-12, atol=1e-14)
    res = S.screen(space, sc, top_k=20, progress=False)
    p = res.top["p_single"].to_numpy()
    assert np.all(p[:-1] >= p[1:])


def test_fused_screen_result_independent_of_chunking_and_matches_numpy():
    """screen() through the fused kernel: the same top-k for any chunk size, Dask-like out-of-order
    merging, and within rounding of the NumPy reference scorer."""
    space = S.CompositionSpace(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"], 4, 5.0)
    sc = S.MixtureScorer()
    a = S.screen(space, sc, top_k=50, chunk_size=len(space), progress=False)
    b = S.screen(space, sc, top_k=50, chunk_size=12_345, progress=False)
    pd.testing.assert_frame_equal(a.top, b.top)
    ref = S.screen(space, S.MixtureScorer(engine="numpy"), top_k=50, chunk_size=50_000, progress=False)
    np.testing.assert_allclose(a.top["p_single"], ref.top["p_single"], rtol=1e-13)
    assert a.n_passing == ref.n_passing == len(space)
    # the reported score column (recomputed on the final rows by the general path) equals the
    # fused kernel's score for each rank
    s, r, _ = S._score_chunk(space, sc, 0, len(space), 50, sc.descriptors, "default", None)
    np.testing.assert_array_equal(a.top["rank"], r)
    np.testing.assert_array_equal(a.top["p_single"], s)


def test_fused_screen_kernel_rejects_bad_arguments():
    from hea_fast._backend import core

    space = S.CompositionSpace(["Co", "Cr", "Fe", "Ni"], 3, 10.0)
    sc = S.MixtureScorer()
    args = list(S._fused_args(space, sc, "default"))
    call = lambda a=args, **kw: core.screen_mixture_topk(space._space, kw.pop("start", 0),  # noqa: E731
                                                          kw.pop("stop", len(space)), *a, **kw)
    with pytest.raises(ValueError, match=r"rank range \[0, 10000\) is outside the space of 144 compositions"):
        call(stop=10_000)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        call(k=0)
    with pytest.raises(ValueError, match="threshold is NaN"):
        call(threshold=float("nan"))
    bad = list(args)
    bad[0] = bad[0].copy()
    bad[0][1, 2] = np.nan
    with pytest.raises(ValueError, match="props: non-finite value nan at flat index 9"):
        call(bad)
    bad = list(args)
    bad[4] = np.array([3, 99], dtype=np.int32)
    with pytest.raises(ValueError, match=r"columns\[1\] = 99 is not a descriptor index"):
        call(bad)
    bad = list(args)
    bad[0] = bad[0][:3]
    with pytest.raises(ValueError, match="props: dimension 0 has size 3, expected 4"):
        call(bad)
    # only the mixture model with the C++ probit engine on a lattice space takes the fused path
    assert S._fused_args(space, S.MixtureScorer(engine="numpy"), "default") is None
    assert S._fused_args(S.ExplicitSpace(space.decode(0, 10)), sc, "default") is None
    assert S._fused_args(space, S.DescriptorScorer(lambda d: d["VEC"], descriptors=["VEC"]), "default") is None


# --------------------------------------------------------------------------------------------
# Screening on the GPU (cuda.screen_mixture_scores) and its host-emulated reference
# --------------------------------------------------------------------------------------------
def test_row_wise_scores_equal_the_fused_kernel_to_rounding():
    """core.screen_mixture_scores runs, on the host, the row functions the CUDA kernel runs
    (compute_row, predict_row with libm exp); it agrees with the vectorised fused kernel to
    rounding for every rank, including a K = 3 model reading entropy, pair and gamma descriptors."""
    from hea_fast._backend import core

    palette, parts, bounds, req, forb = FUSED_CASES[1]
    space = S.CompositionSpace.from_parts(palette, parts, bounds=bounds, required=req, forbidden=forb)
    rng = np.random.default_rng(7)
    for sc in (S.MixtureScorer(), _descriptor_mixture(rng, ("delta", "dH_mix", "dS_mix", "Omega", "Lambda", "gamma"),
                                                       3, (0, 2), (1, 3, 4, 5))):
        args = S._fused_args(space, sc, "default")
        n = len(space)
        a, b = 17, n - 5
        p = core.screen_mixture_scores(space._space, a, b, *args, threads=2, method="row")
        assert p.shape == (b - a,)
        np.testing.assert_array_equal(p, core.screen_mixture_scores(space._space, a, b, *args, threads=1, method="row"))
        # method="block" gives bitwise the scores the fused top-k ranks
        blk = core.screen_mixture_scores(space._space, a, b, *args, threads=2)
        np.testing.assert_array_equal(blk, core.screen_mixture_scores(space._space, a, b, *args, threads=1))
        s, r, n_pass = core.screen_mixture_topk(space._space, a, b, *args, k=n)
        q = np.full(b - a, np.nan)
        q[r - a] = s
        assert n_pass == len(s) == np.isfinite(blk).sum()
        np.testing.assert_array_equal(blk[r - a], s)
        # Omega = inf exactly when dH_mix == 0 and Lambda when delta == 0: where cancelling pair
        # enthalpies leave 0 in one summation order and ~1e-17 in the other, one path is NaN (never
        # kept) and the other finite; only such rows may differ in finiteness
        odd = np.flatnonzero(np.isfinite(p) != np.isfinite(q))
        assert len(odd) <= 1e-3 * len(p)
        if len(odd):  # measured: 11 of 17,720 rows, all with |dH_mix| <= 3e-16 kJ/mol
            d = featurize(space.decode(a, b)[odd], descriptors=["dH_mix", "delta"])
            assert ((np.abs(d["dH_mix"].to_numpy()) < 1e-12) | (d["delta"].to_numpy() < 1e-6)).all()
        both = np.isfinite(p) & np.isfinite(q)
        np.testing.assert_allclose(p[both], q[both], rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="1 to 16 descriptor columns"):
        bad = list(args)
        bad[4] = np.zeros(17, dtype=np.int32)
        core.screen_mixture_scores(space._space, 0, 10, *bad)
    with pytest.raises(ValueError, match="method must be 'block' or 'row', got 'fast'"):
        core.screen_mixture_scores(space._space, 0, 10, *args, method="fast")


def test_device_argument_without_a_gpu():
    from hea_fast._backend import cuda_available

    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Ta", "Mo"], 3, 10.0)
    cpu = S.screen(space, S.MixtureScorer(), top_k=10, progress=False)
    if not cuda_available():
        auto = S.screen(space, S.MixtureScorer(), top_k=10, progress=False, device="auto")
        pd.testing.assert_frame_equal(auto.top, cpu.top)
        with pytest.raises((RuntimeError, ImportError, ValueError), match="(?i)cuda"):
            S.screen(space, S.MixtureScorer(), top_k=10, progress=False, device="cuda")
    # a scorer the GPU path does not take falls back under "auto" and says so under "cuda"
    ds = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), descriptors=["VEC"])
    S.screen(space, ds, top_k=5, progress=False, device="auto")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        S.screen(space, ds, top_k=5, progress=False, device="tpu")


@pytest.mark.gpu
def test_cuda_screen_scores_match_the_host_reference():
    """Every rank's CUDA score equals the host-emulated row functions to rounding (the output
    buffer is NaN-poisoned under test, so an unwritten element fails), and screen(device='cuda')
    returns the CPU's top-k."""
    from hea_fast._backend import core

    palette, parts, bounds, req, forb = FUSED_CASES[1]
    space = S.CompositionSpace.from_parts(palette, parts, bounds=bounds, required=req, forbidden=forb)
    rng = np.random.default_rng(11)
    for sc in (S.MixtureScorer(), _descriptor_mixture(rng, ("delta", "dH_mix", "dS_mix", "Omega", "Lambda", "gamma"),
                                                       3, (0, 2), (1, 3, 4, 5))):
        n = len(space)
        gpu = S._CudaScreen(space, sc, "default")
        got = gpu.scores(3, n).cpu().numpy()
        ref = core.screen_mixture_scores(space._space, 3, n, *S._fused_args(space, sc, "default"), method="row")
        assert (np.isfinite(got) != np.isfinite(ref)).sum() <= 1e-3 * len(ref)  # dH_mix or delta 0 on one side
        both = np.isfinite(got) & np.isfinite(ref)
        assert both.sum() > 0.9 * len(ref)
        np.testing.assert_allclose(got[both], ref[both], rtol=1e-12, atol=1e-14)
    sc = S.MixtureScorer(threshold=0.6)
    cpu = S.screen(space, sc, top_k=40, chunk_size=7_777, progress=False)
    cuda = S.screen(space, sc, top_k=40, chunk_size=7_777, progress=False, device="cuda")
    assert cuda.n_passing == cpu.n_passing
    np.testing.assert_array_equal(cuda.top["rank"], cpu.top["rank"])
    np.testing.assert_allclose(cuda.top["p_single"], cpu.top["p_single"], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Scoring lattice ranks without decoding them (Scorer.lattice_columns)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["yield", "combined", "mixture"])
def test_lattice_columns_equal_the_decoded_path(which):
    """The yield (X-Yield grid kernel), the mixture (block kernel) and their Combined score lattice
    ranks directly; the kept ranks and counts equal the decode -> featurize -> score path and the
    scores agree to rounding (the mixture bitwise)."""
    space = S.CompositionSpace.from_parts(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"],
                                          [(3, 2.0), (4, 10.0)], bounds={"Al": (0.0, 0.2)})
    scorer = {"yield": S.YieldScorer(1300.0, threshold=900.0),
              "combined": S.Combined(S.YieldScorer(1300.0), require=[S.MixtureScorer(threshold=0.75)]),
              "mixture": S.MixtureScorer(method="probit")}[which]
    n = len(space)
    assert scorer.lattice_columns(space, 0, 10, "default", 1) is not None
    for a, b, k in [(0, n, 40), (13, n // 2 + 7, n)]:
        got = S._score_chunk(space, scorer, a, b, k, None, "default", 2)
        ref = S._score_chunk(space, scorer, a, b, k, scorer.needed_descriptors() or None, "default", 2, fused=False)
        assert got[2] == ref[2] and 0 < got[2] <= b - a
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-13)
    if which == "mixture":  # the fused top-k, the all-scores block kernel and the general path agree bitwise
        cols = scorer.lattice_columns(space, 0, n, "default", None)["p_single"]
        ref = S._score_chunk(space, scorer, 0, n, n, scorer.descriptors, "default", 2, fused=False)
        np.testing.assert_array_equal(cols[ref[1]], ref[0])


def test_lattice_columns_fall_back_when_element_data_is_missing():
    # Cu has no Maresca-Curtin elastic constants: no lattice path, and the decoded path names it
    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Cu"], 3, 10.0)
    ys = S.YieldScorer(1000.0)
    assert ys.lattice_columns(space, 0, 10, "default", 1) is None
    assert S.Combined(ys, require=[S.MixtureScorer(threshold=0.5)]).lattice_columns(space, 0, 10, "default", 1) is None
    with pytest.raises(ValueError, match="element 'Cu' has no Maresca-Curtin inputs"):
        S.screen(space, ys, top_k=5, progress=False)
    with pytest.raises(ValueError, match="unknown model 'three-regime'"):
        S.YieldScorer(1000.0, model="three-regime").lattice_columns(S.CompositionSpace(["Ti", "Zr", "Nb"], 2, 50.0),
                                                                    0, 1, "default", 1)
