"""Descriptor kernel vs its float64 NumPy reference, closed forms, invariances, the d-VAE paper's
features, matminer parity, bad input, the scikit-learn transformer, the CLI and CUDA parity."""
from __future__ import annotations

import types
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_fast._backend import core
from hea_fast.elements import GAS_CONSTANT, PROPERTIES, ElementDataError, ElementTable
from hea_fast.features import (
    DESCRIPTORS,
    DescriptorTransformer,
    featurize,
    featurize_array,
    featurize_reference,
    list_descriptors,
)

NAMES = [d.name for d in DESCRIPTORS]
IDX = {n: i for i, n in enumerate(NAMES)}


def batch(X, elements):
    """Minimal batch object (fractions + elements), independent of the composition parser."""
    return types.SimpleNamespace(fractions=np.asarray(X, dtype=float), elements=tuple(elements))


def default_table_with(values=None, drop_pair=None, name="custom"):
    """The default element table with some property values set ({(element, property): value}) and
    one pair enthalpy dropped: an independent way to build the tables the tests compare against."""
    t = ElementTable.load("default")
    props = t.properties.copy()
    for (el, prop), v in (values or {}).items():
        props.loc[el, prop] = v
    pairs = [(a, b, h) for a, b, h in ((*sorted(k), v) for k, v in t.pairs.items())
             if drop_pair is None or {a, b} != set(drop_pair)]
    return ElementTable.from_frames(name, props, pd.DataFrame(pairs, columns=["el1", "el2", "dH_kJmol"]),
                                    gas_constant=t.gas_constant, log_offset=t.log_offset)


def random_problem(rng, n, E, zero_frac=0.3):
    X = rng.dirichlet(np.full(E, 0.7), size=n)
    X[rng.random((n, E)) < zero_frac] = 0.0
    X[X.sum(1) == 0, 0] = 1.0
    props = np.column_stack([
        rng.uniform(110, 200, E),  # radius
        rng.uniform(0.8, 2.5, E),  # Pauling
        rng.uniform(0.9, 2.1, E),  # Allen
        rng.integers(1, 13, E).astype(float),
        rng.uniform(300, 3700, E),
        rng.uniform(5, 400, E),
        rng.uniform(4, 30, E),
    ])
    H = rng.uniform(-60, 40, (E, E)).round(0)
    H = np.triu(H, 1)
    H = H + H.T
    return X, props, H


def assert_close(kern, ref, X, H, rtol=1e-12):
    """Relative agreement; dH (and Omega through it) measured against the scale sum c_i c_j |H_ij|."""
    assert kern.shape == ref.shape
    c = X / X.sum(1, keepdims=True)
    scale = 4 * np.einsum("ni,ij,nj->n", c, np.abs(H), c) + 1e-300
    # dH_mix is a signed sum: its error is bounded relative to sum c_i c_j |H_ij|, not to |dH|;
    # Omega = Tm dS/|dH| inherits that error divided by dh_rel = |dH|/scale.
    dh_rel = np.abs(ref[:, IDX["dH_mix"]]) / scale
    inf_k, inf_r = np.isinf(kern), np.isinf(ref)
    # dH that cancels to exactly 0 in one summation order may leave 1e-17 in the other
    tie = dh_rel < 1e-13
    inf_k[tie, IDX["Omega"]] = inf_r[tie, IDX["Omega"]] = False
    assert np.array_equal(inf_k, inf_r)
    fin = ~(np.isinf(kern) | np.isinf(ref))
    denom = np.abs(ref)
    denom[:, IDX["dH_mix"]] = scale
    diff = np.abs(np.where(fin, kern, 0.0) - np.where(fin, ref, 0.0))
    err = np.where(diff == 0, 0.0, diff / np.where(denom > 0, denom, 1e-300))
    err[:, IDX["Omega"]] *= np.minimum(dh_rel, 1.0)
    err[tie, IDX["Omega"]] = 0.0
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= rtol, f"{NAMES[worst[1]]} row {worst[0]}: kernel {kern[worst]} vs reference {ref[worst]}"


# ---- kernel vs reference ---------------------------------------------------------------------------
@pytest.mark.parametrize("E,zero_frac", [(1, 0.0), (2, 0.0), (5, 0.0), (5, 0.4), (12, 0.5), (40, 0.85)])
def test_kernel_matches_numpy_reference(rng, E, zero_frac):
    X, props, H = random_problem(rng, 3000, E, zero_frac)
    kern = core.descriptors(X, props, H, GAS_CONSTANT)
    ref = featurize_reference(X, props, H, GAS_CONSTANT)
    assert_close(kern, ref, X, H)


