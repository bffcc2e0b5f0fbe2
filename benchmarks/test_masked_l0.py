"""Fused smoothed-ℓ0 masked weight θ⊙g(m_s)⊙g(m_t): fused C++ kernel vs the unfused torch formula.

Ratios (unfused time / fused time) of forward + backward for (a) the X-Yield CNN's three conv
weights (2→16, 16→32, 32→64, 3×3: one call each, as in a training step), (b) a large 256×256×3×3
weight, and (c) a whole masked CNN training step (fwd+bwd, batch 4, mode "st"), where the
convolutions dilute the gain. Ratios: benchmarks/baselines/masked_l0.json; runs:
benchmarks/results/masked_l0.md.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.masked_l0 import masked_weight, masked_weight_reference


def _params(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).requires_grad_() for _ in range(3)]


def _fwd_bwd(fn, sets):
    def run():
        for th, ms, mt in sets:
            w = fn(th, ms, mt, 0.1)
            w.backward(torch.ones_like(w))

    return run


@pytest.fixture(autouse=True)
def _one_thread():
    # Ratios are per core: the shared 2-core VM makes multi-thread timings noisy.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_masked_weight_cnn_layers(benchmark, check_ratio, quick, timer):
    sets = [_params(s, i) for i, s in enumerate([(16, 2, 3, 3), (32, 16, 3, 3), (64, 32, 3, 3)])]
    rep = 3 if quick else 7
    t_ref = timer(_fwd_bwd(masked_weight_reference, sets), repeat=rep)
    t_fused = timer(_fwd_bwd(masked_weight, sets), repeat=rep)
    check_ratio("masked_l0_cnn_layers_fwd_bwd", t_ref / t_fused)
    benchmark.pedantic(_fwd_bwd(masked_weight, sets), rounds=5, iterations=1)


def test_masked_weight_large_layer(benchmark, check_ratio, quick, timer):
    shape = (64, 64, 3, 3) if quick else (256, 256, 3, 3)
    sets = [_params(shape, 7)]
    rep = 3 if quick else 7
    t_ref = timer(_fwd_bwd(masked_weight_reference, sets), repeat=rep)
    t_fused = timer(_fwd_bwd(masked_weight, sets), repeat=rep)
    check_ratio("masked_l0_large_fwd_bwd" + ("_quick" if quick else ""), t_ref / t_fused)
    benchmark.pedantic(_fwd_bwd(masked_weight, sets), rounds=5, iterations=1)


def test_masked_cnn_training_step(benchmark, check_ratio, quick, timer):
    torch.manual_seed(0)
    fused = XYieldCNN(CNNConfig(fused=True))
    plain = XYieldCNN(CNNConfig(fused=False))
    plain.load_state_dict(fused.state_dict())
    x, y = torch.rand(4, 2, 9, 18), torch.rand(4)

    def step(model):
        model.set_mode("st")

        def run():
            model.zero_grad(set_to_none=True)
            F.mse_loss(model(x), y).backward()

        return run

    rep = 3 if quick else 7
    t_ref = timer(step(plain), repeat=rep)
    t_fused = timer(step(fused), repeat=rep)
    check_ratio("masked_l0_cnn_step", t_ref / t_fused)
    benchmark.pedantic(step(fused), rounds=5, iterations=1)
