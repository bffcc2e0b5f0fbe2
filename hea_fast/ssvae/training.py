"""Fast semi-supervised training of the SSVAE (Kingma et al. 2014 "M2" objective, as used by
Zeng, Khan & Post, arXiv 2409.06740), vectorised over models (seeds / splits).

The objective J (labelled and unlabelled ELBOs, φ enumerated, + α·BCE) and its batched evaluation
over S models live in `hea_fast.ssvae.objective` (checked against Pyro's TraceEnum_ELBO); the
resumable run state in `hea_fast.ssvae.checkpoint`. Here: the driver `train_models` and its steps —
`_epoch_inputs` (batches and noise), `_train_epoch` (Adam steps on the flat (S, D) weights, Polyak
averaging), `_plateau_schedule`, `_validation_scores`, `_select` (smoothing, selection, early stop),
`_result` (models and history) — plus `train_pyro`, the authors' Pyro SVI loop, as the reference.
Adam, the plateau LR schedule, weight averaging and selection are (S, D)/(S,) tensor ops, so a step
costs the same few dozen torch calls whatever S is.

Per step, every model sees one labelled and one unlabelled batch (size `batch_size`); an epoch is
ceil(max(N_l, N_u) / B) steps (a pass over the larger pool: the 864 labelled rows in the paper's
protocol; the unlabelled pool when few labels are kept, so small labelled sets still get full
epochs over the unlabelled data), batches drawn without replacement within each pass (cycling through fresh
permutations). Each model has its own torch.Generator seeded with its seed (init, batches and noise),
so a model's result does not depend on which other models share the run.

Model selection (why not best validation accuracy): 75 validation alloys give accuracy steps of
1.3 % and a binomial s.e. of ~4.5 %, so the arg-max over thousands of epochs picks noise. We select
on a proper scoring rule (continuous in the weights) of an exponential moving average of the weights
(Polyak averaging, decay `weight_ema`), further smoothed over epochs (`metric_ema`); training stops
after `patience` epochs without improvement of that smoothed curve and the averaged weights of the
best epoch are returned. The default rule is the Brier score, not the cross-entropy: the validation
set holds near-duplicate alloys with conflicting labels (see the data PROVENANCE), and the unbounded
log-loss of one or two confidently "wrong" alloys rises while accuracy still improves, which stopped
runs at epoch 60–90 with lr 1e-3 (benchmarks/papers/ssvae/README.md); the Brier score is bounded
per alloy. ``selection="ce"`` keeps the cross-entropy rule. benchmarks/papers/ssvae reports the test
accuracy of the rule next to "last epoch", "best raw validation accuracy" and the other metric.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
# isort: on

from hea_fast._io import fingerprint
from hea_fast.ssvae.checkpoint import DeferredInterrupt, load_run_state, save_run_state
from hea_fast.ssvae.model import SSVAE, SSVAEConfig
from hea_fast.ssvae.objective import Layout, log_multinomial_const, mlp, pyro_loss, step_terms

__all__ = ["TrainConfig", "TrainResult", "train_models", "train", "train_pyro",
           # the objective, re-exported for the callers that knew it here
           "Layout", "step_terms", "log_multinomial_const", "pyro_loss"]


@dataclass
class TrainConfig:
    # Defaults reproduce the paper's accuracy within the 30-minute 5-seed budget (benchmarks/papers/
    # ssvae/README.md): lr 1e-4 (the authors', for 20,000 epochs) left the classifier under-trained
    # after 1,000 epochs (train accuracy 0.78, test 0.777 ± 0.026); lr 1e-3 reaches 0.836 ± 0.029.
    epochs: int = 2000  # budget; early stopping usually ends sooner
    batch_size: int = 32
    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8
    plateau_patience: int = 200  # epochs without training-loss improvement before lr *= factor
    plateau_factor: float = 0.5
    weight_ema: float = 0.99  # per-step decay of the averaged weights used for selection/output
    metric_ema: float = 0.9  # per-epoch smoothing of the validation metric
    selection: str = "brier"  # validation metric for early stopping/selection: "brier" or "ce"
    patience: int = 300  # early stop: epochs without improvement of the smoothed metric
    # no selection or stopping before this epoch: early on, the classifier head fits the labels before
    # the generative terms shape the encoder; the validation score dips, rises, then falls again
    min_epochs: int = 500
    checkpoint_every: int = 100  # epochs between checkpoint writes (and always at the end)
    # torch intra-op threads during training. The per-step tensors are small (S × 96 rows × 100):
    # with 2 threads each op pays an OpenMP barrier, 19 ms per op on a loaded 2-core machine against
    # 0.02 ms on 1 thread, so 1 is the default; vectorising over seeds is the parallelism here.
    threads: int | None = 1

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.selection not in ("brier", "ce"):
            raise ValueError(f"selection must be 'brier' or 'ce', got {self.selection!r}")
        for name in ("weight_ema", "metric_ema"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v}")




# ---- data stacking ---------------------------------------------------------------------------------
@dataclass
class _Stacked:
    xl: torch.Tensor
    el: torch.Tensor
    yl: torch.Tensor
    xu: torch.Tensor
    eu: torch.Tensor
    ev: torch.Tensor
    yv: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor


def _stack(splits_list, standardize):
    def st(key, attr):
        arrs = [getattr(s[key], attr) for s in splits_list]
        n = {a.shape[0] for a in arrs}
        if len(n) != 1:
            raise ValueError(f"all models must have equally sized '{key}' splits, got sizes {sorted(n)}")
        return torch.from_numpy(np.stack(arrs).astype(np.float32))

    xl, el, yl = st("labelled", "x"), st("labelled", "e"), st("labelled", "y")
    xu, eu = st("unlabelled", "x"), st("unlabelled", "e")
    ev, yv = st("validation", "e"), st("validation", "y")
    if standardize:  # training rows only (labelled + unlabelled), population std
        allx = torch.cat([el, eu], dim=1).double()
        mean = allx.mean(1, keepdim=True)
        std = allx.std(1, unbiased=False, keepdim=True).clamp_min(1e-12)
    else:
        mean = torch.zeros(el.shape[0], 1, el.shape[2], dtype=torch.float64)
        std = torch.ones_like(mean)
    f = lambda e: ((e.double() - mean) / std).float()  # noqa: E731
    return _Stacked(xl, f(el), yl, xu, f(eu), f(ev), yv, mean.float(), std.float())


def _cycled_indices(gen, n, count):
    reps = -(-count // n)
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])[:count]


# ---- training ---------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    models: list
    history: dict  # name -> (epochs, S) numpy arrays
    best_epoch: list
    stopped_epoch: list
    seconds: float
    epochs_run: int
    extra: dict = field(default_factory=dict)

# ---- run state ----------------------------------------------------------------------------------------
_HISTORY = ("train_loss", "val_ce", "val_brier", "val_metric_smooth", "val_acc", "lr")
# settings that do not change the trajectory of the weights: they may change between resumed runs
_RESUMABLE = ("epochs", "checkpoint_every", "threads", "patience", "min_epochs")


@dataclass
class _RunState:
    """Everything a run carries from epoch to epoch, (S, ·) tensors over the S models. Field names are
    the checkpoint's tensor names (see `hea_fast.ssvae.checkpoint`)."""

    P: torch.Tensor  # flat weights (S, D), requires grad
    m: torch.Tensor  # Adam first moment
    v: torch.Tensor  # Adam second moment
    P_avg: torch.Tensor  # Polyak average of the weights (selection and output use it)
    lr: torch.Tensor  # (S, 1)
    t: int  # Adam steps taken
    epoch: int  # epochs completed
    best_loss: torch.Tensor  # plateau schedule: best epoch loss and epochs since
    plateau_count: torch.Tensor
    smooth: torch.Tensor  # EMA of the selection metric
    best_metric: torch.Tensor
    best_epoch: torch.Tensor
    since_best: torch.Tensor
    stopped: torch.Tensor
    stopped_epoch: torch.Tensor
    P_best: torch.Tensor
    P_bestacc: torch.Tensor  # keep_alternatives: best raw validation accuracy ...
    best_acc: torch.Tensor
    smooth_alt: torch.Tensor  # ... and the other metric (ce if selecting on brier), smoothed
    best_alt: torch.Tensor
    P_bestalt: torch.Tensor
    hist: dict = field(default_factory=dict)  # name -> list of (S,) tensors, one per epoch

    @classmethod
    def start(cls, size: int, gens, lr: float) -> "_RunState":
        """Authors' init N(0, 1e-3) for every weight and bias, each model from its own generator."""
        S = len(gens)
        P = torch.stack([torch.randn(size, generator=g) * 1e-3 for g in gens]).requires_grad_(True)
        P_avg = P.detach().clone()
        nan, inf = torch.full((S,), float("nan")), torch.full((S,), float("inf"))
        return cls(P=P, m=torch.zeros_like(P), v=torch.zeros_like(P), P_avg=P_avg, lr=torch.full((S, 1), lr),
                   t=0, epoch=0, best_loss=inf.clone(), plateau_count=torch.zeros(S, dtype=torch.long),
                   smooth=nan.clone(), best_metric=inf.clone(), best_epoch=torch.full((S,), -1, dtype=torch.long),
                   since_best=torch.zeros(S, dtype=torch.long), stopped=torch.zeros(S, dtype=torch.bool),
                   stopped_epoch=torch.full((S,), -1, dtype=torch.long), P_best=P_avg.clone(),
                   P_bestacc=P_avg.clone(), best_acc=torch.full((S,), -1.0), smooth_alt=nan.clone(),
                   best_alt=inf.clone(), P_bestalt=P_avg.clone(), hist={k: [] for k in _HISTORY})

    def to_tensors(self, seeds, gens) -> dict:
        out = {"seeds": torch.tensor(list(seeds)), "gen_states": torch.stack([g.get_state() for g in gens])}
        for k in self.__dataclass_fields__:
            if k == "hist":
                out.update({"hist_" + h: (torch.stack(v) if v else torch.empty(0)) for h, v in self.hist.items()})
            elif k in ("t", "epoch"):
                out[k] = torch.tensor(getattr(self, k))
            else:
                out[k] = getattr(self, k).detach() if k == "P" else getattr(self, k)
        return out

    def restore(self, st: dict, gens) -> None:
        """Continue from checkpoint tensors `st` (P is copied in place: it is the leaf being optimised)."""
        with torch.no_grad():
            self.P.copy_(st["P"])
        for k in self.__dataclass_fields__:
            if k in ("P", "hist"):
                continue
            setattr(self, k, int(st[k]) if k in ("t", "epoch") else st[k])
        for k in self.hist:
            self.hist[k] = list(st["hist_" + k].unbind(0)) if st["hist_" + k].numel() else []
        for g, gs in zip(gens, st["gen_states"].unbind(0)):
            g.set_state(gs.clone())


