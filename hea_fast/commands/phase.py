"""`hea-fast phase predict|info` — the default phase model (`hea_fast.phase`).

predict  add p_single, in_domain, domain_score and reason to a table of formulas (the bundled
         default model; --model mixture|ssvae|released|DIR for the others)
info     what the bundled (or a given) phase model is: its training data, metrics and domain

Columns of `predict`: ``p_single`` (P(single-phase solid solution)), ``in_domain`` (the alloy lies
inside the applicability domain of the default model's training alloys: known elements, training
fraction ranges, distance to the nearest training alloys, at least three elements), ``domain_score`` (distance to the k
nearest training alloys over the training threshold: <= 1 inside, +inf for an element no training
alloy has, NaN when the descriptors cannot be computed) and ``reason`` ('' for a scored in-domain
row; why p_single is NaN or why the row is out of domain otherwise). Rows that cannot be scored
(unparsable formula, an element without descriptor data) follow the CLI convention: NaN outputs and
the reason in ``error`` as well (--errors keep), dropped (skip) or stopping the run (raise).

With ``--model mixture|ssvae|released`` or a mixture/SSVAE directory, p_single comes from that model
and ``in_domain`` / ``domain_score`` are empty (NA): the only domain the package has is that of the
default model's training alloys (the pooled phase data), which those models were not trained on,
so reporting it for them would claim a coverage nobody measured.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from hea_fast.commands._common import add_command, positive_int
from hea_fast.commands._tables import add_errors_args, add_formula_column

MODEL_HELP = ("default (the bundled phase model) | best (the bundled forest model the default is distilled from: "
              "the protocol's best mean AUC and log-loss, slightly ahead of the default, no fused screening kernel) | mixture (the paper's sparse mixture) | "
              "ssvae (the bundled "
              "SSVAE) | released (the authors' SSVAE weights) | DIR (a phase, mixture or SSVAE model directory) "
              "(default: default)")


def _load(spec: str):
    """(kind, model) of a `--model` value: kind "phase", "mixture" or "ssvae"."""
    from hea_fast.commands._common import (
        load_mixture_model,
        load_phase_model,
        load_ssvae_model,
        model_dir,
        model_kind,
        phase_model_dir,
    )

    name = str(spec)
    if phase_model_dir(name) is not None:
        return "phase", load_phase_model(name)
    if name == "mixture":
        return "mixture", load_mixture_model("mixture")
    if name in ("ssvae", "released"):
        return "ssvae", load_ssvae_model(name)
    path = model_dir(name, MODEL_HELP.removesuffix(" (default: default)"))
    kind = model_kind(path)
    if kind is None:
        raise ValueError(f"--model {path}: not a phase, mixture or SSVAE model directory (no model.json, and no "
                         "config.json of a mixture or SSVAE model)")
    loader = {"phase": load_phase_model, "mixture": load_mixture_model, "ssvae": load_ssvae_model}[kind]
    return kind, loader(str(path))


def _score_phase(model, batch, threads):
    """(p, in_domain, domain_score, reason) of the parsed rows by a PhaseModel."""
    fr = model.predict_frame(batch, threads=threads)
    return (fr["p_single"].to_numpy(dtype=float), fr["in_domain"].to_numpy(dtype=bool),
            fr["domain_score"].to_numpy(dtype=float), fr["reason"].astype(str).to_numpy(dtype=object))


def _score_mixture(model, batch, threads):
    """(p, None, None, reason) of the parsed rows by the sparse-mixture model."""
    import numpy as np

    from hea_fast.commands._tables import featurize_rows

    feats, unusable = featurize_rows(batch, list(model.feature_names_in_), table=model.table, threads=threads)
    F = feats.to_numpy(dtype=float)
    fin = np.isfinite(F).all(axis=1)
    reason = np.array([""] * len(batch), dtype=object)
    for i in np.flatnonzero(~fin):
        reason[i] = unusable.get(int(i), "non-finite descriptor (e.g. Lambda of a pure element)")
    p = np.full(len(batch), np.nan)
    if fin.any():
        p[fin] = model.predict_proba(feats[fin])[:, 1]
    return p, None, None, reason


def _score_ssvae(model, formulas, threads):
    """(p, None, None, reason) of the parsed rows by an SSVAE (elements outside its 30 get NaN)."""
    import numpy as np

    from hea_fast.commands._tables import explain
    from hea_fast.ssvae.design import classifier_proba, compositions_to_atpct, features_of

    x, ok, reasons = compositions_to_atpct(model, list(formulas), errors="report")
    p = np.full(len(formulas), np.nan)
    if ok.any():
        p[ok] = classifier_proba(model, features_of(model, x[ok], threads))
    reason = np.array(["" if k else explain(f, r) for f, k, r in zip(formulas, ok, reasons)], dtype=object)
    return p, None, None, reason


def _predict(args) -> int:
    import numpy as np
    import pandas as pd

    from hea_fast.commands._tables import BadRows, finish, formula_column, read_table, write_table

    kind, model = _load(args.model)
    df = read_table(args.input, "phase predict")
    col = formula_column(df.columns, args.formula_column, args.input)
    bad = BadRows("phase predict", args.input)
    batch, kept = bad.parse(df[col])
    parse_bad = {p: r for p, _, r in bad.items}
    n = len(df)
    if kind == "phase":
        p, inside, score, reason = _score_phase(model, batch, args.threads)
    elif kind == "mixture":
        p, inside, score, reason = _score_mixture(model, batch, args.threads)
    else:
        p, inside, score, reason = _score_ssvae(model, df[col].iloc[kept].tolist(), args.threads)
    for i in np.flatnonzero(~np.isfinite(p)):
        bad.add(int(kept[i]), df[col].iloc[int(kept[i])], str(reason[i]) or "no probability")
    bad.items.sort(key=lambda t: t[0])
    if args.errors == "raise":
        bad.raise_if_any()
    out = df.copy()
    col_p = np.full(n, np.nan)
    col_p[kept] = p
    col_reason = np.array([""] * n, dtype=object)
    col_reason[kept] = reason
    for pos, r in parse_bad.items():
        col_reason[pos] = r
    out["p_single"] = col_p
    if inside is not None:
        col_in = np.zeros(n, dtype=bool)
        col_in[kept] = inside
        col_score = np.full(n, np.nan)
        col_score[kept] = score
        out["in_domain"] = col_in
        out["domain_score"] = col_score
    else:  # no domain was measured for this model (see the module docstring)
        out["in_domain"] = pd.array([pd.NA] * n, dtype="boolean")
        out["domain_score"] = np.full(n, np.nan)
    out["reason"] = col_reason
    out = finish(out, bad, args.errors, args.errors_out)
    write_table(out, args.output)
    scored = int(np.isfinite(out["p_single"].to_numpy(dtype=float)).sum())
    dom = (f", {int(out['in_domain'].fillna(False).sum())} in the applicability domain" if inside is not None
           else " (no applicability domain for this model: in_domain is empty)")
    print(f"wrote {args.output}: {scored} of {len(out)} rows scored by the {kind} model{dom}")
    return 0


def info_dict(model, path: Path, full: bool = False) -> dict:
    """What `hea-fast phase info` prints: the model's shape, its domain and a summary of its training
    record (TRAINING.json: data, selected hyperparameters, calibration, the protocol metrics of the
    default model); `full` adds the whole record."""
    p = model.params
    trees = f"{p.n_trees} trees" + (f" of depth <= {p.max_depth}" if p.tree_link == "logit" else "")
    distilled = (model.metadata or {}).get("distillation")
    soft = (model.metadata or {}).get("tree_labels") == "fraction"
    forest_fit = " fitted to the fraction of the records calling each training alloy single phase" if soft else ""
    if p.tree_link == "mean" and soft:
        trees += "," + forest_fit
    if distilled:
        trees += (f", distilled from a random forest{forest_fit} ({distilled['n_rows']:,} compositions, root-mean-square "
                  f"distance to its probabilities {distilled['rmse']:.3f}")
        if "rmse_train" in distilled:  # models distilled before the training-composition weight lack it
            trees += (f"; {distilled['rmse_train']:.3f} at the training compositions, each weighing "
                      f"{distilled['train_weight']:g} draws")
        trees += ")"
    out = {"model_dir": str(path), "descriptors": ",".join(p.descriptors), "elements": ",".join(p.elements),
           "members": {"logistic_regression": f"{p.n_features} features (descriptors + element fractions)",
                       ("random_forest" if p.tree_link == "mean" else "boosted_trees"): trees,
                       "weights": [p.w_lin, p.w_tree],
                       "platt_calibration": {"a": p.cal_a, "b": p.cal_b}}}
    d = model.domain
    if d is not None:
        out["domain"] = {"threshold": d.threshold_, "k": d.k, "quantile": d.quantile, "n_train": d.n_train_,
                         "n_elements": len(d.elements_), "fraction_weight": d.fraction_weight,
                         "fraction_tolerance": d.fraction_tolerance, "min_element_count": d.min_element_count,
                         "min_components": d.min_components}
    record = None
    training = path / "TRAINING.json"
    if training.is_file():
        from hea_fast._io import read_json

        record = read_json(training, what="training record")
    if not isinstance(record, dict):
        out["training"] = model.metadata or None
        return out
    data = record.get("data") or {}
    summary = {"model": record.get("model"),
               "data": {k: data[k] for k in ("sources", "n_rows", "n_single_phase", "n_systems", "conflict",
                                             "training_frame_fingerprint") if k in data},
               "selected": record.get("selected"), "calibration": record.get("calibration")}
    metrics = record.get("protocol_metrics") or {}
    default = metrics.get("default")
    name = default.get("model") if isinstance(default, dict) else default
    models = metrics.get("models") or {}
    if isinstance(name, str) and name in models:
        summary["metrics"] = {"model": name, **(default if isinstance(default, dict) else {}), **models[name]}
    elif metrics:
        summary["metrics"] = {k: v for k, v in metrics.items() if k != "models"}
    for k in ("date", "versions", "command"):
        if k in record:
            summary[k] = record[k]
    out["training"] = record if full else summary
    return out


def _info(args) -> int:
    from hea_fast.commands._common import load_phase_model, model_dir, phase_model_dir

    model = load_phase_model(args.model)
    path = phase_model_dir(args.model) or model_dir(args.model, "")
    print(json.dumps(info_dict(model, path, args.full), indent=2, default=str))
    return 0


def register(sub) -> None:
    p = add_command(sub, "predict", _predict,
                    help="add p_single, in_domain, domain_score and reason to a table of formulas",
                    description="P(single-phase solid solution) of each formula by the default phase model "
                    "(hea_fast.phase: logistic regression on descriptors + element fractions and boosted trees distilled "
                    "from a random forest, averaged; the bundled model has no calibration map, see its "
                    "TRAINING.json), with its applicability domain: in_domain, domain_score (<= 1 inside; "
                    "+inf for an element no training alloy has; NaN without descriptors) and the reason of a NaN or "
                    "an out-of-domain row. --model mixture|ssvae|released|DIR scores with another model (in_domain "
                    "and domain_score are then empty: no domain was measured for it).")
    p.add_argument("input", help="CSV (delimiter , ; tab or | found from the header; UTF-8 or Windows-1252) or "
                   "Parquet table with a formula column")
    add_formula_column(p)
    p.add_argument("--model", default="default", help=MODEL_HELP)
    add_errors_args(p, "p_single")
    p.add_argument("-o", "--output", required=True,
                   help="output .csv or .parquet (input columns + p_single, in_domain, domain_score, reason, error)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")

    i = add_command(sub, "info", _info, help="print what the default phase model is (training data, metrics, domain)",
                    description="The bundled (or a given) phase model as JSON: descriptors, elements, members, "
                    "calibration, applicability-domain threshold and its TRAINING.json record (data, hashes, "
                    "metrics, versions).")
    i.add_argument("--model", default="default",
                   help="default (the bundled phase model), best (the bundled forest model) or a directory written "
                   "by hea_fast.phase.PhaseModel.save")
    i.add_argument("--full", action="store_true", help="print the whole TRAINING.json record, not its summary")


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["phase", *sys.argv[1:]]))
