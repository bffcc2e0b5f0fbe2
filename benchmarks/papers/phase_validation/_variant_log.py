"""Shared by the variant studies of this folder (`teacher_variants.py`, `soft_label_teacher.py`,
`distillation_variants.py`, `student_capacity.py`, `ood_tempering.py`, `calibration_attempts.py`,
`source_marginal.py`): their resume logs (one JSON record per leave-one-source-out fold and variant,
`run_folds`), the training sources of an outer fold for nested choices (`training_sources`) and the LOSO
summary table they print; and by the studies of stored predictions (`calibration_by_size.py`,
`novel_vs_recorded.py`): a model's pooled held-out rows (`pooled_loso`) and a metrics table row (`metrics_row`)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hea_fast._io import atomic_write


def log_loss(y, p) -> float:
    """Mean Bernoulli log-loss, p clipped to [1e-15, 1 - 1e-15]."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def ci(v: dict) -> str:
    """A metric of `hea_fast.validation.scores.metrics` ({"value", "lo", "hi"}) as a table cell "value [lo, hi]"."""
    from hea_fast.validation.report import ci_cell

    return ci_cell(v["value"], v["lo"], v["hi"])


def pooled_loso(data, log: Path, model: str):
    """(labels, predictions, n_elements, systems, sources) of `model`'s stored leave-one-source-out predictions
    in the results log `log`, the held-out sources in sorted order (`data`: `harmonised_phase_data()`)."""
    from domain_eval import loso_predictions

    stored = {fold: p for (fold, m), p in loso_predictions(log).items() if m == model}
    parts = []
    for held in sorted(stored):
        test = data[data["source"] == held]
        if len(test) != len(stored[held]):
            raise ValueError(f"{log}: {len(stored[held])} predictions for the {len(test)} rows of {held}")
        parts.append((test["single_phase"].to_numpy(float), stored[held], test["n_elements"].to_numpy(),
                      test["system"].to_numpy(), np.full(len(test), held)))
    return tuple(np.concatenate(a) for a in zip(*parts))


def metrics_row(name: str, y, p, groups, shown, cells=()) -> str:
    """A markdown row: name, n, the extra `cells`, then each metric of `shown` with its 95 % cluster-bootstrap
    interval (1,000 resamples of `groups`, seed 0)."""
    from hea_fast.validation.scores import metrics

    r = metrics(y, p, n_boot=1000, seed=0, groups=groups)
    return "| " + " | ".join([name, f"{len(y):,}", *cells, *(ci(r[k]) for k in shown)]) + " |"


def read_log(path: Path) -> dict:
    """{(fold, variant): record} of a resume log (empty when it does not exist yet)."""
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            done[(r["fold"], r["variant"])] = r
    return done


def write_log(path: Path, done: dict) -> None:
    """The whole log, one record per (fold, variant), written atomically."""
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in done.values()))


def fold_record(fold, variant: str, p, info: dict) -> dict:
    """A log record: the held-out probabilities (rounded to 1e-7), labels and element counts of the fold."""
    return {"fold": fold.name, "variant": variant, "info": info, "p": [round(float(x), 7) for x in p],
            "y": fold.test["single_phase"].astype(int).tolist(), "n": fold.test["n_elements"].astype(int).tolist()}


def run_folds(log: Path, folds, variants, compute) -> dict:
    """{(fold, variant): record} of the resume log `log`, completed fold by fold: compute(fold, todo) returns
    {variant: (held-out p, info)} for the variants `todo` the log lacks; each fold is written (atomically)
    as soon as it is done, so an interrupted run resumes."""
    done = read_log(log)
    for fold in folds:
        todo = [v for v in variants if (fold.name, v) not in done]
        if not todo:
            continue
        t0 = time.time()
        for v, (p, info) in compute(fold, todo).items():
            done[(fold.name, v)] = fold_record(fold, v, p, info)
        write_log(log, done)
        print(f"{fold.name}: done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return done


def training_sources(data, fold):
    """The harmonised rows of the sources an outer leave-one-source-out `fold` trains on, minus every
    composition of its held-out source (what `loso_folds` pools), for inner leave-one-source-out choices."""
    inner = data[(data["source"] != fold.name) & ~data["key"].isin(set(fold.test["key"]))].reset_index(drop=True)
    inner.attrs = data.attrs
    return inner


def largest_difference(done: dict, folds, variant: str, stored: dict, model: str) -> float:
    """Largest |p| difference between `variant`'s records and `model`'s stored LOSO predictions."""
    return max(float(np.max(np.abs(np.asarray(done[(f.name, variant)]["p"]) - stored[(f.name, model)])))
               for f in folds)


def source_means(done: dict, names, variant: str) -> tuple[float, float]:
    """(mean AUC, mean log-loss) of `variant`'s records over the held-out sources `names`, each weighing the same."""
    from sklearn.metrics import roc_auc_score

    recs = [done[(n, variant)] for n in names]
    return (float(np.mean([roc_auc_score(r["y"], r["p"]) for r in recs])),
            float(np.mean([log_loss(np.asarray(r["y"]), r["p"]) for r in recs])))


def summary_table(done: dict, names, variants) -> list:
    """Markdown lines: per variant the mean over the held-out sources `names` of AUC and log-loss, the
    pooled ECE (all rows, >= 3 elements), the pooled accuracy and the AUC of each source."""
    from sklearn.metrics import roc_auc_score

    from hea_fast.validation.scores import metrics

    lines = ["| variant | mean AUC | mean log-loss | pooled ECE | pooled ECE, >= 3 elements | pooled accuracy | "
             + " | ".join(f"AUC {n}" for n in names) + " |", "|---" * (6 + len(names)) + "|"]
    for v in variants:
        recs = [done[(n, v)] for n in names]
        auc = [roc_auc_score(r["y"], r["p"]) for r in recs]
        ll = [log_loss(np.asarray(r["y"]), r["p"]) for r in recs]
        y = np.concatenate([r["y"] for r in recs])
        p = np.concatenate([r["p"] for r in recs])
        n = np.concatenate([r["n"] for r in recs])
        m, m3 = metrics(y, p, n_boot=0, seed=0), metrics(y[n >= 3], p[n >= 3], n_boot=0, seed=0)
        lines.append(f"| {v} | {np.mean(auc):.4f} | {np.mean(ll):.4f} | {m['ece']['value']:.4f} | "
                     f"{m3['ece']['value']:.4f} | {m['accuracy']['value']:.4f} | "
                     + " | ".join(f"{a:.3f}" for a in auc) + " |")
    return lines
