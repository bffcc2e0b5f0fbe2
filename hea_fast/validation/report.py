"""`validate_phase`: the whole cross-source phase validation, written to one folder.

Outputs (all written atomically): ``results.jsonl`` (one record per finished protocol × fold ×
model with its test predictions; the resume log), ``results.json`` (settings, data summary with the
per-source label mapping and the conflict rule, the score table with bootstrap CIs, per-fold
selected hyperparameters and times, wall time), ``table.md`` (the score table in Markdown) and
``reliability_<protocol>.png``.
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from hea_fast._io import atomic_write, atomic_write_json
from hea_fast.validation.data import DEFAULT_SOURCES, harmonised_phase_data, pool
from hea_fast.validation.protocols import PROTOCOLS, ResultsLog, compare_to_best, evaluate, folds, run
from hea_fast.validation.scores import LOWER_IS_BETTER, METRICS

__all__ = ["validate_phase", "markdown_table", "paired_table", "data_summary", "winners"]

_PROTO_TITLE = {"loso": "leave one source out", "grouped": "grouped K-fold by alloy system",
                "random": "random stratified K-fold (optimistic reference)"}


def data_summary(data: pd.DataFrame) -> dict:
    """Per-source counts, the label mapping, the conflict rule and the pooled size."""
    pooled = pool(data, data.attrs.get("conflict", "majority"))
    per = {}
    for s, g in data.groupby("source", sort=False):
        st = dict(data.attrs.get("stats", {}).get(s, {}))
        st.update(kept=int(len(g)), single_phase=int(g["single_phase"].sum()),
                  single_fraction=round(float(g["single_phase"].mean()), 4), systems=int(g["system"].nunique()))
        per[s] = st
    keys = data.groupby("key")["single_phase"].agg(["nunique", "size"])
    shared = keys[keys["size"] > 1]
    return {
        "sources": per,
        "mapping": data.attrs.get("mapping", {}),
        "conflict_rule": data.attrs.get("conflict", "majority"),
        "rows": int(len(data)),
        "pooled_compositions": int(len(pooled)),
        "pooled_single_phase": int(pooled["single_phase"].sum()),
        "pooled_systems": int(pooled["system"].nunique()),
        "compositions_in_several_sources": int(len(shared)),
        "cross_source_disagreements": int((shared["nunique"] > 1).sum()),
        "pooled_ties_dropped": int(data["key"].nunique() - len(pooled)),
        "unsupported_reasons": list(data.attrs.get("drop_reasons", []))[:50],
        "elements": list(data.attrs.get("elements", [])),
    }


def ci_cell(v, lo, hi) -> str:
    """A table cell "value [lo, hi]" (3 decimals; the value alone without an interval, – without a value)."""
    if not np.isfinite(v):
        return "–"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else f"{v:.3f}"


def _fmt(row, m):
    return ci_cell(row[m], row[f"{m}_lo"], row[f"{m}_hi"])


def markdown_table(table: pd.DataFrame, protocol: str, subset: str = "all") -> str:
    """One Markdown table (models × metrics, value [CI]) for a protocol and subset."""
    sub = table[(table["protocol"] == protocol) & (table["subset"] == subset)]
    head = "| model | n | " + " | ".join(METRICS) + " |\n|---|---|" + "---|" * len(METRICS) + "\n"
    lines = [f"| {r['model']} | {r['n']} | " + " | ".join(_fmt(r, m) for m in METRICS) + " |"
             for _, r in sub.iterrows()]
    return head + "\n".join(lines) + "\n"


def paired_table(paired: pd.DataFrame, protocol: str, subset: str = "all",
                 shown: Sequence[str] = ("log_loss", "brier", "auc")) -> str:
    """Markdown: each model minus the best-by-log-loss model, paired bootstrap CI, for `shown`."""
    sub = paired[(paired["protocol"] == protocol) & (paired["subset"] == subset)]
    if sub.empty:
        return ""
    best = sub["best"].iloc[0]
    head = (f"Difference to the best model by log-loss (`{best}`), paired cluster bootstrap:\n\n| model | "
            + " | ".join(f"Δ {m}" for m in shown) + " |\n|---|" + "---|" * len(shown) + "\n")
    lines = []
    for _, r in sub.iterrows():
        if r["model"] == best:
            continue
        cells = [f"{r[f'd_{m}']:+.3f} [{r[f'd_{m}_lo']:+.3f}, {r[f'd_{m}_hi']:+.3f}]" if np.isfinite(r[f"d_{m}"]) else "–"
                 for m in shown]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def winners(table: pd.DataFrame, metric: str = "log_loss") -> dict:
    """Best model per (protocol, subset) by `metric` (the reference "prior" included)."""
    out = {}
    for (proto, subset), g in table.groupby(["protocol", "subset"], sort=False):
        g = g[np.isfinite(g[metric])]
        if g.empty:
            continue
        best = g.loc[g[metric].idxmin() if metric in LOWER_IS_BETTER else g[metric].idxmax()]
        out[f"{proto}/{subset}"] = {"model": best["model"], metric: float(best[metric])}
    return out


def validate_phase(out_dir, models: Sequence = None, protocols: Sequence[str] = ("loso", "grouped", "random"),
                   k: int = 5, seed: int = 0, n_boot: int = 1000, sources: Sequence[str] = DEFAULT_SOURCES,
                   conflict: str = "majority", plots: bool = True, command: str | None = None,
                   progress: Callable[[str], None] | None = None, match_tol: float = 0.0) -> dict:
    """Run every protocol for every model, resuming from ``out_dir/results.jsonl``; write the outputs
    listed in the module docstring and return the results dict (also ``results.json``)."""
    from hea_fast.validation.models import DEFAULT_MODELS, MODELS

    models = list(DEFAULT_MODELS if models is None else models)
    for what, given, known in (("model", models, tuple(MODELS)), ("protocol", protocols, PROTOCOLS),
                               ("source", sources, DEFAULT_SOURCES)):
        if not len(given):
            raise ValueError(f"no {what} given; name at least one of {', '.join(known)}")
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad:
        raise ValueError(f"unknown protocol(s) {bad}; known: {PROTOCOLS}")
    out = Path(out_dir)
    t0 = time.perf_counter()
    data = harmonised_phase_data(sources, conflict=conflict)
    out.mkdir(parents=True, exist_ok=True)  # only once the data loaded: a failed run leaves no folder
    log = ResultsLog(out / "results.jsonl")
    preds = []
    for proto in protocols:
        preds.append(run(models, folds(data, proto, k=k, seed=seed, conflict=conflict, match_tol=match_tol),
                         seed=seed, log=log, progress=progress))
    predictions = pd.concat(preds, ignore_index=True)
    table = evaluate(predictions, n_boot=n_boot, seed=seed)
    paired = compare_to_best(predictions, table, "log_loss", n_boot=n_boot, seed=seed)
    figures = []
    if plots:
        try:
            import matplotlib  # noqa: F401  (optional dependency: the [plots] extra)
        except ImportError:
            plots = False
            if progress:
                progress("matplotlib is not installed (pip install hea_fast[plots]): no reliability PNGs")
    if plots:
        for proto in protocols:
            figures.append(str((out / f"reliability_{proto}.png").name))
            from hea_fast.validation.plots import reliability_figure

            reliability_figure(predictions, proto, out / f"reliability_{proto}.png",
                               title=f"{_PROTO_TITLE[proto]}: pooled test predictions")
    fold_info = [{k_: r[k_] for k_ in ("protocol", "fold", "model", "n_train", "n_test", "fit_seconds", "params")}
                 for r in log.records]
    wall = time.perf_counter() - t0
    fit_total = float(sum(r["fit_seconds"] + r.get("predict_seconds", 0.0) for r in log.records))
    results = {
        "settings": {"models": models, "model_descriptions": {m: MODELS[m].description for m in models if m in MODELS},
                     "protocols": list(protocols), "k": int(k), "seed": int(seed), "n_boot": int(n_boot),
                     "bootstrap": "percentile, clusters = alloy systems", "ci": 0.95,
                     "sources": list(sources), "conflict": conflict, "match_tol": match_tol, "command": command},
        "data": data_summary(data),
        "table": table.to_dict(orient="records"),
        "paired_vs_best_log_loss": paired.to_dict(orient="records"),
        "winners_log_loss": winners(table, "log_loss"),
        "winners_auc": winners(table, "auc"),
        "folds": fold_info,
        "timing": {"wall_seconds_this_call": round(wall, 1), "fit_predict_seconds_all_folds": round(fit_total, 1)},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count()},
        "figures": figures,
    }
    atomic_write_json(out / "results.json", results, indent=1)
    md = []
    for proto in protocols:
        md.append(f"## {_PROTO_TITLE[proto]} (`{proto}`), all test rows\n\n" + markdown_table(table, proto)
                  + "\n" + paired_table(paired, proto))
        if proto == "loso":
            for s in sorted(set(table[(table["protocol"] == "loso")]["subset"]) - {"all"}):
                md.append(f"### held-out source `{s}`\n\n" + markdown_table(table, proto, s)
                          + "\n" + paired_table(paired, proto, s))
    atomic_write(out / "table.md", "\n".join(md))
    return results
