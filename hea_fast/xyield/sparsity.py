"""Sparsity machinery for X-Yield transfer: iterative magnitude pruning and the Bi-RPT step.

Bi-RPT (Chen et al., cross-quality few-shot transfer for alloy yield strength) learns two
smoothed-ℓ0 masks on the conv weights θ, g_ε(m) = m²/(m²+ε):

* lower level (simulated, low-quality data D_s): one SGD step on the weights through
  W_s = θ ⊙ g(m_s):   θ' = θ − η ∇_θ L_s(θ, m_s);
* upper level (experimental, high-quality data D_t): loss L_t(θ', m_s, m_t) through
  W_t = θ' ⊙ g(m_s) ⊙ g(m_t).

The hypergradient of the upper loss with respect to m_s (first-order unrolling of the lower step)
is

    dL_t/dm_s = ∂L_t/∂m_s |_θ'  −  η ∂/∂m_s [ ∇_θ L_s(θ, m_s) · v ],    v = ∇_θ' L_t (held fixed),

i.e. the direct gradient plus a correction with a *minus* sign (the authors' code subtracts
η·∂(g_w·v)/∂α from α.grad); `unrolled_ms_correction` returns that correction and
tests/test_xyield_protocol.py checks the sum against a finite-difference hypergradient. Each mask
then takes an SGD step followed by the ℓ1 proximal soft threshold with λ = lr_mask·γ
(`hea_fast.xyield.masked_l0.prox_soft_threshold_`, in place). ε decays geometrically per epoch.

Iterative magnitude pruning (IMP; the paper's "Hand-Tune" applies it at both stages): each round
removes `rate` (20 %) of the conv weights still alive by |θ|, over all conv layers together (the
authors' global pruning) or layer by layer; the binary masks of successive rounds multiply.
`sparsity_report` counts the exactly-removed weights per layer and per mask.
"""
from __future__ import annotations

from contextlib import contextmanager

# isort: off
import hea_fast.xyield._requires  # noqa: F401  (names the [xyield] extra when a package is missing)
import torch
import torch.nn.functional as F
# isort: on

from hea_fast.xyield.cnn import XYieldCNN
from hea_fast.xyield.masked_l0 import masked_weight_reference, prox_soft_threshold_

__all__ = [
    "loss_fn",
    "frozen_bn_stats",
    "magnitude_prune_",
    "sparsity_report",
    "LowerGraph",
    "snapshot",
    "lower_level_graph",
    "unrolled_ms_correction",
    "prox_masks_",
    "birpt_step",
]


