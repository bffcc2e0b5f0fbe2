"""Known alloys: blend the model with the training records' single-phase fraction? (issue #15, exploratory)

An independent compilation reports many alloys the training sources already report. For those the model
answers from memory (it was fitted to them); the records themselves are a second answer (the fraction of
the training records calling the alloy single phase, `label_agreement.py`). This measures, leave one
source out, on the held-out rows that another source also reports:

- ``model``: the default recipe (`ensemble_forest_soft`) fitted on the other sources *with* those
  compositions (memory, unlike the protocol, which removes them);
- ``records``: the other sources' single-phase records / records for the composition;
- ``blend``: (1 − w) · model + w · records, w chosen by an **inner** leave-one-source-out over the outer
  training sources (the same construction one level down: the inner model fitted on the remaining
  sources with memory, the inner records from them), by pooled inner log-loss, among w ∈ {0, 0.25, 0.5,
  0.75, 1} and w = n / (n + κ) with n the composition's training records, κ ∈ {1, 3, 10, 30}. So the
  blend's outer numbers are nested estimates; the fixed-w rows beside them are not (shown for scale).

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/papers/phase_validation/memory_blend.py [--jobs 2]

Fits go to memory_blend.jsonl (resumable: one record per (outer, inner) fit with its predictions on the
shared rows); writes memory_blend.json / .md next to this script (atomically).
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import ci  # noqa: E402  (same folder)

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = "ensemble_forest_soft"  # --model: the default until 2026-12-07 17:00 UTC; the runs without --model
FIXED = (0.0, 0.25, 0.5, 0.75, 1.0)
KAPPAS = (1.0, 3.0, 10.0, 30.0)
SHOWN = ("accuracy", "auc", "log_loss", "brier", "ece")


def _fit_predict(args):
    """One fit: the model on the pooled `train_sources` (memory kept), predictions and records for the rows
    of `held` that the training sources also report."""
    held, train_sources, tol, model = args
    from hea_fast.phase.records import RecordTable
    from hea_fast.validation import element_columns, harmonised_phase_data, pool
    from hea_fast.validation.models import MODELS, fit_model, label_fractions, make_model

    data = harmonised_phase_data()
    els = element_columns(data)
    test = data[data["source"] == held].reset_index(drop=True)
    other = data[data["source"].isin(train_sources)]
    if tol > 0:  # every recorded composition within tol, summed (what PhaseModel.predict_frame does)
        n_rec, n_one = RecordTable.from_frame(other).records_for(test[els].to_numpy(), els, tol)
        n_rec, n_one = np.where(n_rec > 0, n_rec, np.nan), n_one.astype(float)
    else:  # the same key (fractions rounded to 1e-3)
        g = other.groupby("key")
        n_rec = test["key"].map(g["n_records"].sum()).to_numpy(float)
        n_one = test["key"].map(g["n_single"].sum()).to_numpy(float)
    shared = np.isfinite(n_rec)
    train = other.reset_index(drop=True) if MODELS[model].per_source else pool(other)  # per source: one row each
    train.attrs["elements"] = els
    est = make_model(model, seed=0)
    fit_model(est, train[els], train["single_phase"].to_numpy(), train["system"].to_numpy(), label_fractions(train))
    test = test[shared].reset_index(drop=True)
    p = est.predict_proba(test[els])[:, 1]
    rec = n_one[shared] / n_rec[shared]
    return {"held": held, "train": sorted(train_sources), "y": test["single_phase"].astype(int).tolist(),
            "system": test["system"].tolist(), "model": [round(float(v), 7) for v in p],
            "records": [round(float(v), 7) for v in rec], "n_records": n_rec[shared].astype(int).tolist()}


def _blend(rec: dict, how) -> np.ndarray:
    m, r, n = np.asarray(rec["model"]), np.asarray(rec["records"]), np.asarray(rec["n_records"], float)
    w = how[1] if how[0] == "w" else n / (n + how[1])
    return (1 - w) * m + w * r


CANDIDATES = [("w", w) for w in FIXED] + [("kappa", k) for k in KAPPAS]


def _log_loss(y, p) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    y = np.asarray(y, float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--match-tol", type=float, default=0.0,
                    help="0 (default): a held-out row's records are those of its key; > 0 (0.001 is what "
                    "PhaseModel.predict_frame does): of every recorded composition within it, summed; "
                    "log and outputs memory_blend_tol.* (memory_blend_tol<T>.* for another T)")
    ap.add_argument("--model", default=MODEL,
                    help="the model blended (default %(default)s, the stored runs; ensemble_forest_sources, the "
                    "default since 2026-12-07 17:00 UTC, writes memory_blend*_sources.*)")
    args = ap.parse_args(argv)
    stem = ("memory_blend" if args.match_tol <= 0 else "memory_blend_tol" if args.match_tol == 0.001
            else f"memory_blend_tol{args.match_tol:g}")
    if args.model != MODEL:
        stem += "_sources" if args.model == "ensemble_forest_sources" else f"_{args.model}"
    log = HERE / f"{stem}.jsonl"
    from hea_fast.validation import DEFAULT_SOURCES, metrics, paired_difference

    sources = list(DEFAULT_SOURCES)
    done = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done[(r["held"], tuple(r["train"]))] = r
    todo = []
    for outer in sources:
        rest = [s for s in sources if s != outer]
        todo.append((outer, tuple(sorted(rest))))
        for inner in rest:
            todo.append((inner, tuple(sorted(s for s in rest if s != inner))))
    todo = [t + (args.match_tol, args.model) for t in todo if t not in done]
    with ProcessPoolExecutor(max_workers=args.jobs) as ex, open(log, "a", encoding="utf-8") as fh:
        for rec in ex.map(_fit_predict, todo):
            done[(rec["held"], tuple(rec["train"]))] = rec
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(f"fit: {rec['held']} from {', '.join(rec['train'])}: {len(rec['y'])} shared rows", flush=True)
    chosen, pooled = {}, {"y": [], "system": [], "model": [], "records": [], "blend": []}
    fixed = {c: [] for c in CANDIDATES}
    for outer in sources:
        rest = [s for s in sources if s != outer]
        inner_recs = [done[(inner, tuple(sorted(s for s in rest if s != inner)))] for inner in rest]
        y_in = np.concatenate([r["y"] for r in inner_recs])
        losses = {c: _log_loss(y_in, np.concatenate([_blend(r, c) for r in inner_recs])) for c in CANDIDATES}
        best = min(CANDIDATES, key=lambda c: losses[c])
        chosen[outer] = {"choice": list(best), "inner_log_loss": {f"{k}={v:g}": round(x, 4) for (k, v), x in losses.items()}}
        rec = done[(outer, tuple(sorted(rest)))]
        pooled["y"] += rec["y"]
        pooled["system"] += rec["system"]
        pooled["model"] += rec["model"]
        pooled["records"] += rec["records"]
        pooled["blend"] += _blend(rec, best).tolist()
        for c in CANDIDATES:
            fixed[c] += _blend(rec, c).tolist()
    y, groups = np.asarray(pooled["y"]), np.asarray(pooled["system"])
    table = {}
    for name in ("model", "records", "blend"):
        m = metrics(y, np.asarray(pooled[name]), n_boot=1000, seed=0, groups=groups)
        table[name] = {"n": m["n"], **{k: m[k] for k in SHOWN}}
    fixed_table = {f"{k}={v:g}": {k2: round(v2, 4) for k2, v2 in zip(
        ("accuracy", "auc", "log_loss"), (float(((np.asarray(p) >= 0.5) == y).mean()),
                                          *_auc_ll(y, np.asarray(p))))} for (k, v), p in fixed.items()}
    diffs = {name: paired_difference(y, np.asarray(pooled["model"]), np.asarray(pooled[name]), n_boot=1000, seed=0,
                                     groups=groups) for name in ("records", "blend")}
    result = {"model": args.model, "table": table, "chosen": chosen, "fixed_not_nested": fixed_table,
              "paired_minus_model": {n: {k: d[k] for k in SHOWN} for n, d in diffs.items()},
              "command": "HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. python "
                         "benchmarks/papers/phase_validation/memory_blend.py"
                         + (f" --match-tol {args.match_tol:g}" if args.match_tol > 0 else "")
                         + (f" --model {args.model}" if args.model != MODEL else ""),
              "match": (f"records of every composition the training sources report within {args.match_tol:g} "
                        "(largest |Δ fraction|, same element set), summed" if args.match_tol > 0 else
                        "records of the same key (fractions rounded to 1e-3)")}
    atomic_write_json(HERE / f"{stem}.json", result, strict=True)
    atomic_write(HERE / f"{stem}.md", markdown(result))
    print(markdown(result))
    return 0


def _auc_ll(y, p):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)), _log_loss(y, p)


def markdown(r: dict) -> str:
    out = ["# Known alloys: the model with memory, the training records, and their blend (`memory_blend.py`)", "",
           f"Leave one source out; the held-out rows that another source also reports. `model`: `{r['model']}` "
           "fitted on the other sources *with* these compositions; `records`: the other sources' single-phase "
           "records / records; `blend`: (1 − w)·model + w·records with w chosen by an inner leave-one-source-out "
           "(nested). Value [95 % cluster bootstrap by alloy system].", "",
           f"A held-out row is shared, and its records counted, by: {r.get('match', 'key')}.", "",
           "| predictor | n | " + " | ".join(SHOWN) + " |", "|---|---|" + "---|" * len(SHOWN)]
    for name, t in r["table"].items():
        out.append(f"| {name} | {t['n']} | " + " | ".join(ci(t[k]) for k in SHOWN) + " |")
    out += ["", "Paired difference to `model` (same resamples):", "", "| predictor | " + " | ".join(SHOWN) + " |",
            "|---|" + "---|" * len(SHOWN)]
    for name, d in r["paired_minus_model"].items():
        out.append(f"| {name} | " + " | ".join(f"{d[k]['value']:+.3f} [{d[k]['lo']:+.3f}, {d[k]['hi']:+.3f}]"
                                             for k in SHOWN) + " |")
    out += ["", "Chosen inside each outer training fold (inner pooled log-loss):", ""]
    for s, c in r["chosen"].items():
        out.append(f"- {s}: {c['choice'][0]} = {c['choice'][1]:g}")
    out += ["", "Every candidate applied to the outer rows (not nested: for scale only):", "",
            "| candidate | accuracy | AUC | log-loss |", "|---|---|---|---|"]
    for c, t in r["fixed_not_nested"].items():
        out.append(f"| {c} | {t['accuracy']:.4f} | {t['auc']:.4f} | {t['log_loss']:.4f} |")
    out += ["", f"Reproduce: `{r['command']}`", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
