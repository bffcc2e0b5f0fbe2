"""Training protocols for cross-quality few-shot transfer of yield strength (X-Yield / Bi-RPT).

Chen et al. (cross-quality few-shot transfer for alloy yield strength) compare, on the same
experimental splits (5 % and 10 % few-shot, 10-fold CV; targets in GPa):

* ``no_pretraining``      the CNN trained on the experimental points only;
* ``pretrain_transfer``   pretrain on the simulated (Maresca–Curtin) low-quality set, fine-tune all
                          weights on the experimental points;
* ``imp``                 fine-tuning with `cfg.imp_rounds` (N_t) rounds of iterative magnitude
                          pruning (20 % of the surviving conv weights per round, global by default);
                          started from a model pruned N_s rounds while pretraining it is one cell
                          of the paper's Hand-Tune grid (`hea_fast.xyield.paper`);
* ``birpt``               bi-level masks m_s, m_t with the smoothed-ℓ0 gate (`hea_fast.xyield.sparsity`);
* ``birpt_ms_only`` / ``birpt_mt_only``  Bi-RPT with only m_s / only m_t (not the paper's ablations,
                          which apply IMP at one stage: `hea_fast.xyield.paper`);
* ``mix_finetune``        start from the pretrained model and fine-tune on the sum of the
                          experimental loss and a simulated-batch loss at every step (not the
                          paper's Mix, which trains from scratch on the union: `paper.train_mix`).

The paper's Hand-Tune grid, its IMP-at-one-stage ablations, Mix from scratch and the λ selection
of Bi-RPT are built from these runs in `hea_fast.xyield.paper`.

Honest evaluation (unlike the released code, which picked the epoch with the best *test* MSE): the
epoch is selected on a validation split carved from the training points (`carve_validation`),
the test points are touched once, after training. Every run is seeded (weights, batches, the
validation carve). Models are saved as safetensors + JSON (no pickle); pretraining checkpoints every
epoch and resumes.

Units: yield strength in GPa, MSE in GPa², temperature in K.
"""
from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# isort: off
import hea_fast.xyield._requires  # noqa: F401  (names the [xyield] extra when a package is missing)
import safetensors  # noqa: F401  (weights and checkpoints are safetensors files)
import torch
# isort: on

from hea_fast._io import CheckpointError, atomic_path, atomic_write, fingerprint, read_json
from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.sparsity import birpt_step, loss_fn, magnitude_prune_, sparsity_report

__all__ = [
    "METHODS",
    "PretrainConfig",
    "TransferConfig",
    "set_seed",
    "carve_validation",
    "pretrain",
    "prune_pretrained",
    "transfer",
    "predict",
    "mse",
    "class5_accuracy",
    "save_model",
    "load_model",
    "save_checkpoint",
    "load_checkpoint",
    "ProtocolError",
]

METHODS = ("no_pretraining", "pretrain_transfer", "imp", "birpt", "birpt_ms_only", "birpt_mt_only",
           "mix_finetune")
# names this module used before the paper's definitions were implemented -> where they went
_RENAMED = {"hand_tune": "imp (one cell; the tuned grid is hea_fast.xyield.paper.hand_tune)",
            "sparse_pretrain": "birpt_ms_only", "sparse_transfer": "birpt_mt_only",
            "mix": "mix_finetune (the paper's Mix from scratch is hea_fast.xyield.paper.train_mix)"}
FORMAT_VERSION = 1


class ProtocolError(ValueError):
    """Invalid protocol configuration or input."""


