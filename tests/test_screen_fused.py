"""The fused screening kernels (`core.screen_mixture_topk`, `core.screen_mixture_scores`): decode ->
the model's descriptors -> probit -> top-k in one C++ pass equals the general path bitwise; element
data prepared once per palette equals featurize_array; the row-wise host form of the CUDA kernel
equals the block form to rounding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.composition import CompositionBatch
from hea_fast.features import featurize
from hea_fast.mixture.probit import ProbitModel
from hea_fast.screen import palette
from hea_fast.screen.spaces import native_lattice

PALETTE = ["Co", "Cr", "Fe", "Mn", "Ni", "Al"]


def test_palette_prepared_descriptors_equal_featurize_array():
    """Screening prepares element data once per palette; the values are bitwise those of
    featurize_array on each chunk, and a palette element without data falls back per chunk."""
    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize_array

    space = S.CompositionSpace(PALETTE, 4, 10.0)
    names = ("delta", "dH_mix", "VEC", "Omega", "dchi_allen")
    assert palette.descriptor_inputs(tuple(space.elements), names, "default") is not None
    for a, b in [(0, 37), (37, 500), (500, len(space))]:
        batch = space.decode(a, b)
        got = palette.featurize_chunk(batch, names, "default", None).to_numpy()
        assert np.array_equal(got, featurize_array(batch, descriptors=list(names)), equal_nan=True)
    # La has no Allen electronegativity in the default table: no palette-level inputs, and chunks
    # without La still featurize while a chunk with La raises the usual error
    la = S.CompositionSpace(["Co", "Cr", "Fe", "La"], 2, 25.0, forbidden=())
    assert palette.descriptor_inputs(tuple(la.elements), names, "default") is None
    X = la.decode(0, len(la)).fractions
    no_la = CompositionBatch(X[X[:, 3] == 0], tuple(la.elements))
    assert np.array_equal(palette.featurize_chunk(no_la, names, "default", None).to_numpy(),
                          featurize_array(no_la, descriptors=list(names)))
    with pytest.raises(ElementDataError, match="La"):
        palette.featurize_chunk(CompositionBatch(X[X[:, 3] > 0], tuple(la.elements)), names, "default", None)


def _descriptor_mixture(rng, names, K, cl, sub):
    """A MixtureScorer over real descriptor names with random anchors and posterior moments and the
    standardization centred on real values (so every descriptor group of the block kernel can be
    exercised and probabilities spread over (0, 1))."""
    sample = featurize(S.CompositionSpace(["Nb", "Ta", "Ti", "V", "Zr", "Al"], 3, 20.0).decode(0, 100),
                       descriptors=list(names))
    return S.MixtureScorer.from_probit(names, ProbitModel.random(rng, K, len(names), cl, sub, X=sample), name="p")


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
    assert sc.fused_args(space, "default") is not None
    n = len(space)
    cuts = sorted({0, 1, 63, 64, 65, 1000, n // 3, n // 3 + 4097, n - 1, n})
    spans = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a] + [(0, n)]
    some = 0
    for thr in (None, 0.5, 1.5):
        sc.threshold = thr
        for a, b in spans:
            for k, threads in ((7, 2), (n, 1)):
                got = S.score_chunk(space, sc, a, b, k, sc.descriptors, "default", threads)
                ref = S.score_chunk(space, sc, a, b, k, sc.descriptors, "default", threads, fused=False)
                assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1]), (thr, a, b, k)
                assert got[2] == ref[2]
                if thr == 0.5 and 0 < got[2] < b - a:
                    some += 1
        if thr == 1.5:
            assert got[2] == 0 and len(got[0]) == 0
    assert some > 0  # the 0.5 threshold really split some chunk
    # whole space, all kept: every composition is scored once, best first, ties by rank
    sc.threshold = None
    s, r, npass = S.score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2)
    assert len(r) == npass <= n and len(np.unique(r)) == len(r)
    assert np.all((s[:-1] > s[1:]) | ((s[:-1] == s[1:]) & (r[:-1] < r[1:])))


def test_fused_screen_kernel_on_a_palette_beyond_16_elements():
    """Beyond 16 palette elements the general path computes descriptors row by row (gathered), so
    the fused kernel agrees within rounding rather than bitwise; every rank is scored once."""
    palette = ["Al", "Co", "Cr", "Cu", "Fe", "Mn", "Ni", "Ti", "V", "Zr", "Nb", "Mo", "Hf", "Ta", "W",
               "Si", "Sn", "Zn", "Mg", "Sc"]
    space = S.CompositionSpace(palette, 3, 20.0)
    sc = S.MixtureScorer()
    assert sc.fused_args(space, "default") is not None
    n = len(space)
    got = S.score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2)
    ref = S.score_chunk(space, sc, 0, n, n, sc.descriptors, "default", 2, fused=False)
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
    s, r, _ = S.score_chunk(space, sc, 0, len(space), 50, sc.descriptors, "default", None)
    np.testing.assert_array_equal(a.top["lattice_index"], r)
    np.testing.assert_array_equal(a.top["p_single"], s)


def test_fused_screen_kernel_rejects_bad_arguments():
    from hea_fast._backend import core

    space = S.CompositionSpace(["Co", "Cr", "Fe", "Ni"], 3, 10.0)
    sc = S.MixtureScorer()
    args = list(sc.fused_args(space, "default"))
    call = lambda a=args, **kw: core.screen_mixture_topk(native_lattice(space), kw.pop("start", 0),  # noqa: E731
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
    explicit = S.ExplicitSpace(space.decode(0, 10))
    assert S.MixtureScorer(engine="numpy").fused_args(space, "default") is None
    assert sc.fused_args(explicit, "default") is None
    for scorer, sp in [(S.MixtureScorer(engine="numpy"), space), (sc, explicit),
                       (S.DescriptorScorer(lambda d: d["VEC"], descriptors=["VEC"]), space)]:
        assert scorer.fused_topk(sp, 0, 10, 5, "default", 1) is None
        assert scorer.lattice_columns(sp, 0, 10, "default", 1) is None
        assert scorer.cuda_screen(sp, "default") is None


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
        args = sc.fused_args(space, "default")
        n = len(space)
        a, b = 17, n - 5
        p = core.screen_mixture_scores(native_lattice(space), a, b, *args, threads=2, method="row")
        assert p.shape == (b - a,)
        np.testing.assert_array_equal(p, core.screen_mixture_scores(native_lattice(space), a, b, *args, threads=1, method="row"))
        # method="block" gives bitwise the scores the fused top-k ranks
        blk = core.screen_mixture_scores(native_lattice(space), a, b, *args, threads=2)
        np.testing.assert_array_equal(blk, core.screen_mixture_scores(native_lattice(space), a, b, *args, threads=1))
        s, r, n_pass = core.screen_mixture_topk(native_lattice(space), a, b, *args, k=n)
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
        core.screen_mixture_scores(native_lattice(space), 0, 10, *bad)
    with pytest.raises(ValueError, match="method must be 'block' or 'row', got 'fast'"):
        core.screen_mixture_scores(native_lattice(space), 0, 10, *args, method="fast")
