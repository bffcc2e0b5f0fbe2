"""Reproduce the SSVAE of Zeng, Khan & Post (arXiv 2409.06740) with hea_fast.ssvae.

Stages (each writes JSON/CSV/PNG under benchmarks/papers/ssvae/out/ and can run alone):
  main        5 split seeds (42 = the paper's split, then 1..4) trained at once (`train_models`):
              test accuracy / ROC-AUC of the selected model (EMA weights, smoothed validation
              Brier score, or cross-entropy with --selection ce), of the last epoch and of the best raw validation accuracy; time.
  efficiency  data-efficiency comparison under PROTOCOL.md (fixed before the run): SSVAE vs a supervised
              MLP on the same labelled subsets (paper split; 50, 100, 200, 864 labels; seeds 0-4), both
              selected on the same 75 validation alloys (SSVAE: epoch of min smoothed validation Brier
              over epochs 50-999; MLP: alpha from a fixed grid and the epoch, min validation Brier);
              the test split is scored once per selected model. Resumable: each finished
              (model, labels, seed) run is appended to results/efficiency_runs.jsonl and skipped on a
              rerun; results/efficiency_summary.json and efficiency_table.md are rebuilt from it.
  recon       reconstruction table on the 138 test alloys (z = loc q(z|x, y_true), decoded with the
              predicted probability) for the released weights and our seed-42 model.
  design      the three design modes on the paper's examples (released weights and our model) and
              plots (ROC, latent space, KDE, element-group blobs, SHAP summary, nudging trajectory).

Usage (repository root, HEA_FAST_DATA = data home), 1 thread; the runs in README.md were
    python benchmarks/papers/ssvae/reproduce.py main --lr 1e-3 --epochs 2000 --min-epochs 500 --tag _lr1e-3
    nice -n 19 python benchmarks/papers/ssvae/reproduce.py efficiency --stop-at 05:40 --no-progress
    python benchmarks/papers/ssvae/reproduce.py recon design --tag _lr1e-3
(the efficiency stage is rerun with the same command, without --stop-at, to finish the grid).
Outputs go to benchmarks/papers/ssvae/out/ (not committed) and main/recon/design files are copied to
results/; the efficiency stage writes its results/ files itself.
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

from hea_fast._io import atomic_path, atomic_write, atomic_write_json  # noqa: E402
from hea_fast.datasets import data_home  # noqa: E402
from hea_fast.ssvae.data import load_splits  # noqa: E402
from hea_fast.ssvae.model import SSVAE, load_released  # noqa: E402
from hea_fast.ssvae.training import TrainConfig, train_models  # noqa: E402

OUT = Path(__file__).resolve().with_name("out")
RESULTS = Path(__file__).resolve().with_name("results")
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


def _read_runs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append_runs(path: Path, rows: list[dict]) -> None:
    """Append finished runs (one JSON object per line); the whole file is replaced atomically."""
    old = path.read_text() if path.is_file() else ""
    atomic_write(path, old + "".join(json.dumps(r) + "\n" for r in rows))


def _past(stop_at: str | None) -> bool:
    if not stop_at:
        return False
    now = time.gmtime()
    h, m = (int(v) for v in stop_at.split(":"))
    return (now.tm_hour, now.tm_min) >= (h, m)


def _fmt_ci(d):
    return f"{d['mean']:.3f} [{d['ci95'][0]:.3f}, {d['ci95'][1]:.3f}]"


def _efficiency_summary(runs_path: Path, y_test, command: str) -> None:
    from hea_fast.ssvae import efficiency as eff

    summ = eff.summarize(_read_runs(runs_path), y_test)
    summ["protocol"] = {"file": "benchmarks/papers/ssvae/PROTOCOL.md", "split_seed": 42,
                        "mlp_alphas": list(eff.MLP_ALPHAS), "mlp_epochs": eff.MLP_EPOCHS,
                        "ssvae_epochs": eff.SSVAE_EPOCHS, "ssvae_min_epoch": eff.SSVAE_MIN_EPOCH,
                        "ssvae_train_config": vars(eff.ssvae_config()) | {"betas": list(eff.ssvae_config().betas)}}
    summ["command"] = command
    atomic_write_json(runs_path.with_name(runs_path.name.replace("_runs.jsonl", "_summary.json")), summ, indent=1)
    lines = ["| labels | model | seeds | test accuracy | test AUC | test Brier | val. Brier | epoch | alpha |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summ["per_model"]:
        alpha = "/".join(f"{a:g}" for a in r.get("alpha", [])) or "–"
        lines.append(f"| {r['n_labels']} | {r['model']} | {len(r['seeds'])} | {_fmt_ci(r['test_acc'])} | "
                     f"{_fmt_ci(r['test_auc'])} | {_fmt_ci(r['test_brier'])} | {r['val_brier']['mean']:.3f} | "
                     f"{'/'.join(str(int(v)) for v in r['best_epoch']['values'])} | {alpha} |")
    lines += ["", "| labels | seeds | AUC diff (SSVAE - MLP) [t CI] [bootstrap CI] | accuracy diff | Brier diff | verdict (AUC) |",
              "|---|---|---|---|---|---|"]
    for r in summ["paired"]:
        cell = lambda d: (f"{d['mean_diff']:+.3f} [{d['t_ci95'][0]:+.3f}, {d['t_ci95'][1]:+.3f}] "  # noqa: E731
                          f"[{d['boot_ci95'][0]:+.3f}, {d['boot_ci95'][1]:+.3f}]")
        lines.append(f"| {r['n_labels']} | {len(r['seeds'])} | {cell(r['auc'])} | {cell(r['acc'])} | "
                     f"{cell(r['brier'])} | {r['verdict_auc']} |")
    atomic_write(runs_path.with_name(runs_path.name.replace("_runs.jsonl", "_table.md")), "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def stage_efficiency(args):
    """PROTOCOL.md: per label count (in order), the MLP then the SSVAE for every seed not yet in the
    runs file; each finished run is appended; the summary is rewritten after each step."""
    from hea_fast.ssvae import efficiency as eff

    base = load_splits(42)
    quick = args.quick
    out_dir = OUT if quick else RESULTS
    runs_path = out_dir / f"efficiency{'_quick' if quick else ''}_runs.jsonl"
    ssvae_kw = {"epochs": 4, "min_epochs": 1} if quick else {}
    mlp_kw = {"epochs": 3, "alphas": (1e-3, 1.0)} if quick else {}
    command = "python benchmarks/papers/ssvae/reproduce.py efficiency" + (" --quick" if quick else "")
    for n in args.sizes:
        for model in ("mlp", "ssvae"):
            done = {(r["model"], r["n_labels"], r["seed"]) for r in _read_runs(runs_path)}
            todo = [s for s in args.seeds if (model, n, s) not in done]
            if not todo:
                continue
            if _past(args.stop_at):
                print(f"past --stop-at {args.stop_at} UTC: not starting {model} n={n} seeds {todo}", flush=True)
                return
            t0 = time.perf_counter()
            if model == "mlp":  # cheap: one seed at a time, each appended as it finishes
                for s in todo:
                    _append_runs(runs_path, eff.run_protocol(base, "mlp", n, [s], mlp_kw=mlp_kw))
            else:  # the seeds vectorised in one run, resumable from its checkpoint
                ckpt = OUT / f"efficiency{'_quick' if quick else ''}_ckpt_n{n}_s{'-'.join(map(str, todo))}.safetensors"
                _append_runs(runs_path, eff.run_protocol(base, "ssvae", n, todo, ssvae_kw=ssvae_kw, checkpoint=ckpt,
                                                         progress=not args.no_progress))
                ckpt.unlink(missing_ok=True)
            print(f"[efficiency] {model} n={n} seeds {todo}: {time.perf_counter() - t0:.0f} s", flush=True)
            _efficiency_summary(runs_path, base["test"].y, command)


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
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 864],
                    help="efficiency: label counts, run in this order (PROTOCOL.md)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="efficiency: seeds")
    ap.add_argument("--stop-at", default=None, help="efficiency: HH:MM UTC after which no new run starts")
    ap.add_argument("--quick", action="store_true",
                    help="efficiency: tiny budgets, written to out/ (smoke test, not the protocol)")
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
