"""The X-Yield paper's methods as the paper defines them, built on the single-run protocols.

Chen et al. (cross-quality few-shot transfer for alloy yield strength; Bi-RPT) compare on each
few-shot split:

* **No-Pretraining**: the CNN trained on the experimental points only (`protocol.transfer`);
* **Pretrain-and-Transfer**: pretrain on the simulated set D_s, fine-tune every weight on D_t;
* **Mix**: one model trained *from scratch* on the union D_s ∪ D_t (`train_mix`);
* **Hand-Tune**: iterative magnitude pruning (IMP, 20 % of the surviving conv weights per round,
  global as in the authors' code) N_s rounds while pretraining (each followed by retraining on D_s,
  `imp_pretrain_chain`) and N_t rounds while fine-tuning (fine-tune, then prune and retrain with a
  restarted optimiser per round, `imp_transfer_rounds`), (N_s, N_t) chosen from the grid
  {0..5} × {0..4} (`imp_grid`, `select`);
* the ablations applying IMP at **one stage only**: N_t = 0 with N_s ∈ {1..5} chosen
  (``imp_pretrain``), N_s = 0 with N_t ∈ {1..4} chosen (``imp_transfer``);
* **Bi-RPT**: the bi-level masks of `hea_fast.xyield.sparsity`, with the authors' settings
  (`PAPER_TRANSFER`: λ = 3e-3, mask lr 3.5, 90 epochs, batches of 4, SGD, StepLR(30)) or with λ
  chosen from a grid (`birpt_lambda_grid`).

Every choice — the epoch, (N_s, N_t), λ — is made on the validation carve of the few-shot training
points (`protocol.carve_validation`, the same carve for every candidate of one seed), never on test:
`select` sees the validation scores only, and `evaluate` touches the test points once, after the
choice. Ties go to the first candidate in grid order.

Units: yield strength in GPa, MSE in GPa², temperature in K.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace

import numpy as np

# isort: off
import hea_fast.xyield._requires  # noqa: F401  (names the [xyield] extra when a package is missing)
import torch
# isort: on

from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.protocol import (
    PretrainConfig,
    ProtocolError,
    TransferConfig,
    carve_validation,
    mse,
    predict,
    prune_pretrained,
    set_seed,
    transfer,
)
from hea_fast.xyield.sparsity import loss_fn, magnitude_prune_, sparsity_report

__all__ = [
    "PAPER_PRETRAIN",
    "PAPER_TRANSFER",
    "PAPER_LOW_TEMPERATURES_K",
    "HAND_TUNE_NS",
    "HAND_TUNE_NT",
    "GRID_METHODS",
    "MixConfig",
    "imp_pretrain_chain",
    "imp_transfer_rounds",
    "imp_grid",
    "select",
    "select_grid_methods",
    "run_grid_methods",
    "birpt_lambda_grid",
    "train_mix",
    "evaluate",
]

# The authors' settings (pretrain.py, finetune.py and the README command of the 5 % split).
PAPER_PRETRAIN = PretrainConfig(epochs=10, batch_size=16, lr=1e-4, imp_rate=0.2, imp_epochs=1, imp_scope="global")
PAPER_TRANSFER = {
    "5pct": TransferConfig(epochs=90, batch_size=4, lr_w=1e-3, lr_mask=3.5, gamma=3e-3, step_size=30,
                           lr_decay=0.1, eps0=0.1, eps_decay=0.9, lower_steps=1, low_batch_size=4),
}
PAPER_TRANSFER["10pct"] = PAPER_TRANSFER["5pct"]  # the authors' 10 % scripts use the same optimiser settings
PAPER_LOW_TEMPERATURES_K = tuple(float(t) for t in range(300, 2600, 100))  # the paper's 300–2500 K
HAND_TUNE_NS = tuple(range(6))  # N_s ∈ {0..5}
HAND_TUNE_NT = tuple(range(5))  # N_t ∈ {0..4}

# the grid cells each grid-derived method may choose from: (N_s, N_t) pairs
GRID_METHODS = {
    "pretrain_transfer": [(0, 0)],
    "hand_tune": [(s, t) for s in HAND_TUNE_NS for t in HAND_TUNE_NT],
    "imp_pretrain": [(s, 0) for s in HAND_TUNE_NS if s > 0],
    "imp_transfer": [(0, t) for t in HAND_TUNE_NT if t > 0],
}


def imp_pretrain_chain(pretrained: XYieldCNN, x_low, y_low, rounds: int = 5, cfg: PretrainConfig | None = None,
                       seed: int = 0, progress: bool = False) -> list[XYieldCNN]:
    """[model after N_s = 0, 1, ..., rounds IMP rounds while pretraining]: round k prunes `cfg.imp_rate`
    of the survivors of round k-1 and retrains `cfg.imp_epochs` on the simulated data."""
    cfg = cfg or PAPER_PRETRAIN
    chain = [copy.deepcopy(pretrained)]
    for k in range(1, int(rounds) + 1):
        chain.append(prune_pretrained(chain[-1], x_low, y_low, replace(cfg, imp_rounds=1), seed=seed + k,
                                      progress=progress))
    return chain


def imp_transfer_rounds(x_train, y_train, start: XYieldCNN, cfg: TransferConfig | None = None, rounds: int = 4,
                        retrain: TransferConfig | None = None, seed: int = 0, scope: str = "global",
                        rate: float = 0.2) -> list:
    """IMP while fine-tuning, as the authors' pruning script: fine-tune (round 0: `cfg`, the plain
    Pretrain-and-Transfer run), then `rounds` times {prune `rate` of the surviving conv weights by
    |θ|, retrain with a restarted optimiser (`retrain`, default `cfg` with 10 epochs and no decay,
    the authors' 10 epochs per pruning round)}.
    Each round starts from the previous round's validation-selected model and selects its own epoch
    on the same validation carve. Returns [(model, info) after N_t = 0, 1, ..., rounds]."""
    cfg = cfg or PAPER_TRANSFER["5pct"]
    retrain = retrain or replace(cfg, epochs=10, step_size=10)
    out = [transfer("pretrain_transfer", x_train, y_train, pretrained=start, cfg=cfg, seed=seed)]
    for _ in range(int(rounds)):
        model = copy.deepcopy(out[-1][0])
        magnitude_prune_(model, rate, scope)
        out.append(transfer("pretrain_transfer", x_train, y_train, pretrained=model, cfg=retrain, seed=seed))
    return out


def imp_grid(x_train, y_train, chain: list[XYieldCNN], cfg: TransferConfig | None = None, seed: int = 0,
             nt_max: int = max(HAND_TUNE_NT), retrain: TransferConfig | None = None) -> dict:
    """The Hand-Tune grid: for every N_s = 0..len(chain)-1 (chain[N_s] pruned N_s rounds while
    pretraining, `imp_pretrain_chain`), `imp_transfer_rounds` with N_t = 0..nt_max. Returns
    {(N_s, N_t): (model, info)}; every cell uses the same seed, hence the same validation carve."""
    out = {}
    for ns, start in enumerate(chain):
        for nt, run in enumerate(imp_transfer_rounds(x_train, y_train, start, cfg, nt_max, retrain, seed)):
            out[(ns, nt)] = run
    return out


def select(candidates: dict):
    """The key whose run has the lowest validation score (``info["val"]``); ties -> first key.
    `candidates`: {key: (model, info)}. Sees nothing but the validation scores."""
    if not candidates:
        raise ProtocolError("no candidate runs to select from")
    best_key, best_val = None, math.inf
    for key, (_model, info) in candidates.items():
        v = float(info["val"])
        if best_key is None or v < best_val:
            best_key, best_val = key, v
    return best_key


def select_grid_methods(grid: dict) -> dict:
    """{method: chosen (N_s, N_t)} for every method of `GRID_METHODS` whose cells are all in `grid`."""
    out = {}
    for method, cells in GRID_METHODS.items():
        if all(c in grid for c in cells):
            out[method] = select({c: grid[c] for c in cells})
    return out


def run_grid_methods(x_train, y_train, x_test, y_test, chain: list[XYieldCNN], cfg: TransferConfig | None = None,
                     seed: int = 0, nt_max: int = max(HAND_TUNE_NT), retrain: TransferConfig | None = None) -> dict:
    """Pretrain-and-Transfer, Hand-Tune and the two IMP-at-one-stage ablations of one (split, seed):
    trains the grid on the training points, chooses every method's cell on validation, and only then
    scores the chosen models on the test points. Returns {method: {"chosen": (N_s, N_t), "val",
    "candidates_val": {"N_s,N_t": val}, "mse", "pred", "info"}}."""
    grid = imp_grid(x_train, y_train, chain, cfg, seed, nt_max, retrain)
    vals = {f"{a},{b}": g[1]["val"] for (a, b), g in grid.items()}
    chosen = select_grid_methods(grid)  # decided before the test points are looked at
    out = {}
    for method, cell in chosen.items():
        model, info = grid[cell]
        ev = evaluate(model, x_test, y_test)
        out[method] = {"chosen": cell, "val": info["val"], "info": info, "model": model, "mse": ev["mse"],
                       "pred": ev["pred"],
                       "candidates_val": {k: v for k, v in vals.items()
                                          if tuple(map(int, k.split(","))) in GRID_METHODS[method]}}
    return out


def birpt_lambda_grid(x_train, y_train, x_low, y_low, pretrained: XYieldCNN, lambdas=(1e-3, 3e-3, 1e-2),
                      cfg: TransferConfig | None = None, seed: int = 0, method: str = "birpt") -> dict:
    """Bi-RPT runs for each λ (the γ of `TransferConfig`); {λ: (model, info)}; choose with `select`."""
    cfg = cfg or PAPER_TRANSFER["5pct"]
    return {float(lam): transfer(method, x_train, y_train, x_low=x_low, y_low=y_low, pretrained=pretrained,
                                 cfg=replace(cfg, gamma=float(lam)), seed=seed) for lam in lambdas}


@dataclass
class MixConfig:
    """Mix: train from scratch on D_s ∪ D_t (the pretraining optimiser: Adam, cosine schedule).

    `epochs` passes over the union (uniform sampling: every point, simulated or experimental, is
    seen once per epoch), cut at `max_steps` optimiser steps when set (a compute budget); the
    validation carve of the few-shot points is scored every `eval_every` steps and the best state
    kept."""

    epochs: int = 1
    batch_size: int = 16
    lr: float = 1e-4
    eval_every: int = 500
    max_steps: int | None = None
    val_fraction: float = 0.2
    min_val: int = 2

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ProtocolError(f"epochs, batch_size and eval_every must be >= 1, got {self.epochs}, "
                                f"{self.batch_size}, {self.eval_every}")


def train_mix(x_train, y_train, x_low, y_low, model_config: CNNConfig | None = None, cfg: MixConfig | None = None,
              seed: int = 0):
    """The paper's Mix: a fresh CNN trained jointly on the simulated set and the few-shot training
    points (minus their validation carve). Returns (model, info) like `protocol.transfer`."""
    cfg = cfg or MixConfig()
    x, y = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)
    xl, yl = torch.as_tensor(x_low, dtype=torch.float32), torch.as_tensor(y_low, dtype=torch.float32)
    if len(x) != len(y) or len(xl) != len(yl):
        raise ProtocolError(f"rows differ: x_train {len(x)} / y_train {len(y)}, x_low {len(xl)} / y_low {len(yl)}")
    fit_idx, val_idx = carve_validation(len(x), cfg.val_fraction, seed, cfg.min_val)
    xu = torch.cat([xl, x[fit_idx]])
    yu = torch.cat([yl, y[fit_idx]])
    xv, yv = x[val_idx], y[val_idx]
    gen = set_seed(seed)
    model = XYieldCNN(model_config or CNNConfig())
    model.set_mode("none")
    opt = torch.optim.Adam(model.weight_parameters(), lr=cfg.lr)
    total = cfg.epochs * math.ceil(len(xu) / cfg.batch_size)
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=1e-6)
    best, history, step = (math.inf, None, -1), [], 0
    for _epoch in range(cfg.epochs):
        perm = torch.randperm(len(xu), generator=gen)
        for i in range(0, len(xu), cfg.batch_size):
            if step >= total:
                break
            model.train()
            b = perm[i:i + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model, model(xu[b]), yu[b]).backward()
            opt.step()
            sched.step()
            step += 1
            if step % cfg.eval_every == 0 or step == total:
                val = mse(predict(model, xv), yv)
                history.append({"step": step, "val": val})
                if val < best[0]:
                    best = (val, copy.deepcopy(model.state_dict()), step)
    model.load_state_dict(best[1])
    model._trained_mode = "none"
    info = {"method": "mix", "seed": seed, "selected_step": best[2], "val": best[0], "history": history,
            "sparsity_counts": sparsity_report(model), "fit_idx": fit_idx.tolist(), "val_idx": val_idx.tolist(),
            "config": asdict(cfg), "n_union": len(xu)}
    return model, info


def evaluate(model: XYieldCNN, x_test, y_test) -> dict:
    """Test MSE (GPa²) and predictions of a model whose every choice was already made."""
    p = predict(model, x_test).numpy().astype(np.float64)
    y = np.asarray(y_test, dtype=np.float64)
    return {"mse": float(np.mean((p - y) ** 2)), "pred": p.tolist()}
