"""Screening with the default phase model (`PhaseScorer`, the default of `screen`, `hea-fast screen` and
`hea-fast demo`): scores equal `PhaseModel.predict_proba`, the ranking equals a brute-force sort of
the whole space, the applicability domain is scored on the candidate pool exactly as a brute-force
domain of that pool says, default bounds are the 5-35 at.% HEA definition (brute-force counts), and
a checkpointed run resumes to the same result."""
from __future__ import annotations

import functools
import itertools
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.cli import main
from hea_fast.composition import CompositionBatch
from hea_fast.phase import load_model
from hea_fast.screen.domain import DomainPoolWarning

PALETTE = ("Al", "Co", "Cr", "Fe", "Ni", "Ti", "Nb", "Mo")


@pytest.fixture(scope="module")
def model():
    return load_model("default")


@pytest.fixture(scope="module")
def small_space():
    # 5-element alloys of 8 metals at 5 at.% steps, every element 5-35 at.%: 56 systems
    return S.hea_space(PALETTE, 5, 5.0)


@pytest.fixture(scope="module")
def brute(model, small_space):
    """p, in_domain of every composition of the small space by the library, in lattice order."""
    batch = small_space.decode()
    p = model.predict_proba(batch, return_reasons=True)[0][:, 1]
    dom = model.domain_frame(batch)
    return p, dom["in_domain"].to_numpy(bool), dom["domain_score"].to_numpy(float)


def _batch(top, elements):
    return CompositionBatch(fractions=top[[f"x_{e}" for e in elements]].to_numpy(), elements=tuple(elements))


def _expected_order(p, threshold=None):
    keep = np.isfinite(p) if threshold is None else np.isfinite(p) & (p >= threshold)
    idx = np.flatnonzero(keep)
    return idx[np.lexsort((idx, -p[idx]))]  # best first, ties by lattice index


def _count(n_el, k, units, lo, hi):
    """Number of k-element compositions of n_el elements in `units` steps, each part in [lo, hi]:
    C(n_el, k) x the k-part compositions of `units` counted by enumeration (small) or by the
    recursion over the first part (large)."""
    if units <= 30:
        count = 0
        for cuts in itertools.combinations(range(1, units), k - 1):
            parts = [b - a for a, b in zip((0, *cuts), (*cuts, units))]
            count += all(lo <= u <= hi for u in parts)
        return math.comb(n_el, k) * count

    @functools.lru_cache(maxsize=None)
    def ways(j, rest):
        if j == 0:
            return int(rest == 0)
        return sum(ways(j - 1, rest - u) for u in range(lo, min(hi, rest) + 1))

    return math.comb(n_el, k) * ways(k, units)


# ---- the default space ---------------------------------------------------------------------------------
def test_hea_space_is_every_element_5_to_35_pct_and_requires_none():
    space = S.hea_space(PALETTE, 5, 5.0)
    assert len(space) == _count(len(PALETTE), 5, 20, 1, 7)
    F = space.fractions()
    assert np.all((F == 0) | ((F >= 0.05 - 1e-12) & (F <= 0.35 + 1e-12)))
    assert ((F > 0).sum(axis=1) == 5).all()
    # min_fraction applies when an element is present: every palette element is absent somewhere
    assert ((F == 0).any(axis=0)).all()
    # the full space: 5 of the 15 usual HEA metals at 1 at.% steps within 5-35 at.%
    full = S.hea_space(S.DEFAULT_PALETTE, 5, 1.0)
    assert len(full) == 1_661_863_203 == _count(15, 5, 100, 5, 35)
    # the reference enumeration agrees with the compiled one on a bounded space
    small = S.CompositionSpace(("A", "B", "C", "D"), 3, 10.0, min_fraction=0.2, max_fraction=0.5)
    np.testing.assert_array_equal(small.fractions(), small.fractions_reference())
    assert len(small) == _count(4, 3, 10, 2, 5)
    assert S.CompositionSpace.from_spec(full.spec()).size == full.size
    with pytest.raises(ValueError, match="min_fraction"):
        S.CompositionSpace(PALETTE, 3, 5.0, min_fraction=0.5, max_fraction=0.2)


