"""Streaming the per-row commands (featurize, phase / mixture / ssvae / xyield predict, mixture screen,
xyield simulate -i) over tables larger than memory: chunks in file order, one column type per column for
Parquet outputs, an atomic chunk writer, and `stream_table`, the one loop those commands share (the CLI
convention for bad rows of `hea_fast.commands._tables` applied chunk by chunk)."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from hea_fast.commands._common import say
from hea_fast.commands._tables import BadRows, check_header, csv_dialect, csv_sep, formula_column, table_format


def count_rows(path, fmt: str) -> int | None:
    """Data rows of a table without reading it into memory (a CSV's line count minus its header: an
    upper bound when quoted fields hold line breaks; used for progress bars only)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            n += block.count(b"\n")
    return max(n - 1, 0)


def table_header(path, fmt: str, dialect=(",", "utf-8")) -> list[str]:
    """The column names of a table (CSV: read with `dialect` = (delimiter, encoding) of `csv_dialect`)."""
    import pandas as pd

    if fmt == "csv":
        sep, encoding = dialect
        return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep, encoding=encoding).columns]
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def table_chunks(path, fmt: str, size: int, dialect=(",", "utf-8"), dtype=None):
    """DataFrames of at most `size` rows, in file order (CSV: `dialect` of `csv_dialect`, column types
    `dtype` if given, else pandas' guess per chunk); errors name the file."""
    import pandas as pd

    try:
        if fmt == "csv":
            sep, encoding = dialect
            yield from pd.read_csv(path, chunksize=size, sep=sep, encoding=encoding, dtype=dtype)
        else:
            import pyarrow.parquet as pq

            for rb in pq.ParquetFile(path).iter_batches(batch_size=size):
                yield rb.to_pandas()
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it as {fmt.upper()} ({exc})") from None


def csv_column_types(path, size: int, dialect=(",", "utf-8")) -> dict:
    """One type per column of a CSV for reading it in chunks, found in a first pass over the chunks (flat
    memory): pandas guesses each chunk's types alone, so a sparse text column is float (all empty) in one
    chunk and text in the next, which a Parquet file cannot hold. Numbers stay int64 (float64 once an empty
    cell or a decimal appears anywhere), true/false stays bool when no cell is empty, anything else is text
    (object); a column empty everywhere is float64."""
    seen: dict[str, set] = {}
    empty: set[str] = set()
    for chunk in table_chunks(path, "csv", size, dialect):
        for c in chunk.columns:
            values = chunk[c]
            present = values.notna()
            kinds = seen.setdefault(c, set())
            if not present.all():
                empty.add(c)
            if present.any():
                kinds.add(values.dtype.kind)
    out = {}
    for c, kinds in seen.items():
        if not kinds or (kinds <= {"i", "u", "f"} and (c in empty or "f" in kinds)):
            out[c] = "float64"
        elif kinds <= {"i", "u"}:
            out[c] = "int64"
        elif kinds == {"b"} and c not in empty:
            out[c] = "bool"
        else:
            out[c] = "object"
    return out


class _ChunkWriter:
    def __init__(self, path: Path, tmp: Path):
        self.path, self.tmp, self.fmt = path, tmp, table_format(path)
        self.rows, self._parquet, self._started = 0, None, False

    @property
    def empty(self) -> bool:
        """Nothing written yet (not even a header)."""
        return not self._started

    def write(self, df) -> None:
        if self.fmt == "csv":
            df.to_csv(self.tmp, mode="a" if self._started else "w", header=not self._started, index=False,
                      sep=csv_sep(self.path))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            if self._parquet is None:  # a text column with no value in the first chunk is text, not null
                schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema],
                                   metadata=table.schema.metadata)
                self._parquet = pq.ParquetWriter(self.tmp, schema)
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise ValueError(f"{self.path}: a column changes type between chunks of the input ({exc}); write "
                                 ".csv, or convert the input to Parquet first") from None
            self._parquet.write_table(table)
        self._started = True
        self.rows += len(df)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


class _StreamWriter:
    """CSV chunks to a text stream (standard output): not atomic (a pipe has no rename)."""

    def __init__(self, stream):
        self.stream, self.rows, self._started = stream, 0, False

    @property
    def empty(self) -> bool:
        return not self._started

    def write(self, df) -> None:
        df.to_csv(self.stream, header=not self._started, index=False)
        self._started = True
        self.rows += len(df)


