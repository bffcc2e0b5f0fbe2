"""Simplex-lattice composition spaces (hea_fast.lattice, csrc/cpu/lattice_cpu.cpp).

References: closed-form counts C(n, k)·C(N−1, k−1), brute-force enumeration with itertools for
small palettes (order, membership, bounds, required/forbidden), and rank/unrank round trips."""
from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_fast.lattice import CompositionSpace

PAL10 = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
PAL11 = ("Al", "Cr", "Fe", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
XY_PARTS = [(3, 1), (4, 1), (5, 5), (6, 5), (7, 5)]


def brute(elements, parts, bounds=None, required=(), forbidden=()):
    """Every point in rank order, by itertools: parts in order, subsets lexicographic, units lexicographic."""
    bounds = bounds or {}
    rows = []
    E = len(elements)
    for k, step in parts:
        N = round(100 / step)
        for sub in itertools.combinations(range(E), k):
            names = {elements[i] for i in sub}
            if not set(required) <= names or names & set(forbidden):
                continue
            if any(b[0] > 0 and e not in names for e, b in bounds.items()):
                continue
            for u in itertools.product(range(1, N + 1), repeat=k):
                if sum(u) != N:
                    continue
                ok = all(bounds.get(elements[i], (0, 1))[0] - 1e-12 <= uj / N <= bounds.get(elements[i], (0, 1))[1] + 1e-12
                         for i, uj in zip(sub, u))
                if ok:
                    row = np.zeros(E)
                    row[list(sub)] = np.array(u) / N
                    rows.append(row)
    return np.array(rows).reshape(-1, E)


def test_xyield_grid_counts_exact():
    s10 = CompositionSpace.from_parts(PAL10, XY_PARTS)
    s11 = CompositionSpace.from_parts(PAL11, XY_PARTS)
    assert len(s10) == 40_194_882 and len(s10) * 23 == 924_482_286
    assert len(s11) == 68_676_993 and len(s11) * 23 == 1_579_570_839
    # independent closed form
    for pal, space in ((10, s10), (11, s11)):
        closed = sum(math.comb(pal, k) * math.comb(round(100 / st_) - 1, k - 1) for k, st_ in XY_PARTS)
        assert len(space) == closed
    assert s10.n_systems == sum(math.comb(10, k) for k, _ in XY_PARTS)
    assert s10.system_offsets[-1] == len(s10)


@pytest.mark.parametrize(
    "parts,kw",
    [
        ([(2, 10), (3, 20), (4, 25)], {}),
        ([(3, 10)], {"bounds": {"B": (0.2, 0.5), "D": (0.0, 0.3)}}),
        ([(2, 10), (3, 10)], {"required": ["C"], "forbidden": ["E"]}),
        ([(3, 5)], {"bounds": {"A": (0.1, 0.6)}, "forbidden": ["B"]}),  # lo > 0 makes A required
        ([(1, 50), (5, 10)], {}),
    ],
)
def test_matches_brute_force(parts, kw):
    els = ("A", "B", "C", "D", "E")
    space = CompositionSpace.from_parts(els, parts, **kw)
    ref = brute(els, parts, **kw)
    assert len(space) == len(ref)
    got = space.fractions()
    np.testing.assert_allclose(got, ref, atol=1e-15)  # same points in the same (rank) order
    # the package's pure-Python reference decoder is this enumeration too, also on a sub-range
    np.testing.assert_array_equal(space.fractions_reference(), ref)
    np.testing.assert_allclose(space.fractions_reference(3, len(ref) - 2), got[3:-2], atol=1e-15)
    assert np.array_equal(space.rank(ref), np.arange(len(ref)))
    # chunked and random-access decoding agree with the full decode
    parts_ = [space.fractions(a, b) for a, b in space.chunks(7)]
    np.testing.assert_array_equal(np.concatenate(parts_), got)
    perm = np.random.default_rng(0).permutation(len(ref))
    np.testing.assert_array_equal(space.fractions_at(perm), got[perm])
    # sparse form
    idx, fr = space.sparse()
    dense = np.zeros_like(got)
    for i in range(len(got)):
        m = idx[i] >= 0
        dense[i, idx[i, m]] = fr[i, m]
    np.testing.assert_array_equal(dense, got)


def test_systems_and_system_of():
    els = ("A", "B", "C", "D")
    space = CompositionSpace(els, [2, 3], 25)
    assert space.systems() == [tuple(c) for k in (2, 3) for c in itertools.combinations(els, k)]
    r = np.arange(len(space))
    sys_ = space.system_of(r)
    fr = space.fractions()
    for s, members in enumerate(space.systems()):
        cols = [els.index(e) for e in members]
        rows = fr[sys_ == s]
        assert (rows[:, cols] > 0).all() and np.allclose(rows.sum(1), 1)
        assert len(rows) == math.comb(100 // 25 - 1, len(members) - 1)
    tab = space.system_table()
    assert tab["count"].sum() == len(space)


def test_rank_non_members():
    space = CompositionSpace(("A", "B", "C", "D"), 3, 10)
    assert space.rank(np.array([[0.25, 0.25, 0.5, 0.0]]))[0] == -1  # not on the 10 % grid
    assert space.rank(np.array([[0.5, 0.5, 0.0, 0.0]]))[0] == -1  # 2 elements, part is 3
    real = CompositionSpace(("Cr", "Mo", "Nb", "W"), 3, 10)
    assert real.rank(["Cr20Mo30Nb50", "Cr20Mo30Zr50"]).tolist()[1] == -1  # element outside palette
    assert "Cr20Mo30Nb50" in real and "Cr25Mo25Nb50" not in real


def test_threads_do_not_change_results():
    space = CompositionSpace.from_parts(PAL10, [(4, 5), (5, 10)])
    a = space.fractions(threads=1)
    b = space.fractions(threads=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(space.rank(a, threads=1), space.rank(a, threads=3))


def test_pickle_and_spec_roundtrip():
    space = CompositionSpace(PAL10, range(3, 5), {3: 10, 4: 20}, bounds={"Al": (0, 0.2)}, required=["Nb"],
                             forbidden=["W"])
    clone = pickle.loads(pickle.dumps(space))
    assert len(clone) == len(space) and clone.spec() == space.spec()
    np.testing.assert_array_equal(clone.fractions(0, 100), space.fractions(0, 100))
    assert CompositionSpace.from_spec(space.spec()).size == space.size


def test_sample_ranks_seeded_and_distinct():
    space = CompositionSpace.from_parts(PAL10, XY_PARTS)
    a, b = space.sample_ranks(1000, seed=3), space.sample_ranks(1000, seed=3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 1000
    assert not np.array_equal(a, space.sample_ranks(1000, seed=4))
    assert a.min() >= 0 and a.max() < len(space)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(elements=("A", "B"), n_elements=2, step_percent=3), "divide 100"),
        (dict(elements=("A", "A"), n_elements=2, step_percent=10), "duplicate"),
        (dict(elements=("A", "B"), n_elements=2, step_percent=10, bounds={"A": (0.5, 0.2)}), "lo <= hi"),
        (dict(elements=("A", "B"), n_elements=2, step_percent=10, bounds={"Z": (0, 1)}), "not in the palette"),
        (dict(elements=("A", "B"), n_elements=2, step_percent=10, required=["A"], forbidden=["A"]), "forbidden"),
        (dict(elements=("A", "B"), n_elements=3, step_percent=50), "cannot all be present"),
        (dict(elements=("A", "B"), n_elements=0, step_percent=10), "n_elements"),
        (dict(elements=("A", "B"), n_elements=2, step_percent=-5), "positive"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CompositionSpace(**kwargs)


def test_overflow_and_range_errors():
    pal = tuple(f"X{i}" for i in range(20))
    with pytest.raises(ValueError, match="too large"):
        CompositionSpace(pal, 16, 0.001)
    space = CompositionSpace(("A", "B", "C"), 2, 10)
    with pytest.raises(ValueError, match="outside"):
        space.fractions(0, len(space) + 1)
    with pytest.raises(ValueError, match="outside"):
        space.fractions_at([len(space)])


@settings(max_examples=40, deadline=None)
@given(
    n_pal=st.integers(2, 7),
    k=st.integers(1, 4),
    N=st.sampled_from([4, 5, 10, 20]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_unrank_rank_roundtrip(n_pal, k, N, seed):
    k = min(k, n_pal, N)
    els = tuple(f"E{i}" for i in range(n_pal))
    space = CompositionSpace(els, k, 100 / N)
    assert len(space) == math.comb(n_pal, k) * math.comb(N - 1, k - 1)
    ranks = np.random.default_rng(seed).integers(0, len(space), size=min(50, len(space)))
    fr = space.fractions_at(ranks)
    np.testing.assert_allclose(fr.sum(1), 1.0, atol=1e-12)
    assert ((fr > 0).sum(1) == k).all()
    assert np.allclose(np.round(fr * N), fr * N)
    np.testing.assert_array_equal(space.rank(fr), ranks)
    # successor order: consecutive ranks are lexicographically increasing within a system
    seq = space.fractions(0, min(len(space), 200))
    sysi = space.system_of(np.arange(len(seq)))
    for i in range(1, len(seq)):
        if sysi[i] == sysi[i - 1]:
            a, b = seq[i - 1][seq[i - 1] > 0], seq[i][seq[i] > 0]
            assert tuple(a) < tuple(b)


def test_too_many_systems_is_refused():
    pal = tuple(f"X{i}" for i in range(60))
    with pytest.raises(ValueError, match="subsets"):
        CompositionSpace(pal, 12, 5)  # C(60, 12) ~ 1.4e12 systems


@pytest.mark.gpu
def test_cuda_decode_matches_cpu():
    import torch

    space = CompositionSpace.from_parts(PAL10, [(3, 1), (5, 5)], bounds={"Al": (0, 0.3)})
    np.testing.assert_array_equal(space.fractions(1000, 60000, device="cuda").cpu().numpy(), space.fractions(1000, 60000))
    r = space.sample_ranks(5000, seed=1)
    np.testing.assert_array_equal(space.fractions_at(r, device="cuda").cpu().numpy(), space.fractions_at(r))
    assert torch.cuda.is_available()


def test_decode_to_composition_batch():
    space = CompositionSpace(("Cr", "Mo", "Nb", "W"), [3, 4], {3: 10, 4: 25})
    batch = space.decode(5, 40)
    assert len(batch) == 35
    np.testing.assert_array_equal(space.rank(batch), np.arange(5, 40))


@pytest.mark.parametrize("fmin,fmax", [(0.0, 0.4), (0.1, 1.0), (0.1, 0.4)])
def test_a_bound_that_lifts_the_global_range_survives_spec_and_pickle(fmin, fmax):
    """A per-element bound (0, 1) with min_fraction / max_fraction lifts the range for that element:
    the space equals the brute-force enumeration, and its spec (the checkpoint fingerprint, the
    summary) and pickle (how Dask workers get it) rebuild that space, not the one without the bound."""
    els = ("A", "B", "C", "D", "E")
    parts = [(2, 10), (3, 10)]
    space = CompositionSpace.from_parts(els, parts, bounds={"B": (0.0, 1.0)}, min_fraction=fmin, max_fraction=fmax)
    # the global range as per-element bounds, B free; a global lower bound requires no element, so the
    # brute force takes it by filtering (brute() would make lo > 0 required)
    ref = brute(els, parts, bounds={e: (0.0, 1.0 if e == "B" else fmax) for e in els})
    present = ref[:, [0, 2, 3, 4]]
    ref = ref[((present == 0) | (present >= fmin - 1e-12)).all(axis=1)]
    assert len(space) == len(ref) and len(ref) > 0
    np.testing.assert_allclose(space.fractions(), ref, atol=1e-15)
    for other in (CompositionSpace.from_spec(space.spec()), pickle.loads(pickle.dumps(space))):
        assert len(other) == len(ref)
        np.testing.assert_array_equal(other.fractions(), space.fractions())
    assert space.spec()["bounds"] == {"B": [0.0, 1.0]}
    # without a global range a (0, 1) bound changes nothing and stays out of the spec (older fingerprints hold)
    assert CompositionSpace(els, 3, 10, bounds={"B": (0.0, 1.0)}).spec() == CompositionSpace(els, 3, 10).spec()


def test_parts_sharing_compositions_are_refused():
    """The same number of elements twice (or at steps whose lattices share points) would list every
    shared composition twice, and a screen would report it twice: refused. Same-k parts whose
    lattices share no point are kept and equal the brute-force enumeration without duplicates."""
    els = ("A", "B", "C", "D")
    with pytest.raises(ValueError, match=r"parts \(3, 10%\) and \(3, 10%\) share compositions"):
        CompositionSpace(els, [3, 3], 10)
    with pytest.raises(ValueError, match=r"parts \(3, 10%\) and \(3, 20%\) share compositions .* 20 at\.% steps"):
        CompositionSpace.from_parts(els, [(3, 10), (3, 20)])
    with pytest.raises(ValueError, match="share compositions"):
        CompositionSpace.from_parts(els, [(2, 12.5), (2, 25)])  # gcd(8, 4) = 4 >= 2
    space = CompositionSpace.from_parts(els, [(2, 25), (2, 100 / 3)])  # N = 4 and 3: no common 2-part point
    ref = brute(els, [(2, 25), (2, 100 / 3)])
    assert len(space) == len(ref) == len(np.unique(np.round(ref, 12), axis=0))
    np.testing.assert_array_equal(space.rank(ref), np.arange(len(ref)))


@pytest.mark.parametrize("kwargs,match", [
    (dict(elements="TiZrNb", n_elements=2, step_percent=10), "got the string 'TiZrNb'"),
    (dict(elements=("A", "B"), n_elements=2.5, step_percent=10), "n_elements must be a whole number .* 2.5"),
    (dict(elements=("A", "B", "C"), n_elements="23", step_percent=10), "n_elements must be a whole number .* '23'"),
])
def test_palette_and_n_elements_of_the_wrong_kind_are_refused(kwargs, match):
    # a string palette used to become one element per letter, n_elements "23" the parts 2 and 3
    with pytest.raises(ValueError, match=match):
        CompositionSpace(**kwargs)
