"""Shared file infrastructure: atomic writes, content fingerprints and resumable checkpoints.

Every file the package writes (results, checkpoints, models, downloaded data) goes through
`atomic_write` / `atomic_path`: the bytes land in a temporary file in the target's folder, are
flushed and fsync'ed, then `os.replace`d over the target (atomic on POSIX), and the folder entry is
fsync'ed too. A failure at any point removes the temporary file and leaves the old target intact,
so an interrupted job never leaves a truncated result behind.

`fingerprint` hashes the settings and data a long job depends on (canonical JSON; arrays by dtype,
shape and bytes) so a checkpoint written for other inputs is refused instead of silently resumed.
`Checkpoint` is the one JSON checkpoint format: ``{"version", "fingerprint", "state"}``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["atomic_write", "atomic_path", "atomic_write_json", "read_json", "fingerprint", "Checkpoint",
           "CheckpointError"]


class CheckpointError(ValueError):
    """A checkpoint or state file that cannot be used; the message names the file and the way out."""


def _umask() -> int:
    # os.umask is the only portable way to read it (set and restored at once); it is process-wide,
    # so it is read per call only from the thread doing the write, never concurrently with itself
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def _fsync_dir(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path` atomically.

    For writers that want a path rather than bytes (``df.to_parquet(tmp)``, ``np.savez(tmp, ...)``,
    safetensors): ``with atomic_path(out) as tmp: df.to_parquet(tmp)``. The temporary name ends with
    the target's suffix (or `suffix`) so libraries that dispatch on it behave (``np.savez`` does not
    append ``.npz``); it is fsync'ed before the rename and removed if the block raises.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.tmp.", dir=target.parent,
                                    suffix=suffix if suffix is not None else target.suffix)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files: give the result the mode an ordinary open() would (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write `data` (bytes, or text encoded with `encoding`) to `path` atomically; returns the path."""
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)
    return target


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def finite_json(obj: Any) -> Any:
    """`obj` with every non-finite float (NaN, ±inf) as None and NumPy values and paths as plain
    ones, recursively through dicts, lists and tuples: what strict JSON readers (jq, JavaScript,
    `json.loads(..., parse_constant=...)`) accept, where Python's json writes a bare NaN."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray, Path)):
        return finite_json(_json_default(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(obj: Any, default=None, **json_kw) -> str:
    """Strict JSON of `obj` for users' tools (`finite_json`: NaN and infinities become null);
    `default` converts other objects as in `json.dumps`."""
    conv = (lambda o: finite_json(default(o))) if default is not None else None
    return json.dumps(finite_json(obj), allow_nan=False, default=conv, **json_kw)


def atomic_write_json(path: str | os.PathLike, obj: Any, strict: bool = False, **json_kw) -> Path:
    """``json.dumps(obj, **json_kw)`` written atomically (NumPy scalars/arrays and paths converted).
    strict: `json_text` (NaN and infinities as null), for files users read with other tools; the
    package's own state files keep NaN, which Python reads back."""
    if strict:
        return atomic_write(path, json_text(obj, **json_kw))
    json_kw.setdefault("default", _json_default)
    return atomic_write(path, json.dumps(obj, **json_kw))


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Parse a JSON file; a missing, unreadable or corrupt file raises an error naming the file.

    what: a word for the file in messages ("checkpoint", "model config", ...).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{what} {p} cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{what} {p} is not valid JSON ({exc.msg}: line {exc.lineno}, column "
                              f"{exc.colno}); the file is corrupt or truncated") from None


def _canonical(obj) -> Any:
    """A JSON-able, dict-order-independent form of `obj` (arrays become dtype, shape and sha256)."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        return {"__array__": [a.dtype.str, list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]}
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.generic):
        return _canonical(obj.item())
    if isinstance(obj, float) and obj != obj:
        return "nan"
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return repr(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__array__"):
        return _canonical(np.asarray(obj))
    return repr(obj)


def fingerprint(obj: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `obj`: dicts, lists, tuples, scalars, strings and NumPy
    arrays (hashed by dtype, shape and bytes) in any nesting. Equal inputs give equal strings whatever
    the dict order; a change of any value, dtype or shape changes it."""
    blob = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class Checkpoint:
    """One resumable-state file: ``{"version": V, "fingerprint": F, "state": {...}}`` as JSON.

    `load()` returns the saved state, or None when there is no file (or `path` is None). A file that
    is corrupt, of another version or written for other inputs (fingerprint) raises
    `CheckpointError` naming the file and the way out. `save(state)` writes atomically; with
    `min_interval_s`, calls closer together than that are skipped unless ``force=True``.
    `fingerprint` may be a string or anything `fingerprint()` accepts.
    """

    def __init__(self, path: str | os.PathLike | None, fingerprint_of: Any, version: int = 1,
                 min_interval_s: float = 0.0, what: str = "checkpoint"):
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint_of if isinstance(fingerprint_of, str) else fingerprint(fingerprint_of)
        # a dict's entries are fingerprinted one by one too, so a refusal can name the settings that differ
        self.parts = {str(k): fingerprint(v) for k, v in fingerprint_of.items()} if isinstance(fingerprint_of, dict) \
            else None
        self.version = int(version)
        self.min_interval_s = float(min_interval_s)
        self.what = what
        self._last = float("-inf")

    def load(self) -> dict | None:
        if self.path is None or not self.path.exists():
            return None
        data = read_json(self.path, self.what)
        if not isinstance(data, dict) or "state" not in data:
            raise CheckpointError(f"{self.what} {self.path} is not a hea_fast checkpoint (no 'state' entry); "
                                  "delete it or choose another path")
        if data.get("version") != self.version:
            raise CheckpointError(f"{self.what} {self.path} has format version {data.get('version')!r}, "
                                  f"expected {self.version}; delete it to start over")
        if data.get("fingerprint") != self.fingerprint:
            theirs, ours = data.get("parts"), self.parts
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k)) \
                if isinstance(theirs, dict) and ours is not None else []
            which = f"{', '.join(diff)} differ" if diff else "its inputs or settings differ"
            raise CheckpointError(f"{self.what} {self.path} belongs to a different run ({which}); delete it or "
                                  "choose another path")
        return data["state"]

    def save(self, state, force: bool = False) -> bool:
        """Write `state` (a dict, or a callable returning it, called only when the file is written);
        returns False when skipped (no path, or within `min_interval_s`)."""
        if self.path is None:
            return False
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return False
        self._last = now
        if callable(state):
            state = state()
        head = {"version": self.version, "fingerprint": self.fingerprint}
        if self.parts is not None:
            head["parts"] = self.parts
        atomic_write_json(self.path, {**head, "state": state})
        return True
