"""Four attempts to close the out-of-source calibration gap of the default phase model (issue #15).

The default (`ensemble` in results.jsonl: `hea_fast.phase.PhaseEnsembleClassifier(calibrate=False)`)
has an expected calibration error of 0.069 over all leave-one-source-out rows against the issue's
target of 0.05; domain.md shows the gap is the binaries (ECE 0.251), where the sources' labels
contradict each other (Yan 2021 calls Cu3Au, CuAu and Cr-Fe single phase, the Peivaste bulk sheets
call them intermetallic). Each attempt below is a rule fixed before it is scored on the outer held-out
source; whatever it chooses, it chooses inside the outer training fold, by an **inner
leave-one-source-out** over the training sources (each with its own labels, the same construction as
the outer protocol), so the numbers are honest held-out estimates:

* ``source_platt``  Platt scaling p = expit(a logit(p) + b) fitted on the inner out-of-source
  predictions of the default's two members (its selected hyperparameters refitted per inner fold),
  instead of none;
* ``extra_features``  the default with ten more descriptors (pairwise ΔH_mix min / max / spread, VEC
  and T_m spread, radius ratio, χ range, number of elements, largest / smallest fraction), tuned as
  the default (inner grouped CV);
* ``source_tuned``  the members' hyperparameters and the ensemble weight chosen by the mean inner
  out-of-source log-loss: C in {0.001 … 10}, trees lr {0.01, 0.03, 0.1} x depth {2, 3, 4} (L2 1, 300
  iterations), w_lin in {0, 0.25, 0.5, 0.75, 1};
* ``binary_shrink``  binaries' logits multiplied by s in [0, 1] (shrunk towards p = 0.5), s chosen by
  the inner out-of-source log-loss of the binaries;
* ``forest_member``  the default with its boosted trees replaced by a random forest (scikit-learn
  `RandomForestClassifier`, 300 trees on the 15 descriptors, min_samples_leaf in {1, 5, 20} chosen as
  the default chooses its members: inner grouped CV by alloy system, log-loss), averaged with the
  default's linear member. Not a calibration rule but a member whose probabilities average leaves
  instead of summing boosted logits.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/papers/phase_validation/calibration_attempts.py

Writes attempts.jsonl (resume log: one record per outer fold and attempt), attempts.json and
attempts.md next to this script (atomically). About 6 minutes on one core.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import training_sources  # noqa: E402
from domain_eval import loso_predictions, metric_row  # noqa: E402

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
ATTEMPTS = ("source_platt", "extra_features", "source_tuned", "binary_shrink", "forest_member")
LIN_C = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0, 10.0)
TREES = tuple({"learning_rate": lr, "max_depth": d, "l2_regularization": 1.0} for lr in (0.01, 0.03, 0.1)
              for d in (2, 3, 4))
W_LIN = (0.0, 0.25, 0.5, 0.75, 1.0)
EXTRA = ("dH_pair_min", "dH_pair_max", "dH_pair_spread", "VEC_spread", "Tm_rel_spread", "radius_ratio", "chi_range",
         "n_elements", "c_max", "c_min")


def log_loss(y, p) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def logit(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def expit(z):
    return 1.0 / (1.0 + np.exp(-z))


def extra_features(X: np.ndarray, elements) -> np.ndarray:
    """(n, 10) descriptors of `EXTRA` for fraction rows X over `elements` (default element table)."""
    from hea_fast.elements import ElementDataError, ElementTable
    from hea_fast.features import prepare, resolve
    from hea_fast.phase.model import default_descriptors

    _, names, tab = resolve(list(default_descriptors()), "default")
    P = np.full((len(elements), 7), np.nan)
    for i, e in enumerate(elements):
        try:
            P[i] = prepare(np.ones((1, 1)), [e], names, tab)[0][0]
        except ElementDataError:  # an element without data: its rows get NaN (the harmonised data has none)
            pass
    H = ElementTable.load("default").pair_matrix(list(elements))
    out = np.empty((X.shape[0], len(EXTRA)))
    for r, x in enumerate(X / X.sum(axis=1, keepdims=True)):
        idx = np.flatnonzero(x > 0)
        c, pr = x[idx], P[idx]
        iu = np.triu_indices(idx.size, 1)
        h = H[np.ix_(idx, idx)][iu] if idx.size > 1 else np.zeros(1)
        w = np.outer(c, c)[iu] if idx.size > 1 else np.ones(1)
        hm = np.sum(w * h) / np.sum(w)
        vec, tm, rad, chi = pr[:, 3], pr[:, 4], pr[:, 0], pr[:, 1]
        out[r] = [h.min(), h.max(), np.sqrt(np.sum(w * (h - hm) ** 2) / np.sum(w)),
                  np.sqrt(np.sum(c * (vec - c @ vec) ** 2)), np.sqrt(np.sum(c * (tm - c @ tm) ** 2)) / (c @ tm),
                  rad.max() / rad.min(), chi.max() - chi.min(), idx.size, c.max(), c.min()]
    return out


def _members(V, y, fd, configs_lin, configs_tree, seed=0):
    """Fitted (linear by C, trees by config index) on features V = [descriptors | fractions]."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    lin = {C: Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=C, max_iter=5000))]).fit(V, y)
           for C in configs_lin}
    trees = {k: HistGradientBoostingClassifier(max_iter=300, early_stopping=False, random_state=seed, **t)
             .fit(V[:, :fd], y) for k, t in enumerate(configs_tree)}
    return lin, trees


