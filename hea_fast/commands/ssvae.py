"""`hea-fast ssvae train|predict|explain` — the disentangled semi-supervised VAE
(Zeng, Khan & Post, arXiv 2409.06740). The design modes (generate, nudge) are in `ssvae_design`.

train     train on the d-VAE splits (split seed 42 = the paper's), write a model directory
          (config.json + model.safetensors, no pickle), history.csv, metrics.json and roc.png
predict   add p_single to a table of formulas; rows the model cannot score keep NaN and a reason
explain   exact Shapley values of the classifier head (all 2^8 coalitions) + summary PNG, against 200
          k-means medoids standing for the background by default (`--background-size all`: every row);
          it reads the head's weights without torch (`hea_fast.ssvae.head.load_head`)

--model takes `ssvae` / `default` (the project-trained SSVAE bundled with hea_fast), `released`
(the authors' weights from $HEA_FAST_DATA/dvae_hea_zeng2024_model/) or a directory written by
`ssvae train`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hea_fast.commands._common import add_command, positive_int, say
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table

MODEL_HELP = ("ssvae | default (the project-trained SSVAE bundled with hea_fast), released (the authors' weights "
              "from the data home) or a directory written by `hea-fast ssvae train` (default: default)")

#: The classifier head's 8 inputs: Zeng et al.'s names -> hea_fast.features descriptor, unit. They are
#: computed with the paper's element table (`featurize --descriptors zeng2024`), which counts the 4f
#: electrons of Hf, Ta, W, ... in the VEC: `vac` of NbMoTaW is 12.5, `VEC` of the default table 5.5.
ZENG2024_FEATURES = (("k", "K", "bulk modulus, GPa"), ("vm", "Vm", "molar volume, cm^3/mol"),
                     ("tm", "Tm", "melting temperature, K"),
                     ("vac", "VEC", "valence electron concentration, electrons/atom (4f electrons counted)"),
                     ("delta", "delta", "atomic size mismatch, %"), ("delta_chi", "dchi_pauling", "Pauling "
                     "electronegativity difference"), ("delta_s_mix", "dS_mix", "mixing entropy, J/(mol K)"),
                     ("delta_h_mix", "dH_mix", "mixing enthalpy, kJ/mol"))


def _write_csv(df, path):
    from hea_fast.commands._tables import write_table

    return write_table(df, path)


def _read_formulas(cmd: str, args):
    """(table, formula column, BadRows) of `args.input`."""
    from hea_fast.commands._tables import BadRows, formula_column, read_table

    df = read_table(args.input)
    col = formula_column(df.columns, args.formula_column, args.input)
    return df, col, BadRows(cmd, args.input)


def _score_rows(model, df, col, bad, threads=None, offset: int = 0):
    """(at.% rows, ok mask) of a table's formulas over the model's elements; bad rows recorded (`df` holds
    rows offset, offset+1, ... of the file)."""
    import numpy as np

    from hea_fast.commands._tables import explain
    from hea_fast.ssvae.design import compositions_to_atpct

    values = df[col].tolist()
    x, ok, reasons = compositions_to_atpct(model, values, errors="report")
    for i in np.flatnonzero(~ok):
        bad.add(offset + int(i), values[i], explain(values[i], reasons[i]))
    return x, ok


# ---- handlers -----------------------------------------------------------------------------------------
def _train(args):
    import dataclasses

    import numpy as np
    import pandas as pd
    import torch

    from hea_fast._io import atomic_write_json, json_text
    from hea_fast.ssvae import plots
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.model import SSVAEConfig
    from hea_fast.ssvae.training import TrainConfig, train_models, train_pyro

    min_epochs = args.min_epochs
    if not args.legacy and args.epochs <= min_epochs:
        # selection and early stopping start at --min-epochs: a shorter run would select nothing
        min_epochs = max(1, args.epochs // 2)
        say("ssvae train", f"--epochs {args.epochs} is not above --min-epochs {args.min_epochs} (where model "
            f"selection starts): selecting over epochs {min_epochs}-{args.epochs} instead (--min-epochs {min_epochs})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split_seed = args.seed if args.split_seed is None else args.split_seed
    splits = load_splits(split_seed)
    mcfg = SSVAEConfig(z_dim=args.z_dim, hidden=tuple(args.hidden), legacy=args.legacy)
    if args.legacy:  # the authors' loop: Pyro SVI, φ sampled, raw features, best validation accuracy
        res = train_pyro(splits, args.seed, mcfg, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         progress=not args.no_progress)
        tcfg = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "loop": "pyro (legacy)"}
    else:
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                          min_epochs=min_epochs, selection=args.selection, threads=args.threads)
        try:
            res = train_models([splits], [args.seed], mcfg, cfg, progress=not args.no_progress,
                               checkpoint=args.checkpoint or out / "checkpoint.safetensors")
        except KeyboardInterrupt as exc:
            if exc.args:  # the run state was saved at an epoch boundary: say where and how to go on
                say("ssvae train", f"{exc.args[0]} (rerun this command to continue)")
            raise
        tcfg = dataclasses.asdict(cfg)
    model = res.models[0]
    info = dict(model.training_info or {})
    info["split_seed"] = int(split_seed)
    model.training_info = info
    model.save(out)
    hist = pd.DataFrame({k: np.asarray(v)[:, 0] for k, v in res.history.items()})
    hist.insert(0, "epoch", np.arange(len(hist)))
    _write_csv(hist, out / "history.csv")
    from sklearn.metrics import roc_auc_score

    metrics = {"split_seed": int(split_seed), "seed": args.seed, "best_epoch": res.best_epoch[0],
               "epochs_run": res.epochs_run, "seconds": res.seconds,
               "train_config": json.loads(json.dumps(tcfg, default=list))}
    for part in ("labelled", "validation", "test"):
        s = splits[part]
        with torch.no_grad():
            p = model.classifier_prob(torch.from_numpy(s.e))[:, 0].numpy()
        metrics[part] = {"accuracy": float(((p > 0.5) == (s.y > 0.5)).mean()), "auc": float(roc_auc_score(s.y, p)),
                         "n": int(len(s.y))}
    atomic_write_json(out / "metrics.json", metrics, strict=True, indent=2)
    plots.roc_curves(model, splits, out / "roc.png")
    print(json_text({k: metrics[k] for k in ("validation", "test", "best_epoch", "epochs_run")}))
    return 0


def _predict(args):
    import numpy as np

    from hea_fast.commands._common import load_ssvae_model
    from hea_fast.commands._stream import stream_table
    from hea_fast.ssvae.design import classifier_proba, features_of

    model = load_ssvae_model(args.model)
    n_scored = [0]

    def score(chunk, col, bad, offset):
        x, ok = _score_rows(model, chunk, col, bad, offset=offset)
        p = np.full(len(chunk), np.nan)
        if ok.any():
            p[ok] = classifier_proba(model, features_of(model, x[ok], args.threads))
        n_scored[0] += int(ok.sum())
        out = chunk.copy()
        out["p_single"] = p
        return out

    bad, n_rows, _ = stream_table("ssvae predict", args, score)  # --chunk-size rows at a time: flat memory
    bad.report(n_rows, args.errors, args.errors_out)
    print(f"wrote {args.output}: {n_scored[0]} rows scored, {len(bad)} could not be")
    return 0


def _load_head(spec):
    """`--model` of `explain` as the classifier head's arrays (`hea_fast.ssvae.head.load_head`): the
    same names and messages as the other SSVAE commands, without importing torch."""
    from hea_fast.commands._common import load_ssvae_model, one_line
    from hea_fast.ssvae.head import load_head

    name = "default" if spec is None else str(spec)
    if name == "mixture":
        return load_ssvae_model(name)  # raises: this command takes an SSVAE
    try:
        return load_head("default" if name == "bundled" else name)
    except (OSError, ValueError) as exc:
        if name == "released":
            raise FileNotFoundError(f"--model released: the authors' weights are not available ({one_line(exc)}); "
                                    "use --model ssvae or a directory written by `hea-fast ssvae train`") from None
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"--model {name}: {one_line(exc)}") from None
        raise ValueError(f"--model {name}: not a loadable SSVAE ({type(exc).__name__}: {one_line(exc)})") from None


def _explain(args):
    import numpy as np
    import pandas as pd

    from hea_fast.commands._tables import finish
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.explain import exact_shapley, summarize_background

    model = _load_head(args.model)
    split_seed = args.split_seed
    if split_seed is None:
        split_seed = int((getattr(model, "training_info", None) or {}).get("split_seed", 42))
    splits = load_splits(split_seed)
    bg = splits["labelled"].e if args.background == "labelled" else np.concatenate(
        [splits["labelled"].e, splits["unlabelled"].e])
    n_bg_all = len(bg)
    weights = None
    if args.background_size is not None and args.background_size < len(bg):
        if args.background_summary == "kmeans":  # weighted medoids of a seeded k-means clustering
            bg, weights = summarize_background(bg, args.background_size, seed=args.seed)
        else:
            # v(S) is a mean over background rows and Shapley values are linear in v: the values against a
            # uniform random subsample are unbiased estimates of those against the whole background
            keep = np.sort(np.random.default_rng(args.seed).choice(len(bg), size=args.background_size, replace=False))
            bg = bg[keep]
    bad = None
    if args.input:
        df, col, bad = _read_formulas("ssvae explain", args)
        x, ok = _score_rows(model, df, col, bad)
        if args.errors == "raise":
            bad.raise_if_any()
        if not len(df):
            raise ValueError(f"{args.input} has no rows: nothing to explain")
        if not ok.any():
            raise ValueError(f"no row of {args.input} can be explained: {bad.message()}")
        names = df[col].where(df[col].notna(), "").astype(str).to_numpy()  # an empty cell stays empty, not 'nan'
        from hea_fast.ssvae.design import features_of

        e = np.full((len(df), len(model.config.features)), np.nan)
        e[ok] = features_of(model, x[ok])
    else:
        names, e = splits["test"].alloys, splits["test"].e
        ok = np.ones(len(e), bool)
    res = exact_shapley(model, e[ok], bg, output=args.output_kind, weights=weights)
    part = res.to_frame().rename(columns={"f": "p_single" if args.output_kind == "probability" else "logit_p_single"})
    out = pd.DataFrame(np.nan, index=np.arange(len(e)), columns=part.columns)
    out.iloc[np.flatnonzero(ok)] = part.to_numpy()
    out.insert(0, "alloy", names)
    for j, f in enumerate(model.config.features):
        out[f] = np.asarray(e)[:, j]
    if bad is not None:
        out = finish(out, bad, args.errors, args.errors_out)
    _write_csv(out, args.output)
    if args.plot:
        from hea_fast.ssvae import plots

        plots.shap_summary(res.values, e[ok], model.config.features, args.plot,
                           title=f"exact Shapley values of P(single phase) for {int(ok.sum())} alloys "
                           f"({len(bg)} background rows)")
    sub = ""
    if len(bg) < n_bg_all:
        how = "k-means medoids weighted by cluster size" if weights is not None else "a uniform subsample"
        sub = f" standing for {n_bg_all}: {how}, seed {args.seed}; --background-size all for every row"
    print(f"wrote {args.output}: {int(ok.sum())} alloys, base value E[f] = {res.base_value:.4f} "
          f"({len(bg)} background rows{sub}, split seed {split_seed})")
    return 0


#: `explain`'s default background: 200 rows standing for the labelled split (k-means medoids), and what
#: that costs in accuracy, measured by benchmarks/test_ssvae.py::test_background_summary_accuracy
#: (the per-row coalition values of all 864 rows, then each seed's weighted medoids, compared over the
#: 138 x 8 Shapley values). The kernel's work is linear in the rows: 200 instead of 864 is 4.3x less.
BACKGROUND_SIZE = 200
BACKGROUND_TOLERANCE = ("max |phi - phi_all| 0.010-0.023 for the bundled model (largest |phi| 0.57; 0.014 with the "
                        "default seed 0) and 0.012-0.021 for the released weights (largest |phi| 0.65; 0.016), "
                        "root-mean-square 0.003-0.006; the features' order of mean |phi| unchanged, the largest "
                        "feature of 98 % of the alloys unchanged")


def _background_size(text: str):
    if text.strip().lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--background-size must be a positive integer or 'all', got {text!r}")
    return n


# ---- registration -------------------------------------------------------------------------------------
def register(sub) -> None:
    h = "train an SSVAE on the d-VAE splits and write a model directory"
    p = add_command(sub, "train", _train, help=h)
    p.add_argument("--out", required=True, help="model directory to write (config.json, model.safetensors, ...)")
    p.add_argument("--seed", type=int, default=42, help="model seed: init, batches, noise")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the labelled/validation/test split (default: --seed; 42 = the paper's)")
    p.add_argument("--epochs", type=positive_int, default=2000,
                   help="epoch budget; early stopping may end sooner; at or below --min-epochs, selection starts "
                   "half-way instead (with a warning)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (the authors' 1e-4 needs ~20,000 "
                   "epochs)")
    p.add_argument("--min-epochs", type=positive_int, default=500,
                   help="epoch where model selection and early stopping start")
    p.add_argument("--batch-size", type=positive_int, default=32, help="alloys per step")
    p.add_argument("--patience", type=positive_int, default=300, help="early stop after this many epochs without "
                   "improvement of the smoothed validation score")
    p.add_argument("--selection", choices=("brier", "ce"), default="brier",
                   help="validation score for selection and stopping: Brier score or cross-entropy")
    p.add_argument("--z-dim", type=positive_int, default=2, help="latent dimensions")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[100, 100], help="hidden layer widths")
    p.add_argument("--legacy", action="store_true",
                   help="the authors' behaviour: raw features, φ sampled (Pyro SVI loop; slow)")
    p.add_argument("--checkpoint", default=None, help="resumable run state (default: OUT/checkpoint.safetensors)")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    h = "add P(single phase) to a table of formulas"
    p = add_command(sub, "predict", _predict, help=h,
                    description=h + ". Output: the input columns, p_single, and 'error' for rows the model cannot "
                    "score (an element outside its 30, an unreadable formula).")
    p.add_argument("input", help="CSV or Parquet table with a formula column")
    p.add_argument("--model", default="default", help=MODEL_HELP)
    add_formula_column(p)
    p.add_argument("-o", "--output", required=True, type=output_table,
                   help="output .csv or .parquet (input rows + p_single + error)")
    add_errors_args(p, "p_single")
    p.add_argument("--chunk-size", type=positive_int, default=100_000,
                   help="rows read, scored and written at a time (memory stays flat however large the table; a "
                   "progress bar shows on tables of more than one chunk) (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=None, help="featurization threads (default: all cores)")

    h = "exact Shapley values of the classifier head over its 8 descriptors"
    names = ", ".join(f"{a} = {b} ({u})" for a, b, u in ZENG2024_FEATURES)
    p = add_command(sub, "explain", _explain, help=h,
                    description=h + ". Output: alloy, p_single (the explained probability), phi_<descriptor> (the "
                    "Shapley values, summing to p_single - E[p_single] over the background) and the descriptor "
                    f"values. The descriptors are Zeng et al.'s: {names}. They use the paper's element table "
                    "(`hea-fast featurize --descriptors zeng2024` gives the same numbers), which counts 4f "
                    "electrons in the VEC: vac of NbMoTaW is 12.5 where featurize's VEC (default table) is 5.5.")
    p.add_argument("input", nargs="?", default=None, help="table with formulas (default: the 138 test-split alloys)")
    p.add_argument("--model", default="default", help=MODEL_HELP)
    add_formula_column(p)
    add_errors_args(p, "Shapley values")
    p.add_argument("--background", choices=("labelled", "training"), default="labelled",
                   help="background rows: the labelled split, or labelled + unlabelled")
    p.add_argument("--background-size", type=_background_size, default=BACKGROUND_SIZE,
                   help="background rows used: 'all' (every row, as the paper: exact values against the whole "
                   "background; the cost is linear in it: 864 labelled rows take about 4x as long as 200), or this "
                   "many rows standing for them (see --background-summary); default 200. With 200 k-means medoids, "
                   "measured against all 864 labelled rows on the 138 d-VAE test alloys (k-means seeds 0-9): "
                   f"{BACKGROUND_TOLERANCE.replace(chr(37), chr(37) * 2)}")  # argparse reads % as a format
    p.add_argument("--background-summary", choices=("kmeans", "random"), default="kmeans",
                   help="how --background-size rows stand for the background: kmeans = the medoids of a seeded "
                   "k-means clustering of the standardised descriptors, each weighted by its cluster's size "
                   "(about half the error of random at the same size); random = a seeded uniform subsample, "
                   "unweighted (unbiased estimates of the values against the whole background)")
    p.add_argument("--seed", type=int, default=0, help="seed of the background summary (k-means start or subsample)")
    p.add_argument("--split-seed", type=int, default=None, help="splits for the background (default: the model's)")
    p.add_argument("--output-kind", choices=("probability", "logit"), default="probability",
                   help="explain P(single phase) or its logit")
    p.add_argument("-o", "--output", required=True, type=output_table, help="output .csv or .parquet")
    p.add_argument("--plot", default=None, help="PNG summary plot (default: none)")


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["ssvae", *sys.argv[1:]]))
