"""Plots and ensembles for the X-Yield reproduction from runs.jsonl and the saved 5 % draw-0 models.

    python benchmarks/papers/xyield/analyze_xyield.py            # everything
    python benchmarks/papers/xyield/analyze_xyield.py --mc-only  # only ys_vs_T.png + ys_curves.json

Writes ensemble.json (ensembles of the seeds of draw 0 of the 5 % split: mean/std,
std-vs-|error| correlation), sparsity.json (per-layer, per-mask sparsity per method, from
results.json) and the PNGs: mse_vs_temperature.png (the paper's Figure 3
analogue), pred_vs_measured.png, ys_vs_T.png (MoNbTaTi, MoNbTaTiW, HfMoNbTaTiZr vs experiments and
Maresca–Curtin), sparsity.png. Units: GPa, GPa², K.

ys_vs_T.png / ys_curves.json: the Maresca–Curtin curves are always recomputed (the package's default
"continuous" model and the literal "two-regime" switch, element table as bundled); the CNN curves
come from the saved 5 % draw-0 models under runs/xyield_paper/models when they exist, otherwise from the
curves already stored in ys_curves.json (marked "source": "stored" there and in the legend).
results.json and results_table.md are written by aggregate_xyield.py.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HEA_FAST_DATA", str(ROOT.parent / "shared" / "data"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from aggregate_xyield import LABEL, load  # noqa: E402  (same folder)

from hea_fast.xyield.datasets import XYIELD_ELEMENTS, load_high_quality  # noqa: E402

METHODS = ["no_pretraining", "pretrain_transfer", "mix", "hand_tune", "imp_pretrain", "imp_transfer", "birpt",
           "birpt_val"]
MAIN = ["no_pretraining", "pretrain_transfer", "mix", "hand_tune", "birpt"]
ALLOYS = {"MoNbTaTi": ("Mo", "Nb", "Ta", "Ti"), "MoNbTaTiW": ("Mo", "Nb", "Ta", "Ti", "W"),
          "HfMoNbTaTiZr": ("Hf", "Mo", "Nb", "Ta", "Ti", "Zr")}


def atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    os.replace(tmp, path)


def load_runs():
    return load(HERE / "runs.jsonl")


def ensembles(runs, hq, split="5pct", draw=0):
    y = hq.targets("GPa").astype(float)
    out, per = {}, {}
    for m in METHODS:
        rs = [r for r in runs if r["split"] == split and r["method"] == m and r["draw"] == draw]
        if len(rs) < 2:
            continue
        idx = np.asarray(rs[0]["test_idx"])
        P = np.stack([np.asarray(r["pred"]) for r in rs])
        mu, sd = P.mean(0), P.std(0, ddof=1)
        err = np.abs(mu - y[idx])
        from scipy import stats

        out[m] = {"n_models": len(rs), "ensemble_mse": float(np.mean((mu - y[idx]) ** 2)),
                  "mean_member_mse": float(np.mean([r["mse"] for r in rs])),
                  "mean_std_GPa": float(sd.mean()),
                  "pearson_std_abs_err": float(stats.pearsonr(sd, err)[0]),
                  "spearman_std_abs_err": float(stats.spearmanr(sd, err)[0])}
        per[m] = (idx, mu, sd)
    return out, per


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_mse_vs_T(per, hq, path):
    y = hq.targets("GPa").astype(float)
    T = hq.temperature_K
    edges = np.array([0, 400, 700, 1000, 1300, 1600, 2000])
    fig, ax = plt.subplots(figsize=(7, 4))
    for m, (idx, mu, _) in per.items():
        if m not in MAIN:
            continue
        b = np.digitize(T[idx], edges) - 1
        xs, ms = [], []
        for k in range(len(edges) - 1):
            sel = b == k
            if sel.sum() >= 3:
                xs.append(T[idx][sel].mean())
                ms.append(np.mean((mu[sel] - y[idx][sel]) ** 2))
        ax.plot(xs, ms, "o-", label=LABEL[m])
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("MSE of the seed ensemble (GPa²)")
    ax.set_title("5 % split, draw 0: error vs temperature (test points, binned)")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_pred_vs_measured(per, hq, path):
    y = hq.targets("GPa").astype(float)
    ms = [m for m in per if m in MAIN]
    fig, axes = plt.subplots(1, len(ms), figsize=(3.2 * len(ms), 3.3), sharex=True, sharey=True)
    for ax, m in zip(np.atleast_1d(axes), ms):
        idx, mu, sd = per[m]
        ax.errorbar(y[idx], mu, yerr=sd, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
        lim = [0, max(2.2, y.max() * 1.05)]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_title(f"{LABEL[m]}\nMSE {np.mean((mu - y[idx]) ** 2):.3f}", fontsize=9)
        ax.set_xlabel("measured (GPa)")
    np.atleast_1d(axes)[0].set_ylabel("predicted, ensemble mean ± std (GPa)")
    _save(fig, path)


CNN_STYLE = (("no_pretraining", ":"), ("pretrain_transfer", "--"), ("birpt", "-"))


def _cnn_curves(name, frac, T, work: Path, stored: dict):
    """{method: curve} of the 5 % models: from the saved models when there are any, else the curves
    stored in ys_curves.json by an earlier run (tagged source="stored")."""
    dirs = {m: sorted(work.glob(f"models/5pct_{m}_d0_*")) for m, _ in CNN_STYLE} if work.is_dir() else {}
    if any(dirs.values()):
        import torch

        from hea_fast.xyield.protocol import load_model, predict
        from hea_fast.xyield.pseudoimage import pseudo_images

        x = torch.from_numpy(pseudo_images(np.repeat(frac, len(T), 0), T, elements=XYIELD_ELEMENTS))
        out = {}
        for m, _ in CNN_STYLE:
            if dirs[m]:
                P = np.stack([predict(load_model(d), x).numpy() for d in dirs[m]])
                out[m] = {"T_K": T.tolist(), "mean_GPa": P.mean(0).tolist(), "std_GPa": P.std(0, ddof=1).tolist(),
                          "n_models": len(dirs[m]), "source": "models"}
        return out
    return {m: dict(stored[name][m], source="stored") for m, _ in CNN_STYLE if m in stored.get(name, {})}


def plot_curves(hq, path, work: Path, stored: dict):
    """ys_vs_T.png and its curves: CNN ensembles (5 % split) ± std, experiments, Maresca–Curtin."""
    from hea_fast.xyield.maresca_curtin import DEFAULT_MODEL, yield_strength

    T = np.arange(300.0, 1901.0, 50.0)
    Tf = np.arange(300.0, 1901.0, 1.0)  # MC drawn every 1 K, so a jump shows as a jump
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    curves = {}
    for ax, (name, els) in zip(axes, ALLOYS.items()):
        frac = np.array([[1.0 / len(els) if e in els else 0.0 for e in XYIELD_ELEMENTS]])
        cnn = _cnn_curves(name, frac, T, work, stored)
        for m, style in CNN_STYLE:
            if m not in cnn:
                continue
            c = cnn[m]
            mu, sd, Tc = np.asarray(c["mean_GPa"]), np.asarray(c["std_GPa"]), np.asarray(c["T_K"])
            n = f"n={c['n_models']}" if "n_models" in c else "stored curve"
            ax.plot(Tc, mu, style, label=f"{LABEL.get(m, m)} ({n})")
            ax.fill_between(Tc, mu - sd, mu + sd, alpha=0.15)
            curves.setdefault(name, {})[m] = c
        for model, kw in ((DEFAULT_MODEL, dict(color="0.35", lw=1.8, zorder=3)),
                          ("two-regime", dict(color="tab:red", lw=1.0, ls=(0, (1, 1.5)), zorder=2))):
            mc = yield_strength(frac, Tf[:, None], model=model, elements=XYIELD_ELEMENTS)[:, 0] / 1000.0
            what = "default" if model == DEFAULT_MODEL else "literal switch"
            ax.plot(Tf, mc, label=f"Maresca–Curtin, {model} ({what})", **kw)
            mc50 = yield_strength(frac, T[:, None], model=model, elements=XYIELD_ELEMENTS)[:, 0] / 1000.0
            key = "maresca_curtin" if model == DEFAULT_MODEL else "maresca_curtin_two_regime"
            curves.setdefault(name, {})[key] = {"T_K": T.tolist(), "GPa": mc50.tolist(), "model": model,
                                                "element_table": "hea_fast/data/xyield/elastic_volumes.csv (CRC)"}
        sel = np.all(np.abs(hq.fractions - frac) < 2e-3, axis=1)
        ax.plot(hq.temperature_K[sel], hq.targets("GPa")[sel], "ks", label="experiments")
        ax.set_title(name)
        ax.set_xlabel("T (K)")
        ax.set_ylabel("yield strength (GPa)")
        ax.legend(fontsize=7)
    stored_only = all(c.get("source") == "stored" for v in curves.values() for k, c in v.items() if k in LABEL)
    fig.suptitle("5 % split CNN ensembles (mean ± std"
                 + (", curves stored from the runs trained on two-regime labels" if stored_only else "")
                 + ") vs experiments and Maresca–Curtin (continuous default, gray; literal two-regime switch, red dotted)", fontsize=9)
    _save(fig, path)
    return curves


def sparsity(path_png):
    """Per-layer, per-mask mean fractions of exactly-zero conv weights (from results.json)."""
    res = json.loads((HERE / "results.json").read_text()) if (HERE / "results.json").is_file() else {}
    out = {split: {m: e["sparsity"] | {"n_runs": e["n_runs"]} for m, e in ms.items() if e.get("sparsity")}
           for split, ms in res.items() if not split.startswith("_")}
    if out.get("5pct"):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ms = [m for m in out["5pct"] if m != "no_pretraining"]
        w = 0.8 / max(1, len(ms))
        layers = ["conv1", "conv2", "conv3"]
        for i, m in enumerate(ms):
            d = out["5pct"][m]
            ax.bar(np.arange(3) + i * w, [d[L]["effective_zero_fraction"] for L in layers], w, label=LABEL.get(m, m))
        ax.set_xticks(np.arange(3) + 0.4 - w / 2, layers)
        ax.set_ylabel("fraction of conv weights exactly 0")
        ax.set_ylim(0, 1.0)
        ax.set_title("per-layer sparsity of the selected models (5 % split, mean over runs)")
        ax.legend(fontsize=6)
        _save(fig, path_png)
    return out


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc-only", action="store_true",
                    help="only redraw ys_vs_T.png and rewrite ys_curves.json (Maresca-Curtin recomputed)")
    args = ap.parse_args(argv)
    work = ROOT / "runs" / "xyield_paper"
    hq = load_high_quality()
    curves_path = HERE / "ys_curves.json"
    stored = json.loads(curves_path.read_text()) if curves_path.is_file() else {}
    if args.mc_only:
        atomic_json(curves_path, plot_curves(hq, HERE / "ys_vs_T.png", work, stored))
        return
    runs = load_runs()
    ens, per = ensembles(runs, hq)
    atomic_json(HERE / "ensemble.json", ens)
    if per:
        plot_mse_vs_T(per, hq, HERE / "mse_vs_temperature.png")
        plot_pred_vs_measured(per, hq, HERE / "pred_vs_measured.png")
    atomic_json(HERE / "sparsity.json", sparsity(HERE / "sparsity.png"))
    atomic_json(curves_path, plot_curves(hq, HERE / "ys_vs_T.png", work, stored))
    print(json.dumps(ens, indent=1))


if __name__ == "__main__":
    main()
