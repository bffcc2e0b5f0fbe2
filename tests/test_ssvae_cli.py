"""`hea-fast ssvae ...` end to end: outputs agree with the library calls they wrap."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hea_fast.cli import main


@pytest.fixture(scope="module")
def released(shared_data):
    from hea_fast.ssvae.model import load_released

    return load_released()


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["ssvae", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "predict", "generate", "nudge", "explain"):
        assert cmd in out


def test_predict_reports_rows_outside(tmp_path, released, capsys):
    from hea_fast.ssvae.design import screen

    inp = tmp_path / "in.csv"
    pd.DataFrame({"f": ["CoCrFeNi", "AlCoCrFeNiB", "Fe14Ni16Cr22Co14Al22Cu8"], "k": [1, 2, 3]}).to_csv(inp, index=False)
    assert main(["ssvae", "predict", str(inp), "--model", "released", "--formula-column", "f", "-o", str(tmp_path / "o.csv")]) == 0
    out = pd.read_csv(tmp_path / "o.csv")
    assert list(out["k"]) == [1, 2, 3]  # every input row kept, in order
    assert np.isnan(out["p_single"][1]) and "['B']" in out["ssvae_error"][1]
    np.testing.assert_allclose(out["p_single"][[0, 2]], screen(released, ["CoCrFeNi", "Fe14Ni16Cr22Co14Al22Cu8"]), atol=1e-12)
    assert "1 of 3 rows not scored" in capsys.readouterr().err
    assert main(["ssvae", "predict", str(inp), "--model", "released", "--formula-column", "nope", "-o", str(tmp_path / "x.csv")]) == 2


def test_generate_nudge_explain(tmp_path, released):
    from hea_fast.ssvae.design import generate, nudge

    assert main(["ssvae", "generate", "--model", "released", "--z", "0.1,-0.3", "--grid=-1:1:2,0:1:2",
                 "--forbid", "Cu", "-o", str(tmp_path / "g.csv")]) == 0
    g = pd.read_csv(tmp_path / "g.csv")
    assert len(g) == 5
    from hea_fast.ssvae.design import Constraints

    ref = generate(released, g[["z1", "z2"]].to_numpy(), 1.0, constraints=Constraints(forbidden=("Cu",)))
    assert list(g["alloy"]) == list(ref["alloy"])
    assert main(["ssvae", "generate", "--model", "released", "--z", "1,2,3", "-o", str(tmp_path / "x.csv")]) == 2

    assert main(["ssvae", "nudge", "Fe14Ni16Cr22Co14Al22Cu8", "--model", "released", "-o", str(tmp_path / "n.csv"),
                 "--plot", str(tmp_path / "n.png")]) == 0
    n = pd.read_csv(tmp_path / "n.csv")
    assert list(n["alloy"]) == list(nudge(released, "Fe14Ni16Cr22Co14Al22Cu8")["alloy"])
    assert n["alloy"].iloc[-1] == "Fe21Ni22Cr22Co35"  # the end point the authors show
    assert (tmp_path / "n.png").stat().st_size > 1000
    assert main(["ssvae", "nudge", "CoCrFeNi", "--model", "released", "--bound", "Fe:0", "-o", str(tmp_path / "y.csv")]) == 2

    inp = tmp_path / "in.csv"
    pd.DataFrame({"formula": ["CoCrFeNi"]}).to_csv(inp, index=False)
    assert main(["ssvae", "explain", str(inp), "--model", "released", "-o", str(tmp_path / "e.csv"),
                 "--plot", str(tmp_path / "e.png")]) == 0
    e = pd.read_csv(tmp_path / "e.csv")
    phi = e.filter(like="phi_").to_numpy()[0]
    assert phi.sum() == pytest.approx(e["f"][0] - 0.509514, abs=1e-5)  # efficiency, E[f] of the golden file


def test_train_writes_loadable_model_and_resumes(tmp_path, shared_data):
    from hea_fast.ssvae.model import SSVAE

    out = tmp_path / "m"
    args = ["ssvae", "train", "--out", str(out), "--seed", "3", "--split-seed", "42", "--hidden", "8", "8",
            "--lr", "1e-3", "--no-progress"]
    assert main(args + ["--epochs", "2"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs_run"] == 2 and m["test"]["n"] == 138 and m["best_epoch"] == 1  # < min_epochs: final average
    assert len(pd.read_csv(out / "history.csv")) == 2
    assert (out / "roc.png").is_file() and (out / "checkpoint.safetensors").is_file()
    model = SSVAE.load(out)
    assert model.training_info["seed"] == 3 and model.training_info["split_seed"] == 42
    assert main(args + ["--epochs", "3"]) == 0  # resumes from the checkpoint: one more epoch
    h = pd.read_csv(out / "history.csv")
    assert len(h) == 3
