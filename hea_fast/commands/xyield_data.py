"""`hea-fast xyield simulate` and `hea-fast xyield grid`: Maresca–Curtin (2020) yield strength of BCC
alloys (σ_y in MPa, T in K). Heavy work happens in hea_fast.xyield (C++ kernels).

simulate ALLOYS... / -i IN   the named alloys at --temperature T [T ...] (columns formula, temperature_K,
                             sigma_y_MPa, tau_y0_MPa, dEb_eV); --element-data FILE gives the model's
                             inputs (V, C11, C12, C44) of elements the bundled table lacks, or overrides it
simulate (no alloys)         a uniform random sample of the X-Yield grid (--sample points)
grid                         the whole X-Yield grid, reduced on the fly (maxima, top-k, histograms)
"""
from __future__ import annotations

import argparse
import sys

from hea_fast.commands._common import add_command, positive_int, say
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table, parquet_output

_PALETTE = "Al,Cr,Hf,Mo,Nb,Ta,Ti,V,W,Zr"
_ELEMENT_COLUMNS = ("element", "V_A3", "C11", "C12", "C44")


def _elements(s: str):
    els = tuple(e.strip() for e in s.split(",") if e.strip())
    if not els:
        raise ValueError(f"--elements {s!r} names no element")
    return els


def _temperatures(tokens, default: str):
    """['300:2600:100'] (start:stop:step, stop exclusive, like range), ['300', '900'] or ['300,900'] -> K."""
    import numpy as np

    out = []
    for s in tokens or [default]:
        try:
            if ":" in s:
                parts = [float(p) for p in s.split(":")]
                if len(parts) != 3 or parts[2] <= 0:
                    raise ValueError("use start:stop:step with step > 0")
                T = np.arange(*parts)
                if T.size == 0:
                    raise ValueError("it gives no temperature (stop is exclusive: 300:2600:100 = 300..2500 K)")
            else:
                T = np.array([float(p) for p in s.split(",") if p.strip()])
        except ValueError as e:
            raise ValueError(f"--temperatures {s!r}: {e} (kelvin: start:stop:step or numbers)") from None
        if not (np.isfinite(T).all() and (T >= 0).all()):
            raise ValueError(f"--temperatures {s!r}: temperatures are in K, finite and >= 0")
        out.extend(T.tolist())
    if not out:
        raise ValueError("--temperatures gives no temperature")
    return np.asarray(out, dtype=np.float64)


