"""hea_fast.datasets files: the data home, metadata.json (checksums, sizes, URLs), fetch, downloads,
corrupt and missing files (errors name the file), and that only hea_fast.datasets resolves the
data home."""
from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hea_fast import datasets as ds
from hea_fast.cli import main
from hea_fast.datasets import catalog, files

ROOT = Path(__file__).resolve().parents[1]


def _empty_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    for flag in ("HEA_FAST_OFFLINE", "HEA_FAST_VERIFY"):  # the defaults, whatever the caller's shell says
        monkeypatch.delenv(flag, raising=False)
    calls = []

    def blocked(url, dest, sha256, timeout=0):
        calls.append(url)
        raise OSError("network blocked in tests")

    monkeypatch.setattr(files, "download_file", blocked)
    return home, calls


# ---------------------------------------------------------------------------------------------
# data home, registry, fetch
def test_data_home_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HEA_FAST_DATA", str(tmp_path))
    assert ds.data_home() == tmp_path.resolve()
    monkeypatch.delenv("HEA_FAST_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "u"))
    assert ds.data_home() == tmp_path / "u" / ".cache" / "hea_fast"


def test_registry_checksums_match_the_shared_files(shared_data):
    # independent hash of every registered file; and every data file of the shared folder is registered
    for (folder, name), entry in ds.FILES.items():
        h = hashlib.sha256((shared_data / folder / name).read_bytes()).hexdigest()
        assert h == entry.sha256, f"{folder}/{name}"
        assert entry.url is None or entry.url.startswith("https://raw.githubusercontent.com/")
        assert entry.url or entry.note
    on_disk = {(p.parent.name, p.name) for p in shared_data.glob("*/*")
               if p.is_file() and p.name != "PROVENANCE.md"}
    assert on_disk == set(ds.FILES)
    for info in ds.DATASETS.values():
        for f in info.files:
            assert (info.folder, f) in ds.FILES


@pytest.mark.parametrize("loader", ["load_yan2021", "load_singh2023", "load_dvae_splits", "load_mpea",
                                    "load_xyield_experimental", "load_machaka2021", "load_gao2017",
                                    "load_peivaste2023"])
def test_empty_home_raises_dataset_not_found(tmp_path, monkeypatch, loader):
    home, calls = _empty_home(tmp_path, monkeypatch)
    with pytest.raises(ds.DatasetNotFoundError) as exc:
        getattr(ds, loader)()
    assert isinstance(exc.value, FileNotFoundError)
    info = next(i for i in ds.DATASETS.values() if i.loader == loader)
    expected = home.resolve() / info.folder / info.files[0]
    msg = str(exc.value)
    assert str(expected) in msg and "HEA_FAST_DATA" in msg
    entry = ds.FILES[(info.folder, info.files[0])]
    if entry.url:  # tried the public source, and says so
        assert calls == [entry.url] and "network blocked" in msg
    else:  # derived file: no download attempted, explains where it comes from
        assert calls == [] and "no direct public download" in msg
    assert not any(home.rglob("*")), "nothing may be left behind in the data home"


def test_offline_flag_skips_the_download(tmp_path, monkeypatch):
    home, calls = _empty_home(tmp_path, monkeypatch)
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    with pytest.raises(ds.DatasetNotFoundError, match="HEA_FAST_OFFLINE"):
        ds.fetch("mpea_borg2020", "MPEA_dataset.csv")
    assert calls == []


def test_fetch_unknown_file_names_known_ones():
    with pytest.raises(KeyError, match="yan2021_sphea/2021Yan_dataset.csv"):
        ds.fetch("yan2021_sphea", "nope.csv")


def _copy_home(shared_data, tmp_path, folders):
    home = tmp_path / "home"
    for f in folders:
        shutil.copytree(shared_data / f, home / f, copy_function=shutil.copyfile)  # writable copies
        (home / f).chmod(0o755)
    return home


def test_corrupted_copy_raises_checksum_error_and_opt_out_works(shared_data, tmp_path, monkeypatch):
    home = _copy_home(shared_data, tmp_path, ["singh2023_via_peivaste"])
    path = home / "singh2023_via_peivaste" / "singh_sheet_1033.csv"
    text = path.read_text()
    assert "\n2,Al0.5NbTaTiV,Al0.5NbTaTiV,BCC\n" in text
    path.write_text(text.replace("\n2,Al0.5NbTaTiV,Al0.5NbTaTiV,BCC\n", "\n2,Al0.5NbTaTiV,Al0.5NbTaTiV,FCC\n"))
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    with pytest.raises(ds.ChecksumError) as exc:
        ds.load_singh2023()
    assert str(path) in str(exc.value) and "verify=False" in str(exc.value)
    assert isinstance(exc.value, ValueError)
    df = ds.load_singh2023(verify=False)  # opt out: the edited label is what we get
    assert df.loc[df.xlsx_row == 2, "phase"].item() == "FCC"
    monkeypatch.setenv("HEA_FAST_VERIFY", "0")
    assert ds.load_singh2023().loc[0, "phase"] == "FCC"
    # the CLI reports it as an error (exit 2) and `verify` flags the file
    monkeypatch.delenv("HEA_FAST_VERIFY")
    assert main(["datasets", "verify"]) == 1


def test_download_is_verified_and_atomic(shared_data, tmp_path, monkeypatch):
    # a file:// URL exercises the real urllib path without network
    src = shared_data / "xyield_exp240" / "xyield_exp240.csv"
    entry = ds.FILES[("xyield_exp240", "xyield_exp240.csv")]
    monkeypatch.setitem(ds.FILES, ("xyield_exp240", "xyield_exp240.csv"),
                        ds.DataFile(entry.dataset, entry.name, entry.sha256, src.as_uri()))
    home = tmp_path / "home"
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    monkeypatch.delenv("HEA_FAST_OFFLINE", raising=False)
    got = ds.fetch("xyield_exp240", "xyield_exp240.csv")
    assert got == home.resolve() / "xyield_exp240" / "xyield_exp240.csv"
    assert got.read_bytes() == src.read_bytes()
    assert len(ds.load_xyield_experimental()) == 240
    # wrong checksum: ChecksumError and no file (not even a partial one) left behind
    dest = tmp_path / "other" / "x.csv"
    with pytest.raises(ds.ChecksumError, match="not saved"):
        files.download_file(src.as_uri(), dest, "0" * 64)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    # a source that does not answer leaves no folder behind
    gone = tmp_path / "gone" / "x.csv"
    with pytest.raises(OSError):
        files.download_file((tmp_path / "missing.csv").as_uri(), gone, None)
    assert not gone.parent.exists()



def test_cli_show_missing_data(tmp_path, monkeypatch, capsys):
    _empty_home(tmp_path, monkeypatch)
    assert main(["datasets", "show", "yan2021"]) == 2
    assert "not found: put it at" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# metadata.json: the URL / SHA-256 / size table as data, consistent with the loaders
def test_metadata_json_entries_are_complete(shared_data):
    meta = json.loads(files.METADATA_PATH.read_text(encoding="utf-8"))
    assert files.METADATA_PATH.parent == Path(ds.__file__).parent  # package data, shipped in the wheel
    seen = set()
    for e in meta["files"]:
        key = (e["dataset"], e["name"])
        assert key not in seen, f"{key} registered twice"
        seen.add(key)
        assert re.fullmatch(r"[0-9a-f]{64}", e["sha256"]), key
        assert "url" in e and (e["url"] is None or e["url"].startswith("https://raw.githubusercontent.com/")), key
        assert e["url"] or len(e.get("note", "")) > 20, f"{key}: a derived file says how it was made"
        assert e["size"] == (shared_data / e["dataset"] / e["name"]).stat().st_size, key
    assert seen == set(ds.FILES)
    names = [d["name"] for d in meta["datasets"]]
    assert names == list(ds.DATASETS) and len(set(names)) == len(names)
    for d in meta["datasets"]:
        assert {"name", "loader", "rows", "description", "source", "license", "folder", "files", "labels"} <= set(d)
        assert d["files"] and all((d["folder"], f) in ds.FILES for f in d["files"])
        assert callable(getattr(ds, d["loader"])) and d["loader"] in ds.__all__
        assert d["name"] in catalog.registered(), f"{d['name']}: no builder registered"
    assert set(catalog.registered()) == set(ds.DATASETS)
    assert all(v in ds.DATASETS for v in meta["aliases"].values())


@pytest.mark.parametrize("name", list(ds.DATASETS))
def test_every_loader_reads_only_its_registered_files(name, shared_data, tmp_path, monkeypatch):
    """A data home holding only the files metadata.json lists for the dataset is enough: a loader
    that read any other file would fail here (downloads are off)."""
    info = ds.DATASETS[name]
    home = tmp_path / "home"
    (home / info.folder).mkdir(parents=True)
    for f in info.files:
        (home / info.folder / f).symlink_to(shared_data / info.folder / f)
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    ds.clear_cache()
    try:
        df = ds.load(name)
    finally:
        ds.clear_cache()
    assert len(df) == info.rows


def test_truncated_file_error_names_the_file_and_its_size(shared_data, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "gao2017_feng2021").mkdir(parents=True)
    path = home / "gao2017_feng2021" / "gao_hea_355.csv"
    data = (shared_data / "gao2017_feng2021" / "gao_hea_355.csv").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    with pytest.raises(ds.ChecksumError) as exc:
        ds.load_gao2017()
    msg = str(exc.value)
    assert str(path) in msg and f"size {len(data) // 2} bytes, expected {len(data)}" in msg


# ---------------------------------------------------------------------------------------------
# only hea_fast.datasets resolves the data home
def _data_home_lookups(path: Path) -> list[str]:
    """String constants that resolve a data home: the environment variable's name or '.cache'
    (docstrings and messages that merely mention $HEA_FAST_DATA do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value in ("HEA_FAST_DATA", ".cache")]


def test_only_hea_fast_datasets_resolves_the_data_home():
    pkg = ROOT / "hea_fast"
    outside = [p for p in sorted(pkg.rglob("*.py")) if (pkg / "datasets") not in p.parents]
    assert len(outside) > 20
    found = [hit for p in outside for hit in _data_home_lookups(p)]
    assert found == [], "resolve the data home with hea_fast.datasets.data_home()/fetch(): " + "; ".join(found)
    assert _data_home_lookups(pkg / "datasets" / "files.py")  # the one place, so the check can fire


def test_datasets_import_is_cheap_and_torch_free():
    code = "import sys, hea_fast.datasets; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def _consumer(name):
    if name == "ssvae_released":
        from hea_fast.ssvae.model import load_released

        return load_released
    if name == "ssvae_splits":
        from hea_fast.ssvae.data import load_splits

        return load_splits
    if name == "ssvae_yan_splits":
        from hea_fast.ssvae.data import load_splits

        return lambda: load_splits(42, source="yan2021")
    from hea_fast.xyield.datasets import load_high_quality

    return load_high_quality


@pytest.mark.parametrize("consumer, missing", [
    ("ssvae_released", "dvae_hea_zeng2024_model/ssvae_released_state_dict.npz"),
    ("ssvae_splits", "dvae_hea_zeng2024/ssvae_splits_1373.csv"),
    ("ssvae_yan_splits", "yan2021_sphea/2021Yan_dataset.csv"),
    ("xyield_high_quality", "xyield_exp240/xyield_exp240.csv"),
])
def test_modules_reading_the_data_home_name_the_missing_file(consumer, missing, tmp_path, monkeypatch):
    """ssvae and xyield read through hea_fast.datasets: an empty data home gives
    DatasetNotFoundError naming the file's path in the data home being used. (The element tables,
    zeng2024 included, are package files: tests/test_elements.py loads them with an empty home.)"""
    home, calls = _empty_home(tmp_path, monkeypatch)
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    ds.clear_cache()
    with pytest.raises(ds.DatasetNotFoundError) as exc:
        _consumer(consumer)()
    assert str(home.resolve() / missing) in str(exc.value)
    assert calls == [] and not any(home.rglob("*"))


def test_corrupt_file_read_by_another_module_is_refused(shared_data, tmp_path, monkeypatch):
    home = _copy_home(shared_data, tmp_path, ["dvae_hea_zeng2024"])
    path = home / "dvae_hea_zeng2024" / "ssvae_splits_1373.csv"
    path.write_text(path.read_text().replace("Ta", "Tb", 1))
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    ds.clear_cache()
    from hea_fast.ssvae.data import load_splits

    try:
        with pytest.raises(ds.ChecksumError, match=re.escape(str(path))):
            load_splits(42)
    finally:
        ds.clear_cache()
