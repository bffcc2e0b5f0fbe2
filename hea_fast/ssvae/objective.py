"""The SSVAE training objective as batched torch code (Kingma et al. 2014 "M2", as used by Zeng, Khan &
Post, arXiv 2409.06740), and Pyro's value of it as the reference.

Per model (sums over the rows of one labelled and one unlabelled batch; φ summed out for unlabelled
rows):

  J = Σ_u −ELBO_u(x)  +  γ Σ_l [ −ELBO_l(x, φ) + α · BCE(q(φ | e), φ) ]

  ELBO_l = log p(x | φ, z) + log p(z) − log q(z | x, φ) + log p(φ),   z ~ q(z | x, φ)  (one sample)
  ELBO_u = Σ_φ q(φ | e) [ELBO_l(x, φ)] + H[q(φ | e)]                   (exact enumeration)

with log p(x | φ, z) the multinomial log-likelihood of the at.% counts (Gamma-form normaliser,
`log_multinomial_const`). This is term for term the loss Pyro's ``TraceEnum_ELBO`` computes for
`SSVAE.model`/`guide` (+ α·`model_classify`) with one reparameterised z sample per enumerated φ
(`pyro_loss`; tests/test_ssvae_train.py checks value and gradients with the same noise).

`Layout` places every parameter of S models in one row of a flat (S, D) tensor, so each layer is one
batched matmul (``baddbmm``) over the S models and `step_terms` costs the same few torch calls
whatever S is.
"""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
# isort: on

from hea_fast.ssvae.model import SSVAE, SSVAEConfig

__all__ = ["Layout", "mlp", "step_terms", "log_multinomial_const", "pyro_loss"]

_LOG2PI = math.log(2 * math.pi)


# ---- flat parameter layout -------------------------------------------------------------------------
class Layout:
    """Where each parameter of an `SSVAE` lives in a flat vector of length D.

    The loc and scale heads of q(z|x,φ) are laid out as one (2d, h) weight and one (2d,) bias so the
    two heads are a single matmul.
    """

    def __init__(self, template: SSVAE):
        self.config = template.config
        self.entries = []  # (our state-dict key, offset, shape)
        off = 0

        def add(key, shape):
            nonlocal off
            self.entries.append((key, off, tuple(shape)))
            off += int(np.prod(shape))

        sd = template.state_dict()
        self.linears = {}
        for g in ("encoder_y", "encoder_z", "decoder"):
            mods = getattr(template, g).linears
            self.linears[g] = []
            for i in range(len(mods)):
                wk, bk = f"{g}.linears.{i}.weight", f"{g}.linears.{i}.bias"
                self.linears[g].append((len(self.entries), len(self.entries) + 1))
                add(wk, sd[wk].shape)
                add(bk, sd[bk].shape)
        d, h = self.config.z_dim, self.config.hidden[-1]
        self.head_w = off
        add("z_loc.weight", (d, h))
        add("z_scale.weight", (d, h))
        self.head_b = off
        add("z_loc.bias", (d,))
        add("z_scale.bias", (d,))
        self.size = off

    def views(self, P):
        """-> {group: [(W (S,out,in), b (S,1,out)), ...]}; 'heads': (W (S,2d,h), b (S,1,2d))."""
        S = P.shape[0]
        out = {}
        for g, pairs in self.linears.items():
            layers = []
            for wi, bi in pairs:
                _, wo, ws = self.entries[wi]
                _, bo, bs = self.entries[bi]
                W = P[:, wo : wo + ws[0] * ws[1]].view(S, ws[0], ws[1])
                b = P[:, bo : bo + bs[0]].view(S, 1, bs[0])
                layers.append((W, b))
            out[g] = layers
        d, h = self.config.z_dim, self.config.hidden[-1]
        out["heads"] = (
            P[:, self.head_w : self.head_w + 2 * d * h].view(S, 2 * d, h),
            P[:, self.head_b : self.head_b + 2 * d].view(S, 1, 2 * d),
        )
        return out

    def flatten(self, model: SSVAE) -> torch.Tensor:
        sd = model.state_dict()
        return torch.cat([sd[k].reshape(-1) for k, _, _ in self.entries]).to(torch.float32)

    def to_model(self, row: torch.Tensor, feature_mean=None, feature_std=None) -> SSVAE:
        cfg = SSVAEConfig(**{**asdict(self.config),
                             "feature_mean": list(map(float, feature_mean)) if feature_mean is not None else [],
                             "feature_std": list(map(float, feature_std)) if feature_std is not None else []})
        m = SSVAE(cfg)
        sd = m.state_dict()
        for k, o, shp in self.entries:
            sd[k] = row[o : o + int(np.prod(shp))].reshape(shp).detach().clone()
        m.load_state_dict(sd)
        return m.eval()