@pytest.mark.parametrize("E", [7, 20])  # dense-block and gathered paths
def test_kernel_matches_the_cited_formulas_in_40_digit_arithmetic(rng, E):
    """Every descriptor, term by term as the papers write it (sums over i < j, max/min radius
    present), in mpmath at 40 digits: an oracle independent of the NumPy reference."""
    import itertools

    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    X, props, H = random_problem(rng, 15, E, 0.3)
    kern = core.descriptors(X, props, H, GAS_CONSTANT)
    for n, x in enumerate(X):
        idx = [i for i in range(E) if x[i] > 0]
        s = mp.fsum(mp.mpf(x[i]) for i in idx)
        c = {i: mp.mpf(x[i]) / s for i in idx}
        r, chi, ca, vec, tm, kb, vm = ({i: mp.mpf(props[i, k]) for i in idx} for k in range(7))
        pairs = list(itertools.combinations(idx, 2))

        def mean(p):
            return mp.fsum(c[i] * p[i] for i in idx)

        def pair_sum(f):
            return mp.fsum(c[i] * c[j] * f(i, j) for i, j in pairs)

        rb, ab = mean(r), mean(ca)
        delta = 100 * mp.sqrt(mp.fsum(c[i] * (1 - r[i] / rb) ** 2 for i in idx))
        dH = 4 * pair_sum(lambda i, j: mp.mpf(H[i, j]))
        dS = -GAS_CONSTANT * mp.fsum(c[i] * mp.log(c[i]) for i in idx)
        w = lambda q: 1 - mp.sqrt((q + rb) ** 2 - rb**2) / (q + rb)  # noqa: E731
        ref = [delta, dH, dS, mean(vec), mp.sqrt(mp.fsum(c[i] * (chi[i] - mean(chi)) ** 2 for i in idx)), ab,
               100 * mp.sqrt(mp.fsum(c[i] * (1 - ca[i] / ab) ** 2 for i in idx)), mean(tm), mean(kb), mean(vm),
               mp.inf if dH == 0 else mean(tm) * dS / (1000 * abs(dH)), mp.inf if delta == 0 else dS / delta**2,
               w(min(r.values())) / w(max(r.values())), pair_sum(lambda i, j: abs(r[i] - r[j])),
               pair_sum(lambda i, j: abs(chi[i] - chi[j])), rb]
        ref = np.array([float(v) for v in ref])
        assert_close(kern[n:n + 1], ref[None, :], X[n:n + 1], H)


def test_kernel_reference_with_log_offset_and_unnormalised_rows(rng):
    X, props, H = random_problem(rng, 2000, 7, 0.3)
    X = X * rng.uniform(0.1, 100, (len(X), 1))  # at.% or molar ratios: rows are normalised
    kern = core.descriptors(X, props, H, 8.314, 2.0**-23)
    ref = featurize_reference(X, props, H, 8.314, 2.0**-23)
    assert_close(kern, ref, X, H)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_permutation_and_scale_invariance(E, seed):
    rng = np.random.default_rng(seed)
    X, props, H = random_problem(rng, 20, E, 0.3)
    perm = rng.permutation(E)
    a = core.descriptors(X, props, H, GAS_CONSTANT)
    b = core.descriptors(np.ascontiguousarray(X[:, perm]), props[perm], H[np.ix_(perm, perm)], GAS_CONSTANT)
    c = core.descriptors(X * 37.5, props, H, GAS_CONSTANT)
    for other in (b, c):
        assert np.array_equal(np.isinf(a), np.isinf(other))
        fin = np.isfinite(a)
        np.testing.assert_allclose(other[fin], a[fin], rtol=1e-11, atol=1e-9)


def test_dense_and_gathered_paths_agree(rng):
    """A NaN property of an absent element sends the kernel down the per-row gathered path; the
    same data with that NaN replaced takes the vectorised dense-block path."""
    X, props, H = random_problem(rng, 5000, 6, 0.3)
    X[:, 4] = 0.0
    X[X.sum(1) == 0, 0] = 1.0
    dense = core.descriptors(X, props, H, GAS_CONSTANT)
    p2 = props.copy()
    p2[4, 2] = np.nan
    gathered = core.descriptors(X, p2, H, GAS_CONSTANT)
    assert_close(dense, gathered, X, H, rtol=1e-13)


def test_subnormal_fractions(rng):
    X, props, H = random_problem(rng, 200, 4, 0.0)
    X[::7, 1] = 1e-320  # ratio below DBL_MIN: the dense path falls back to libm log for the entropy
    assert_close(core.descriptors(X, props, H, GAS_CONSTANT), featurize_reference(X, props, H, GAS_CONSTANT), X, H)


def test_thread_count_independence(rng):
    X, props, H = random_problem(rng, 60_000, 6, 0.2)
    one = core.descriptors(X, props, H, GAS_CONSTANT, threads=1)
    for t in (2, 3, None):
        assert np.array_equal(one, core.descriptors(X, props, H, GAS_CONSTANT, threads=t), equal_nan=True)


@pytest.mark.parametrize("E", [6, 24])  # dense-block path (E <= 16) and gathered path
def test_requested_columns_equal_the_full_call(rng, E):
    """Asking for some columns skips the work only the others need, and the values are bitwise
    those of the full call, for each descriptor alone and for random subsets in random order."""
    X, props, H = random_problem(rng, 3000, E, 0.3)
    X[::11, 1] = 1e-320  # subnormal ratios exercise the entropy fallback
    full = core.descriptors(X, props, H, GAS_CONSTANT)
    subsets = [[k] for k in range(16)] + [list(rng.permutation(16)[: rng.integers(2, 16)]) for _ in range(20)]
    for cols in subsets:
        part = core.descriptors(X, props, H, GAS_CONSTANT, columns=cols)
        assert part.shape == (X.shape[0], len(cols))
        assert np.array_equal(part, full[:, cols], equal_nan=True), cols
    with pytest.raises(ValueError, match="16 is not a descriptor column"):
        core.descriptors(X, props, H, GAS_CONSTANT, columns=[0, 16])
    with pytest.raises(ValueError, match="empty"):
        core.descriptors(X, props, H, GAS_CONSTANT, columns=[])


