"""Screening: streaming top-k equals a brute-force sort of the whole space; chunking, resuming and
combined scorers give exactly the same result; scorers with a lattice path equal the decoded path.
(The fused kernel: test_screen_fused.py; Dask: test_screen_dask.py; GPU: test_screen_cuda.py; the
CLI: test_screen_cli.py; the probit predictive: test_probit.py.)"""
from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.composition import CompositionBatch
from hea_fast.features import featurize
from hea_fast.mixture import SparseMixtureClassifier
from hea_fast.mixture.model import default_model_dir


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
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), order)
    np.testing.assert_array_equal(res.top["rank"].to_numpy(), np.arange(1, 26))  # position in the ranking
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


def test_probability_thresholds_outside_0_1_are_refused_before_scoring():
    space = S.CompositionSpace(PALETTE, 3, 10.0)
    model = SparseMixtureClassifier.load_default()
    for bad, needle in ((75.0, "MixtureScorer threshold 75 is outside [0, 1]: p_single is a probability"),
                        (-0.1, "outside [0, 1]"), (float("nan"), "must be finite")):
        with pytest.raises(ValueError, match=re.escape(needle)):
            S.screen(space, S.MixtureScorer(model, threshold=bad), top_k=5, progress=False)
        # a requirement of a Combined scorer is checked too
        with pytest.raises(ValueError, match="MixtureScorer threshold"):
            S.screen(space, S.Combined(S.YieldScorer(1300.0), require=[S.MixtureScorer(model, threshold=bad)]),
                     top_k=5, progress=False)
    # the ends of [0, 1] are thresholds too (and a score that is not a probability takes any finite one:
    # VEC >= 8 above)
    assert S.screen(space, S.MixtureScorer(model, threshold=0.0), top_k=5, progress=False).n_passing == len(space)
    with pytest.raises(ValueError, match=re.escape("PhaseScorer threshold 2 is outside [0, 1]")):
        S.screen(space, S.PhaseScorer(threshold=2.0), top_k=5, progress=False)


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