def _fingerprint(data: _Stacked, seeds, model_config: SSVAEConfig, config: TrainConfig) -> str:
    settings = {k: v for k, v in asdict(config).items() if k not in _RESUMABLE}
    arrays = {k: getattr(data, k).numpy() for k in data.__dataclass_fields__}
    return fingerprint(dict(seeds=[int(s) for s in seeds], model=asdict(model_config), train=settings, data=arrays))


# ---- one epoch: batches, optimiser steps, validation and selection ------------------------------------
def _epoch_inputs(data: _Stacked, gens, steps: int, B: int, z_dim: int):
    """This epoch's minibatches and noise, drawn from each model's generator, as (steps, S, rows, ·)
    slabs: (ey, xz, lgc, yl, eps) in the layout `step_terms` takes."""
    S = len(gens)
    Nl, Nu, E = data.xl.shape[1], data.xu.shape[1], data.xl.shape[2]
    ar = torch.arange(S)[:, None]
    il = torch.stack([_cycled_indices(g, Nl, steps * B) for g in gens])  # (S, steps*B)
    iu = torch.stack([_cycled_indices(g, Nu, steps * B) for g in gens])
    eps = torch.stack([torch.randn(steps, 3 * B, z_dim, generator=g) for g in gens], 1)  # (steps,S,3B,d)
    xl, yl, el = data.xl[ar, il], data.yl[ar, il][..., None], data.el[ar, il]
    xu, eu = data.xu[ar, iu], data.eu[ar, iu]
    zeros = torch.zeros_like(yl)
    xz = torch.cat([torch.cat([xl, yl], -1), torch.cat([xu, zeros], -1), torch.cat([xu, zeros + 1], -1)], 1)
    lgc = log_multinomial_const(xz[..., :E])
    # -> (steps, S, rows, ·) contiguous so each step takes a slab
    rs = lambda t, k: t.view(S, steps, k * B, *t.shape[2:]).transpose(0, 1).contiguous()  # noqa: E731
    thirds = lambda t: torch.cat([rs(t[:, : steps * B], 1), rs(t[:, steps * B : 2 * steps * B], 1),  # noqa: E731
                                  rs(t[:, 2 * steps * B :], 1)], 2)
    return torch.cat([rs(el, 1), rs(eu, 1)], 2), thirds(xz), thirds(lgc), rs(yl, 1), eps


