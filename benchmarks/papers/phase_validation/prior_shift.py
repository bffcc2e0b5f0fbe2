"""Can a probability map close the default's out-of-source calibration gap? (issue #15, ECE <= 0.05)

Reads the default model's leave-one-source-out held-out predictions from results.jsonl (nothing is
refitted) and scores them after maps of three kinds:

* a **method** that needs no held-out labels: label-shift adaptation by EM (Saerens, Latinne &
  Decaestecker 2002, Neural Computation 14:21): per held-out source, the single-phase rate is
  re-estimated from the model's own predictions on that source, starting from the training fold's
  rate (mean soft label), and the predictions are reweighted by the ratio of the rates;
* **oracles** fitted on the held-out labels themselves (upper bounds of what any recalibration of
  this kind could reach, not methods): the prior correction with the held-out source's true
  single-phase rate; one Platt map (a * logit p + b) fitted on the pooled held-out rows; a logit shift
  b alone; a Platt map fitted per held-out source on its own rows;
* the model as reported.

ECE is `hea_fast.validation.scores.expected_calibration_error` (10 equal-width bins), the table's
definition. This is an analysis of a target the default misses; nothing here changes a model.

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/prior_shift.py

Writes prior_shift.json and prior_shift.md next to this script (atomically; seconds).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _variant_log import log_loss  # noqa: E402
from domain_eval import DEFAULT, loso_predictions  # noqa: E402

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402


def prior_correct(p, pi_train: float, pi_new: float):
    """Bayes' rule for a change of class prior (Saerens et al. 2002, eq. 2.4)."""
    w1, w0 = pi_new / pi_train, (1 - pi_new) / (1 - pi_train)
    return w1 * p / (w1 * p + w0 * (1 - p))


def em_prior(p, pi_train: float, max_iter: int = 1000, tol: float = 1e-10):
    """The EM estimate of the new prior from unlabelled predictions `p` (Saerens et al. 2002, §2.2)
    and the corrected predictions: (q, pi)."""
    pi = pi_train
    for _ in range(max_iter):
        q = prior_correct(p, pi_train, pi)
        new = float(q.mean())
        if abs(new - pi) < tol:
            pi = new
            break
        pi = new
    return prior_correct(p, pi_train, pi), pi


def fit_shift(y, p) -> float:
    """b minimising the log-loss of expit(logit p + b) (a Platt map with a = 1; the full map is
    `hea_fast.phase.estimator.fit_platt`)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, logit

    z = logit(np.clip(p, 1e-12, 1 - 1e-12))
    return float(minimize_scalar(lambda b: log_loss(y, expit(z + b)), bracket=(-1.0, 1.0)).x)


def main(argv=None) -> int:
    from sklearn.metrics import roc_auc_score

    from hea_fast.phase.estimator import apply_platt, fit_platt
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import loso_folds
    from hea_fast.validation.scores import expected_calibration_error as ece

    data = harmonised_phase_data()
    recs = loso_predictions(HERE / "results.jsonl")
    folds = list(loso_folds(data))
    y = {f.name: f.test["single_phase"].to_numpy(np.float64) for f in folds}
    p = {f.name: recs[(f.name, DEFAULT)] for f in folds}
    pi_tr = {f.name: float((f.train["n_single"] / f.train["n_records"]).mean()) for f in folds}
    names = [f.name for f in folds]
    Y, P = np.concatenate([y[n] for n in names]), np.concatenate([p[n] for n in names])

    variants, info = {"as reported": dict(p)}, {}
    em = {n: em_prior(p[n], pi_tr[n]) for n in names}
    variants["EM label-shift adaptation (method)"] = {n: em[n][0] for n in names}
    info["EM estimated single-phase rate"] = {n: round(em[n][1], 3) for n in names}
    info["true single-phase rate"] = {n: round(float(y[n].mean()), 3) for n in names}
    info["training-fold rate"] = {n: round(pi_tr[n], 3) for n in names}
    variants["oracle: prior correction with the true rate"] = {
        n: prior_correct(p[n], pi_tr[n], float(y[n].mean())) for n in names}
    a, b = fit_platt(P, Y)
    info["oracle pooled Platt (a, b)"] = [round(a, 4), round(b, 4)]
    variants["oracle: one Platt map on the pooled held-out rows"] = {n: apply_platt(p[n], a, b) for n in names}
    shift = fit_shift(Y, P)
    info["oracle pooled logit shift b"] = round(shift, 4)
    variants["oracle: one logit shift on the pooled held-out rows"] = {n: apply_platt(p[n], 1.0, shift) for n in names}
    per = {n: fit_platt(p[n], y[n]) for n in names}
    info["oracle per-source Platt (a, b)"] = {n: [round(v, 3) for v in per[n]] for n in names}
    variants["oracle: a Platt map per held-out source"] = {n: apply_platt(p[n], *per[n]) for n in names}

    rows = []
    for name, q in variants.items():
        Q = np.concatenate([q[n] for n in names])
        rows.append({
            "variant": name, "pooled ECE": ece(Y, Q), "pooled log-loss": log_loss(Y, Q),
            "pooled AUC": float(roc_auc_score(Y, Q)),
            "mean ECE over sources": float(np.mean([ece(y[n], q[n]) for n in names])),
            "mean log-loss over sources": float(np.mean([log_loss(y[n], q[n]) for n in names])),
            **{f"ECE {n}": ece(y[n], q[n]) for n in names}})
    atomic_write_json(HERE / "prior_shift.json", {"model": DEFAULT, "rows": rows, "info": info})
    cols = list(rows[0])
    md = ["# Probability maps against the out-of-source calibration gap (`prior_shift.py`)\n",
          f"Default model `{DEFAULT}`, leave one source out, stored predictions (results.jsonl). "
          "Oracles are fitted on the held-out labels: bounds, not methods.\n",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join([r["variant"]] + [f"{r[c]:.4f}" for c in cols[1:]]) + " |" for r in rows]
    md += [""] + [f"- {k}: {v}" for k, v in info.items()]
    atomic_write(HERE / "prior_shift.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