def fold_attempts(fold, inner_folds, seed=0) -> dict:
    """{attempt: held-out probabilities} for one outer leave-one-source-out fold."""
    from sklearn.base import clone

    from hea_fast.phase import PhaseEnsembleClassifier
    from hea_fast.phase.estimator import apply_platt, fit_platt
    from hea_fast.phase.model import feature_matrix
    from hea_fast.validation.data import element_columns

    els = element_columns(fold.train)
    y = fold.train["single_phase"].to_numpy()
    est = PhaseEnsembleClassifier(calibrate=False, random_state=seed).fit(fold.train[els], y,
                                                                          fold.train["system"].to_numpy())
    fd = len(est.descriptors_)

    def V(frame):
        return feature_matrix(frame[els], est.descriptors_, est.elements_, threads=1, errors="nan")[0]

    p_ref = est.predict_proba(fold.test[els])[:, 1]
    Vt = V(fold.test)
    outer_lin, outer_trees = _members(V(fold.train), y, fd, LIN_C, TREES, seed)
    inner = []  # per inner source: labels, n_elements, default members' p_avg, grid members' predictions
    for g in inner_folds:
        Vi, Vo, yi = V(g.train), V(g.test), g.train["single_phase"].to_numpy()
        lin = clone(est.linear_).fit(Vi, yi)
        tre = clone(est.trees_).fit(Vi[:, :fd], yi)
        gl, gt = _members(Vi, yi, fd, LIN_C, TREES, seed)
        inner.append({"y": g.test["single_phase"].to_numpy(), "n": g.test["n_elements"].to_numpy(),
                      "p_avg": est._p_avg(lin, tre, Vo),
                      "lin": {C: m.predict_proba(Vo)[:, 1] for C, m in gl.items()},
                      "tree": {k: m.predict_proba(Vo[:, :fd])[:, 1] for k, m in gt.items()}})
    out = {}
    # source_platt
    a, b = fit_platt(np.concatenate([r["p_avg"] for r in inner]), np.concatenate([r["y"] for r in inner]))
    out["source_platt"] = (apply_platt(p_ref, a, b), {"a": a, "b": b})
    # source_tuned: the mean over inner sources of the log-loss, each source weighing the same
    score = {(C, k, w): np.mean([log_loss(r["y"], w * r["lin"][C] + (1 - w) * r["tree"][k]) for r in inner])
             for C in LIN_C for k in range(len(TREES)) for w in W_LIN}
    C, k, w = min(score, key=score.get)
    p = w * outer_lin[C].predict_proba(Vt)[:, 1] + (1 - w) * outer_trees[k].predict_proba(Vt[:, :fd])[:, 1]
    out["source_tuned"] = (p, {"C": C, "trees": TREES[k], "w_lin": w, "inner_log_loss": score[(C, k, w)]})
    # binary_shrink
    zb = np.concatenate([logit(r["p_avg"][r["n"] == 2]) for r in inner])
    yb = np.concatenate([r["y"][r["n"] == 2] for r in inner])
    grid = np.linspace(0.0, 1.0, 101)
    s = float(grid[int(np.argmin([log_loss(yb, expit(t * zb)) for t in grid]))])
    q = p_ref.copy()
    binary = fold.test["n_elements"].to_numpy() == 2
    q[binary] = expit(s * logit(p_ref[binary]))
    out["binary_shrink"] = (q, {"s": s, "inner_binaries": int(yb.size)})
    # extra_features: the default's recipe (inner grouped-CV grid search) on descriptors + EXTRA
    out["extra_features"] = (_extra_fit_predict(fold, els, est, seed), {})
    out["forest_member"] = _forest_fit_predict(fold, est, V, seed)
    return {k: (np.asarray(v[0]), v[1]) for k, v in out.items()} | {"_reference": (p_ref, {})}