def _train_epoch(st: _RunState, layout: Layout, inputs, weights, config: TrainConfig, prior: float, alpha: float):
    """One pass of Adam steps over the epoch's batches, all models at once; returns the summed
    per-model loss (S,). weights: (wl, wu) turning batch sums into dataset sums."""
    ey_s, xz_s, lgc_s, yl_s, eps = inputs
    wl, wu = weights
    b1, b2 = config.betas
    ep_loss = torch.zeros(st.P.shape[0])
    for t in range(eps.shape[0]):
        elbo_l, elbo_u, bce, _ = step_terms(layout.views(st.P), ey_s[t], xz_s[t], lgc_s[t], eps[t], yl_s[t], prior)
        per_model = wu * (-elbo_u).sum(1) + wl * ((-elbo_l) + alpha * bce).sum(1)  # (S,)
        (g,) = torch.autograd.grad(per_model.sum(), st.P)
        with torch.no_grad():
            st.t += 1
            st.m.lerp_(g, 1 - b1)
            st.v.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1 = 1 - b1**st.t
            bc2 = 1 - b2**st.t
            denom = (st.v / bc2).sqrt_().add_(config.adam_eps)
            st.P.addcdiv_(st.m * (st.lr / bc1), denom, value=-1.0)
            st.P_avg.lerp_(st.P, 1 - config.weight_ema)
            ep_loss += per_model.detach()
    return ep_loss


