"""How the applicability domain splits the held-out predictions of the cross-source protocol (issue #15).

For every leave-one-source-out fold of benchmarks/papers/phase_validation (the same folds as
`hea_fast.validation.protocols.loso_folds`), fit `hea_fast.phase.ApplicabilityDomain` on the
fold's training compositions, score the held-out source, and evaluate every model's held-out
predictions (read from results.jsonl, nothing refitted) on the slices the domain defines:

* all held-out rows; alloys of >= 3 elements; the screening space (>= 5 elements, each 5-35 at.%); binaries;
* in / out of the domain with the settings of the bundled default model (min_components = 3) and
  without the component rule (min_components = 1, the earlier default);
* the alloys each rule puts out (unknown element, fraction range, distance, components).

With ``--refit-multicomponent`` it also refits the default model on folds restricted to alloys of
>= 3 elements (training and test; log ``multicomponent.jsonl``, resumable; about a minute) and
compares it with the model trained on all rows, on the same >= 3-element held-out rows.

Metrics and 95 % cluster-bootstrap intervals (alloy systems) as in table.md. The slices are
analyses of where the models fail, not a selection: the default model and its domain settings
were fixed before this run, and nothing here feeds back into training.

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/papers/phase_validation/domain_eval.py [--refit-multicomponent]

Writes domain.json and domain.md next to this script (atomically); about a minute on one core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from hea_fast._io import atomic_write, atomic_write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT = "ensemble_forest_soft"  # the bundled default (scripts/train_default_phase.py; ensemble_distilled_soft until 2026-12-06 23:38 UTC)
SHOWN = ("accuracy", "auc", "log_loss", "ece")


def fold_domains(data: pd.DataFrame, min_components: int):
    """Per held-out source: the test frame with columns in_domain_1 / in_domain_<m> / domain_reason_<m>."""
    from hea_fast.phase import ApplicabilityDomain
    from hea_fast.validation.data import element_columns
    from hea_fast.validation.protocols import loso_folds

    out = []
    for fold in loso_folds(data):
        els = element_columns(fold.train)
        test = fold.test.copy()
        for m in sorted({1, min_components}):
            dom = ApplicabilityDomain(min_components=m).fit(fold.train[els], threads=1)
            s = dom.score(fold.test[els], threads=1)
            test[f"in_domain_{m}"] = s["in_domain"].to_numpy()
            test[f"domain_reason_{m}"] = s["domain_reason"].to_numpy()
            test[f"domain_score_{m}"] = s["domain_score"].to_numpy()
        test["fold"] = fold.name
        out.append(test)
    return out


def loso_predictions(log_path: Path, protocol: str = "loso") -> dict:
    """{(fold, model): held-out probabilities} of the `protocol` records (default leave one source
    out: fold = the held-out source) of a `hea_fast.validation` results log (in the order of the
    fold's test rows)."""
    from hea_fast.validation.protocols import ResultsLog

    return {(r["fold"], r["model"]): np.asarray(r["p"], dtype=np.float64)
            for r in ResultsLog(log_path).records if r["protocol"] == protocol}


def metric_row(name: str, model: str, y, p, groups, n_boot: int) -> dict:
    """One table row: every metric of `hea_fast.validation.scores.metrics` with its interval."""
    from hea_fast.validation.scores import metrics

    r = metrics(y, p, n_boot=n_boot, seed=0, groups=groups)
    scored = [k for k in r if isinstance(r[k], dict)]
    return {"slice": name, "model": model, "n": r["n"], "n_pos": r["n_pos"], "n_groups": r["n_groups"],
            **{k: r[k]["value"] for k in scored}, **{f"{k}_lo": r[k]["lo"] for k in scored},
            **{f"{k}_hi": r[k]["hi"] for k in scored}}


#: the screening space's definition (`hea_fast.screen.hea_space`): every element 5-35 at.% (keys are at 1e-3)
HEA_SLICE = "HEA space (>= 5 elements, each 5-35 at.%)"


def slices(t: pd.DataFrame, m: int) -> dict:
    from hea_fast.validation.data import element_columns

    reason = t[f"domain_reason_{m}"].astype(str)
    n_el = t["n_elements"].to_numpy()
    F = t[element_columns(t)].to_numpy(np.float64)
    in_range = np.where(F > 0, (F >= 0.05 - 5e-4) & (F <= 0.35 + 5e-4), True).all(axis=1)
    return {
        "all": np.ones(len(t), dtype=bool),
        ">= 3 elements": n_el >= 3,
        HEA_SLICE: (n_el >= 5) & in_range,
        "binaries": n_el == 2,
        f"in domain (min_components={m})": t[f"in_domain_{m}"].to_numpy(bool),
        f"out of domain (min_components={m})": ~t[f"in_domain_{m}"].to_numpy(bool),
        "in domain (min_components=1)": t["in_domain_1"].to_numpy(bool),
        "out of domain (min_components=1)": ~t["in_domain_1"].to_numpy(bool),
        "out: unknown or rare element": reason.str.contains("absent from the training|rare in the training").to_numpy(),
        "out: fraction range": reason.str.contains("outside its training range").to_numpy(),
        "out: distance": reason.str.contains("-NN distance").to_numpy(),
        "out: fewer elements than min_components": reason.str.contains("min_components").to_numpy(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(HERE / "results.jsonl"))
    ap.add_argument("--min-components", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--refit-multicomponent", action="store_true",
                    help="also refit the default on >= 3-element folds (log multicomponent.jsonl)")
    args = ap.parse_args(argv)
    from hea_fast.validation.data import harmonised_phase_data

    m = args.min_components
    data = harmonised_phase_data()
    tests = fold_domains(data, m)
    recs = loso_predictions(Path(args.results))
    models = sorted({k[1] for k in recs}, key=lambda s: (s != DEFAULT, s))
    t = pd.concat(tests, ignore_index=True)
    P = {mo: np.concatenate([recs[(f["fold"].iloc[0], mo)] for f in tests]) for mo in models}
    y = t["single_phase"].to_numpy(np.int64)
    groups = t["system"].to_numpy()
    rows = []
    for name, mask in slices(t, m).items():
        for mo in models if name in ("all", ">= 3 elements", HEA_SLICE, f"in domain (min_components={m})") else (DEFAULT,):
            if mask.sum():
                rows.append(metric_row(name, mo, y[mask], P[mo][mask], groups[mask], args.n_boot))
    if args.refit_multicomponent:
        rows += refit_multicomponent(data, Path(args.out) / "multicomponent.jsonl", args.n_boot)
    by_source = (t.assign(out=~t[f"in_domain_{m}"]).groupby("fold")
                 .agg(n=("out", "size"), out=("out", "sum")).reset_index().to_dict(orient="records"))
    res = {"command": "python benchmarks/papers/phase_validation/domain_eval.py " + " ".join(argv or sys.argv[1:]),
           "default_model": DEFAULT, "min_components": m, "n_boot": args.n_boot,
           "bootstrap": "percentile, clusters = alloy systems, seed 0", "rows": rows,
           "out_of_domain_by_source": by_source}
    out = Path(args.out)
    atomic_write_json(out / "domain.json", res, indent=1,
                      default=lambda o: o.item() if hasattr(o, "item") else str(o))
    atomic_write(out / "domain.md", markdown(rows, by_source, m))
    print(markdown(rows, by_source, m))
    return 0


def refit_multicomponent(data: pd.DataFrame, log: Path, n_boot: int) -> list:
    """The default model fitted and tested on leave-one-source-out folds of the >= 3-element alloys."""
    from hea_fast.validation.protocols import loso_folds, run

    attrs = dict(data.attrs)
    data = data[data["n_elements"] >= 3].reset_index(drop=True)
    data.attrs.update(attrs)
    pred = run([DEFAULT], loso_folds(data), seed=0, log=log, progress=print)
    return [metric_row(">= 3 elements, model trained on >= 3 elements only", DEFAULT, pred["y"].to_numpy(),
                       pred["p"].to_numpy(), pred["system"].to_numpy(), n_boot)]


def _cell(r, k):
    return f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]"


def markdown(rows, by_source, m) -> str:
    head = "| slice | model | n | single-phase | " + " | ".join(SHOWN) + " |"
    lines = ["# Held-out predictions (leave one source out) by applicability domain", "",
             "Made by `domain_eval.py` (see its docstring); value [95 % cluster-bootstrap interval].", "",
             head, "|" + "---|" * (4 + len(SHOWN))]
    for r in rows:
        lines.append(f"| {r['slice']} | {r['model']} | {r['n']} | {r['n_pos'] / r['n']:.2f} | "
                     + " | ".join(_cell(r, k) for k in SHOWN) + " |")
    lines += ["", f"Out of domain (min_components={m}) per held-out source:", "", "| source | rows | out |",
              "|---|---|---|"]
    lines += [f"| {b['fold']} | {b['n']} | {b['out']} ({b['out'] / b['n']:.0%}) |" for b in by_source]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
