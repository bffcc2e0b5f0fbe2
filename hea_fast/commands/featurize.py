"""`hea-fast featurize`: add empirical HEA descriptors (hea_fast.features) to a table of formulas.

Streams the input in chunks (flat memory however large the file), shows a progress bar for inputs
larger than one chunk, and writes the output atomically (`hea_fast._io.atomic_path`), so an
interrupted run never leaves a truncated OUT behind. Bad rows follow the CLI convention
(`hea_fast.commands._tables`): kept with NaN descriptors and an ``error`` column by default.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hea_fast.commands._common import add_command, positive_int
from hea_fast.commands._tables import add_errors_args, add_formula_column, output_table, table_format


def register(subparsers) -> None:
    p = add_command(subparsers, "featurize", handler, help="Compute HEA descriptors for a CSV/Parquet table of formulas",
                    description="Read IN (CSV or Parquet), parse the formula column, append the descriptors "
                    "(delta, dH_mix, dS_mix, VEC, ..., see `--list` for names, units and formulas) and write OUT "
                    "(.csv or .parquet).")
    p.add_argument("input", nargs="?", help="input table (.csv or .parquet)")
    add_formula_column(p)
    p.add_argument("-o", "--output", type=output_table, help="output file, .csv or .parquet (default: none; required unless --list)")
    p.add_argument("--descriptors", nargs="+", default=None, metavar="NAME",
                   help="descriptor names, or one set name (zeng2024, yang2012) (default: all; units in --list)")
    p.add_argument("--table", default=None,
                   help="element table: default | zeng2024 (default: the descriptor set's own table, else 'default')")
    p.add_argument("--threads", type=positive_int, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--chunk-size", type=positive_int, default=200_000, help="rows per chunk")
    add_errors_args(p, "descriptors")
    p.add_argument("--only-descriptors", action="store_true",
                   help="write only the formula column and the descriptors (and 'error'), not every input column")
    p.add_argument("--list", action="store_true", help="list the descriptors (name, unit, formula, reference) and exit")


def _featurize_chunk(chunk, col, offset, bad, args, descriptors):
    """The chunk's output rows: the input (or only its formula column) + the descriptors, NaN where a row
    cannot be featurized (its reason recorded in `bad`)."""
    import numpy as np
    import pandas as pd

    from hea_fast.commands._tables import featurize_rows

    n_before = len(bad)
    batch, kept = bad.parse(chunk[col], offset)
    feats, unusable = featurize_rows(batch, descriptors, table=args.table, threads=args.threads)
    for i, reason in sorted(unusable.items()):
        pos = int(kept[i])
        bad.add(offset + pos, chunk[col].iloc[pos], reason)
    bad.items[n_before:] = sorted(bad.items[n_before:], key=lambda t: t[0])
    full = pd.DataFrame(np.nan, index=chunk.index, columns=feats.columns)
    full.iloc[kept] = feats.to_numpy()
    base = chunk[[col]] if args.only_descriptors else chunk
    clash = [c for c in full.columns if c in base.columns]
    if clash:
        raise ValueError(f"{args.input} already has column(s) {clash}; use --only-descriptors or rename them")
    return pd.concat([base, full], axis=1)


def handler(args) -> int:
    import pandas as pd

    from hea_fast.commands._stream import stream_table
    from hea_fast.features import list_descriptors, resolve

    if args.list:
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            print(list_descriptors().to_string(index=False))
        return 0
    if not args.input or not args.output:
        raise ValueError("featurize needs IN and -o OUT (or --list)")
    dst = Path(args.output)
    table_format(args.input)  # an unsupported input type fails before the descriptor names are checked
    descriptors = args.descriptors
    if descriptors is not None and len(descriptors) == 1:
        descriptors = descriptors[0]  # a set name or a single descriptor
    resolve(descriptors, args.table)  # unknown names fail here, before any work

    # read, featurized and written --chunk-size rows at a time: flat memory however large the table
    bad, n_in, n_out = stream_table("featurize", args, lambda chunk, col, bad, offset: _featurize_chunk(
        chunk, col, offset, bad, args, descriptors))
    bad.report(n_in, args.errors, args.errors_out)
    print(f"featurize: {n_out} of {n_in} rows -> {dst}", file=sys.stderr)
    return 0
