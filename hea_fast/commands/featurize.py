"""`hea-fast featurize`: add empirical HEA descriptors (hea_fast.features) to a table of formulas.

Streams the input in chunks (flat memory however large the file), shows a tqdm progress bar for
inputs larger than one chunk, and writes the output atomically (`hea_fast._io.atomic_path`), so an
interrupted run never leaves a truncated OUT behind.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hea_fast.commands._common import add_command

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def register(subparsers) -> None:
    p = add_command(subparsers, "featurize", handler, help="Compute HEA descriptors for a CSV/Parquet table of formulas",
                    description="Read IN (CSV or Parquet), parse the formula column, append the descriptors "
                    "(delta, dH_mix, dS_mix, VEC, ..., see `--list`) and write OUT (.csv or .parquet).")
    p.add_argument("input", nargs="?", help="input table (.csv or .parquet)")
    p.add_argument("--formula-column", default="Alloy", help="column holding the formulas (default: Alloy)")
    p.add_argument("-o", "--output", help="output file (.csv or .parquet)")
    p.add_argument("--descriptors", nargs="+", default=None, metavar="NAME",
                   help="descriptor names, or one set name (zeng2024, yang2012); default: all")
    p.add_argument("--table", default=None, help="element table: default | zeng2024 (default: the set's own, else default)")
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--chunk-size", type=int, default=200_000, help="rows per chunk (default: 200000)")
    p.add_argument("--errors", choices=["raise", "skip"], default="raise",
                   help="unparsable formulas: stop with an error (default) or drop the rows and report them")
    p.add_argument("--only-descriptors", action="store_true",
                   help="write only the formula column and the descriptors (default: keep every input column)")
    p.add_argument("--list", action="store_true", help="list the descriptors (name, unit, formula, reference) and exit")


def _fmt(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    return fmt


def _count_rows(path: Path, fmt: str) -> int | None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            n += block.count(b"\n")
    return max(n - 1, 0)  # header line


def _chunks(path: Path, fmt: str, size: int):
    import pandas as pd

    if fmt == "csv":
        yield from pd.read_csv(path, chunksize=size)
    else:
        import pyarrow.parquet as pq

        for rb in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield rb.to_pandas()


def _parse(formulas, errors: str):
    """-> (batch, kept input labels or None); reports skipped rows on stderr."""
    from hea_fast.composition import as_batch

    batch = as_batch(formulas, errors=errors)
    for label, reason in batch.skipped:
        print(f"hea-fast featurize: skipping row {label}: {reason}", file=sys.stderr)
    return batch, (batch.index if batch.skipped else None)


def handler(args) -> int:
    import pandas as pd
    from tqdm.auto import tqdm

    from hea_fast._io import atomic_path
    from hea_fast.features import featurize, list_descriptors, resolve

    if args.list:
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            print(list_descriptors().to_string(index=False))
        return 0
    if not args.input or not args.output:
        raise ValueError("featurize needs IN and -o OUT (or --list)")
    if args.chunk_size <= 0:
        raise ValueError(f"--chunk-size must be positive, got {args.chunk_size}")
    src, dst = Path(args.input), Path(args.output)
    if not src.is_file():
        raise FileNotFoundError(f"input file not found: {src}")
    in_fmt, out_fmt = _fmt(src), _fmt(dst)
    descriptors = args.descriptors
    if descriptors is not None and len(descriptors) == 1:
        descriptors = descriptors[0]  # a set name or a single descriptor

    total = _count_rows(src, in_fmt)
    n_in = n_out = 0
    with atomic_path(dst) as tmp, tqdm(total=total, unit="rows", desc="featurize", file=sys.stderr,
                                       disable=not total or total <= args.chunk_size) as bar:
        writer = None  # the Parquet writer, or True once the CSV header is written
        try:
            for chunk in _chunks(src, in_fmt, args.chunk_size):
                if args.formula_column not in chunk.columns:
                    raise ValueError(
                        f"formula column {args.formula_column!r} not in {src} (columns: {list(chunk.columns)})"
                    )
                n_chunk = len(chunk)
                batch, kept = _parse(chunk[args.formula_column], args.errors)
                if kept is not None:
                    chunk = chunk.loc[kept]
                feats = featurize(batch, descriptors, table=args.table, threads=args.threads)
                feats.index = chunk.index
                base = chunk[[args.formula_column]] if args.only_descriptors else chunk
                clash = [c for c in feats.columns if c in base.columns]
                if clash:
                    raise ValueError(f"input already has column(s) {clash}; use --only-descriptors or rename them")
                out = pd.concat([base, feats], axis=1)
                if out_fmt == "csv":
                    out.to_csv(tmp, mode="w" if writer is None else "a", header=writer is None, index=False)
                    writer = True
                else:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(out, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                n_in += n_chunk
                n_out += len(out)
                bar.update(n_chunk)
        finally:
            if writer is not None and writer is not True:
                writer.close()
        if writer is None:  # empty input: still write a header-only file
            empty = pd.DataFrame(columns=[args.formula_column, *resolve(descriptors, args.table)[0]])
            if out_fmt == "csv":
                empty.to_csv(tmp, index=False)
            else:
                empty.to_parquet(tmp, index=False)
    print(f"featurize: {n_out} of {n_in} rows -> {dst}", file=sys.stderr)
    return 0
