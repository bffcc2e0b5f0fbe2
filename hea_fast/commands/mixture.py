"""`hea-fast mixture search|fit|predict|screen` — the sparse anchor-guided mixture (arXiv 2504.20354).

search   rank descriptor subsets by mixture WBIC (CSV), resumable (--checkpoint), optional Dask
fit      fit a SparseMixtureClassifier on a dataset name or a CSV, write a model directory
predict  add a p_single column to a CSV of formulas
screen   keep rows with p_single >= threshold; with labels, report enrichment over the base rate
"""
from __future__ import annotations

import json
import os
import sys

DATASETS = ("singh2023", "yan2021")  # hea_fast.mixture.training_data.PHASE_DATASETS (not imported here: the
# CLI imports every command module at start-up, and the mixture package pulls in scikit-learn)
# Phase strings that mean "single-phase solid solution" when labels are not 0/1.
DEFAULT_POSITIVE = ("1", "true", "bcc", "fcc", "hcp", "sp-ss", "ss", "single", "single-phase")


def _csv_list(s):
    return [t.strip() for t in str(s).split(",") if t.strip()]


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
    import pandas as pd

    if args.data in DATASETS:
        from hea_fast.mixture.training_data import load_phase_dataset, supported_rows

        comp, y, src = load_phase_dataset(args.data)
        desc = _csv_list(args.descriptors) if getattr(args, "descriptors", None) else None
        mask, bad = supported_rows(comp, desc)
        if bad:
            print(f"dropping {int((~mask).sum())} alloys without element/pair data for the descriptors or "
                  f"with non-finite descriptors, e.g. {bad[:5]}", file=sys.stderr)
            comp, y = comp[np.flatnonzero(mask)], y[mask]
        return comp, y, src
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"{args.data!r} is neither a dataset name {DATASETS} nor a CSV file")
    df = pd.read_csv(args.data)
    for col, what in ((args.formula_column, "--formula-column"), (args.label_column, "--label-column")):
        if col not in df.columns:
            raise ValueError(f"{what} {col!r} is not a column of {args.data} (columns: {list(df.columns)})")
    return list(df[args.formula_column].astype(str)), _to01(df[args.label_column], _csv_list(args.positive)), args.data


def _add_data_args(p):
    p.add_argument("data", help=f"dataset name ({', '.join(DATASETS)}) or a CSV file")
    p.add_argument("--formula-column", default="formula", help="CSV column with formulas (default: formula)")
    p.add_argument("--label-column", default="label", help="CSV column with labels (default: label)")
    p.add_argument("--positive", default=",".join(DEFAULT_POSITIVE),
                   help="label values counted as single-phase when labels are not 0/1")


def _add_model_args(p):
    p.add_argument("--descriptors", default=None, help="comma-separated candidate descriptors (default: 15)")
    p.add_argument("--max-size", type=int, default=3, help="largest descriptor subset (the paper's L)")
    p.add_argument("--anchors", default="NbMoTaW,CoCrFeMnNi",
                   help="comma-separated anchor names/formulas, 'auto', or 'none' for one global model")
    p.add_argument("--n-anchors", type=int, default=2, help="K for --anchors auto")
    p.add_argument("--cluster-on", choices=("subset", "all"), default="subset")
    p.add_argument("--beta-n", choices=("cluster", "total"), default="cluster")
    p.add_argument("--prior-var", type=float, default=10.0)
    p.add_argument("--model-prior", choices=("uniform", "size"), default="uniform")
    p.add_argument("--n-iter", type=int, default=400)
    p.add_argument("--burn-in", type=int, default=100)
    p.add_argument("--n-chains", type=int, default=4)
    p.add_argument("--n-draws", type=int, default=250)
    p.add_argument("--chunk-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--checkpoint", default=None, help="JSON checkpoint of the subset search (resumable)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address to spread the search over")
    p.add_argument("--no-progress", action="store_true")


