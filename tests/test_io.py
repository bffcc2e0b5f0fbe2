"""hea_fast._io: atomic writes leave the old file intact on failure, fingerprints are canonical,
checkpoints refuse foreign or corrupt state with a message naming the file."""
from __future__ import annotations

import json
import os
import types
from pathlib import Path

import numpy as np
import pytest

from hea_fast._io import (
    Checkpoint,
    CheckpointError,
    atomic_path,
    atomic_write,
    atomic_write_json,
    fingerprint,
    read_json,
)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp." in p.name)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "out.txt"
    atomic_write(p, "first")
    atomic_write(p, b"second")
    assert p.read_bytes() == b"second"
    assert _leftovers(p.parent) == []


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path):
    p = tmp_path / "result.parquet"
    p.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(p) as tmp:
            assert tmp.parent == p.parent and tmp.suffix == ".parquet"  # writers dispatching on suffix
            tmp.write_text("half-written")
            raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_path_works_with_numpy_savez_suffix(tmp_path):
    p = tmp_path / "state.npz"
    with atomic_path(p) as tmp:
        np.savez(tmp, a=np.arange(3))
    with np.load(p) as z:
        np.testing.assert_array_equal(z["a"], np.arange(3))
    assert sorted(os.listdir(tmp_path)) == ["state.npz"]


def test_json_round_trip_with_numpy_values(tmp_path):
    p = atomic_write_json(tmp_path / "a.json", {"x": np.float64(1.5), "v": np.arange(3), "n": np.int32(7)})
    assert json.loads(p.read_text()) == {"x": 1.5, "v": [0, 1, 2], "n": 7}


def test_read_json_names_the_file(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"a": 1, ')
    with pytest.raises(CheckpointError, match=r"model config .*config\.json is not valid JSON"):
        read_json(p, "model config")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_json(tmp_path / "missing.json")


def test_fingerprint_is_canonical_and_sensitive():
    a = {"space": [1, 2, 3], "model": {"b": 1.0, "a": "x"}, "arr": np.arange(4.0)}
    b = {"arr": np.arange(4.0), "model": {"a": "x", "b": 1.0}, "space": [1, 2, 3]}  # other dict order
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64
    variants = [
        {**a, "arr": np.arange(4.0) + 1e-12},      # one value
        {**a, "arr": np.arange(4, dtype=np.float32)},  # dtype
        {**a, "arr": np.arange(4.0).reshape(2, 2)},    # shape
        {**a, "space": [1, 2, 4]},
        {**a, "model": {"b": 1.0, "a": "y"}},
    ]
    assert len({fingerprint(v) for v in variants} | {fingerprint(a)}) == len(variants) + 1
    assert fingerprint({"x": float("nan")}) == fingerprint({"x": float("nan")})


def test_checkpoint_round_trip_and_refusals(tmp_path):
    p = tmp_path / "ck.json"
    ck = Checkpoint(p, {"run": 1})
    assert ck.load() is None
    assert ck.save({"done": [1, 2]})
    assert Checkpoint(p, {"run": 1}).load() == {"done": [1, 2]}
    with pytest.raises(CheckpointError, match=r"ck\.json belongs to a different run \(run differ\)"):
        Checkpoint(p, {"run": 2}).load()
    # the refusal names the settings that differ (a dict's entries are fingerprinted one by one)
    q = tmp_path / "named.json"
    Checkpoint(q, {"space": [1, 2], "threshold": 0.5, "top_k": 10}).save({"done": []})
    with pytest.raises(CheckpointError, match=r"different run \(threshold, top_k differ\)"):
        Checkpoint(q, {"space": [1, 2], "threshold": 0.75, "top_k": 20}).load()
    with pytest.raises(CheckpointError, match=r"different run \(models differ\)"):
        Checkpoint(q, {"space": [1, 2], "threshold": 0.5, "top_k": 10, "models": ["x"]}).load()
    r = tmp_path / "plain.json"  # a string fingerprint (or a file without parts): the general wording
    Checkpoint(r, "abc").save({})
    with pytest.raises(CheckpointError, match=r"different run \(its inputs or settings differ\)"):
        Checkpoint(r, "abd").load()
    with pytest.raises(CheckpointError, match=r"format version 1, expected 2"):
        Checkpoint(p, {"run": 1}, version=2).load()
    p.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"checkpoint .*ck\.json is not valid JSON"):
        Checkpoint(p, {"run": 1}).load()
    p.write_text('{"done": []}')
    with pytest.raises(CheckpointError, match="not a hea_fast checkpoint"):
        Checkpoint(p, {"run": 1}).load()


