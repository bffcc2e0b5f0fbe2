"""The issue's off-the-shelf baseline, on the held-out sources we have (issue #15).

Issue #15 reports, on an independent set of ~300 published alloys that is not in the repository,
scikit-learn ``HistGradientBoostingClassifier`` with default settings on the project's descriptors,
trained on the d-VAE labelled rows (Yan 2021's alloys), at accuracy 0.82 / AUC 0.84, ahead of the
bundled models of the time. This script asks the same question of each other shared source held
out in turn (Borg 2020, Singh 2023, Machaka 2021, Gao 2017, the Peivaste bulk sheets), every
training set minus the held-out source's compositions:

* ``baseline_hgb_yan``: the baseline, trained on Yan 2021 alone (15 descriptors: the registry minus
  Ω, which is +inf whenever ΔH_mix = 0);
* ``distilled_yan``: the default model's estimator (`PhaseEnsembleClassifier(calibrate=False,
  trees="distilled")` with ``label_fraction`` = the rows' single-phase record fractions, its own inner
  grouped tuning) on the same Yan rows: the model class, like for like on data;
* ``distilled_loso``: the default as bundled, i.e. trained on the other sources pooled (the
  leave-one-source-out predictions of results.jsonl, ``ensemble_distilled_soft``, Yan included in
  training);
* ``ensemble_yan`` / ``ensemble_loso``: the same two for the first default (the protocol's
  ``ensemble``: `PhaseEnsembleClassifier(calibrate=False)`, boosted trees fitted to the labels);
* ``forest_yan`` / ``forest_loso``: the same two for the bundled ``best`` model (the protocol's
  ``ensemble_forest_soft``: `PhaseEnsembleClassifier(calibrate=False, trees="forest")` with
  ``label_fraction``).

Metrics with 95 % cluster-bootstrap intervals (alloy systems), pooled over the five held-out
sources and per source. Nothing here is tuned: the baseline has its defaults, the ensemble its
inner CV.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/papers/phase_validation/issue_baseline.py

Writes issue_baseline.json / issue_baseline.md next to this script (about two minutes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from domain_eval import loso_predictions  # noqa: E402  (same folder)

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
SHOWN = ("accuracy", "auc", "log_loss", "ece")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(HERE / "results.jsonl"))
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args(argv)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.validation.data import element_columns, harmonised_phase_data
    from hea_fast.validation.models import CompositionFeatures, fit_model, label_fractions
    from hea_fast.validation.protocols import loso_folds
    from hea_fast.validation.scores import metrics, paired_difference

    data = harmonised_phase_data()
    yan = data[data["source"] == "yan2021"].reset_index(drop=True)
    stored = loso_predictions(Path(args.results))
    loso = {fold: p for (fold, model), p in stored.items() if model == "ensemble"}
    loso_forest = {fold: p for (fold, model), p in stored.items() if model == "ensemble_forest_soft"}
    loso_distilled = {fold: p for (fold, model), p in stored.items() if model == "ensemble_distilled_soft"}
    preds = []
    for fold in loso_folds(data):
        if fold.name == "yan2021":
            continue
        els = element_columns(data)
        train = yan[~yan["key"].isin(set(fold.test["key"]))]
        Xtr, ytr, gtr = train[els], train["single_phase"].to_numpy(), train["system"].to_numpy()
        base = Pipeline([("features", CompositionFeatures()), ("clf", HistGradientBoostingClassifier(random_state=0))])
        base.fit(Xtr, ytr)
        ens = PhaseEnsembleClassifier(calibrate=False, random_state=0)
        fit_model(ens, Xtr, ytr, gtr)
        qtr = label_fractions(train)  # the bundled models' forests are fitted to record fractions
        forest = PhaseEnsembleClassifier(calibrate=False, random_state=0, trees="forest")
        fit_model(forest, Xtr, ytr, gtr, qtr)
        distilled = PhaseEnsembleClassifier(calibrate=False, random_state=0, trees="distilled")
        fit_model(distilled, Xtr, ytr, gtr, qtr)
        Xte = fold.test[els]
        for name, p in (("baseline_hgb_yan", base.predict_proba(Xte)[:, 1]),
                        ("ensemble_yan", ens.predict_proba(Xte)[:, 1]),
                        ("ensemble_loso", loso[fold.name]),
                        ("forest_yan", forest.predict_proba(Xte)[:, 1]),
                        ("forest_loso", loso_forest[fold.name]),
                        ("distilled_yan", distilled.predict_proba(Xte)[:, 1]),
                        ("distilled_loso", loso_distilled[fold.name])):
            preds.append(pd.DataFrame({"fold": fold.name, "model": name, "y": fold.test["single_phase"].to_numpy(),
                                       "p": p, "system": fold.test["system"].to_numpy(),
                                       "n_elements": fold.test["n_elements"].to_numpy()}))
        print(f"{fold.name}: {len(train)} Yan training rows, {len(fold.test)} held out", flush=True)
    pred = pd.concat(preds, ignore_index=True)
    rows = []
    for (subset, model), g in [(("pooled", m), g) for m, g in pred.groupby("model", sort=False)] + \
                              [(("pooled, >= 3 elements", m), g[g["n_elements"] >= 3])
                               for m, g in pred.groupby("model", sort=False)] + \
                              [((f, m), g) for (f, m), g in pred.groupby(["fold", "model"], sort=False)]:
        r = metrics(g["y"].to_numpy(), g["p"].to_numpy(), n_boot=args.n_boot, seed=0, groups=g["system"].to_numpy())
        rows.append({"subset": subset, "model": model, "n": r["n"],
                     **{k: r[k]["value"] for k in SHOWN}, **{f"{k}_lo": r[k]["lo"] for k in SHOWN},
                     **{f"{k}_hi": r[k]["hi"] for k in SHOWN}})
    paired = []
    for subset, sel in (("pooled", pred["n_elements"] > 0), ("pooled, >= 3 elements", pred["n_elements"] >= 3)):
        g = pred[sel]
        ref = g[g["model"] == "baseline_hgb_yan"]
        for other in ("distilled_yan", "distilled_loso", "ensemble_yan", "ensemble_loso", "forest_yan", "forest_loso"):
            o = g[g["model"] == other]
            d = paired_difference(ref["y"].to_numpy(), ref["p"].to_numpy(), o["p"].to_numpy(), n_boot=args.n_boot,
                                  seed=0, groups=ref["system"].to_numpy())
            paired.append({"subset": subset, "model": other, "minus": "baseline_hgb_yan",
                           **{f"d_{k}": d[k]["value"] for k in SHOWN}, **{f"d_{k}_lo": d[k]["lo"] for k in SHOWN},
                           **{f"d_{k}_hi": d[k]["hi"] for k in SHOWN}})
    out = Path(args.out)
    atomic_write_json(out / "issue_baseline.json", {"command": "python benchmarks/papers/phase_validation/"
                                                    "issue_baseline.py", "n_boot": args.n_boot, "rows": rows,
                                                    "paired_minus_baseline": paired},
                      indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    lines = ["# The issue's baseline on the held-out sources (`issue_baseline.py`)", "",
             "| held out | model | n | " + " | ".join(SHOWN) + " |", "|" + "---|" * (3 + len(SHOWN))]
    for r in rows:
        lines.append(f"| {r['subset']} | {r['model']} | {r['n']} | " + " | ".join(
            f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]" for k in SHOWN) + " |")
    lines += ["", "Paired differences to the baseline (same cluster-bootstrap resamples; an interval without 0 is a "
              "difference on these data):", "", "| held out | model − baseline_hgb_yan | " +
              " | ".join(f"Δ{k}" for k in SHOWN) + " |", "|" + "---|" * (2 + len(SHOWN))]
    for r in paired:
        lines.append(f"| {r['subset']} | {r['model']} | " + " | ".join(
            f"{r['d_' + k]:+.3f} [{r['d_' + k + '_lo']:+.3f}, {r['d_' + k + '_hi']:+.3f}]" for k in SHOWN) + " |")
    atomic_write(out / "issue_baseline.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
