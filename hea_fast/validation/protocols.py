"""Validation protocols over the harmonised phase data, a resumable runner, and the score table.

Protocols (folds from scikit-learn splitters, never hand-written):

``loso``     leave one source out (`LeaveOneGroupOut` over ``source``): test = the held-out source's
             compositions with its own labels; train = the other sources pooled (`pool`, one vote
             per source) **minus every composition key present in the held-out source**.
``grouped``  `GroupKFold(k, shuffle=True, random_state=seed)` over the pooled data (one row per
             composition) grouped by alloy system (sorted element set): no system is on both sides.
``random``   `StratifiedKFold(k, shuffle=True, random_state=seed)` over the pooled data; reported only
             to show how much near-duplicate compositions of one system inflate random K-fold scores.

Every fold fits a fresh estimator on the training rows (hyperparameters tuned inside them, with the
training rows' systems as inner CV groups) and predicts the test rows. The runner appends each
finished (protocol, fold, model) to a JSONL log, rewritten atomically (`hea_fast._io.atomic_write`),
and skips the ones already there with the same fingerprint (data, split, model parameters, seed), so
an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from hea_fast._io import atomic_write, fingerprint
from hea_fast.validation.data import element_columns, pool
from hea_fast.validation.scores import LOWER_IS_BETTER, METRICS, metrics, paired_difference

__all__ = ["PROTOCOLS", "Fold", "loso_folds", "grouped_folds", "random_folds", "folds", "run",
           "leave_one_source_out", "grouped_kfold", "random_kfold", "ResultsLog", "evaluate", "compare_to_best"]

PROTOCOLS = ("loso", "grouped", "random")
LOG_VERSION = 1


@dataclass
class Fold:
    """One train/test split. `train` and `test` are harmonised frames (element columns in
    ``attrs["elements"]``) with columns key, system, source(s), single_phase."""

    protocol: str
    name: str  # "borg2020" for loso, "0".."k-1" otherwise
    train: pd.DataFrame
    test: pd.DataFrame
    #: the harmonised rows behind `train`, one per (source, composition) with that source's label and records,
    #: including the compositions `pool` drops because their sources tie (None when the folds were made from
    #: pooled data): what models with `ModelSpec.per_source` are fitted on
    source_rows: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def loso_folds(data: pd.DataFrame, conflict: str = "majority", match_tol: float = 0.0) -> Iterator[Fold]:
    """Leave-one-source-out folds (see the module docstring); `data` from `harmonised_phase_data`.
    A held-out composition leaves training by its key (fractions rounded to 1e-3); with `match_tol` > 0
    also every training composition within it (largest |Δ fraction| < match_tol, `near_twins`) of a
    held-out one, which rounding put under another key."""
    from sklearn.model_selection import LeaveOneGroupOut

    if not match_tol >= 0:
        raise ValueError(f"match_tol must be a fraction >= 0, got {match_tol!r}")
    src = data["source"].to_numpy()
    els = element_columns(data)
    for tr, te in LeaveOneGroupOut().split(data, groups=src):
        held = str(src[te[0]])
        test = data.iloc[te].reset_index(drop=True)
        test.attrs["elements"] = els
        rows = data.iloc[tr]
        rows = rows[~rows["key"].isin(set(test["key"])).to_numpy()]
        if match_tol > 0:
            rows = rows[~near_twins(rows, test, els, match_tol)]
        rows = rows.reset_index(drop=True)
        rows.attrs["elements"] = els
        train = pool(data.iloc[tr], conflict)
        keep = ~train["key"].isin(set(test["key"])).to_numpy()
        if match_tol > 0:
            keep &= ~near_twins(train, test, els, match_tol)
        train = train[keep].reset_index(drop=True)
        train.attrs["elements"] = els
        yield Fold("loso", held, train, test, rows)  # the training rows (so the fold fingerprint) say which rule


def near_twins(train: pd.DataFrame, test: pd.DataFrame, elements, tol: float) -> np.ndarray:
    """Mask of the training rows within `tol` (largest |Δ fraction| over `elements`) of some test row,
    in blocks of 256 training rows."""
    R = train[list(elements)].to_numpy(np.float64)
    T = test[list(elements)].to_numpy(np.float64)
    R, T = R / R.sum(1, keepdims=True), T / T.sum(1, keepdims=True)
    hit = np.zeros(len(R), dtype=bool)
    for lo in range(0, len(R), 256):
        hit[lo:lo + 256] = (np.abs(R[lo:lo + 256, None, :] - T[None, :, :]).max(axis=2) < tol).any(axis=1)
    return hit


def _pooled(data: pd.DataFrame, conflict: str) -> pd.DataFrame:
    return data if (data["source"] == "pooled").all() else pool(data, conflict)


def _source_rows(data: pd.DataFrame, test: pd.DataFrame, by_system: bool) -> pd.DataFrame | None:
    """The harmonised rows outside a K-fold's test rows (by system when `by_system`, else by key); None for
    pooled `data`."""
    if (data["source"] == "pooled").all():
        return None
    col = "system" if by_system else "key"
    return _subset(data, np.flatnonzero(~data[col].isin(set(test[col])).to_numpy()))


def _subset(df, idx):
    out = df.iloc[idx].reset_index(drop=True)
    out.attrs["elements"] = element_columns(df)
    return out


def grouped_folds(data: pd.DataFrame, k: int = 5, seed: int = 0, conflict: str = "majority") -> Iterator[Fold]:
    """K folds of the pooled data grouped by alloy system (`GroupKFold`, shuffled with `seed`)."""
    from sklearn.model_selection import GroupKFold

    pooled = _pooled(data, conflict)
    split = GroupKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
    for i, (tr, te) in enumerate(split.split(pooled, pooled["single_phase"], groups=pooled["system"])):
        test = _subset(pooled, te)
        yield Fold("grouped", str(i), _subset(pooled, tr), test, _source_rows(data, test, by_system=True))


def random_folds(data: pd.DataFrame, k: int = 5, seed: int = 0, conflict: str = "majority") -> Iterator[Fold]:
    """Stratified random K folds of the pooled data (the optimistic reference)."""
    from sklearn.model_selection import StratifiedKFold

    pooled = _pooled(data, conflict)
    split = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
    for i, (tr, te) in enumerate(split.split(pooled, pooled["single_phase"])):
        test = _subset(pooled, te)
        yield Fold("random", str(i), _subset(pooled, tr), test, _source_rows(data, test, by_system=False))


def folds(data: pd.DataFrame, protocol: str, k: int = 5, seed: int = 0, conflict: str = "majority",
          match_tol: float = 0.0) -> list:
    if protocol == "loso":
        return list(loso_folds(data, conflict, match_tol))
    if protocol == "grouped":
        return list(grouped_folds(data, k, seed, conflict))
    if protocol == "random":
        return list(random_folds(data, k, seed, conflict))
    raise ValueError(f"unknown protocol {protocol!r}; known: {PROTOCOLS}")


# ---------------------------------------------------------------------------------------------
_RECORD_FIELDS = {"protocol": str, "fold": str, "model": str, "fingerprint": str, "p": list}


def _record_problem(rec) -> str:
    """Why a parsed log line is not a record of this version ("" when it is; other versions are skipped)."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not an object"
    if rec.get("version") != LOG_VERSION:
        return ""
    for k, t in _RECORD_FIELDS.items():
        if not isinstance(rec.get(k), t):
            return f"field {k!r} missing or not a {t.__name__}"
    p = rec["p"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in p):
        return "field 'p' holds a value that is not a probability"
    return ""