def loss_fn(model: XYieldCNN, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE (GPa²) for regression, cross-entropy for the 5-bin classification."""
    if model.config.task == "regression":
        return F.mse_loss(out, y)
    return F.cross_entropy(out, y.long())


@contextmanager
def frozen_bn_stats(model: torch.nn.Module):
    """Forward in train mode (batch statistics) without touching the BN running statistics: the
    extra forwards of the hypergradient must not count as training passes."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.0  # running = (1-0)*running + 0*batch
    try:
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom


@torch.no_grad()
def magnitude_prune_(model: XYieldCNN, rate: float = 0.2, scope: str = "layer") -> list[torch.Tensor]:
    """One IMP round: zero `rate` of the conv weights still alive with the smallest |θ| (ties broken
    by index), either in each masked conv separately (``scope="layer"``) or over all masked convs
    together (``scope="global"``, the authors' ``prune.global_unstructured(L1Unstructured)``).
    Multiplies `prune_mask` in place and zeroes the pruned θ; returns this round's binary masks
    (so callers can keep the pretraining and transfer masks apart)."""
    if not (0.0 < rate < 1.0):
        raise ValueError(f"prune rate must lie in (0, 1), got {rate!r}")
    if scope not in ("layer", "global"):
        raise ValueError(f"prune scope must be 'layer' or 'global', got {scope!r}")
    convs = model.masked_convs()
    mags, alives = [], []
    for conv in convs:
        alive = conv.prune_mask.flatten() > 0
        mag = conv.weight.detach().abs().flatten().clone()
        mag[~alive] = float("inf")
        mags.append(mag)
        alives.append(alive)
    flat_masks = [torch.ones_like(m) for m in mags]
    if scope == "layer":
        for mag, alive, mask in zip(mags, alives, flat_masks):
            k = int(round(rate * int(alive.sum())))
            if k > 0:
                mask[torch.argsort(mag, stable=True)[:k]] = 0
    else:
        allmag = torch.cat(mags)
        k = int(round(rate * int(torch.cat(alives).sum())))
        if k > 0:
            allmask = torch.ones_like(allmag)
            allmask[torch.argsort(allmag, stable=True)[:k]] = 0
            flat_masks = list(torch.split(allmask, [m.numel() for m in mags]))
    round_masks = []
    for conv, mask in zip(convs, flat_masks):
        mask = mask.reshape(conv.prune_mask.shape).clone()
        conv.prune_mask.mul_(mask)
        conv.weight.mul_(conv.prune_mask)
        round_masks.append(mask)
    return round_masks


@torch.no_grad()
def sparsity_report(model: XYieldCNN, mode: str | None = None) -> dict:
    """Per masked conv layer and per mask, the number of weights removed exactly (counts, not gates).

    For each layer: ``n`` weights; ``pruned`` (IMP `prune_mask` == 0), ``m_s_zero`` / ``m_t_zero``
    (Bi-RPT mask entries at exactly 0 after the proximal step, so g_ε(m) = 0), and
    ``effective_zero``: entries of the effective weight θ ⊙ prune_mask ⊙ g(m_s) ⊙ g(m_t) (gates of
    `mode`, default the layer's current mode) that are exactly 0 — whatever removed them, θ = 0
    included. ``*_fraction`` = count / n. ``total`` sums the counts over the layers."""
    out, tot = {}, {}
    for i, c in enumerate(model.masked_convs()):
        md = c.mode if mode is None else mode
        n = c.weight.numel()
        w = c.effective_weight(md).detach()
        rec = {"n": n, "pruned": int((c.prune_mask == 0).sum()),
               "m_s_zero": int((c.m_s == 0).sum()), "m_t_zero": int((c.m_t == 0).sum()),
               "effective_zero": int((w == 0).sum()), "mode": md}
        for k in ("pruned", "m_s_zero", "m_t_zero", "effective_zero"):
            rec[k + "_fraction"] = rec[k] / n
            tot[k] = tot.get(k, 0) + rec[k]
        tot["n"] = tot.get("n", 0) + n
        out[f"conv{i + 1}"] = rec
    if tot:
        for k in ("pruned", "m_s_zero", "m_t_zero", "effective_zero"):
            tot[k + "_fraction"] = tot[k] / tot["n"]
        out["total"] = tot
    return out


class LowerGraph:
    """Autograd graph of ∇_θ L_s(θ, m_s) at the pre-step weights, kept until v is known."""

    def __init__(self, ms_leaves, grads):
        self.ms_leaves = ms_leaves
        self.grads = grads


def snapshot(model: XYieldCNN) -> dict:
    """Detached copies of every parameter and buffer (the pre-step point of the unrolling)."""
    snap = {k: v.detach().clone() for k, v in model.named_parameters()}
    snap.update({k: v.detach().clone() for k, v in model.named_buffers()})
    return snap


def lower_level_graph(model: XYieldCNN, x: torch.Tensor, y: torch.Tensor, snap: dict | None = None) -> LowerGraph:
    """Builds g = ∇_θ L_s(θ, m_s) with create_graph=True, as a function of leaf copies of m_s,
    at the parameters in `snap` (default: the current ones).

    Uses the pure-torch gate (twice differentiable); the fused kernel is first-order only."""
    from torch.func import functional_call

    snap = snapshot(model) if snap is None else {k: v.clone() for k, v in snap.items()}
    names = [n for n, m in model.named_modules() if m in set(model.masked_convs())]
    convs = model.masked_convs()
    thetas, ms = [], []
    for name, c in zip(names, convs):
        th = snap[f"{name}.weight"]
        if bool(torch.any(snap[f"{name}.prune_mask"] != 1)):
            th = th * snap[f"{name}.prune_mask"]
        thetas.append(th.detach().requires_grad_(True))
        ms.append(snap[f"{name}.m_s"].detach().requires_grad_(True))
    weights = [masked_weight_reference(t, m, None, float(snap[f"{n}.eps"])) for t, m, n in zip(thetas, ms, names)]
    with frozen_bn_stats(model):
        out = functional_call(model, snap, (x,), {"weights": weights})
    loss = loss_fn(model, out, y)
    grads = torch.autograd.grad(loss, thetas, create_graph=True)
    return LowerGraph(ms, grads)


def unrolled_ms_correction(graph: LowerGraph, v: list[torch.Tensor], lr: float) -> list[torch.Tensor]:
    """−η ∂/∂m_s [Σ_l ∇_θl L_s · v_l]: the first-order unrolled correction to dL_t/dm_s."""
    aux = sum((g * vi.detach()).sum() for g, vi in zip(graph.grads, v))
    d = torch.autograd.grad(aux, graph.ms_leaves, allow_unused=True)
    return [(-lr * di) if di is not None else torch.zeros_like(m) for di, m in zip(d, graph.ms_leaves)]


@torch.no_grad()
def prox_masks_(model: XYieldCNN, lam: float, which: str = "st") -> int:
    """Soft-threshold every mask in place; returns the total number of zero mask entries."""
    zeros = 0
    for p in model.mask_parameters(which):
        zeros += prox_soft_threshold_(p.data, lam)
    return zeros


def birpt_step(model: XYieldCNN, optimizer: torch.optim.Optimizer, x_t, y_t, x_s, y_s, *,
               lr_w: float, lr_mask: float, gamma: float, use_ms: bool = True, use_mt: bool = True,
               lower_steps: int = 1) -> dict:
    """One Bi-RPT update on a high-quality batch (x_t, y_t) and a simulated batch (x_s, y_s).

    `optimizer` holds the weight parameters (lr_w) and the masks (lr_mask) in its param groups;
    its current learning rates are used (schedulers apply)."""
    convs = model.masked_convs()
    model.train()
    snap = snapshot(model) if (lower_steps > 0 and use_ms) else None
    # lower level: weight step on simulated data through θ ⊙ g(m_s)
    loss_s = torch.tensor(float("nan"))
    if lower_steps > 0:
        model.set_mode("s" if use_ms else "none")
        wparams = model.weight_parameters()
        for _ in range(lower_steps):
            optimizer.zero_grad(set_to_none=True)
            loss_s = loss_fn(model, model(x_s), y_s)
            grads = torch.autograd.grad(loss_s, wparams, allow_unused=True)
            with torch.no_grad():
                for p, g in zip(wparams, grads):
                    if g is not None:
                        p.sub_(lr_w * g)
    # upper level: experimental data through θ' ⊙ g(m_s) ⊙ g(m_t)
    mode = ("s" if use_ms else "") + ("t" if use_mt else "")
    model.set_mode(mode or "none")
    optimizer.zero_grad(set_to_none=True)
    loss_t = loss_fn(model, model(x_t), y_t)
    loss_t.backward()
    if snap is not None:
        # The correction is built after the upper backward, from the pre-step snapshot, so the
        # in-place weight updates of the lower step cannot invalidate its graph.
        graph = lower_level_graph(model, x_s, y_s, snap)
        v = [c.weight.grad if c.weight.grad is not None else torch.zeros_like(c.weight) for c in convs]
        corr = unrolled_ms_correction(graph, v, lr_w)
        for c, d in zip(convs, corr):
            if c.m_s.grad is None:
                c.m_s.grad = d.clone()
            else:
                c.m_s.grad.add_(d)
    for c in convs:  # a mask that is not in use must not move
        if not use_ms:
            c.m_s.grad = None
        if not use_mt:
            c.m_t.grad = None
    optimizer.step()
    which = ("s" if use_ms else "") + ("t" if use_mt else "")
    zeros = prox_masks_(model, lr_mask * gamma, which) if which else 0
    return {"loss_t": float(loss_t.detach()), "loss_s": float(loss_s.detach()), "mask_zeros": zeros}
