"""The SSVAE classifier-head kernel (hea_fast.ssvae.head, csrc/cpu/ssvae_head_cpu.cpp) against
independent references: the float64 NumPy forward pass `ssvae_head_reference`, the torch model's own
`classifier_prob`, a per-coalition brute force, and (on lattices) the decode -> featurize -> head
path; and `SSVAEScorer` on the C++ engine against its previous torch path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hea_fast._backend import core
from hea_fast.ssvae.head import (
    SSVAEHead,
    head_arrays,
    load_head,
    ssvae_head,
    ssvae_head_coalitions,
    ssvae_head_reference,
)
from hea_fast.ssvae.model import SSVAE, SSVAEConfig, load_model

FEATURES = ("k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix")


def small_model(hidden=(100, 100), seed=0, F=8, scale=2.0, standardised=True, mean=None, std=None):
    """A model with weights N(0, scale² / fan-in): large enough for inputs of a few units to reach
    Softplus' tails (and torch's threshold of 20); standardised with random or given mean/std."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    feats = FEATURES if F == 8 else tuple(f"f{i}" for i in range(F))
    if mean is None:
        mean = list(rng.normal(size=F) * 3) if standardised else []
        std = list(rng.uniform(0.5, 3.0, size=F)) if standardised else []
    m = SSVAE(SSVAEConfig(features=feats, hidden=hidden, feature_mean=mean, feature_std=std))
    for lin in m.encoder_y.linears:
        torch.nn.init.normal_(lin.weight, 0.0, scale / lin.in_features**0.5)
        torch.nn.init.normal_(lin.bias, 0.0, scale)
    return m.eval()


def torch_prob(m, e, logit=False):
    with torch.no_grad():
        t = torch.as_tensor(np.asarray(e, np.float32))
        out = m.classifier_logit(t) if logit else m.classifier_prob(t)
    return out[:, 0].double().numpy()


@pytest.mark.parametrize("hidden", [(100, 100), (7,), (13, 6), (9, 31, 4)])
@pytest.mark.parametrize("standardised", [True, False])
def test_head_matches_reference_and_torch(hidden, standardised, rng):
    m = small_model(hidden, seed=len(hidden), standardised=standardised)
    e = rng.normal(size=(301, 8)) * 4  # 301: partial last block
    ref = ssvae_head_reference(m, e)
    np.testing.assert_allclose(ssvae_head(m, e, dtype="float64"), ref, rtol=1e-13, atol=1e-15)
    p32 = ssvae_head(m, e)
    np.testing.assert_allclose(p32, ref, atol=2e-6)
    np.testing.assert_allclose(p32, torch_prob(m, e), atol=2e-6)
    zref = ssvae_head_reference(m, e, output="logit")
    np.testing.assert_allclose(ssvae_head(m, e, output="logit", dtype="float64"), zref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ssvae_head(m, e, output="logit"), zref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ssvae_head(m, e, output="logit"), torch_prob(m, e, logit=True), rtol=1e-5, atol=1e-5)


def test_softplus_tails_and_threshold():
    """Hidden pre-activations spanning -200 .. 200, around torch's threshold 20 and zero: the float32
    polynomial Softplus stays within float32 rounding of libm's log1p(exp(x))."""
    m = small_model((1, 1), standardised=False)
    with torch.no_grad():
        lin0, lin1, lin2 = m.encoder_y.linears
        lin0.weight.zero_()
        lin0.weight[0, 0] = 1.0
        lin0.bias.zero_()
        lin1.weight.fill_(1.0)
        lin1.bias.fill_(-0.5)
        lin2.weight.fill_(1.0)
        lin2.bias.zero_()
    x = np.concatenate([np.linspace(-200, 200, 4001), [19.999, 20.0, 20.001, -87.0, -88.0, -104.0, 0.0, -1e-9, 1e-9]])
    e = np.zeros((len(x), 8))
    e[:, 0] = x
    z = ssvae_head(m, e, output="logit")
    ref = ssvae_head_reference(m, e, output="logit")
    np.testing.assert_allclose(z, ref, rtol=3e-7, atol=3e-7)
    np.testing.assert_allclose(z, torch_prob(m, e, logit=True), rtol=3e-7, atol=3e-7)


