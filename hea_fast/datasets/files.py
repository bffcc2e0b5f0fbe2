"""The data home and its files: where each registered file lives, its checksum, its download.

Only this module resolves the data home (DESIGN.md §5): ``$HEA_FAST_DATA`` when set, else
``~/.cache/hea_fast``, one folder per dataset holding the files under the names of their public
sources (the layout of ``../shared/data``). Every file is registered in ``metadata.json`` (beside
this module) with its SHA-256, size and, where one exists, a public URL at a pinned commit.

`fetch(dataset, name)` returns the path of a registered file: a file present in the data home is
checked against its SHA-256 (`ChecksumError` on a mismatch; opt out with ``verify=False`` or
``HEA_FAST_VERIFY=0``); a missing file is downloaded from its public source when the network
allows (checksum verified before the file appears, atomic write through `hea_fast._io`; no download
with ``HEA_FAST_OFFLINE=1``), else `DatasetNotFoundError` says exactly where to put it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hea_fast._io import atomic_path

__all__ = ["DatasetNotFoundError", "ChecksumError", "DataFile", "FILES", "METADATA_PATH", "metadata",
           "data_home", "env_flag", "verify_default", "file_entry", "sha256_of", "check_file",
           "download_file", "fetch", "read_csv", "clear_hash_cache"]

METADATA_PATH = Path(__file__).with_name("metadata.json")
DOWNLOAD_TIMEOUT_S = 10.0


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is not in the data home and could not be downloaded."""


class ChecksumError(ValueError):
    """A dataset file's SHA-256 differs from the registered one (corrupt or different version)."""


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset folder: where it comes from and what its bytes hash to."""

    dataset: str
    name: str
    sha256: str
    url: str | None = None  # public raw URL at a pinned commit; None for files derived here
    note: str = ""  # how a derived file was made (see the folder's PROVENANCE.md)
    size: int | None = None  # bytes


@functools.lru_cache(maxsize=1)
def metadata() -> dict:
    """The parsed ``metadata.json``: {"datasets": [...], "aliases": {...}, "files": [...]}."""
    try:
        return json.loads(METADATA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # a broken installation, not a user error
        raise RuntimeError(f"dataset metadata {METADATA_PATH} cannot be read: {exc}") from None


#: (dataset folder, file name) -> DataFile, for every file a loader or another module reads.
FILES: dict[tuple[str, str], DataFile] = {
    (f["dataset"], f["name"]): DataFile(f["dataset"], f["name"], f["sha256"], f.get("url"), f.get("note", ""),
                                        f.get("size"))
    for f in metadata()["files"]
}


def data_home() -> Path:
    """The data home: ``$HEA_FAST_DATA`` when set (non-empty), else ``~/.cache/hea_fast``."""
    env = os.environ.get("HEA_FAST_DATA", "").strip()
    return Path(env).expanduser().resolve() if env else (Path.home() / ".cache" / "hea_fast")


def env_flag(name: str, default: bool) -> bool:
    """A boolean environment switch: unset or empty -> `default`; 0/false/no/off -> False."""
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() not in ("0", "false", "no", "off")


def verify_default(verify: bool | None) -> bool:
    """`verify`, or ``HEA_FAST_VERIFY`` (default on) when None."""
    return env_flag("HEA_FAST_VERIFY", True) if verify is None else bool(verify)


def file_entry(dataset: str, name: str) -> DataFile:
    try:
        return FILES[(dataset, name)]
    except KeyError:
        known = sorted(f"{d}/{n}" for d, n in FILES)
        raise KeyError(f"no registered data file {dataset}/{name}; known files: {', '.join(known)}") from None


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    # keyed on (size, mtime) so a file replaced in place is hashed again
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file, cached per process on (path, size, mtime)."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def clear_hash_cache() -> None:
    _sha256_cached.cache_clear()


def check_file(path: Path, entry: DataFile) -> None:
    """Raise `ChecksumError` naming `path` when its bytes do not hash to the registered SHA-256."""
    got = sha256_of(path)
    if got != entry.sha256:
        size = path.stat().st_size
        raise ChecksumError(
            f"checksum mismatch for {path}: SHA-256 {got}, expected {entry.sha256} "
            + (f"(size {size} bytes, expected {entry.size}) " if entry.size is not None and size != entry.size else "")
            + f"({entry.dataset}/{entry.name}"
            + (f", source {entry.url}" if entry.url else "")
            + "). The file is corrupt or a different version: replace it, or pass verify=False "
            "(or set HEA_FAST_VERIFY=0) to use it anyway."
        )


def download_file(url: str, dest: Path, sha256: str | None, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `dest` atomically (`hea_fast._io.atomic_path`), verifying `sha256` first.

    Raises OSError (incl. urllib.error.URLError) on network failure and ChecksumError when the
    downloaded bytes do not hash to `sha256`; `dest` is never left half-written, and its folder is
    created only once the source answered.
    """
    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as out:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
            if sha256 is not None and h.hexdigest() != sha256:
                raise ChecksumError(f"downloaded {url} has SHA-256 {h.hexdigest()}, expected {sha256}; not saved")
    return dest


def fetch(dataset: str, name: str, *, verify: bool | None = None, download: bool | None = None) -> Path:
    """Path of registered file `name` of `dataset` in the data home, downloading it if missing.

    verify: check the SHA-256 (default True, or ``HEA_FAST_VERIFY``); a mismatch raises ChecksumError.
    download: try the public source when the file is missing (default True unless
    ``HEA_FAST_OFFLINE=1``). Raises DatasetNotFoundError naming the file and where to put it.
    """
    entry = file_entry(dataset, name)
    home = data_home()
    path = home / dataset / name
    verify = verify_default(verify)
    if path.is_file():
        if verify:
            check_file(path, entry)
        return path
    if download is None:
        download = not env_flag("HEA_FAST_OFFLINE", False)
    reason = ""
    if entry.url and download:
        try:
            download_file(entry.url, path, entry.sha256 if verify else None)
            return path
        except ChecksumError:
            raise
        except (OSError, urllib.error.URLError, ValueError) as exc:  # offline, 404, read-only home …
            reason = f" Download from {entry.url} failed: {exc}."
    elif entry.url:
        reason = f" Downloads are off (HEA_FAST_OFFLINE); its public source is {entry.url}."
    else:
        reason = f" It has no direct public download: {entry.note}."
    raise DatasetNotFoundError(
        f"data file {dataset}/{name} not found: put it at {path} "
        f"(data home {home}, from $HEA_FAST_DATA or ~/.cache/hea_fast; the folder layout is "
        f"<data home>/{dataset}/{name}).{reason} Set HEA_FAST_DATA to a folder that holds the "
        f"datasets, e.g. the shared data folder."
    )


def read_csv(dataset: str, name: str, verify: bool | None = None, **kw) -> pd.DataFrame:
    """`pandas.read_csv` of a fetched file."""
    return pd.read_csv(fetch(dataset, name, verify=verify), **kw)