def test_checkpoint_throttles_unless_forced(tmp_path):
    p = tmp_path / "ck.json"
    ck = Checkpoint(p, "fp", min_interval_s=3600.0)
    assert ck.save({"i": 1})
    assert not ck.save({"i": 2})
    assert Checkpoint(p, "fp").load() == {"i": 1}
    assert ck.save({"i": 3}, force=True)
    assert Checkpoint(p, "fp").load() == {"i": 3}
    assert Checkpoint(None, "fp").save({"i": 4}) is False


def test_atomic_write_gives_the_mode_of_an_ordinary_open(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644


def test_plain_progress_bar_counts_and_prints(capsys):
    from hea_fast._progress import _PlainBar

    with _PlainBar(total=10, desc="job", unit="rows", interval_s=0.0) as bar:
        bar.update(4)
        bar.set_postfix(best=1.5)
        bar.update(6)
    assert bar.n == 10
    err = capsys.readouterr().err
    assert "job: 10/10 rows" in err and "best=1.5" in err
    assert list(_PlainBar(range(3), disable=True)) == [0, 1, 2]


def test_progress_redraws_only_on_a_terminal(monkeypatch):
    import io
    import sys

    from hea_fast._progress import _PlainBar, progress_bar

    tqdm = pytest.importorskip("tqdm")
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    log = io.StringIO()  # a file, pipe or batch log: plain lines, no carriage-return redraws
    with progress_bar(total=1000, desc="screen", unit="comp", file=log, unit_scale=True) as bar:
        for _ in range(1000):
            bar.update(1)
    assert isinstance(bar, _PlainBar) and "\r" not in log.getvalue()
    lines = log.getvalue().splitlines()  # one line per few seconds: here only the final one
    assert len(lines) == 1 and lines[0].startswith("screen: 1,000/1,000 comp (")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress_bar(total=3, file=Terminal())
    assert isinstance(bar, tqdm.tqdm)
    bar.close()
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))  # a notebook: tqdm.auto
    bar = progress_bar(total=3, file=io.StringIO())
    assert isinstance(bar, tqdm.tqdm)
    bar.close()


def test_json_text_is_strict_json(tmp_path):
    """NaN and infinities become null at any depth, NumPy values plain ones; the package's own state
    files (strict=False) keep NaN, which Python reads back."""
    import json
    import math

    import numpy as np

    from hea_fast._io import atomic_write_json, finite_json, json_text

    obj = {"a": float("nan"), "b": [1.0, float("inf"), {"c": np.float64(-np.inf)}], "d": np.array([1.5, np.nan]),
           "e": (np.int64(3), "x"), "f": Path("p")}
    want = {"a": None, "b": [1.0, None, {"c": None}], "d": [1.5, None], "e": [3, "x"], "f": "p"}
    assert finite_json(obj) == want
    assert json.loads(json_text(obj, indent=1), parse_constant=lambda c: pytest.fail(c)) == want
    assert json.loads(json_text({"t": object()}, default=lambda o: float("nan"))) == {"t": None}
    atomic_write_json(tmp_path / "s.json", obj, strict=True)
    assert json.loads((tmp_path / "s.json").read_text(), parse_constant=lambda c: pytest.fail(c)) == want
    atomic_write_json(tmp_path / "n.json", {"a": float("nan")})
    assert math.isnan(json.loads((tmp_path / "n.json").read_text())["a"])
