"""The paper's X-Yield methods: sparsity counts, IMP fractions, selection on validation only, Mix
from scratch on the union, the authors' preset (hea_fast.xyield.paper)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hea_fast.xyield import paper
from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.protocol import TransferConfig, transfer
from hea_fast.xyield.sparsity import magnitude_prune_, sparsity_report

TINY = dict(channels=(2, 3, 2), hidden=4)


pytestmark = pytest.mark.usefixtures("torch_one_thread")



def _brute_zero_counts(model, mode):
    """Independent count: loop over every weight in numpy, gate g(m) = m²/(m²+ε) written out."""
    out = {}
    for i, c in enumerate(model.masked_convs()):
        th = c.weight.detach().numpy().ravel()
        pm = c.prune_mask.numpy().ravel()
        ms = c.m_s.detach().numpy().ravel()
        mt = c.m_t.detach().numpy().ravel()
        eps = float(c.eps)
        eff = 0
        for j in range(th.size):
            w = th[j] * pm[j]
            if "s" in mode:
                w *= ms[j] ** 2 / (ms[j] ** 2 + eps)
            if "t" in mode:
                w *= mt[j] ** 2 / (mt[j] ** 2 + eps)
            eff += w == 0
        out[f"conv{i + 1}"] = {"n": th.size, "pruned": int((pm == 0).sum()), "m_s_zero": int((ms == 0).sum()),
                               "m_t_zero": int((mt == 0).sum()), "effective_zero": int(eff)}
    return out


@pytest.mark.parametrize("mode", ["none", "s", "t", "st"])
def test_sparsity_report_counts_equal_brute_force(mode):
    torch.manual_seed(0)
    m = XYieldCNN(CNNConfig(**TINY))
    magnitude_prune_(m, 0.3, "global")
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for c in m.masked_convs():
            c.m_s.mul_((torch.rand(c.m_s.shape, generator=g) > 0.25).float())
            c.m_t.mul_((torch.rand(c.m_t.shape, generator=g) > 0.4).float())
    m.set_mode(mode)
    rep = sparsity_report(m)
    ref = _brute_zero_counts(m, mode)
    for layer, r in ref.items():
        for k, v in r.items():
            assert rep[layer][k] == v, (layer, k)
    assert rep["total"]["effective_zero"] == sum(r["effective_zero"] for r in ref.values())
    if mode == "st":  # every mechanism counted: the effective zeros are the union of the three
        assert rep["total"]["effective_zero"] > rep["total"]["pruned"]


def test_every_sparse_run_reports_counts_per_layer_and_mask(pseudoimage_data):
    x, y = pseudoimage_data(8, 3)
    xl, yl = pseudoimage_data(24, 4)
    cfg = TransferConfig(epochs=2, gamma=0.2)  # strong λ: the masks reach exact zeros
    _, info = transfer("birpt", x, y, x_low=xl, y_low=yl, pretrained=XYieldCNN(CNNConfig(**TINY)), cfg=cfg)
    rep = info["sparsity_counts"]
    assert set(rep) == {"conv1", "conv2", "conv3", "total"}
    assert rep["total"]["m_s_zero"] > 0 and rep["total"]["m_t_zero"] > 0
    assert rep["total"]["effective_zero"] >= max(rep["total"]["m_s_zero"], rep["total"]["m_t_zero"])


def test_global_imp_prunes_the_stated_fraction_of_survivors_per_round():
    torch.manual_seed(5)
    m = XYieldCNN(CNNConfig(**TINY))
    n = sum(c.weight.numel() for c in m.masked_convs())
    alive = n
    for _round in range(4):
        before = np.concatenate([(c.weight.detach().abs() * c.prune_mask).numpy().ravel() for c in m.masked_convs()])
        was_alive = np.concatenate([c.prune_mask.numpy().ravel() for c in m.masked_convs()]) > 0
        magnitude_prune_(m, 0.2, "global")
        k = int(round(0.2 * alive))
        alive -= k
        now_alive = np.concatenate([c.prune_mask.numpy().ravel() for c in m.masked_convs()]) > 0
        assert now_alive.sum() == alive
        removed = was_alive & ~now_alive
        assert removed.sum() == k
        # brute force: the removed entries are the k smallest |θ| among the survivors, over all layers
        assert before[removed].max() <= before[was_alive & now_alive].min()
    assert sparsity_report(m)["total"]["pruned"] == n - alive


def test_imp_transfer_rounds_prune_20_percent_per_round(pseudoimage_data):
    x, y = pseudoimage_data(10, 6)
    cfg = TransferConfig(epochs=2, step_size=1)
    runs = paper.imp_transfer_rounds(x, y, XYieldCNN(CNNConfig(**TINY)), cfg, rounds=3,
                                     retrain=TransferConfig(epochs=1), seed=0)
    n = runs[0][1]["sparsity_counts"]["total"]["n"]
    alive = n
    for nt, (_model, info) in enumerate(runs):
        assert info["sparsity_counts"]["total"]["pruned"] == n - alive, nt
        alive -= int(round(0.2 * alive))


def _chain(x_low, y_low):
    torch.manual_seed(0)
    pre = XYieldCNN(CNNConfig(**TINY))
    cfg = paper.PAPER_PRETRAIN.__class__(epochs=1, batch_size=8, lr=1e-3, imp_epochs=1)
    return paper.imp_pretrain_chain(pre, x_low, y_low, rounds=1, cfg=cfg)


def test_grid_choices_do_not_depend_on_the_test_set(pseudoimage_data):
    x, y = pseudoimage_data(10, 7)
    xl, yl = pseudoimage_data(32, 8)
    chain = _chain(xl, yl)
    cfg = TransferConfig(epochs=3, step_size=2)
    retrain = TransferConfig(epochs=1)
    xt, yt = pseudoimage_data(20, 9)
    xt2, yt2 = pseudoimage_data(20, 10, scale=-2.0)  # a different test set with different targets
    a = paper.run_grid_methods(x, y, xt, yt.numpy(), chain, cfg, seed=1, nt_max=4, retrain=retrain)
    b = paper.run_grid_methods(x, y, xt2, yt2.numpy(), chain, cfg, seed=1, nt_max=4, retrain=retrain)
    assert set(a) == {"pretrain_transfer", "imp_transfer"}  # hand_tune / imp_pretrain need the full grid
    for m in a:
        assert a[m]["chosen"] == b[m]["chosen"] and a[m]["candidates_val"] == b[m]["candidates_val"]
        assert a[m]["mse"] != b[m]["mse"]  # the test set did change
        cands = a[m]["candidates_val"]
        assert a[m]["val"] == min(cands.values())  # the choice is the validation minimum


def test_select_uses_validation_score_and_first_on_ties():
    c = {(0, 0): (None, {"val": 0.3}), (0, 1): (None, {"val": 0.1}), (1, 0): (None, {"val": 0.1})}
    assert paper.select(c) == (0, 1)
    full = {cell: (None, {"val": float(i)}) for i, cell in enumerate(itertools.product(range(6), range(5)))}
    full[(3, 2)] = (None, {"val": -1.0})
    full[(2, 0)] = (None, {"val": -0.5})
    full[(0, 4)] = (None, {"val": -0.2})
    sel = paper.select_grid_methods(full)
    assert sel == {"pretrain_transfer": (0, 0), "hand_tune": (3, 2), "imp_pretrain": (2, 0), "imp_transfer": (0, 4)}


def test_mix_trains_from_scratch_on_the_union(monkeypatch, pseudoimage_data):
    """One epoch of Mix sees every simulated point and every fit point exactly once and never a
    validation point; it starts from a fresh initialisation (no pretrained model enters)."""
    x, _ = pseudoimage_data(10, 11)
    xl, _ = pseudoimage_data(40, 12)
    y = torch.arange(1000, 1010, dtype=torch.float32)  # targets as identifiers
    yl = torch.arange(0, 40, dtype=torch.float32)
    seen = []
    real = paper.loss_fn

    def spy(model, out, target):
        if model.training:
            seen.extend(target.tolist())
        return real(model, out, target)

    monkeypatch.setattr(paper, "loss_fn", spy)
    model, info = paper.train_mix(x, y, xl, yl, CNNConfig(**TINY), paper.MixConfig(epochs=1, batch_size=7,
                                                                                       eval_every=3), seed=2)
    fit = {1000 + i for i in info["fit_idx"]}
    val = {1000 + i for i in info["val_idx"]}
    assert sorted(seen) == sorted(set(range(40)) | fit)
    assert not (set(seen) & val) and info["n_union"] == 40 + len(fit)
    # from scratch: the first training step saw the seeded fresh initialisation
    torch.manual_seed(2)
    fresh = XYieldCNN(CNNConfig(**TINY))
    m2, _ = paper.train_mix(x, y, xl, yl, CNNConfig(**TINY), paper.MixConfig(epochs=1, batch_size=7, max_steps=0 + 1,
                                                                                eval_every=1), seed=2)
    w_fresh = fresh.convs[0].weight.detach()
    w_after1 = m2.convs[0].weight.detach()
    assert float((w_after1 - w_fresh).abs().max()) < 1e-3  # one Adam step of lr 1e-4 from the fresh weights


def test_paper_preset_values():
    p = paper.PAPER_TRANSFER["5pct"]
    assert (p.gamma, p.lr_mask, p.epochs, p.batch_size, p.step_size, p.lr_decay, p.lr_w) == (3e-3, 3.5, 90, 4, 30,
                                                                                               0.1, 1e-3)
    assert (p.eps0, p.eps_decay, p.lower_steps) == (0.1, 0.9, 1)
    q = paper.PAPER_PRETRAIN
    assert (q.lr, q.batch_size, q.epochs, q.imp_rate, q.imp_scope) == (1e-4, 16, 10, 0.2, "global")
    assert paper.PAPER_LOW_TEMPERATURES_K[0] == 300 and paper.PAPER_LOW_TEMPERATURES_K[-1] == 2500
    assert paper.HAND_TUNE_NS == (0, 1, 2, 3, 4, 5) and paper.HAND_TUNE_NT == (0, 1, 2, 3, 4)
    assert len(paper.GRID_METHODS["hand_tune"]) == 30


def test_transfer_optimiser_is_sgd_with_steplr(monkeypatch, pseudoimage_data):
    made = []
    real_sgd, real_step = torch.optim.SGD, torch.optim.lr_scheduler.StepLR

    def sgd(*a, **k):
        made.append("SGD")
        return real_sgd(*a, **k)

    def step(opt, step_size, gamma):
        made.append(("StepLR", step_size, gamma))
        return real_step(opt, step_size=step_size, gamma=gamma)

    monkeypatch.setattr(torch.optim, "SGD", sgd)
    monkeypatch.setattr(torch.optim.lr_scheduler, "StepLR", step)
    x, y = pseudoimage_data(6, 13)
    xl, yl = pseudoimage_data(12, 14)
    from dataclasses import replace

    transfer("birpt", x, y, x_low=xl, y_low=yl, pretrained=XYieldCNN(CNNConfig(**TINY)),
             cfg=replace(paper.PAPER_TRANSFER["5pct"], epochs=1))
    assert made == ["SGD", ("StepLR", 30, 0.1)]
