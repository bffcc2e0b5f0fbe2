"""`hea-fast xyield simulate` and `hea-fast xyield grid`: Maresca–Curtin (2020) simulation of the
X-Yield grid (σ_y in MPa, T in K). Heavy work happens in hea_fast.xyield.grid (C++ kernels)."""
from __future__ import annotations

import sys

_PALETTE = "Al,Cr,Hf,Mo,Nb,Ta,Ti,V,W,Zr"


def _elements(s: str):
    els = tuple(e.strip() for e in s.split(",") if e.strip())
    if not els:
        raise ValueError(f"--elements {s!r} names no element")
    return els


def _temperatures(s: str):
    """'300:2600:100' (start:stop:step, stop exclusive, like range) or '300,900,1500'."""
    import numpy as np

    try:
        if ":" in s:
            parts = [float(p) for p in s.split(":")]
            if len(parts) != 3 or parts[2] <= 0:
                raise ValueError("use start:stop:step with step > 0")
            T = np.arange(*parts)
        else:
            T = np.array([float(p) for p in s.split(",") if p.strip()])
    except ValueError as e:
        raise ValueError(f"--temperatures {s!r}: {e} (kelvin: start:stop:step or a comma list)") from None
    if T.size == 0:
        raise ValueError(f"--temperatures {s!r} gives no temperature (stop is exclusive: 300:2600:100 = 300..2500 K)")
    return T


def _common(p, default_temps="300:2600:100"):
    p.add_argument("--elements", default=_PALETTE, help=f"comma-separated palette (default {_PALETTE})")
    p.add_argument("--temperatures", default=default_temps,
                   help="kelvin: start:stop:step (stop exclusive) or a comma list (default 300:2600:100 = 300..2500 K)")
    p.add_argument("--model", default="two-regime", choices=["two-regime", "single-fit"],
                   help="temperature dependence of Maresca-Curtin (default two-regime)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("-o", "--output", required=True, help="output Parquet file")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="Maresca-Curtin yield of a uniform random sample of the X-Yield grid -> Parquet",
        description="Draw --sample points uniformly (seeded) from the X-Yield grid (ternary/quaternary at 1 %, "
                    "quinary-septenary at 5 %, over --elements and --temperatures) and write their compositions, "
                    "temperature (K) and Maresca-Curtin yield strength (MPa) to Parquet.",
    )
    _common(p)
    p.add_argument("--sample", type=int, default=100_000, help="number of points (default 100000, as in X-Yield)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_simulate)

    g = subparsers.add_parser(
        "grid",
        help="stream the whole X-Yield grid and write reductions (maxima, top-k, histograms) -> Parquet",
        description="Enumerate every point of the X-Yield grid in C++ and reduce on the fly. -o gets the "
                    "per-temperature count/mean/std/max table with --stats (else the per-system x temperature maxima); "
                    "next to it go <stem>.per_system, <stem>.histogram (--stats), <stem>.topk (--topk) and "
                    "<stem>.sample (--sample) Parquet files. Resumable with --checkpoint.",
    )
    _common(g)
    g.add_argument("--stats", action="store_true", help="per-temperature count/mean/std/max and histograms")
    g.add_argument("--topk", type=int, default=10, help="keep the top-k points per temperature (default 10; 0 = off)")
    g.add_argument("--sample", type=int, default=0, help="also draw this many random points (default 0)")
    g.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    g.add_argument("--hist-bins", type=int, default=250, help="histogram bins (default 250)")
    g.add_argument("--hist-range", default="0,5000", help="histogram range in MPa, lo,hi (default 0,5000)")
    g.add_argument("--chunk-size", type=int, default=1 << 21, help="compositions per streamed chunk")
    g.add_argument("--checkpoint", default=None, help="resumable state file (.npz), removed when the run completes")
    g.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler address (tcp://host:port): run the chunks on that cluster")
    g.set_defaults(func=_grid)


def _simulate(args) -> int:
    from hea_fast._io import atomic_path
    from hea_fast.xyield.grid import XYieldGrid

    grid = XYieldGrid(elements=_elements(args.elements), temperatures_K=_temperatures(args.temperatures))
    print(f"{grid}; drawing {args.sample:,} points (seed {args.seed})", file=sys.stderr)
    df = grid.sample(args.sample, seed=args.seed, model=args.model, threads=args.threads)
    with atomic_path(args.output) as tmp:
        df.to_parquet(tmp, index=False)
    print(f"wrote {len(df):,} rows to {args.output}", file=sys.stderr)
    return 0


def _grid(args) -> int:
    from hea_fast.xyield.grid import XYieldGrid, simulate_grid

    lo, hi = (float(v) for v in args.hist_range.split(","))
    grid = XYieldGrid(elements=_elements(args.elements), temperatures_K=_temperatures(args.temperatures))
    print(str(grid), file=sys.stderr)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    try:
        res = simulate_grid(grid, model=args.model, sample=args.sample, seed=args.seed, topk=args.topk,
                            stats=args.stats, hist_bins=args.hist_bins, hist_range=(lo, hi),
                            chunk_size=args.chunk_size, checkpoint=args.checkpoint, progress=not args.no_progress,
                            threads=args.threads, output=args.output, client=client)
    finally:
        if client is not None:
            client.close()
    if res.points_done:
        print(f"{res.points_done:,} points in {res.seconds:.1f} s ({res.points_done / max(res.seconds, 1e-9) / 1e6:.1f} M points/s)",
              file=sys.stderr)
    if res.per_temperature is not None:
        cols = ["T_K", "mean_MPa", "std_MPa", "max_MPa", "argmax_formula"]
        print(res.per_temperature[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