# ---- closed forms -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_el", [1, 2, 3, 5, 8])
def test_equiatomic_entropy_is_R_ln_N(n_el):
    els = ["Fe", "Ni", "Co", "Cr", "Mn", "Cu", "Ti", "V"][:n_el]
    df = featurize(batch(np.ones((1, n_el)), els), ["dS_mix", "delta", "Omega", "Lambda", "gamma", "dH_mix"])
    assert df["dS_mix"].iloc[0] == pytest.approx(GAS_CONSTANT * np.log(n_el), rel=1e-14, abs=1e-300)
    if n_el == 1:
        row = df.iloc[0]
        assert row["delta"] == 0 and row["dH_mix"] == 0 and row["gamma"] == 1
        assert np.isinf(row["Omega"]) and np.isinf(row["Lambda"])


def test_binary_closed_forms():
    t = ElementTable.load("default")
    df = featurize(batch([[1, 1], [1, 3]], ["Al", "Ni"]), ["dH_mix", "delta", "local_delta_r", "VEC", "gamma", "Omega"])
    H = t.pair_enthalpy("Al", "Ni")
    ra, rn = t.properties.loc[["Al", "Ni"], "radius_pm"]
    # dH = 4 c (1 - c) H_AB; delta for a binary = 100 sqrt(c(1-c)) |ra - rb| / rbar
    for i, c in enumerate((0.5, 0.25)):
        rbar = c * ra + (1 - c) * rn
        assert df["dH_mix"].iloc[i] == pytest.approx(4 * c * (1 - c) * H, rel=1e-14)
        assert df["delta"].iloc[i] == pytest.approx(100 * np.sqrt(c * (1 - c)) * abs(ra - rn) / rbar, rel=1e-13)
        assert df["local_delta_r"].iloc[i] == pytest.approx(c * (1 - c) * abs(ra - rn), rel=1e-14)
        assert df["VEC"].iloc[i] == pytest.approx(c * 3 + (1 - c) * 10, rel=1e-15)
    # gamma: solid-angle ratio from the tangent-sphere geometry, evaluated via the cone half-angle
    rbar = 0.5 * (ra + rn)
    rs, rl = min(ra, rn), max(ra, rn)
    w = lambda r: 1 - np.cos(np.arcsin(rbar / (r + rbar)))  # noqa: E731
    assert df["gamma"].iloc[0] == pytest.approx(w(rs) / w(rl), rel=1e-12)


def test_omega_is_inf_when_dH_is_zero_never_floored():
    # Hf-Zr has dH = 0 in the Takeuchi table
    df = featurize(batch([[1, 1], [1, 1]], ["Hf", "Zr"]), ["dH_mix", "Omega"])
    assert (df["dH_mix"] == 0).all() and np.isinf(df["Omega"]).all()


def test_equal_radii_give_delta_zero_and_lambda_inf_for_every_mix(rng):
    # Nb and Ta share a radius in the default table (as do Mo and W): whatever the mix, delta is 0, Lambda
    # +inf and gamma 1, by the kernel (both paths, any thread count) and the reference (which tests
    # rmin == rmax); the mean radius used to be off by an ulp for some mixes, giving Lambda ~ 1e28
    t = ElementTable.load("default")
    r = t.properties["radius_pm"]
    assert r["Nb"] == r["Ta"] and r["Mo"] == r["W"] and r["Nb"] != r["Mo"]
    x = np.r_[[0.3, 0.37, 0.61, 1 / 3, 0.1, 0.9], rng.uniform(0.01, 0.99, 40)]
    X = np.column_stack([x, 1 - x])
    props = t.property_matrix(["Nb", "Ta"])
    ref = featurize_reference(X, props, t.pair_matrix(["Nb", "Ta"]), t.gas_constant, t.log_offset)
    for threads in (1, 2):
        got = featurize_array(batch(X, ["Nb", "Ta"]), ["delta", "Lambda", "gamma", "dS_mix"], threads=threads)
        assert (got[:, 0] == 0).all() and np.isposinf(got[:, 1]).all() and (got[:, 2] == 1).all()
        np.testing.assert_array_equal(got[:, 0], ref[:, IDX["delta"]])
        np.testing.assert_array_equal(got[:, 1], ref[:, IDX["Lambda"]])
    # the gathered path (a wide palette, mostly zero columns) and a four-element pair-of-pairs: not equal
    wide = np.zeros((len(x), 6))
    wide[:, 1], wide[:, 4] = x, 1 - x
    els = ["Ti", "Nb", "Zr", "Hf", "Ta", "V"]
    got = featurize_array(batch(wide, els), ["delta", "Lambda"])
    assert (got[:, 0] == 0).all() and np.isposinf(got[:, 1]).all()
    four = featurize(batch([[1, 1, 1, 1]], ["Nb", "Ta", "Mo", "W"]), ["delta", "Lambda"])
    assert 0 < four["delta"].iloc[0] < 10 and np.isfinite(four["Lambda"].iloc[0])


