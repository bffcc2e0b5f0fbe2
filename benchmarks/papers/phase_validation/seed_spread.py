"""How much do the protocol's means move with the seed? (issue #15)

The selection rule compares models by their mean AUC and mean log-loss over the six held-out sources
(leave one source out), each model fitted once with seed 0. The forests' bootstrap, the inner CV's
shuffling and the distillation draws all follow the seed, so a difference between two recipes smaller
than the seed-to-seed spread of either is not a difference. This script refits the four forest-based
recipes (`ensemble_forest`, `ensemble_forest_soft` = `best`, `ensemble_distilled`,
`ensemble_distilled_soft` = the default) on the same leave-one-source-out folds with seeds 1 and 2
(`hea_fast.validation.protocols.run`, one resume log per seed) and tabulates, per seed, the means and the
pooled ECE, and the paired differences the README's statements rest on: default − `best`, default − the
vote-distilled default, `best` − the vote forest. Seed 0 is read from results.jsonl (nothing refitted).

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/seed_spread.py

Writes seed_spread_1.jsonl, seed_spread_2.jsonl (resume logs) and seed_spread.md next to this script
(atomically).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import log_loss  # noqa: E402
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ensemble_distilled_soft", "ensemble_forest_soft", "ensemble_distilled", "ensemble_forest")
SEEDS = (0, 1, 2)
PAIRS = (("ensemble_distilled_soft", "ensemble_forest_soft"), ("ensemble_distilled_soft", "ensemble_distilled"),
         ("ensemble_forest_soft", "ensemble_forest"))


def main() -> int:
    from sklearn.metrics import roc_auc_score

    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds, run
    from hea_fast.validation.scores import metrics

    data = harmonised_phase_data()
    folds = list(loso_folds(data))
    preds = {0: {k: v for k, v in loso_predictions(HERE / "results.jsonl").items() if k[1] in MODELS}}
    for seed in SEEDS[1:]:
        log = HERE / f"seed_spread_{seed}.jsonl"
        out = run(MODELS, folds, seed=seed, log=log, progress=lambda m: print(m, file=sys.stderr, flush=True))
        preds[seed] = {(f, m): g["p"].to_numpy() for (f, m), g in out.groupby(["fold", "model"], sort=False)}
    ys = {f.name: f.test["single_phase"].to_numpy(np.int64) for f in folds}
    names = [f.name for f in folds]
    y_all = np.concatenate([ys[n] for n in names])

    def summary(seed, model):
        auc = np.mean([roc_auc_score(ys[n], preds[seed][(n, model)]) for n in names])
        ll = np.mean([log_loss(ys[n], preds[seed][(n, model)]) for n in names])
        p_all = np.concatenate([preds[seed][(n, model)] for n in names])
        return auc, ll, metrics(y_all, p_all, n_boot=0, seed=0)["ece"]["value"]

    table = {(s, m): summary(s, m) for s in SEEDS for m in MODELS}
    lines = ["# Seed spread of the forest-based recipes (`seed_spread.py`)", "",
             "Leave one source out, the same folds; each recipe fitted with seeds 0 (results.jsonl), 1 and 2. Mean AUC / "
             "mean log-loss over the six held-out sources, pooled ECE.", "",
             "| model | " + " | ".join(f"seed {s}" for s in SEEDS) + " | mean over seeds | spread (max − min) |",
             "|---" * (3 + len(SEEDS)) + "|"]
    for m in MODELS:
        vals = np.array([table[(s, m)] for s in SEEDS])
        cells = [f"{a:.4f} / {b:.4f} / {c:.3f}" for a, b, c in vals]
        mean, spread = vals.mean(axis=0), vals.max(axis=0) - vals.min(axis=0)
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {mean[0]:.4f} / {mean[1]:.4f} / {mean[2]:.3f} | "
                     f"{spread[0]:.4f} / {spread[1]:.4f} / {spread[2]:.3f} |")
    lines += ["", "Paired differences (same seed), Δ mean AUC / Δ mean log-loss:", "",
              "| pair | " + " | ".join(f"seed {s}" for s in SEEDS) + " | sign the same at every seed |",
              "|---" * (2 + len(SEEDS)) + "|"]
    for a, b in PAIRS:
        d = np.array([np.subtract(table[(s, a)][:2], table[(s, b)][:2]) for s in SEEDS])
        same = all(np.sign(d[:, j]).min() == np.sign(d[:, j]).max() != 0 for j in range(2))
        lines.append(f"| {a} − {b} | " + " | ".join(f"{x:+.4f} / {y:+.4f}" for x, y in d)
                     + f" | {'yes' if same else 'no'} |")
    atomic_write(HERE / "seed_spread.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