def mlp(layers, h, last_activation):
    """Batched MLP over S models: layers [(W (S,out,in), b (S,1,out))], softplus between layers."""
    n = len(layers)
    for i, (W, b) in enumerate(layers):
        h = torch.baddbmm(b, h, W.transpose(1, 2))
        if i < n - 1 or last_activation:
            h = torch.nn.functional.softplus(h)
    return h


def step_terms(views, ey, xz, lgc, eps, yl, prior_single):
    """Per-row terms for S models (tensors (S, rows, ·)).

    ey (S, 2B, F) scaled descriptors [labelled | unlabelled]; xz (S, 3B, E+1) encoder input
    [x_l, φ_l | x_u, 0 | x_u, 1] (x in at.%); lgc (S, 3B) log Γ(Σx+1) − Σ log Γ(x+1); eps (S, 3B, d)
    standard normal noise; yl (S, B, 1) labels. Returns (elbo_l (S,B), elbo_u (S,B), bce_l (S,B),
    logit (S,2B)).
    """
    B = yl.shape[1]
    logit = mlp(views["encoder_y"], ey, False)[..., 0]  # (S, 2B)
    hz = mlp(views["encoder_z"], xz, True)
    Wh, bh = views["heads"]
    lz = torch.baddbmm(bh, hz, Wh.transpose(1, 2))
    d = lz.shape[-1] // 2
    loc, log_scale = lz[..., :d], lz[..., d:]
    z = loc + torch.exp(log_scale) * eps
    phi = xz[..., -1:]
    dlogits = mlp(views["decoder"], torch.cat([z, phi], dim=-1), False)
    x = xz[..., :-1]
    rec = (x * torch.log_softmax(dlogits, dim=-1)).sum(-1) + lgc
    log_pz = -0.5 * (z * z).sum(-1) - 0.5 * d * _LOG2PI
    log_qz = -0.5 * (eps * eps).sum(-1) - log_scale.sum(-1) - 0.5 * d * _LOG2PI
    phi0 = phi[..., 0]
    log_py = phi0 * math.log(prior_single) + (1 - phi0) * math.log1p(-prior_single)
    term = rec + log_pz - log_qz + log_py  # (S, 3B)
    elbo_l = term[:, :B]
    lu = logit[:, B:]
    lq1 = torch.nn.functional.logsigmoid(lu)
    lq0 = torch.nn.functional.logsigmoid(-lu)
    q1, q0 = lq1.exp(), lq0.exp()
    elbo_u = q0 * term[:, B : 2 * B] + q1 * term[:, 2 * B :] - (q0 * lq0 + q1 * lq1)
    ll = logit[:, :B]
    y = yl[..., 0]
    bce_l = y * torch.nn.functional.softplus(-ll) + (1 - y) * torch.nn.functional.softplus(ll)
    return elbo_l, elbo_u, bce_l, logit


def log_multinomial_const(x: torch.Tensor) -> torch.Tensor:
    """log Γ(Σx+1) − Σ log Γ(x_i+1): the Gamma-form multinomial normaliser for fractional counts."""
    return torch.lgamma(x.sum(-1) + 1) - torch.lgamma(x + 1).sum(-1)



# ---- Pyro reference -----------------------------------------------------------------------------------
def pyro_loss(model: SSVAE, xl, el, yl, xu, eu) -> torch.Tensor:
    """The objective J of one labelled + one unlabelled batch, computed by Pyro from `SSVAE.model` /
    `guide` (TraceEnum_ELBO, φ enumerated; Trace_ELBO with φ sampled when ``legacy``) plus α·BCE from
    `model_classify` (Trace_ELBO). Unscaled batch sums; the reference `step_terms` is tested against.
    xl, xu at.% (B, E); el, eu raw descriptors (B, F); yl (B,) or (B, 1) labels."""
    import pyro
    from pyro.infer import Trace_ELBO, TraceEnum_ELBO

    yl = torch.as_tensor(yl, dtype=torch.float32).reshape(-1, 1)
    elbo = Trace_ELBO(max_plate_nesting=1) if model.config.legacy else TraceEnum_ELBO(max_plate_nesting=1)
    pyro.clear_param_store()
    lab = elbo.differentiable_loss(model.model, model.guide, xl, el, yl)
    unl = elbo.differentiable_loss(model.model, model.guide, xu, eu, None)
    cls = Trace_ELBO().differentiable_loss(model.model_classify, model.guide_classify, xl, el, yl)
    return unl + model.config.gamma * (lab + cls)