class _NullWriter(_StreamWriter):
    """No output table (counts the rows it is given)."""

    def __init__(self):
        super().__init__(None)

    def write(self, df) -> None:
        self._started = True
        self.rows += len(df)


@contextlib.contextmanager
def _writer(output):
    if output is None:
        yield _NullWriter()
    elif output == "-":
        yield _StreamWriter(sys.stdout)
    else:
        with chunk_writer(output) as w:
            yield w


@contextlib.contextmanager
def chunk_writer(path):
    """Write a table chunk by chunk (``w.write(df)``; .csv/.tsv or .parquet, the columns of the first
    chunk) atomically: `path` appears, complete, only when the block succeeds; an error or Ctrl-C
    leaves no partial file (and an existing `path` untouched)."""
    from hea_fast._io import atomic_path

    with atomic_path(path) as tmp:
        w = _ChunkWriter(Path(path), tmp)
        try:
            yield w
        finally:
            w.close()


_FROM_ARGS = object()


def stream_table(cmd: str, args, score, seen=None, *, output=_FROM_ARGS, repeat: int = 1,
                 select=None) -> tuple[BadRows, int, int]:
    """Run a per-row command over the table `args.input` chunk by chunk, with flat memory.

    score(chunk, col, bad, offset) returns the chunk's output frame (input columns first; `chunk` holds rows
    offset, offset+1, ... of the file, index 0..len-1; `repeat` output rows per input row, consecutive, e.g. one
    per temperature) and records its bad rows in `bad`. This applies ``args.errors`` (raise: stop at the first
    chunk with a bad row; skip: drop them; keep: add ``error`` as the last column), calls seen(out) with each chunk's output,
    writes select(out) (default: all of it) to `output` (default
    ``args.output``: a .csv/.tsv/.parquet path written atomically, nothing there until the whole table is done;
    "-": CSV on standard output; None: nothing written), shows a progress bar on tables of more than one chunk
    and scores no rows for a table without data rows (a header-only output with every column). Returns (bad
    rows, rows read, rows written); the caller reports."""
    import numpy as np
    import pandas as pd

    from hea_fast._progress import progress_bar

    src = Path(args.input)
    fmt = table_format(src)
    if not src.is_file():
        raise FileNotFoundError(f"input file not found: {src}")
    if output is _FROM_ARGS:
        output = args.output
    size = args.chunk_size
    bad = BadRows(cmd, src, fmt)
    dialect = csv_dialect(src, note=lambda msg: say(cmd, f"note: {msg}")) if fmt == "csv" else None
    if dialect is not None:
        check_header(src, *dialect)
    total = count_rows(src, fmt)
    n_in, col = 0, None
    # a Parquet output holds one type per column: settle each CSV column's type before the first chunk
    to_parquet = output not in (None, "-") and table_format(output) == "parquet"
    dtype = csv_column_types(src, size, dialect) if fmt == "csv" and to_parquet else None

    def emit(chunk, offset):
        out = score(chunk, col, bad, offset)
        if args.errors == "raise":
            bad.raise_if_any()
        reasons = bad.reasons(len(chunk), offset)
        if repeat != 1:
            reasons = np.repeat(np.asarray(reasons, dtype=object), repeat).tolist()
        if len(out) != len(reasons):
            raise AssertionError(f"{cmd}: {len(out)} output rows for {len(chunk)} input rows x {repeat}")
        if args.errors == "skip":
            out = out[[r == "" for r in reasons]].reset_index(drop=True)
        else:  # the reasons come last (an input column 'error' gives way to them)
            out = out.drop(columns=["error"], errors="ignore")
            out["error"] = reasons
        if seen is not None:
            seen(out)
        writer.write(out if select is None else select(out))

    with _writer(output) as writer, progress_bar(total=total, unit="rows", desc=cmd, file=sys.stderr,
                                                 disable=not total or total <= size) as bar:
        for chunk in table_chunks(src, fmt, size, dialect, dtype):
            if col is None:
                col = formula_column(chunk.columns, args.formula_column, src)
                if "error" in chunk.columns and args.errors != "skip":
                    say(cmd, f"{src} already has a column 'error': it is replaced by this command's reasons")
            emit(chunk.reset_index(drop=True), n_in)
            n_in += len(chunk)
            bar.update(len(chunk))
        if writer.empty:  # no data rows: a header-only table with every output column
            head = table_header(src, fmt, dialect)
            col = formula_column(head, args.formula_column, src)
            emit(pd.DataFrame({c: pd.Series(dtype=object) for c in head}), 0)
    return bad, n_in, writer.rows
