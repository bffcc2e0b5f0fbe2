"""How closely the bundled phase models reproduce their own training data (issue #15).

Not a validation: every alloy scored here is a training alloy of the models (the 2,820 pooled
compositions of `hea_fast.validation.pool`, one vote per source, ties dropped), so these are fit
statistics. They matter because users ask the model about well-known alloys, and published
compilations share most of them with our sources: a model should say of a known alloy what its
training data says, and the distilled model should say what its teacher says.

Since 2026-12-06 23:38 UTC the bundled default is the forest model (`best` until then) and the distilled
model is bundled as ``fast``; the rows below keep the names of the time they were written: "default" is
the distilled model (`load_model("fast")`), "best" the forest (`load_model("default")`).

Scored: the distilled model (`load_model("fast")`), the forest model (its teacher), both fitted to
soft labels (the fraction of the records calling a composition single phase), their recipes refitted
here on the vote instead (as bundled from 2026-12-06 16:10 to 19:56 UTC), and the vote recipe of the
default with the training compositions weighing like every draw in the distillation (``distil_weight=1``:
the default as bundled before 16:10 UTC, with the float32 student features of the current recipe) —
accuracy at 0.5 against the vote, AUC, log-loss, the root-mean-square distance to `best`'s probabilities,
and the mean absolute distance to the record fractions, on all training alloys, on those of >= 4
elements and on those whose records disagree.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/training_fit.py

Writes training_fit.md next to this script (atomically); 1.5 min on one core.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    from sklearn.metrics import log_loss, roc_auc_score

    from hea_fast.phase import PhaseEnsembleClassifier, load_model
    from hea_fast.validation.data import element_columns, harmonised_phase_data, pool
    from hea_fast.validation.models import label_fractions

    pooled = pool(harmonised_phase_data())
    rows = pooled[element_columns(pooled)]
    y = pooled["single_phase"].to_numpy().astype(int)
    n_el = pooled["n_elements"].to_numpy()
    g = pooled["system"].to_numpy()
    frac = label_fractions(pooled)

    def refit(**kw):
        return PhaseEnsembleClassifier(calibrate=False, random_state=0, **kw).fit(rows, y, g).predict_proba(rows)[:, 1]

    p = {"default (bundled; soft labels)": load_model("fast").predict_proba(rows)[:, 1],
         "best (bundled; soft labels; the default's teacher)": load_model("default").predict_proba(rows)[:, 1],
         "default's recipe on the vote (as bundled 16:10-19:56 UTC)": refit(trees="distilled"),
         "best's recipe on the vote (as bundled until 19:56 UTC)": refit(trees="forest"),
         "default's vote recipe with distil_weight = 1 (as bundled until 16:10 UTC)":
             refit(trees="distilled", distil_weight=1.0)}
    q = p["best (bundled; soft labels; the default's teacher)"]
    lines = ["# Fit to the training data (`training_fit.py`)", "",
             f"The {len(y):,} pooled training compositions ({int((n_el >= 4).sum()):,} of >= 4 elements; "
             f"{int(((frac > 0) & (frac < 1)).sum())} with records on both sides), scored by models trained on all "
             "of them: fit statistics, not held-out estimates. Accuracy, AUC and log-loss against the vote; "
             "last column: mean |p - single-phase record fraction|. Names as when the table was first written: "
             "\"default\" is the distilled model, bundled as `fast` since 2026-12-06 23:38 UTC, and \"best\" the "
             "forest model, the bundled default since then.", "",
             "| model | alloys | accuracy | AUC | log-loss | RMS to `best` | mean abs. to record fractions |",
             "|---|---|---|---|---|---|---|"]
    for name, pm in p.items():
        for label, s in (("all", n_el > 0), (">= 4 elements", n_el >= 4),
                         ("records on both sides", (frac > 0) & (frac < 1))):
            lines.append(f"| {name} | {label} | {np.mean((pm[s] >= 0.5) == y[s]):.3f} | "
                         f"{roc_auc_score(y[s], pm[s]):.3f} | {log_loss(y[s], pm[s], labels=[0, 1]):.3f} | "
                         f"{np.sqrt(np.mean((pm[s] - q[s]) ** 2)):.3f} | {np.mean(np.abs(pm[s] - frac[s])):.3f} |")
    atomic_write(HERE / "training_fit.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
