"""`hea-fast screen` (composition-space screening) and `hea-fast demo` (the main job).

The handlers build a space and a scorer from the arguments and call `hea_fast.screen.screen`; the
results go to Parquet (top-k rows: rank = position in the ranking, lattice_index = index in the
space), JSON (summary) and PNG (plots whose title says what was screened), each written atomically.

Defaults follow the field: the space is the usual definition of a high-entropy alloy (every element
present between 5 and 35 at.%) unless --bound / --min-fraction / --max-fraction are given, and the
score is the default phase model (`hea_fast.phase`) with its applicability domain: the whole space
is scored, the best --domain-pool candidates are kept and the result ranks the in-domain ones
(`hea_fast.screen.domain`).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from hea_fast.commands._common import (
    DEFAULT_PHASE_NAMES,
    add_command,
    atpct,
    csv_list,
    parse_bounds,
    positive_int,
    probability,
)
from hea_fast.commands._tables import output_table
from hea_fast.screen.spaces import DEFAULT_PALETTE, HEA_MAX_FRACTION, HEA_MIN_FRACTION

# the default palette's elements with Maresca-Curtin inputs (hea_fast/data/xyield/elastic_volumes.csv;
# tests/test_screen_cli.py checks it against the table): the yield scorers' default palette
YIELD_PALETTE = ("Al", "Cr", "Fe", "Ti", "V", "Zr", "Nb", "Mo", "Hf", "Ta", "W")

SCORERS = {"phase": "P(single phase) from the default phase model, in-domain candidates",
           "mixture": "P(single phase) from the sparse-mixture model (the paper's)",
           "yield": "Maresca-Curtin yield strength",
           "phase+yield": "Maresca-Curtin yield strength among in-domain alloys with P(single phase) >= --min-p "
                          "(default phase model)",
           "mixture+yield": "Maresca-Curtin yield strength among alloys with P(single phase) >= --min-p "
                            "(sparse-mixture model)",
           "ssvae": "P(single phase) from the SSVAE classifier"}
PROBABILITY_SCORERS = ("phase", "mixture", "ssvae")
HEA_RANGE = f"{100 * HEA_MIN_FRACTION:g}-{100 * HEA_MAX_FRACTION:g} at.%"
_HEA_PCT = HEA_RANGE.replace("%", "%%")  # inside argparse help texts
#: The sanity table of `hea-fast demo`: well-known alloys and their reported phase (as issue #15 lists them).
SANITY = (("CoCrFeMnNi", "single"), ("HfNbTaTiZr", "single"), ("NbMoTaW", "single"), ("MoNbTaVW", "single"),
          ("Al0.5CoCrFeNi", "single"), ("AlCoCrCuFeNi", "multi"), ("Al2CoCrFeNi", "multi"))
#: For each `SANITY` alloy: how many of the shared phase datasets that report it call it single phase, of how
#: many (each source's harmonised label, `hea_fast.validation.harmonised_phase_data`; measured 2026-12-06 and
#: rechecked by tests/test_screen_phase.py wherever the data home is there). The sources disagree with the usual
#: labels on two: Al0.5CoCrFeNi is FCC+BCC in five of six, Al2CoCrFeNi single phase in four (BCC in three, where
#: ordered B2 cannot be told apart from BCC).
SANITY_SOURCES = {"CoCrFeMnNi": (6, 6), "HfNbTaTiZr": (6, 6), "NbMoTaW": (6, 6), "MoNbTaVW": (6, 6),
                  "Al0.5CoCrFeNi": (1, 6), "AlCoCrCuFeNi": (1, 6), "Al2CoCrFeNi": (4, 6)}


def _int_range(s: str):
    try:
        if "-" in s:
            a, b = s.split("-", 1)
            out = list(range(int(a), int(b) + 1))
            if not out:
                raise ValueError
            return out
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: expected a number of elements (5) or a range (4-6)") from None


def register(sub) -> None:
    p = add_command(sub, "screen", _cmd_screen,
                    help="Screen a composition space and keep the top-k (local threads or a Dask cluster)",
                    description="Enumerate a simplex lattice of compositions (amounts in at.%), score and keep the "
                    f"top-k. Default: 5-element alloys of 15 usual HEA metals at 5 at.% steps, every element "
                    f"{HEA_RANGE} (the usual definition of a high-entropy alloy), scored by the default phase model "
                    "(hea_fast.phase: P(single phase)) and ranked among candidates inside its "
                    "applicability domain.\n"
                    "Applicability domain: P(single phase) and the thresholds are computed for every composition; the "
                    "best --domain-pool of them are kept and only that pool gets the domain (known elements, training "
                    "fraction ranges, distance to the nearest training alloys); the top-k are the best in-domain "
                    "ones of the pool (--include-out-of-domain: the best of the pool). The summary JSON says how "
                    "many of the pool were out of domain.\n"
                    "Output columns: rank (position in the ranking, 1 = best), lattice_index (index in the space), "
                    "formula, scores, in_domain / domain_score / domain_reason and the nearest training alloy (nearest_training_alloy, nearest_distance, nearest_single: of the sources reporting it, how many call it single phase) (phase scorers), x_<El> (fractions), "
                    "descriptors.")
    _add_screen_args(p)
    d = add_command(sub, "demo", _cmd_demo,
                    help="Run the main job on bundled defaults (a sanity table of known alloys, then the top alloys)",
                    description="The main job of `make demo`: P(single phase) and the applicability domain of "
                    "well-known single- and multi-phase alloys by the default phase model, then the default screen "
                    f"(5-element alloys of the default palette at 5 at.% steps, every element {HEA_RANGE}, "
                    "in-domain candidates) written as Parquet + PNG + JSON under --out.")
    d.add_argument("--out", default="demo_out", help="output folder")
    d.add_argument("--top-k", type=positive_int, default=1000, help="alloys kept")
    d.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_screen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--elements", type=csv_list, default=None,
                   help=f"comma-separated palette (default: {','.join(DEFAULT_PALETTE)}; with --scorer yield, "
                   "phase+yield or mixture+yield the ones of them with Maresca-Curtin inputs: "
                   f"{','.join(YIELD_PALETTE)})")
    p.add_argument("--n-elements", type=_int_range, default=5,
                   help="principal elements per alloy: a number (5) or a range (4-6)")
    p.add_argument("--step", type=float, default=5.0, help="lattice step in at.%% (100 / step must be an integer)")
    p.add_argument("--bound", action="append", metavar="El=LO:HI",
                   help="at.%% range of an element when present, e.g. W=0:20 (repeatable or comma-separated; "
                   "LO > 0 requires the element; replaces --min/--max-fraction for that element) (default: none; "
                   f"without any --bound, --min-fraction or --max-fraction every element is {_HEA_PCT})")
    p.add_argument("--min-fraction", type=atpct, default=None,
                   help="at.%% of every element present, at least (requires no element) (default: "
                   f"{100 * HEA_MIN_FRACTION:g} when no --bound/--max-fraction is given, else 0)")
    p.add_argument("--max-fraction", type=atpct, default=None,
                   help=f"at.%% of every element present, at most (default: {100 * HEA_MAX_FRACTION:g} when no "
                   "--bound/--min-fraction is given, else 100 = no limit)")
    p.add_argument("--require", type=csv_list, default=[], help="comma-separated elements every alloy contains")
    p.add_argument("--forbid", type=csv_list, default=[], help="comma-separated elements no alloy contains")
    p.add_argument("--scorer", choices=list(SCORERS), default="phase",
                   help="; ".join(f"{k}: {v}" for k, v in SCORERS.items()) + " (default: phase)")
    p.add_argument("--model", default=None,
                   help="model of the scorer: default | fast (the default's forest distilled into boosted trees: "
                   "1.0-1.2x faster end to end on the screens measured without a threshold, up to 2.3x with one, slightly less accurate across sources) | DIR (a phase model directory) for "
                   "the phase scorers; "
                   "default | mixture | DIR for the mixture scorers; ssvae | released | DIR for --scorer ssvae; "
                   "none for yield (default: the bundled model of the scorer)")
    p.add_argument("--include-out-of-domain", action="store_true",
                   help="phase scorers: rank the best of the pool whatever their applicability domain (the "
                   "in_domain column still says which are inside)")
    p.add_argument("--domain-pool", type=positive_int, default=None,
                   help="phase scorers: candidates kept by the full scan whose applicability domain is scored "
                   "(default: max(20 x --top-k, 10000))")
    p.add_argument("--temperature", type=float, default=1300.0, help="temperature in K of the yield scorers")
    p.add_argument("--min-p", type=probability, default=0.75,
                   help="P(single phase) an alloy needs for --scorer phase+yield / mixture+yield, a probability")
    p.add_argument("--threshold", type=float, default=None,
                   help="keep only alloys whose ranking score is at least this: a probability in [0, 1] for "
                   "phase/mixture/ssvae, MPa for the yield scorers (default: no threshold)")
    p.add_argument("--top-k", type=positive_int, default=1000, help="alloys kept (best first)")
    p.add_argument("--chunk-size", type=positive_int, default=None,
                   help="compositions per chunk / Dask task (default: 200000; 2000000 with --scheduler)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://10.0.0.1:8786 (default: local threads)")
    p.add_argument("--checkpoint", default=None, help="JSON checkpoint path for a resumable run (default: none)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="score on the GPU (cuda; --scorer mixture only) or wherever possible (auto)")
    p.add_argument("-o", "--output", default="screen_top.parquet", type=output_table,
                   help="the top-k rows, .parquet or .csv (by the suffix); the summary goes beside it as .json")
    p.add_argument("--plot", default=None, help="PNG summary path (default: the output with .png)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_scorer(kind: str, model=None, temperature: float = 1300.0, min_p: float = 0.75):
    """The scorer of `--scorer KIND` (model: a `--model` value, None for the scorer's bundled model)."""
    from hea_fast import screen as S
    from hea_fast.commands._common import load_mixture_model, load_phase_model, load_ssvae_model

    phase_models = {"phase": (S.PhaseScorer, load_phase_model), "mixture": (S.MixtureScorer, load_mixture_model)}
    base = kind.removesuffix("+yield")
    if base in phase_models:
        make, load = phase_models[base]
        scorer = make(load(model))
        if kind == base:
            return scorer
        scorer.threshold = min_p  # P(single phase) >= --min-p, then ranked by the yield strength
        return S.Combined(S.YieldScorer(temperature), require=[scorer])
    if kind == "yield":
        if model is not None:
            raise ValueError("--scorer yield uses no model (Maresca-Curtin is a closed form); drop --model")
        return S.YieldScorer(temperature)
    if kind == "ssvae":
        return S.SSVAEScorer(load_ssvae_model(model))
    raise ValueError(f"unknown scorer {kind!r}")


def score_label(name: str) -> str:
    """A score column in words: p_single -> P(single phase), sigma_y_1300K_MPa -> σ_y at 1300 K (MPa)."""
    import re

    m = re.fullmatch(r"sigma_y_(.+)K_MPa", name)
    if m:
        return f"σ_y at {m.group(1)} K (MPa)"
    return {"p_single": "P(single phase)", "p_single_ssvae": "P(single phase), SSVAE"}.get(name, name)


def _hea_default(space) -> bool:
    spec = space.spec()
    return (not spec["bounds"] and spec.get("min_fraction") == HEA_MIN_FRACTION
            and spec.get("max_fraction") == HEA_MAX_FRACTION)


def describe_run(space, kind: str, temperature: float, min_p: float, threshold, top_k: int, model=None) -> str:
    """One or two lines saying what a screen did, in words (the PNG's title, the console header);
    `model`: the --model of a phase scorer (None or a default name: the default phase model)."""
    ns = sorted({k for k, _ in space.parts})
    steps = sorted({s for _, s in space.parts})
    n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
    step = "/".join(f"{s:g}" for s in steps)
    els = list(space.elements)
    spec = space.spec()
    extra = []
    if spec["required"]:
        extra.append("with " + ",".join(spec["required"]))
    if spec["forbidden"]:
        extra.append("without " + ",".join(spec["forbidden"]))
    if "min_fraction" in spec:
        extra.append(f"every element {100 * spec['min_fraction']:g}-{100 * spec['max_fraction']:g} at.%")
    if spec["bounds"]:
        extra.append("bounds " + " ".join(f"{e}={100 * a:g}:{100 * b:g}" for e, (a, b) in spec["bounds"].items()))
    what = SCORERS[kind] if kind in SCORERS else kind
    if kind in ("phase", "phase+yield") and model is not None and model not in DEFAULT_PHASE_NAMES:
        name = "the 'fast' (distilled) phase model" if model == "fast" else f"the phase model {model}"
        what = what.replace("the default phase model", name).replace("(default phase model)", f"({name})")
    if kind in ("yield", "mixture+yield", "phase+yield"):
        what = what.replace("yield strength", f"yield strength at {temperature:g} K")
    if kind in ("mixture+yield", "phase+yield"):
        what = what.replace("--min-p", f"{min_p:g}")
    kept = f", kept if >= {threshold:g}" if threshold is not None else ""
    return (f"top {top_k:,} of {len(space):,} {n}-element alloys of {','.join(els)} at {step} at.% steps"
            + (f" ({'; '.join(extra)})" if extra else "") + f"\nranked by {what}{kept}")


def _space_or_error(elements, n_elements, step, bounds, required, forbidden, max_fraction, min_fraction=None):
    """The CompositionSpace of the options (at.% converted to fractions), refused when empty.
    Without any of bounds / min_fraction / max_fraction every element is 5-35 at.% (the usual
    definition of a high-entropy alloy)."""
    from hea_fast.screen import CompositionSpace

    unknown = [e for e in bounds if e not in elements]
    if unknown:
        raise ValueError(f"--bound names {unknown}, not in --elements {','.join(elements)}")
    hea = not bounds and min_fraction is None and max_fraction is None
    fmin = HEA_MIN_FRACTION if hea else (min_fraction or 0.0) / 100.0
    fmax = HEA_MAX_FRACTION if hea else (100.0 if max_fraction is None else max_fraction) / 100.0
    if fmin > fmax:
        raise ValueError(f"--min-fraction {100 * fmin:g} is above --max-fraction {100 * fmax:g}")
    frac = {e: (lo / 100.0, hi / 100.0) for e, (lo, hi) in bounds.items()}
    space = CompositionSpace(elements, n_elements, step, bounds=frac, required=required, forbidden=forbidden,
                             min_fraction=fmin, max_fraction=fmax)
    if len(space):
        return space
    ns = [n_elements] if isinstance(n_elements, int) else list(n_elements)
    avail = [e for e in elements if e not in forbidden]
    units = round(100.0 / step)
    # the most and least at.% a k-element alloy can hold at this step under the per-element range
    top = {k: k * math.floor(units * fmax + 1e-9) * step for k in ns}
    low = {k: k * max(1, math.ceil(units * fmin - 1e-9)) * step for k in ns}
    rng = (f"the default range of every element, {HEA_RANGE} (the usual definition of a high-entropy alloy; "
           "--max-fraction 100 lifts it)" if hea else
           f"--min-fraction {100 * fmin:g} / --max-fraction {100 * fmax:g}")
    if min(ns) > len(avail):
        why = (f"--n-elements {min(ns)} needs {min(ns)} elements but the palette offers {len(avail)} "
               f"({','.join(avail)})")
    elif len(required) > max(ns):
        why = f"--require names {len(required)} elements but alloys have at most {max(ns)}"
    elif sum(lo for lo, _ in frac.values()) > 1 + 1e-12:
        why = f"the lower bounds sum to {100 * sum(lo for lo, _ in frac.values()):g} at.% > 100"
    elif not frac and all(top[k] < 100 - 1e-9 for k in ns):
        why = (f"with {rng}, {'/'.join(map(str, ns))} elements at {step:g} at.% steps reach at most "
               f"{max(top.values()):g} at.%")
    elif not frac and all(low[k] > 100 + 1e-9 for k in ns):
        why = (f"with {rng}, {'/'.join(map(str, ns))} elements at {step:g} at.% steps hold at least "
               f"{min(low.values()):g} at.%")
    else:
        why = (f"no {'/'.join(map(str, ns))}-element alloy at {step:g} at.% steps meets the bounds "
               + " ".join(f"{e}={100 * a:g}:{100 * b:g}" for e, (a, b) in frac.items() if (a, b) != (0.0, 1.0)))
    raise ValueError(f"the composition space is empty: {why}")


def run_screen(space, scorer, out_path: Path, plot_path: Path | None, *, scheduler: str | None = None,
               title: str | None = None, **screen_kw):
    """Screen `space` with `scorer` (keywords of `hea_fast.screen.screen`), on the Dask scheduler at
    `scheduler` if given; write the top-k rows to `out_path` (.parquet or .csv, by its suffix), the
    summary beside it (JSON)
    and the plots to `plot_path` (PNG, or none) under `title`."""
    from hea_fast import screen as S
    from hea_fast._io import atomic_write_json
    from hea_fast.commands._tables import write_table
    from hea_fast.plots import screen_summary

    client = None
    if scheduler:
        from dask.distributed import Client

        client = Client(scheduler)
    print(title or f"{space}; scorer: {scorer.name}", file=sys.stderr)
    try:
        res = S.screen(space, scorer, client=client, **screen_kw)
    finally:
        if client is not None:
            client.close()
    write_table(res.top, out_path)
    atomic_write_json(out_path.with_suffix(".json"), res.summary(), strict=True, indent=2)
    if plot_path is not None and len(res.top) and plots_available():
        screen_summary(res.top, res.score_name, plot_path, title=title or str(space),
                       score_label=score_label(res.score_name))
    elif plot_path is not None and len(res.top):  # the core install: the tables are the result
        print(f"no {plot_path.name}: plots need matplotlib (pip install 'hea_fast[plots]')", file=sys.stderr)
    return res


def plots_available() -> bool:
    """Whether matplotlib can be imported (the `[plots]` extra; the core install has no PNGs)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _png(plot, res) -> str:
    """The PNG's part of a 'wrote ...' line."""
    if not len(res.top):
        return " (no PNG: no row to plot)"
    return f", {plot}" if plot is not None and plots_available() else " (no PNG: no matplotlib)"


def _cmd_screen(args) -> int:
    from hea_fast.screen import Combined
    from hea_fast.screen.engine import check_palette

    bounds = parse_bounds(args.bound, cmd="screen")
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise ValueError(f"--threshold {args.threshold:g} is not a finite number")
    if args.threshold is not None and args.scorer in PROBABILITY_SCORERS and not 0 <= args.threshold <= 1:
        raise ValueError(f"--threshold {args.threshold:g} is outside [0, 1]: --scorer {args.scorer} scores a probability")
    if args.scorer.endswith("yield") and not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ValueError(f"--temperature {args.temperature:g} K is not a temperature >= 0 K")
    if args.domain_pool is not None and args.domain_pool < args.top_k:
        raise ValueError(f"--domain-pool {args.domain_pool} is below --top-k {args.top_k}: the pool holds the "
                         "candidates the top-k is chosen from")
    scorer = build_scorer(args.scorer, args.model, args.temperature, args.min_p)
    if args.elements is None:
        args.elements = list(YIELD_PALETTE if args.scorer.endswith("yield") else DEFAULT_PALETTE)
    space = _space_or_error(args.elements, args.n_elements, args.step, bounds, args.require, args.forbid,
                            args.max_fraction, args.min_fraction)
    check_palette(space, scorer, "default")  # before the title: a palette it cannot score is a one-line error
    if args.device == "cuda":  # likewise a GPU that is not there
        from hea_fast._backend import cuda_module

        cuda_module()
    out = Path(args.output)
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    title = describe_run(space, args.scorer, args.temperature, args.min_p, args.threshold, args.top_k, args.model)
    if args.scorer.startswith("phase") and args.include_out_of_domain:
        title = title.replace("in-domain alloys", "alloys").replace(", in-domain candidates", "")
    res = run_screen(space, scorer, out, plot, scheduler=args.scheduler, title=title, top_k=args.top_k,
                     threshold=args.threshold, chunk_size=args.chunk_size, checkpoint=args.checkpoint,
                     progress=not args.no_progress, threads=args.threads, device=args.device,
                     include_out_of_domain=args.include_out_of_domain, domain_pool=args.domain_pool)
    _print_top(res, [s.name for s in scorer.walk()] if isinstance(scorer, Combined) else [scorer.name])
    print(f"wrote {out}, {out.with_suffix('.json')}" + _png(plot, res))
    return 0


def _print_top(res, score_cols, n: int = 10) -> None:
    import pandas as pd

    if not len(res.top):
        print("no alloy passed the thresholds" if not res.n_passing else
              f"none of the {res.n_passing:,} alloys that passed the thresholds is in the applicability domain "
              "(--include-out-of-domain ranks them)")
    else:
        scores = [c for c in dict.fromkeys([res.score_name, *score_cols]) if c in res.top.columns]
        cols = (["rank", "formula", *scores]
                + [c for c in ("in_domain", "domain_score", "nearest_training_alloy", "nearest_single")
                   if c in res.top.columns]
                + [c for c in ("delta", "dH_mix", "VEC", "Omega") if c in res.top.columns])
        with pd.option_context("display.width", 140, "display.max_columns", 20, "display.precision", 3):
            print(res.top[cols].head(n).to_string(index=False))
    s = res.summary()
    print(f"scored {s['n_scored']:,} compositions in {s['elapsed_s']:.1f} s "
          f"({s['compositions_per_s']:,.0f}/s); {s['n_passing']:,} passed the thresholds")
    d = s.get("domain")
    if d:
        print(f"applicability domain, scored on the best {d.get('pool_examined', d['pool']):,} of the "
              f"{d['pool']:,}-candidate pool: {d['pool_in_domain']:,} in domain, {d['pool_out_of_domain']:,} out; "
              f"the top {s['n_top']:,} hold {d['n_top_in_domain']:,} in-domain alloys"
              + ("" if not d.get("warning") else f"\nwarning: {d['warning']}"))


def sanity_table(model=None, fast: bool = True):
    """The demo's sanity table: well-known single- and multi-phase alloys (``reported``: as the issue lists
    them; ``sources_single``: `SANITY_SOURCES`, what the training sources say) with P(single phase),
    in_domain and domain_score by the default phase model (or `model`), and with `fast` the bundled
    ``fast`` model's P(single phase) beside it (``p_fast``). These are known alloys, so P is what `hea-fast
    phase predict` gives: the model blended with the alloy's training records (``records``: single-phase
    records / records; ``p_model``: the model alone, what a screen ranks by)."""
    import pandas as pd

    from hea_fast.phase import load_model

    m = load_model("default" if model is None else model)
    formulas = [f for f, _ in SANITY]
    fr = m.predict_frame(formulas, memory=True).reset_index(drop=True)
    out = pd.DataFrame({"formula": formulas, "reported": [lab for _, lab in SANITY],
                        "sources_single": ["{}/{}".format(*SANITY_SOURCES[f]) for f in formulas]})
    out = pd.concat([out, fr[["training_records", "p_single", "p_model", "in_domain", "domain_score", "reason"]]
                     .rename(columns={"training_records": "records"})], axis=1)
    if fast:
        out.insert(6, "p_fast", load_model("fast").predict_frame(formulas, memory=True)["p_single"].to_numpy())
    return out


def _cmd_demo(args) -> int:
    import pandas as pd

    from hea_fast.screen import PhaseScorer, hea_space

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scorer = PhaseScorer(threads=args.threads)
    table = sanity_table(scorer.model)
    print("Well-known alloys (reported phase) by the default phase model (p_fast: the 'fast' model):")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 3,
                           "display.max_colwidth", 60):
        print(table.to_string(index=False))
    print("sources_single: shared phase datasets calling the alloy one solid-solution phase, of those reporting it "
          "(training labels); records: their records calling it single phase, of all; p_single = (1 - w) p_model + "
          "w records, w = n / (n + 3) for n records (known alloys; p_model: the model alone, what the screen ranks by)")
    print()
    # the default screen: 5-element alloys of the default palette at 5 at.% steps, every element 5-35 at.%
    parquet = out / "screen_top.parquet"
    space = hea_space(DEFAULT_PALETTE, 5, 5.0)
    res = run_screen(space, scorer, parquet, out / "screen_top.png",
                     title=describe_run(space, "phase", 1300.0, 0.75, None, args.top_k),
                     top_k=args.top_k, threads=args.threads, progress=not args.no_progress)
    print()
    _print_top(res, ["p_single"])
    print(f"\nwrote {parquet}, {parquet.with_suffix('.json')}" + _png(out / "screen_top.png", res))
    return 0