def test_cli_default_space_is_the_hea_definition(tmp_path):
    out = tmp_path / "d.parquet"
    els = "Ti,Zr,Nb,Ta,Mo,Hf"
    assert main(["screen", "--scorer", "yield", "--elements", els, "--n-elements", "4", "--step", "5",
                 "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["n_scored"] == _count(6, 4, 20, 1, 7)
    assert summary["space"]["min_fraction"] == 0.05 and summary["space"]["max_fraction"] == 0.35
    # any bound replaces the default: --max-fraction 100 is the whole simplex
    assert main(["screen", "--scorer", "yield", "--elements", els, "--n-elements", "4", "--step", "5",
                 "--max-fraction", "100", "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["n_scored"] == _count(6, 4, 20, 1, 20)
    assert main(["screen", "--scorer", "yield", "--elements", els, "--n-elements", "4", "--step", "5",
                 "--min-fraction", "10", "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["n_scored"] == _count(6, 4, 20, 2, 20)


def test_help_states_the_default_bounds_and_scorer(capsys):
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # undo the wrapping at hyphens
    assert "every element is 5-35 at.%" in text and "(default: phase)" in text
    assert "--include-out-of-domain" in text and "max(20 x --top-k, 10000)" in text


@pytest.mark.parametrize("argv, needle", [
    (["--elements", "Ti,Zr,Nb", "--n-elements", "2"], "reach at most 70 at.%"),
    (["--elements", "Ti,Zr,Nb,Ta", "--n-elements", "3", "--step", "10"], "reach at most 90 at.%"),
    (["--elements", "Ti,Zr,Nb,Ta,Mo,W", "--n-elements", "6", "--min-fraction", "20"], "hold at least 120 at.%"),
    (["--min-fraction", "40", "--max-fraction", "30"], "--min-fraction 40 is above --max-fraction 30"),
    (["--top-k", "10", "--domain-pool", "5"], "--domain-pool 5 is below --top-k 10"),
    (["--model", "mixture"], "--model mixture is not a phase model"),
    (["--threshold", "-0.5"], "outside [0, 1]"),
])
def test_impossible_requests_are_refused(tmp_path, capsys, argv, needle):
    out = tmp_path / "e.parquet"
    assert main(["screen", *argv, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


# ---- the phase scorer ------------------------------------------------------------------------------------
def test_default_scorer_is_the_phase_model(small_space):
    res = S.screen(small_space, top_k=5, progress=False, include_out_of_domain=True)
    assert res.score_name == "p_single" and res.domain is not None
    assert {"in_domain", "domain_score", "domain_reason"} <= set(res.top.columns)
    from hea_fast.commands.screen import build_scorer

    assert isinstance(build_scorer("phase"), S.PhaseScorer)
    assert type(build_scorer("mixture")).__name__ == "MixtureScorer"


def test_scores_and_ranking_equal_predict_proba_brute_force(model, small_space, brute, monkeypatch):
    """Many chunks: once the pool is full every chunk gets its worst score as a floor (and skips the
    trees of blocks below it); the ranking is still that of scoring everything."""
    p_all, _, _ = brute
    k = 40
    floors = []
    fused = S.PhaseScorer.fused_topk

    def spy(self, *a, floor=None, **kw):
        floors.append(floor)
        return fused(self, *a, floor=floor, **kw)

    monkeypatch.setattr(S.PhaseScorer, "fused_topk", spy)
    res = S.screen(small_space, S.PhaseScorer(model), top_k=k, progress=False, include_out_of_domain=True,
                   chunk_size=997, domain_pool=500)
    assert floors[0] is None and sum(f is not None for f in floors) >= len(floors) // 2
    assert res.n_scored == len(small_space) and res.n_passing == int(np.isfinite(p_all).sum())
    top = res.top
    ref = model.predict_proba(_batch(top, PALETTE))[:, 1]
    np.testing.assert_allclose(top["p_single"].to_numpy(), ref, rtol=0, atol=1e-9)
    expected = _expected_order(p_all)[:k]
    np.testing.assert_array_equal(top["lattice_index"].to_numpy(), expected)
    np.testing.assert_array_equal(top["rank"].to_numpy(), np.arange(1, k + 1))
    # a threshold keeps only what reaches it, and n_passing counts the whole space
    t = float(np.quantile(p_all[np.isfinite(p_all)], 0.9))
    res = S.screen(small_space, S.PhaseScorer(model), top_k=k, threshold=t, progress=False,
                   include_out_of_domain=True)
    assert res.n_passing == int((p_all >= t).sum()) and (res.top["p_single"] >= t).all()


def test_best_first_order_changes_only_the_order(model, small_space, monkeypatch):
    """Local screens bound the chunks of each window of BEST_FIRST_RANKS ranks first and score them
    best tile bound first, each with its tile bounds; the top rows, counts and domain summary are those
    of rank order (0: no bounds) and of windows of 3 chunks."""
    from hea_fast.screen import engine

    seen = []
    fused = S.PhaseScorer.fused_topk

    def spy(self, space, start, *a, tiles=None, **kw):
        seen.append((start, tiles))
        return fused(self, space, start, *a, tiles=tiles, **kw)

    monkeypatch.setattr(S.PhaseScorer, "fused_topk", spy)
    chunk = 997
    kw = dict(top_k=30, domain_pool=400, chunk_size=chunk, progress=False)
    assert engine.BEST_FIRST_RANKS >= len(small_space)  # the default: one window
    res = {}
    for ranks in (engine.BEST_FIRST_RANKS, 0, 3 * chunk):
        monkeypatch.setattr(engine, "BEST_FIRST_RANKS", ranks)
        seen.clear()
        res[ranks] = S.screen(small_space, S.PhaseScorer(model), **kw)
        starts = [a for a, _ in seen]
        assert sorted(starts) == list(range(0, len(small_space), chunk))
        if ranks == 0:
            assert starts == sorted(starts) and all(t is None for _, t in seen)
            continue
        assert all(t is not None and t.start == a for a, t in seen) and starts != sorted(starts)
        w = max(1, ranks // chunk)
        for i in range(0, len(seen), w):
            best = [t.best for _, t in seen[i:i + w]]
            assert best == sorted(best, reverse=True)
    ref = res[1 << 31]
    for ranks in (0, 3 * chunk):
        assert (res[ranks].n_scored, res[ranks].n_passing, res[ranks].domain) == (ref.n_scored, ref.n_passing,
                                                                                 ref.domain)
        pd.testing.assert_frame_equal(res[ranks].top, ref.top)


def test_fused_scores_equal_predict_proba_of_the_formulas_in_any_element_order(model):
    """The formulas a user copies out of a screen parse into another element order than the palette's,
    so each descriptor is summed in another order (a few ulps apart); compositions on a 10 at.% lattice
    hit training values exactly (VEC 9.0, r_mean 125 pm), i.e. tree thresholds. Their probabilities
    must still equal the screen's (the wheel smoke test's scenario: before the distilled student saw
    float32-rounded descriptors, Cr10Fe10Co40Ni40 was off by 1e-5)."""
    from hea_fast.lattice import CompositionSpace

    space = CompositionSpace(("Co", "Cr", "Fe", "Mn", "Ni", "V"), 4, 10)
    res = S.screen(space, top_k=200, progress=False, include_out_of_domain=True)
    top = res.top
    formulas = list(top["formula"])
    reordered = ["".join(re.findall(r"[A-Z][a-z]?\d+", f)[::-1]) for f in formulas]  # last element first
    for fs in (formulas, reordered):
        np.testing.assert_allclose(model.predict_proba(fs)[:, 1], top["p_single"].to_numpy(), rtol=0, atol=1e-9)


def test_lattice_columns_and_general_path_agree(model, small_space, brute):
    """The scorer's three paths (fused top-k, lattice columns, decoded chunk) give one ranking."""
    p_all, _, _ = brute
    sc = S.PhaseScorer(model)
    cols = sc.lattice_columns(small_space, 0, len(small_space), "default", None)
    np.testing.assert_allclose(cols["p_single"], p_all, rtol=0, atol=1e-9)
    for fused in (True, False):
        s, r, n = S.score_chunk(small_space, sc, 100, 2100, 25, (), "default", None, fused=fused)
        expected = 100 + _expected_order(p_all[100:2100])[:25]
        np.testing.assert_array_equal(r, expected)
        assert n == int(np.isfinite(p_all[100:2100]).sum())


def test_in_domain_ranking_and_pool_counts_equal_brute_force(model, small_space, brute):
    p_all, inside, score = brute
    order = _expected_order(p_all)
    k, pool = 30, 400
    res = S.screen(small_space, S.PhaseScorer(model), top_k=k, domain_pool=pool, progress=False)
    pool_idx = order[:pool]
    want = pool_idx[inside[pool_idx]][:k]
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), want)
    assert res.top["in_domain"].all()
    np.testing.assert_allclose(res.top["domain_score"].to_numpy(), score[want], rtol=0, atol=1e-12)
    d = res.summary()["domain"]
    assert d["pool"] == pool and d["domain_pool"] == pool
    # the domain is scored on the pool's best candidates, 2k then 4x as many each time, until k are in
    m = d["pool_examined"]
    sizes = [min(pool, 2 * k * 4 ** i) for i in range(6)]
    assert m in sizes and int(inside[pool_idx[:m]].sum()) >= k
    assert m == sizes[0] or int(inside[pool_idx[:sizes[sizes.index(m) - 1]]].sum()) < k
    assert d["pool_in_domain"] == int(inside[pool_idx[:m]].sum())
    assert d["pool_out_of_domain"] == m - d["pool_in_domain"]
    assert d["n_top_in_domain"] == len(want) and not d["include_out_of_domain"]
    # include_out_of_domain: the best k of the pool whatever their domain, flagged row by row
    res = S.screen(small_space, S.PhaseScorer(model), top_k=k, domain_pool=pool, progress=False,
                   include_out_of_domain=True)
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), order[:k])
    np.testing.assert_array_equal(res.top["in_domain"].to_numpy(), inside[order[:k]])
    # the nearest training alloy of each candidate: PhaseModel.neighbors of the decoded compositions
    nb = model.neighbors(small_space.decode()[order[:k]], k=1)
    np.testing.assert_array_equal(res.top["nearest_training_alloy"].to_numpy(), nb["neighbor1"].to_numpy())
    np.testing.assert_array_equal(res.top["nearest_single"].to_numpy(), nb["neighbor1_single"].to_numpy())
    np.testing.assert_allclose(res.top["nearest_distance"].to_numpy(), nb["neighbor1_distance"].to_numpy(),
                               rtol=0, atol=1e-12)
    assert (res.top["nearest_distance"] <= res.top["domain_score"] + 1e-12).all()  # the nearest of the k averaged
    cols = list(res.top.columns)
    assert cols[cols.index("domain_reason") + 1:cols.index("domain_reason") + 4] == [
        "nearest_training_alloy", "nearest_distance", "nearest_single"]


def _foreign_element(model):
    """An element of the model's element table, with descriptor data, that no training alloy contains
    (Hg for the bundled model)."""
    from hea_fast.elements import ElementTable

    known = set(model.domain.elements_)
    for e in ElementTable.load(model.table).symbols:
        if e in known:
            continue
        p = model.predict_proba([f"Co20Cr20Fe20Ni20{e}20"], return_reasons=True)[0][0, 1]
        if np.isfinite(p):
            return e
    pytest.fail("no element with descriptor data outside the model's training elements")


def test_out_of_domain_candidates_and_the_pool_warning(model):
    e = _foreign_element(model)
    foreign = [f"Co20Cr20Fe20Ni20{e}20", f"Nb25Mo25Ta25{e}25", f"Ti25Zr25Hf25{e}25", f"Al10Co30Cr30{e}30"]
    alloys = foreign + ["CoCrFeMnNi", "HfNbTaTiZr", "Nd20Fe40Co40"]
    ref = model.predict_frame(alloys)
    assert np.isfinite(ref["p_single"].to_numpy()[:6]).all() and np.isnan(ref["p_single"].iloc[6])
    assert not ref["in_domain"].iloc[:4].any() and ref["in_domain"].iloc[4:6].all()
    space = S.ExplicitSpace(alloys)
    with pytest.warns(DomainPoolWarning, match="only 2 of the 6 compositions"):
        res = S.screen(space, S.PhaseScorer(model), top_k=4, progress=False)
    assert sorted(res.top["formula"]) == sorted(["Cr20Mn20Fe20Co20Ni20", "Ti20Zr20Nb20Hf20Ta20"])
    d = res.domain
    assert d["pool"] == 6 and d["pool_in_domain"] == 2 and d["pool_out_of_domain"] == 4  # Nd: no p_single
    assert d["pool_holds_every_passing"] and "warning" in d
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = S.screen(space, S.PhaseScorer(model), top_k=6, progress=False, include_out_of_domain=True)
    assert len(res.top) == 6 and res.top["in_domain"].sum() == 2
    reasons = res.top.loc[~res.top["in_domain"], "domain_reason"]
    assert reasons.str.contains(e).all() and np.isinf(res.top.loc[~res.top["in_domain"], "domain_score"]).all()
    # fewer passing than top_k, every one in domain: nothing to warn about (no domain was in the way)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainPoolWarning)
        res = S.screen(S.ExplicitSpace(["CoCrFeMnNi", "HfNbTaTiZr"]), S.PhaseScorer(model), top_k=10, progress=False)
    assert len(res.top) == 2 and "warning" not in res.domain
    # a pool that misses in-domain candidates says so and suggests a larger pool
    small = S.hea_space(PALETTE, 5, 5.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = S.screen(small, S.PhaseScorer(model), top_k=5000, domain_pool=5000, progress=False)
    if res.domain["pool_in_domain"] < 5000:
        assert any(issubclass(w.category, DomainPoolWarning) and "larger" in str(w.message) for w in caught)


def test_probe_scan_gives_the_whole_pools_result(model, tmp_path, monkeypatch):
    """A screen with a domain first scans for the pool's best 2 top_k only (the domain's first batch);
    when those settle the result (top_k in domain, include_out_of_domain, or every passing composition
    held) it is the whole pool's, else the whole pool is scanned. On binaries (out of domain: fewer
    than 3 elements) and ternaries of 8 refractory metals, where the best candidates are mostly
    binaries, both branches run; every result, top rows and summary, equals a screen without the
    probe (a checkpointed one) and the brute-force rule on the library's p and domain."""
    import hea_fast.screen.engine as E

    els = ["Nb", "Ta", "Mo", "W", "V", "Ti", "Cr", "Zr"]
    formulas = [f for n in (2, 3) for f in S.CompositionSpace(els, n, 10.0).decode().formulas()]
    space = S.ExplicitSpace(formulas)
    ref = model.predict_frame(formulas)
    p, inside = ref["p_single"].to_numpy(float), ref["in_domain"].to_numpy(bool)
    calls = []
    real = E.select_in_domain

    def spy(*a, **kw):
        out = real(*a, **kw)
        calls.append(kw.get("settled_only", False) and out is None)
        return out

    monkeypatch.setattr(E, "select_in_domain", spy)
    pool = 400
    branches = set()
    seventh = float(np.sort(p[np.isfinite(p)])[-7])  # 7 pass it: the probe of top_k = 4 holds them all
    for k, threshold, every in ((5, None, False), (30, None, False), (30, None, True), (4, seventh, False)):
        calls.clear()
        kw = dict(top_k=k, domain_pool=pool, threshold=threshold, include_out_of_domain=every, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainPoolWarning)
            res = S.screen(space, S.PhaseScorer(model), **kw)
            n_calls = len(calls)
            full = S.screen(space, S.PhaseScorer(model), checkpoint=tmp_path / f"ck{k}{every}.json", **kw)
        pd.testing.assert_frame_equal(res.top, full.top)
        assert (res.n_passing, res.n_scored, res.domain) == (full.n_passing, full.n_scored, full.domain)
        order = _expected_order(p, threshold)
        cand = order[:pool]
        want = cand[:k] if every else cand[inside[cand]][:k]
        np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), want)
        assert res.domain["pool"] == min(pool, len(order))
        # which branch ran: the probe alone, or the probe and then the whole pool (both happen here)
        rescanned = calls[0]
        branches.add(rescanned)
        assert rescanned == (not every and len(order) > 2 * k and int(inside[order[:2 * k]].sum()) < k)
        assert n_calls == 1 + rescanned and calls[n_calls:] == [False]  # the checkpointed screen: no probe
    assert (p >= seventh).sum() == 7 and branches == {True, False}


def test_a_rescan_after_the_probe_reuses_the_chunk_bounds(model, monkeypatch, tmp_path):
    """Binaries are all out of the domain, so the probe scan never settles and the whole pool is
    scanned again: each chunk is bounded once for both scans (a bounding pass is most of a huge
    screen), with the same result as a checkpointed screen, which does not probe."""
    space = S.CompositionSpace(["Nb", "Ta", "Mo", "W", "V", "Ti"], 2, 1.0)
    calls = []
    real = S.PhaseScorer.fused_bounds

    def spy(self, space_, start, stop, *a):
        if stop > start:
            calls.append(start)
        return real(self, space_, start, stop, *a)

    monkeypatch.setattr(S.PhaseScorer, "fused_bounds", spy)
    kw = dict(top_k=20, domain_pool=400, chunk_size=300, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainPoolWarning)
        res = S.screen(space, S.PhaseScorer(model), **kw)
        n_chunks = -(-len(space) // kw["chunk_size"])
        assert sorted(calls) == [300 * c for c in range(n_chunks)] and n_chunks > 1
        assert res.domain["pool_examined"] > 2 * kw["top_k"]  # the probe did not settle it
        full = S.screen(space, S.PhaseScorer(model), checkpoint=tmp_path / "ck.json", **kw)
    pd.testing.assert_frame_equal(res.top, full.top)
    assert res.domain == full.domain and res.n_passing == full.n_passing


def test_checkpoint_resume_gives_the_same_result(model, small_space, tmp_path):
    kw = dict(top_k=25, domain_pool=300, chunk_size=700, progress=False)
    full = S.screen(small_space, S.PhaseScorer(model), **kw)
    ck = tmp_path / "ck.json"
    part = S.screen(small_space, S.PhaseScorer(model), checkpoint=ck, max_chunks=3, **kw)
    assert part.n_scored == 3 * 700 < full.n_scored
    assert len(json.loads(ck.read_text())["state"]["ranks"]) == 300  # the pool goes through the checkpoint
    resumed = S.screen(small_space, S.PhaseScorer(model), checkpoint=ck, **kw)
    assert resumed.n_scored == full.n_scored and resumed.n_passing == full.n_passing
    pd.testing.assert_frame_equal(resumed.top, full.top)
    assert resumed.domain == full.domain
    # the pool is part of the run: another pool size is another run, refused naming the file
    from hea_fast._io import CheckpointError

    with pytest.raises(CheckpointError, match="ck.json"):
        S.screen(small_space, S.PhaseScorer(model), checkpoint=ck, **{**kw, "domain_pool": 400})
    # so is another model (its parameters are fingerprinted)
    import dataclasses

    other = type(model)(dataclasses.replace(model.params, cal_b=model.params.cal_b + 0.1), model.domain,
                        model.metadata, table=model.table)
    with pytest.raises(CheckpointError, match="ck.json"):
        S.screen(small_space, S.PhaseScorer(other), checkpoint=ck, **kw)


def test_a_library_checkpoint_resumes_with_the_cli(model, tmp_path):
    """scripts/screen_phase_full.py checkpoints through the library; `hea-fast screen` with the same
    space, chunk size and top-k resumes it (the same run fingerprint) to the uninterrupted result."""
    ck = tmp_path / "ck.json"
    part = S.screen(S.hea_space(PALETTE, 5, 5.0), S.PhaseScorer(), top_k=20, chunk_size=900, checkpoint=ck,
                    max_chunks=2, progress=False)
    assert part.n_scored == 1800
    argv = ["screen", "--elements", ",".join(PALETTE), "--top-k", "20", "--chunk-size", "900", "--no-progress"]
    assert main([*argv, "--checkpoint", str(ck), "-o", str(tmp_path / "a.parquet")]) == 0
    assert main([*argv, "-o", str(tmp_path / "b.parquet")]) == 0
    a, b = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert a["n_scored"] == b["n_scored"] == len(S.hea_space(PALETTE, 5, 5.0)) and a["domain"] == b["domain"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))


def test_cli_screen_phase_writes_domain_columns_and_summary(tmp_path, capsys, model):
    out = tmp_path / "p.parquet"
    assert main(["screen", "--elements", ",".join(PALETTE), "--top-k", "12", "--domain-pool", "200", "-o", str(out),
                 "--no-progress"]) == 0
    top = pd.read_parquet(out)
    summary = json.loads(out.with_suffix(".json").read_text())
    stdout = capsys.readouterr().out
    assert summary["score"] == "p_single" and summary["domain"]["pool"] == 200
    assert top["in_domain"].all() and len(top) == 12
    np.testing.assert_allclose(top["p_single"], model.predict_proba(_batch(top, PALETTE))[:, 1], rtol=0, atol=1e-9)
    m = summary["domain"]["pool_examined"]
    assert 24 <= m <= 200 and f"applicability domain, scored on the best {m} of the 200-candidate pool" in stdout
    F = top[[f"x_{e}" for e in PALETTE]].to_numpy()
    assert np.all((F == 0) | ((F >= 0.05 - 1e-12) & (F <= 0.35 + 1e-12)))


def test_demo_prints_the_sanity_table_and_in_domain_hea_candidates(tmp_path, capsys, monkeypatch):
    from hea_fast.commands import screen as cmd

    table = cmd.sanity_table()
    assert list(table["formula"]) == [f for f, _ in cmd.SANITY]
    assert table["p_single"].between(0, 1).all()
    from hea_fast.phase import load_model

    formulas = [f for f, _ in cmd.SANITY]
    np.testing.assert_array_equal(table["p_fast"], load_model("fast").predict_frame(formulas, memory=True)["p_single"])
    # known alloys: p_single blends the model with the records shown, p_model is the model alone
    ref = load_model("default").predict_frame(formulas)["p_single"].to_numpy()
    np.testing.assert_array_equal(table["p_model"], ref)
    k, n = (np.array([int(x) for x in col]) for col in zip(*table["records"].str.split("/")))
    w = n / (n + 3.0)
    np.testing.assert_allclose(table["p_single"], (1 - w) * ref + w * k / n, rtol=0, atol=1e-15)
    # a cheap demo: the same command on a 6-element palette
    monkeypatch.setattr(cmd, "DEFAULT_PALETTE", ("Co", "Cr", "Fe", "Mn", "Ni", "Al"))
    assert main(["demo", "--out", str(tmp_path), "--top-k", "10", "--no-progress"]) == 0
    out = capsys.readouterr().out
    for f, label in cmd.SANITY:
        assert f in out
    assert "sources_single" in out and list(table["sources_single"]) == [
        "{}/{}".format(*cmd.SANITY_SOURCES[f]) for f, _ in cmd.SANITY]
    top = pd.read_parquet(tmp_path / "screen_top.parquet")
    assert top["in_domain"].all()
    F = top[[c for c in top.columns if c.startswith("x_")]].to_numpy()
    assert np.all((F == 0) | ((F >= 0.05 - 1e-12) & (F <= 0.35 + 1e-12)))


def test_sanity_table_source_votes_are_the_harmonised_labels(shared_data):
    """`SANITY_SOURCES` (printed by the demo) equals, for every sanity alloy, the number of shared phase
    datasets whose harmonised label at that composition is single phase, of those that report it."""
    from hea_fast.commands import screen as cmd
    from hea_fast.composition import as_batch
    from hea_fast.validation.data import composition_keys, harmonised_phase_data

    data = harmonised_phase_data(keep_ambiguous=True)
    assert set(cmd.SANITY_SOURCES) == {f for f, _ in cmd.SANITY}
    for f, _ in cmd.SANITY:
        b = as_batch([f])
        key = composition_keys(np.asarray(b.fractions), b.elements)[0]
        labels = data.loc[data["key"] == key, "single_phase"].to_numpy(float)
        assert (int(np.sum(labels == 1)), int(labels.size)) == cmd.SANITY_SOURCES[f], f
