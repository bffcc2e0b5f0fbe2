"""Reproduce the SSVAE of Zeng, Khan & Post (arXiv 2409.06740) with hea_fast.ssvae.

Stages (each writes JSON/CSV/PNG under benchmarks/papers/ssvae/out/ and can run alone):
  main        5 split seeds (42 = the paper's split, then 1..4) trained at once (`train_models`):
              test accuracy / ROC-AUC of the selected model (EMA weights, smoothed validation
              cross-entropy), of the last epoch and of the best raw validation accuracy; time.
  efficiency  data-efficiency table: SSVAE (labels hidden for the dropped labelled rows, which join
              the unlabelled pool) vs a supervised MLP (scikit-learn, (100, 100), standardised
              descriptors) trained on the same labelled subsets, paper split, 3 seeds per size.
  recon       reconstruction table on the 138 test alloys (z = loc q(z|x, y_true), decoded with the
              predicted probability) for the released weights and our seed-42 model.
  design      the three design modes on the paper's examples (released weights and our model) and
              plots (ROC, latent space, KDE, element-group blobs, SHAP summary, nudging trajectory).

Usage (repository root, HEA_FAST_DATA = data home), 1 thread; the runs in README.md were
    python benchmarks/papers/ssvae/reproduce.py main --lr 1e-3 --epochs 2000 --min-epochs 500 --tag _lr1e-3
    python benchmarks/papers/ssvae/reproduce.py main --lr 1e-4 --epochs 3000 --min-epochs 50 --selection ce
    python benchmarks/papers/ssvae/reproduce.py efficiency --lr 1e-3 --eff-epochs 800 --min-epochs 50
    python benchmarks/papers/ssvae/reproduce.py efficiency --lr 1e-3 --eff-epochs 1200 --min-epochs 500 --tag _min500
    python benchmarks/papers/ssvae/reproduce.py recon design --tag _lr1e-3
Outputs go to benchmarks/papers/ssvae/out/ (not committed); README.md's figures are copied to results/.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from hea_fast._io import atomic_path, atomic_write_json  # noqa: E402
from hea_fast.datasets import data_home  # noqa: E402
from hea_fast.ssvae.data import load_splits  # noqa: E402
from hea_fast.ssvae.model import SSVAE, load_released  # noqa: E402
from hea_fast.ssvae.training import TrainConfig, train_models  # noqa: E402

OUT = Path(__file__).resolve().with_name("out")
SPLIT_SEEDS = (42, 1, 2, 3, 4)


def _metrics(model, split):
    from sklearn.metrics import roc_auc_score

    with torch.no_grad():
        p = model.classifier_prob(torch.from_numpy(split.e))[:, 0].numpy().astype(np.float64)
    return {"acc": float(((p > 0.5) == (split.y > 0.5)).mean()), "auc": float(roc_auc_score(split.y, p))}


def _summ(vals):
    a = np.asarray(vals, float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "values": a.tolist()}


def stage_main(args):
    splits = [load_splits(s) for s in SPLIT_SEEDS]
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, selection=args.selection, min_epochs=args.min_epochs, threads=1)
    res = train_models(splits, list(SPLIT_SEEDS), config=cfg, progress=not args.no_progress,
                       checkpoint=OUT / f"main{args.tag}_ckpt.safetensors", keep_alternatives=True)
    out = {"seconds": res.seconds, "epochs_run": res.epochs_run, "best_epoch": res.best_epoch,
           "stopped_epoch": res.stopped_epoch, "train_config": vars(cfg) | {"betas": list(cfg.betas)}}
    for name, models in [("selected", res.models)] + sorted(res.extra.items()):
        per = {part: [_metrics(m, sp[part]) for m, sp in zip(models, splits)]
               for part in ("labelled", "validation", "test")}
        out[name] = {f"{part}_{k}": _summ([r[k] for r in rows]) for part, rows in per.items() for k in ("acc", "auc")}
    for s, m in zip(SPLIT_SEEDS, res.models):
        m.save(OUT / f"models{args.tag}" / f"seed{s}")
    with atomic_path(OUT / f"main{args.tag}_history.npz") as tmp:
        np.savez(tmp, **res.history)
    atomic_write_json(OUT / f"main{args.tag}.json", out, indent=2)
    print(json.dumps({k: out[k] for k in ("seconds", "epochs_run", "best_epoch")}))
    for name in ["selected"] + sorted(res.extra):
        t = out[name]
        print(f"{name:13s} test acc {t['test_acc']['mean']:.3f}±{t['test_acc']['std']:.3f}  "
              f"AUC {t['test_auc']['mean']:.3f}±{t['test_auc']['std']:.3f}")


def _subset(splits, n_lab, seed):
    """Keep n_lab labelled rows (stratified draw); the rest join the unlabelled pool (labels hidden)."""
    from dataclasses import replace

    from sklearn.model_selection import train_test_split

    L, U = splits["labelled"], splits["unlabelled"]
    idx = np.arange(len(L.y))
    if n_lab < len(idx):
        keep, drop = train_test_split(idx, train_size=n_lab, stratify=L.y, random_state=seed)
    else:
        keep, drop = idx, idx[:0]
    sub = lambda s, i: replace(s, x=s.x[i], e=s.e[i], y=s.y[i], alloys=s.alloys[i], orig_index=s.orig_index[i])  # noqa: E731
    U2 = replace(U, x=np.concatenate([U.x, L.x[drop]]), e=np.concatenate([U.e, L.e[drop]]),
                 y=np.concatenate([U.y, L.y[drop]]), alloys=np.concatenate([U.alloys, L.alloys[drop]]),
                 orig_index=np.concatenate([U.orig_index, L.orig_index[drop]]))
    return {**splits, "labelled": sub(L, keep), "unlabelled": U2}


def stage_efficiency(args):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    base = load_splits(42)
    seeds = (0, 1, 2)
    rows = []
    for n in args.sizes:
        subs = [_subset(base, n, s) for s in seeds]
        res = train_models(subs, list(seeds), config=TrainConfig(epochs=args.eff_epochs, lr=args.lr,
                                                                 min_epochs=args.min_epochs, threads=1),
                           progress=not args.no_progress)
        for s, m, sp in zip(seeds, res.models, subs):
            r = _metrics(m, sp["test"])
            rows.append({"n_labelled": n, "seed": s, "model": "ssvae", "test_acc": r["acc"], "test_auc": r["auc"],
                         "epochs": res.stopped_epoch[seeds.index(s)] + 1})
            L = sp["labelled"]
            mlp = make_pipeline(StandardScaler(), MLPClassifier((100, 100), max_iter=2000, early_stopping=False,
                                                                alpha=1e-3, random_state=s))
            mlp.fit(L.e.astype(np.float64), L.y)
            p = mlp.predict_proba(sp["test"].e.astype(np.float64))[:, 1]
            from sklearn.metrics import roc_auc_score

            rows.append({"n_labelled": n, "seed": s, "model": "mlp", "test_acc": float(((p > 0.5) == (sp["test"].y > 0.5)).mean()),
                         "test_auc": float(roc_auc_score(sp["test"].y, p)), "epochs": None})
        print(n, res.seconds, flush=True)
        with atomic_path(OUT / f"efficiency{args.tag}_runs.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    df = pd.DataFrame(rows)
    tab = df.groupby(["n_labelled", "model"])[["test_acc", "test_auc"]].agg(["mean", "std"]).round(3)
    with atomic_path(OUT / f"efficiency{args.tag}_table.csv") as tmp:
        tab.to_csv(tmp)
    print(tab)


def _models_to_compare(args) -> dict:
    """The authors' released model, and ours for split seed 42 when the main stage has trained it."""
    models = {"released": load_released()}
    p = OUT / f"models{args.tag}" / "seed42"
    if p.is_dir():
        models["ours_seed42"] = SSVAE.load(p)
    return models


