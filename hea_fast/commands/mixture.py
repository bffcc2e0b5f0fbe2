"""`hea-fast mixture search|fit|predict|screen` — the sparse anchor-guided mixture (arXiv 2504.20354).

search   rank descriptor subsets by mixture WBIC (printed; CSV with -o), resumable (--checkpoint), optional Dask
fit      fit a SparseMixtureClassifier on a dataset name or a table, write a model directory
predict  add p_single (and the cluster) to a table of formulas; the bundled model by default
screen   keep rows with p_single >= threshold; with labels, report enrichment over the base rate
"""
from __future__ import annotations

import os
import sys

from hea_fast._io import json_text
from hea_fast.commands._common import add_command, csv_list, positive_int, probability, say
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table

DATASETS = ("singh2023", "yan2021")  # hea_fast.mixture.training_data.PHASE_DATASETS (not imported here: the
# CLI imports every command module at start-up, and the mixture package pulls in scikit-learn)
# Phase strings that mean "single-phase solid solution" when labels are not 0/1.
DEFAULT_POSITIVE = ("1", "true", "bcc", "fcc", "hcp", "sp-ss", "ss", "single", "single-phase")
MODEL_HELP = ("default | mixture (the bundled sparse-mixture model, trained on Singh 2023) or a directory written by "
              "`hea-fast mixture fit` (default: default)")


def _to01(values, positive):
    import numpy as np
    import pandas as pd

    s = pd.Series(values)
    if s.dtype == bool:
        return s.to_numpy().astype(np.int64)
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all() and set(num.unique()) <= {0, 1}:
        return num.to_numpy().astype(np.int64)
    pos = {p.lower() for p in positive}
    lab = s.astype(str).str.strip().str.lower()
    return lab.isin(pos).to_numpy().astype(np.int64)


def _load_training(args):
    import numpy as np

    desc = csv_list(args.descriptors) if getattr(args, "descriptors", None) else None
    if args.data in DATASETS:
        from hea_fast.mixture.training_data import load_phase_dataset, supported_rows

        comp, y, src = load_phase_dataset(args.data)
        mask, bad = supported_rows(comp, desc)
        if bad:
            say(f"mixture {args.func.__name__.strip('_')}", f"dropping {int((~mask).sum())} alloys without "
                f"element/pair data for the descriptors or with non-finite descriptors, e.g. {bad[:5]}")
            comp, y = comp[np.flatnonzero(mask)], y[mask]
        return comp, y, src
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"{args.data!r} is neither a dataset name {DATASETS} nor a file")
    from hea_fast.commands._tables import BadRows, featurize_rows, formula_column, read_table
    from hea_fast.mixture.model import DEFAULT_DESCRIPTORS

    cmd = f"mixture {args.func.__name__.strip('_')}"
    df = read_table(args.data)
    col = formula_column(df.columns, args.formula_column, args.data)
    if args.label_column not in df.columns:
        raise ValueError(f"--label-column {args.label_column!r} is not a column of {args.data} "
                         f"(columns: {list(df.columns)})")
    bad = BadRows(cmd, args.data)
    batch, kept = bad.parse(df[col])
    for i in np.flatnonzero(df[args.label_column].isna().to_numpy()):
        bad.add(int(i), df[col].iloc[i], "empty label cell")
    # rows the descriptors cannot describe cannot be trained on either
    feats, unusable = featurize_rows(batch, list(desc or DEFAULT_DESCRIPTORS))
    for i, reason in unusable.items():
        bad.add(int(kept[i]), df[col].iloc[int(kept[i])], reason)
    fin = np.isfinite(feats.to_numpy(dtype=float)).all(axis=1)
    _flag_nonfinite(bad, kept, df[col], fin, unusable, args.errors)
    bad.report(len(df), "skip", args.errors_out)
    use = sorted(set(range(len(df))) - {p for p, _, _ in bad.items})
    if not use:
        raise ValueError(f"no row of {args.data} can be used for training")
    pos = {int(p): j for j, p in enumerate(kept)}
    return batch[[pos[p] for p in use]], _to01(df[args.label_column].iloc[use], csv_list(args.positive)), args.data


def _add_data_args(p):
    p.add_argument("data", help=f"dataset name ({', '.join(DATASETS)}) or a CSV/Parquet table")
    add_formula_column(p)
    p.add_argument("--label-column", default="label", help="table column with the labels (0/1 or phase names)")
    p.add_argument("--positive", default=",".join(DEFAULT_POSITIVE),
                   help="label values counted as single-phase when labels are not 0/1")
    add_errors_args(p, choices=("skip", "raise"))


