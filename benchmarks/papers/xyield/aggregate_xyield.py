"""results.json and results_table.md from runs.jsonl (used by run_xyield.py; also runnable alone).

    python benchmarks/papers/xyield/aggregate_xyield.py

Per split and method, over every finished run (few-shot draw × seed):
  mse_mean, mse_ci95 / mse_ci95_interval  t-interval over all runs (draws and seeds vary together);
  mse_ci95_draws_interval                 t-interval over the per-draw means (df = draws − 1, wider);
  per_draw                                {draw: mean MSE, n seeds};
  paired_vs_<baseline>                    mean and t-interval of the per-run difference method − baseline
                                          over the (draw, seed) pairs both finished (same split, carve, batches);
  ratio_to_no_pretraining                 mse_mean / mse_mean of No-Pretraining on the same (draw, seed) pairs;
  sparsity                                per layer and per mask: mean fraction of exactly-zero entries;
  chosen                                  how often each hyperparameter value was chosen on validation.
GPa².
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

LABEL = {
    "no_pretraining": "No-Pretraining",
    "pretrain_transfer": "Pretrain-and-Transfer",
    "mix": "Mix (from scratch on D_s ∪ D_t)",
    "hand_tune": "Hand-Tune (IMP, N_s×N_t grid on validation)",
    "imp_pretrain": "IMP at pretraining only (N_s on validation)",
    "imp_transfer": "IMP at transfer only (N_t on validation)",
    "birpt": "Bi-RPT (authors' preset, λ=3e-3)",
    "birpt_val": "Bi-RPT (λ on validation)",
    "birpt_ms_only": "Bi-RPT m_s only (variant)",
    "birpt_mt_only": "Bi-RPT m_t only (variant)",
    "mix_finetune": "fine-tune + simulated batches (variant)",
    "birpt_gamma1e-4": "Bi-RPT λ=1e-4 (previous default, variant)",
    "birpt_step_scaled": "Bi-RPT, λ scaled to the 5 % split's steps per epoch (variant)",
}
ORDER = list(LABEL)


def load(path: Path) -> list:
    out = []
    if Path(path).is_file():
        for line in Path(path).read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    # one record per key (a rerun of the same unit would repeat identical lines)
    return list({(r["split"], r["method"], r["draw"], r["seed"]): r for r in out}.values())


def tci(v):
    v = np.asarray(v, float)
    if len(v) < 2:
        return None, [None, None]
    from scipy import stats

    h = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return h, [float(v.mean() - h), float(v.mean() + h)]


def _paired(by, m, base):
    common = sorted(set(by[m]) & set(by[base]))
    if len(common) < 2:
        return None
    d = [by[m][k]["mse"] - by[base][k]["mse"] for k in common]
    h, iv = tci(d)
    return {"mean_diff": float(np.mean(d)), "ci95_interval": iv, "n_pairs": len(common),
            "mse_ratio": float(np.mean([by[m][k]["mse"] for k in common]) / np.mean([by[base][k]["mse"] for k in common]))}


def _sparsity(recs):
    layers = defaultdict(lambda: defaultdict(list))
    for r in recs:
        for layer, s in (r.get("sparsity") or {}).items():
            for k in ("pruned_fraction", "m_s_zero_fraction", "m_t_zero_fraction", "effective_zero_fraction"):
                if k in s:
                    layers[layer][k].append(s[k])
    return {layer: {k: float(np.mean(v)) for k, v in d.items()} for layer, d in layers.items()}


def aggregate(runs_path, out_json, work=None) -> dict:
    runs = load(runs_path)
    res: dict = {}
    for split in sorted({r["split"] for r in runs}, key=lambda s: (len(s), s)):
        by = defaultdict(dict)
        for r in runs:
            if r["split"] == split:
                by[r["method"]][(r["draw"], r["seed"])] = r
        for m in sorted(by, key=lambda k: ORDER.index(k) if k in ORDER else 99):
            rs = by[m]
            mses = [r["mse"] for r in rs.values()]
            h, iv = tci(mses)
            draws = defaultdict(list)
            for (d, _s), r in rs.items():
                draws[d].append(r["mse"])
            dmeans = [float(np.mean(v)) for _d, v in sorted(draws.items())]
            _, div = tci(dmeans)
            e = {"label": LABEL.get(m, m), "mse_mean": float(np.mean(mses)), "mse_ci95": h, "mse_ci95_interval": iv,
                 "mse_ci95_draws_interval": div, "mse_std": float(np.std(mses, ddof=1)) if len(mses) > 1 else None,
                 "acc_mean": float(np.mean([r["acc"] for r in rs.values()])), "n_runs": len(mses),
                 "n_draws": len(draws), "n_seeds_per_draw": {str(d): len(v) for d, v in sorted(draws.items())},
                 "per_draw_mse": {str(d): float(np.mean(v)) for d, v in sorted(draws.items())},
                 "n_train": sorted({r["n_train"] for r in rs.values()}), "sparsity": _sparsity(rs.values())}
            chosen = Counter(json.dumps(r["chosen"], sort_keys=True) for r in rs.values() if r.get("chosen"))
            if chosen:
                e["chosen"] = dict(chosen.most_common())
            for base in ("no_pretraining", "pretrain_transfer"):
                if base in by and m != base:
                    p = _paired(by, m, base)
                    if p:
                        e[f"paired_vs_{base}"] = p
            if "paired_vs_no_pretraining" in e:
                e["ratio_to_no_pretraining"] = e["paired_vs_no_pretraining"]["mse_ratio"]
            res.setdefault(split, {})[m] = e
    zs = None
    if work is not None and (Path(work) / "zero_shot.json").is_file():
        zs = json.loads((Path(work) / "zero_shot.json").read_text()).get("mse_all240")
    res["_notes"] = {
        "mse": "test MSE in GPa² of one run (draw, seed); the run's epoch and hyperparameters chosen on the "
               "validation carve of its few-shot training points, never on test",
        "mse_ci95_interval": "95 % t-interval of the mean over all runs (draws x seeds)",
        "mse_ci95_draws_interval": "95 % t-interval over the per-draw means (df = n_draws - 1)",
        "paired": "method - baseline on the same (draw, seed): same split, validation carve and batch order",
        "sparsity": "mean over runs of the fraction of exactly-zero entries per layer and mask (pruned = IMP mask, "
                    "m_s/m_t = Bi-RPT masks at 0, effective = θ⊙masks exactly 0)",
        "zero_shot_pretrained_mse_all240": zs,
    }
    tmp = Path(str(out_json) + ".tmp")
    tmp.write_text(json.dumps(res, indent=2, default=float))
    os.replace(tmp, out_json)
    table_path(out_json).write_text(table(res))
    return res


def table_path(out_json) -> Path:
    """results.json -> results_table.md beside it; any other X.json -> X_table.md beside it."""
    out_json = Path(out_json)
    stem = "results" if out_json.name == "results.json" else out_json.stem
    return out_json.with_name(f"{stem}_table.md")


def _f(v, nd=4):
    return "—" if v is None else f"{v:.{nd}f}"


def table(res: dict) -> str:
    lines = ["| split | method | MSE mean (GPa²) | 95 % CI (runs) | 95 % CI (draw means) | − Pretrain-and-Transfer, "
             "paired [95 % CI] | / No-Pretraining | acc | runs (draws) | conv weights removed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for split, ms in res.items():
        if split.startswith("_"):
            continue
        for m, e in ms.items():
            iv, div = e["mse_ci95_interval"], e["mse_ci95_draws_interval"]
            p = e.get("paired_vs_pretrain_transfer")
            pt = "—" if not p else f"{p['mean_diff']:+.4f} [{_f(p['ci95_interval'][0])}, {_f(p['ci95_interval'][1])}]"
            sp = e["sparsity"].get("total", {}).get("effective_zero_fraction")
            lines.append(f"| {split} | {e['label']} | {e['mse_mean']:.4f} | [{_f(iv[0])}, {_f(iv[1])}] | "
                         f"[{_f(div[0])}, {_f(div[1])}] | {pt} | {_f(e.get('ratio_to_no_pretraining'), 2)} | "
                         f"{e['acc_mean']:.3f} | {e['n_runs']} ({e['n_draws']}) | "
                         f"{'—' if sp is None else f'{100 * sp:.1f} %'} |")
    lines += ["", "Per few-shot draw (mean test MSE over the seeds finished, GPa²; n seeds in brackets):", "",
              "| split | method | draw 0 | draw 1 | draw 2 |", "|---|---|---|---|---|"]
    for split, ms in res.items():
        if split.startswith("_"):
            continue
        for m, e in ms.items():
            cells = [f"{e['per_draw_mse'][d]:.4f} ({e['n_seeds_per_draw'][d]})" if d in e["per_draw_mse"] else "—"
                     for d in ("0", "1", "2")]
            lines.append(f"| {split} | {e['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Sparsity of the selected models (mean fraction of exactly-zero conv weights; pruned = IMP "
              "masks, m_s / m_t = Bi-RPT masks at 0, effective = θ ⊙ masks exactly 0):", "",
              "| split | method | layer | pruned | m_s = 0 | m_t = 0 | effective |", "|---|---|---|---|---|---|---|"]
    for split, ms in res.items():
        if split.startswith("_"):
            continue
        for m, e in ms.items():
            if not any(v.get("effective_zero_fraction") for v in e["sparsity"].values()):
                continue
            for layer, v in e["sparsity"].items():
                lines.append(f"| {split} | {e['label']} | {layer} | " + " | ".join(
                    f"{100 * v.get(k, 0):.1f} %" for k in ("pruned_fraction", "m_s_zero_fraction",
                                                            "m_t_zero_fraction", "effective_zero_fraction")) + " |")
    lines += ["", "Hyperparameters chosen on validation (count of runs):", ""]
    for split, ms in res.items():
        if split.startswith("_"):
            continue
        for m, e in ms.items():
            if e.get("chosen") and len(e["chosen"]) > 1 or m in ("hand_tune", "imp_pretrain", "imp_transfer",
                                                                  "birpt_val"):
                ch = ", ".join(f"{k}: {v}" for k, v in (e.get("chosen") or {}).items())
                lines.append(f"- {split} {e['label']}: {ch}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[2]))
    aggregate(HERE / "runs.jsonl", HERE / "results.json", HERE.parents[2] / "runs" / "xyield_paper")
    print((HERE / "results_table.md").read_text())