def stage_recon(args):
    from hea_fast.ssvae.design import format_formula, round_atpct

    test = load_splits(42)["test"]
    models = _models_to_compare(args)
    out = {}
    for name, m in models.items():
        with torch.no_grad():
            loc, _ = m.encode_z(torch.from_numpy(test.x), torch.from_numpy(test.y)[:, None])
            prob = m.classifier_prob(torch.from_numpy(test.e))
            ints = round_atpct(m.decode(loc, prob)).astype(np.float64)
        x = test.x.astype(np.float64)
        rec = 100 * ints / ints.sum(1, keepdims=True)
        mae = np.abs(rec - x).mean(1)  # mean over the 30 elements, at.%
        same_set = [(a > 0).tolist() == (b > 0).tolist() for a, b in zip(x, ints)]
        out[name] = {"comp_mae_at_pct_mean": float(mae.mean()), "comp_mae_at_pct_median": float(np.median(mae)),
                     "element_set_recovered": float(np.mean(same_set)),
                     "examples": [[a, format_formula(m.config.elements, r)] for a, r in zip(test.alloys[:5], ints[:5].astype(int))]}
    ref = pd.read_csv(data_home() / "dvae_hea_zeng2024" / "test_data_reconstruction_analysis.csv")
    out["paper_file_comp_diff_mae_mean"] = float(ref["comp_diff_mae"].mean())
    atomic_write_json(OUT / f"recon{args.tag}.json", out, indent=2)
    print(json.dumps(out, indent=2))