def test_threads_rows_and_nan():
    m = small_model()
    rng = np.random.default_rng(1)
    e = rng.normal(size=(1000, 8)) * 3
    one = ssvae_head(m, e, threads=1)
    for t in (2, 3, None):
        np.testing.assert_array_equal(ssvae_head(m, e, threads=t), one)
    # a row's value does not depend on its neighbours (block padding, block position)
    np.testing.assert_array_equal(ssvae_head(m, e[17:18]), one[17:18])
    np.testing.assert_array_equal(ssvae_head(m, e[5:]), one[5:])
    bad = e.copy()
    bad[3, 2], bad[40, 7] = np.nan, np.inf
    got = ssvae_head(m, bad)
    assert np.isnan(got[[3, 40]]).all()
    keep = np.setdiff1d(np.arange(1000), [3, 40])
    np.testing.assert_array_equal(got[keep], one[keep])
    assert ssvae_head(m, np.empty((0, 8))).shape == (0,)


def brute_coalitions(m, x, bg, output="probability"):
    F = x.shape[1]
    v = np.empty((len(x), 2**F))
    for i in range(len(x)):
        for S in range(2**F):
            z = bg.copy()
            cols = [j for j in range(F) if (S >> j) & 1]
            z[:, cols] = x[i, cols]
            v[i, S] = ssvae_head_reference(m, z, output=output).mean()
    return v


@pytest.mark.parametrize("F", [3, 5])
def test_coalitions_brute_force(F, rng):
    m = small_model((11, 6), seed=F, F=F)
    x, bg = rng.normal(size=(3, F)) * 2, rng.normal(size=(21, F)) * 2
    for output in ("probability", "logit"):
        ref = brute_coalitions(m, x, bg, output)
        np.testing.assert_allclose(ssvae_head_coalitions(m, x, bg, output=output, dtype="float64"), ref,
                                   rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ssvae_head_coalitions(m, x, bg, output=output), ref, rtol=1e-5, atol=2e-6)
    v = ssvae_head_coalitions(m, x, bg)
    np.testing.assert_array_equal(ssvae_head_coalitions(m, x, bg, threads=1), v)
    np.testing.assert_allclose(v[:, -1], ssvae_head(m, x), atol=1e-15)  # full coalition: f(x) itself