@dataclass
class PretrainConfig:
    """Pretraining on the simulated low-quality set (authors' pretrain.py: Adam lr 1e-4, batch 16,
    cosine schedule, 10 epochs)."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    val_fraction: float = 0.05
    imp_rounds: int = 2  # N_s (only used to build an IMP starting point)
    imp_rate: float = 0.2
    imp_epochs: int = 1  # retraining epochs after each pruning round
    imp_scope: str = "global"


@dataclass
class TransferConfig:
    """Fine-tuning on the experimental points (authors' finetune.py defaults: SGD, 90 epochs,
    batch 4, StepLR(30, 0.1), weight lr 1e-3, mask lr 3.5, γ (λ) 3e-3, ε₀ 0.1 decayed ×0.9 per
    epoch). `imp_rounds` / `imp_rate` / `imp_scope`: the N_t pruning rounds of method ``imp``."""

    epochs: int = 90
    batch_size: int = 4
    lr_w: float = 1e-3
    lr_mask: float = 3.5
    gamma: float = 3e-3
    eps0: float = 0.1
    eps_decay: float = 0.9
    step_size: int = 30
    lr_decay: float = 0.1
    lower_steps: int = 1
    low_batch_size: int = 4
    mix_weight: float = 1.0
    imp_rounds: int = 2  # N_t
    imp_rate: float = 0.2
    imp_scope: str = "global"
    val_fraction: float = 0.2
    min_val: int = 2

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ProtocolError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not (0 < self.eps_decay <= 1) or self.eps0 <= 0:
            raise ProtocolError(f"need eps0 > 0 and 0 < eps_decay <= 1, got {self.eps0}, {self.eps_decay}")


def set_seed(seed: int) -> torch.Generator:
    """Seeds python, numpy and torch; returns a torch.Generator for batch order."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def carve_validation(n: int, fraction: float = 0.2, seed: int = 0, min_val: int = 2):
    """Split training indices 0..n-1 into (fit_idx, val_idx): round(fraction·n) validation points,
    at least `min_val` and leaving at least one point to fit."""
    if n < 2:
        raise ProtocolError(f"need at least 2 training points to carve a validation split, got {n}")
    k = max(int(min_val), int(round(fraction * n)))
    k = min(k, n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def _as_tensor(x, dtype=torch.float32) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    return t.to(dtype)


@torch.no_grad()
def predict(model: XYieldCNN, x, batch_size: int = 4096) -> torch.Tensor:
    """Eval-mode predictions (GPa for regression, logits for classification)."""
    model.eval()
    model.set_mode(getattr(model, "_trained_mode", "none"))
    x = _as_tensor(x)
    outs = [model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def mse(pred, y) -> float:
    pred = _as_tensor(pred, torch.float64)
    y = _as_tensor(y, torch.float64)
    return float(torch.mean((pred - y) ** 2))


def _val_score(model: XYieldCNN, xv, yv) -> float:
    """Epoch-selection score on the validation carve (lower is better): MSE (GPa²) for regression,
    1 − accuracy for classification."""
    pv = predict(model, xv)
    if model.config.task == "regression":
        return mse(pv, yv)
    return 1.0 - float((pv.argmax(1) == _as_tensor(yv).long()).float().mean())


def class5_accuracy(pred_gpa, y_gpa, n_classes: int = 5) -> float:
    """Accuracy of the 0.5-GPa bins int(2·YS) (clipped to the 5 classes) of a regression output."""
    p = np.clip(np.floor(np.asarray(pred_gpa, np.float64) * 2), 0, n_classes - 1)
    t = np.clip(np.floor(np.asarray(y_gpa, np.float64) * 2), 0, n_classes - 1)
    return float(np.mean(p == t))


# ---------------------------------------------------------------------------------------------
# saving (safetensors + JSON, no pickle; every file written atomically by hea_fast._io)
# ---------------------------------------------------------------------------------------------
def _save_tensors(path: Path, tensors: dict) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))


