"""The `best` model's forest fitted to soft labels (the fraction of reports calling an alloy single phase)
instead of the majority label: an exploration for the next default (issue #15), leave one source out.

The protocol labels each pooled training composition by a vote (each source's majority label is one vote,
ties dropped; `hea_fast.validation.data.pool`). Sources and records disagree on many alloys (e.g.
Al0.5CoCrFeNi: single phase in 1 of 6 sources, 7 of 39 records), so a forest that memorises a 0/1 label
per alloy is sure where the literature is not. Here the forest of ``best`` (`PhaseEnsembleClassifier(
calibrate=False, trees="forest")`, min_samples_leaf as its own inner grouped search chose it on the
majority labels) is refitted on soft labels q — each composition once as label 1 with weight q and once as
label 0 with weight 1 - q — and averaged with the fold's linear member (w = 1/2), as ``best`` is:

* ``ref``           ``best`` itself (must reproduce the ``ensemble_forest`` records of results.jsonl);
* ``rec``           the fold's pooled rows, q = single-phase records / records over the training sources;
* ``src``           the fold's pooled rows, q = single-phase sources / sources;
* ``rec_linear``    as ``rec``, the linear member fitted to the same soft labels too;
* ``rec_ties``      every composition the training sources report (the ties the vote drops kept),
  q = single-phase records / records;
* ``src_ties``      the same, q = single-phase sources / sources (a tie is q = 1/2);
* ``rec_distilled``, ``rec_ties_distilled``  the forests of ``rec`` and ``rec_ties`` distilled into the
  default's student (`PhaseEnsembleClassifier._distil`: 600 depth-4 trees, training compositions weighing
  25 draws, float32 descriptors; the draws around the compositions each forest was fitted on), averaged
  with the linear member: what the default would be with either teacher.

Nothing is chosen on the held-out source (no variant has a parameter of its own).

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/soft_label_teacher.py

Writes soft_label_teacher.jsonl (resume log: one record per fold and variant) and soft_label_teacher.md next
to this script (atomically); about 6 minutes on the 2-core VM (2026-12-06).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE))

from _variant_log import largest_difference, run_folds, summary_table  # noqa: E402
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write  # noqa: E402

VARIANTS = ("ref", "rec", "src", "rec_linear", "rec_ties", "src_ties", "rec_distilled", "rec_ties_distilled")


def _soft_rows(V, q):
    """(X, y, w): each row of V once as label 1 with weight q and once as label 0 with weight 1 - q
    (zero-weight copies dropped), in block order (every label-1 copy, then every label-0 copy). The
    estimator's `hea_fast.phase.estimator.soft_label_rows` interleaves them instead; this order is kept
    so the logged exploration reproduces (the two orders differ by the forest's bootstrap only)."""
    X = np.vstack([V, V])
    y = np.r_[np.ones(len(q)), np.zeros(len(q))].astype(np.int64)
    w = np.r_[q, 1.0 - q]
    keep = w > 0
    return X[keep], y[keep], w[keep]


def fold_variants(data, fold) -> dict:
    """{variant: held-out probabilities} for one leave-one-source-out fold."""
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.phase.estimator import student_features
    from hea_fast.phase.model import feature_matrix
    from hea_fast.validation.data import element_columns

    els = element_columns(fold.train)
    tr = fold.train
    y, g = tr["single_phase"].to_numpy(), tr["system"].to_numpy()
    est = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=0).fit(tr[els], y, g)
    leaf = est.best_params_["trees"]["min_samples_leaf"]
    fd = len(est.descriptors_)

    def V(frame):
        return feature_matrix(frame[els], est.descriptors_, est.elements_, threads=1, errors="nan")[0]

    Vte = V(fold.test)
    p_lin = est.linear_.predict_proba(Vte)[:, 1]

    fitted = {}

    def forest(Vtr, q, name=None):
        X, yy, w = _soft_rows(Vtr[:, :fd], q)
        rf = RandomForestClassifier(n_estimators=300, min_samples_leaf=leaf, random_state=0, n_jobs=2)
        rf.fit(X, yy, sample_weight=w)
        if name:
            fitted[name] = rf
        return rf.predict_proba(Vte[:, :fd])[:, 1]

    def distilled(teacher, frame):
        student = est._distil(teacher, frame[els].to_numpy(np.float64), els)[0]
        return 0.5 * p_lin + 0.5 * student.predict_proba(student_features(Vte[:, :fd]))[:, 1]

    Vtr = V(tr)
    q_rec = (tr["n_single"] / tr["n_records"]).to_numpy(np.float64)
    q_src = (tr["n_single_sources"] / tr["n_sources"]).to_numpy(np.float64)
    # every composition of the training sources, ties included (the pooled rows drop them)
    other = data[(data["source"] != fold.name) & ~data["key"].isin(set(fold.test["key"]))]
    grp = other.groupby("key", sort=False)
    first = grp.head(1).reset_index(drop=True)
    q_all_rec = (grp["n_single"].sum() / grp["n_records"].sum()).loc[first["key"]].to_numpy(np.float64)
    q_all_src = grp["single_phase"].mean().loc[first["key"]].to_numpy(np.float64)
    Vall = V(first)
    out = {"ref": est.predict_proba(fold.test[els])[:, 1]}
    p_rec = forest(Vtr, q_rec, "rec")
    out["rec"] = 0.5 * p_lin + 0.5 * p_rec
    out["src"] = 0.5 * p_lin + 0.5 * forest(Vtr, q_src)
    X, yy, w = _soft_rows(Vtr, q_rec)
    lin = clone(est.linear_).fit(X, yy, clf__sample_weight=w)
    out["rec_linear"] = 0.5 * lin.predict_proba(Vte)[:, 1] + 0.5 * p_rec
    out["rec_ties"] = 0.5 * p_lin + 0.5 * forest(Vall, q_all_rec, "rec_ties")
    out["src_ties"] = 0.5 * p_lin + 0.5 * forest(Vall, q_all_src)
    out["rec_distilled"] = distilled(fitted["rec"], tr)
    out["rec_ties_distilled"] = distilled(fitted["rec_ties"], first)
    info = {"min_samples_leaf": int(leaf), "pooled_rows": int(len(tr)), "all_rows": int(len(first)),
            "fractional_rec": int(((q_rec > 0) & (q_rec < 1)).sum()),
            "fractional_all_rec": int(((q_all_rec > 0) & (q_all_rec < 1)).sum())}
    return out, info


def main() -> int:
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds

    data = harmonised_phase_data()
    folds = list(loso_folds(data))

    def compute(fold, todo):  # every variant of a fold at once (they share the fold's fits)
        preds, info = fold_variants(data, fold)
        return {v: (p, info) for v, p in preds.items()}

    done = run_folds(HERE / "soft_label_teacher.jsonl", folds, VARIANTS, compute)
    dev = largest_difference(done, folds, "ref", loso_predictions(HERE / "results.jsonl"), "ensemble_forest")
    names = [f.name for f in folds]
    lines = ["# The `best` forest on soft labels (`soft_label_teacher.py`)", "",
             "Leave one source out; each variant averaged with the fold's linear member. Mean over the six held-out "
             "sources (each weighs the same); ECE and accuracy pooled over all held-out rows. `ref` against the "
             f"`ensemble_forest` records of results.jsonl: largest difference {dev:.1e} (stored rounded to 1e-7).", "",
             *summary_table(done, names, VARIANTS)]
    lines += ["", "Per fold (the same for every variant): " + "; ".join(
        f"{n} {json.dumps(done[(n, 'rec')]['info'], sort_keys=True)}" for n in names)]
    atomic_write(HERE / "soft_label_teacher.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
