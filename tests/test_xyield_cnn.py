"""X-Yield CNN: architecture, masked convolutions vs plain torch, iterative magnitude pruning."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.sparsity import magnitude_prune_


def _x(n=6, seed=0):
    return torch.rand(n, 2, 9, 18, generator=torch.Generator().manual_seed(seed))


def test_default_architecture_matches_paper():
    m = XYieldCNN()
    assert m.n_flat == 1152  # 64 channels × 3 × 6 after two padded 2×2 pools of 9×18
    assert [c.out_channels for c in m.convs] == [16, 32, 64]
    assert m.head[0].in_features == 1152 and m.head[0].out_features == 64 and m.head[2].out_features == 1
    assert m(_x()).shape == (6,)
    c = XYieldCNN(CNNConfig(task="classification"))
    assert c(_x()).shape == (6, 5)


def _plain_forward(model, x, weights):
    # Independent re-implementation with torch.nn.functional only.
    out = x
    for conv, bn, w, pool in zip(model.convs, model.bns, weights, model.config.pool_after):
        out = F.conv2d(out, w, conv.bias, padding=1)
        out = F.relu(F.batch_norm(out, bn.running_mean, bn.running_var, bn.weight, bn.bias, False))
        if pool:
            out = F.max_pool2d(out, 2, 2, padding=1)
    return model.head(out.flatten(1)).squeeze(-1)


@pytest.mark.parametrize("mode", ["none", "s", "t", "st"])
def test_masked_forward_equals_functional_reference(mode):
    torch.manual_seed(0)
    m = XYieldCNN().double().eval()
    for c in m.masked_convs():
        with torch.no_grad():
            c.m_s.normal_()
            c.m_t.normal_()
        c.eps.fill_(0.2)
    m.set_mode(mode)
    x = _x().double()
    ws = []
    for c in m.masked_convs():
        w = c.weight
        if "s" in mode:
            w = w * c.m_s**2 / (c.m_s**2 + 0.2)
        if "t" in mode:
            w = w * c.m_t**2 / (c.m_t**2 + 0.2)
        ws.append(w)
    torch.testing.assert_close(m(x), _plain_forward(m, x, ws), rtol=1e-12, atol=1e-12)


def test_fused_and_unfused_models_give_same_gradients():
    torch.manual_seed(1)
    a = XYieldCNN(CNNConfig(fused=True)).double()
    b = XYieldCNN(CNNConfig(fused=False)).double()
    b.load_state_dict(a.state_dict())
    for m in (a, b):
        m.set_mode("st")
    x, y = _x().double(), torch.rand(6, dtype=torch.float64)
    for m in (a, b):
        F.mse_loss(m(x), y).backward()
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-10, atol=1e-12, msg=na)


def test_magnitude_pruning_rounds_multiply_and_remove_smallest():
    torch.manual_seed(2)
    m = XYieldCNN()
    before = [c.weight.detach().abs().clone() for c in m.masked_convs()]
    r1 = magnitude_prune_(m, 0.2)
    for c, w0, mask in zip(m.masked_convs(), before, r1):
        n = w0.numel()
        k = round(0.2 * n)
        assert int((mask == 0).sum()) == k
        # brute force: the pruned entries are exactly the k smallest magnitudes
        thresh = torch.sort(w0.flatten()).values[k - 1]
        assert bool(torch.all(w0[mask == 0] <= thresh)) and bool(torch.all(w0[mask == 1] >= thresh))
        assert bool(torch.all(c.weight[mask == 0] == 0))
    r2 = magnitude_prune_(m, 0.2)
    for c, m1, m2 in zip(m.masked_convs(), r1, r2):
        n = c.weight.numel()
        alive = n - round(0.2 * n)
        assert int((c.prune_mask == 0).sum()) == n - (alive - round(0.2 * alive))
        torch.testing.assert_close(c.prune_mask, m1 * m2)  # masks multiply
        assert bool(torch.all(m2[m1 == 0] == 1))  # round 2 only removes survivors


def test_bad_input_shape_names_it():
    with pytest.raises(ValueError, match=r"\(n, 2, 9, 18\)"):
        XYieldCNN()(torch.zeros(3, 1, 9, 18))
    with pytest.raises(ValueError, match="task"):
        CNNConfig(task="ranking")
    with pytest.raises(ValueError, match="mode"):
        XYieldCNN().set_mode("x")
    with pytest.raises(ValueError, match="prune rate"):
        magnitude_prune_(XYieldCNN(), 1.5)


def test_configurable_depth_and_widths():
    cfg = CNNConfig(channels=(4, 8), pool_after=(True, False), hidden=16)
    m = XYieldCNN(cfg)
    assert m.n_flat == 8 * 5 * 10
    m2 = copy.deepcopy(m)
    assert m2(_x(2)).shape == (2,)
