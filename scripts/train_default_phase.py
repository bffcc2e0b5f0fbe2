"""Train the bundled default phase model (hea_fast/data/models/phase_default/, issue #15).

`hea_fast.phase.PhaseEnsembleClassifier(calibrate=False, trees="forest")` fitted with
``label_fraction`` on **one row per (source, composition)** (``--rows sources``, the default since
2026-12-07 17:00 UTC): the mean of the probabilities of a logistic regression on the 15 descriptors +
element fractions (fitted to each source's label) and a 300-tree random forest on the 15 descriptors
(fitted to each source's record fraction); a composition several sources report enters once per source,
and the compositions whose sources tie (which the pooled frame drops) are kept with every source's answer.
On the cross-source protocol of benchmarks/papers/phase_validation/, where it is
``ensemble_forest_sources``, it has the best mean AUC and mean log-loss over the held-out sources of all
the models compared and a pooled out-of-source ECE <= 0.05; the fused screening kernel runs it.
``--rows pooled`` fits one row per composition, the sources pooled (the earlier default
``ensemble_forest_soft``).

``--trees distilled --rows pooled --out hea_fast/data/models/phase_fast`` trains the bundled ``fast`` model
(``ensemble_distilled_soft``, the default from 2026-12-06 19:56 UTC until the forest ran fused): the
forest distilled into 600 depth-4 boosted trees, up to 4.6x faster on small screens (about as fast
over the 1.66 B space), a little less accurate.
``--rows pooled --labels vote`` fits the trees to the pooled vote instead (``ensemble_forest`` /
``ensemble_distilled``); ``--rows pooled --trees boosting --labels vote`` trains the first default, ``ensemble``:
boosted trees fitted to the labels, with ``--calibrate`` its Platt-calibrated variant
``ensemble_calibrated``.
The data: the six sources of `hea_fast.validation.harmonised_phase_data` mapped to single-phase solid
solution vs not, one row per source and composition (fractions to 1e-3); pooled (``--rows pooled``, and
what the domain and the neighbours are fitted on), one row per composition, one vote per source, ties
dropped (``--conflict majority``; the soft label of a row counts the records of the sources behind it),
seed 0. The applicability domain
(`hea_fast.phase.ApplicabilityDomain`, default settings except ``min_components=3``: binaries are out
of domain, because the sources contradict each other on them; ``--min-components`` changes it) is
fitted on the same compositions.

Writes model.json, domain.json, domain.npz (`PhaseModel.save`, every file atomically, model.json
last) and TRAINING.json: the SHA-256 of every source file, the fingerprint of the pooled training
frame, sizes, the selected hyperparameters, the calibration, the protocol metrics of the default
and of every compared model (from benchmarks/papers/phase_validation/results.json and
selection.json), the versions and the command. Checks before writing that the exported model's
probabilities equal the fitted estimator's to 1e-12.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 python scripts/train_default_phase.py [--out DIR]

The forest's node arrays go to nodes.npz; predictions of feature rows by the C++ forest walker, equal to
scikit-learn's bitwise. training_alloys.npz holds, per domain point, the training alloy's formula and
source votes (`PhaseModel.neighbors`) and its records; records.npz every recorded composition of the
data with its records, including the compositions whose sources tie (not training rows; what
`PhaseModel.predict_frame(memory=True)` blends in, `hea_fast.phase.records`). ``--alloys-only DIR``
writes only those two files for an existing model directory, after checking that the pooled frame has
the fingerprint DIR/TRAINING.json records and reproduces the directory's domain points bit for bit
(nothing else in DIR changes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from hea_fast._io import atomic_write_json, fingerprint, read_json

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "hea_fast" / "data" / "models" / "phase_default"
VALIDATION = ROOT / "benchmarks" / "papers" / "phase_validation"
#: The validation protocol's name of each tree member (uncalibrated), by the labels its trees are fitted to.
PROTOCOL_NAME = {("boosting", "vote"): "ensemble", ("forest", "vote"): "ensemble_forest",
                 ("distilled", "vote"): "ensemble_distilled", ("forest", "fraction"): "ensemble_forest_soft",
                 ("distilled", "fraction"): "ensemble_distilled_soft", ("boosting", "fraction"): "none"}
#: ... and fitted on one row per (source, composition) (``--rows sources``).
PROTOCOL_NAME_SOURCES = {("forest", "fraction"): "ensemble_forest_sources"}


def source_files(sources) -> dict:
    """{source: [{dataset, file, sha256}]} of the data-home files each source is read from."""
    from hea_fast.datasets import data_home
    from hea_fast.datasets.catalog import DATASETS
    from hea_fast.datasets.files import sha256_of
    from hea_fast.validation import SOURCES

    by_loader = {d.loader: d for d in DATASETS.values()}
    out = {}
    for s in sources:
        info = by_loader[SOURCES[s].loader]
        out[s] = [{"dataset": info.name, "file": f"{info.folder}/{f}",
                   "sha256": sha256_of(data_home() / info.folder / f)} for f in info.files]
    return out


def protocol_metrics(validation_dir: Path) -> dict:
    """Scores of every model on the validation protocols (selection.json: per-source means and
    pooled scores), or a note when the validation has not been run."""
    sel_path = validation_dir / "selection.json"
    if not sel_path.is_file():
        return {"note": f"{sel_path} not found: run scripts/run_phase_validation.py first"}
    sel = read_json(sel_path, what="validation selection")
    res = read_json(validation_dir / "results.json", what="validation results")
    return {"source": str(sel_path.relative_to(ROOT)) if sel_path.is_relative_to(ROOT) else str(sel_path),
            "command": res.get("settings", {}).get("command"), "rule": sel["rule"], "default": sel.get("default"),
            "rank_mean_auc": sel["rank_mean_auc"], "rank_mean_log_loss": sel["rank_mean_log_loss"],
            "models": {m: {k: e[k] for k in ("loso_source_mean", "loso_all", "grouped", "random")}
                       for m, e in sel["models"].items()}}


def versions() -> dict:
    import scipy
    import sklearn

    import hea_fast

    return {"hea_fast": hea_fast.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def training_alloys(domain, pooled) -> dict:
    """Per point of `domain` (fitted on `pooled`'s compositions): formula, source votes and record counts of
    the row."""
    from hea_fast.composition import CompositionBatch
    from hea_fast.phase.neighbors import point_rows
    from hea_fast.validation import element_columns

    els = element_columns(pooled)
    D, F, elements, reasons, _ = domain._featurize(pooled[els], 1)
    rows = point_rows(domain, D, F, elements)
    sub = pooled.iloc[rows]
    frac = F[rows] / F[rows].sum(axis=1, keepdims=True)
    formulas = CompositionBatch(frac, tuple(elements)).formulas(2)  # at.% to 0.01 (the smallest amount is 0.034)
    return {"formula": np.asarray(formulas, dtype=str), "provenance": np.asarray(sub["provenance"], dtype=str),
            "n_sources": sub["n_sources"].to_numpy(np.int32), "n_single_sources": sub["n_single_sources"].to_numpy(np.int32),
            "single_phase": sub["single_phase"].to_numpy(np.int8),
            # the records behind each alloy over all sources (predict_frame(memory=True) blends them in)
            "n_records": sub["n_records"].to_numpy(np.int32), "n_single": sub["n_single"].to_numpy(np.int32)}


def add_training_alloys(directory: Path, conflict: str) -> int:
    from hea_fast.phase import PhaseModel
    from hea_fast.validation import DEFAULT_SOURCES, harmonised_phase_data, pool

    model = PhaseModel.load(directory)
    recorded = read_json(directory / "TRAINING.json", what="training record")["data"]
    data = harmonised_phase_data(DEFAULT_SOURCES, conflict=conflict)
    pooled = pool(data, conflict)
    rows = "\n".join(f"{k}={int(v)}" for k, v in zip(pooled["key"], pooled["single_phase"]))
    if fingerprint(rows) != recorded["training_frame_fingerprint"]:
        print(f"the pooled frame is not the one {directory} was trained on (fingerprint differs); nothing written",
              file=sys.stderr)
        return 1
    model.training_alloys = training_alloys(model.domain, pooled)
    from hea_fast._io import atomic_path
    from hea_fast.phase.neighbors import TRAINING_ALLOYS_FILE
    from hea_fast.phase.records import RecordTable

    with atomic_path(directory / TRAINING_ALLOYS_FILE, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **model.training_alloys)
    records = RecordTable.from_frame(data)
    records.save(directory)
    print(f"wrote {directory / TRAINING_ALLOYS_FILE}: {len(pooled)} training alloys; {records}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    from _checkout import warn_if_not_checkout

    warn_if_not_checkout()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT), help="model directory to write (default: the bundled one)")
    ap.add_argument("--conflict", choices=("majority", "drop"), default="majority",
                    help="conflicting labels across sources: majority vote (ties dropped) or drop any disagreement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-depth", default="3",
                    help="--trees boosting: tree depths the inner grid may choose, comma-separated ('none' = "
                    "unlimited). Default 3: the depth every one of the 16 protocol folds selected from {3, unlimited}; "
                    "unlimited trees were never validated across sources and make fused screening several times "
                    "slower")
    ap.add_argument("--trees", choices=("boosting", "forest", "distilled"), default="forest",
                    help="tree member: boosted trees, a random forest (the default model) or that forest distilled "
                    "into 600 depth-4 boosted trees (the 'fast' model)")
    ap.add_argument("--calibrate", action="store_true",
                    help="add the Platt calibration fitted on grouped out-of-fold averages (ensemble_calibrated)")
    ap.add_argument("--labels", choices=("vote", "fraction"), default="fraction",
                    help="what the tree model (a distilled member's teacher) is fitted to: the pooled vote, or the "
                    "fraction of the records that report each composition single phase (soft labels; the "
                    "protocol's *_soft models)")
    ap.add_argument("--rows", choices=("sources", "pooled"), default="sources",
                    help="what the model is fitted on: one row per (source, composition), each source's own label "
                    "and records, the compositions whose sources tie kept (the default model, "
                    "ensemble_forest_sources), or one row per composition, the sources pooled (the earlier default "
                    "ensemble_forest_soft and the fast model)")
    ap.add_argument("--min-components", type=int, default=3,
                    help="domain: fewest elements an in-domain alloy has (3: binaries are out; 1: no such rule)")
    ap.add_argument("--validation", default=str(VALIDATION), help="phase validation folder (metrics for TRAINING.json)")
    ap.add_argument("--alloys-only", default=None, metavar="DIR",
                    help="only (re)write training_alloys.npz and records.npz of the existing model directory DIR "
                    "(no training; the pooled data must be the one it was trained on)")
    args = ap.parse_args(argv)
    if args.alloys_only:
        return add_training_alloys(Path(args.alloys_only), args.conflict)
    from threadpoolctl import threadpool_limits

    from hea_fast.phase import ApplicabilityDomain, PhaseEnsembleClassifier
    from hea_fast.phase.records import RecordTable
    from hea_fast.validation import DEFAULT_SOURCES, element_columns, harmonised_phase_data, pool
    from hea_fast.validation.models import label_fractions

    t0 = time.perf_counter()
    data = harmonised_phase_data(DEFAULT_SOURCES, conflict=args.conflict)
    pooled = pool(data, args.conflict)
    els = element_columns(pooled)
    X, y = pooled[els], pooled["single_phase"].to_numpy()
    if args.rows == "sources" and (args.calibrate or PROTOCOL_NAME_SOURCES.get((args.trees, args.labels)) is None):
        ap.error("--rows sources is validated for --trees forest --labels fraction without --calibrate only; add "
                 "--rows pooled")
    fit_rows = data if args.rows == "sources" else pooled  # what the estimator is fitted on
    Xf, yf, gf = fit_rows[els], fit_rows["single_phase"].to_numpy(), fit_rows["system"].to_numpy()
    q = label_fractions(fit_rows) if args.labels == "fraction" else None
    print(f"{len(pooled)} compositions ({int(y.sum())} single phase) in {pooled['system'].nunique()} systems "
          f"from {len(DEFAULT_SOURCES)} sources; fitted on {len(fit_rows)} "
          + ("(source, composition) rows" if args.rows == "sources" else "pooled rows"), file=sys.stderr)
    with threadpool_limits(limits=1):
        depths = tuple(None if d.strip().lower() == "none" else int(d) for d in args.max_depth.split(","))
        est = PhaseEnsembleClassifier(calibrate=args.calibrate, max_depths=depths, random_state=args.seed,
                                      threads=1, trees=args.trees).fit(Xf, yf, gf, label_fraction=q)
    t_fit = time.perf_counter() - t0
    domain = ApplicabilityDomain(min_components=args.min_components).fit(X, threads=1)
    rows = "\n".join(f"{k}={int(v)}" for k, v in zip(pooled["key"], pooled["single_phase"]))
    name = (PROTOCOL_NAME_SOURCES[args.trees, args.labels] if args.rows == "sources" else
            PROTOCOL_NAME[args.trees, args.labels] if not args.calibrate else "ensemble_calibrated")
    training = {
        "model": ("PhaseEnsembleClassifier(calibrate=%s, trees=%r), trees fitted to %s, on %s (%s in "
                  "benchmarks/papers/phase_validation)"
                  % (bool(args.calibrate), args.trees,
                     "the vote" if q is None else "label_fraction = single-phase records / records",
                     "one row per (source, composition): each source's label and records, ties across sources "
                     "kept" if args.rows == "sources" else "one row per composition (sources pooled)", name)),
        "tree_labels": est.tree_labels_,
        "rows": args.rows,
        "data": {"sources": list(DEFAULT_SOURCES), "conflict": args.conflict,
                 "harmonisation": "hea_fast.validation.harmonised_phase_data + pool (one vote per source)",
                 "files": source_files(DEFAULT_SOURCES),
                 "training_frame_fingerprint": fingerprint(rows),
                 "fingerprint_of": "sha256 of the canonical JSON of the lines 'key=label' of the pooled frame",
                 "fitted_rows": int(len(fit_rows)),
                 "fitted_rows_fingerprint": fingerprint("\n".join(f"{a}:{k}={int(v)}/{int(b)}/{int(c)}" for a, k, v, b, c in zip(
                     fit_rows["source"], fit_rows["key"], fit_rows["single_phase"], fit_rows["n_single"],
                     fit_rows["n_records"]))),
                 "fitted_rows_of": "the estimator's rows: 'source:key=label/n_single/n_records' (source 'pooled' "
                                   "for pooled rows)",
                 "n_rows": int(len(pooled)), "n_single_phase": int(y.sum()),
                 "n_records": int(pooled["n_records"].sum()),
                 "n_split_records": int(((pooled["n_single"] > 0) & (pooled["n_single"] < pooled["n_records"])).sum()),
                 "n_systems": int(pooled["system"].nunique()), "n_sources": len(DEFAULT_SOURCES),
                 "rows_per_source": {s: int(n) for s, n in data["source"].value_counts().sort_index().items()},
                 "elements": list(est.elements_), "descriptors": list(est.descriptors_)},
        "selected": {"linear": est.best_params_["linear"], "trees": est.best_params_["trees"]},
        "calibration": ({"a": est.cal_a_, "b": est.cal_b_, "fitted_on": "out-of-fold p_avg, GroupKFold(5) by system"}
                        if args.calibrate else
                        {"a": 1.0, "b": 0.0, "fitted_on": f"none: the protocol's {name} is the uncalibrated average"} if args.trees != "boosting" else
                        {"a": 1.0, "b": 0.0, "fitted_on": "none: the protocol selected the uncalibrated average "
                         "(ensemble); with --calibrate the out-of-fold Platt fit was a = 1.026, b = 0.031"}),
        "domain": repr(domain),
        "protocol_metrics": protocol_metrics(Path(args.validation)),
        "seed": int(args.seed),
        "fit_seconds": round(t_fit, 1),
        "versions": versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 python scripts/train_default_phase.py"
                   + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
    }
    model = est.export(domain, metadata={"training": "TRAINING.json", "selected": training["selected"],
                                         "calibration": training["calibration"], "n_train": int(len(pooled))})
    model.training_alloys = training_alloys(domain, pooled)
    model.records = RecordTable.from_frame(data)  # every recorded composition, ties included
    if "distillation" in model.metadata:  # draws, student and fidelity, as model.json has them
        training["distillation"] = model.metadata["distillation"]
    p_est = est.predict_proba(Xf)[:, 1]
    p_model = model.predict_proba(Xf, threads=1)[:, 1]
    err = float(np.max(np.abs(p_est - p_model)))
    if not err <= 1e-12:
        print(f"exported model differs from the estimator by {err:.3g} (> 1e-12); nothing written", file=sys.stderr)
        return 1
    training["export_max_abs_difference"] = err
    out = Path(args.out)
    model.save(out)
    atomic_write_json(out / "TRAINING.json", training, indent=1)
    print(json.dumps({k: training[k] for k in ("selected", "calibration", "fit_seconds")}, indent=1))
    extra = ", nodes.npz" if (out / "nodes.npz").exists() else ""
    print(f"wrote {out}/model.json, domain.json, domain.npz{extra}, TRAINING.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
