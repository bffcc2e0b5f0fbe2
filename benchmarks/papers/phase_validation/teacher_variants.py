"""Tree members tried against the forest of the `best` model (issue #15): is there a better teacher?

The bundled ``best`` model (`ensemble_forest`: `PhaseEnsembleClassifier(calibrate=False, trees="forest")`)
averages its linear member with a 300-tree random forest (min_samples_leaf from {1, 5, 20}); the default
distils that forest. A better forest would give a better teacher, so these tree members were tried on the
protocol's leave-one-source-out folds, each averaged with the fold's linear member (the estimator's, as
fitted; w = 1/2 unless said) and each choosing its settings as the estimator does — `GridSearchCV` by
log-loss over an inner `GroupKFold(3)` of the training rows' alloy systems, nothing chosen on the
held-out source:

* ``ref``         the estimator itself (its held-out predictions must equal the ``ensemble_forest``
  records of results.jsonl; checked);
* ``rf_mf``       the forest with max_features in {sqrt, 0.5, 1.0} x min_samples_leaf in {1, 3, 5};
* ``et``          `ExtraTreesClassifier`, 300 trees, max_features {sqrt, 0.5, 1.0} x min_samples_leaf
  {1, 3, 5, 10};
* ``rf_frac``     the forest on [descriptors | element fractions] (min_samples_leaf {1, 5, 20});
* ``lin_rf_hgb``  three members, 1/3 each: linear, the estimator's forest and boosted trees
  (`TREE_GRID`, the validation's ``hgb``);
* ``rf_1000``     1,000 trees instead of 300;
* ``rf_wlin``     the estimator's members, the linear weight w in {0, 0.25, 0.5, 0.75, 1} chosen by the
  log-loss of inner grouped out-of-fold predictions.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/teacher_variants.py

Writes teacher_variants.jsonl (resume log: one record per fold and variant) and teacher_variants.md next
to this script (atomically); 12 minutes on the 2-core VM (forests with n_jobs=2; 2026-12-06).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE))

from _variant_log import largest_difference, log_loss, run_folds, summary_table  # noqa: E402
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write  # noqa: E402

VARIANTS = ("ref", "rf_mf", "et", "rf_frac", "lin_rf_hgb", "rf_1000", "rf_wlin")
W_LIN = (0.0, 0.25, 0.5, 0.75, 1.0)


def _search(est, grid, V, y, groups):
    from sklearn.model_selection import GridSearchCV, GroupKFold

    cv = GroupKFold(n_splits=3, shuffle=True, random_state=0)
    gs = GridSearchCV(est, grid, scoring="neg_log_loss", cv=cv, refit=True, n_jobs=1, error_score="raise")
    gs.fit(V, y, groups=groups)
    return gs.best_estimator_, {k: (v if isinstance(v, (int, float, str)) else str(v))
                                for k, v in gs.best_params_.items()}


def fold_variants(fold, todo):
    """{variant: (held-out probabilities, what it chose)} for one leave-one-source-out fold."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.phase.estimator import TREE_GRID
    from hea_fast.phase.model import feature_matrix
    from hea_fast.validation.data import element_columns

    els = element_columns(fold.train)
    y, g = fold.train["single_phase"].to_numpy(), fold.train["system"].to_numpy()
    est = PhaseEnsembleClassifier(calibrate=False, trees="forest", random_state=0).fit(fold.train[els], y, g)
    fd = len(est.descriptors_)

    def V(frame):
        return feature_matrix(frame[els], est.descriptors_, est.elements_, threads=1, errors="nan")[0]

    Vtr, Vte = V(fold.train), V(fold.test)
    p_lin = est.linear_.predict_proba(Vte)[:, 1]
    p_rf = est.trees_.predict_proba(Vte[:, :fd])[:, 1]

    def rf(n=300):
        return RandomForestClassifier(n_estimators=n, random_state=0, n_jobs=2)

    def half(m, X):
        return 0.5 * p_lin + 0.5 * m.predict_proba(X)[:, 1]

    out = {}
    for v in todo:
        info = {}
        if v == "ref":
            p = est.predict_proba(fold.test[els])[:, 1]
        elif v == "rf_mf":
            m, info = _search(rf(), {"min_samples_leaf": [1, 3, 5], "max_features": ["sqrt", 0.5, 1.0]},
                              Vtr[:, :fd], y, g)
            p = half(m, Vte[:, :fd])
        elif v == "et":
            m, info = _search(ExtraTreesClassifier(n_estimators=300, random_state=0, n_jobs=2),
                              {"min_samples_leaf": [1, 3, 5, 10], "max_features": ["sqrt", 0.5, 1.0]},
                              Vtr[:, :fd], y, g)
            p = half(m, Vte[:, :fd])
        elif v == "rf_frac":
            m, info = _search(rf(), {"min_samples_leaf": [1, 5, 20]}, Vtr, y, g)
            p = half(m, Vte)
        elif v == "lin_rf_hgb":
            m, info = _search(HistGradientBoostingClassifier(max_iter=300, early_stopping=False, random_state=0),
                              {k: list(x) for k, x in TREE_GRID.items()}, Vtr[:, :fd], y, g)
            p = (p_lin + p_rf + m.predict_proba(Vte[:, :fd])[:, 1]) / 3
        elif v == "rf_1000":
            m, info = _search(rf(1000), {"min_samples_leaf": [1, 5, 20]}, Vtr[:, :fd], y, g)
            p = half(m, Vte[:, :fd])
        elif v == "rf_wlin":
            cv = GroupKFold(n_splits=3, shuffle=True, random_state=0)
            ol = cross_val_predict(est.linear_, Vtr, y, groups=g, cv=cv, method="predict_proba")[:, 1]
            ot = cross_val_predict(est.trees_, Vtr[:, :fd], y, groups=g, cv=cv, method="predict_proba")[:, 1]
            inner = {w: log_loss(y, w * ol + (1 - w) * ot) for w in W_LIN}
            w = min(inner, key=inner.get)
            info = {"w_lin": w, "inner": inner}
            p = w * p_lin + (1 - w) * p_rf
        else:
            raise ValueError(f"unknown variant {v!r}")
        out[v] = (p, info)
    return out


def main() -> int:
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds

    folds = list(loso_folds(harmonised_phase_data()))
    done = run_folds(HERE / "teacher_variants.jsonl", folds, VARIANTS, fold_variants)
    dev = largest_difference(done, folds, "ref", loso_predictions(HERE / "results.jsonl"), "ensemble_forest")
    names = [f.name for f in folds]
    lines = ["# Tree members tried as the teacher (`teacher_variants.py`)", "",
             "Leave one source out; each member averaged with the fold's linear member, settings chosen by inner "
             "grouped CV (log-loss). Mean over the six held-out sources (each weighs the same); ECE and accuracy "
             f"pooled over all held-out rows. `ref` (the bundled `best` recipe) against the `ensemble_forest` "
             f"records of results.jsonl: largest difference {dev:.1e} (stored rounded to 1e-7).", "",
             *summary_table(done, names, VARIANTS)]
    lines += ["", "What each variant chose, per held-out source:", ""]
    for v in VARIANTS[1:]:
        lines.append(f"- {v}: " + "; ".join(f"{n} {json.dumps(done[(n, v)]['info'], sort_keys=True)}"
                                            for n in names))
    atomic_write(HERE / "teacher_variants.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