EXAMPLES = ("Fe14Ni16Cr22Co14Al22Cu8", "Al1.4Co0.9Cr1.4Cu0.5Fe0.9Ni1", "CoCrFeNi", "CoCrFeMnNi", "AlCoCrFeNi",
            "HfNbTaTiZr", "NbMoTaW")


def stage_design(args):
    from hea_fast.ssvae import plots
    from hea_fast.ssvae.design import Constraints, generate, nudge, screen
    from hea_fast.ssvae.explain import exact_shapley

    sp = load_splits(42)
    models = _models_to_compare(args)
    out = {}
    for name, m in models.items():
        r = {"screen": dict(zip(EXAMPLES, np.round(screen(m, list(EXAMPLES)), 4).tolist()))}
        g = np.stack(np.meshgrid(np.linspace(-0.1, 0.1, 5), np.linspace(-0.5, -0.3, 5), indexing="ij"), -1).reshape(-1, 2)
        wide = np.stack(np.meshgrid(np.linspace(-2, 2, 9), np.linspace(-2, 2, 9), indexing="ij"), -1).reshape(-1, 2)
        for tag, z in (("paper_grid", g), ("wide_grid", wide)):
            for pt in (1.0, 0.0):
                df = generate(m, z, pt)
                r[f"generate_{tag}_p{pt:g}"] = {"mean_abs_error": float(df["abs_error"].mean()),
                                                "fraction_on_the_asked_side": float(((df["p_single"] > 0.5) == (pt > 0.5)).mean()),
                                                "distinct_alloys": int(df["alloy"].nunique())}
        trajs = {}
        for f in EXAMPLES[:2] + ("Al0.5Co1Cr1Cu0.5Fe1Ni1",):
            t = nudge(m, f, cutoff=0.6, max_steps=10)
            trajs[f] = t[["step", "alloy", "p_single"]].round(4).values.tolist()
        cons = Constraints(forbidden=("Co",), bounds={"Al": (0, 10)})
        t = nudge(m, EXAMPLES[0], cutoff=0.6, max_steps=10, constraints=cons)
        trajs[EXAMPLES[0] + " [no Co, Al<=10]"] = t[["step", "alloy", "p_single"]].round(4).values.tolist()
        r["nudge"] = trajs
        out[name] = r
        d = OUT / f"plots_{name}"
        d.mkdir(exist_ok=True)
        plots.roc_curves(m, sp, d / "roc.png")
        allx = np.concatenate([sp[k].x for k in ("labelled", "unlabelled", "validation")])
        ally = np.concatenate([sp[k].y for k in ("labelled", "unlabelled", "validation")])
        plots.latent_space(m, allx, ally, d / "latent.png")
        bgz = plots.latent_loc(m, allx, ally)
        plots.element_group_blobs(m, d / "element_groups.png", background=bgz)
        plots.nudge_trajectory(nudge(m, EXAMPLES[0], cutoff=0.6, max_steps=10), d / "nudge.png",
                               background=bgz, background_c=ally)
        t0 = time.perf_counter()
        sh = exact_shapley(m, sp["test"].e, sp["labelled"].e)
        r["shap_seconds_138x864"] = time.perf_counter() - t0
        r["shap_mean_abs"] = dict(zip(m.config.features, np.round(np.abs(sh.values).mean(0), 4).tolist()))
        plots.shap_summary(sh.values, sp["test"].e, m.config.features, d / "shap_summary.png")
    atomic_write_json(OUT / f"design{args.tag}.json", out, indent=2)
    print(json.dumps(out, indent=1)[:3000])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stages", nargs="+", choices=["main", "efficiency", "recon", "design"])
    ap.add_argument("--epochs", type=int, default=3000)
    ap.add_argument("--eff-epochs", type=int, default=1500)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 864])
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--selection", choices=("brier", "ce"), default="brier")
    ap.add_argument("--min-epochs", type=int, default=50)
    ap.add_argument("--tag", default="", help="suffix of the main stage's output names (variants)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for st in args.stages:
        t0 = time.perf_counter()
        globals()[f"stage_{st}"](args)
        print(f"[{st}] {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
