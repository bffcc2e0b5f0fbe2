"""`hea-fast datasets list | show NAME | verify`: inspect the public datasets (hea_fast.datasets).

`list` prints every dataset with its row count, source and license and whether its files are in
the data home; `show NAME` loads one and prints rows, columns, label balance, parse errors,
duplicates/conflicts, source and license (``--json`` for machine-readable output, ``--output``
writes the tidy table to CSV/Parquet atomically); `verify` checks that every registered file is
present with its SHA-256 (exit 1, naming ``HEA_FAST_DATA``, when one is missing or differs).
"""
from __future__ import annotations

import sys
from pathlib import Path

from hea_fast._io import json_text
from hea_fast.commands._tables import output_table


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="List the datasets (rows, source, license, present in the data home)",
                              description="List the public datasets known to hea_fast.datasets.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_list)

    p = subparsers.add_parser("show", help="Show one dataset: rows, columns, label balance, source, license",
                              description="Load one dataset and summarise it.")
    p.add_argument("name", help="dataset name (see `hea-fast datasets list`)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--head", type=int, default=0, metavar="N", help="also print the first N rows")
    p.add_argument("-o", "--output", default=None, type=output_table, help="write the tidy table to this .csv or .parquet file (default: none written)")
    p.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check of the data files")
    p.set_defaults(func=_show)

    p = subparsers.add_parser("verify", help="Check every registered data file (present, SHA-256)",
                              description="Check every registered data file in the data home against its SHA-256.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_verify)


def _present(info, home: Path) -> bool:
    return all((home / info.folder / f).is_file() for f in info.files)


def _list(args) -> int:
    from hea_fast import datasets as ds

    home = ds.data_home()
    table = ds.list_datasets()
    table["present"] = [_present(ds.DATASETS[n], home) for n in table["name"]]
    if args.json:
        print(json_text({"data_home": str(home), "datasets": table.to_dict(orient="records")}, indent=2))
        return 0
    print(f"data home: {home}")
    w = max(len(n) for n in table["name"])
    print(f"{'name':<{w}}  {'rows':>6}  {'here':<4}  description")
    for r in table.itertuples():
        print(f"{r.name:<{w}}  {r.rows:>6}  {'yes' if r.present else 'no':<4}  {r.description}")
        print(f"{'':<{w}}  {'':>6}  {'':<4}  source: {r.source}")
        print(f"{'':<{w}}  {'':>6}  {'':<4}  license: {r.license}")
    return 0


def _show(args) -> int:
    from hea_fast import datasets as ds
    from hea_fast.commands._tables import write_table

    verify = False if args.no_verify else None
    info = ds.describe(args.name, verify=verify)
    df = ds.load(info["name"], verify=verify) if (args.output or args.head) else None
    if args.output:
        write_table(df, args.output)
    if args.json:
        print(json_text(info, indent=2, default=str))
        return 0
    print(f"{info['name']}: {info['description']}")
    print(f"rows: {info['rows']}")
    print(f"source: {info['source']}")
    print(f"license: {info['license']}")
    print(f"files: {', '.join(info['files'])}")
    print(f"elements ({len(info['elements'])}): {' '.join(info['elements'])}")
    print(f"columns ({len(info['columns'])}): {', '.join(info['columns'])}")
    print("label balance:")
    for lab, counts in info["label_balance"].items():
        print(f"  {lab}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"parse errors: {info['parse_errors']}  duplicate compositions: {info['duplicates']}  "
          f"rows with conflicting labels: {info['label_conflict_rows']}")
    if args.head:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(df.head(args.head).to_string(max_cols=12))
    if args.output:
        print(f"wrote {args.output}")
    return 0


def _verify(args) -> int:
    from hea_fast import datasets as ds

    rows = []
    for (folder, name), entry in ds.FILES.items():
        path = ds.data_home() / folder / name
        if not path.is_file():
            status = "missing"
        else:
            try:
                ds.fetch(folder, name, verify=True, download=False)
                status = "ok"
            except ds.ChecksumError:
                status = "checksum mismatch"
        rows.append({"file": f"{folder}/{name}", "status": status, "path": str(path)})
    bad = [r for r in rows if r["status"] == "checksum mismatch"]
    missing = [r for r in rows if r["status"] == "missing"]
    if args.json:
        print(json_text({"data_home": str(ds.data_home()), "files": rows}, indent=2))
    else:
        print(f"data home: {ds.data_home()}")
        w = max(len(r["file"]) for r in rows)
        for r in rows:
            print(f"{r['file']:<{w}}  {r['status']}")
    if bad:
        print(f"{len(bad)} file(s) do not match their registered SHA-256", file=sys.stderr)
    if missing:
        print(f"{len(missing)} of {len(rows)} registered file(s) are missing from the data home {ds.data_home()}: "
              "set HEA_FAST_DATA to the folder that holds the datasets (<data home>/<dataset>/<file>)",
              file=sys.stderr)
    return 1 if (bad or missing) else 0