def _add_model_args(p):
    p.add_argument("--descriptors", default=None,
                   help="comma-separated candidate descriptors (default: the 15 of the paper's set; see "
                   "`hea-fast featurize --list`)")
    p.add_argument("--max-size", type=positive_int, default=3, help="largest descriptor subset (the paper's L)")
    p.add_argument("--anchors", default="NbMoTaW,CoCrFeMnNi",
                   help="comma-separated anchor names/formulas (one cluster per anchor), 'auto' (the --n-anchors "
                   "named anchor alloys of hea_fast/data/anchors.csv whose clustering gives the lowest mixture "
                   "WBIC), or 'none' for one global model")
    p.add_argument("--n-anchors", type=positive_int, default=2, help="number of clusters K for --anchors auto")
    p.add_argument("--cluster-on", choices=("subset", "all"), default="subset",
                   help="assign alloys to the nearest anchor in the selected subset's descriptors or in all of them")
    p.add_argument("--beta-n", choices=("cluster", "total"), default="cluster",
                   help="WBIC inverse temperature 1/log n with n the cluster's size or the total size")
    p.add_argument("--prior-var", type=float, default=10.0,
                   help="variance of the Gaussian prior on the standardized logistic weights")
    p.add_argument("--model-prior", choices=("uniform", "size"), default="uniform",
                   help="prior over descriptor subsets: uniform, or favouring small subsets")
    p.add_argument("--n-iter", type=positive_int, default=400,
                   help="Gibbs iterations per chain kept after the burn-in (at least 8)")
    p.add_argument("--burn-in", type=int, default=100,
                   help="Gibbs iterations discarded per chain before the --n-iter kept")
    p.add_argument("--n-chains", type=positive_int, default=4, help="Gibbs chains per subset and cluster")
    p.add_argument("--n-draws", type=positive_int, default=250, help="posterior draws per chain kept for prediction")
    p.add_argument("--chunk-size", type=positive_int, default=64, help="subsets per task of the WBIC search")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampler and of --anchors auto")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--checkpoint", default=None,
                   help="JSON checkpoint of the subset search, resumable; the first search of --anchors auto and "
                   "fit's global comparison are checkpointed beside it (ck.json: ck.init.json, ck.global.json) "
                   "(default: none)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address to spread the search over (default: local threads)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _model_from_args(args):
    from hea_fast.mixture.model import SparseMixtureClassifier

    anchors = args.anchors
    if anchors.strip().lower() in ("none", "global", ""):
        anchors = ()
    elif anchors.strip() != "auto":
        anchors = csv_list(anchors)
    return SparseMixtureClassifier(
        anchors=anchors, descriptors=csv_list(args.descriptors) if args.descriptors else None,
        max_size=args.max_size, cluster_on=args.cluster_on, beta_n=args.beta_n, prior_var=args.prior_var,
        model_prior=None if args.model_prior == "uniform" else args.model_prior, n_iter=args.n_iter,
        burn_in=args.burn_in, n_chains=args.n_chains, n_draws=getattr(args, "n_draws", 250),
        n_anchors=args.n_anchors, chunk_size=args.chunk_size, threads=args.threads,
        progress=not args.no_progress, checkpoint=args.checkpoint, random_state=args.seed,
    )


def _client(args):
    if not args.scheduler:
        return None
    from dask.distributed import Client

    return Client(args.scheduler)


def _write(df, path):
    from hea_fast.commands._tables import write_table

    write_table(df, path)


def _fit_model(args, compare_global=True):
    """(fitted model, labels, source) for `search` and `fit`, with the Dask client (if any) closed."""
    # --n-iter counts the iterations kept *after* the burn-in (hea_fast.mixture.wbic), so a burn-in
    # longer than --n-iter is valid
    if args.burn_in < 0:
        raise ValueError(f"--burn-in must be a non-negative number of iterations, got {args.burn_in}")
    if args.n_iter < 8:
        raise ValueError(f"--n-iter must be at least 8 (iterations kept per chain after the burn-in), got {args.n_iter}")
    formulas, y, src = _load_training(args)
    model = _model_from_args(args)
    if not compare_global:
        model.compare_global = False
    client = _client(args)
    model.client = client
    try:
        model.fit(formulas, y)
    finally:
        model.client = None
        if client is not None:
            client.close()
    return model, y, src