# ---- the d-VAE paper's features --------------------------------------------------------------------
def _zeng_reference(shared_data):
    s = pd.read_csv(shared_data / "dvae_hea_zeng2024" / "ssvae_splits_1373.csv")
    f = pd.read_csv(shared_data / "dvae_hea_zeng2024" / "HEA_feature_engineered.csv")
    f = f.drop_duplicates("Alloys").set_index("Alloys").loc[s["Alloys"]]
    return s, f


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.where((a == 0) & (b == 0), 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def test_zeng2024_set_reproduces_the_paper_features(shared_data):
    s, f = _zeng_reference(shared_data)
    els = list(s.columns[4:34])
    got = featurize(batch(s[els].to_numpy(), els), "zeng2024")
    assert list(got.columns) == ["k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix"]
    assert len(got) == 1373
    # the split file stores fractions to ~1e-10, which bounds the agreement here
    for col in got.columns:
        assert _rel(got[col], f[col]).max() <= 1e-6, col


def test_zeng2024_from_formulas_exact(shared_data):
    pytest.importorskip("hea_fast.composition")
    s, f = _zeng_reference(shared_data)
    got = featurize(list(s["Alloys"]), "zeng2024")
    for col in got.columns:
        assert _rel(got[col], f[col]).max() <= 1e-12, col


# ---- matminer parity (test-only dependency) ----------------------------------------------------------
def test_matches_matminer_yang_delta_and_omega(rng):
    alloy = pytest.importorskip("matminer.featurizers.composition.alloy")
    from pymatgen.core import Composition

    yss = alloy.YangSolidSolution()
    els = ["Al", "Co", "Cr", "Fe", "Ni", "Cu", "Ti", "Mo", "Nb", "V", "Zr", "Mn"]
    from pymatgen.core import Element

    radii = yss.elem_data.get_elemental_properties([Element(e) for e in els], "MiracleRadius")
    tm = yss.elem_data.get_elemental_properties([Element(e) for e in els], "MeltingT")
    props = pd.DataFrame({"radius_pm": radii, "tm_K": tm}, index=els)
    pairs = pd.DataFrame(
        [(a, b, yss.dhf_mix.get_mixing_enthalpy(Element(a), Element(b))) for i, a in enumerate(els) for b in els[i + 1:]],
        columns=["el1", "el2", "dH_kJmol"],
    )
    table = ElementTable.from_frames("matminer", props, pairs, gas_constant=8.314)
    X = rng.dirichlet(np.ones(len(els)), size=25)
    X[rng.random(X.shape) < 0.5] = 0
    X[X.sum(1) == 0, 0] = 1
    ours = featurize(batch(X, els), ["delta", "Omega", "dH_mix"], table=table)
    for i, row in enumerate(X):
        comp = Composition({e: v for e, v in zip(els, row) if v > 0})
        omega, delta = yss.featurize(comp)
        assert ours["delta"].iloc[i] / 100 == pytest.approx(delta, rel=1e-10, abs=1e-14)
        if len(comp) > 1 and abs(ours["dH_mix"].iloc[i]) > 1e-6:
            assert ours["Omega"].iloc[i] == pytest.approx(omega, rel=1e-9)


# ---- API ----------------------------------------------------------------------------------------------
def test_featurize_rows_aligned_and_selection():
    X = np.array([[1, 1, 0], [0, 1, 3], [2, 0, 1]], float)
    els = ["Fe", "Ni", "Cr"]
    all_ = featurize(batch(X, els))
    assert list(all_.columns) == NAMES and len(all_) == 3
    sub = featurize(batch(X, els), ["Omega", "delta"])
    np.testing.assert_array_equal(sub.to_numpy(), all_[["Omega", "delta"]].to_numpy())
    arr = featurize_array(batch(X, els), ["VEC"])
    assert arr.shape == (3, 1) and arr[1, 0] == pytest.approx(0.25 * 10 + 0.75 * 6)
    # a zeroed-out element column needs no table entry
    assert np.isfinite(featurize_array(batch(np.c_[X, np.zeros(3)], els + ["Xx"]), ["delta"])).all()


def test_list_descriptors_documents_everything():
    df = list_descriptors()
    assert list(df["name"]) == NAMES == list(core.DESCRIPTOR_COLUMNS)
    assert df[["unit", "formula", "reference"]].map(bool).all().all()
    assert list(core.DESCRIPTOR_PROPS) == list(PROPERTIES)


def test_bad_input_raises_cleanly(rng):
    X, props, H = random_problem(rng, 10, 3, 0.0)
    for bad, msg in [(np.nan, "nan"), (-0.1, "-0.1"), (np.inf, "inf")]:
        Y = X.copy()
        Y[4, 2] = bad
        with pytest.raises(ValueError, match=rf"row 4, column 2 holds {msg}"):
            core.descriptors(Y, props, H, GAS_CONSTANT)
    Y = X.copy()
    Y[7] = 0
    with pytest.raises(ValueError, match="row 7 sums to zero"):
        core.descriptors(Y, props, H, GAS_CONSTANT)
    # finite amounts whose sum overflows: the kernel used to divide by inf (VEC 0, δ NaN, no error),
    # contiguous or gathered (a Fortran-ordered array takes the gathering path), one thread or two
    Y = X.copy()
    Y[5] = 1e308
    for arr in (Y, np.asfortranarray(Y)):
        for threads in (1, 2):
            with pytest.raises(ValueError, match=r"row 5: its amounts sum to inf \(they overflow"):
                core.descriptors(arr, props, H, GAS_CONSTANT, threads=threads)
    with pytest.raises(ValueError, match="props: dimension 1 has size 6"):
        core.descriptors(X, props[:, :6], H, GAS_CONSTANT)
    with pytest.raises(ValueError, match="pair: dimension 0"):
        core.descriptors(X, props, H[:2], GAS_CONSTANT)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        core.descriptors(X[0], props, H, GAS_CONSTANT)
    with pytest.raises(ValueError, match="threads"):
        core.descriptors(X, props, H, GAS_CONSTANT, threads=-2)
    # unknown element / missing property / missing pair with errors="raise": ElementDataError (a ValueError)
    with pytest.raises(ElementDataError, match="Xx"):
        featurize(batch([[1, 1]], ["Fe", "Xx"]), errors="raise")
    with pytest.raises(ElementDataError, match=r"chi_allen of La \(needed by dchi_allen\)"):
        featurize(batch([[1, 1]], ["Fe", "La"]), ["dchi_allen"], errors="raise")
    with pytest.raises(ElementDataError, match=r"chi_allen of La, Pu .*bulk_modulus_GPa of Pu \(needed by K\)"):
        featurize(batch([[1, 1, 0], [0, 1, 1]], ["La", "Fe", "Pu"]), errors="raise")
    # empty input: empty result, no kernel call
    assert featurize(batch(np.zeros((0, 2)), ["Fe", "Ni"]), ["VEC"]).shape == (0, 1)
    assert np.isfinite(featurize_array(batch([[1, 1]], ["Fe", "La"]), ["delta", "dH_mix"])).all()
    with pytest.raises(ElementDataError, match="pair.*Cr-Fe"):  # a table without that pair
        featurize(batch([[1, 1, 0], [0, 1, 1]], ["Cr", "Fe", "Ni"]), table=default_table_with(drop_pair=("Cr", "Fe")),
                  errors="raise")
    with pytest.raises(ValueError, match="errors must be one of"):
        featurize(batch([[1]], ["Fe"]), errors="skip")
    with pytest.raises(ValueError, match="unknown descriptor"):
        featurize(batch([[1]], ["Fe"]), ["VECC"])


def test_a_repeated_element_is_refused_not_mixed_with_itself():
    """Fe named twice made the kernel mix Fe with Fe: Fe1 Fe1 Ni2 got dS_mix = R(2·¼ ln 4 + ½ ln 2)
    = 8.64 J/(mol K) instead of the R ln 2 = 5.76 of the FeNi it is (and a NaN dH_mix for 'Fe-Fe')."""
    from hea_fast.composition import CompositionError
    from hea_fast.features import prepare

    with pytest.raises(CompositionError, match="distinct elements"):
        featurize(batch([[1, 1, 2]], ["Fe", "Fe", "Ni"]), ["dS_mix"])
    with pytest.raises(ValueError, match="repeated"):
        prepare(np.ones((1, 3)), ["Fe", "Fe", "Ni"], ["dS_mix"], "default")
    merged = featurize(batch([[2, 2]], ["Fe", "Ni"]), ["dS_mix"])["dS_mix"].iloc[0]
    assert merged == pytest.approx(GAS_CONSTANT * np.log(2), rel=1e-15)


def test_a_row_whose_amounts_overflow_is_invalid_not_all_zero_fractions():
    """[1e308, 1e308] sums to inf, so every fraction would be 0 (VEC 0, r_mean 0, dS_mix -0): the
    row is not a composition. (Here a NaN row sends the batch through the per-row check; the
    compiled kernel's own check, csrc find_invalid_row, still accepts an infinite row sum.)"""
    X = np.array([[1.0, np.nan], [1e308, 1e308], [1.0, 3.0]])
    out, why = featurize_array(X, ["VEC", "dS_mix"], elements=["Fe", "Ni"], return_reasons=True)
    assert np.isnan(out[:2]).all() and why[1] == "amounts overflow to infinity"
    c = np.array([0.25, 0.75])
    np.testing.assert_allclose(out[2], [c @ [8, 10], -GAS_CONSTANT * (c @ np.log(c))], rtol=1e-14)


def test_palette_preparation_is_public():
    """resolve -> prepare (once for a whole palette, as screening does) -> core.descriptors with the
    DESCRIPTOR_INDEX columns equals featurize_array; the former name of the reference is kept."""
    from hea_fast import features as F

    assert F.reference_descriptors is F.featurize_reference
    assert [F.DESCRIPTOR_INDEX[n] for n in NAMES] == list(range(len(NAMES)))
    labels, names, tab = F.resolve("yang2012", None)
    assert labels == names == ["delta", "Omega"] and tab.name == "default"
    els = ("Fe", "Ni", "Cr", "Co")
    X = np.random.default_rng(3).dirichlet(np.ones(4), 50)
    X[:10, 3] = 0.0
    props, H = F.prepare(np.ones((1, len(els))), els, names, "default")
    assert props.shape == (4, len(PROPERTIES)) and H.shape == (4, 4)
    got = core.descriptors(X, props, H, tab.gas_constant, tab.log_offset, columns=[F.DESCRIPTOR_INDEX[n] for n in names])
    np.testing.assert_array_equal(got, featurize_array(batch(X, els), names))
    with pytest.raises(ElementDataError, match="Xx"):
        F.prepare(np.ones((1, 2)), ("Fe", "Xx"), ["VEC"], tab)
    with pytest.raises(ValueError, match="unknown descriptor"):
        F.resolve(["VECC"], None)


def test_sklearn_transformer_in_a_pipeline():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = batch(np.random.default_rng(1).dirichlet(np.ones(4), 30), ["Fe", "Ni", "Co", "Cr"])
    tr = DescriptorTransformer(descriptors=["delta", "VEC", "dH_mix"])
    pipe = make_pipeline(tr, StandardScaler())
    Z = pipe.fit_transform(X)
    assert Z.shape == (30, 3)
    assert list(tr.get_feature_names_out()) == ["delta", "VEC", "dH_mix"]
    assert clone(tr).get_params()["descriptors"] == ["delta", "VEC", "dH_mix"]
    np.testing.assert_array_equal(tr.transform(X), featurize_array(X, ["delta", "VEC", "dH_mix"]))


# ---- per-row bad input: NaN cells, one warning, errors="raise" -------------------------------------------
VALID = ["AlCoCrFeNi", "CoCrFeMnNi", "HfNbTaTiZr", "Al0.5CoCrFeNi", "CoCrFeNiTi0.3"]


def test_an_nd_alloy_gets_nan_only_in_the_descriptors_its_data_lacks():
    """The default table has no Allen electronegativity for Nd: in a batch with one Nd alloy that row
    is NaN in chi_allen_mean and dchi_allen only, its other descriptors equal those computed with a
    table that has an Allen value for Nd (any value: they do not read it) and the NumPy reference,
    and every valid row equals featurize of the valid rows alone, bitwise."""
    from hea_fast.features import MissingElementDataWarning

    rows = VALID[:2] + ["AlNdNi"] + VALID[2:]
    with pytest.warns(MissingElementDataWarning, match=r"featurize: 1 of 6 rows .*row 2 \(AlNiNd\): Nd has no "
                      r"chi_allen in element table 'default' \(NaN: chi_allen_mean, dchi_allen\)") as rec:
        got = featurize(rows)
    assert len(rec) == 1 and list(got.columns) == NAMES and len(got) == 6
    np.testing.assert_array_equal(got.drop(index=2).to_numpy(), featurize(VALID).to_numpy())
    nan_cols = ["chi_allen_mean", "dchi_allen"]
    assert got.loc[2, nan_cols].isna().all() and got.drop(columns=nan_cols).notna().all().all()
    other = [c for c in NAMES if c not in nan_cols]
    with_nd = default_table_with({("Nd", "chi_allen"): 1.23})
    np.testing.assert_array_equal(got.loc[2, other].to_numpy(dtype=float),
                                  featurize(["AlNdNi"], table=with_nd)[other].to_numpy()[0])
    els = ("Al", "Ni", "Nd")
    ref = featurize_reference(np.array([[1.0, 1.0, 1.0]]), with_nd.property_matrix(els), with_nd.pair_matrix(els),
                              with_nd.gas_constant)[0]
    np.testing.assert_allclose(got.loc[2, other].to_numpy(dtype=float), ref[[IDX[c] for c in other]], rtol=1e-12)
    # errors="raise": the old behaviour, naming the element, property and descriptors
    with pytest.raises(ElementDataError, match=r"chi_allen of Nd \(needed by chi_allen_mean, dchi_allen\)"):
        featurize(rows, errors="raise")
    # the per-row reasons, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr, why = featurize_array(rows, ["VEC", "dchi_allen"], return_reasons=True)
    assert list(why) == ["", "", "Nd has no chi_allen in element table 'default' (NaN: dchi_allen)", "", "", ""]
    assert np.isnan(arr[2, 1]) and arr[2, 0] == pytest.approx((3 + 10 + 3) / 3, rel=1e-14)


def test_kernel_given_nan_properties_blanks_only_the_rows_and_descriptors_that_read_them(rng):
    """What the kernel itself does with a NaN property (featurize never passes one): it takes the
    gathered path, which skips absent elements, so rows without that element match the NumPy
    reference and rows with it are NaN exactly in the descriptors reading that property."""
    X, props, H = random_problem(rng, 400, 6, 0.3)
    bad = props.copy()
    bad[2, PROPERTIES.index("chi_allen")] = np.nan
    got = core.descriptors(X, bad, H, GAS_CONSTANT)
    ref = featurize_reference(X, props, H, GAS_CONSTANT)
    uses = X[:, 2] > 0
    allen = [IDX["chi_allen_mean"], IDX["dchi_allen"]]
    assert np.isnan(got[uses][:, allen]).all() and not np.isnan(np.delete(got, allen, axis=1)).any()
    assert_close(got[~uses], ref[~uses], X[~uses], H)
    rest = got[uses].copy()
    rest[:, allen] = ref[uses][:, allen]  # the other 14 descriptors of those rows match the reference
    assert_close(rest, ref[uses], X[uses], H)


def test_missing_pair_and_absent_element_blank_only_their_rows():
    table = default_table_with(drop_pair=("Cr", "Fe"))
    X = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 1]], float)  # only row 0 holds both Cr and Fe
    els = ["Cr", "Fe", "Ni", "Co"]
    out, why = featurize(batch(X, els), ["dH_mix", "Omega", "VEC"], table=table, return_reasons=True)
    full = featurize(batch(X, els), ["dH_mix", "Omega", "VEC"])
    assert out.loc[0, ["dH_mix", "Omega"]].isna().all() and why[0] == (
        "no mixing enthalpy for Cr-Fe in element table 'custom' (NaN: dH_mix, Omega)")
    np.testing.assert_array_equal(out.loc[1:].to_numpy(), full.loc[1:].to_numpy())
    assert out.loc[0, "VEC"] == full.loc[0, "VEC"] and list(why[1:]) == ["", ""]
    # an element the table does not hold at all (a duck-typed batch may name anything): all but dS_mix
    with pytest.warns(UserWarning, match="Xx is not in element table"):
        d = featurize(batch([[1, 1], [1, 0]], ["Fe", "Xx"]), ["dS_mix", "VEC", "dH_mix"])
    assert d.loc[0, ["VEC", "dH_mix"]].isna().all()
    assert d.loc[0, "dS_mix"] == pytest.approx(GAS_CONSTANT * np.log(2), rel=1e-14)
    assert d.loc[1].notna().all()