def _common(p, default_temps: str):
    p.add_argument("--temperatures", "--temperature", "-T", nargs="+", default=None, metavar="T",
                   help="temperatures in K: numbers, comma lists or start:stop:step ranges (stop exclusive) "
                   f"(default: {default_temps})")
    p.add_argument("--temperature-model", dest="mc_model", default="continuous", choices=["continuous", "two-regime", "single-fit"],
                   help="temperature dependence of Maresca-Curtin")
    # the old spelling, kept for one release: --model now names models (default|mixture|ssvae|released|DIR)
    p.add_argument("--model", dest="mc_model", choices=["continuous", "two-regime", "single-fit"], default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def register(subparsers) -> None:
    p = add_command(
        subparsers, "simulate", _simulate,
        help="Maresca-Curtin yield strength of named alloys, or of a random sample of the X-Yield grid",
        description="With ALLOYS or -i IN: the Maresca-Curtin (2020) yield strength of those BCC alloys at each "
                    "--temperature (columns formula, temperature_K, sigma_y_MPa, tau_y0_MPa (zero-temperature "
                    "resolved shear stress), dEb_eV (energy barrier)); the model's inputs of an element the bundled "
                    "table lacks (it has Al Cr Fe Hf Mo Nb Ta Ti V W Zr) come from --element-data. Without alloys: "
                    "--sample points drawn uniformly (seeded) from the X-Yield grid (ternary/quaternary at 1 at.%, "
                    "quinary-septenary at 5 at.%, over --elements and --temperatures) to Parquet.")
    p.add_argument("alloys", nargs="*", metavar="ALLOY", help="formulas, e.g. NbMoTaW Nb25Mo25Ta25W25")
    p.add_argument("-i", "--input", default=None, help="CSV or Parquet table of alloys (default: none)")
    add_formula_column(p)
    add_errors_args(p, "yield strengths")
    p.add_argument("--element-data", default=None, metavar="FILE",
                   help="CSV with columns element, V_A3 (atomic volume, Å³), C11, C12, C44 (elastic constants, GPa): "
                   "inputs of elements the bundled table lacks, or replacing its values (default: none)")
    _common(p, "300 K for named alloys; 300:2600:100 = 300..2500 K for the grid sample")
    p.add_argument("--elements", default=_PALETTE, help="grid sample: comma-separated palette")
    p.add_argument("--sample", type=positive_int, default=100_000, help="grid sample: number of points (as in X-Yield)")
    p.add_argument("--seed", type=int, default=0, help="grid sample: random seed")
    p.add_argument("-o", "--output", default=None, type=output_table,
                   help="output .csv or .parquet (default: a table on stdout for named alloys; the grid sample "
                   "needs -o)")
    p.add_argument("--chunk-size", type=positive_int, default=100_000, metavar="N",
                   help="-i: alloys read, simulated and written at a time (memory stays flat however large the "
                   "table; a progress bar shows on tables of more than one chunk) (default: %(default)s)")

    g = add_command(
        subparsers, "grid", _grid,
        help="stream the whole X-Yield grid and write reductions (maxima, top-k, histograms) -> Parquet",
        description="Enumerate every point of the X-Yield grid in C++ and reduce on the fly. -o gets the "
                    "per-temperature count/mean/std/max table with --stats (else the per-system x temperature maxima); "
                    "next to it go <stem>.per_system, <stem>.histogram (--stats), <stem>.topk (--topk) and "
                    "<stem>.sample (--sample) Parquet files. Resumable with --checkpoint.")
    g.add_argument("--elements", default=_PALETTE, help="comma-separated palette")
    _common(g, "300:2600:100 = 300..2500 K")
    g.add_argument("-o", "--output", required=True, type=parquet_output, help="output Parquet file")
    g.add_argument("--stats", action="store_true", help="per-temperature count/mean/std/max and histograms")
    g.add_argument("--topk", type=int, default=10, help="keep the top-k points per temperature (0 = off)")
    g.add_argument("--sample", type=int, default=0, help="also draw this many random points")
    g.add_argument("--seed", type=int, default=0, help="seed of --sample")
    g.add_argument("--hist-bins", type=positive_int, default=250, help="histogram bins")
    g.add_argument("--hist-range", default="0,5000", help="histogram range in MPa, lo,hi")
    g.add_argument("--chunk-size", type=positive_int, default=1 << 21, help="compositions per streamed chunk")
    g.add_argument("--checkpoint", default=None,
                   help="resumable state file (.npz), removed when the run completes (default: none)")
    g.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler address (tcp://host:port) to run the chunks on (default: local)")


# ---- named alloys -----------------------------------------------------------------------------------------
def command_line_batch(formulas, elements=None):
    """CompositionBatch of formulas typed on the command line; an unreadable one stops the command
    with one line per bad formula and the hints of `-i` tables (the library's own message advises
    Python's errors='skip', which the command line has no way to pass: --errors applies to -i)."""
    from hea_fast.commands._tables import explain
    from hea_fast.composition import as_batch
    from hea_fast.parse import CompositionBatchError

    try:
        return as_batch(list(formulas), elements=elements)
    except CompositionBatchError as exc:
        bad = "; ".join(f"{formulas[int(i)]!r}: {explain(formulas[int(i)], str(e))}" for i, e in exc.errors[:20])
        raise ValueError(f"{len(exc.errors)} of {len(formulas)} formulas cannot be read: {bad} "
                         "(to score the others, put them in a table: -i FILE with --errors keep or skip)") from None


def _element_data(path):
    """{element: (V Å³, C11, C12, C44 GPa)} from --element-data."""
    import math

    from hea_fast.commands._tables import read_table
    from hea_fast.parse import is_element

    df = read_table(path).rename(columns={"C11_GPa": "C11", "C12_GPa": "C12", "C44_GPa": "C44"})
    missing = [c for c in _ELEMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: needs columns {list(_ELEMENT_COLUMNS)}, lacks {missing} (has {list(df.columns)})")
    out, lines = {}, {}
    for i, row in enumerate(df.itertuples(index=False)):
        el = str(row.element).strip()
        vals = []
        for c in _ELEMENT_COLUMNS[1:]:
            try:
                vals.append(float(getattr(row, c)))
            except (TypeError, ValueError):
                vals.append(math.nan)
        if not is_element(el):
            raise ValueError(f"{path}, line {i + 2}: {el!r} is not an element symbol (symbols are case-sensitive)")
        if not all(math.isfinite(v) and v > 0 for v in vals) or vals[1] <= vals[2]:
            raise ValueError(f"{path}, line {i + 2} ({el}): V_A3, C11, C12, C44 must be positive numbers with "
                             f"C11 > C12, got {vals}")
        if el in out:  # two rows for one element: which one the user meant is unknowable
            raise ValueError(f"{path}, line {i + 2}: a second row for {el} (first on line {lines[el]}); "
                             "give each element once")
        out[el], lines[el] = tuple(vals), i + 2
    return out


def _inputs_of(elements, custom):
    """{element: (V, C11, C12, C44)} for the elements with Maresca-Curtin inputs (file, then table)."""
    import math

    from hea_fast.xyield.maresca_curtin import element_inputs

    data = {}
    for e in elements:
        if e in custom:
            data[e] = custom[e]
            continue
        try:
            inp = element_inputs([e])
        except ValueError:
            continue
        v = (float(inp.V[0]), float(inp.C11[0]), float(inp.C12[0]), float(inp.C44[0]))
        if all(math.isfinite(x) for x in v):
            data[e] = v
    return data


def yield_rows(batch, temperatures, model="continuous", custom=None, threads=None):
    """Maresca-Curtin of a CompositionBatch at every temperature: (sigma (n, m) MPa, tau_y0 (n,) MPa,
    dE_b (n,) eV, {row: reason} for alloys with an element lacking inputs). Alloys using an element
    of `custom` ({element: (V, C11, C12, C44)}) get the alloy shear modulus and Poisson ratio from the
    rule of mixtures over those constants (the library's own formulas, passed as its overrides)."""
    import numpy as np

    from hea_fast.xyield.maresca_curtin import tau_y0_and_dEb, yield_strength

    custom = dict(custom or {})
    els = tuple(batch.elements)
    F = np.asarray(batch.fractions)
    data = _inputs_of(els, custom)
    used = F > 0
    lacking = np.array([e not in data for e in els], bool)
    is_custom = np.array([e in custom for e in els], bool)
    no_data = used[:, lacking].any(axis=1)
    with_custom = used[:, is_custom].any(axis=1) & ~no_data
    plain = ~no_data & ~with_custom
    n, m = len(F), len(temperatures)
    sigma, tau0, deb = np.full((n, m), np.nan), np.full(n, np.nan), np.full(n, np.nan)
    reasons = {}
    for i in np.flatnonzero(no_data):
        miss = [e for e, u, lk in zip(els, used[i], lacking) if u and lk]
        reasons[int(i)] = (f"no Maresca-Curtin inputs for {', '.join(miss)}: give V_A3, C11, C12, C44 in "
                           "--element-data FILE")
    T = np.asarray(temperatures, np.float64)[:, None]
    for rows, kw in ((plain, {}), (with_custom, None)):
        idx = np.flatnonzero(rows)
        if not idx.size:
            continue
        sub = batch[idx]
        if kw is None:  # alloy mu, nu by the rule of mixtures over the file's and the table's constants
            C = np.array([data[e][1:] if e in data else (0.0, 0.0, 0.0) for e in els])
            c11, c12, c44 = (np.asarray(sub.fractions) @ C).T
            mu = np.sqrt(c44 * (c11 - c12) / 2.0)
            bulk = (c11 + 2.0 * c12) / 3.0
            present = (np.asarray(sub.fractions) > 0).any(axis=0)
            kw = {"volumes": {e: data[e][0] for e, u in zip(els, present) if u and e in custom},
                  "shear_modulus": mu, "poisson": (3.0 * bulk - 2.0 * mu) / (2.0 * (3.0 * bulk + mu))}
        tau0[idx], deb[idx] = tau_y0_and_dEb(sub, threads=threads, **kw)
        sigma[idx] = np.asarray(yield_strength(sub, T, model=model, threads=threads, **kw)).T
    return sigma, tau0, deb, reasons


def per_temperature(base, col, T):
    """`base` (one row per alloy) with each row repeated once per temperature of `T`, and the column
    temperature_K after the formula column `col`."""
    import numpy as np

    out = base.loc[base.index.repeat(len(T))].reset_index(drop=True)
    out.insert(out.columns.get_loc(col) + 1, "temperature_K", np.tile(np.asarray(T, dtype=np.float64), len(base)))
    return out


def _yield_frame(base, col, T, batch, kept, mc_model, custom, threads):
    """`base` (one row per alloy) repeated per temperature, with sigma_y_MPa, tau_y0_MPa, dEb_eV of the parsed
    rows `kept` (NaN elsewhere), and {base row: reason} of the parsed rows lacking Maresca-Curtin inputs."""
    import numpy as np

    sigma, tau0, deb, reasons = yield_rows(batch, T, mc_model, custom, threads)
    n, m = len(base), len(T)
    full = {k: np.full((n,) + v.shape[1:], np.nan) for k, v in (("s", sigma), ("t", tau0), ("d", deb))}
    full["s"][kept], full["t"][kept], full["d"][kept] = sigma, tau0, deb
    out = per_temperature(base, col, T)
    out["sigma_y_MPa"] = full["s"].reshape(-1)
    out["tau_y0_MPa"] = np.repeat(full["t"], m)
    out["dEb_eV"] = np.repeat(full["d"], m)
    return out, {int(kept[i]): r for i, r in reasons.items()}


def _named(args) -> int:
    import numpy as np
    import pandas as pd

    from hea_fast.commands._tables import write_table

    T = _temperatures(args.temperatures, "300")
    custom = _element_data(args.element_data) if args.element_data else {}
    if args.input:
        return _named_table(args, T, custom)
    df = pd.DataFrame({"formula": list(args.alloys)})
    batch = command_line_batch(args.alloys)  # a bad formula typed on the command line stops here
    out, reasons = _yield_frame(df, "formula", T, batch, np.arange(len(df)), args.mc_model, custom, args.threads)
    if reasons:
        i = min(reasons)
        raise ValueError(f"{args.alloys[i]}: {reasons[i]}")
    if args.output:
        write_table(out, args.output)
        say("xyield simulate", f"wrote {len(out)} rows ({len(df)} alloys x {len(T)} temperatures) to {args.output}")
    else:
        _print(out)
    return 0


def _print(out) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 4):
        print(out.to_string(index=False))


def _named_table(args, T, custom) -> int:
    """-i: the table streamed --chunk-size alloys at a time (flat memory; -o written atomically), bad rows per
    --errors; without -o the rows are printed as one table at the end."""
    import pandas as pd

    from hea_fast.commands._stream import stream_table

    def score(chunk, col, bad, offset):
        batch, kept = bad.parse(chunk[col], offset)
        out, reasons = _yield_frame(chunk, col, T, batch, kept, args.mc_model, custom, args.threads)
        for pos, r in reasons.items():
            bad.add(offset + pos, chunk[col].iloc[pos], r)
        bad.items.sort(key=lambda t: t[0])
        return out

    shown = []
    bad, n_rows, n_out = stream_table("xyield simulate", args, score, shown.append if not args.output else None,
                                      output=args.output, repeat=len(T))
    bad.report(n_rows, args.errors, args.errors_out)
    if args.output:
        say("xyield simulate", f"wrote {n_out} rows ({len(T)} temperatures per alloy) to {args.output}")
    else:
        _print(pd.concat(shown, ignore_index=True))
    return 0


# ---- grid sample -------------------------------------------------------------------------------------------
def _simulate(args) -> int:
    if args.alloys or args.input:
        return _named(args)
    from hea_fast.commands._tables import write_table
    from hea_fast.xyield.grid import XYieldGrid

    if not args.output:
        raise ValueError("the grid sample (no ALLOYS, no -i) needs -o FILE.parquet")
    if args.element_data:
        raise ValueError("--element-data applies to named alloys (ALLOYS or -i); the grid uses the bundled table")
    grid = XYieldGrid(elements=_elements(args.elements), temperatures_K=_temperatures(args.temperatures, "300:2600:100"))
    print(f"{grid}; drawing {args.sample:,} points (seed {args.seed})", file=sys.stderr)
    df = grid.sample(args.sample, seed=args.seed, model=args.mc_model, threads=args.threads)
    df = _convention(df, grid.elements)
    write_table(df, args.output)
    print(f"wrote {len(df):,} rows to {args.output}", file=sys.stderr)
    return 0


def _convention(df, elements):
    """The grid sample in the CLI's column names: formula, x_<El> fractions, temperature_K,
    lattice_index (rank of the composition in the grid), sigma_y_MPa."""
    from hea_fast.composition import CompositionBatch

    els = list(elements)
    batch = CompositionBatch.from_valid(df[els].to_numpy(), tuple(els))
    df = df.rename(columns={**{e: f"x_{e}" for e in els}, "T_K": "temperature_K", "rank": "lattice_index",
                            "yield_MPa": "sigma_y_MPa"})
    df.insert(0, "formula", batch.formulas())
    return df


def _grid(args) -> int:
    from hea_fast.xyield.grid import XYieldGrid, simulate_grid

    try:
        lo, hi = (float(v) for v in args.hist_range.split(","))
    except ValueError:
        raise ValueError(f"--hist-range {args.hist_range!r}: expected LO,HI in MPa, e.g. 0,5000") from None
    grid = XYieldGrid(elements=_elements(args.elements), temperatures_K=_temperatures(args.temperatures, "300:2600:100"))
    print(str(grid), file=sys.stderr)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    try:
        res = simulate_grid(grid, model=args.mc_model, sample=args.sample, seed=args.seed, topk=args.topk,
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
