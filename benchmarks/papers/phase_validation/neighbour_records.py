"""Nearby records: blend a held-out alloy with the records of nearby compositions of its system? (exploratory)

`memory_blend.py` shows that an alloy the training sources report is answered better by blending the model
with its records. This asks whether the same holds for *nearby* compositions: leave one source out (the
keyed protocol's folds and the default's stored held-out predictions in results.jsonl; nothing refitted),
each held-out row is blended with the records of the training compositions of its own alloy system,
weighted by exp(−L1 / h) (L1 = Σ |Δ fraction|): q = Σ k_j single / Σ k_j records, n = Σ k_j records,
p = (1 − w)·p_model + w·q with w = n / (n + κ). Not nested: every (h, κ) is shown on the outer rows, to
see whether there is anything to nest.

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/neighbour_records.py

Writes neighbour_records.md next to this script (atomically); ~20 s.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import log_loss  # noqa: E402  (same folder)
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = "ensemble_forest_soft"
WIDTHS = (0.01, 0.02, 0.05, 0.1)
KAPPAS = (1.0, 3.0, 10.0, 30.0)


def main() -> int:
    from sklearn.metrics import roc_auc_score

    from hea_fast.validation import element_columns, harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds

    data = harmonised_phase_data()
    els = element_columns(data)
    stored = {fold: p for (fold, model), p in loso_predictions(HERE / "results.jsonl").items() if model == MODEL}
    folds = []  # per held-out source: y, p, and per row (L1 distances, single, records) of its system's training rows
    for f in loso_folds(data):
        tr, te = f.train, f.test
        R = tr[els].to_numpy(float)
        T = te[els].to_numpy(float)
        R, T = R / R.sum(1, keepdims=True), T / T.sum(1, keepdims=True)
        g = data[data["source"] != f.name].groupby("key")[["n_records", "n_single"]].sum()
        ns, nr = tr["key"].map(g["n_single"]).to_numpy(float), tr["key"].map(g["n_records"]).to_numpy(float)
        sys_tr, sys_te = tr["system"].to_numpy(), te["system"].to_numpy()
        near = []
        for i in range(len(te)):
            m = sys_tr == sys_te[i]
            near.append((np.abs(R[m] - T[i]).sum(1), ns[m], nr[m]))
        folds.append((f.name, te["single_phase"].to_numpy(float), stored[f.name], near))
    rows = []

    def score(name, blend):
        y_all, p_all, auc, ll = [], [], [], []
        for held, y, p, near in folds:
            b = blend(p, near)
            y_all.append(y)
            p_all.append(b)
            auc.append(roc_auc_score(y, b))
            ll.append(log_loss(y, b))
        y, p = np.concatenate(y_all), np.concatenate(p_all)
        rows.append((name, float(np.mean(auc)), float(np.mean(ll)), float(roc_auc_score(y, p)), log_loss(y, p),
                     float(((p >= 0.5) == y).mean())))

    score("model alone", lambda p, near: p)
    for h in WIDTHS:
        for kappa in KAPPAS:
            def blend(p, near, h=h, kappa=kappa):
                out = p.copy()
                for i, (d, ns, nr) in enumerate(near):
                    if len(d):
                        k = np.exp(-d / h)
                        n = float((k * nr).sum())
                        if n > 0:
                            w = n / (n + kappa)
                            out[i] = (1 - w) * p[i] + w * float((k * ns).sum()) / n
                return out
            score(f"h = {h:g}, κ = {kappa:g}", blend)
    n_near = sum(sum(len(d) > 0 for d, _, _ in near) for _, _, _, near in folds)
    n_all = sum(len(y) for _, y, _, _ in folds)
    out = ["# Nearby records: the default blended with its system's training records (`neighbour_records.py`)", "",
           f"Leave one source out (keyed folds), the stored held-out predictions of `{MODEL}`; {n_near:,} of the "
           f"{n_all:,} held-out rows have a training composition of their own system. Not nested (exploratory).", "",
           "| predictor | mean AUC | mean log-loss | pooled AUC | pooled log-loss | pooled accuracy |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r[0]} | {r[1]:.4f} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.4f} |" for r in rows]
    best_auc, best_ll = max(r[1] for r in rows[1:]), min(r[2] for r in rows[1:])
    out += ["", f"Best blend: mean AUC {best_auc:.4f} (model {rows[0][1]:.4f}), mean log-loss {best_ll:.4f} "
            f"(model {rows[0][2]:.4f}), each at the best of 16 settings chosen on these rows.", "",
            "Reproduce: `HEA_FAST_DATA=../shared/data PYTHONPATH=. python "
            "benchmarks/papers/phase_validation/neighbour_records.py`", ""]
    atomic_write(HERE / "neighbour_records.md", "\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