def _plateau_schedule(st: _RunState, ep_loss, config: TrainConfig) -> None:
    """lr *= plateau_factor after plateau_patience epochs without training-loss improvement."""
    improved = ep_loss < st.best_loss * (1 - 1e-4 * torch.sign(st.best_loss))
    st.best_loss = torch.where(improved, ep_loss, st.best_loss)
    st.plateau_count = torch.where(improved, torch.zeros_like(st.plateau_count), st.plateau_count + 1)
    cut = st.plateau_count > config.plateau_patience
    st.lr = torch.where(cut[:, None], st.lr * config.plateau_factor, st.lr)
    st.plateau_count = torch.where(cut, torch.zeros_like(st.plateau_count), st.plateau_count)


def _validation_scores(layout: Layout, P, e, y):
    """Validation scores of the classifier heads of flat weights P (S, D) on scaled descriptors
    e (S, n, F) with labels y (S, n): (cross-entropy, accuracy, Brier score), each (S,)."""
    vl = mlp(layout.views(P)["encoder_y"], e, False)[..., 0]
    ce = (y * torch.nn.functional.softplus(-vl) + (1 - y) * torch.nn.functional.softplus(vl)).mean(1)
    acc = ((vl > 0).float() == y).float().mean(1)
    brier = ((torch.sigmoid(vl) - y) ** 2).mean(1)
    return ce, acc, brier


