"""Input tables of the CLI: reading CSV/Parquet, finding the formula column, and the one way every
command handles bad rows (see the convention in `hea_fast.commands._common`).

A bad row keeps its place with NaN outputs and the reason in an ``error`` column (``--errors
keep``, the default), is dropped (``skip``) or stops the run (``raise``). Messages name the line
of the input file: a CSV's header is line 1 (blank lines and quoted line breaks are counted as
the file has them); a Parquet row is counted from 1.
"""
from __future__ import annotations

import csv
import functools
import itertools
import math
import re
import warnings
from pathlib import Path

from hea_fast.commands._common import say

#: Column names `--formula-column` finds by itself, in this order (any capitalisation).
FORMULA_COLUMNS = ("formula", "alloy", "composition", "formulas", "alloys", "compositions", "chemical_formula",
                   "alloy_formula", "alloy_name")
ERRORS = ("keep", "skip", "raise")
_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_DELIMITERS = (",", ";", "\t", "|")


def add_formula_column(p) -> None:
    p.add_argument("--formula-column", default=None, metavar="NAME",
                   help="column holding the formulas (default: auto-detect the first of formula, alloy, "
                   "composition in any capitalisation, plural forms too, else a header starting with one of them, "
                   "such as 'Composition (at.%%)')")


def add_errors_args(p, what: str = "outputs", choices=ERRORS) -> None:
    default = choices[0]
    text = {"keep": f"keep: keep the row with NaN {what} and the reason in an 'error' column",
            "skip": "skip: drop the row", "raise": "raise: stop with an error, writing nothing"}
    p.add_argument("--errors", choices=choices, default=default,
                   help="rows whose formula cannot be read or scored (unparsable, element without data or "
                   "outside the model): " + "; ".join(text[c] for c in choices)
                   + f" (default: {default}); a warning gives their count")
    p.add_argument("--errors-out", metavar="FILE", default=None,
                   help="also write the bad rows (line, formula, error) to this CSV (default: none written)")


def table_format(path) -> str:
    fmt = _FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        hint = " (save the sheet as CSV)" if Path(path).suffix.lower() in (".xlsx", ".xls", ".ods") else ""
        raise ValueError(f"{path}: unsupported file type {Path(path).suffix!r}; use .csv or .parquet{hint}")
    return fmt


def csv_sep(path) -> str:
    """The delimiter a written text table uses: a tab for .tsv, else a comma."""
    return "\t" if Path(path).suffix.lower() == ".tsv" else ","


def output_table(s: str) -> str:
    """An output table path (.csv, .tsv, .txt or .parquet): an argparse type, so an unsupported file type
    fails before any work is done."""
    import argparse

    if Path(s).suffix.lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"{s}: unsupported output file type {Path(s).suffix!r}; use .csv, .tsv "
                                         "or .parquet")
    return s


def parquet_output(s: str) -> str:
    """An output path that must be Parquet (.parquet or .pq): an argparse type."""
    import argparse

    if _FORMATS.get(Path(s).suffix.lower()) != "parquet":
        raise argparse.ArgumentTypeError(f"{s}: this output is written as Parquet; name it .parquet")
    return s


def csv_dialect(path, note=None) -> tuple[str, str]:
    """(delimiter, encoding) of a delimited text file: the delimiter of ``, ; tab |`` that occurs
    most often in the header line (',' on a tie or none), the encoding UTF-8 (a BOM is dropped) or,
    when the file is not valid UTF-8, Windows-1252 (what spreadsheet programs write), told to `note`.
    The file is read in blocks (the encoding check decodes all of it, the header is its first
    non-blank line), so a multi-GB table is never held in memory; the answer is kept per file
    version (path, size, modification time), so the reader and the bad-row locator decode it once."""
    st = Path(path).stat()
    sep, encoding, why = _sniff(str(path), st.st_size, st.st_mtime_ns)
    if why and note is not None:
        note(why)
    return sep, encoding


