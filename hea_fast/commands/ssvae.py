"""`hea-fast ssvae train|predict|generate|nudge|explain` — the disentangled semi-supervised VAE
(Zeng, Khan & Post, arXiv 2409.06740).

train     train on the d-VAE splits (split seed 42 = the paper's), write a model directory
          (config.json + model.safetensors, no pickle), history.csv, metrics.json and roc.png
predict   add p_single to a CSV of formulas; rows with elements outside the model's 30 are reported
generate  decode latent points z with a target probability (rounded formulas, re-scored)
nudge     the iterative design loop from start alloys; whole trajectories (+ optional PNG)
explain   exact Shapley values of the classifier head (all 2^8 coalitions) + summary PNG

--model takes a directory written by `ssvae train` or the word `released` (the authors' weights
from $HEA_FAST_DATA/dvae_hea_zeng2024_model/).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _load_model(spec: str):
    from hea_fast.ssvae.model import load_model

    return load_model(spec)


def _csv_list(s):
    return tuple(t.strip() for t in str(s).split(",") if t.strip())


def _constraints(args):
    from hea_fast.ssvae.design import Constraints

    bounds = {}
    for b in args.bound or []:
        parts = b.split(":")
        if len(parts) != 3:
            raise ValueError(f"--bound {b!r}: expected ELEMENT:MIN:MAX in at.%, e.g. Al:0:10")
        try:
            bounds[parts[0]] = (float(parts[1]), float(parts[2]))
        except ValueError:
            raise ValueError(f"--bound {b!r}: MIN and MAX must be numbers") from None
    cost = {}
    for item in _csv_list(args.cost or ""):
        el, _, v = item.partition("=")
        try:
            cost[el.strip()] = float(v)
        except ValueError:
            raise ValueError(f"--cost item {item!r}: expected ELEMENT=VALUE") from None
    if args.cost_csv:
        import pandas as pd

        df = pd.read_csv(args.cost_csv)
        if not {"element", "cost"} <= set(df.columns):
            raise ValueError(f"{args.cost_csv}: needs columns 'element' and 'cost', has {list(df.columns)}")
        cost.update({str(e): float(c) for e, c in zip(df["element"], df["cost"])})
    if args.cost_weight and not cost:
        raise ValueError("--cost-weight needs --cost or --cost-csv")
    return Constraints(allowed=_csv_list(args.allow) if args.allow else None, forbidden=_csv_list(args.forbid or ""),
                       bounds=bounds, cost=cost, cost_weight=float(args.cost_weight or 0.0))


def _add_constraints(p):
    g = p.add_argument_group("design constraints (not in the paper)")
    g.add_argument("--allow", help="comma-separated elements that may appear (others are removed)")
    g.add_argument("--forbid", help="comma-separated elements that must not appear")
    g.add_argument("--bound", action="append", metavar="EL:MIN:MAX", help="at.%% bounds of an element (repeatable)")
    g.add_argument("--cost", help="per-element cost, e.g. Co=30,Ni=15 (any unit: $/kg, density, ...)")
    g.add_argument("--cost-csv", help="CSV with columns element,cost")
    g.add_argument("--cost-weight", type=float, default=0.0, help="λ in p_i ∝ p_i·exp(−λ·cost_i) (default 0)")


def _write_csv(df, path):
    from hea_fast._io import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


# ---- handlers -----------------------------------------------------------------------------------------
def _train(args):
    import dataclasses

    import numpy as np
    import pandas as pd
    import torch

    from hea_fast._io import atomic_write_json
    from hea_fast.ssvae import plots
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.model import SSVAEConfig
    from hea_fast.ssvae.training import TrainConfig, train_models, train_pyro

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
                          min_epochs=args.min_epochs, selection=args.selection,
                          threads=args.threads)
        res = train_models([splits], [args.seed], mcfg, cfg, progress=not args.no_progress,
                           checkpoint=args.checkpoint or out / "checkpoint.safetensors")
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
               "epochs_run": res.epochs_run, "seconds": res.seconds, "train_config": json.loads(json.dumps(tcfg, default=list))}
    for part in ("labelled", "validation", "test"):
        s = splits[part]
        with torch.no_grad():
            p = model.classifier_prob(torch.from_numpy(s.e))[:, 0].numpy()
        metrics[part] = {"accuracy": float(((p > 0.5) == (s.y > 0.5)).mean()), "auc": float(roc_auc_score(s.y, p)),
                         "n": int(len(s.y))}
    atomic_write_json(out / "metrics.json", metrics, indent=2)
    plots.roc_curves(model, splits, out / "roc.png")
    print(json.dumps({k: metrics[k] for k in ("validation", "test", "best_epoch", "epochs_run")}))
    return 0


def _predict(args):
    import numpy as np
    import pandas as pd

    from hea_fast.ssvae.design import classifier_proba, compositions_to_atpct, features_of

    model = _load_model(args.model)
    df = pd.read_csv(args.input)
    if args.formula_column not in df.columns:
        raise ValueError(f"{args.input}: no column {args.formula_column!r} (columns: {list(df.columns)})")
    forms = df[args.formula_column].astype(str).tolist()
    x, ok, reasons = compositions_to_atpct(model, forms, errors="report")
    p = np.full(len(df), np.nan)
    idx = np.flatnonzero(ok)
    for a in range(0, len(idx), args.chunk_size):
        sel = idx[a : a + args.chunk_size]
        p[sel] = classifier_proba(model, features_of(model, x[sel], args.threads))
    df["p_single"] = p
    df["ssvae_error"] = reasons
    _write_csv(df, args.output)
    bad = np.flatnonzero(~ok)
    if bad.size:
        print(f"hea-fast ssvae predict: {bad.size} of {len(df)} rows not scored (p_single empty, reason in "
              f"column ssvae_error), e.g. row {bad[0]}: {reasons[bad[0]]}", file=sys.stderr)
    print(f"wrote {args.output}: {idx.size} rows scored, {bad.size} reported")
    return 0


def _parse_z(args, z_dim):
    import numpy as np

    pts = []
    for s in args.z or []:
        try:
            v = [float(t) for t in s.split(",")]
        except ValueError:
            raise ValueError(f"--z {s!r}: expected comma-separated numbers, e.g. 0.1,-0.4") from None
        pts.append(v)
    if args.grid:
        axes = []
        for part in args.grid.split(","):
            try:
                lo, hi, n = part.split(":")
                axes.append(np.linspace(float(lo), float(hi), int(n)))
            except ValueError:
                raise ValueError(f"--grid {args.grid!r}: expected LO:HI:N per latent axis, comma-separated") from None
        mesh = np.meshgrid(*axes, indexing="ij")
        pts += np.stack([m.ravel() for m in mesh], 1).tolist()
    if not pts:
        raise ValueError("give latent points with --z and/or --grid")
    bad = [q for q in pts if len(q) != z_dim]
    if bad:
        raise ValueError(f"latent point {bad[0]} has {len(bad[0])} coordinates; the model's latent size is {z_dim}")
    return np.asarray(pts)


def _generate(args):
    from hea_fast.ssvae.design import generate

    model = _load_model(args.model)
    z = _parse_z(args, model.config.z_dim)
    df = generate(model, z, args.p, constraints=_constraints(args))
    _write_csv(df, args.output)
    print(f"wrote {args.output}: {len(df)} alloys, mean |p_target − p_single| = {df['abs_error'].mean():.3f}")
    return 0


def _nudge(args):
    import pandas as pd

    from hea_fast.ssvae import plots
    from hea_fast.ssvae.design import nudge

    model = _load_model(args.model)
    cons = _constraints(args)
    trajs = []
    for f in args.formula:
        t = nudge(model, f, cutoff=args.cutoff, max_steps=args.max_steps, constraints=cons)
        t.insert(0, "start_alloy", f)
        trajs.append(t)
        last = t.iloc[-1]
        print(f"{f}: {len(t) - 1} steps -> {last['alloy']} (p_single {last['p_single']:.3f}, "
              f"{'reached' if last['reached'] else 'not reached'} {args.cutoff})")
    df = pd.concat(trajs, ignore_index=True)
    _write_csv(df, args.output)
    if args.plot:
        plots.nudge_trajectory(trajs[0], args.plot)
    return 0


def _explain(args):
    import numpy as np
    import pandas as pd

    from hea_fast.ssvae import plots
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.design import compositions_to_atpct, features_of
    from hea_fast.ssvae.explain import exact_shapley

    model = _load_model(args.model)
    split_seed = args.split_seed
    if split_seed is None:
        split_seed = int((getattr(model, "training_info", None) or {}).get("split_seed", 42))
    splits = load_splits(split_seed)
    bg = splits["labelled"].e if args.background == "labelled" else np.concatenate(
        [splits["labelled"].e, splits["unlabelled"].e])
    if args.input:
        df = pd.read_csv(args.input)
        if args.formula_column not in df.columns:
            raise ValueError(f"{args.input}: no column {args.formula_column!r} (columns: {list(df.columns)})")
        x, ok, reasons = compositions_to_atpct(model, df[args.formula_column].astype(str).tolist(), errors="report")
        if not ok.any():
            raise ValueError(f"no row of {args.input} lies within the model's elements: {reasons[0]}")
        if (~ok).any():
            print(f"hea-fast ssvae explain: {(~ok).sum()} rows outside the model's elements skipped, e.g. "
                  f"{reasons[int(np.flatnonzero(~ok)[0])]}", file=sys.stderr)
        names = df[args.formula_column].astype(str).to_numpy()[ok]
        e = features_of(model, x[ok])
    else:
        names, e = splits["test"].alloys, splits["test"].e
    res = exact_shapley(model, e, bg, output=args.output_kind)
    out = res.to_frame()
    out.insert(0, "alloy", names)
    for j, f in enumerate(model.config.features):
        out[f] = np.asarray(e)[:, j]
    _write_csv(out, args.output)
    if args.plot:
        plots.shap_summary(res.values, e, model.config.features, args.plot)
    print(f"wrote {args.output}: {len(out)} alloys, base value E[f] = {res.base_value:.4f} "
          f"({len(bg)} background rows, split seed {split_seed})")
    return 0


# ---- registration -------------------------------------------------------------------------------------
def register(sub) -> None:
    h = "train an SSVAE on the d-VAE splits and write a model directory"
    p = sub.add_parser("train", help=h, description=h)
    p.add_argument("--out", required=True, help="model directory to write (config.json, model.safetensors, ...)")
    p.add_argument("--seed", type=int, default=42, help="model seed: init, batches, noise (default 42)")
    p.add_argument("--split-seed", type=int, default=None, help="split recipe seed (default: --seed; 42 = paper)")
    p.add_argument("--epochs", type=int, default=2000, help="epoch budget (early stopping may end sooner)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3; the authors' 1e-4 "
                   "needs ~20,000 epochs)")
    p.add_argument("--min-epochs", type=int, default=500, help="no model selection or early stop before this epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=300, help="early stop after this many epochs without improvement "
                   "of the smoothed validation score")
    p.add_argument("--selection", choices=("brier", "ce"), default="brier",
                   help="validation score for selection and stopping (default: Brier score)")
    p.add_argument("--z-dim", type=int, default=2)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    p.add_argument("--legacy", action="store_true",
                   help="the authors' behaviour: raw features, φ sampled (Pyro SVI loop; slow)")
    p.add_argument("--checkpoint", default=None, help="resumable run state (default OUT/checkpoint.safetensors)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)

    h = "add P(single phase) to a CSV of formulas"
    p = sub.add_parser("predict", help=h, description=h)
    p.add_argument("input", help="CSV with a formula column")
    p.add_argument("--model", required=True, help="model directory or 'released'")
    p.add_argument("--formula-column", default="formula")
    p.add_argument("-o", "--output", required=True, help="output CSV (input rows + p_single + ssvae_error)")
    p.add_argument("--chunk-size", type=int, default=200_000)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=_predict)

    h = "decode latent points with a target probability of single phase"
    p = sub.add_parser("generate", help=h, description=h)
    p.add_argument("--model", required=True, help="model directory or 'released'")
    p.add_argument("--z", action="append", metavar="Z1,Z2", help="a latent point (repeatable)")
    p.add_argument("--grid", metavar="LO:HI:N,LO:HI:N", help="a grid over the latent axes")
    p.add_argument("--p", type=float, default=1.0, help="φ fed to the decoder (default 1 = single phase)")
    p.add_argument("-o", "--output", required=True)
    _add_constraints(p)
    p.set_defaults(func=_generate)

    h = "iterative design: nudge start alloys towards single phase"
    p = sub.add_parser("nudge", help=h, description=h)
    p.add_argument("formula", nargs="+", help="start alloy(s), e.g. Fe14Ni16Cr22Co14Al22Cu8")
    p.add_argument("--model", required=True, help="model directory or 'released'")
    p.add_argument("--cutoff", type=float, default=0.6, help="stop once P(single) >= cutoff (default 0.6)")
    p.add_argument("--max-steps", type=int, default=10)
    p.add_argument("-o", "--output", required=True, help="CSV of the trajectories")
    p.add_argument("--plot", default=None, help="PNG of the first trajectory in latent space")
    _add_constraints(p)
    p.set_defaults(func=_nudge)

    h = "exact Shapley values of the classifier head over its 8 descriptors"
    p = sub.add_parser("explain", help=h, description=h)
    p.add_argument("input", nargs="?", default=None, help="CSV with formulas (default: the test split)")
    p.add_argument("--model", required=True, help="model directory or 'released'")
    p.add_argument("--formula-column", default="formula")
    p.add_argument("--background", choices=("labelled", "training"), default="labelled",
                   help="background rows: the labelled split or labelled+unlabelled (default labelled)")
    p.add_argument("--split-seed", type=int, default=None, help="splits for the background (default: the model's)")
    p.add_argument("--output-kind", choices=("probability", "logit"), default="probability")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--plot", default=None, help="PNG summary plot")
    p.set_defaults(func=_explain)
