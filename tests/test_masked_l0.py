"""Fused smoothed-ℓ0 masked weights: kernel vs closed forms, gradcheck, unfused torch reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hea_fast._backend import core
from hea_fast.xyield.masked_l0 import (
    MaskError,
    gate,
    gate_reference,
    masked_weight,
    masked_weight_op,
    masked_weight_reference,
    prox_soft_threshold_,
    prox_soft_threshold_reference,
)


def _tensors(shape, dtype=torch.float64, seed=0, grad=True):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype).requires_grad_(grad) for _ in range(3)]


@pytest.mark.parametrize("fn", [masked_weight, masked_weight_op])
@pytest.mark.parametrize("which", ["both", "s", "t", "none"])
def test_gradcheck_float64(fn, which):
    th, ms, mt = _tensors((4, 3, 3), seed=1)
    ms = ms if which in ("both", "s") else None
    mt = mt if which in ("both", "t") else None
    inputs = tuple(x for x in (th, ms, mt) if x is not None)

    def f(*xs):
        it = iter(xs)
        a = next(it)
        b = next(it) if ms is not None else None
        c = next(it) if mt is not None else None
        return fn(a, b, c, 0.37)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-8)


def test_gate_and_derivative_closed_form():
    # g(m) = m²/(m²+ε) and g'(m) = 2mε/(m²+ε)² at hand-picked points.
    m = torch.tensor([0.0, 1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    eps = 0.25
    th = torch.ones(4, dtype=torch.float64)
    w = masked_weight(th, m, None, eps)
    expect = torch.tensor([0.0, 1 / 1.25, 4 / 4.25, 0.25 / 0.5], dtype=torch.float64)
    torch.testing.assert_close(w.detach(), expect, rtol=0, atol=1e-15)
    (gm,) = torch.autograd.grad(w.sum(), m)
    mm = m.detach()
    torch.testing.assert_close(gm, 2 * mm * eps / (mm * mm + eps) ** 2, rtol=1e-14, atol=0)
    torch.testing.assert_close(gate(m.detach(), eps), expect, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 2e-6)])
def test_matches_unfused_reference_forward_backward(dtype, tol):
    th, ms, mt = _tensors((64, 32, 3, 3), dtype=dtype, seed=2)
    g = torch.randn(th.shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    w = masked_weight(th, ms, mt, 0.05)
    wr = masked_weight_reference(th, ms, mt, 0.05)
    torch.testing.assert_close(w, wr, rtol=tol, atol=tol)
    a = torch.autograd.grad(w, (th, ms, mt), g)
    b = torch.autograd.grad(wr, (th, ms, mt), g)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=10 * tol, atol=10 * tol)


def test_only_requested_gradients_flow():
    th, ms, mt = _tensors((5, 2), seed=4)
    ms.requires_grad_(False)
    w = masked_weight(th, ms, mt, 0.1)
    w.sum().backward()
    assert ms.grad is None and th.grad is not None and mt.grad is not None
    torch.testing.assert_close(th.grad, (gate_reference(ms, 0.1) * gate_reference(mt, 0.1)).detach())


def test_custom_op_passes_opcheck():
    # schema, fake (meta) kernel and autograd registration agree with the real kernel
    th, ms, mt = _tensors((4, 3, 3), seed=9)
    torch.library.opcheck(torch.ops.hea_fast.masked_weight.default, (th, ms, mt, 0.2))
    torch.library.opcheck(torch.ops.hea_fast.masked_weight.default, (th, None, mt, 0.2))


def test_double_backward_is_refused_not_silently_wrong():
    th, ms, mt = _tensors((3, 2), seed=6)
    w = masked_weight(th, ms, mt, 0.1)
    with pytest.raises(RuntimeError, match="first-order only"):
        torch.autograd.grad(w.sum(), ms, create_graph=True)


def test_prox_soft_threshold_closed_form_and_in_place():
    m = torch.tensor([1.0, -1.0, 0.05, -0.05, 0.1, 0.0, 3.0], dtype=torch.float64)
    ptr = m.data_ptr()
    z = prox_soft_threshold_(m, 0.1)
    expect = torch.tensor([0.9, -0.9, 0.0, 0.0, 0.0, 0.0, 2.9], dtype=torch.float64)
    torch.testing.assert_close(m, expect, rtol=0, atol=1e-15)
    assert m.data_ptr() == ptr and z == 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prox_matches_reference(dtype):
    m = torch.randn(1000, generator=torch.Generator().manual_seed(3), dtype=dtype)
    want = prox_soft_threshold_reference(m, 0.4)
    z = prox_soft_threshold_(m, 0.4)
    torch.testing.assert_close(m, want, rtol=0, atol=0)
    assert z == int((want == 0).sum())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prox_keeps_nan_and_inf(dtype):
    """A diverged mask must stay visible: NaN stays NaN (the kernel used to write 0 and count it as a
    pruned weight), ±inf shrink to ±inf; as the torch reference and IEEE sign(m)·max(|m| − λ, 0)."""
    nan, inf = float("nan"), float("inf")
    m = torch.tensor([nan, inf, -inf, 0.5, -0.05, nan], dtype=dtype)
    want = prox_soft_threshold_reference(m, 0.1)
    z = prox_soft_threshold_(m, 0.1)
    torch.testing.assert_close(m, want, rtol=0, atol=0, equal_nan=True)
    assert torch.isnan(m[[0, 5]]).all() and m[1] == inf and m[2] == -inf
    assert z == 1  # only -0.05 became an exact zero


def test_deprecated_module_name():
    import importlib
    import sys

    sys.modules.pop("hea_fast.xyield.masked", None)
    with pytest.warns(DeprecationWarning, match="masked_l0"):
        old = importlib.import_module("hea_fast.xyield.masked")
    assert old.masked_weight is masked_weight


def test_prox_is_the_l1_proximal_operator():
    # prox_{λ|.|}(v) = argmin_x ½(x−v)² + λ|x|: compare with a brute-force grid minimisation.
    rng = np.random.default_rng(0)
    v = rng.normal(size=50)
    lam = 0.3
    grid = np.linspace(-4, 4, 80001)
    brute = np.array([grid[np.argmin(0.5 * (grid - vi) ** 2 + lam * np.abs(grid))] for vi in v])
    t = torch.tensor(v)
    prox_soft_threshold_(t, lam)
    np.testing.assert_allclose(t.numpy(), brute, atol=1e-4)


def test_prox_thread_count_independent_on_large_input():
    rng = np.random.default_rng(1)
    a = rng.normal(size=300_000)
    b = a.copy()
    za = core.prox_soft_threshold(a, 0.5, threads=1)
    zb = core.prox_soft_threshold(b, 0.5, threads=4)
    assert za == zb == int(np.sum(a == 0))
    np.testing.assert_array_equal(a, b)


def test_bad_inputs_raise_value_errors():
    th = torch.randn(3, 3)
    with pytest.raises(MaskError, match="eps"):
        masked_weight(th, torch.randn(3, 3), None, 0.0)
    with pytest.raises(MaskError, match="shape"):
        masked_weight(th, torch.randn(3, 2), None, 0.1)
    with pytest.raises(MaskError, match="dtype"):
        masked_weight(th, torch.randn(3, 3, dtype=torch.float64), None, 0.1)
    with pytest.raises(MaskError, match="float32/float64"):
        masked_weight(th.to(torch.float16))
    with pytest.raises(MaskError, match="lam"):
        prox_soft_threshold_(th, -1.0)
    with pytest.raises(ValueError, match="float32 or float64"):
        core.masked_weight_forward(np.zeros(3, dtype=np.int64), None, None, 0.1)
    with pytest.raises(ValueError, match="m_s: has 2 elements"):
        core.masked_weight_forward(np.zeros(3), np.zeros(2), None, 0.1)
    with pytest.raises(ValueError, match="read-only"):
        a = np.ones(3)
        a.setflags(write=False)
        core.prox_soft_threshold(a, 0.1)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    th, ms, mt = _tensors((64, 32, 3, 3), dtype=torch.float32, seed=5)
    g = torch.randn(th.shape)
    w = masked_weight(th, ms, mt, 0.1)
    grads = torch.autograd.grad(w, (th, ms, mt), g)
    thc, msc, mtc = (x.detach().cuda().requires_grad_() for x in (th, ms, mt))
    wc = masked_weight(thc, msc, mtc, 0.1)
    gc = torch.autograd.grad(wc, (thc, msc, mtc), g.cuda())
    torch.testing.assert_close(wc.cpu(), w, rtol=1e-5, atol=1e-6)
    for a, b in zip(gc, grads):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-6)
    m = ms.detach().clone()
    mc = m.cuda()
    prox_soft_threshold_(m, 0.2)
    prox_soft_threshold_(mc, 0.2)
    torch.testing.assert_close(mc.cpu(), m)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=_finite),
       arrays(np.float64, 40, elements=_finite), arrays(np.float64, 40, elements=_finite),
       st.floats(1e-6, 10.0))
def test_property_forward_equals_formula(theta, ms, mt, eps):
    n = theta.size
    ms, mt = ms[:n].copy(), mt[:n].copy()
    w = core.masked_weight_forward(theta, ms, mt, eps, 1)
    ref = theta * (ms**2 / (ms**2 + eps)) * (mt**2 / (mt**2 + eps))
    np.testing.assert_allclose(w, ref, rtol=1e-12, atol=1e-12 * (1 + np.abs(theta).max()))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 64), elements=_finite), st.floats(0.0, 50.0))
def test_property_prox_shrinks_toward_zero_keeping_sign(m, lam):
    out = m.copy()
    z = core.prox_soft_threshold(out, lam, 1)
    assert np.all(np.abs(out) <= np.abs(m))
    assert np.all(out * m >= 0)  # never flips sign
    big = np.abs(m) > lam
    np.testing.assert_allclose(np.abs(m[big]) - np.abs(out[big]), lam, rtol=1e-9, atol=1e-9)
    assert np.all(out[~big] == 0) and z == int(np.sum(out == 0))