@functools.lru_cache(maxsize=16)
def _sniff(path: str, size: int, mtime_ns: int) -> tuple[str, str, str]:
    """`csv_dialect` of one file version: (delimiter, encoding, the note on a non-UTF-8 file or '')."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    head, encoding, offset, why = "", "utf-8-sig", 0, ""
    with open(path, "rb") as fh:
        for block in itertools.chain(iter(lambda: fh.read(1 << 22), b""), [b""]):  # b"": the end
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:  # exc.start counts from the pending bytes
                encoding = "cp1252"
                why = f"{path} is not UTF-8 (byte {offset - pending + exc.start}); read as Windows-1252"
                break
            if len(head) < (1 << 16):
                head += text
            offset += len(block)
    if encoding == "cp1252":
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("cp1252", errors="replace")
    header = next((line for line in head.splitlines() if line.strip()), "")
    counts = [header.count(d) for d in _DELIMITERS]
    sep = _DELIMITERS[counts.index(max(counts))] if max(counts) > 0 else ","
    if Path(path).suffix.lower() == ".tsv" and "\t" in header:
        sep = "\t"
    return sep, encoding, why


def read_table(path, cmd: str = "input"):
    """A CSV (any of the delimiters of `csv_dialect`) or Parquet file as a DataFrame; errors name the file."""
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        sep, encoding = csv_dialect(path, note=lambda msg: say(cmd, f"note: {msg}"))
        check_header(path, sep, encoding)
        return pd.read_csv(path, sep=sep, encoding=encoding)
    except DuplicateColumnsError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it as {fmt.upper()} ({exc})") from None


class DuplicateColumnsError(ValueError):
    """A table header names a column more than once (the message names the file and the columns)."""


def check_header(path, sep: str, encoding: str) -> None:
    """DuplicateColumnsError when the header (first non-blank line) of a CSV names a column more than once: pandas
    would rename the second `name.1`, score only the first and write the renamed one back."""
    from collections import Counter

    with open(path, newline="", encoding=encoding) as fh:
        header = next((row for row in csv.reader(fh, delimiter=sep) if any(c.strip() for c in row)), [])
    dup = [n for n, k in Counter(c for c in header if c != "").items() if k > 1]
    if dup:
        raise DuplicateColumnsError(f"{path}: the header names column(s) {dup} more than once; rename them so that each "
                         "input column keeps its name in the output")


def formula_column(columns, requested: str | None, path) -> str:
    """The formula column: `requested` if given (it must exist), else the first auto-detected name."""
    cols = [str(c) for c in columns]
    if requested is not None:
        if requested not in cols:
            raise ValueError(f"--formula-column {requested!r} is not a column of {path} (columns: {cols})")
        return requested
    lower = {c.lower(): c for c in reversed(cols)}
    for name in FORMULA_COLUMNS:
        if name in lower:
            return lower[name]
    # the headers of published tables: "Composition (at.%)", "Alloy composition", "Nominal composition"
    squeezed = [(re.sub(r"[^a-z]", "", c.lower()), c) for c in cols]
    for stem in ("formula", "composition", "nominalcomposition", "alloy"):
        for key, c in squeezed:
            if key.startswith(stem) and not key.startswith(("alloyid", "alloyno", "alloynumber", "alloytype",
                                                                "alloyclass", "alloyfamily", "alloysystem")):
                return c
    raise ValueError(f"{path} has no formula column ({', '.join(FORMULA_COLUMNS[:3])}, ...): pass "
                     f"--formula-column NAME (columns: {cols})")


def write_table(df, path) -> Path:
    """Write a DataFrame to .csv (.tsv: tab-separated) or .parquet atomically (hea_fast._io)."""
    from hea_fast._io import atomic_path

    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False, sep=csv_sep(path))
        else:
            df.to_parquet(tmp, index=False)
    return Path(path)


# ---- hints ------------------------------------------------------------------------------------------------
def _is_empty(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _case_hint(formula: str) -> str:
    from hea_fast.parse import is_element

    for m in re.finditer(r"[A-Za-z]+", formula):
        tok = m.group()
        if tok[0].islower():  # 'co', 'cocrfeni'
            for n in (2, 1):
                if len(tok) >= n and is_element(tok[:n].capitalize()):
                    return f"element symbols are case-sensitive: '{tok[:n].capitalize()}' not '{tok[:n]}'"
        for i in range(len(tok) - 1):  # 'CO', 'COCRFENI'
            pair = tok[i : i + 2]
            if pair.isupper() and is_element(pair.capitalize()):
                return f"element symbols are case-sensitive: '{pair.capitalize()}' not '{pair}'"
    return ""


def explain(formula, reason: str) -> str:
    """A parse error with the hint for the usual mistake: empty cells, lower-case or all-caps
    symbols, decimal commas."""
    if _is_empty(formula):
        return "empty formula cell"
    reason = str(reason)
    if isinstance(formula, str):
        from hea_fast.parse import family_variable

        v = family_variable(formula)
        if v is not None and f"unexpected character '{v}'" in reason:
            reason = (f"{reason} (a family with a variable: give its value, e.g. "
                      f"'{formula.strip()} ({v} = 0.5)', or write the amount in its place)")
        elif "case-sensitive" not in reason and ("unexpected character" in reason or "unknown element" in reason):
            hint = _case_hint(formula)
            if hint:
                reason = f"{reason} ({hint})"
        if "decimal" not in reason and re.search(r"\d,\d", formula):
            reason = f"{reason} (use '.' as the decimal separator)"
    return reason


# ---- bad rows -----------------------------------------------------------------------------------------------
class BadRows:
    """The bad rows of one input table: (0-based data row, formula, reason), in input order."""

    def __init__(self, cmd: str, path, fmt: str | None = None):
        self.cmd, self.path = cmd, Path(path)
        self.fmt = fmt or table_format(path)
        self.items: list[tuple[int, object, str]] = []
        self._lines: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def add(self, pos: int, formula, reason: str) -> None:
        self.items.append((int(pos), formula, reason))

    def parse(self, formulas, offset: int = 0):
        """Parse `formulas` (rows offset, offset+1, ... of the file) -> (batch of the good rows,
        their positions within `formulas`); the bad ones are recorded with a hinted reason."""
        import numpy as np

        from hea_fast.composition import as_batch

        values = list(formulas)
        batch = as_batch(values, errors="skip")
        for label, reason in batch.skipped:
            self.add(offset + int(label), values[int(label)], explain(values[int(label)], reason))
        kept = np.arange(len(values)) if batch.index is None else np.asarray(batch.index, dtype=np.int64)
        return batch, kept

    # where a row is in the file
    def _csv_lines(self) -> dict[int, int]:
        """Data row -> the line its record starts on, by reading the file as CSV (pandas skips blank
        lines; quoted fields may span lines)."""
        want = {p for p, _, _ in self.items}
        out: dict[int, int] = {}
        sep, encoding = csv_dialect(self.path)
        with open(self.path, newline="", encoding=encoding, errors="replace") as fh:
            reader = csv.reader(fh, delimiter=sep)
            header_seen, row, prev = False, -1, 0
            for rec in reader:
                start = prev + 1
                prev = reader.line_num
                if not rec:  # a blank line
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                row += 1
                if row in want:
                    out[row] = start
                    if len(out) == len(want):
                        break
        return out

    def where(self, pos: int) -> str:
        if self.fmt != "csv":
            return f"row {pos + 1}"
        if self._lines is None:
            try:
                self._lines = self._csv_lines()
            except OSError:
                self._lines = {}
        return f"line {self._lines.get(pos, pos + 2)}"

    def _location(self, pos: int) -> int:
        return int(self.where(pos).split()[1])

    def message(self, limit: int = 3) -> str:
        parts = [f"{self.where(p)}: {r}" for p, _, r in self.items[:limit]]
        more = f" (and {len(self.items) - limit} more)" if len(self.items) > limit else ""
        return "; ".join(parts) + more

    def raise_if_any(self) -> None:
        if self.items:
            raise ValueError(f"{len(self.items)} bad row(s) in {self.path}: {self.message()}; "
                             "--errors keep or --errors skip goes on without them")

    def report(self, n_rows: int, mode: str, errors_out=None) -> None:
        """Warn with the count (and the first rows), write --errors-out."""
        if errors_out:
            import pandas as pd

            key = "line" if self.fmt == "csv" else "row"
            df = pd.DataFrame({key: [self._location(p) for p, _, _ in self.items],
                               "formula": ["" if _is_empty(f) else str(f) for _, f, _ in self.items],
                               "error": [r for _, _, r in self.items]})
            write_table(df, errors_out)
        if not self.items:
            return
        what = {"keep": "kept with NaN outputs and the reason in column 'error'", "skip": "skipped"}.get(mode, mode)
        out = f"; listed in {errors_out}" if errors_out else "; --errors-out FILE lists them"
        say(self.cmd, f"{len(self.items)} of {n_rows} rows of {self.path} could not be used ({what}{out}): "
            + self.message())

    def reasons(self, n_rows: int, offset: int = 0) -> list[str]:
        """The reason of each of rows offset..offset+n_rows-1 ('' for good rows)."""
        out = [""] * n_rows
        for p, _, r in self.items:
            if offset <= p < offset + n_rows:
                out[p - offset] = r
        return out


def finish(df, bad: BadRows, mode: str, errors_out=None, n_rows: int | None = None):
    """The output frame for `mode` (keep: + 'error' column; skip: bad rows dropped) and the report."""
    n = len(df) if n_rows is None else n_rows
    bad.report(n, mode, errors_out)
    if mode == "skip":
        drop = sorted({p for p, _, _ in bad.items})
        return df.drop(index=df.index[drop]).reset_index(drop=True) if drop else df
    if "error" in df.columns:
        say(bad.cmd, f"{bad.path} already has a column 'error': it is replaced by this command's reasons")
    out = df.drop(columns=["error"], errors="ignore")  # the reasons come last, as stream_table writes them
    out["error"] = bad.reasons(len(df))
    return out


# ---- descriptors row by row ------------------------------------------------------------------------------
def featurize_rows(batch, descriptors=None, table=None, threads=None):
    """`hea_fast.features.featurize` of a batch where one alloy's missing element data spoils only
    its own row: -> (descriptor frame with NaN rows, {batch row: reason})."""
    import numpy as np
    import pandas as pd

    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            df = featurize(batch, descriptors, table=table, threads=threads)
        for w in caught:  # the library's own bad-row warning is what this function reports row by row
            if "ElementData" not in w.category.__name__ and "BadRows" not in w.category.__name__:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        bad: dict[int, str] = {}
    except ElementDataError:
        # group by chemical system, find the systems the table cannot describe, featurize the rest
        X = np.asarray(batch.fractions) > 0
        systems: dict[tuple, list[int]] = {}
        for i, row in enumerate(X):
            systems.setdefault(tuple(np.flatnonzero(row)), []).append(i)
        bad = {}
        for rows in systems.values():
            try:
                featurize(batch[rows[:1]], descriptors, table=table, threads=1)
            except ElementDataError as exc:
                for i in rows:
                    bad[i] = f"no element data: {exc}"
        ok = np.array([i for i in range(len(batch)) if i not in bad], dtype=np.int64)
        part = featurize(batch[ok], descriptors, table=table, threads=threads) if ok.size else None
        cols = list(part.columns) if part is not None else list(featurize(batch[:0], descriptors, table=table).columns)
        df = pd.DataFrame(np.nan, index=np.arange(len(batch)), columns=cols)
        if part is not None:
            df.iloc[ok] = part.to_numpy()
    # rows the library itself left NaN (element data missing for some descriptors only): say which
    nan = df.isna().to_numpy()
    rows = [int(i) for i in np.flatnonzero(nan.any(axis=1)) if int(i) not in bad]
    if rows:
        why = _missing_data(batch, df.columns, nan, rows, descriptors, table)
        for i in rows:
            bad[i] = why[i]
    return df.reset_index(drop=True), bad


def _missing_data(batch, columns, nan, rows, descriptors, table) -> dict[int, str]:
    """Why descriptor cells of `rows` are NaN: the element properties (or pair enthalpies) the
    element table lacks, one check per chemical system."""
    import numpy as np

    from hea_fast.elements import ElementDataError
    from hea_fast.features import list_descriptors, resolve

    labels, names, tab = resolve(descriptors, table)
    name_of = dict(zip(labels or names, names))
    needs = dict(zip(list_descriptors()["name"], list_descriptors()["requires"]))
    X = np.asarray(batch.fractions) > 0
    out, seen = {}, {}
    for i in rows:
        cols = tuple(c for c, v in zip(columns, nan[i]) if v)
        els = tuple(e for e, u in zip(batch.elements, X[i]) if u)
        key = (els, cols)
        if key not in seen:
            props = {p.strip() for c in cols for p in needs.get(name_of.get(c, c), "").split(",") if p.strip()}
            reason = "no element data for " + ", ".join(cols)
            try:
                tab.require(els, sorted(props - {"pair_enthalpy"}), why=", ".join(cols))
                if "pair_enthalpy" in props:
                    for a in range(len(els)):
                        for b in range(a + 1, len(els)):
                            tab.pair_enthalpy(els[a], els[b])
            except ElementDataError as exc:
                reason = f"no element data: {exc}"
            seen[key] = reason
        out[i] = seen[key]
    return out
