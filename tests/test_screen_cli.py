"""The `hea-fast screen` command: output files, --help, --device, and the default palette."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S


def test_cli_screen_yield(tmp_path):
    from hea_fast.cli import main

    out = tmp_path / "top.parquet"
    rc = main(["screen", "--elements", "Mo,Nb,Ta,W,V", "--n-elements", "3-4", "--step", "10", "--scorer", "yield",
               "--temperature", "1000", "--top-k", "15", "-o", str(out), "--no-progress"])
    assert rc == 0
    top = pd.read_parquet(out)
    assert len(top) == 15
    col = "sigma_y_1000K_MPa"
    assert np.all(np.diff(top[col].to_numpy()) <= 0)
    assert json.loads(out.with_suffix(".json").read_text())["n_top"] == 15
    assert out.with_suffix(".png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["screen", "--help"])


def test_cli_screen_device_option(tmp_path, capsys):
    """--device auto screens wherever possible (the CPU here when no GPU is visible) with the same
    top rows as --device cpu; --help documents the option and an unknown device is refused."""
    from hea_fast._backend import cuda_available
    from hea_fast.cli import main

    base = ["screen", "--elements", "Ti,Zr,Nb,Ta,Mo", "--n-elements", "3", "--step", "10", "--top-k", "12",
            "--no-progress"]
    tops = {}
    for dev in ("cpu", "auto"):
        out = tmp_path / f"{dev}.parquet"
        assert main(base + ["--device", dev, "-o", str(out)]) == 0
        tops[dev] = pd.read_parquet(out)
    if not cuda_available():
        pd.testing.assert_frame_equal(tops["auto"], tops["cpu"])
    else:
        np.testing.assert_array_equal(tops["auto"]["rank"], tops["cpu"]["rank"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    assert "--device {cpu,cuda,auto}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(base + ["--device", "tpu"])
    assert exc.value.code == 2


def test_cli_default_palette_is_the_library_one(capsys):
    from hea_fast.cli import main

    assert len(S.DEFAULT_PALETTE) == 15 and len(set(S.DEFAULT_PALETTE)) == 15
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    assert ",".join(S.DEFAULT_PALETTE) in capsys.readouterr().out.replace("\n", "").replace(" ", "")