class ResultsLog:
    """JSONL log of finished (protocol, fold, model) records; each append rewrites the file
    atomically, so a crash leaves either the old or the new complete file. A record whose
    fingerprint differs from the current run's is ignored (and replaced when recomputed)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self.records: list[dict] = []
        if self.path is not None and self.path.exists():
            for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"results log {self.path} line {n} is not JSON ({exc.msg}); "
                                     "delete the file to start over") from None
                problem = _record_problem(rec)
                if problem:
                    raise ValueError(f"results log {self.path} line {n} is not a results record ({problem}); "
                                     "delete the file to start over")
                if rec.get("version") == LOG_VERSION:
                    self.records.append(rec)

    def find(self, protocol: str, fold: str, model: str, fp: str) -> dict | None:
        for r in self.records:
            if (r["protocol"], r["fold"], r["model"], r["fingerprint"]) == (protocol, fold, model, fp):
                return r
        return None

    def add(self, rec: dict) -> None:
        key = (rec["protocol"], rec["fold"], rec["model"])
        self.records = [r for r in self.records if (r["protocol"], r["fold"], r["model"]) != key] + [rec]
        if self.path is not None:
            atomic_write(self.path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in self.records))


def _estimator_factory(model) -> tuple[str, Callable[[int], object]]:
    from sklearn.base import clone

    from hea_fast.validation.models import make_model

    if isinstance(model, str):
        return model, (lambda seed, _m=model: make_model(_m, seed))
    if isinstance(model, tuple) and len(model) == 2:
        name, spec = model
        if callable(spec) and not hasattr(spec, "fit"):
            return str(name), spec
        return str(name), (lambda seed, _e=spec: clone(_e))
    raise ValueError(f"a model is a registered name or a (name, estimator | seed -> estimator) pair, got {model!r}")


def _fold_fingerprint(fold: Fold, name: str, est, seed: int, soft: bool = False, per_source: bool = False) -> str:
    def rows(df):
        return "\n".join(f"{k}={int(v)}" for k, v in zip(df["key"], df["single_phase"]))

    train = _training_rows(fold, name) if per_source else fold.train
    spec = {"protocol": fold.protocol, "fold": fold.name, "model": name, "seed": int(seed),
            "params": repr(sorted(est.get_params(deep=False).items(), key=lambda kv: kv[0])),
            "train": fingerprint(rows(fold.train)), "test": fingerprint(rows(fold.test))}
    if per_source:  # the rows it is fitted on: one per source and composition
        spec["train_sources"] = fingerprint("\n".join(f"{s}:{k}={int(v)}" for s, k, v in zip(
            train["source"], train["key"], train["single_phase"])))
    if soft:  # the soft labels it is fitted to: single-phase records / records per training row
        spec["train_records"] = fingerprint("\n".join(f"{k}={int(a)}/{int(b)}" for k, a, b in zip(
            train["key"], train["n_single"], train["n_records"])))
    return fingerprint(spec)


def _training_rows(fold: Fold, name: str) -> pd.DataFrame:
    if fold.source_rows is None:
        raise ValueError(f"model {name} is fitted on one row per source and composition: make the folds from "
                         "harmonised_phase_data(), not from pooled data")
    return fold.source_rows


def run(models: Sequence, fold_list: Iterable[Fold], seed: int = 0, log: str | os.PathLike | ResultsLog | None = None,
        progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fit and predict every model on every fold; returns one row per (fold, model, test row):
    protocol, fold, model, key, source, system, y, p.

    models: registered names (`hea_fast.validation.models.MODELS`) or (name, estimator) / (name,
    seed -> estimator) pairs. log: a JSONL path (or ResultsLog) to append to and resume from.
    """
    from hea_fast.validation.models import MODELS, best_params, fit_model, label_fractions

    rlog = log if isinstance(log, ResultsLog) else ResultsLog(log)
    factories = [_estimator_factory(m) for m in models]
    soft = {m for m in models if isinstance(m, str) and m in MODELS and MODELS[m].soft_labels}
    per_source = {m for m in models if isinstance(m, str) and m in MODELS and MODELS[m].per_source}
    out = []
    for fold in fold_list:
        els = element_columns(fold.train)
        for name, factory in factories:
            est = factory(seed)
            fp = _fold_fingerprint(fold, name, est, seed, soft=name in soft, per_source=name in per_source)
            rec = rlog.find(fold.protocol, fold.name, name, fp)
            if rec is None:
                train = _training_rows(fold, name) if name in per_source else fold.train
                t0 = time.perf_counter()
                fit_model(est, train[els], train["single_phase"].to_numpy(), train["system"].to_numpy(),
                          label_fractions(train) if name in soft else None)
                t1 = time.perf_counter()
                p = est.predict_proba(fold.test[els])[:, 1]
                t2 = time.perf_counter()
                rec = {"version": LOG_VERSION, "protocol": fold.protocol, "fold": fold.name, "model": name,
                       "fingerprint": fp, "seed": int(seed), "n_train": len(train), "n_test": len(fold.test),
                       "fit_seconds": round(t1 - t0, 3), "predict_seconds": round(t2 - t1, 3),
                       "params": _jsonable(best_params(est)),
                       "p": [round(float(v), 7) for v in p]}
                rlog.add(rec)
                if progress:
                    progress(f"{fold.protocol} fold {fold.name} {name}: {len(train)} train / "
                             f"{len(fold.test)} test, fit {t1 - t0:.1f} s")
            elif progress:
                progress(f"{fold.protocol} fold {fold.name} {name}: from the log")
            p = np.asarray(rec["p"], dtype=np.float64)
            if p.size != len(fold.test):
                raise ValueError(f"log record {fold.protocol}/{fold.name}/{name} has {p.size} predictions for "
                                 f"{len(fold.test)} test rows")
            src = fold.test["sources"] if "sources" in fold.test.columns else fold.test["source"]
            out.append(pd.DataFrame({"protocol": fold.protocol, "fold": fold.name, "model": name,
                                     "key": fold.test["key"].to_numpy(), "source": src.to_numpy(),
                                     "system": fold.test["system"].to_numpy(),
                                     "y": fold.test["single_phase"].to_numpy().astype(np.int64), "p": p}))
    if not out:
        return pd.DataFrame(columns=["protocol", "fold", "model", "key", "source", "system", "y", "p"])
    return pd.concat(out, ignore_index=True)


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def leave_one_source_out(models: Sequence, data: pd.DataFrame, seed: int = 0, log=None, conflict: str = "majority",
                         progress=None) -> pd.DataFrame:
    """Predictions of every model in every leave-one-source-out fold (see `run`)."""
    return run(models, loso_folds(data, conflict), seed=seed, log=log, progress=progress)


