"""`hea-fast phase predict|info` — the default phase model (`hea_fast.phase`).

predict   add p_single, in_domain, domain_score and reason to a table of formulas (the bundled
          default model; --model mixture|ssvae|released|DIR for the others)
evaluate  score a model on a labelled table of alloys: accuracy, balanced accuracy, AUC, Brier,
          log-loss, ECE with cluster-bootstrap intervals, on all alloys, inside / outside the domain and
          on the alloys that are / are not training compositions (`hea_fast.validation.external`)
info      what the bundled (or a given) phase model is: its training data, metrics and domain

Columns of `predict`: ``p_single`` (P(single-phase solid solution)), ``in_domain`` (the alloy lies
inside the applicability domain of the default model's training alloys: known elements, training
fraction ranges, distance to the nearest training alloys, at least three elements), ``domain_score`` (distance to the k
nearest training alloys over the training threshold: <= 1 inside, +inf for an element no training
alloy has, NaN when the descriptors cannot be computed) and ``reason`` ('' for a scored in-domain
row; why p_single is NaN or why the row is out of domain otherwise) and, for a phase model with a
domain, ``training_composition`` (the alloy is one the model was trained on, every fraction within 1e-3)
and, for an alloy the training data records (every fraction within 1e-3 of a recorded composition: the
training compositions and the ones left out of training because their sources tie, e.g. AlCoCrFeNi), a
p_single that blends the model with those records (`PhaseModel.predict_frame` with memory=True:
(1 - w) p_model + w q, q = single-phase records / records, w = n / (n + 3)), with ``p_model`` (the model
alone) and ``training_records`` ("a/b") beside it; --no-memory gives the model alone. Rows that cannot be scored
(unparsable formula, an element without descriptor data) follow the CLI convention: NaN outputs and
the reason in ``error`` as well (--errors keep), dropped (skip) or stopping the run (raise).

With ``--model mixture|ssvae|released`` or a mixture/SSVAE directory, p_single comes from that model
and ``in_domain`` / ``domain_score`` are empty (NA): the only domain the package has is that of the
default model's training alloys (the pooled phase data), which those models were not trained on,
so reporting it for them would claim a coverage nobody measured.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hea_fast._io import json_text
from hea_fast.commands._common import add_command, positive_int
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table

MODEL_HELP = ("default (the bundled phase model: logistic regression + random forest, the protocol's best mean AUC and "
              "log-loss; 'best' is the same model) | fast (the default's forest distilled into boosted trees: faster "
              "screens, slightly less accurate) | mixture (the paper's sparse mixture) | "
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


def _score_phase(model, batch, threads, memory=True):
    """(p, in_domain, domain_score, reason, extra columns) of the parsed rows by a PhaseModel; memory: known
    alloys blend in their training records (`PhaseModel.predict_frame`), extra = p_model, training_records."""
    fr = model.predict_frame(batch, threads=threads, memory=memory)
    extra = {c: fr[c].to_numpy() for c in ("p_model", "training_records") if c in fr.columns}
    return (fr["p_single"].to_numpy(dtype=float), fr["in_domain"].to_numpy(dtype=bool),
            fr["domain_score"].to_numpy(dtype=float), fr["reason"].astype(str).to_numpy(dtype=object), extra)


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


#: Rows `phase predict` reads, scores and writes at a time (`--chunk-size`): its memory stays flat however
#: large the table (one piece of 1,000,000 rows peaked at ~1 GB; 100,000 rows took ~450 MB).
CHUNK_ROWS = 20_000


def _predict(args) -> int:
    from hea_fast.commands._stream import stream_table

    kind, model = _load(args.model)
    if args.neighbors and kind != "phase":
        raise ValueError(f"--neighbors needs a phase model (its applicability domain); --model {args.model} is a "
                         f"{kind} model")
    tally = {"scored": 0, "inside": 0, "known": 0, "recorded": 0}

    def seen(out):
        import numpy as np

        tally["scored"] += int(np.isfinite(out["p_single"].to_numpy(dtype=float)).sum())
        tally["inside"] += int(out["in_domain"].fillna(False).sum())
        if "training_composition" in out.columns:
            tally["known"] += int(out["training_composition"].sum())
        if "training_records" in out.columns:
            tally["recorded"] += int((out["training_records"] != "").sum())

    bad, n_rows, n_out = stream_table("phase predict", args, lambda chunk, col, bad, offset: _predict_chunk(
        kind, model, chunk, col, bad, offset, args), seen)
    bad.report(n_rows, args.errors, args.errors_out)
    with_domain = kind == "phase" and model.domain is not None
    dom = (f", {tally['inside']} in the applicability domain" if kind == "phase"
           else " (no applicability domain for this model: in_domain is empty)")
    if with_domain:
        dom += f", {tally['known']} training compositions of the model"
        if not args.no_memory:
            dom += f", {tally['recorded']} blended with their records in the training data"
    print(f"wrote {args.output}: {tally['scored']} of {n_out} rows scored by the {kind} model{dom}")
    return 0


def _predict_chunk(kind, model, chunk, col, bad, offset, args):
    """The output rows of one chunk of the input (rows offset, offset+1, ... of the file): the input columns +
    p_single, in_domain, domain_score, reason (+ training_composition, neighbours); bad rows recorded in `bad`."""
    import numpy as np
    import pandas as pd

    n, n_before = len(chunk), len(bad)
    batch, kept = bad.parse(chunk[col], offset)
    parse_bad = {pos - offset: r for pos, _, r in bad.items[n_before:]}
    formulas = chunk[col].iloc[kept].tolist()
    p, inside, score, reason, extra = _score_any(kind, model, batch, formulas, args.threads, not args.no_memory)
    for i in np.flatnonzero(~np.isfinite(p)):
        bad.add(offset + int(kept[i]), chunk[col].iloc[int(kept[i])], str(reason[i]) or "no probability")
    bad.items[n_before:] = sorted(bad.items[n_before:], key=lambda t: t[0])
    out = chunk.copy()
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
    in_training = _training_compositions(kind, model, batch)  # a known alloy: the answer is memory, not prediction
    if in_training is not None:
        known = np.zeros(n, dtype=bool)
        known[kept] = in_training
        out["training_composition"] = known
    for c, v in extra.items():  # p_model, training_records (known alloys; --no-memory leaves them out)
        full = np.full(n, np.nan) if v.dtype.kind == "f" else np.array([""] * n, dtype=object)
        full[kept] = v
        out[c] = full
    if args.neighbors:
        nb = model.neighbors(batch, k=args.neighbors, threads=args.threads)
        for c in nb.columns:
            full = np.full(n, np.nan) if nb[c].dtype.kind == "f" else np.array([""] * n, dtype=object)
            full[kept] = nb[c].to_numpy()
            out[c] = full
    return out


def _read_formulas(args, cmd: str):
    """(df, col, bad, batch, kept): the input table, its formula column, the `BadRows` of the formulas that do
    not parse, the parsed batch and the positions of its rows in df."""
    from hea_fast.commands._tables import BadRows, formula_column, read_table

    df = read_table(args.input, cmd)
    col = formula_column(df.columns, args.formula_column, args.input)
    bad = BadRows(cmd, args.input)
    batch, kept = bad.parse(df[col])
    return df, col, bad, batch, kept


def _training_compositions(kind, model, batch):
    """Which parsed rows are training compositions of a phase model with a domain (None for other models)."""
    import numpy as np

    if kind != "phase" or model.domain is None:
        return None
    return model.domain.training_match(np.asarray(batch.fractions), batch.elements)


def _score_any(kind, model, batch, formulas, threads, memory=True):
    """(p, in_domain, domain_score, reason, extra columns) of the parsed rows by a model of any kind."""
    if kind == "phase":
        return _score_phase(model, batch, threads, memory)
    if kind == "mixture":
        return (*_score_mixture(model, batch, threads), {})
    return (*_score_ssvae(model, formulas, threads), {})


def _evaluate(args) -> int:
    import numpy as np
    import pandas as pd

    from hea_fast._io import atomic_write, atomic_write_json
    from hea_fast.commands._tables import BadRows, write_table
    from hea_fast.phase.model import alloy_systems
    from hea_fast.validation.external import LabelError, evaluate_predictions, parse_labels, report_markdown

    kind, model = _load(args.model)
    df, col, bad, batch, kept = _read_formulas(args, "phase evaluate")
    if args.label_column not in df.columns:
        raise ValueError(f"{args.input}: no column {args.label_column!r} (columns: {', '.join(map(str, df.columns))})")
    single = [v.strip() for v in args.single.split(",") if v.strip()] if args.single else None
    try:
        y_all, _ = parse_labels(df[args.label_column].tolist(), single)
    except LabelError as exc:  # name the value where a spreadsheet shows it: its line (CSV) or 1-based row
        loc = BadRows("phase evaluate", args.input)
        loc.add(exc.row, exc.value, exc.detail)
        raise ValueError(f"{args.input}, {loc.where(exc.row)}, column {args.label_column!r}: label {exc.value!r} "
                         f"{exc.detail}") from None
    p, inside, _, reason, extra = _score_any(kind, model, batch, df[col].iloc[kept].tolist(), args.threads,
                                             not args.no_memory)
    y = y_all[kept]
    in_training = _training_compositions(kind, model, batch)
    systems = alloy_systems(batch)
    ok = np.isfinite(y) & np.isfinite(p)
    if not ok.any():
        raise ValueError(f"{args.input}: no row has both a label and a probability ({len(df)} rows, {len(bad)} "
                         f"unreadable formulas, {int(np.isnan(y_all).sum())} empty labels)")
    known = in_training
    if in_training is not None and "training_records" in extra:  # recorded, not trained on (sources tie): memory too
        known = in_training | (np.asarray(extra["training_records"], dtype=object) != "")
    report = evaluate_predictions(y, p, systems, inside, known, n_boot=args.n_boot, seed=args.seed)
    counts = {"rows": len(df), "unreadable_formula": len(bad), "no_label": int(np.isnan(y_all).sum()),
              "no_probability": int((~np.isfinite(p)).sum()),
              "scored": int(ok.sum())}
    title = f"{args.model} phase model on {Path(args.input).name} (label column {args.label_column!r})"
    text = report_markdown(report, title)
    notes = [f"{counts['scored']} of {counts['rows']} rows scored ({counts['unreadable_formula']} unreadable formulas, "
             f"{counts['no_label']} without a label, {counts['no_probability']} without a probability: "
             "elements without descriptor data or outside the model)."]
    if in_training is not None:
        notes.append("training compositions: the same elements, every fraction within 1e-3 of an alloy the model "
                     "was trained on" + ("" if args.no_memory else " or whose records it blends in (alloys the training "
                                         "data records but left out of training because their sources tie)")
                     + " (their score measures memory; 'new compositions' measures prediction).")
    print(text + "\n" + "\n".join(notes))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        rows = df.iloc[kept].reset_index(drop=True).copy()
        rows["label"] = y
        rows["p_single"] = p
        for c, v in extra.items():
            rows[c] = v
        if inside is not None:
            rows["in_domain"] = inside
        if in_training is not None:
            rows["training_composition"] = in_training
        rows["reason"] = reason
        write_table(rows, out / "predictions.csv")
        atomic_write_json(out / "metrics.json", {"model": args.model, "input": str(args.input),
                                                 "label_column": args.label_column, "single": single,
                                                 "counts": counts, "n_boot": args.n_boot, "seed": args.seed,
                                                 "slices": report}, strict=True, indent=1, default=float)
        atomic_write(out / "report.md", text + "\n" + "\n".join(notes) + "\n")
        if not args.no_plots:
            from hea_fast.validation.plots import reliability_figure

            reliability_figure(pd.DataFrame({"protocol": "external", "model": args.model, "y": y[ok].astype(int),
                                             "p": p[ok]}), "external", out / "reliability.png", title=title)
        print(f"wrote {out}/report.md, metrics.json, predictions.csv" + ("" if args.no_plots else ", reliability.png"))
    return 0


def info_dict(model, path: Path, full: bool = False) -> dict:
    """What `hea-fast phase info` prints: the model's shape, its domain and a summary of its training
    record (TRAINING.json: data, selected hyperparameters, calibration, the protocol metrics of the
    default model); `full` adds the whole record."""
    p = model.params
    trees = f"{p.n_trees} trees" + (f" of depth <= {p.max_depth}" if p.tree_link == "logit" else "")
    distilled = (model.metadata or {}).get("distillation")
    soft = (model.metadata or {}).get("tree_labels") == "fraction"
    from hea_fast._io import read_json

    record_path = path / "TRAINING.json"
    per_source = record_path.is_file() and read_json(record_path, what="training record").get("rows") == "sources"
    forest_fit = ("" if not soft else " fitted to the fraction of each source's records calling each training alloy "
                  "single phase, one row per (source, alloy)" if per_source else
                  " fitted to the fraction of the records calling each training alloy single phase")
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
                         "min_fraction_ratio": d.min_fraction_ratio, "min_components": d.min_components}
    if model.records is not None:  # what `phase predict` blends into the P of a recorded composition
        from hea_fast.phase.records import MEMORY_KAPPA

        r = model.records
        out["memory"] = {"recorded_compositions": len(r), "records": int(r.n_records.sum()),
                         "kappa": MEMORY_KAPPA, "rule": "p = (1 - w) p_model + w q, q = single-phase records / "
                         "records within 1e-3, w = n / (n + kappa)"}
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
    print(json_text(info_dict(model, path, args.full), indent=2, default=str))
    return 0


def register(sub) -> None:
    p = add_command(sub, "predict", _predict,
                    help="add p_single, in_domain, domain_score and reason to a table of formulas",
                    description="P(single-phase solid solution) of each formula by the default phase model "
                    "(hea_fast.phase: logistic regression on descriptors + element fractions and a random forest on "
                    "the descriptors, averaged; the bundled model has no calibration map, see its "
                    "TRAINING.json), with its applicability domain: in_domain, domain_score (<= 1 inside; "
                    "+inf for an element no training alloy has; NaN without descriptors) and the reason of a NaN or "
                    "an out-of-domain row. --model mixture|ssvae|released|DIR scores with another model (in_domain "
                    "and domain_score are then empty: no domain was measured for it).")
    p.add_argument("input", help="CSV (delimiter , ; tab or | found from the header; UTF-8 or Windows-1252) or "
                   "Parquet table with a formula column")
    add_formula_column(p)
    p.add_argument("--model", default="default", help=MODEL_HELP)
    add_errors_args(p, "p_single")
    p.add_argument("-o", "--output", required=True, type=output_table,
                   help="output .csv or .parquet (input columns + p_single, in_domain, domain_score, reason, "
                   "training_composition for a phase model, error)")
    p.add_argument("--neighbors", type=positive_int, default=None, metavar="K",
                   help="also write the K training alloys nearest each row in the domain's feature space: "
                   "neighbor1..K (formula), neighbor<j>_distance (domain_score units: 1 is the in-domain limit) "
                   "and neighbor<j>_single (a/b: a of the b sources reporting it call it single phase) "
                   "(default: none; phase models only)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--no-memory", action="store_true",
                   help="p_single of a recorded alloy is the model's alone (default: blended with the training data's "
                   "records of that alloy (within 1e-3), (1 - w) p_model + w q, q its single-phase records / records, "
                   "w = n / (n + 3) for its n records; p_model and training_records are then written too)")
    p.add_argument("--chunk-size", type=positive_int, default=CHUNK_ROWS, metavar="N",
                   help="rows read, scored and written at a time: memory stays flat however large the table; a "
                   "progress bar shows on tables of more than one chunk (default: %(default)s)")

    e = add_command(sub, "evaluate", _evaluate,
                    help="score a phase model on a labelled table of alloys (metrics with intervals, by domain and "
                    "by overlap with the training alloys)",
                    description="Accuracy, balanced accuracy, AUC, Brier, log-loss and expected calibration error "
                    "(95 % cluster-bootstrap intervals over alloy systems) of a model's P(single phase) against the "
                    "labels of a table: on all scored alloys, inside and outside the applicability domain, and on the "
                    "alloys that are training compositions of the model or new ones (a score on known alloys "
                    "measures memory). Labels: 0/1, yes/no, or phase names (FCC, BCC, HCP, also FCC_SS, single-phase "
                    "BCC, BCC (disordered), single phase = single phase; FCC+BCC, IM, AM, Laves, sigma, multiple "
                    "phases = not); ambiguous names (SS, B2) and other vocabularies need --single.")
    e.add_argument("input", help="CSV or Parquet table with a formula column and a label column")
    add_formula_column(e)
    e.add_argument("--label-column", required=True, metavar="NAME", help="column holding the labels")
    e.add_argument("--single", default=None, metavar="V1,V2",
                   help="label values (comma-separated, any case) that mean one solid-solution phase; every other "
                   "non-empty value is then 'not single phase' (default: the phase mapping above)")
    e.add_argument("--model", default="default", help=MODEL_HELP)
    e.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals (default: %(default)s)")
    e.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    e.add_argument("-o", "--out", default=None, metavar="DIR",
                   help="also write report.md, metrics.json, predictions.csv and reliability.png to DIR (default: "
                   "print the report only)")
    e.add_argument("--no-plots", action="store_true", help="with -o: skip reliability.png")
    e.add_argument("--no-memory", action="store_true",
                   help="score training compositions by the model alone (default: as `phase predict`, blended with "
                   "their training records)")
    e.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")

    i = add_command(sub, "info", _info, help="print what the default phase model is (training data, metrics, domain)",
                    description="The bundled (or a given) phase model as JSON: descriptors, elements, members, "
                    "calibration, applicability-domain threshold and its TRAINING.json record (data, hashes, "
                    "metrics, versions).")
    i.add_argument("--model", default="default",
                   help="default (the bundled phase model), fast (the bundled distilled model) or a directory "
                   "written by hea_fast.phase.PhaseModel.save")
    i.add_argument("--full", action="store_true", help="print the whole TRAINING.json record, not its summary")


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["phase", *sys.argv[1:]]))