def test_merge_topk_shortcut_when_nothing_enters_matches_brute_force():
    """A full top-k list merged with parts whose rows all score at or below its worst (the usual
    case of a screen's later chunks, which the merge returns without re-sorting): ties at the worst
    score still enter by rank, unsorted or over-long inputs are re-ranked, n_passing is summed."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        k = int(rng.integers(1, 15))
        s0 = np.sort(rng.integers(3, 9, k).astype(float))[::-1]
        r0 = rng.choice(1000, k, replace=False)
        o = np.lexsort((r0, -s0))
        base = (s0[o], r0[o], 50) if trial % 3 else (s0, r0, 50)  # every third: maybe not in top-k order
        parts = [base]
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(0, 6))
            parts.append((rng.integers(0, int(s0.min()) + 1, n).astype(float), rng.choice(1000, n) + 1000, n))
        got = S.merge_topk(*parts, k=k)
        alls = np.concatenate([p[0] for p in parts])
        allr = np.concatenate([p[1] for p in parts])
        want = sorted(range(len(alls)), key=lambda i: (-alls[i], allr[i]))[:k]
        np.testing.assert_array_equal(got[1], allr[want])
        np.testing.assert_array_equal(got[0], alls[want])
        assert got[2] == sum(p[2] for p in parts)


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    space = S.CompositionSpace(PALETTE, 4, 10.0)
    scorer = S.DescriptorScorer(_mismatch_score, name="score", descriptors=["delta", "VEC"])
    full = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False)
    ck = tmp_path / "ck.json"
    part = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False, checkpoint=ck, max_chunks=3)
    assert part.n_scored == 180
    state = json.loads(ck.read_text())["state"]
    assert sorted(state["done"]) == [0, 1, 2]
    resumed = S.screen(space, scorer, top_k=20, chunk_size=60, progress=False, checkpoint=ck)
    pd.testing.assert_frame_equal(resumed.top, full.top)
    assert resumed.n_scored == full.n_scored and resumed.n_passing == full.n_passing
    # a checkpoint of another run is refused, not silently mixed in
    with pytest.raises(ValueError, match=r"screening checkpoint .*ck\.json belongs to a different run"):
        S.screen(space, scorer, top_k=21, chunk_size=60, progress=False, checkpoint=ck)


def test_explicit_space_and_errors():
    sp = S.ExplicitSpace(["CoCrFeMnNi", "NbMoTaW", "HfNbTaTiZr", "Al0.5CoCrFeNi"])
    res = S.screen(sp, lambda d: -d["delta"].to_numpy(), top_k=2, progress=False)
    d = featurize(["CoCrFeMnNi", "NbMoTaW", "HfNbTaTiZr", "Al0.5CoCrFeNi"])
    best = np.argsort(d["delta"].to_numpy(), kind="stable")[:2]
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), best)
    with pytest.raises(ValueError, match="top_k"):
        S.screen(sp, lambda d: d["VEC"], top_k=0, progress=False)
    with pytest.raises(ValueError, match="threshold"):
        S.screen(sp, lambda d: d["VEC"], threshold=float("nan"), progress=False)


def test_yield_scorer_combined_with_descriptor_filter():
    space = S.CompositionSpace(["Mo", "Nb", "Ta", "V", "W", "Ti"], 4, 10.0)
    ys = S.YieldScorer(1300.0)
    flt = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), name="vec", descriptors=["VEC"], threshold=5.2)
    res = S.screen(space, S.Combined(ys, require=[flt]), top_k=10, chunk_size=100, progress=False)
    from hea_fast.xyield.maresca_curtin import yield_strength

    batch = space.decode(0, len(space))
    y = np.asarray(yield_strength(batch, 1300.0)).reshape(-1)
    vec = featurize(batch)["VEC"].to_numpy()
    y = np.where(vec >= 5.2, y, -np.inf)
    order = np.lexsort((np.arange(len(y)), -y))[:10]
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), order)
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
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), order)
    np.testing.assert_array_equal(res.top["neg_delta"].to_numpy(), y[order])
    assert res.n_passing == int(ok.sum())


def test_mixture_scorer_defaults_to_the_bundled_model():
    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Ta", "Mo"], 3, 10.0)
    a = S.screen(space, S.MixtureScorer(), top_k=10, progress=False)
    b = S.screen(space, S.MixtureScorer(SparseMixtureClassifier.load(default_model_dir())), top_k=10, progress=False)
    c = S.screen(space, S.MixtureScorer(str(default_model_dir())), top_k=10, progress=False)
    pd.testing.assert_frame_equal(a.top, b.top)
    pd.testing.assert_frame_equal(a.top, c.top)
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        S.MixtureScorer("no_such_model")


# --------------------------------------------------------------------------------------------
# Scoring lattice ranks without decoding them (Scorer.lattice_columns)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["yield", "combined", "mixture", "phase_ranked", "phase_yield"])
def test_lattice_columns_equal_the_decoded_path(which):
    """The yield (X-Yield grid kernel), the mixture (block kernel), the default phase model (its
    forest in the fused kernel, told its threshold: ranked, a bound may stand for p below it; as a
    requirement, only its side of the threshold is computed) and their Combined score lattice ranks
    directly; the kept ranks and counts equal the decode -> featurize -> score path and the scores
    agree to rounding (the mixture bitwise)."""
    space = S.CompositionSpace.from_parts(["Ti", "Zr", "Hf", "V", "Nb", "Ta", "Mo", "W", "Cr", "Al"],
                                          [(3, 2.0), (4, 10.0)], bounds={"Al": (0.0, 0.2)})
    scorer = {"yield": S.YieldScorer(1300.0, threshold=900.0),
              "combined": S.Combined(S.YieldScorer(1300.0), require=[S.MixtureScorer(threshold=0.75)]),
              "mixture": S.MixtureScorer(method="probit"),
              "phase_ranked": S.Combined(S.PhaseScorer(threshold=0.7),
                                         require=[S.MixtureScorer(name="p_mixture", threshold=0.5)]),
              "phase_yield": S.Combined(S.YieldScorer(1300.0), require=[S.PhaseScorer(threshold=0.75)])}[which]
    n = len(space)
    assert scorer.lattice_columns(space, 0, 10, "default", 1) is not None
    for a, b, k in [(0, n, 40), (13, n // 2 + 7, n)]:
        got = S.score_chunk(space, scorer, a, b, k, None, "default", 2)
        ref = S.score_chunk(space, scorer, a, b, k, scorer.needed_descriptors() or None, "default", 2, fused=False)
        assert got[2] == ref[2] and 0 < got[2] <= b - a
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-13)
    if which == "mixture":  # the fused top-k, the all-scores block kernel and the general path agree bitwise
        cols = scorer.lattice_columns(space, 0, n, "default", None)["p_single"]
        ref = S.score_chunk(space, scorer, 0, n, n, scorer.descriptors, "default", 2, fused=False)
        np.testing.assert_array_equal(cols[ref[1]], ref[0])


def test_combined_refuses_two_scores_of_one_name():
    with pytest.raises(ValueError, match="'p_single' is used twice"):
        S.Combined(S.PhaseScorer(threshold=0.7), require=[S.MixtureScorer(threshold=0.5)])


def test_lattice_columns_fall_back_when_element_data_is_missing():
    # Cu has no Maresca-Curtin elastic constants: no lattice path, and the decoded path names it
    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Cu"], 3, 10.0)
    ys = S.YieldScorer(1000.0)
    assert ys.lattice_columns(space, 0, 10, "default", 1) is None
    assert S.Combined(ys, require=[S.MixtureScorer(threshold=0.5)]).lattice_columns(space, 0, 10, "default", 1) is None
    with pytest.raises(ValueError, match="element 'Cu' has no Maresca-Curtin inputs"):
        S.score_chunk(space, ys, 0, len(space), 10, ys.descriptors, "default", 1, fused=False)
    with pytest.raises(ValueError, match=r"hold: Cu \(no Maresca-Curtin inputs"):  # screen refuses it first
        S.screen(space, ys, top_k=5, progress=False)
    with pytest.raises(ValueError, match="unknown model 'three-regime'"):
        S.YieldScorer(1000.0, model="three-regime").lattice_columns(S.CompositionSpace(["Ti", "Zr", "Nb"], 2, 50.0),
                                                                    0, 1, "default", 1)


class _Counting(S.DescriptorScorer):
    """A descriptor scorer that counts the rows it scored."""

    def __init__(self, descriptors):
        super().__init__(lambda d: -d[descriptors[0]], name="neg", descriptors=descriptors)
        self.rows = 0

    def score(self, batch, desc):
        self.rows += len(batch)
        return super().score(batch, desc)


def test_screen_refuses_palettes_it_cannot_score():
    """An element (or pair) without the data a scorer needs would give every alloy holding it NaN, and
    the screen would drop them unseen ("no alloy passed"): `screen` names them before scoring
    anything, for every scorer of a Combined, and a forbidden element is not asked for."""
    from hea_fast.features import featurize

    la = S.CompositionSpace(["La", "Nb", "Mo", "Ta"], 3, 10.0)
    with pytest.raises(ValueError, match=r"hold: La is not among the phase model's elements\. .*--forbid"):
        S.screen(la, S.PhaseScorer(), top_k=3, progress=False)
    # the reason is the data featurize lacks: chi_allen of La (Allen gave no configuration energy)
    with pytest.warns(UserWarning, match="La has no chi_allen"):
        assert np.isnan(featurize(["LaNbMo"], descriptors=["chi_allen_mean"]).to_numpy()).all()
    counting = _Counting(["chi_allen_mean"])
    with pytest.raises(ValueError, match="La has no chi_allen in element table 'default'"):
        S.screen(la, counting, top_k=3, progress=False)
    assert counting.rows == 0  # refused before any chunk
    ok = _Counting(["delta"])  # La has a radius: every alloy scores
    res = S.screen(la, ok, top_k=3, progress=False)
    assert ok.rows >= len(la) and res.summary()["n_passing"] == len(la)
    # a pair without a mixing enthalpy (Se-Te) refuses dH_mix, names the pair
    with pytest.raises(ValueError, match="no mixing enthalpy for Se-Te"):
        S.screen(S.CompositionSpace(["Se", "Te", "Nb"], 2, 50.0), _Counting(["dH_mix"]), top_k=1, progress=False)
    # forbidding La screens the rest; a Combined asks every scorer (here the phase requirement)
    res = S.screen(S.CompositionSpace(["La", "Nb", "Mo", "Ta", "W"], 3, 10.0, forbidden=["La"]),
                   S.PhaseScorer(), top_k=3, progress=False)
    assert len(res.top) == 3 and not res.top["formula"].str.contains("La").any()
    comb = S.Combined(S.YieldScorer(1000.0), require=[S.PhaseScorer(threshold=0.5)])
    with pytest.raises(ValueError, match="La is not among the phase model's elements"):
        S.screen(S.CompositionSpace(["La", "Nb", "Mo", "Ta"], 3, 10.0), comb, top_k=3, progress=False)


def test_checkpoint_of_another_requirement_threshold_is_refused(tmp_path):
    """A Combined scorer's requirement thresholds decide which rows pass: a checkpoint written with
    P >= 0.5 must not be resumed with P >= 0.95 (n_passing and the top-k would mix both runs); the
    same requirement resumes to the uninterrupted result."""
    space = S.CompositionSpace(["Mo", "Nb", "Ta", "W", "V", "Ti"], 4, 10.0)

    def comb(p):
        return S.Combined(S.YieldScorer(1300.0), require=[S.MixtureScorer(threshold=p)])

    ck = tmp_path / "ck.json"
    S.screen(space, comb(0.5), top_k=10, chunk_size=100, checkpoint=ck, max_chunks=5, progress=False)
    with pytest.raises(ValueError, match=r"ck\.json belongs to a different run"):
        S.screen(space, comb(0.95), top_k=10, chunk_size=100, checkpoint=ck, progress=False)
    resumed = S.screen(space, comb(0.5), top_k=10, chunk_size=100, checkpoint=ck, progress=False)
    full = S.screen(space, comb(0.5), top_k=10, chunk_size=100, progress=False)
    pd.testing.assert_frame_equal(resumed.top, full.top)
    # the brute-force count of the requirement, over every composition
    batch = space.decode(0, len(space))
    p = comb(0.5).require[0].columns(batch, featurize(batch, descriptors=list(comb(0.5).require[0].descriptors)))
    assert resumed.n_passing == full.n_passing == int((p["p_single"] >= 0.5).sum())


def test_screen_threshold_overrides_the_ranking_scorers_own_in_a_combined():
    """screen(threshold=) sets the minimum of a Combined's ranking score: its rank_by's lattice path
    (the phase ensemble told its own, higher threshold, which lets it return any value below that)
    must not decide which rows pass. Reference: the general path (decode, every score, keep_mask)."""
    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Ta", "Mo", "W", "Hf"], 4, 10.0)

    def comb():
        return S.Combined(S.PhaseScorer(threshold=0.9), require=[S.MixtureScorer(name="p_mix", threshold=0.95)])

    res = S.screen(space, comb(), top_k=1500, threshold=0.6, chunk_size=500, progress=False,
                   include_out_of_domain=True)
    ref = comb()
    batch = space.decode(0, len(space))
    cols = ref.columns(batch, featurize(batch, descriptors=list(ref.needed_descriptors())))
    keep = (cols["p_single"] >= 0.6) & (cols["p_mix"] >= 0.95)
    idx = np.flatnonzero(keep)
    want = idx[np.lexsort((idx, -cols["p_single"][idx]))][:1500]
    assert 0 < keep.sum() < len(space) and (cols["p_single"][keep] < 0.9).sum() > 500
    assert res.n_passing == int(keep.sum())
    np.testing.assert_array_equal(res.top["lattice_index"].to_numpy(), want)


@pytest.mark.parametrize("kwargs,match", [
    (dict(top_k=2.5), "top_k must be a whole number >= 1, got 2.5"),
    (dict(top_k="5"), "top_k must be a whole number >= 1, got '5'"),
    (dict(chunk_size=2.5), "chunk_size must be a whole number >= 1, got 2.5"),
    (dict(chunk_size=-3), "chunk_size must be a whole number >= 1, got -3"),
    (dict(max_chunks=-1), "max_chunks must be a whole number >= 0, got -1"),
    (dict(merge_fan_in=0), "merge_fan_in must be a whole number >= 1, got 0"),
])
def test_bad_screen_arguments_are_refused_naming_the_value(kwargs, match):
    # max_chunks=-1 used to score every chunk but the last (todo[:-1]); the others raised bare TypeErrors
    space = S.CompositionSpace(PALETTE, 3, 10.0)
    counting = _Counting(["delta"])
    with pytest.raises(ValueError, match=re.escape(match)):
        S.screen(space, counting, progress=False, **{"chunk_size": 10, **kwargs})
    assert counting.rows == 0
    with pytest.raises(TypeError, match=r"ExplicitSpace\(\[\.\.\.\]\)"):
        S.screen(["CoCrFeMnNi", "NbMoTaW"], counting, progress=False)


def test_checkpoint_of_another_model_or_method_is_refused(tmp_path):
    """Every model scorer names its model in the checkpoint: a mixture screen checkpointed with the
    probit predictive must not resume with the Monte Carlo one (nor another Maresca-Curtin model);
    the same scorer resumes to the uninterrupted result."""
    space = S.CompositionSpace(["Mo", "Nb", "Ta", "W", "V", "Ti"], 4, 10.0)
    ck = tmp_path / "ck.json"
    S.screen(space, S.MixtureScorer(), top_k=10, chunk_size=100, checkpoint=ck, max_chunks=3, progress=False)
    with pytest.raises(ValueError, match=r"ck\.json belongs to a different run"):
        S.screen(space, S.MixtureScorer(method="mc"), top_k=10, chunk_size=100, checkpoint=ck, progress=False)
    resumed = S.screen(space, S.MixtureScorer(), top_k=10, chunk_size=100, checkpoint=ck, progress=False)
    pd.testing.assert_frame_equal(resumed.top, S.screen(space, S.MixtureScorer(), top_k=10, chunk_size=100,
                                                        progress=False).top)
    assert S.MixtureScorer().run_key() != S.MixtureScorer(method="mc").run_key()
    yk = tmp_path / "y.json"
    S.screen(space, S.YieldScorer(1300.0), top_k=5, chunk_size=100, checkpoint=yk, max_chunks=2, progress=False)
    with pytest.raises(ValueError, match=r"y\.json belongs to a different run"):
        S.screen(space, S.YieldScorer(1300.0, model="two-regime"), top_k=5, chunk_size=100, checkpoint=yk, progress=False)
    comb = S.Combined(S.PhaseScorer(threshold=0.9), require=[S.MixtureScorer(name="p_mix", threshold=0.5)])
    comb.threshold = 0.4  # one threshold: the ranking scorer's
    assert comb.rank_by.threshold == 0.4 and comb.threshold == 0.4