def test_unreadable_rows_keep_the_row_count_and_the_index():
    """Bad formulas, NaN / negative / all-zero amounts: all-NaN rows with the reason; the other rows
    equal featurize of the valid rows alone; pandas labels are kept."""
    from hea_fast.composition import CompositionError
    from hea_fast.features import InvalidCompositionWarning, missing_data

    s = pd.Series(["AlCoCrFeNi", "XxFe", "CoCrFeMnNi", "Fe((Ni"], index=["a", "b", "c", "d"])
    with pytest.warns(InvalidCompositionWarning, match="2 of 4 rows"):
        got = featurize(s, ["delta", "VEC"])
    assert list(got.index) == ["a", "b", "c", "d"] and got.loc[["b", "d"]].isna().all().all()
    np.testing.assert_array_equal(got.loc[["a", "c"]].to_numpy(), featurize(["AlCoCrFeNi", "CoCrFeMnNi"], ["delta", "VEC"]))
    why = missing_data(s, ["delta", "VEC"])
    assert list(why.index) == list(s.index) and why["a"] == why["c"] == ""
    assert "unknown element symbol 'Xx'" in why["b"] and "Fe((Ni" in why["d"]
    assert why.equals(featurize(s, ["delta", "VEC"], return_reasons=True)[1])
    df = pd.DataFrame({"Ni": [1.0, np.nan, 1.0, 0.0, 2.0], "Fe": [1.0, 1.0, -0.5, 0.0, 2.0], "label": list("vwxyz")},
                      index=list("vwxyz"))
    out, why = featurize(df, ["delta", "VEC"], return_reasons=True)
    assert list(why) == ["", "non-finite amount nan for Ni", "negative amount -0.5 for Fe", "all amounts are zero", ""]
    assert out.loc[["w", "x", "y"]].isna().all().all()
    np.testing.assert_array_equal(out.loc[["v", "z"]].to_numpy(), featurize(["FeNi", "FeNi"], ["delta", "VEC"]).to_numpy())
    with pytest.raises(CompositionError, match="non-finite amount nan for Ni in row 'w'"):
        featurize(df, ["VEC"], errors="raise")
    with pytest.raises(CompositionError):
        featurize(s, ["VEC"], errors="raise")