def _load_tensors(path: Path, what: str) -> dict:
    """safetensors file -> dict of tensors; a missing or corrupt file raises naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{what} {path} cannot be read ({exc}); the file is corrupt or truncated") from None


def save_model(path, model: XYieldCNN, meta: dict | None = None) -> Path:
    """Writes <path>/model.safetensors and <path>/model.json (config, mode, ε, metadata)."""
    path = Path(path)
    _save_tensors(path / "model.safetensors", model.state_dict())
    info = {
        "format": "hea_fast.xyield.cnn",
        "version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "mode": getattr(model, "_trained_mode", "none"),
        "meta": meta or {},
    }
    atomic_write(path / "model.json", json.dumps(info, indent=2, default=float))
    return path


def load_model(path) -> XYieldCNN:
    """A model saved by `save_model`; errors about a missing, corrupt or foreign file name the file."""
    path = Path(path)
    jf = path / "model.json"
    if not jf.is_file():
        raise FileNotFoundError(f"no saved model at {path} (expected model.json + model.safetensors)")
    info = read_json(jf, "model file")
    if not isinstance(info, dict) or info.get("format") != "hea_fast.xyield.cnn":
        fmt = info.get("format") if isinstance(info, dict) else None
        raise ProtocolError(f"{jf} is not a hea_fast X-Yield CNN (format={fmt!r})")
    model = XYieldCNN(CNNConfig.from_dict(info["config"]))
    model.load_state_dict(_load_tensors(path / "model.safetensors", "model weights"))
    model._trained_mode = info.get("mode", "none")
    model.set_mode(model._trained_mode)
    model.meta = info.get("meta", {})
    return model


def _flatten_optimizer(opt_state: dict):
    tensors, plain = {}, {"param_groups": opt_state["param_groups"], "state": {}}
    for idx, st in opt_state["state"].items():
        plain["state"][str(idx)] = {}
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"opt/{idx}/{k}"] = v
                plain["state"][str(idx)][k] = "__tensor__"
            else:
                plain["state"][str(idx)][k] = v
    return tensors, plain


def _unflatten_optimizer(tensors: dict, plain: dict) -> dict:
    state = {}
    for idx, st in plain["state"].items():
        state[int(idx)] = {k: (tensors[f"opt/{idx}/{k}"] if v == "__tensor__" else v) for k, v in st.items()}
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(path, model, optimizer, scheduler, meta: dict) -> None:
    """Resumable checkpoint: model + optimizer tensors and RNG state in safetensors, the rest JSON."""
    path = Path(path)
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    ot, oplain = _flatten_optimizer(optimizer.state_dict())
    tensors.update(ot)
    tensors["rng/torch"] = torch.get_rng_state()
    _save_tensors(path / "checkpoint.safetensors", tensors)
    info = {"meta": meta, "optimizer": oplain,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "config": model.config.to_dict()}
    atomic_write(path / "checkpoint.json", json.dumps(info, default=float))


def load_checkpoint(path, model, optimizer, scheduler) -> dict | None:
    """Restores a checkpoint written by `save_checkpoint`; returns its meta, or None if absent.
    A corrupt checkpoint file raises `hea_fast._io.CheckpointError` naming it."""
    path = Path(path)
    if not (path / "checkpoint.json").is_file() or not (path / "checkpoint.safetensors").is_file():
        return None
    info = read_json(path / "checkpoint.json", "checkpoint")
    t = _load_tensors(path / "checkpoint.safetensors", "checkpoint")
    model.load_state_dict({k[len("model/"):]: v for k, v in t.items() if k.startswith("model/")})
    optimizer.load_state_dict(_unflatten_optimizer(t, info["optimizer"]))
    if scheduler is not None and info.get("scheduler") is not None:
        scheduler.load_state_dict(info["scheduler"])
    torch.set_rng_state(t["rng/torch"])
    return info["meta"]


# ---------------------------------------------------------------------------------------------
# pretraining
# ---------------------------------------------------------------------------------------------
def _epoch_batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def _progress(iterable, enabled: bool, **kw):
    if not enabled:
        return iterable
    from hea_fast._progress import progress_bar

    return progress_bar(iterable, **kw)


def pretrain(x_low, y_low, model_config: CNNConfig | None = None, cfg: PretrainConfig | None = None,
             seed: int = 0, checkpoint_dir=None, progress: bool = False, threads: int | None = None,
             stop_after: int | None = None):
    """Pretrain the CNN on simulated data (Adam + cosine schedule); epoch picked on a held-out 5 %
    (lowest MSE for regression, lowest 1 − accuracy for classification: history key ``val``).

    With `checkpoint_dir`, every epoch is checkpointed and an interrupted run resumes there;
    `stop_after` ends this session after that many epochs in total (time-boxed runs).
    Returns (model, history)."""
    cfg = cfg or PretrainConfig()
    model_config = model_config or CNNConfig()
    if threads:
        torch.set_num_threads(int(threads))
    x = _as_tensor(x_low)
    y = _as_tensor(y_low)
    if len(x) != len(y):
        raise ProtocolError(f"x_low has {len(x)} rows, y_low has {len(y)}")
    gen = set_seed(seed)
    fit_idx, val_idx = carve_validation(len(x), cfg.val_fraction, seed, min_val=1)
    xf, yf, xv, yv = x[fit_idx], y[fit_idx], x[val_idx], y[val_idx]
    model = XYieldCNN(model_config)
    model.set_mode("none")
    opt = torch.optim.Adam(model.weight_parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=1e-6)
    history, start, best = [], 0, (math.inf, None)
    fp = None
    if checkpoint_dir is not None:
        # IMP settings only shape the Hand-Tune copy made after pretraining: not part of the identity
        ident = {k: v for k, v in asdict(cfg).items() if not k.startswith("imp_")}
        fp = _run_fingerprint("pretrain", seed, ident, x, y, None, None, model)
        meta = load_checkpoint(checkpoint_dir, model, opt, sched)
        if meta is not None:
            if meta.get("fingerprint", fp) != fp:
                raise ProtocolError(f"checkpoint in {checkpoint_dir} belongs to a different pretraining run "
                                    "(seed, config or data differ); remove it or use another directory")
            start, history = meta["epoch"] + 1, meta["history"]
            gen.set_state(torch.from_numpy(np.array(meta["gen_state"], dtype=np.uint8)))
            bpath = Path(checkpoint_dir) / "best"
            if (bpath / "model.json").is_file():
                best = (meta["best_val"], load_model(bpath).state_dict())
    end = cfg.epochs if stop_after is None else min(cfg.epochs, int(stop_after))
    for epoch in _progress(range(start, end), progress, desc="pretrain", initial=start, total=cfg.epochs):
        model.train()
        tot = 0.0
        for b in _epoch_batches(len(xf), cfg.batch_size, gen):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, model(xf[b]), yf[b])
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(b)
        sched.step()
        val = _val_score(model, xv, yv)
        history.append({"epoch": epoch, "train_loss": tot / len(xf), "val": val,
                        "val_mse": val if model.config.task == "regression" else float("nan")})
        if val < best[0]:  # NaN (diverged) never wins
            best = (val, copy.deepcopy(model.state_dict()))
            if checkpoint_dir is not None:
                save_model(Path(checkpoint_dir) / "best", model, {"val": val, "epoch": epoch})
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, model, opt, sched,
                            {"epoch": epoch, "history": history, "best_val": best[0],
                             "gen_state": gen.get_state().tolist(), "fingerprint": fp})
    if best[1] is None:
        if history:
            raise ProtocolError(f"pretrain: none of the {len(history)} epochs has a finite validation score "
                                f"(last: {[h.get('val') for h in history[-3:]]}): training diverged; lower the learning rate "
                                f"(lr={cfg.lr})")
        raise ProtocolError(f"no epoch was trained (epochs={cfg.epochs}, stop_after={stop_after})")
    model.load_state_dict(best[1])
    model._trained_mode = "none"
    return model, history


def prune_pretrained(model: XYieldCNN, x_low, y_low, cfg: PretrainConfig | None = None, seed: int = 0,
                     progress: bool = False):
    """IMP while pretraining: N_s = `cfg.imp_rounds` rounds of (prune `imp_rate` of the surviving
    conv weights, retrain `imp_epochs` on the simulated data with the mask fixed, Adam at `cfg.lr`).
    Returns a new model."""
    cfg = cfg or PretrainConfig()
    model = copy.deepcopy(model)
    x, y = _as_tensor(x_low), _as_tensor(y_low)
    gen = set_seed(seed)
    opt = torch.optim.Adam(model.weight_parameters(), lr=cfg.lr)
    model.set_mode("none")
    for _ in _progress(range(cfg.imp_rounds), progress, desc="IMP (pretraining)"):
        magnitude_prune_(model, cfg.imp_rate, cfg.imp_scope)
        for _e in range(cfg.imp_epochs):
            model.train()
            for b in _epoch_batches(len(x), cfg.batch_size, gen):
                opt.zero_grad(set_to_none=True)
                loss_fn(model, model(x[b]), y[b]).backward()
                opt.step()
                _reapply_prune(model)
    model._trained_mode = "none"
    return model


@torch.no_grad()
def _reapply_prune(model: XYieldCNN) -> None:
    # Adam's moments would otherwise resurrect pruned weights.
    for c in model.masked_convs():
        c.weight.mul_(c.prune_mask)


# ---------------------------------------------------------------------------------------------
# transfer
# ---------------------------------------------------------------------------------------------
def _run_fingerprint(method, seed, cfg, x, y, x_low, y_low, model) -> str:
    """Identity of a training run: method, seed, config, data and starting weights."""
    conf = cfg if isinstance(cfg, dict) else asdict(cfg)
    data = [None if t is None else _as_tensor(t).numpy() for t in (x, y, x_low, y_low)]
    weights = [[k, v.detach().cpu().numpy()] for k, v in model.state_dict().items()]
    return fingerprint([method, seed, conf, data, weights])


def transfer(method: str, x_train, y_train, *, x_low=None, y_low=None, pretrained: XYieldCNN | None = None,
             model_config: CNNConfig | None = None, cfg: TransferConfig | None = None, seed: int = 0,
             progress: bool = False, monitor=None, checkpoint_dir=None, stop_after: int | None = None):
    """Fine-tune / train on the experimental training points with protocol `method`.

    The last `cfg.val_fraction` of the training points (seeded carve) is held out for epoch
    selection; the returned model is the best-validation epoch. Returns (model, info) where info
    holds the history, the selected epoch, the per-layer sparsity and the indices of the carve.

    `monitor=(x, y)` records the MSE on that set after every epoch in the history
    (``monitor_mse``) for analysis only, e.g. to quantify what test-set epoch selection (the
    authors' practice) would report; it never influences training or selection.

    With `checkpoint_dir`, every epoch is checkpointed (model, masks, optimizer, scheduler, batch RNG,
    ε, history, best epoch so far; atomic writes) and a run with the same method, seed, config and
    data resumes there, giving the same result as an uninterrupted run; a checkpoint from a different
    run raises ProtocolError. `stop_after` ends this session after that many epochs in total (the
    returned model is then the best epoch so far)."""
    if method in _RENAMED:
        raise ProtocolError(f"method {method!r} was renamed: use {_RENAMED[method]}")
    if method not in METHODS:
        raise ProtocolError(f"unknown method {method!r}; choose one of {METHODS}")
    cfg = cfg or TransferConfig()
    needs_pre = method != "no_pretraining"
    needs_low = method in ("mix_finetune", "birpt", "birpt_ms_only", "birpt_mt_only")
    if needs_pre and pretrained is None:
        raise ProtocolError(f"method {method!r} needs a pretrained model")
    if needs_low and (x_low is None or y_low is None):
        raise ProtocolError(f"method {method!r} needs the simulated set (x_low, y_low)")
    x, y = _as_tensor(x_train), _as_tensor(y_train)
    fit_idx, val_idx = carve_validation(len(x), cfg.val_fraction, seed, cfg.min_val)
    xf, yf, xv, yv = x[fit_idx], y[fit_idx], x[val_idx], y[val_idx]
    gen = set_seed(seed)
    if needs_pre:
        model = copy.deepcopy(pretrained)
    else:
        model = XYieldCNN(model_config or (pretrained.config if pretrained is not None else CNNConfig()))
    if needs_low:
        xl, yl = _as_tensor(x_low), _as_tensor(y_low)

    def low_batch():
        idx = torch.randint(0, len(xl), (cfg.low_batch_size,), generator=gen)
        return xl[idx], yl[idx]

    use_ms = method in ("birpt", "birpt_ms_only")
    use_mt = method in ("birpt", "birpt_mt_only")
    masked = use_ms or use_mt
    trained_mode = ("s" if use_ms else "") + ("t" if use_mt else "") or "none"
    for c in model.masked_convs():  # fresh masks at the start of transfer (authors: ones)
        with torch.no_grad():
            c.m_s.fill_(1.0)
            c.m_t.fill_(1.0)
    model.set_eps(cfg.eps0)
    groups = [{"params": model.weight_parameters(), "lr": cfg.lr_w}]
    if masked:
        groups.append({"params": model.mask_parameters(("s" if use_ms else "") + ("t" if use_mt else "")),
                       "lr": cfg.lr_mask})
    opt = torch.optim.SGD(groups, lr=cfg.lr_w)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.lr_decay)
    # Hand-Tune: fine-tune in N_t + 1 chunks, pruning 20 % of the survivors between chunks.
    prune_epochs = set()
    if method == "imp" and cfg.imp_rounds > 0:
        chunk = cfg.epochs / (cfg.imp_rounds + 1)
        prune_epochs = {int(round(chunk * (r + 1))) for r in range(cfg.imp_rounds)}
    history, best = [], (math.inf, None, -1)
    eps = cfg.eps0
    model._trained_mode = trained_mode
    start = 0
    fp = None
    if checkpoint_dir is not None:
        fp = _run_fingerprint(method, seed, cfg, x, y, x_low if needs_low else None,
                                   y_low if needs_low else None, model)
        meta = load_checkpoint(checkpoint_dir, model, opt, sched)
        if meta is not None:
            if meta.get("fingerprint") != fp:
                raise ProtocolError(f"checkpoint in {checkpoint_dir} belongs to a different transfer run "
                                    "(method, seed, config or data differ); remove it or use another directory")
            start, history, eps = meta["epoch"] + 1, meta["history"], meta["eps"]
            gen.set_state(torch.from_numpy(np.array(meta["gen_state"], dtype=np.uint8)))
            if meta["best_epoch"] >= 0:
                best = (meta["best_val"], load_model(Path(checkpoint_dir) / "best").state_dict(), meta["best_epoch"])
    end = cfg.epochs if stop_after is None else min(cfg.epochs, int(stop_after))
    for epoch in _progress(range(start, end), progress, desc=method, initial=start, total=cfg.epochs):
        if epoch in prune_epochs:
            magnitude_prune_(model, cfg.imp_rate, cfg.imp_scope)
        if masked:  # authors: ε ← 0.9 ε at the start of every epoch
            eps *= cfg.eps_decay
            model.set_eps(eps)
        model.train()
        tot = 0.0
        for b in _epoch_batches(len(xf), cfg.batch_size, gen):
            if masked:
                xs, ys = low_batch()
                stats = birpt_step(model, opt, xf[b], yf[b], xs, ys, lr_w=opt.param_groups[0]["lr"],
                                   lr_mask=opt.param_groups[1]["lr"], gamma=cfg.gamma, use_ms=use_ms,
                                   use_mt=use_mt, lower_steps=cfg.lower_steps)
                tot += stats["loss_t"] * len(b)
                continue
            model.set_mode("none")
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, model(xf[b]), yf[b])
            if method == "mix_finetune":
                xs, ys = low_batch()
                loss = loss + cfg.mix_weight * loss_fn(model, model(xs), ys)
            loss.backward()
            opt.step()
            if method == "imp":
                _reapply_prune(model)
            tot += float(loss.detach()) * len(b)
        sched.step()
        model.set_mode(trained_mode)
        val = _val_score(model, xv, yv)
        history.append({"epoch": epoch, "train_loss": tot / len(xf), "val": val, "eps": eps})
        if monitor is not None:
            history[-1]["monitor_mse"] = mse(predict(model, _as_tensor(monitor[0])), monitor[1])
        if val < best[0]:
            best = (val, copy.deepcopy(model.state_dict()), epoch)
            if checkpoint_dir is not None:
                save_model(Path(checkpoint_dir) / "best", model, {"val": val, "epoch": epoch})
        if checkpoint_dir is not None:
            # written after `best/`: a crash in between leaves the previous checkpoint, whose epoch is
            # then redone and re-selects identically (training is deterministic given the RNG state).
            save_checkpoint(checkpoint_dir, model, opt, sched,
                            {"epoch": epoch, "history": history, "eps": eps, "best_val": best[0],
                             "best_epoch": best[2], "gen_state": gen.get_state().tolist(), "fingerprint": fp})
    if best[1] is None:
        if history:  # every epoch ran, none scored: the training diverged (NaN/inf validation loss)
            raise ProtocolError(f"{method}: none of the {len(history)} epochs has a finite validation score "
                                f"(last: {[h['val'] for h in history[-3:]]}): training diverged; lower the "
                                f"learning rates (lr_w={cfg.lr_w}, lr_mask={cfg.lr_mask})")
        raise ProtocolError(f"no epoch was trained (epochs={cfg.epochs}, stop_after={stop_after})")
    model.load_state_dict(best[1])
    model.set_mode(trained_mode)
    model._trained_mode = trained_mode
    info = {"method": method, "seed": seed, "selected_epoch": best[2], "val": best[0], "eps": eps,
            "history": history, "sparsity": model.sparsity(), "sparsity_counts": sparsity_report(model),
            "fit_idx": fit_idx.tolist(),
            "val_idx": val_idx.tolist(), "config": asdict(cfg)}
    return model, info
