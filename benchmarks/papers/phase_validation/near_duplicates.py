"""Near-duplicates across the leave-one-source-out split: how much they flatter the protocol (issue #15).

The protocol removes from each training fold every composition whose key (atomic fractions rounded
to 1e-3) is held out. Two compositions closer than that resolution still get different keys when
they straddle a rounding boundary (`Al13.636364...Cu4.545455` and `Al13.64...Cu4.55`, 4.5e-5 apart),
so a held-out alloy can keep its near-twin in training. This script

1. counts, per held-out source, the training compositions within `--tol` (largest absolute
   difference of an element's fraction; default 1e-3 = 0.1 at.%, the key resolution) of some
   held-out composition under another key (and at tol / 2);
2. refits `--models` on folds that also drop those near-twins ("loso_tol") and compares their
   held-out metrics with the protocol's own folds ("loso"), whose predictions come from a private
   copy of results.jsonl (a model whose record is missing there is refitted into the copy; the
   stored log is never written).

Nothing here changes the protocol or the stored results: it measures whether the leak moves the
numbers or the ranking of the models. Held-out rows and labels are the same in both columns.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/near_duplicates.py

Writes near_duplicates.json / .md next to this script (atomically); fits go to near_duplicates.jsonl
(resumable: a rerun reads every finished fold).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ensemble_forest_soft", "ensemble_distilled_soft", "ensemble_forest", "hgb_wide", "logreg",
          "logreg_fractions")
SHOWN = ("accuracy", "auc", "log_loss", "brier", "ece")


def near_twins(train: pd.DataFrame, test: pd.DataFrame, els, tol: float) -> np.ndarray:
    """Training rows within `tol` of a held-out composition under another key
    (`hea_fast.validation.protocols.near_twins` minus the held-out keys the protocol drops anyway)."""
    from hea_fast.validation.protocols import near_twins as within

    return within(train, test, els, tol) & ~train["key"].isin(set(test["key"])).to_numpy()


def tolerant_folds(data: pd.DataFrame, tol: float, counts: dict):
    from hea_fast.validation.data import element_columns
    from hea_fast.validation.protocols import Fold, loso_folds

    for fold in loso_folds(data):
        els = element_columns(fold.train)
        hit = near_twins(fold.train, fold.test, els, tol)
        half = near_twins(fold.train, fold.test, els, tol / 2)
        counts[fold.name] = {"n_train": len(fold.train), "n_test": len(fold.test), "near_twins": int(hit.sum()),
                             "near_twins_half_tol": int(half.sum())}
        train = fold.train[~hit].reset_index(drop=True)
        train.attrs["elements"] = els
        yield Fold("loso_tol", fold.name, train, fold.test)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tol", type=float, default=1e-3, help="largest |Δ fraction| of a near-twin (default 1e-3)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--log", default=str(HERE / "near_duplicates.jsonl"))
    args = ap.parse_args(argv)
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import evaluate, loso_folds, run

    models = [m for m in args.models.split(",") if m]
    data = harmonised_phase_data()
    counts: dict = {}
    tol_pred = run(models, tolerant_folds(data, args.tol, counts), log=args.log, progress=print)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "results.jsonl"
        shutil.copy(HERE / "results.jsonl", copy)
        n_before = sum(1 for _ in open(copy))
        base_pred = run(models, loso_folds(data), log=copy, progress=print)
        refitted = sum(1 for _ in open(copy)) - n_before
    # evaluate scores the held-out sources one by one for protocol "loso" only: score each set as such
    tables = [evaluate(base_pred, n_boot=args.n_boot, seed=0),
              evaluate(tol_pred.assign(protocol="loso"), n_boot=args.n_boot, seed=0).assign(protocol="loso_tol")]
    table = pd.concat(tables, ignore_index=True)
    per_source = table[table["subset"] != "all"]
    means = per_source.groupby(["protocol", "model"])[["auc", "log_loss"]].mean()
    pooled = table[table["subset"] == "all"].set_index(["protocol", "model"])
    lines = ["# Near-duplicates across the leave-one-source-out split (`near_duplicates.py`)", "",
             f"Training compositions within {args.tol:g} (largest |Δ fraction|) of a held-out composition "
             "under another key, dropped in `loso_tol`; `loso` is the protocol's folds (stored predictions"
             + (f"; {refitted} record(s) refitted" if refitted else ", none refitted") + ").", "",
             "| held out | training rows | near-twins (tol) | near-twins (tol/2) | test rows |", "|---|---|---|---|---|"]
    for name, c in counts.items():
        lines.append(f"| {name} | {c['n_train']} | {c['near_twins']} | {c['near_twins_half_tol']} | {c['n_test']} |")
    lines += ["", "| model | mean AUC loso | loso_tol | mean log-loss loso | loso_tol | pooled ECE loso | loso_tol |",
              "|---|---|---|---|---|---|---|"]
    out = {"tol": args.tol, "counts": counts, "refitted_into_copy": refitted, "models": {}}
    for m in models:
        a, b = means.loc[("loso", m)], means.loc[("loso_tol", m)]
        ea, eb = pooled.loc[("loso", m), "ece"], pooled.loc[("loso_tol", m), "ece"]
        lines.append(f"| {m} | {a['auc']:.4f} | {b['auc']:.4f} | {a['log_loss']:.4f} | {b['log_loss']:.4f} | "
                     f"{ea:.4f} | {eb:.4f} |")
        out["models"][m] = {"mean_auc": [float(a["auc"]), float(b["auc"])],
                            "mean_log_loss": [float(a["log_loss"]), float(b["log_loss"])],
                            "pooled_ece": [float(ea), float(eb)],
                            "pooled": {p: {k: float(pooled.loc[(p, m), k]) for k in SHOWN} for p in ("loso", "loso_tol")}}
    rank = {p: [m for m, _ in sorted(((m, means.loc[(p, m), "log_loss"]) for m in models), key=lambda t: t[1])]
            for p in ("loso", "loso_tol")}
    out["ranking_by_mean_log_loss"] = rank
    lines += ["", f"Ranking by mean log-loss, loso: {', '.join(rank['loso'])}; loso_tol: {', '.join(rank['loso_tol'])}.", ""]
    atomic_write_json(HERE / "near_duplicates.json", out, strict=True, indent=1)
    atomic_write(HERE / "near_duplicates.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