# ---------------------------------------------------------------------------------------------
def _search(args) -> int:
    import pandas as pd

    model, y, src = _fit_model(args, compare_global=False)
    rk = model.ranking_.copy()
    rk["subset"] = [";".join(s) for s in rk["subset"]]
    rk["indices"] = [";".join(map(str, s)) for s in rk["indices"]]
    if args.output:
        _write(rk, args.output)
    with pd.option_context("display.width", 140, "display.max_columns", 12, "display.precision", 3):
        print(rk.head(10).to_string(index=False))
    print(f"{len(rk)} subsets from {src} (n = {len(y)}); best: {rk.iloc[0]['subset']} "
          f"WBIC = {rk.iloc[0]['wbic']:.2f} ± {rk.iloc[0]['stderr']:.2f}"
          + (f"; table -> {args.output}" if args.output else "; -o FILE writes the whole table"))
    cap = int(rk["size"].max()) if len(rk) else 0
    print(f"model_prob is normalised over these {len(rk)} subsets only (cap: size <= {cap}); a larger cap can "
          "move it. WBIC differences approximate log Bayes factors (Monte Carlo error: stderr).")
    return 0


def _fit(args) -> int:
    model, y, src = _fit_model(args)
    model.save(args.output)
    summary = dict(source=src, n=len(y), anchors=model.anchor_names_, selected=model.selected_descriptors_,
                   free_energy=model.free_energy_, global_free_energy=model.global_free_energy_,
                   cluster_sizes=[int(v) for v in model.cluster_sizes_], model_dir=args.output)
    print(json_text(summary, indent=2))
    return 0


def _predict_rows(model, df, col, bad, errors: str, offset: int = 0):
    """`df` + p_single (+ cluster), NaN where a row cannot be scored; its bad rows recorded in `bad` (`df`
    holds rows offset, offset+1, ... of the file)."""
    import numpy as np

    from hea_fast.commands._tables import featurize_rows

    batch, kept = bad.parse(df[col], offset)
    feats, unusable = featurize_rows(batch, list(model.feature_names_in_), table=model.table)
    for i, reason in unusable.items():
        bad.add(offset + int(kept[i]), df[col].iloc[int(kept[i])], reason)
    F = feats.to_numpy(dtype=float)
    fin = np.isfinite(F).all(axis=1)
    _flag_nonfinite(bad, kept, df[col], fin, unusable, errors, offset)
    out = df.copy()
    p = np.full(len(df), np.nan)
    good = np.flatnonzero(fin)
    if good.size:
        rows = feats.iloc[good]
        p[kept[good]] = model.predict_proba(rows)[:, 1]
    out["p_single"] = p
    if model.n_clusters_ > 1:
        cl = np.full(len(df), "", dtype=object)
        if good.size:
            cl[kept[good]] = [model.anchor_names_[c] for c in model.cluster_of(rows)]
        out["cluster"] = cl
    return out


def _predict(args) -> int:
    from hea_fast.commands._common import load_mixture_model
    from hea_fast.commands._stream import stream_table

    model = load_mixture_model(args.model)
    bad, n_rows, n_out = stream_table("mixture predict", args, lambda chunk, col, bad, offset: _predict_rows(
        model, chunk, col, bad, "keep", offset))  # --chunk-size rows at a time: flat memory
    bad.report(n_rows, args.errors, args.errors_out)
    print(f"{n_out} rows -> {args.output}")
    return 0