def _forest_fit_predict(fold, est, V, seed):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, GroupKFold

    fd = len(est.descriptors_)
    Vtr, Vte = V(fold.train), V(fold.test)
    y, groups = fold.train["single_phase"].to_numpy(), fold.train["system"].to_numpy()
    cv = GroupKFold(n_splits=3, shuffle=True, random_state=seed)
    rf = GridSearchCV(RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),
                      {"min_samples_leaf": [1, 5, 20]}, scoring="neg_log_loss", cv=cv).fit(Vtr[:, :fd], y, groups=groups)
    p = 0.5 * est.linear_.predict_proba(Vte)[:, 1] + 0.5 * rf.predict_proba(Vte[:, :fd])[:, 1]
    return p, {"min_samples_leaf": rf.best_params_["min_samples_leaf"]}


def _extra_fit_predict(fold, els, est, seed):
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from hea_fast.phase.estimator import LIN_C_GRID, TREE_GRID
    from hea_fast.phase.model import feature_matrix

    def V(frame):
        base = feature_matrix(frame[els], est.descriptors_, est.elements_, threads=1, errors="nan")[0]
        fd = len(est.descriptors_)
        ex = extra_features(frame[els].to_numpy(np.float64), els)
        return np.hstack([base[:, :fd], ex, base[:, fd:]]), fd + ex.shape[1]

    Vtr, fd = V(fold.train)
    Vte, _ = V(fold.test)
    y, groups = fold.train["single_phase"].to_numpy(), fold.train["system"].to_numpy()
    cv = GroupKFold(n_splits=3, shuffle=True, random_state=seed)
    lin = GridSearchCV(est._linear(), {"clf__C": list(LIN_C_GRID)}, scoring="neg_log_loss", cv=cv).fit(Vtr, y,
                                                                                                          groups=groups)
    tre = GridSearchCV(est._trees(), {k: list(v) for k, v in TREE_GRID.items()}, scoring="neg_log_loss",
                       cv=cv).fit(Vtr[:, :fd], y, groups=groups)
    return 0.5 * lin.predict_proba(Vte)[:, 1] + 0.5 * tre.predict_proba(Vte[:, :fd])[:, 1]