@pytest.mark.parametrize("n", [7, 4096, 10_001])
def test_every_numeric_input_layout_is_read_in_place_with_the_same_values(rng, n):
    """A DataFrame (element columns in any order, an int column, other columns), an (n, E) array with
    elements= in C or Fortran order, its columns as a list, and a CompositionBatch give the kernel's
    values on the same amounts; the strided paths are bitwise the C-ordered call."""
    from hea_fast.composition import as_batch

    els = ("Al", "Co", "Cr", "Fe", "Ni")
    X = rng.dirichlet(np.ones(5), n)
    X[rng.random((n, 5)) < 0.2] = 0.0
    X[X.sum(1) == 0, 2] = 1.0
    t = ElementTable.load("default")
    want = core.descriptors(X, t.property_matrix(els), t.pair_matrix(els), t.gas_constant)
    np.testing.assert_array_equal(core.descriptors([X[:, j] for j in range(5)], t.property_matrix(els),
                                                   t.pair_matrix(els), t.gas_constant), want)
    np.testing.assert_array_equal(featurize_array(np.asfortranarray(X), elements=els), want)
    np.testing.assert_array_equal(featurize_array(X, elements=els), want)
    df = pd.DataFrame({"note": ["x"] * n, **{e: X[:, j] for j, e in reversed(list(enumerate(els)))}})
    z = [0, 2, 3, 1, 4]  # a DataFrame's columns are taken in atomic-number order: Al Cr Fe Co Ni
    zel = [els[j] for j in z]
    want_z = core.descriptors(np.ascontiguousarray(X[:, z]), t.property_matrix(zel), t.pair_matrix(zel), t.gas_constant)
    np.testing.assert_array_equal(featurize(df).to_numpy(), want_z)
    assert_close(want_z, want, X, t.pair_matrix(els), rtol=1e-13)
    np.testing.assert_allclose(featurize(as_batch(X, elements=els)).to_numpy(), want, rtol=1e-13)
    ints = pd.DataFrame({"Fe": np.arange(n) % 3 + 1, "Ni": np.ones(n, dtype=np.int64)})
    np.testing.assert_array_equal(featurize(ints, ["VEC"]).to_numpy()[:, 0],
                                  ((np.arange(n) % 3 + 1) * 8 + 10) / (np.arange(n) % 3 + 2))
    # an invalid entry deep in a strided input is named by row and column, as for C-ordered input
    Y = np.asfortranarray(X)
    Y[n - 1, 3] = np.nan
    with pytest.raises(ValueError, match=rf"row {n - 1}, column 3 holds nan"):
        core.descriptors(Y, t.property_matrix(els), t.pair_matrix(els), t.gas_constant)


