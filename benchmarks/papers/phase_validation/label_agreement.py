"""How well do the published sources predict *each other*? A ceiling for any phase model (issue #15).

Leave one source out, as the protocol does. A held-out composition that another source also reports
is removed from training (that is the protocol's rule), but the other sources' labels for it are the
best prediction anyone could make from the literature: the same composition, a different paper or
compilation. This script scores that prediction on the held-out rows that have one:

- ``literature``: p = the fraction of the *other* sources that label the composition single phase
  (each source one vote, its own majority label, as in `hea_fast.validation.pool`); a tie (p = 0.5)
  counts as predicted single phase, like any p >= 0.5, and the ties are counted in the table;
- ``default``: the bundled default model's out-of-source prediction for the same rows
  (`ensemble_forest_soft`, read from results.jsonl: fitted without these compositions).

Accuracy and AUC of ``literature`` bound what a new compilation's labels allow: when sources that
report the very same composition agree on 80 % of them, a model cannot be expected to reach much
more on a source it has not seen. Log-loss, Brier and ECE of a vote of one or two sources (p in
{0, 0.5, 1} mostly) are not meaningful and are left out. The intervals are cluster bootstraps by
alloy system (1,000 resamples, seed 0); the paired difference scores both on the same resamples.

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/label_agreement.py

Writes label_agreement.json / .md next to this script (atomically). Reads only; fits nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import ci  # noqa: E402  (same folder)
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT = "ensemble_forest_soft"
SHOWN = ("accuracy", "balanced_accuracy", "auc")


def other_votes(data: pd.DataFrame, source: str, keys: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per key of `keys`: (number of other sources reporting it, fraction of them saying single phase,
    fraction of their records saying single phase)."""
    others = data[data["source"] != source]
    g = others.groupby("key")
    n = keys.map(g.size()).fillna(0).to_numpy(np.int64)
    q = keys.map(g["single_phase"].mean()).to_numpy(float)
    r = (keys.map(g["n_single"].sum()) / keys.map(g["n_records"].sum())).to_numpy(float)
    return n, q, r