def _select(st: _RunState, epoch: int, ce, acc, brier, config: TrainConfig, keep_alternatives: bool) -> None:
    """Smooth the validation metric, keep the best averaged weights, stop after `patience` epochs."""
    # weight average starts at the init; its pull fades as weight_ema**steps (0.99**270 < 0.07
    # after 10 epochs), well before min_epochs
    P_eval = st.P_avg
    metric, alt = (brier, ce) if config.selection == "brier" else (ce, brier)
    ema = config.metric_ema
    st.smooth = torch.where(torch.isnan(st.smooth), metric, ema * st.smooth + (1 - ema) * metric)
    st.smooth_alt = torch.where(torch.isnan(st.smooth_alt), alt, ema * st.smooth_alt + (1 - ema) * alt)
    active = ~st.stopped
    window = epoch + 1 >= config.min_epochs  # selection and stopping start after min_epochs
    better = (st.smooth < st.best_metric) & active & window
    st.best_metric = torch.where(better, st.smooth, st.best_metric)
    st.best_epoch = torch.where(better, torch.full_like(st.best_epoch, epoch), st.best_epoch)
    st.since_best = torch.where(better, torch.zeros_like(st.since_best), st.since_best + 1)
    st.P_best = torch.where(better[:, None], P_eval, st.P_best)
    if keep_alternatives:
        bacc = (acc > st.best_acc) & active
        st.best_acc = torch.where(bacc, acc, st.best_acc)
        st.P_bestacc = torch.where(bacc[:, None], P_eval, st.P_bestacc)  # the weights that were scored
        balt = (st.smooth_alt < st.best_alt) & active & window
        st.best_alt = torch.where(balt, st.smooth_alt, st.best_alt)
        st.P_bestalt = torch.where(balt[:, None], P_eval, st.P_bestalt)
    newly = active & (st.since_best >= config.patience) & (epoch + 1 >= config.min_epochs)
    st.stopped_epoch = torch.where(newly, torch.full_like(st.stopped_epoch, epoch), st.stopped_epoch)
    st.stopped |= newly


# ---- the driver -----------------------------------------------------------------------------------------
def train_models(splits_list, seeds, model_config: SSVAEConfig | None = None,
                 config: TrainConfig | None = None, progress=True, checkpoint=None,
                 keep_alternatives=False) -> TrainResult:
    """Train one SSVAE per (splits, seed) pair, all at once.

    splits_list: list of dicts {labelled, unlabelled, validation[, test]} -> `data.Split` (equal sizes
    across models). seeds: one int per model (init, batches, noise). checkpoint: optional path;
    the run state is saved there atomically every `checkpoint_every` epochs (and at the end) and
    resumed from if it exists (`hea_fast.ssvae.checkpoint`).
    keep_alternatives: also return the last-epoch weights and the best-raw-validation-accuracy
    weights (for the selection-rule comparison in benchmarks/papers/ssvae).
    """
    config = config or TrainConfig()
    model_config = model_config or SSVAEConfig()
    S = len(seeds)
    if len(splits_list) != S or S == 0:
        raise ValueError(f"need one splits dict per seed, got {len(splits_list)} splits for {len(seeds)} seeds")
    prev_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(int(config.threads))
    try:
        return _train_models(splits_list, seeds, model_config, config, progress, checkpoint, keep_alternatives)
    finally:
        torch.set_num_threads(prev_threads)