# ---- CLI ----------------------------------------------------------------------------------------------
def test_cli_featurize_csv_and_parquet(tmp_path):
    pytest.importorskip("hea_fast.composition")
    from hea_fast.cli import main

    src = tmp_path / "in.csv"
    pd.DataFrame({"Alloy": ["AlCoCrFeNi", "HfNbTaTiZr", "CoCrFeMnNi"], "y": [1, 2, 3]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["featurize", str(src), "--formula-column", "Alloy", "-o", str(out),
                 "--descriptors", "delta", "dS_mix"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["Alloy", "y", "delta", "dS_mix", "error"]  # 'error': the CLI's bad-row convention
    assert df["error"].isna().all()
    assert df["dS_mix"].iloc[0] == pytest.approx(GAS_CONSTANT * np.log(5), rel=1e-12)
    outp = tmp_path / "out.parquet"
    assert main(["featurize", str(src), "--formula-column", "Alloy", "-o", str(outp),
                 "--descriptors", "zeng2024", "--chunk-size", "2"]) == 0
    dp = pd.read_parquet(outp)
    assert len(dp) == 3 and "delta_h_mix" in dp.columns
    outt = tmp_path / "out.tsv"  # a .tsv is written tab-separated, in chunks too
    assert main(["featurize", str(src), "--formula-column", "Alloy", "-o", str(outt), "--descriptors", "delta",
                 "dS_mix", "--chunk-size", "2"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(outt, sep="\t"), df)
    assert main(["featurize", str(src), "--formula-column", "Nope", "-o", str(out)]) == 2
    # a bad formula stops the run (no output written) with --errors raise, is dropped with skip
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"Alloy": ["AlCoCrFeNi", "XxFe", "NbTaTiV"]}).to_csv(bad, index=False)
    out2 = tmp_path / "out2.csv"
    assert main(["featurize", str(bad), "-o", str(out2), "--errors", "raise"]) == 2
    assert not out2.exists() and not list(tmp_path.glob(".out2*"))
    assert main(["featurize", str(bad), "-o", str(out2), "--errors", "skip", "--descriptors", "VEC"]) == 0
    d2 = pd.read_csv(out2)
    assert list(d2["Alloy"]) == ["AlCoCrFeNi", "NbTaTiV"]
    assert d2["VEC"].iloc[1] == pytest.approx(4.75, rel=1e-14)
    # one Nd alloy among valid ones: every row written, NaN only in the Nd row's Allen-chi descriptors
    nd = tmp_path / "nd.csv"
    pd.DataFrame({"Alloy": ["AlCoCrFeNi", "AlNdNi", "NbTaTiV"]}).to_csv(nd, index=False)
    out4 = tmp_path / "out4.csv"
    assert main(["featurize", str(nd), "-o", str(out4), "--descriptors", "delta", "chi_allen_mean"]) == 0
    d4 = pd.read_csv(out4)
    assert list(d4["Alloy"]) == ["AlCoCrFeNi", "AlNdNi", "NbTaTiV"] and np.isnan(d4["chi_allen_mean"].iloc[1])
    assert np.isfinite(d4["delta"]).all() and np.isfinite(d4["chi_allen_mean"].iloc[[0, 2]]).all()
    assert "Nd" in d4["error"].iloc[1] and "chi_allen" in d4["error"].iloc[1]
    # an empty table gives a header-only output with the descriptor columns
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"Alloy": []}).to_csv(empty, index=False)
    out3 = tmp_path / "out3.parquet"
    assert main(["featurize", str(empty), "-o", str(out3), "--descriptors", "yang2012"]) == 0
    assert list(pd.read_parquet(out3).columns) == ["Alloy", "delta", "Omega", "error"]


# ---- CUDA ---------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_cuda_matches_cpu(rng):
    def table_of(name, props, H):
        els = [f"E{i}" for i in range(len(props))]
        pairs = [(els[i], els[j], H[i, j]) for i in range(len(els)) for j in range(i + 1, len(els))]
        return els, ElementTable.from_frames(name, pd.DataFrame(props, columns=PROPERTIES, index=els),
                                             pd.DataFrame(pairs, columns=["el1", "el2", "dH_kJmol"]))

    X, props, H = random_problem(rng, 20_000, 9, 0.4)
    els, table = table_of("rand", props, H)
    b = batch(X, els)
    cpu = featurize_array(b, table=table, device="cpu")
    gpu = featurize_array(b, table=table, device="cuda")
    assert_close(gpu, cpu, X, H, rtol=1e-13)
    # rows wider than the kernel's gather buffer (16) take the scan-all-columns path
    X2, p2, H2 = random_problem(rng, 2000, 24, 0.0)
    els2, t2 = table_of("rand24", p2, H2)
    b2 = batch(X2, els2)
    assert_close(featurize_array(b2, table=t2, device="cuda"), featurize_array(b2, table=t2), X2, H2, rtol=1e-13)