def grouped_kfold(models: Sequence, data: pd.DataFrame, k: int = 5, seed: int = 0, log=None,
                  conflict: str = "majority", progress=None) -> pd.DataFrame:
    """Out-of-fold predictions of every model, K folds grouped by alloy system (see `run`)."""
    return run(models, grouped_folds(data, k, seed, conflict), seed=seed, log=log, progress=progress)


def random_kfold(models: Sequence, data: pd.DataFrame, k: int = 5, seed: int = 0, log=None,
                 conflict: str = "majority", progress=None) -> pd.DataFrame:
    """Out-of-fold predictions with stratified random folds (optimistic reference; see `run`)."""
    return run(models, random_folds(data, k, seed, conflict), seed=seed, log=log, progress=progress)


def evaluate(predictions: pd.DataFrame, n_boot: int = 1000, seed: int = 0, by_source: bool = True,
             bootstrap_groups: str | None = "system") -> pd.DataFrame:
    """Score table: one row per (protocol, subset, model) with each metric's value and CI (columns
    ``<metric>``, ``<metric>_lo``, ``<metric>_hi``) plus n, n_pos, n_groups.

    subset ``"all"`` pools every test row of the protocol (for loso: the held-out sources
    concatenated, each with its own labels); with `by_source`, loso also gets one row per held-out
    source. The bootstrap resamples `bootstrap_groups` (alloy systems) as clusters; None resamples rows.
    """
    rows = []
    for (proto, model), g in predictions.groupby(["protocol", "model"], sort=False):
        for name, h in _subsets(g, proto, by_source):
            groups = h[bootstrap_groups].to_numpy() if bootstrap_groups else None
            m = metrics(h["y"].to_numpy(), h["p"].to_numpy(), n_boot=n_boot, seed=seed, groups=groups)
            row = {"protocol": proto, "subset": name, "model": model, "n": m["n"], "n_pos": m["n_pos"],
                   "n_groups": m["n_groups"]}
            for k in METRICS:
                row[k], row[f"{k}_lo"], row[f"{k}_hi"] = m[k]["value"], m[k]["lo"], m[k]["hi"]
            rows.append(row)
    return pd.DataFrame(rows)