def _train_models(splits_list, seeds, model_config, config, progress, checkpoint, keep_alternatives):
    data = _stack(splits_list, standardize=not model_config.legacy)
    B = config.batch_size
    Nl, Nu = data.xl.shape[1], data.xu.shape[1]
    steps = -(-max(Nl, Nu) // B)  # one pass over the larger pool (labelled in the paper protocol)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    layout = Layout(SSVAE(model_config))
    st = _RunState.start(layout.size, gens, config.lr)
    weights = (model_config.gamma * Nl / B, Nu / B)  # per-step weights turning batch sums into dataset sums
    ckpt = Path(checkpoint) if checkpoint else None
    fp = _fingerprint(data, seeds, model_config, config) if ckpt is not None else ""
    if ckpt is not None and ckpt.is_file():
        st.restore(load_run_state(ckpt, seeds, fp), gens)
    bar = None
    if progress:
        from hea_fast._progress import progress_bar

        bar = progress_bar(total=config.epochs, initial=st.epoch, desc="ssvae", unit="epoch")
    t0 = time.perf_counter()
    with DeferredInterrupt(enabled=ckpt is not None) as interrupt:
        epochs_run = _run_epochs(st, layout, data, gens, (steps, B, weights), model_config, config, keep_alternatives,
                                 bar, (ckpt, fp, seeds), interrupt)
    if bar is not None:
        bar.close()
    return _result(st, layout, data, seeds, model_config, config, epochs_run, time.perf_counter() - t0,
                   keep_alternatives)


def _run_epochs(st, layout, data, gens, batching, model_config, config, keep_alternatives, bar, saving,
                interrupt) -> int:
    """The epoch loop from st.epoch; -> epochs run in all. batching: (steps per epoch, batch size, the
    per-step weights); saving: (checkpoint path or None, run fingerprint, seeds). A Ctrl-C
    (`interrupt.requested`) ends the epoch, writes the checkpoint and raises KeyboardInterrupt naming it."""
    steps, B, weights = batching
    ckpt, fp, seeds = saving
    Nl, Nu = data.xl.shape[1], data.xu.shape[1]
    epochs_run = st.epoch
    for epoch in range(st.epoch, config.epochs):
        if bool(st.stopped.all()):
            break
        epochs_run = epoch + 1
        inputs = _epoch_inputs(data, gens, steps, B, model_config.z_dim)
        ep_loss = _train_epoch(st, layout, inputs, weights, config, model_config.prior_single, model_config.alpha)
        with torch.no_grad():
            ep_loss /= steps * (Nu + model_config.gamma * Nl)
            _plateau_schedule(st, ep_loss, config)
            ce, acc, brier = _validation_scores(layout, st.P_avg, data.ev, data.yv)
            _select(st, epoch, ce, acc, brier, config, keep_alternatives)
            for k, v in zip(_HISTORY, (ep_loss, ce, brier, st.smooth, acc, st.lr[:, 0])):
                st.hist[k].append(v.clone())
        st.epoch = epoch + 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{ep_loss.mean():.3f}", val_ce=f"{ce.mean():.3f}", val_brier=f"{brier.mean():.3f}",
                            val_acc=f"{acc.mean():.3f}", done=int(st.stopped.sum()))
        if ckpt is not None and ((epoch + 1) % config.checkpoint_every == 0 or bool(st.stopped.all())
                                 or epoch + 1 == config.epochs or interrupt.requested):
            save_run_state(ckpt, st.to_tensors(seeds, gens), fp)
        if interrupt.requested:
            if bar is not None:
                bar.close()
            raise KeyboardInterrupt(f"interrupted after epoch {epoch + 1} of {config.epochs}; the run state is saved "
                                    f"in {ckpt}: the same call resumes from it")
        if bool(st.stopped.all()):
            break
    return epochs_run


def _result(st: _RunState, layout, data, seeds, model_config, config, epochs_run, seconds, keep_alternatives):
    S = len(seeds)
    stopped_epoch = torch.where(st.stopped, st.stopped_epoch, torch.full_like(st.stopped_epoch, epochs_run - 1))
    # a budget that ended before min_epochs selected nothing: return the final averaged weights
    none = st.best_epoch < 0
    P_best = torch.where(none[:, None], st.P_avg, st.P_best)
    best_epoch = torch.where(none, torch.full_like(st.best_epoch, epochs_run - 1), st.best_epoch)

    def mk(row, s):
        return layout.to_model(row, data.mean[s, 0] if not model_config.legacy else None,
                               data.std[s, 0] if not model_config.legacy else None)

    models = []
    for s in range(S):
        m = mk(P_best[s], s)
        m.training_info = {"seed": int(seeds[s]), "best_epoch": int(best_epoch[s]),
                           "stopped_epoch": int(stopped_epoch[s]), "train_config": _jsonable(asdict(config)),
                           "selection": f"min EMA-smoothed validation {config.selection} of the weight-averaged model"}
        models.append(m)
    extra = {}
    if keep_alternatives:
        extra["last"] = [mk(st.P.detach()[s], s) for s in range(S)]
        extra["last_averaged"] = [mk(st.P_avg[s], s) for s in range(S)]
        extra["best_val_acc"] = [mk(st.P_bestacc[s], s) for s in range(S)]
        extra["min_" + ("ce" if config.selection == "brier" else "brier")] = [mk(st.P_bestalt[s], s) for s in range(S)]
    history = {k: torch.stack(v).numpy() if v else np.zeros((0, S)) for k, v in st.hist.items()}
    return TrainResult(models, history, best_epoch.tolist(), stopped_epoch.tolist(), seconds, epochs_run, extra)


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def train(seed: int = 42, split_seed: int | None = None, model_config=None, config=None, progress=True,
          checkpoint=None) -> SSVAE:
    """Train one SSVAE on the d-VAE splits (split seed defaults to `seed`; 42 = the paper's split)."""
    from hea_fast.ssvae.data import load_splits

    splits = load_splits(seed if split_seed is None else split_seed)
    return train_models([splits], [seed], model_config, config, progress, checkpoint).models[0]


