"""CNN on (2, 9, 18) X-Yield pseudo-images, with smoothed-ℓ0 masked convolutions for Bi-RPT.

Architecture of the X-Yield / Bi-RPT paper (Chen et al., cross-quality few-shot transfer for
alloy yield strength) as released by its authors: three 3×3 convolutions (16/32/64 channels,
padding 1) each followed by BatchNorm and ReLU, 2×2 max-pooling (stride 2, padding 1) after the
first two (9×18 → 5×10 → 3×6), flatten (64·3·6 = 1152), then an MLP head 1152 → 64 → 1 for
regression (yield strength in GPa) or → 5 for the 0.5-GPa-bin classification.

`MaskedConv2d` carries two mask tensors m_s (source / pretraining level) and m_t (target /
transfer level) of the weight's shape, initialised to 1, and uses the effective weight
θ ⊙ g_ε(m_s) ⊙ g_ε(m_t), g_ε(m) = m²/(m²+ε), through the fused kernel of
`hea_fast.xyield.masked_l0`. `mode` selects which gates are active ("none", "s", "t", "st"); a binary
`prune_mask` buffer (iterative magnitude pruning) multiplies θ in every mode.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# isort: off
import hea_fast.xyield._requires  # noqa: F401  (names the [xyield] extra when a package is missing)
import torch
import torch.nn.functional as F
from torch import nn
# isort: on

from hea_fast.xyield.masked_l0 import masked_weight, masked_weight_reference

__all__ = ["CNNConfig", "MaskedConv2d", "XYieldCNN", "IMAGE_SHAPE"]

IMAGE_SHAPE = (2, 9, 18)
_MODES = ("none", "s", "t", "st")


@dataclass
class CNNConfig:
    """Hyper-parameters of `XYieldCNN` (JSON-serialisable; saved next to the weights)."""

    in_channels: int = 2
    height: int = 9
    width: int = 18
    channels: tuple = (16, 32, 64)
    pool_after: tuple = (True, True, False)
    hidden: int = 64
    task: str = "regression"  # or "classification"
    n_classes: int = 5
    masked: bool = True  # MaskedConv2d (identical to nn.Conv2d in mode "none")
    fused: bool = True  # fused C++ masked-weight kernel (False: unfused torch formula)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        self.pool_after = tuple(bool(p) for p in self.pool_after)
        if len(self.pool_after) != len(self.channels):
            raise ValueError(f"pool_after has {len(self.pool_after)} entries for {len(self.channels)} conv layers")
        if any(c <= 0 for c in self.channels) or self.hidden <= 0:
            raise ValueError(f"channel/hidden sizes must be positive, got {self.channels}, {self.hidden}")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")

    @property
    def n_out(self) -> int:
        return 1 if self.task == "regression" else int(self.n_classes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["pool_after"] = list(self.pool_after)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CNNConfig":
        return cls(**d)


class MaskedConv2d(nn.Conv2d):
    """nn.Conv2d whose weight is θ ⊙ prune_mask ⊙ g_ε(m_s) ⊙ g_ε(m_t) (gates chosen by `mode`)."""

    def __init__(self, *args, fused: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.m_s = nn.Parameter(torch.ones_like(self.weight))
        self.m_t = nn.Parameter(torch.ones_like(self.weight))
        self.register_buffer("prune_mask", torch.ones_like(self.weight))
        self.register_buffer("eps", torch.tensor(0.1, dtype=torch.float64))
        self.mode = "none"
        self.fused = fused

    def set_mode(self, mode: str) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode

    def theta(self) -> torch.Tensor:
        # prune_mask is all ones unless IMP ran; skip the multiply then (saves a graph node).
        if bool(self._pruned):
            return self.weight * self.prune_mask
        return self.weight

    @property
    def _pruned(self) -> bool:
        return not bool(torch.all(self.prune_mask == 1))

    def effective_weight(self, mode: str | None = None) -> torch.Tensor:
        mode = self.mode if mode is None else mode
        th = self.theta()
        if mode == "none":
            return th
        ms = self.m_s if "s" in mode else None
        mt = self.m_t if "t" in mode else None
        fn = masked_weight if self.fused else masked_weight_reference
        return fn(th, ms, mt, float(self.eps))

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        w = self.effective_weight() if weight is None else weight
        return self._conv_forward(x, w, self.bias)

    @torch.no_grad()
    def density(self) -> dict:
        """Sparsity report: fraction of weights kept by each mechanism under the current ε."""
        eps = float(self.eps)
        gs = self.m_s.detach() ** 2 / (self.m_s.detach() ** 2 + eps)
        gt = self.m_t.detach() ** 2 / (self.m_t.detach() ** 2 + eps)
        n = self.weight.numel()
        zero = (self.prune_mask == 0)
        if "s" in self.mode:
            zero = zero | (self.m_s == 0)
        if "t" in self.mode:
            zero = zero | (self.m_t == 0)
        gate = torch.ones_like(gs)
        if "s" in self.mode:
            gate = gate * gs
        if "t" in self.mode:
            gate = gate * gt
        gate = gate * self.prune_mask
        return {
            "n_weights": n,
            "zero_fraction": float(zero.sum()) / n,  # exactly removed (prox zeros, pruned)
            "gate_below_1e-2": float((gate < 1e-2).sum()) / n,  # effectively off
            "mean_gate": float(gate.mean()),
            "m_s_zero": float((self.m_s == 0).sum()) / n,
            "m_t_zero": float((self.m_t == 0).sum()) / n,
            "pruned": float((self.prune_mask == 0).sum()) / n,
        }


class XYieldCNN(nn.Module):
    """The X-Yield CNN; `forward(x, weights=None)` accepts override conv weights (hypergradients)."""

    def __init__(self, config: CNNConfig | None = None, **kwargs):
        super().__init__()
        self.config = config if config is not None else CNNConfig(**kwargs)
        c = self.config
        convs, bns = [], []
        cin = c.in_channels
        h, w = c.height, c.width
        for cout, pool in zip(c.channels, c.pool_after):
            if c.masked:
                convs.append(MaskedConv2d(cin, cout, 3, padding=1, fused=c.fused))
            else:
                convs.append(nn.Conv2d(cin, cout, 3, padding=1))
            bns.append(nn.BatchNorm2d(cout))
            if pool:
                h, w = h // 2 + 1, w // 2 + 1  # MaxPool2d(2, 2, padding=1)
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.bns = nn.ModuleList(bns)
        self.n_flat = cin * h * w
        self.head = nn.Sequential(nn.Linear(self.n_flat, c.hidden), nn.ReLU(),
                                  nn.Linear(c.hidden, c.n_out, bias=c.task != "regression"))
        for m in self.modules():  # the authors' initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    # -- masks ---------------------------------------------------------------------------------
    def masked_convs(self) -> list[MaskedConv2d]:
        return [m for m in self.convs if isinstance(m, MaskedConv2d)]

    def set_mode(self, mode: str) -> None:
        for m in self.masked_convs():
            m.set_mode(mode)

    def set_eps(self, eps: float) -> None:
        for m in self.masked_convs():
            m.eps.fill_(float(eps))

    def mask_parameters(self, which: str = "st") -> list[nn.Parameter]:
        out = []
        for m in self.masked_convs():
            if "s" in which:
                out.append(m.m_s)
            if "t" in which:
                out.append(m.m_t)
        return out

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every trainable parameter except the masks."""
        masks = {id(p) for p in self.mask_parameters("st")}
        return [p for p in self.parameters() if id(p) not in masks]

    @torch.no_grad()
    def sparsity(self) -> dict:
        return {f"conv{i + 1}": m.density() for i, m in enumerate(self.masked_convs())}

    # -- forward -------------------------------------------------------------------------------
    def features(self, x: torch.Tensor, weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.config.in_channels, self.config.height, self.config.width):
            raise ValueError(f"expected images of shape (n, {self.config.in_channels}, {self.config.height}, "
                             f"{self.config.width}), got {tuple(x.shape)}")
        out = x
        for i, (conv, bn, pool) in enumerate(zip(self.convs, self.bns, self.config.pool_after)):
            if weights is not None:
                out = conv._conv_forward(out, weights[i], conv.bias)
            else:
                out = conv(out)
            out = F.relu(bn(out))
            if pool:
                out = F.max_pool2d(out, 2, 2, padding=1)
        return out.flatten(1)

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        out = self.head(self.features(x, weights))
        return out.squeeze(-1) if self.config.task == "regression" else out
