"""`hea-fast datasets list | show | verify` on the shared data home."""
from __future__ import annotations

import json

import pandas as pd

from hea_fast import datasets as ds
from hea_fast.cli import main


def test_cli_list(capsys, shared_data):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name, info in ds.DATASETS.items():
        assert name in out and str(info.rows) in out
    assert "license:" in out and "source:" in out
    assert main(["datasets", "list", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in js["datasets"]} == set(ds.DATASETS) and all(d["present"] for d in js["datasets"])


def test_cli_show(capsys, tmp_path, shared_data):
    assert main(["datasets", "show", "singh2023"]) == 0
    out = capsys.readouterr().out
    assert "rows: 1033" in out and "single_phase: 0 453, 1 580" in out
    assert "license:" in out and "source:" in out and "formula" in out
    out_file = tmp_path / "singh.csv"
    assert main(["datasets", "show", "dvae_splits", "--json", "-o", str(out_file)]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["rows"] == 1373 and js["label_balance"]["split"]["labelled"] == 864
    back = pd.read_csv(out_file, keep_default_na=False)
    assert len(back) == 1373 and list(back.columns) == js["columns"]
    assert main(["datasets", "show", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_cli_verify_ok(capsys, shared_data):
    assert main(["datasets", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok") == len(ds.FILES)