# ---- Pyro reference (the authors' loop) -------------------------------------------------------------
def train_pyro(splits: dict, seed: int, model_config: SSVAEConfig | None = None, epochs: int = 10,
               batch_size: int = 32, lr: float = 1e-4, progress: bool = False) -> TrainResult:
    """The authors' training loop with Pyro SVI (slow: per-step Python and Pyro tracing), for the
    ``legacy`` behaviour (raw features, φ sampled with a score-function gradient) or as a reference.

    Per epoch: ceil(N_l/B) steps, each one labelled and one unlabelled batch, Adam (lr, 0.9/0.999);
    returns the weights of the best validation accuracy (the authors' selection) after `epochs`.
    Standardisation (non-legacy) uses the training rows' mean/std as `train_models` does.
    """
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny per-step tensors: see TrainConfig.threads
    try:
        return _train_pyro(splits, seed, model_config, epochs, batch_size, lr, progress)
    finally:
        torch.set_num_threads(prev_threads)


def _train_pyro(splits, seed, model_config, epochs, batch_size, lr, progress):
    import pyro

    model_config = model_config or SSVAEConfig(legacy=True)
    if not model_config.legacy and not model_config.feature_mean:
        e = np.concatenate([splits["labelled"].e, splits["unlabelled"].e]).astype(np.float64)
        model_config = SSVAEConfig(**{**asdict(model_config), "feature_mean": e.mean(0).tolist(),
                                      "feature_std": e.std(0).tolist()})
    pyro.set_rng_seed(int(seed))
    model = SSVAE(model_config)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(int(seed))
    L, U, V = splits["labelled"], splits["unlabelled"], splits["validation"]
    t = lambda a: torch.from_numpy(np.asarray(a, np.float32))  # noqa: E731
    xl, el, yl, xu, eu = t(L.x), t(L.e), t(L.y), t(U.x), t(U.e)
    steps = -(-len(L.y) // batch_size)
    best, best_state, hist = -1.0, None, {"train_loss": [], "val_acc": []}
    t0 = time.perf_counter()
    it = range(epochs)
    if progress:
        from hea_fast._progress import progress_bar

        it = progress_bar(it, desc="ssvae (pyro)", unit="epoch")
    for _ in it:
        il = _cycled_indices(gen, len(L.y), steps * batch_size).view(steps, batch_size)
        iu = _cycled_indices(gen, len(U.e), steps * batch_size).view(steps, batch_size)
        tot = 0.0
        for a, b in zip(il, iu):
            loss = pyro_loss(model, xl[a], el[a], yl[a], xu[b], eu[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach())
        with torch.no_grad():
            acc = float(((model.classifier_logit(t(V.e))[:, 0] > 0).float() == t(V.y)).float().mean())
        hist["train_loss"].append(tot / steps)
        hist["val_acc"].append(acc)
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.training_info = {"seed": int(seed), "selection": "best validation accuracy (authors)"}
    h = {k: np.asarray(v)[:, None] for k, v in hist.items()}
    best_epoch = int(np.argmax(hist["val_acc"]))
    return TrainResult([model.eval()], h, [best_epoch], [epochs - 1], time.perf_counter() - t0, epochs)