def _model_from_args(args):
    from hea_fast.mixture.model import SparseMixtureClassifier

    anchors = args.anchors
    if anchors.strip().lower() in ("none", "global", ""):
        anchors = ()
    elif anchors.strip() != "auto":
        anchors = _csv_list(anchors)
    return SparseMixtureClassifier(
        anchors=anchors, descriptors=_csv_list(args.descriptors) if args.descriptors else None,
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


def _write_csv(df, path):
    from hea_fast._io import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def _fit_model(args, compare_global=True):
    """(fitted model, labels, source) for `search` and `fit`, with the Dask client (if any) closed."""
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
    model, y, src = _fit_model(args, compare_global=False)
    rk = model.ranking_.copy()
    rk["subset"] = [";".join(s) for s in rk["subset"]]
    rk["indices"] = [";".join(map(str, s)) for s in rk["indices"]]
    _write_csv(rk, args.output)
    print(f"{len(rk)} subsets from {src} (n = {len(y)}); best: {rk.iloc[0]['subset']} "
          f"WBIC = {rk.iloc[0]['wbic']:.2f} ± {rk.iloc[0]['stderr']:.2f}; table -> {args.output}")
    return 0


def _fit(args) -> int:
    model, y, src = _fit_model(args)
    model.save(args.output)
    summary = dict(source=src, n=len(y), anchors=model.anchor_names_, selected=model.selected_descriptors_,
                   free_energy=model.free_energy_, global_free_energy=model.global_free_energy_,
                   cluster_sizes=[int(v) for v in model.cluster_sizes_], model_dir=args.output)
    print(json.dumps(summary, indent=2))
    return 0


def _predict_frame(args):
    import pandas as pd

    from hea_fast.mixture.model import SparseMixtureClassifier

    model = SparseMixtureClassifier.load(args.model)
    df = pd.read_csv(args.input)
    if args.formula_column not in df.columns:
        raise ValueError(f"--formula-column {args.formula_column!r} is not a column of {args.input} "
                         f"(columns: {list(df.columns)})")
    formulas = list(df[args.formula_column].astype(str))
    out = df.copy()
    out["p_single"] = model.predict_proba(formulas)[:, 1]
    if model.n_clusters_ > 1:
        out["cluster"] = [model.anchor_names_[c] for c in model.cluster_of(formulas)]
    return out


def _predict(args) -> int:
    out = _predict_frame(args)
    _write_csv(out, args.output)
    print(f"{len(out)} rows -> {args.output}")
    return 0


def _screen(args) -> int:
    from hea_fast.mixture.enrichment import enrichment

    out = _predict_frame(args)
    passed = out[out["p_single"] >= args.threshold]
    report = dict(threshold=args.threshold, n_total=len(out), n_pass=len(passed))
    if args.label_column:
        if args.label_column not in out.columns:
            raise ValueError(f"--label-column {args.label_column!r} is not a column of {args.input}")
        y = _to01(out[args.label_column], _csv_list(args.positive))
        report.update(enrichment(y, out["p_single"].to_numpy(), threshold=args.threshold,
                                 n_boot=args.n_boot, seed=args.seed).to_dict())
    if args.output:
        _write_csv(passed, args.output)
        report["output"] = args.output
    print(json.dumps(report, indent=2, default=float))
    return 0


def register(sub) -> None:
    p = sub.add_parser("search", help="rank descriptor subsets by mixture WBIC",
                       description="Exhaustive WBIC search over descriptor subsets (arXiv 2504.20354).")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("-o", "--output", default="mixture_ranking.csv", help="ranking CSV")
    p.set_defaults(func=_search)

    p = sub.add_parser("fit", help="fit a SparseMixtureClassifier and write a model directory",
                       description="Fit anchors + subset search + per-cluster posterior; save to a directory.")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="model directory to write")
    p.set_defaults(func=_fit)

    for name, fn, hlp in (("predict", _predict, "add p_single to a CSV of formulas"),
                          ("screen", _screen, "keep rows with p_single >= threshold; report enrichment")):
        p = sub.add_parser(name, help=hlp, description=hlp)
        p.add_argument("input", help="CSV with a formula column")
        p.add_argument("--model", required=True, help="model directory written by `mixture fit`")
        p.add_argument("--formula-column", default="formula")
        if name == "predict":
            p.add_argument("-o", "--output", required=True, help="output CSV (input rows + p_single)")
        else:
            p.add_argument("--threshold", type=float, default=0.75)
            p.add_argument("--label-column", default=None, help="labels for the enrichment report")
            p.add_argument("--positive", default=",".join(DEFAULT_POSITIVE))
            p.add_argument("--n-boot", type=int, default=2000)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("-o", "--output", default=None, help="CSV of the passing rows")
        p.set_defaults(func=fn)


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
