"""`hea-fast xyield pretrain|transfer|evaluate|predict`: the Bi-RPT transfer protocols of
Chen et al. (cross-quality few-shot transfer for alloy yield strength) on X-Yield pseudo-images.

Training and evaluation work in GPa (MSE in GPa²) as the paper does; `predict` writes sigma_y_MPa
like every other yield output of the CLI. Temperatures are in K. Models are directories holding
model.safetensors + model.json (no pickle); pretraining checkpoints every epoch and resumes.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hea_fast._io import atomic_write, json_text
from hea_fast.commands._common import add_command, load_xyield_model, positive_int, say
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table

# hea_fast.xyield.protocol.METHODS, spelled out so `hea-fast --help` does not import torch
# (+ "mix": the paper's Mix, hea_fast.xyield.paper.train_mix, from scratch on simulated + experimental points)
_METHODS = ("no_pretraining", "pretrain_transfer", "imp", "birpt", "birpt_ms_only", "birpt_mt_only",
            "mix_finetune", "mix")
_NEEDS_LOW = ("mix", "mix_finetune", "birpt", "birpt_ms_only", "birpt_mt_only")
# the paper's simulated set: 100,000 grid points at 300-2500 K (hea_fast.xyield.paper.PAPER_LOW_TEMPERATURES_K)
_PAPER_T_K = tuple(float(t) for t in range(300, 2600, 100))


def register(subparsers) -> None:
    p = add_command(
        subparsers, "pretrain", _pretrain, help="Pretrain the X-Yield CNN on Maresca-Curtin simulated data",
        description="Pretrain the X-Yield CNN on a uniform sample of the simulated (low-quality) set (yield "
                    "strengths in GPa). Resumes from OUT/checkpoint.* when interrupted.")
    p.add_argument("-o", "--out", required=True, help="output directory (model + checkpoints)")
    p.add_argument("--n-low", type=int, default=100_000,
                   help="simulated points to train on (the paper's 100000, at 300-2500 K)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the simulated sample")
    p.add_argument("--epochs", type=positive_int, default=10, help="training epochs (authors' pretrain.py)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="points per step (the paper's 16)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (the paper's 1e-4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and batches")
    p.add_argument("--task", choices=("regression", "classification"), default="regression",
                   help="regression (GPa) or the paper's 5 classes of 0.5 GPa")
    p.add_argument("--imp-rounds", type=int, default=0,
                   help="also write OUT/imp: N_s global magnitude-pruning rounds (20%% each, one retraining "
                        "epoch each) as a starting point for --method imp (0 = none)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    t = add_command(
        subparsers, "transfer", _transfer,
        help="Fine-tune on experimental points with a transfer protocol (Bi-RPT, ...)",
        description="Train on the training part of an experimental split with one protocol; the epoch "
                    "is chosen on a validation carve of the training points (never on test). Every epoch is "
                    "checkpointed under OUT/checkpoint; rerunning the same command resumes there.")
    t.add_argument("--method", choices=_METHODS, default="birpt", help="transfer protocol")
    t.add_argument("--pretrained", help="pretrained model directory from `xyield pretrain` (required unless "
                   "--method no_pretraining) (default: none)")
    t.add_argument("--split", default="5pct", help=_SPLIT_HELP)
    t.add_argument("--split-seed", type=int, default=0, help="seed of the few-shot split")
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation and batches")
    t.add_argument("--epochs", type=positive_int, default=90, help="training epochs")
    t.add_argument("--batch-size", type=positive_int, default=4, help="points per step")
    t.add_argument("--lr-w", type=float, default=1e-3, help="weight learning rate")
    t.add_argument("--lr-mask", type=float, default=3.5, help="mask learning rate")
    t.add_argument("--gamma", type=float, default=3e-3, help="l1 weight lambda of the masks (authors' 3e-3)")
    t.add_argument("--eps0", type=float, default=0.1, help="initial share of simulated points per batch (Bi-RPT)")
    t.add_argument("--eps-decay", type=float, default=0.9, help="per-epoch decay of that share")
    t.add_argument("--imp-rounds", type=int, default=2, help="N_t magnitude-pruning rounds (--method imp)")
    t.add_argument("--mix-steps", type=positive_int, default=2000,
                   help="optimiser steps of --method mix (from scratch, batch 16, Adam 1e-4)")
    t.add_argument("--n-low", type=int, default=100_000, help="simulated points (the paper's 100000, 300-2500 K)")
    t.add_argument("--data-seed", type=int, default=0, help="seed of the simulated sample")
    t.add_argument("--task", choices=("regression", "classification"), default=None,
                   help="for no_pretraining (default: the pretrained model's task, else regression)")
    t.add_argument("-o", "--out", required=True, help="output model directory (checkpoints in OUT/checkpoint)")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    e = add_command(
        subparsers, "evaluate", _evaluate, help="Evaluate a saved model on the test part of an experimental split",
        description="MSE (GPa^2) and 5-class accuracy on the held-out points of a split.")
    e.add_argument("--model", required=True, help=_MODEL_HELP)
    e.add_argument("--split", default=None, help=_SPLIT_HELP + " (default: the split the model was trained on "
                   "by `xyield transfer`, else 5pct); a split whose test points the model was trained on is refused")
    e.add_argument("--split-seed", type=int, default=None,
                   help="seed of the few-shot split (default: the model's, else 0)")
    e.add_argument("-o", "--out", help="write the metrics and predictions as JSON (default: printed only)")

    q = add_command(
        subparsers, "predict", _predict, help="Predict the yield strength (MPa) of compositions at temperatures",
        description="Predict with a saved model (an ensemble: mean and standard deviation) for the formulas of "
                    "--composition (columns formula, temperature_K, ...) or of a table -i IN (its columns, "
                    "temperature_K after the formula column, ..., and 'error' for rows that cannot be scored: "
                    "unreadable formulas, elements outside the X-Yield ten Al Cr Hf Mo Nb Ta Ti V W Zr), one row "
                    "per alloy and temperature. Regression models give sigma_y_MPa (+ sigma_y_std_MPa for an "
                    "ensemble); classification models give class5, sigma_y_bin_lo_MPa, sigma_y_bin_hi_MPa and the "
                    "class probabilities p0..p4.")
    q.add_argument("--model", required=True, nargs="+", help=_MODEL_HELP + "; several for an ensemble")
    q.add_argument("--composition", "-c", nargs="+", default=None,
                   help="formulas, e.g. MoNbTaTi (or -i; default: none)")
    q.add_argument("-i", "--input", default=None, help="CSV or Parquet table of alloys (or -c; default: none)")
    add_formula_column(q)
    add_errors_args(q, "predictions")
    q.add_argument("--temperatures", "--temperature", "-T", type=float, nargs="+", default=[300.0], metavar="T",
                   help="temperatures in K")
    q.add_argument("-o", "--out", type=output_table, help="output .csv or .parquet (default: CSV on stdout)")
    q.add_argument("--chunk-size", type=positive_int, default=20_000, metavar="N",
                   help="-i: alloys read, scored and written at a time (memory stays flat however large the table; "
                   "a progress bar shows on tables of more than one chunk) (default: %(default)s)")


_SPLIT_HELP = "experimental split: 5pct or 10pct (few-shot training share) or cv10:K (10-fold CV, fold K held out)"
_MODEL_HELP = "model directory written by `hea-fast xyield pretrain` or `xyield transfer` (no CNN is bundled)"


def _split(spec: str, split_seed: int, hq):
    from hea_fast.xyield.datasets import cv_folds, few_shot_split

    if spec == "5pct":
        return few_shot_split(0.05, seed=split_seed, dataset=hq)
    if spec == "10pct":
        return few_shot_split(0.10, seed=split_seed, dataset=hq)
    if spec.startswith("cv10:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            k = -1
        folds = cv_folds(hq)
        if not 0 <= k < len(folds):
            raise ValueError(f"split {spec!r}: fold must be an integer in 0..{len(folds) - 1}")
        return folds[k]
    raise ValueError(f"unknown split {spec!r}: use 5pct, 10pct or cv10:K")


def _pretrain(args) -> int:
    from hea_fast.xyield.cnn import CNNConfig  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    from hea_fast.xyield.datasets import load_low_quality
    from hea_fast.xyield.protocol import PretrainConfig, pretrain, prune_pretrained, save_model
    import torch

    if args.n_low < 10:
        raise ValueError(f"--n-low must be >= 10, got {args.n_low}")
    out = Path(args.out)
    lq = load_low_quality(n=args.n_low, seed=args.data_seed, temperatures_K=_PAPER_T_K)
    x, y = torch.from_numpy(lq.images()), torch.from_numpy(lq.targets("GPa"))
    if args.task == "classification":
        y = torch.clamp(torch.floor(y * 2), 0, 4)
    cfg = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, imp_rounds=args.imp_rounds)
    model, hist = pretrain(x, y, CNNConfig(task=args.task), cfg, seed=args.seed, checkpoint_dir=out / "checkpoint",
                           progress=not args.no_progress, threads=args.threads)
    save_model(out, model, {"history": hist, "n_low": args.n_low, "data_seed": args.data_seed})
    if args.imp_rounds > 0:
        save_model(out / "imp", prune_pretrained(model, x, y, cfg, seed=args.seed, progress=not args.no_progress),
                   {"imp_rounds": args.imp_rounds})
    metric = "mse" if args.task == "regression" else "1-accuracy"
    print(json_text({"model": str(out), "best_val": min(h.get("val", h.get("val_mse")) for h in hist), "val_metric": metric}))
    return 0


def _transfer(args) -> int:
    from hea_fast.xyield.datasets import load_high_quality, load_low_quality  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    from hea_fast.xyield.protocol import TransferConfig, save_model, transfer
    import torch

    pre = None
    if args.method not in ("no_pretraining", "mix"):
        if not args.pretrained:
            raise ValueError(f"--method {args.method} needs --pretrained DIR (from `hea-fast xyield pretrain`)")
        pdir = Path(args.pretrained)
        if args.method == "imp" and (pdir / "imp" / "model.json").is_file():
            pdir = pdir / "imp"
        pre = load_xyield_model(str(pdir))
    from hea_fast.xyield.cnn import CNNConfig

    task = pre.config.task if pre is not None else (args.task or "regression")
    if pre is not None and args.task and args.task != task:
        raise ValueError(f"--task {args.task} differs from the pretrained model's task {task!r}")

    def labels(y):  # the paper's 5 bins of 0.5 GPa for classification
        return torch.clamp(torch.floor(y * 2), 0, 4) if task == "classification" else y

    hq = load_high_quality()
    tr, te = _split(args.split, args.split_seed, hq)
    x, y = torch.from_numpy(hq.images()), labels(torch.from_numpy(hq.targets("GPa")))
    xl = yl = None
    if args.method in _NEEDS_LOW:
        lq = load_low_quality(n=args.n_low, seed=args.data_seed, temperatures_K=_PAPER_T_K)
        xl, yl = torch.from_numpy(lq.images()), labels(torch.from_numpy(lq.targets("GPa")))
    cfg = TransferConfig(epochs=args.epochs, batch_size=args.batch_size, lr_w=args.lr_w, lr_mask=args.lr_mask,
                         gamma=args.gamma, eps0=args.eps0, eps_decay=args.eps_decay, imp_rounds=args.imp_rounds)
    if args.method == "mix":
        from hea_fast.xyield.paper import MixConfig, train_mix

        model, info = train_mix(x[tr], y[tr], xl, yl, CNNConfig(task=task), MixConfig(max_steps=args.mix_steps,
                                eval_every=max(1, args.mix_steps // 10)), seed=args.seed)
        info["selected_epoch"] = info["selected_step"]
    else:
        model, info = transfer(args.method, x[tr], y[tr], x_low=xl, y_low=yl, pretrained=pre, cfg=cfg,
                               seed=args.seed, progress=not args.no_progress, model_config=CNNConfig(task=task),
                               checkpoint_dir=Path(args.out) / "checkpoint")
    info.pop("history")
    save_model(args.out, model, {"split": args.split, "split_seed": args.split_seed, **info})
    print(json_text({"model": args.out, "selected_epoch": info["selected_epoch"],
                      "val": info["val"], "val_metric": "mse" if task == "regression" else "1-accuracy"}))
    return 0


def _evaluate(args) -> int:
    import numpy as np  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    from hea_fast.xyield.datasets import load_high_quality
    from hea_fast.xyield.protocol import class5_accuracy, predict
    import torch

    model = load_xyield_model(args.model)
    hq = load_high_quality()
    meta = getattr(model, "meta", None) or {}
    trained = meta.get("split")  # written by `xyield transfer`; pretrained models saw no experimental point
    split = args.split if args.split is not None else (trained or "5pct")
    split_seed = args.split_seed if args.split_seed is not None else int(meta.get("split_seed", 0) if trained else 0)
    _, te = _split(split, split_seed, hq)
    if trained:
        seen, _ = _split(trained, int(meta.get("split_seed", 0)), hq)
        leak = np.intersect1d(seen, te)
        if leak.size:
            raise ValueError(f"--model {args.model} was trained on split {trained} (seed {meta.get('split_seed', 0)}): "
                             f"{leak.size} of the {len(te)} test points of split {split} (seed {split_seed}) are "
                             "among its training points; omit --split/--split-seed to evaluate on its own split")
    out = predict(model, torch.from_numpy(hq.images()[te]))
    y = hq.targets("GPa")[te].astype(float)
    if model.config.task == "classification":
        cls = out.argmax(1).numpy()
        truth = np.clip(np.floor(y * 2), 0, 4)
        p = (cls + 0.5) / 2.0  # bin centre in GPa, for reference only
        res = {"split": split, "split_seed": split_seed, "n_test": int(len(te)),
               "acc_class5": float(np.mean(cls == truth))}
    else:
        p = out.numpy().astype(float)
        res = {"split": split, "split_seed": split_seed, "n_test": int(len(te)), "mse_GPa2": float(np.mean((p - y) ** 2)),
               "acc_class5": class5_accuracy(p, y)}
    print(json_text(res))
    if args.out:
        res["pred_GPa"] = p.tolist()
        res["test_idx"] = [int(i) for i in te]
        atomic_write(args.out, json_text(res, indent=2))
    return 0


def _model_outputs(models, task: str, x) -> dict:
    """Prediction columns of pseudo-images x: the ensemble's mean (and spread) in MPa for regression,
    class, bin and mean class probabilities for classification."""
    import numpy as np  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    from hea_fast.xyield.protocol import predict
    import torch

    if len(x) == 0:  # no alloy to score: the columns, empty
        names = (["class5", "sigma_y_bin_lo_MPa", "sigma_y_bin_hi_MPa"] + [f"p{k}" for k in range(models[0].config.n_classes)]
                 if task == "classification" else ["sigma_y_MPa"] + (["sigma_y_std_MPa"] if len(models) > 1 else []))
        return {k: np.empty(0) for k in names}
    out = {}
    if task == "classification":
        # ensemble = mean of the members' class probabilities; bins of 500 MPa (class 4: >= 2000 MPa)
        probs = np.stack([torch.softmax(predict(m, x), dim=1).numpy() for m in models]).mean(0)
        cls = probs.argmax(1)
        out["class5"] = cls
        out["sigma_y_bin_lo_MPa"] = cls * 500.0
        out["sigma_y_bin_hi_MPa"] = np.where(cls == probs.shape[1] - 1, np.inf, (cls + 1) * 500.0)
        for k in range(probs.shape[1]):
            out[f"p{k}"] = probs[:, k]
    else:
        preds = 1000.0 * np.stack([predict(m, x).numpy().astype(np.float64) for m in models])  # GPa -> MPa
        out["sigma_y_MPa"] = preds.mean(0)
        if len(models) > 1:
            out["sigma_y_std_MPa"] = preds.std(0, ddof=1)
    return out


def _predict(args) -> int:
    import numpy as np  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    import pandas as pd
    from hea_fast.commands._tables import write_table
    from hea_fast.xyield.datasets import XYIELD_ELEMENTS
    from hea_fast.xyield.pseudoimage import pseudo_images
    import torch

    if (args.composition is None) == (args.input is None):
        raise ValueError("give the alloys either as --composition FORMULA ... or as a table with -i IN.csv")
    temps_arg = np.asarray(args.temperatures, dtype=np.float64)
    if not (np.isfinite(temps_arg).all() and (temps_arg >= 0).all()):
        raise ValueError(f"--temperatures {args.temperatures}: temperatures are in K, finite and >= 0")
    models = [load_xyield_model(m) for m in args.model]
    tasks = {m.config.task for m in models}
    if len(tasks) > 1:
        raise ValueError(f"cannot ensemble regression and classification models: {args.model}")
    task = tasks.pop()
    if args.input is not None:
        from hea_fast.commands._stream import stream_table

        # --chunk-size alloys at a time (flat memory), each with its len(T) rows; -o written atomically
        bad, n_rows, n_out = stream_table("xyield predict", args, lambda chunk, col, bad, offset: _predict_chunk(
            models, task, temps_arg, chunk, col, bad, offset), output=args.out or "-",
            repeat=len(temps_arg))
        bad.report(n_rows, args.errors, args.errors_out)
        if args.out:
            say("xyield predict", f"wrote {n_out} rows ({len(temps_arg)} per alloy) to {args.out}")
        return 0
    else:
        from hea_fast.commands.xyield_data import command_line_batch

        batch = command_line_batch(args.composition, elements=XYIELD_ELEMENTS)  # a bad formula stops here
        comps = [c for c in args.composition for _ in args.temperatures]
        temps = np.tile(temps_arg, len(args.composition))
        rows = batch[np.repeat(np.arange(len(batch)), len(temps_arg))]
        x = torch.from_numpy(pseudo_images(rows, temps))
        df = pd.DataFrame({"formula": comps, "temperature_K": temps})
        for k, v in _model_outputs(models, task, x).items():
            df[k] = v
    if args.out:
        write_table(df, args.out)
    else:
        df.to_csv(sys.stdout, index=False)
    return 0


def _predict_chunk(models, task: str, T, chunk, col, bad, offset: int):
    """`predict -i`: the chunk's rows (rows offset, offset+1, ... of the file) x temperatures with the
    predictions, NaN for a bad row (recorded in `bad`: unreadable, or elements outside the X-Yield ten)."""
    import numpy as np  # noqa: I001 (the [xyield] guard names the extra before torch's bare error)
    from hea_fast.commands._tables import explain
    from hea_fast.commands.xyield_data import per_temperature
    from hea_fast.composition import as_batch
    from hea_fast.xyield.datasets import XYIELD_ELEMENTS
    from hea_fast.xyield.pseudoimage import pseudo_images
    import torch

    values = chunk[col].tolist()
    # outside the ten: a bad row too; an object array, so that a chunk of empty cells (read as floats) is
    # formulas, not one row of amounts
    batch = as_batch(np.asarray(values, dtype=object), elements=XYIELD_ELEMENTS, errors="skip")
    for label, reason in batch.skipped:
        bad.add(offset + int(label), values[int(label)], explain(values[int(label)], reason))
    bad.items.sort(key=lambda t: t[0])
    kept = np.arange(len(values)) if batch.index is None else np.asarray(batch.index, dtype=np.int64)
    frac = np.repeat(np.asarray(batch.fractions, dtype=np.float64), len(T), axis=0)
    x = torch.zeros((0, 2, 9, 18))  # every row bad: the columns still appear, all NaN
    if len(kept):
        x = torch.from_numpy(pseudo_images(frac, np.tile(T, len(kept)), elements=tuple(batch.elements)))
    cols = _model_outputs(models, task, x)
    out = per_temperature(chunk, col, T)
    for name, v in cols.items():
        full = np.full((len(chunk), len(T)), np.nan)
        full[kept] = np.asarray(v, dtype=np.float64).reshape(len(kept), len(T))
        out[name] = full.reshape(-1)
    return out


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["xyield", *sys.argv[1:]]))
