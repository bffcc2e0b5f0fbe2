"""Without the shared data home the suite skips, naming the missing file (tests/conftest.py): run a
few data-needing tests of this suite in a fresh pytest process with an empty data home and
downloads off, and check how each is reported."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_pytest(nodes, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    import hea_fast

    env = dict(os.environ, HEA_FAST_DATA=str(home), HEA_FAST_OFFLINE="1")
    # the same hea_fast as this process (the installed package, or the source tree via PYTHONPATH)
    paths = [str(Path(hea_fast.__file__).resolve().parents[1])] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths)
    cmd = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
           "-p", "no:cacheprovider", "-p", "no:randomly", "-q", "-rA", *[str(n) for n in nodes]]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_missing_data_skips_name_the_file(tmp_path):
    pytest.importorskip("torch")
    home = tmp_path / "empty_home"
    home.mkdir()
    nodes = [
        # DatasetNotFoundError raised in a module-scoped fixture, used by two tests (both skip)
        "tests/test_ssvae_model.py::test_default_model_metrics_are_reproducible",
        "tests/test_ssvae_model.py::test_default_model_descriptors_are_the_models_inputs",
        # the shared_data fixture
        "tests/test_elements.py::test_zeng2024_table_equals_the_authors_lookup",
        # tests that need no data still run; one checks the missing-file error itself
        "tests/test_elements.py::test_zeng2024_table_is_bundled",
        "tests/test_ssvae_model.py::test_load_model_errors_name_the_path",
    ]
    r = _run_pytest([ROOT / n for n in nodes], home, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"2 passed, 3 skipped", out), out
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 3, out
    from_fixture = [s for s in skips if "yan2021_sphea/2021Yan_dataset.csv" in s]
    assert len(from_fixture) == 2, out  # the file named, for both users of the fixture
    assert all(str(home) in s and "shared data not available" in s for s in from_fixture), out
    assert sum("holds none of the registered datasets" in s for s in skips) == 1, out


def test_file_missing_from_a_partial_data_home_is_named(tmp_path):
    """A data home that has some datasets but not the file a test reads: skip naming that path."""
    home = tmp_path / "partial"
    (home / "yan2021_sphea").mkdir(parents=True)
    r = _run_pytest([ROOT / "tests/test_elements.py::test_zeng2024_table_equals_the_authors_lookup"], home, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "1 skipped" in out, out
    assert str(home / "dvae_hea_zeng2024" / "element_lookup_70.csv") in out, out


def test_every_data_command_fails_in_one_line_naming_hea_fast_data(tmp_path, monkeypatch, capsys):
    """Each command that reads the data fails (non-zero exit) with one stderr line naming HEA_FAST_DATA;
    `datasets verify` used to list every file as missing and exit 0, and `validate phase` left an empty
    output folder behind."""
    from hea_fast.cli import main
    from hea_fast.datasets import clear_cache

    home = tmp_path / "empty_home"
    home.mkdir()
    monkeypatch.setenv("HEA_FAST_DATA", str(home))
    monkeypatch.setenv("HEA_FAST_OFFLINE", "1")
    clear_cache()
    out_dir = tmp_path / "vp"
    commands = [["datasets", "show", "yan2021"], ["datasets", "verify"],
                ["validate", "phase", "--models", "prior", "--protocols", "loso", "--n-boot", "5", "--no-plots",
                 "--quiet", "-o", str(out_dir)]]
    for argv in commands:
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc != 0, argv
        assert len(err) == 1 and "HEA_FAST_DATA" in err[0] and str(home) in err[0], (argv, err)
    assert not out_dir.exists()
