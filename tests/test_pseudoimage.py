"""Pseudo-images (hea_fast.xyield.pseudoimage, csrc/cpu/pseudoimage_cpu.cpp) against a slow
per-pixel Python construction and the Feng et al. layout facts, and the X-Yield datasets/splits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast.composition import CompositionBatch, CompositionError, as_batch
from hea_fast.xyield import datasets as D
from hea_fast.xyield.pseudoimage import layout_cells, layout_table, pseudo_images, pseudo_images_reference

PAL = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
PROVENANCE_RPTR = {"Al": (4, 15), "Cr": (5, 7), "Fe": (6, 2), "Hf": (8, 14), "Mo": (5, 10), "Nb": (7, 9),
                   "Ta": (5, 11), "Ti": (5, 9), "V": (4, 4), "W": (8, 6), "Zr": (3, 16)}


def random_alloys(rng, n, cut=0.0):
    """n random compositions over PAL (fractions below `cut` zeroed) and temperatures in [0, 2500) K."""
    frac = rng.dirichlet(np.ones(len(PAL)), size=n)
    frac[frac < cut] = 0
    return frac / frac.sum(1, keepdims=True), rng.uniform(0, 2500, size=n)


def slow_images(frac, T, elements, layout):
    """Pixel by pixel, in Python floats: the definition of the image."""
    tab = layout_table()
    out = np.zeros((len(frac), 2, 9, 18), dtype=np.float32)
    for i in range(len(frac)):
        for j, e in enumerate(elements):
            r, c = int(tab.loc[e, f"{layout}_row"]), int(tab.loc[e, f"{layout}_col"])
            out[i, 0, r, c] += frac[i][j]
        for r in range(9):
            for c in range(18):
                out[i, 1, r, c] = (T[i] - 273.15) / 2000.0
    return out


def test_layout_cells_match_provenance_and_source(shared_data):
    assert {e: tuple(layout_cells([e], "rptr")[0]) for e in PROVENANCE_RPTR} == PROVENANCE_RPTR
    src = pd.read_csv(shared_data / "xyield_rptr_layout" / "feng2021_ptr_rptr_layout.csv").set_index("symbol")
    tab = layout_table()
    assert len(tab) == 108
    for lay in ("ptr", "rptr"):
        np.testing.assert_array_equal(tab[f"{lay}_row"], src.loc[tab.index, f"{lay}_row0"])
        np.testing.assert_array_equal(tab[f"{lay}_col"], src.loc[tab.index, f"{lay}_col0"])
        cells = tab[f"{lay}_row"] * 18 + tab[f"{lay}_col"]
        assert cells.is_unique and cells.between(0, 161).all()
    # PTR is the periodic table: Fe is period 4 (row 3), group 8 (col 7); RPTR cell = PTR cell of the permuted Z
    assert tuple(layout_cells(["Fe"], "ptr")[0]) == (3, 7)
    perm = src["rptr_perm_Z"]
    by_z = src.reset_index().set_index("Z")
    for e in PAL:
        z2 = perm[e]
        assert (by_z.loc[z2, "ptr_row0"], by_z.loc[z2, "ptr_col0"]) == PROVENANCE_RPTR[e]


@pytest.mark.parametrize("layout", ["rptr", "ptr"])
def test_kernel_matches_slow_construction(layout, rng):
    frac, T = random_alloys(rng, 30, cut=0.05)
    got = pseudo_images(frac, T, layout=layout, elements=PAL)
    assert got.dtype == np.float32 and got.shape == (30, 2, 9, 18) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, slow_images(frac, T, PAL, layout))
    np.testing.assert_array_equal(got, pseudo_images_reference(frac, T, layout=layout, elements=PAL))
    np.testing.assert_array_equal(got, pseudo_images(frac, T, layout=layout, elements=PAL, threads=1))
    np.testing.assert_allclose(got[:, 0].sum(axis=(1, 2)), 1.0, rtol=1e-6)


@pytest.mark.parametrize("n", [37, 7_000])  # 7,000 images = 9 MB: the kernel's streaming-store path
def test_amounts_are_normalised_in_the_kernel_bitwise(n, rng):
    """An (n, E) array of amounts in any unit is read in place and normalised inside the kernel: the
    images are bitwise those of the validated batch (as_batch's normalisation) and of the reference,
    for every thread count."""
    frac, T = random_alloys(rng, n, cut=0.05)
    amounts = frac * rng.uniform(0.1, 300.0, size=(n, 1))  # at.%, wt-like scales, ...
    amounts[::7] = np.round(amounts[::7], 1)  # rows that do not sum to a power of two
    ref = pseudo_images_reference(amounts, T, elements=PAL)
    batch = CompositionBatch.from_valid(amounts / amounts.sum(1, keepdims=True), PAL)
    for threads in (1, 2, 3, None):
        got = pseudo_images(amounts, T, elements=PAL, threads=threads)
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(pseudo_images(as_batch(amounts, elements=PAL), T), ref)
    assert pseudo_images(batch, T).dtype == np.float32
    # Fortran-ordered and integer input take the same path
    np.testing.assert_array_equal(pseudo_images(np.asfortranarray(amounts), T, elements=PAL), ref)
    ints = np.rint(amounts * 10).astype(np.int64)
    ints[ints.sum(1) == 0, 0] = 1
    np.testing.assert_array_equal(pseudo_images(ints, T, elements=PAL), pseudo_images_reference(ints, T, elements=PAL))


def test_bad_amount_rows_name_the_row():
    amounts = np.array([[1.0, 2.0, 0, 0, 0, 0, 0, 0, 0, 0], [0.0] * 10, [1.0] * 10])
    with pytest.raises(CompositionError, match="row 1: all amounts are zero"):
        pseudo_images(amounts, 300.0, elements=PAL)
    amounts[1, 3], amounts[2, 4] = 1.0, -0.5
    with pytest.raises(CompositionError, match="row 2: amount of Nb is -0.5"):
        pseudo_images(amounts, 300.0, elements=PAL)
    amounts[2, 4] = np.nan
    with pytest.raises(CompositionError, match="row 2: amount of Nb is nan"):
        pseudo_images(amounts, 300.0, elements=PAL)


def test_formulas_and_scalar_temperature():
    img = pseudo_images(["MoNbTaW", "Al0.5CrMoTi"], 298.15)
    assert img[0, 0, 5, 10] == pytest.approx(0.25) and img[0, 0, 8, 6] == pytest.approx(0.25)
    assert img[1, 0, 4, 15] == pytest.approx(0.5 / 3.5)
    assert np.all(img[:, 1] == np.float32(25.0 / 2000.0))


def test_bad_input():
    with pytest.raises(ValueError, match="layout"):
        pseudo_images(["MoNbTaW"], 300.0, layout="hex")
    with pytest.raises(ValueError, match="temperature_K"):
        pseudo_images(["MoNbTaW"], -1.0)
    with pytest.raises(ValueError, match="2 values for 1"):
        pseudo_images(["MoNbTaW"], [300.0, 400.0])
    with pytest.raises(ValueError, match="no cell"):
        pseudo_images({"Og": 1.0}, 300.0)  # a real element outside the 108-element layout
    with pytest.raises(ValueError, match="Xx"):  # not an element: refused by hea_fast.composition.as_batch
        pseudo_images({"Xx": 1.0}, 300.0)
    with pytest.raises(ValueError, match="temperature_K"):
        pseudo_images_reference(["MoNbTaW"], float("nan"))


# ---- datasets ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hq(shared_data):
    return D.load_high_quality()


def test_high_quality_set(hq, shared_data):
    assert len(hq) == 240 and hq.elements == PAL
    np.testing.assert_allclose(hq.fractions.sum(1), 1.0)
    assert np.bincount(hq.n_elements).tolist()[3:] == [17, 78, 118, 27]
    raw = pd.read_csv(shared_data / "xyield_exp240" / "xyield_exp240.csv")
    np.testing.assert_allclose(hq.yield_MPa, raw["YS_MPa"])
    x, y = hq.images(), hq.targets("GPa")
    assert x.shape == (240, 2, 9, 18) and y.dtype == np.float32
    np.testing.assert_allclose(y, raw["YS_GPa"], rtol=1e-6)
    # channel 0 reproduces the at.% columns at the RPTR cells (the decoded source images)
    for e, (r, c) in PROVENANCE_RPTR.items():
        if e in PAL:
            np.testing.assert_allclose(x[:, 0, r, c], raw[e] / raw[list(PAL)].sum(1), rtol=1e-6)
    np.testing.assert_allclose(x[:, 1, 0, 0], (raw["T_K"] - 273.15) / 2000, rtol=1e-6)


def test_cv_folds(hq):
    folds = D.cv_folds(hq)
    assert len(folds) == 10
    tests = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tests), np.arange(240))
    for tr, te in folds:
        assert len(te) == 24 and len(tr) == 216 and not set(tr) & set(te)


@pytest.mark.parametrize("fraction,n_train", [(0.05, 11), (0.10, 23)])
def test_few_shot_splits(hq, fraction, n_train):
    tr, te = D.few_shot_split(fraction, seed=0, dataset=hq)
    assert len(tr) == n_train and len(te) == 240 - n_train and not set(tr) & set(te)
    # stratified by number of elements: every stratum present, shares within one point of proportional
    counts = np.bincount(hq.n_elements, minlength=7)[3:]
    got = np.bincount(hq.n_elements[tr], minlength=7)[3:]
    assert (got >= 1).all()
    assert np.all(np.abs(got - counts / 240 * n_train) <= 1.0)
    tr2, _ = D.few_shot_split(fraction, seed=0, dataset=hq)
    tr3, _ = D.few_shot_split(fraction, seed=1, dataset=hq)
    assert np.array_equal(tr, tr2) and not np.array_equal(tr, tr3)
    with pytest.raises(ValueError, match="fraction"):
        D.few_shot_split(1.5, dataset=hq)


def test_low_quality_set(hq):
    lq = D.load_low_quality(n=3000, seed=5)
    assert len(lq) == 3000 and lq.elements == PAL
    temps = D.low_quality_temperatures()
    assert temps[0] == 300 and temps[-1] == 1900
    assert set(np.unique(lq.temperature_K)) <= set(temps)
    from hea_fast.xyield import yield_strength

    np.testing.assert_allclose(lq.yield_MPa, yield_strength(lq.fractions, lq.temperature_K, elements=PAL), rtol=1e-12)
    assert set(np.unique(lq.n_elements)) <= {3, 4, 5, 6, 7}
    lq2 = D.load_low_quality(n=3000, seed=5)
    np.testing.assert_array_equal(lq.fractions, lq2.fractions)
    assert lq.images().shape == (3000, 2, 9, 18)


@pytest.mark.gpu
@pytest.mark.parametrize("layout", ["rptr", "ptr"])
def test_cuda_matches_cpu(layout, rng):
    import torch

    frac, T = random_alloys(rng, 200)
    cpu = pseudo_images(frac, T, layout=layout, elements=PAL)
    gpu = pseudo_images(torch.from_numpy(frac).cuda(), torch.from_numpy(T).cuda(), layout=layout, elements=PAL,
                        device="cuda")
    np.testing.assert_array_equal(gpu.cpu().numpy(), cpu)


def test_shared_cells_sum_in_double():
    from hea_fast._backend import core

    frac = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    img = core.pseudo_images(frac, np.array([300.0, 400.0]), np.array([5, 5, 7], dtype=np.int32))
    np.testing.assert_array_equal(img[:, 0].reshape(2, -1)[:, 5], (frac[:, 0] + frac[:, 1]).astype(np.float32))
    np.testing.assert_array_equal(img[:, 0].reshape(2, -1)[:, 7], frac[:, 2].astype(np.float32))
    with pytest.raises(ValueError, match="outside the 9x18 grid"):
        core.pseudo_images(frac, np.array([300.0, 400.0]), np.array([5, 5, 162], dtype=np.int32))
    # amounts normalised in the kernel: each one divided by the row sum, then shared cells summed in double
    amounts = frac * np.array([[3.0], [7.0]])
    img = core.pseudo_images(amounts, np.array([300.0, 400.0]), np.array([5, 5, 7], dtype=np.int32), normalize=True)
    x = amounts / (amounts[:, :1] + amounts[:, 1:2] + amounts[:, 2:])
    np.testing.assert_array_equal(img[:, 0].reshape(2, -1)[:, 5], (x[:, 0] + x[:, 1]).astype(np.float32))
    with pytest.raises(ValueError, match="row 1 is all zeros"):
        core.pseudo_images(np.array([[1.0, 0, 0], [0.0, 0, 0]]), np.array([300.0, 400.0]),
                           np.array([5, 6, 7], dtype=np.int32), normalize=True)
    with pytest.raises(ValueError, match="row 0, column 2"):
        core.pseudo_images(np.array([[1.0, 0, -1e-9]]), np.array([300.0]), np.array([5, 6, 7], dtype=np.int32))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    w=st.lists(st.floats(0.0, 1.0), min_size=len(PAL), max_size=len(PAL)).filter(lambda w: sum(w) > 1e-3),
    T=st.floats(0.0, 5000.0),
    layout=st.sampled_from(["rptr", "ptr"]),
    perm_seed=st.integers(0, 1000),
)
def test_property_matches_slow_and_is_order_invariant(w, T, layout, perm_seed):
    fr = np.array([w]) / sum(w)
    img = pseudo_images(fr, T, layout=layout, elements=PAL)
    np.testing.assert_array_equal(img, slow_images(fr, [T], PAL, layout))
    p = np.random.default_rng(perm_seed).permutation(len(PAL))
    np.testing.assert_array_equal(pseudo_images(fr[:, p], T, layout=layout, elements=tuple(PAL[i] for i in p)), img)