def _subsets(g: pd.DataFrame, proto: str, by_source: bool):
    out = [("all", g)]
    if by_source and proto == "loso":
        out += [(str(f), h) for f, h in g.groupby("fold", sort=True)]
    return out


def compare_to_best(predictions: pd.DataFrame, table: pd.DataFrame, metric: str = "log_loss", n_boot: int = 1000,
                    seed: int = 0, by_source: bool = True, bootstrap_groups: str | None = "system") -> pd.DataFrame:
    """Paired bootstrap of every model against the best one by `metric` in each (protocol, subset)
    of `table` (from `evaluate`): one row per (protocol, subset, model) with ``best``, and for every
    metric the difference model − best (``d_<metric>``) and its CI (``d_<metric>_lo/_hi``). The
    models are scored on the same resamples (clusters = `bootstrap_groups`), so an interval that
    excludes 0 is a difference on these data, not noise."""
    rows = []
    for proto, g in predictions.groupby("protocol", sort=False):
        for name, h in _subsets(g, proto, by_source):
            t = table[(table["protocol"] == proto) & (table["subset"] == name)]
            t = t[np.isfinite(t[metric])]
            if t.empty:
                continue
            best = t.loc[t[metric].idxmin() if metric in LOWER_IS_BETTER else t[metric].idxmax(), "model"]
            wide = h.pivot_table(index=["fold", "key"], columns="model", values="p", aggfunc="first")
            ref = h[h["model"] == best].set_index(["fold", "key"])
            wide = wide.loc[ref.index]
            y = ref["y"].to_numpy()
            groups = ref[bootstrap_groups].to_numpy() if bootstrap_groups else None
            for model in wide.columns:
                d = paired_difference(y, wide[best].to_numpy(), wide[model].to_numpy(), n_boot=n_boot, seed=seed,
                                      groups=groups)
                row = {"protocol": proto, "subset": name, "model": model, "best": best}
                for k in METRICS:
                    row[f"d_{k}"], row[f"d_{k}_lo"], row[f"d_{k}_hi"] = d[k]["value"], d[k]["lo"], d[k]["hi"]
                rows.append(row)
    return pd.DataFrame(rows)
