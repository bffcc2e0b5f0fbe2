"""`hea-fast validate phase`: cross-source validation of the phase classifiers (hea_fast.validation).

Harmonises the phase-labelled shared datasets to single-phase solid solution vs not, then runs
leave-one-source-out, K-fold grouped by alloy system and (as an optimistic reference) random
K-fold for every model, and writes results.jsonl (resume log), results.json, table.md and
reliability_<protocol>.png into ``--out``. An interrupted run resumes from results.jsonl.
"""
from __future__ import annotations

import shlex
import sys


def register(subparsers) -> None:
    # no hea_fast.validation import here (it pulls in scikit-learn): `hea-fast --help` stays fast
    p = subparsers.add_parser(
        "phase", help="Cross-source validation of the phase classifiers (LOSO, grouped K-fold)",
        description="Harmonise the phase-labelled datasets and score every model by leave-one-source-out "
                    "and K-fold grouped by alloy system (bootstrap CIs, reliability diagrams).")
    p.add_argument("-o", "--out", default="phase_validation", help="output folder (default: %(default)s)")
    p.add_argument("--models", default="all",
                   help="comma-separated model names among " + ", ".join(MODEL_NAMES) + " (default: all; lgbm "
                        "needs the lightgbm extra)")
    p.add_argument("--protocols", default="loso,grouped,random",
                   help="comma-separated protocols among loso, grouped, random (default: %(default)s)")
    p.add_argument("--sources", default="all",
                   help="comma-separated sources among yan2021, borg2020, singh2023, machaka2021, gao2017, "
                        "peivaste2023 (default: all)")
    p.add_argument("-k", "--folds", type=int, default=5, help="K of the K-fold protocols (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of folds, models and bootstrap (default: %(default)s)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default: %(default)s)")
    p.add_argument("--conflict", choices=("majority", "drop"), default="majority",
                   help="conflicting labels: majority vote (ties dropped) or drop any disagreement")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default: %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip the reliability PNGs")
    p.add_argument("--quiet", action="store_true", help="no per-fold progress lines")
    p.add_argument("--match-tol", type=float, default=0.0,
                   help="leave-one-source-out also drops training compositions within this largest |Δ fraction| "
                   "of a held-out one (e.g. 0.001: the key resolution; rounding can put such near-twins under "
                   "another key); 0 = by key only, as the stored results (default: %(default)s)")
    p.set_defaults(func=_phase)


#: `hea_fast.validation.MODELS` by name (kept here so `--help` does not import scikit-learn; a test checks it).
MODEL_NAMES = ("prior", "logreg", "logreg_fractions", "hgb", "hgb_fractions", "hgb_wide", "lgbm", "mixture", "mixture_l3",
               "ssvae_head", "ensemble", "ensemble_calibrated", "ensemble_forest", "ensemble_distilled",
               "ensemble_distilled_calibrated", "ensemble_forest_soft", "ensemble_distilled_soft",
               "ensemble_forest_soft_calibrated", "ensemble_forest_sources")


def _csv(s: str, option: str, known) -> list:
    out = [x.strip() for x in s.split(",") if x.strip()]
    if not out:
        raise ValueError(f"{option} {s!r} names nothing; give one or more of {', '.join(known)}")
    return out


def _phase(args) -> int:
    from threadpoolctl import threadpool_limits

    from hea_fast.validation.data import DEFAULT_SOURCES, SOURCES
    from hea_fast.validation.models import DEFAULT_MODELS, MODELS
    from hea_fast.validation.protocols import PROTOCOLS
    from hea_fast.validation.report import validate_phase

    models = list(DEFAULT_MODELS) if args.models == "all" else _csv(args.models, "--models", MODELS)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {list(MODELS)}")
    sources = list(DEFAULT_SOURCES) if args.sources == "all" else _csv(args.sources, "--sources", SOURCES)
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {list(SOURCES)}")
    protocols = _csv(args.protocols, "--protocols", PROTOCOLS)
    if "lgbm" in models:  # fail now, not after hours of other models
        from hea_fast._extras import require

        require("lightgbm", extra="lightgbm", feature="the lgbm validation model")
    if "ssvae_head" in models:
        import torch

        torch.set_num_threads(max(1, args.threads))
    command = (f"hea-fast validate phase --out {shlex.quote(str(args.out))} --models {args.models} "
               f"--protocols {args.protocols} --sources {args.sources} -k {args.folds} --seed {args.seed} "
               f"--n-boot {args.n_boot} --conflict {args.conflict} --threads {args.threads}"
               + (f" --match-tol {args.match_tol:g}" if args.match_tol else ""))
    if not 0 <= args.match_tol < 1:
        raise ValueError(f"--match-tol {args.match_tol:g} is not a fraction in [0, 1)")
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    with threadpool_limits(limits=max(1, args.threads)):
        res = validate_phase(args.out, models=models, protocols=protocols, k=args.folds, seed=args.seed,
                             n_boot=args.n_boot, sources=sources, conflict=args.conflict,
                             plots=not args.no_plots, command=command, progress=say, match_tol=args.match_tol)
    for key, w in res["winners_log_loss"].items():
        print(f"{key}: best log-loss {w['model']} ({w['log_loss']:.3f})")
    print(f"wrote {args.out}/results.json, results.jsonl, table.md" + ("" if args.no_plots else ", reliability_*.png"))
    return 0