def main() -> None:
    from hea_fast.validation import harmonised_phase_data, loso_folds, metrics, paired_difference

    data = harmonised_phase_data()
    stored = {fold: p for (fold, model), p in loso_predictions(HERE / "results.jsonl").items() if model == DEFAULT}
    rows, parts = [], []
    for fold in loso_folds(data):
        test = fold.test
        p_model = stored[fold.name]
        if len(p_model) != len(test):
            raise SystemExit(f"{fold.name}: {len(p_model)} stored predictions for {len(test)} held-out rows")
        n_other, q, q_rec = other_votes(data, fold.name, test["key"])
        shared = n_other > 0
        y = test["single_phase"].to_numpy(np.int64)[shared]
        part = pd.DataFrame({"source": fold.name, "system": test["system"].to_numpy()[shared], "y": y,
                             "literature": q[shared], "records": q_rec[shared], "default": p_model[shared],
                             "n_other": n_other[shared]})
        parts.append(part)
        rows.append({"held_out": fold.name, "test_rows": int(len(test)), "shared": int(shared.sum()),
                     "ties": int((part["literature"] == 0.5).sum()),
                     "single_phase_rate": float(y.mean()) if len(y) else float("nan")})
    allp = pd.concat(parts, ignore_index=True)
    table, diffs = [], []
    for name, sub in [("pooled", allp)] + [(s, allp[allp["source"] == s]) for s in allp["source"].unique()]:
        if sub["y"].nunique() < 2:
            continue
        for who in ("literature", DEFAULT):
            col = "literature" if who == "literature" else "default"
            m = metrics(sub["y"], sub[col], n_boot=1000, seed=0, groups=sub["system"])
            table.append({"held_out": name, "predictor": who, "n": m["n"],
                          **{k: m[k] for k in SHOWN + (("log_loss", "ece") if col == "default" else ())}})
        d = paired_difference(sub["y"], sub["literature"], sub["default"], n_boot=1000, seed=0, groups=sub["system"])
        diffs.append({"held_out": name, **{k: d[k] for k in SHOWN}})
    # the same comparison without the rows the other sources tie on (the literature has no answer there)
    clear = allp[allp["literature"] != 0.5]
    no_ties = {who: metrics(clear["y"], clear[col], n_boot=1000, seed=0, groups=clear["system"])
               for who, col in (("literature", "literature"), (DEFAULT, "default"))}
    no_ties = {who: {"n": m["n"], **{k: m[k] for k in SHOWN}} for who, m in no_ties.items()}
    # the literature by record fractions (each record one vote) instead of source votes: the soft labels
    m_rec = metrics(allp["y"], allp["records"], n_boot=1000, seed=0, groups=allp["system"])
    by_records = {"n": m_rec["n"], **{k: m_rec[k] for k in SHOWN}}
    # the default on every held-out row (not only the shared ones), for scale
    full = []
    for fold in loso_folds(data):
        full.append(pd.DataFrame({"y": fold.test["single_phase"].to_numpy(np.int64), "p": stored[fold.name],
                                  "system": fold.test["system"].to_numpy()}))
    f = pd.concat(full, ignore_index=True)
    m_all = metrics(f["y"], f["p"], n_boot=1000, seed=0, groups=f["system"])
    result = {"default_model": DEFAULT, "sources": rows, "table": table, "paired_default_minus_literature": diffs,
              "pooled_without_ties": no_ties, "pooled_literature_by_records": by_records,
              "default_all_held_out_rows": {"n": m_all["n"], **{k: m_all[k] for k in SHOWN + ("log_loss", "ece")}},
              "command": "HEA_FAST_DATA=../shared/data PYTHONPATH=. python "
                         "benchmarks/papers/phase_validation/label_agreement.py"}
    atomic_write_json(HERE / "label_agreement.json", result, strict=True)
    atomic_write(HERE / "label_agreement.md", markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    out = ["# Do the sources agree with each other? (`label_agreement.py`)", "",
           "Leave one source out. Held-out compositions that another source also reports (the protocol removes "
           "them from training): `literature` predicts each by the other sources' vote fraction, "
           f"`{r['default_model']}` (the default) by its stored out-of-source prediction. Value [95 % cluster "
           "bootstrap by alloy system].", "",
           "| held out | held-out rows | also in another source | ties among the others | single-phase rate |",
           "|---|---|---|---|---|"]
    for s in r["sources"]:
        out.append(f"| {s['held_out']} | {s['test_rows']} | {s['shared']} | {s['ties']} | "
                   f"{s['single_phase_rate']:.2f} |")
    out += ["", "| held out | predictor | n | accuracy | balanced accuracy | AUC | log-loss | ECE |",
            "|---|---|---|---|---|---|---|---|"]
    for t in r["table"]:
        extra = (f"{ci(t['log_loss'])} | {ci(t['ece'])}" if "log_loss" in t else "– | –")
        out.append(f"| {t['held_out']} | {t['predictor']} | {t['n']} | {ci(t['accuracy'])} | "
                   f"{ci(t['balanced_accuracy'])} | {ci(t['auc'])} | {extra} |")
    out += ["", "Paired difference, default − literature (same resamples; an interval without 0 is a difference "
            "on these rows):", "", "| held out | Δaccuracy | Δbalanced accuracy | ΔAUC |", "|---|---|---|---|"]
    for d in r["paired_default_minus_literature"]:
        out.append(f"| {d['held_out']} | " + " | ".join(
            f"{d[k]['value']:+.3f} [{d[k]['lo']:+.3f}, {d[k]['hi']:+.3f}]" for k in SHOWN) + " |")
    t = r["pooled_without_ties"]
    lit, dft = t["literature"], t[r["default_model"]]
    out += ["", f"Pooled without the {r['table'][0]['n'] - lit['n']} rows the other sources tie on ({lit['n']} rows): "
            f"literature accuracy {ci(lit['accuracy'])}, AUC {ci(lit['auc'])}; the default "
            f"{ci(dft['accuracy'])}, AUC {ci(dft['auc'])}."]
    b = r["pooled_literature_by_records"]
    out += ["", f"The literature by record fractions (single-phase records / records of the other sources, what the "
            f"default's forest is fitted to) instead of source votes, pooled: accuracy {ci(b['accuracy'])}, AUC "
            f"{ci(b['auc'])}."]
    a = r["default_all_held_out_rows"]
    out += ["", f"For scale, the default on all {a['n']} held-out rows: accuracy {ci(a['accuracy'])}, "
            f"AUC {ci(a['auc'])}, log-loss {ci(a['log_loss'])}, ECE {ci(a['ece'])}.", "",
            f"Reproduce: `{r['command']}`", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
