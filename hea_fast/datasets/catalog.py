"""The dataset catalogue: metadata from ``metadata.json``, name resolution, the per-process cache of
parsed frames, `load`, `list_datasets` and `describe`.

A dataset family module registers one builder per dataset with ``@register(name)``; the builder
takes ``verify`` and returns the tidy frame. Frames are cached per process, keyed on the data home
and the files' (size, mtime), and every caller gets a deep copy it may modify.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from hea_fast.datasets.files import clear_hash_cache, data_home, fetch, metadata, verify_default
from hea_fast.datasets.tidy import element_columns

__all__ = ["DatasetInfo", "DATASETS", "ALIASES", "resolve", "list_datasets", "register", "registered", "get", "load",
           "describe", "clear_cache"]


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: its loader function, size, provenance, data-home folder, files and label columns."""

    name: str
    loader: str
    rows: int
    description: str
    source: str
    license: str
    folder: str
    files: tuple
    labels: tuple = field(default=())


DATASETS: dict[str, DatasetInfo] = {
    d["name"]: DatasetInfo(d["name"], d["loader"], int(d["rows"]), d["description"], d["source"], d["license"],
                           d["folder"], tuple(d["files"]), tuple(d.get("labels", ())))
    for d in metadata()["datasets"]
}
#: other names accepted by `load` / `describe` (lower case) -> dataset name
ALIASES: dict[str, str] = dict(metadata()["aliases"])


def resolve(name: str) -> DatasetInfo:
    """The DatasetInfo of a name or alias (case-insensitive); ValueError listing the known names."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def list_datasets() -> pd.DataFrame:
    """One row per dataset: name, rows, description, source, license, folder, files, loader."""
    return pd.DataFrame(
        [
            {"name": d.name, "rows": d.rows, "description": d.description, "source": d.source,
             "license": d.license, "folder": d.folder, "files": ", ".join(d.files), "loader": d.loader}
            for d in DATASETS.values()
        ]
    )


# ---------------------------------------------------------------------------------------------
_BUILDERS: dict[str, Callable[[bool], pd.DataFrame]] = {}


def register(name: str):
    """Decorator: the builder of dataset `name` (which must have a metadata.json entry)."""
    if name not in DATASETS:
        raise KeyError(f"dataset {name!r} has no entry in metadata.json")

    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def registered() -> tuple[str, ...]:
    """Names of the datasets whose builder is registered (every DATASETS entry, once the family
    modules are imported by ``hea_fast.datasets``)."""
    return tuple(_BUILDERS)


def _stamp(info: DatasetInfo):
    home = data_home()
    st = []
    for f in info.files:
        p = home / info.folder / f
        try:
            s = p.stat()
            st.append((f, s.st_size, s.st_mtime_ns))
        except OSError:
            return None
    return (str(home), tuple(st))


@functools.lru_cache(maxsize=32)
def _cached(name: str, verify: bool, stamp) -> pd.DataFrame:
    return _BUILDERS[name](verify)


def get(name: str, verify: bool | None) -> pd.DataFrame:
    """A deep copy of dataset `name`'s tidy frame, built once per process and data-home state."""
    info = DATASETS[name]
    verify = verify_default(verify)
    stamp = _stamp(info)
    if stamp is None:  # a file is missing: fetch (download or DatasetNotFoundError), then cache
        for f in info.files:
            fetch(info.folder, f, verify=verify)
        stamp = _stamp(info)
    df = _cached(name, verify, stamp)
    out = df.copy(deep=True)
    out.attrs = {k: (list(v) if isinstance(v, list) else v) for k, v in df.attrs.items()}
    return out


def clear_cache() -> None:
    """Forget the parsed frames and file hashes cached in this process."""
    _cached.cache_clear()
    clear_hash_cache()


def load(name: str, *, verify: bool | None = None) -> pd.DataFrame:
    """Load a dataset by name (see :func:`list_datasets`; aliases like "borg2020", "zeng2024" work)."""
    return get(resolve(name).name, verify)


def describe(name: str, *, verify: bool | None = None) -> dict:
    """Summary of a dataset for `hea-fast datasets show`: metadata, rows, columns, label balance,
    parse errors, duplicates and conflicts, and the files with their paths."""
    info = resolve(name)
    df = load(info.name, verify=verify)
    balance = {}
    for lab in info.labels:
        if lab not in df.columns:
            continue
        s = df[lab]
        if s.dtype.kind == "f" and s.nunique() > 20:
            balance[lab] = {"count": int(s.notna().sum()), "min": float(s.min()), "median": float(s.median()),
                            "max": float(s.max())}
        else:
            vc = s.value_counts(dropna=False)
            if s.dtype.kind in "iuf" or str(s.dtype) == "Int64":
                vc = vc.sort_index()
            vc.index = ["<missing>" if pd.isna(k) else k for k in vc.index]
            balance[lab] = {str(k): int(v) for k, v in vc.items()}
    home = data_home()
    return {
        "name": info.name,
        "description": info.description,
        "rows": len(df),
        "columns": list(df.columns),
        "elements": element_columns(df),
        "label_balance": balance,
        "parse_errors": int((df["parse_error"] != "").sum()) if "parse_error" in df.columns else 0,
        "duplicates": int(df["duplicate"].sum()) if "duplicate" in df.columns else 0,
        "label_conflict_rows": int(df["label_conflict"].sum()) if "label_conflict" in df.columns else 0,
        "source": info.source,
        "license": info.license,
        "files": [str(home / info.folder / f) for f in info.files],
    }
