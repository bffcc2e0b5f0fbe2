"""`hea-fast screen` (composition-space screening) and `hea-fast demo` (the main job).

The handlers build a space and a scorer from the arguments and call `hea_fast.screen.screen`; the
results go to Parquet (top-k rows), JSON (summary) and PNG (plots), each written atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hea_fast.commands._common import add_command, csv_list
from hea_fast.screen.spaces import DEFAULT_PALETTE


def _int_range(s: str):
    if "-" in s:
        a, b = s.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return int(s)


def _parse_bounds(items) -> dict:
    out = {}
    for it in items or []:
        try:
            el, rng = it.split("=", 1)
            lo, hi = rng.split(":", 1)
            out[el.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"bad --bound {it!r}: expected EL=LO:HI in at.%, e.g. Al=0:20") from None
    return out


def register(sub) -> None:
    p = add_command(sub, "screen", _cmd_screen,
                    help="Screen a composition space and keep the top-k (local threads or a Dask cluster)",
                    description="Enumerate a simplex lattice of compositions, featurize, score and keep the top-k. "
                    "Default: 5-element alloys of 15 usual HEA metals at 5 at.% steps scored by the bundled "
                    "sparse-mixture phase model.")
    _add_screen_args(p)
    d = add_command(sub, "demo", _cmd_demo,
                    help="Run the main job on bundled defaults (prints a featurized sample and the top alloys)",
                    description="The main job of `make demo`: featurize a few well-known alloys, then run the "
                    "default screen and write Parquet + PNG + JSON under --out.")
    d.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    d.add_argument("--top-k", type=int, default=1000)
    d.add_argument("--threads", type=int, default=None)
    d.add_argument("--no-progress", action="store_true")


def _add_screen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--elements", type=csv_list, default=list(DEFAULT_PALETTE),
                   help="comma-separated palette (default: %s)" % ",".join(DEFAULT_PALETTE))
    p.add_argument("--n-elements", type=_int_range, default=5, help="principal elements per alloy, e.g. 5 or 4-6")
    p.add_argument("--step", type=float, default=5.0, help="lattice step in at.%% (default 5)")
    p.add_argument("--bound", action="append", metavar="EL=LO:HI", help="per-element at.%% bounds (repeatable)")
    p.add_argument("--require", type=csv_list, default=[], help="elements every alloy must contain")
    p.add_argument("--forbid", type=csv_list, default=[], help="elements to exclude")
    p.add_argument("--scorer", choices=["mixture", "yield", "mixture+yield", "ssvae"], default="mixture",
                   help="mixture: P(single phase) from the sparse mixture model; yield: Maresca-Curtin σ_y at "
                   "--temperature; mixture+yield: rank σ_y among alloys with P(single) >= --min-p")
    p.add_argument("--model", default=None, help="model directory (default: the bundled mixture model)")
    p.add_argument("--temperature", type=float, default=1300.0, help="temperature in K for yield scoring")
    p.add_argument("--min-p", type=float, default=0.75, help="P(single phase) threshold for mixture+yield")
    p.add_argument("--threshold", type=float, default=None, help="minimum score to keep")
    p.add_argument("--top-k", type=int, default=1000)
    p.add_argument("--chunk-size", type=int, default=None,
                   help="ranks per chunk / Dask task (default 200,000; 2,000,000 with --scheduler)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    p.add_argument("--checkpoint", default=None, help="JSON checkpoint path (resumable runs)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="score on the GPU (cuda; mixture scorer only) or wherever possible (auto)")
    p.add_argument("-o", "--output", default="screen_top.parquet", help="Parquet output (top-k rows)")
    p.add_argument("--plot", default=None, help="PNG summary path (default: next to the output)")
    p.add_argument("--no-progress", action="store_true")


def build_scorer(kind: str, model=None, temperature: float = 1300.0, min_p: float = 0.75):
    """The scorer of `--scorer KIND` (model: a model directory, None for the bundled mixture)."""
    from hea_fast import screen as S

    if kind in ("mixture", "mixture+yield"):
        mix = S.MixtureScorer(model)
        if kind == "mixture":
            return mix
        mix.threshold = min_p
        return S.Combined(S.YieldScorer(temperature), require=[mix])
    if kind == "yield":
        return S.YieldScorer(temperature)
    if kind == "ssvae":
        if not model:
            raise ValueError("--scorer ssvae needs --model DIR (a model saved by `hea-fast ssvae train`)")
        from hea_fast.ssvae import load_model as load_ssvae

        return S.SSVAEScorer(load_ssvae(model))
    raise ValueError(f"unknown scorer {kind!r}")


def run_screen(space, scorer, out_path: Path, plot_path: Path | None, *, scheduler: str | None = None, **screen_kw):
    """Screen `space` with `scorer` (keywords of `hea_fast.screen.screen`), on the Dask scheduler at
    `scheduler` if given; write the top-k rows to `out_path` (Parquet), the summary beside it (JSON)
    and the plots to `plot_path` (PNG, or none)."""
    from hea_fast import screen as S
    from hea_fast._io import atomic_write_json
    from hea_fast.plots import screen_summary

    client = None
    if scheduler:
        from dask.distributed import Client

        client = Client(scheduler)
    print(f"{space}; scorer: {scorer.name}", file=sys.stderr)
    try:
        res = S.screen(space, scorer, client=client, **screen_kw)
    finally:
        if client is not None:
            client.close()
    res.to_parquet(out_path)
    atomic_write_json(out_path.with_suffix(".json"), res.summary(), indent=2)
    if plot_path is not None and len(res.top):
        screen_summary(res.top, res.score_name, plot_path, title=str(space))
    return res


def _cmd_screen(args) -> int:
    from hea_fast.screen import CompositionSpace

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    space = CompositionSpace(args.elements, args.n_elements, args.step, bounds=_parse_bounds(args.bound),
                             required=args.require, forbidden=args.forbid)
    scorer = build_scorer(args.scorer, args.model, args.temperature, args.min_p)
    res = run_screen(space, scorer, out, plot, scheduler=args.scheduler, top_k=args.top_k, threshold=args.threshold,
                     chunk_size=args.chunk_size, checkpoint=args.checkpoint, progress=not args.no_progress,
                     threads=args.threads, device=args.device)
    _print_top(res)
    print(f"wrote {out}, {out.with_suffix('.json')}, {plot}")
    return 0


def _print_top(res, n: int = 10) -> None:
    import pandas as pd

    cols = ["formula", res.score_name] + [c for c in ("delta", "dH_mix", "VEC", "Omega") if c in res.top.columns]
    with pd.option_context("display.width", 140, "display.max_columns", 20, "display.precision", 3):
        print(res.top[cols].head(n).to_string(index=False))
    s = res.summary()
    print(f"scored {s['n_scored']:,} compositions in {s['elapsed_s']:.1f} s "
          f"({s['compositions_per_s']:,.0f}/s); {s['n_passing']:,} passed the thresholds")


def _cmd_demo(args) -> int:
    import pandas as pd

    from hea_fast import featurize
    from hea_fast.screen import CompositionSpace, MixtureScorer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sample = ["CoCrFeMnNi", "Al0.5CoCrFeNi", "HfNbTaTiZr", "NbMoTaW", "AlCoCrCuFeNi", "(CoCrCuFeNi)96Nb4"]
    desc = featurize(sample)
    desc.insert(0, "formula", sample)
    print("Descriptors of a few well-known alloys:")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 3):
        print(desc.iloc[:, :10].to_string(index=False))
    print()
    # the default screen: 5-element alloys of the default palette at 5 at.%, P(single phase) >= 0.75
    parquet = out / "screen_top.parquet"
    res = run_screen(CompositionSpace(DEFAULT_PALETTE, 5, 5.0), MixtureScorer(), parquet, out / "screen_top.png",
                     top_k=args.top_k, threshold=0.75, threads=args.threads, progress=not args.no_progress)
    print()
    _print_top(res)
    print(f"\nwrote {parquet}, {parquet.with_suffix('.json')}, {out / 'screen_top.png'}")
    return 0