def _screen(args) -> int:
    import numpy as np

    from hea_fast.commands._common import load_mixture_model
    from hea_fast.commands._stream import stream_table
    from hea_fast.mixture.enrichment import enrichment

    model = load_mixture_model(args.model)
    positive = csv_list(args.positive)
    # what the report needs of every scored row, read chunk by chunk (flat memory): p_single and, with
    # --label-column, the 0/1 label (-1: the row has no label and stays out of the enrichment)
    ps, labels, n_out = [], [], [0]

    def seen(out):
        n_out[0] += len(out)
        scored = out[out["p_single"].notna()]
        ps.append(scored["p_single"].to_numpy(dtype=float))
        if args.label_column:
            if args.label_column not in out.columns:
                raise ValueError(f"--label-column {args.label_column!r} is not a column of {args.input}")
            # a row without a label is neither single- nor multi-phase: it stays out of the enrichment
            # (counting it as 0 would lower the base rate; a float column with one empty cell would even
            # turn every "1.0" into 0 through the phase-name path of _to01)
            lab = scored[args.label_column]
            has = lab.notna().to_numpy() & (lab.astype(str).str.strip() != "").to_numpy()
            y = np.full(len(scored), -1, dtype=np.int64)
            if has.any():
                y[has] = _to01(lab[has], positive)
            labels.append(y)

    def passing(out):
        return out[(out["p_single"] >= args.threshold).to_numpy()].drop(columns=["error"], errors="ignore")

    bad, n_rows, _ = stream_table("mixture screen", args, lambda chunk, col, bad, offset: _predict_rows(
        model, chunk, col, bad, "keep", offset), seen, output=args.output, select=passing)
    bad.report(n_rows, args.errors, args.errors_out)
    p = np.concatenate(ps)
    report = dict(threshold=args.threshold, n_total=n_out[0], n_pass=int((p >= args.threshold).sum()))
    if len(bad):
        report["n_unscored"] = len(bad)
    if args.label_column:
        y = np.concatenate(labels)
        has = y >= 0
        if not has.all():
            report["n_unlabelled"] = int((~has).sum())
        if not has.any():
            raise ValueError(f"--label-column {args.label_column!r} of {args.input} has no label in the scored rows")
        report.update(enrichment(y[has], p[has], threshold=args.threshold,
                                 n_boot=args.n_boot, seed=args.seed).to_dict())
    if args.output:
        report["output"] = args.output
    print(json_text(report, indent=2, default=float))
    return 0


def register(sub) -> None:
    p = add_command(sub, "search", _search, help="rank descriptor subsets by mixture WBIC",
                    description="Exhaustive WBIC search over descriptor subsets (arXiv 2504.20354); prints the "
                    "best subsets (-o writes the whole ranking).")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("-o", "--output", default=None, type=output_table,
                   help="ranking table, .csv or .parquet (default: printed only)")

    p = add_command(sub, "fit", _fit, help="fit a SparseMixtureClassifier and write a model directory",
                    description="Fit anchors + subset search + per-cluster posterior; save to a directory "
                    "(config.json, arrays.npz, ranking.csv).")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="model directory to write")

    for name, fn, hlp in (("predict", _predict, "add p_single (and the cluster) to a table of formulas"),
                          ("screen", _screen, "keep rows with p_single >= threshold; report enrichment")):
        p = add_command(sub, name, fn, help=hlp)
        p.add_argument("input", help="CSV or Parquet table with a formula column")
        p.add_argument("--model", default="default", help=MODEL_HELP)
        add_formula_column(p)
        add_errors_args(p, "p_single")
        p.add_argument("--chunk-size", type=positive_int, default=100_000, metavar="N",
                       help="rows read, scored and written at a time (memory stays flat however large the "
                       "table; a progress bar shows on tables of more than one chunk) (default: %(default)s)")
        if name == "predict":
            p.add_argument("-o", "--output", required=True, type=output_table,
                           help="output .csv or .parquet (input rows + p_single (+ cluster) + error)")
        else:
            p.add_argument("--threshold", type=probability, default=0.75,
                           help="P(single phase) a row needs to pass, a probability")
            p.add_argument("--label-column", default=None,
                           help="labels for the enrichment report (default: none, counts only)")
            p.add_argument("--positive", default=",".join(DEFAULT_POSITIVE),
                           help="label values counted as single-phase when labels are not 0/1")
            p.add_argument("--n-boot", type=positive_int, default=2000, help="bootstrap resamples of the CI")
            p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
            p.add_argument("-o", "--output", default=None, type=output_table,
                           help="table of the passing rows, .csv or .parquet (default: none written)")


def __getattr__(name):
    if name == "supported_rows":  # moved to the library (one release of this alias)
        import warnings

        from hea_fast.mixture import training_data

        warnings.warn("hea_fast.commands.mixture.supported_rows is deprecated; import it from "
                      "hea_fast.mixture.training_data instead", DeprecationWarning, stacklevel=2)
        return training_data.supported_rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["mixture", *sys.argv[1:]]))


def _flag_nonfinite(bad, kept, formulas, finite, unusable, errors: str, offset: int = 0) -> None:
    """Add the rows with a non-finite descriptor (not already unusable) to `bad`, in row order; raise
    on any bad row when errors == "raise". `formulas` holds rows offset, offset+1, ... of the file."""
    import numpy as np

    for i in np.flatnonzero(~finite):
        if int(i) not in unusable:
            bad.add(offset + int(kept[i]), formulas.iloc[int(kept[i])],
                    "non-finite descriptor (e.g. Lambda of a pure element)")
    bad.items.sort(key=lambda t: t[0])
    if errors == "raise":
        bad.raise_if_any()