def run(log_path: Path) -> dict:
    """{(held-out source, attempt): record}, computing the folds missing from the log."""
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds

    data = harmonised_phase_data()
    done = {}
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            done[(r["fold"], r["attempt"])] = r
    for fold in loso_folds(data):
        if all((fold.name, a) in done for a in ATTEMPTS + ("_reference",)):
            continue
        for a, (p, info) in fold_attempts(fold, list(loso_folds(training_sources(data, fold)))).items():
            done[(fold.name, a)] = {"fold": fold.name, "attempt": a, "info": info,
                                    "p": [round(float(v), 7) for v in p],
                                    "y": fold.test["single_phase"].astype(int).tolist(),
                                    "n": fold.test["n_elements"].astype(int).tolist(),
                                    "system": fold.test["system"].tolist()}
        # the whole log, one record per (fold, attempt): a fold recomputed for a new attempt replaces its records
        atomic_write(log_path, "".join(json.dumps(r, default=float) + "\n" for r in done.values()))
        print(f"{fold.name}: done", file=sys.stderr, flush=True)
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args(argv)
    from sklearn.metrics import roc_auc_score

    out = Path(args.out)
    done = run(out / "attempts.jsonl")
    folds = sorted({k[0] for k in done})
    default = loso_predictions(out / "results.jsonl")
    rows, means, choices = [], [], {}
    for a in ("_reference",) + ATTEMPTS:
        recs = [done[(f, a)] for f in folds]
        y = np.concatenate([r["y"] for r in recs])
        p = np.concatenate([r["p"] for r in recs])
        n = np.concatenate([r["n"] for r in recs])
        g = np.concatenate([r["system"] for r in recs])
        name = "default (refitted here)" if a == "_reference" else a
        rows.append(metric_row("all", name, y, p, g, args.n_boot))
        rows.append(metric_row(">= 3 elements", name, y[n >= 3], p[n >= 3], g[n >= 3], args.n_boot))
        means.append({"attempt": name,
                      "mean_auc": float(np.mean([roc_auc_score(r["y"], r["p"]) for r in recs])),
                      "mean_log_loss": float(np.mean([log_loss(np.array(r["y"]), np.array(r["p"])) for r in recs]))})
        choices[name] = {f: done[(f, a)]["info"] for f in folds}
    # not a method: every held-out binary set to p = 0.5 (abstention), to show what the binaries cost
    recs = [done[(f, "_reference")] for f in folds]
    y = np.concatenate([r["y"] for r in recs])
    n = np.concatenate([r["n"] for r in recs])
    p = np.where(n == 2, 0.5, np.concatenate([r["p"] for r in recs]))
    rows.append(metric_row("all", "oracle: default with every binary at p = 0.5 (abstention, not a method)", y, p,
                           np.concatenate([r["system"] for r in recs]), args.n_boot))
    per_source_auc = {a: {f: float(roc_auc_score(done[(f, a)]["y"], done[(f, a)]["p"])) for f in folds}
                      for a in ("_reference",) + ATTEMPTS}
    ref_dev = max(float(np.max(np.abs(np.asarray(done[(f, "_reference")]["p"]) - default[(f, "ensemble")])))
                  for f in folds)
    res = {"command": "python benchmarks/papers/phase_validation/calibration_attempts.py", "n_boot": args.n_boot,
           "bootstrap": "percentile, clusters = alloy systems, seed 0", "rows": rows, "means": means,
           "choices": choices, "per_source_auc": per_source_auc, "max_abs_difference_reference_vs_results_jsonl": ref_dev}
    atomic_write_json(out / "attempts.json", res, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    md = markdown(rows, means, choices, ref_dev, per_source_auc)
    atomic_write(out / "attempts.md", md)
    print(md)
    return 0


def markdown(rows, means, choices, ref_dev, per_source_auc) -> str:
    def f(r, k):
        return f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]"

    out = ["# Attempts to close the out-of-source calibration gap (leave one source out)", "",
           "Made by `calibration_attempts.py` (see its docstring); value [95 % cluster-bootstrap interval]. "
           f"The refitted default equals the `ensemble` records of results.jsonl to {ref_dev:.1e}.", "",
           "| slice | model | n | accuracy | auc | log_loss | ece |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['slice']} | {r['model']} | {r['n']} | {f(r, 'accuracy')} | {f(r, 'auc')} | "
                   f"{f(r, 'log_loss')} | {f(r, 'ece')} |")
    out += ["", "Means over the six held-out sources (the selection rule of the default):", "",
            "| model | mean AUC | mean log-loss |", "|---|---|---|"]
    out += [f"| {m['attempt']} | {m['mean_auc']:.4f} | {m['mean_log_loss']:.4f} |" for m in means]
    folds = list(next(iter(per_source_auc.values())))
    out += ["", "AUC per held-out source:", "", "| model | " + " | ".join(folds) + " |",
            "|---|" + "---|" * len(folds)]
    out += [f"| {'default (refitted here)' if a == '_reference' else a} | " + " | ".join(f"{v[f]:.4f}" for f in folds)
            + " |" for a, v in per_source_auc.items()]
    out += ["", "What each attempt chose inside the outer training folds:", ""]
    for name, per in choices.items():
        if any(per.values()):
            out.append(f"- {name}: " + "; ".join(f"{fold} {json.dumps(v, default=float)}" for fold, v in per.items()))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