@pytest.mark.parametrize("hidden", [(7,), (11, 6), (9, 31, 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_coalitions_one_background_row_bitwise(hidden, dtype, rng):
    """With one background row, v[i, S] is f at the coalition's input itself: the kernel's shared
    layer-0 prefixes must give bitwise what the plain forward pass (`ssvae_head`) gives."""
    m = small_model(hidden, seed=len(hidden), standardised=len(hidden) != 2)
    x, b = rng.normal(size=(3, 8)) * 2, rng.normal(size=(1, 8)) * 2
    masks = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)
    for output in ("probability", "logit"):
        v = ssvae_head_coalitions(m, x, b, output=output, dtype=dtype)
        for i in range(3):
            z = np.where(masks, x[i], b[0])
            np.testing.assert_array_equal(v[i], ssvae_head(m, z, output=output, dtype=dtype))


def test_coalitions_weighted_and_independent_of_other_rows(rng):
    m = small_model((13, 6), seed=2)
    x, bg = rng.normal(size=(5, 8)) * 2, rng.normal(size=(37, 8)) * 2  # 37: a partial last block
    w = rng.integers(0, 4, size=37).astype(float)
    w[0] = 1.0
    got = ssvae_head_coalitions(m, x, bg, weights=w, dtype="float64")
    # independent reference: the weighted mean of per-row values, each from the unweighted kernel
    per_row = np.stack([ssvae_head_coalitions(m, x, bg[r : r + 1], dtype="float64") for r in range(37)], axis=2)
    np.testing.assert_allclose(got, (per_row * w).sum(2) / w.sum(), rtol=1e-13, atol=1e-15)
    # integer weights = repeated rows
    rep = np.repeat(bg, w.astype(int), axis=0)
    np.testing.assert_allclose(ssvae_head_coalitions(m, x, bg, weights=w), ssvae_head_coalitions(m, x, rep),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ssvae_head_coalitions(m, x, bg, weights=np.ones(37)), ssvae_head_coalitions(m, x, bg),
                               rtol=1e-14, atol=0)
    v = ssvae_head_coalitions(m, x, bg)
    for t in (1, 3):
        np.testing.assert_array_equal(ssvae_head_coalitions(m, x, bg, threads=t), v)
    np.testing.assert_array_equal(ssvae_head_coalitions(m, x[2:3], bg), v[2:3])  # no dependence on other rows
    for bad, msg in (([1.0] * 36, "background_weights"), ([-1.0] + [1.0] * 36, r"background_weights\[0\]"),
                     ([np.nan] + [1.0] * 36, r"background_weights\[0\]"), ([0.0] * 37, "sum to 0")):
        with pytest.raises(ValueError, match=msg):
            ssvae_head_coalitions(m, x, bg, weights=np.array(bad))


def _assert_same_head(h, model):
    a, b = head_arrays(h), head_arrays(model)
    for key in ("weights", "biases"):
        assert len(a[key]) == len(b[key])
        for u, v in zip(a[key], b[key]):
            assert u.dtype == v.dtype == np.float64
            np.testing.assert_array_equal(u, v)
    for key in ("mean", "std"):
        assert (a[key] is None) == (b[key] is None)
        if a[key] is not None:
            np.testing.assert_array_equal(a[key], b[key])
    assert h.config.features == tuple(model.config.features)
    assert h.config.elements == tuple(model.config.elements)


@pytest.mark.parametrize("standardised", [True, False])
def test_load_head_reads_the_torch_models_weights(tmp_path, standardised, rng):
    """`load_head` (safetensors' NumPy reader, no torch) gives the arrays `head_arrays` takes from the
    loaded torch model, bit for bit, and so the same kernel results."""
    m = small_model((13, 6), seed=4, standardised=standardised)
    m.save(tmp_path / "m")
    h = load_head(tmp_path / "m")
    assert isinstance(h, SSVAEHead) and h.source.endswith("model.safetensors")
    _assert_same_head(h, SSVAE.load(tmp_path / "m"))
    _assert_same_head(h, m)
    e = rng.normal(size=(50, 8)) * 3
    np.testing.assert_array_equal(ssvae_head(h, e), ssvae_head(m, e))
    np.testing.assert_array_equal(ssvae_head_coalitions(h, e[:2], e[10:30]), ssvae_head_coalitions(m, e[:2], e[10:30]))


def test_load_head_bundled_and_released(shared_data):
    _assert_same_head(load_head("default"), load_model("default"))
    _assert_same_head(load_head("ssvae"), load_model("default"))
    _assert_same_head(load_head("released"), load_model("released"))
    assert load_head("released").mean is None  # the authors' model reads raw descriptors


def test_load_head_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_head(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        load_head(tmp_path)
    m = small_model((5,), seed=1)
    m.save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"model.safetensors: not a readable safetensors file"):
        load_head(tmp_path / "m")
    weights.write_bytes(good)
    cfg = tmp_path / "m" / "config.json"
    import json

    meta = json.loads(cfg.read_text())
    meta["config"]["hidden"] = [6]
    cfg.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"encoder_y.linears.0 has weight \(5, 8\).*needs \(6, 8\)"):
        load_head(tmp_path / "m")
    cfg.write_text("{broken")
    with pytest.raises(Exception, match="config.json"):
        load_head(tmp_path / "m")


def test_bad_arguments():
    m = small_model((5,))
    a = head_arrays(m)
    e = np.zeros((2, 8))
    with pytest.raises(ValueError, match="model has 8 features"):
        ssvae_head(m, np.zeros((2, 7)))
    with pytest.raises(ValueError, match="output"):
        ssvae_head(m, e, output="odds")
    with pytest.raises(ValueError, match="dtype"):
        ssvae_head(m, e, dtype="float16")
    with pytest.raises(ValueError, match="last layer must have 1 output"):
        core.ssvae_head(e, a["weights"][:1], a["biases"][:1])
    with pytest.raises(ValueError, match="biases"):
        core.ssvae_head(e, a["weights"], a["biases"][:1])
    with pytest.raises(ValueError, match=r"weights\[1\]: dimension 1 has size 5, expected 4"):
        core.ssvae_head(e, [a["weights"][0][:4], a["weights"][1]], [a["biases"][0][:4], a["biases"][1]])
    w = [w.copy() for w in a["weights"]]
    w[1][0, 2] = np.nan
    with pytest.raises(ValueError, match=r"weights\[1\]: non-finite"):
        core.ssvae_head(e, w, a["biases"])
    with pytest.raises(ValueError, match=r"std\[3\]"):
        core.ssvae_head(e, a["weights"], a["biases"], mean=np.zeros(8), std=np.array([1, 1, 1, 0.0, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="both mean and std"):
        core.ssvae_head(e, a["weights"], a["biases"], mean=np.zeros(8))
    with pytest.raises(ValueError, match="background is empty"):
        ssvae_head_coalitions(m, e, np.empty((0, 8)))
    with pytest.raises(ValueError, match="x: non-finite value nan at row 1, column 0"):
        ssvae_head_coalitions(m, np.array([[0.0] * 8, [np.nan] + [0.0] * 7]), e)


# ---- lattice screening ---------------------------------------------------------------------------
PALETTE = ("Al", "Co", "Cr", "Fe", "Mn", "Ni", "Ti", "V", "Nb", "Mo")


def test_lattice_scores_match_decode_featurize_head():
    """core.ssvae_head_lattice (ranks -> descriptors -> head, one pass) equals decoding the ranks,
    featurizing them with the same element data and evaluating the head (bitwise with float64, as the
    descriptors are bitwise those of the descriptor kernel)."""
    from hea_fast.features import DESCRIPTOR_INDEX, featurize_array
    from hea_fast.screen import CompositionSpace
    from hea_fast.screen.palette import fused_inputs
    from hea_fast.screen.spaces import native_lattice

    names = ("K", "Vm", "Tm", "VEC", "delta", "dchi_pauling", "dS_mix", "dH_mix")
    space = CompositionSpace(PALETTE, n_elements=(2, 3, 4), step_percent=10)
    props, H, gas, log_offset, cols = fused_inputs(PALETTE, names, "default")
    assert list(cols) == [DESCRIPTOR_INDEX[n] for n in names]
    allowed = np.ones(len(PALETTE), np.uint8)
    allowed[PALETTE.index("Mn")] = 0
    n = len(space)
    args = (native_lattice(space), 0, n, props, H, gas, log_offset, cols, allowed)
    fr = space.fractions(0, n)
    e = featurize_array(_batch(fr), descriptors=list(names), table="default")
    m = small_model((17, 12), mean=list(e.mean(0)), std=list(e.std(0)))
    has_mn = fr[:, PALETTE.index("Mn")] > 0
    for dtype, tol in (("float64", 0.0), ("float32", None)):
        got = core.ssvae_head_lattice(*args, **head_arrays(m), dtype=dtype)
        assert np.isnan(got[has_mn]).all() and np.isfinite(got[~has_mn]).all()
        want = ssvae_head(m, e[~has_mn], dtype=dtype)
        if tol == 0.0:
            np.testing.assert_array_equal(got[~has_mn], want)
            np.testing.assert_allclose(got[~has_mn], ssvae_head_reference(m, e[~has_mn]), atol=1e-14)
        else:
            np.testing.assert_allclose(got[~has_mn], want, atol=1e-6)
    # any sub-range, any thread count: the same values
    full = core.ssvae_head_lattice(*args, **head_arrays(m))
    part = core.ssvae_head_lattice(args[0], 123, 4567, *args[3:], **head_arrays(m), threads=3)
    np.testing.assert_array_equal(part, full[123:4567])
    with pytest.raises(ValueError, match="outside the space"):
        core.ssvae_head_lattice(args[0], 0, n + 1, *args[3:], **head_arrays(m))
    with pytest.raises(ValueError, match="allowed"):
        core.ssvae_head_lattice(*args[:-1], allowed[:-1], **head_arrays(m))


def _batch(fr):
    from hea_fast.composition import CompositionBatch

    return CompositionBatch.from_valid(fr, PALETTE)


def test_ssvae_scorer_cpp_matches_torch_path():
    """screen() with SSVAEScorer: the C++ lattice path, the C++ general path and the previous torch
    path (engine="torch") agree to float32 rounding, and rank the same top compositions."""
    from hea_fast.features import featurize_array
    from hea_fast.screen import CompositionSpace, SSVAEScorer, screen
    from hea_fast.screen.engine import score_chunk

    pal = PALETTE + ("Ga",)  # Ga is not among the model's 30 elements: its compositions get NaN
    space = CompositionSpace(pal, n_elements=(3, 4), step_percent=10)
    e = featurize_array(space.decode(0, len(space)), descriptors="zeng2024")  # the bundled zeng2024 table
    m = small_model(mean=list(np.nanmean(e, 0)), std=list(np.nanstd(e, 0)))
    assert "Ga" not in m.config.elements
    cpp, tor = SSVAEScorer(m), SSVAEScorer(m, engine="torch")
    n = len(space)
    lat = cpp.lattice_columns(space, 0, n, "default", None)[cpp.name]
    batch = space.decode(0, n)
    gen = cpp.score(batch, None)
    old = tor.score(batch, None)
    assert tor.lattice_columns(space, 0, n, "default", None) is None
    has_pd = batch.fractions[:, pal.index("Ga")] > 0
    for v in (lat, gen, old):
        assert np.isnan(v[has_pd]).all() and np.isfinite(v[~has_pd]).all()
    np.testing.assert_array_equal(lat, gen)  # the same descriptors (lattice fractions) and kernel
    np.testing.assert_allclose(lat[~has_pd], old[~has_pd], atol=5e-6)  # the torch path rounds at.% to float32
    # screen() refuses the Ga palette (every Ga alloy would drop out unseen); without Ga it ranks the
    # same compositions as the lattice scores above
    with pytest.raises(ValueError, match="Ga is not among the SSVAE's 30 elements"):
        screen(space, cpp, top_k=20, progress=False)
    no_ga = CompositionSpace(pal, n_elements=(3, 4), step_percent=10, forbidden=("Ga",))
    r_cpp = screen(no_ga, cpp, top_k=20, progress=False, chunk_size=777)
    r_old = screen(no_ga, tor, top_k=20, progress=False, chunk_size=777)
    assert r_cpp.n_scored == r_old.n_scored == r_cpp.n_passing == r_old.n_passing == len(no_ga) == int((~has_pd).sum())
    np.testing.assert_array_equal(r_cpp.top[cpp.name], np.sort(lat[~has_pd])[::-1][:20])
    np.testing.assert_allclose(r_cpp.top[cpp.name], r_old.top[tor.name], atol=5e-6)
    assert len(set(r_cpp.top["rank"][:10]) & set(r_old.top["rank"][:10])) >= 9
    s, r, k = score_chunk(space, cpp, 100, 900, 5, None, "default")
    assert k == int((~has_pd[100:900]).sum()) and np.all(np.diff(s) <= 0)
    np.testing.assert_array_equal(s, np.sort(lat[100:900][~has_pd[100:900]])[::-1][:5])
    with pytest.raises(ValueError, match="engine"):
        SSVAEScorer(m, engine="numpy")
