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
    assert np.isnan(out["p_single"][1]) and "['B']" in out["error"][1]
    assert out["error"].isna()[[0, 2]].all()  # empty cells for the scored rows
    np.testing.assert_allclose(out["p_single"][[0, 2]], screen(released, ["CoCrFeNi", "Fe14Ni16Cr22Co14Al22Cu8"]), atol=1e-12)
    err = capsys.readouterr().err
    assert "1 of 3 rows" in err and "line 3:" in err  # the header is line 1
    assert main(["ssvae", "predict", str(inp), "--model", "released", "--formula-column", "nope", "-o", str(tmp_path / "x.csv")]) == 2
    # --errors skip drops the row, --errors raise writes nothing, --errors-out lists line, formula, reason
    assert main(["ssvae", "predict", str(inp), "--model", "released", "--formula-column", "f", "--errors", "skip",
                 "--errors-out",
                 str(tmp_path / "bad.csv"), "-o", str(tmp_path / "s.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "s.csv")["k"]) == [1, 3]
    bad = pd.read_csv(tmp_path / "bad.csv")
    assert bad.to_dict("list") == {"line": [3], "formula": ["AlCoCrFeNiB"], "error": [out["error"][1]]}
    assert main(["ssvae", "predict", str(inp), "--model", "released", "--formula-column", "f", "--errors", "raise",
                 "-o", str(tmp_path / "r.csv")]) == 2
    assert not (tmp_path / "r.csv").exists()


def test_predict_in_chunks_equals_one_chunk(tmp_path):
    """ssvae predict reads, scores and writes --chunk-size rows at a time: chunks of 2 rows, with bad rows
    between them, give the file of one chunk (CSV and Parquet, keep and skip), the same bad-row list, and
    a header-only file for an empty table. The bundled SSVAE: no data home needed."""
    alloys = ["CoCrFeNi", "AlCoCrFeNiB", "Fe14Ni16Cr22Co14Al22Cu8", "HfNbTaTiZr", "", "MoNbTaW", "cocrfeni",
              "Al0.5CoCrFeNi", "NbMoTaWV"]
    inp = tmp_path / "in.csv"
    pd.DataFrame({"f": alloys, "k": range(len(alloys))}).to_csv(inp, index=False)
    for mode in ("keep", "skip"):
        for ext in ("csv", "parquet"):
            one, pieces = tmp_path / f"one_{mode}.{ext}", tmp_path / f"pieces_{mode}.{ext}"
            e1, e2 = tmp_path / f"e1_{mode}{ext}.csv", tmp_path / f"e2_{mode}{ext}.csv"
            for out, err, size in ((one, e1, "100000"), (pieces, e2, "2")):
                assert main(["ssvae", "predict", str(inp), "--formula-column", "f", "--errors", mode, "--errors-out",
                             str(err), "--chunk-size", size, "-o", str(out)]) == 0
            read = pd.read_csv if ext == "csv" else pd.read_parquet
            a, b = read(one), read(pieces)
            pd.testing.assert_frame_equal(a, b)
            assert e1.read_bytes() == e2.read_bytes()
            assert pd.read_csv(e1)["line"].tolist() == [3, 6, 8]
            assert a["k"].tolist() == [k for k in range(len(alloys)) if mode == "keep" or k not in (1, 4, 6)]
            assert np.isfinite(a["p_single"]).sum() == 6
    empty = tmp_path / "empty.csv"
    empty.write_text("f,k\n", encoding="utf-8")
    assert main(["ssvae", "predict", str(empty), "--formula-column", "f", "-o", str(tmp_path / "e.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "e.csv").columns) == ["f", "k", "p_single", "error"]


def test_generate_nudge_explain(tmp_path, released):
    from hea_fast.ssvae.design import generate, nudge

    assert main(["ssvae", "generate", "--model", "released", "--z", "0.1,-0.3", "--grid", "-1:1:2,0:1:2",
                 "--forbid", "Cu", "--no-hea", "-o", str(tmp_path / "g.csv")]) == 0
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
    assert main(["ssvae", "nudge", "CoCrFeNi", "--model", "released", "--bound", "Fe=0", "-o", str(tmp_path / "y.csv")]) == 2

    inp = tmp_path / "in.csv"
    pd.DataFrame({"formula": ["CoCrFeNi"]}).to_csv(inp, index=False)
    assert main(["ssvae", "explain", str(inp), "--model", "released", "--background-size", "all",
                 "-o", str(tmp_path / "e.csv"), "--plot", str(tmp_path / "e.png")]) == 0
    e = pd.read_csv(tmp_path / "e.csv")
    phi = e.filter(like="phi_").to_numpy()[0]
    assert phi.sum() == pytest.approx(e["p_single"][0] - 0.509514, abs=1e-5)  # efficiency, E[f] of the golden file

    # a subsampled background: efficiency against that subsample's own E[f], reproducible by seed
    args = ["ssvae", "explain", str(inp), "--model", "released", "--background-size", "50", "--seed", "3"]
    assert main(args + ["-o", str(tmp_path / "s1.csv")]) == 0
    assert main(args + ["-o", str(tmp_path / "s2.csv")]) == 0
    s1, s2 = pd.read_csv(tmp_path / "s1.csv"), pd.read_csv(tmp_path / "s2.csv")
    pd.testing.assert_frame_equal(s1, s2)
    assert not np.allclose(s1.filter(like="phi_").to_numpy(), e.filter(like="phi_").to_numpy())
    with pytest.raises(SystemExit) as exc:  # a usage error: argparse's one line, status 2
        main(["ssvae", "explain", str(inp), "--model", "released", "--background-size", "0",
              "-o", str(tmp_path / "bad.csv")])
    assert exc.value.code == 2


def test_train_writes_loadable_model_and_resumes(tmp_path, shared_data, capsys):
    from hea_fast.ssvae.model import SSVAE

    out = tmp_path / "m"
    args = ["ssvae", "train", "--out", str(out), "--seed", "3", "--split-seed", "42", "--hidden", "8", "8",
            "--lr", "1e-3", "--no-progress"]
    assert main(args + ["--epochs", "2"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    # --epochs 2 is below --min-epochs 500: selection moves to the second half of the run, with a warning
    assert m["epochs_run"] == 2 and m["test"]["n"] == 138 and m["train_config"]["min_epochs"] == 1
    assert "selecting over epochs 1-2" in capsys.readouterr().err
    smooth = pd.read_csv(out / "history.csv")["val_metric_smooth"].to_numpy()
    assert m["best_epoch"] == int(smooth.argmin())  # selected within the run, on the smoothed validation score
    assert len(pd.read_csv(out / "history.csv")) == 2
    assert (out / "roc.png").is_file() and (out / "checkpoint.safetensors").is_file()
    model = SSVAE.load(out)
    assert model.training_info["seed"] == 3 and model.training_info["split_seed"] == 42
    assert main(args + ["--epochs", "3"]) == 0  # resumes from the checkpoint: one more epoch
    h = pd.read_csv(out / "history.csv")
    assert len(h) == 3


def _amounts(formula):
    import re

    return {el: int(v) for el, v in re.findall(r"([A-Z][a-z]?)(\d+)", formula)}


def test_generate_designs_high_entropy_alloys(tmp_path, released, capsys):
    """By default every generated alloy has >= 5 elements, each 5-35 at.% (no Li100, Co100), the
    allow list is honoured, p_single is the classifier's score of the written alloy, and an
    impossible request is refused in one line."""
    from hea_fast.ssvae.design import screen

    out = tmp_path / "g.csv"
    assert main(["ssvae", "generate", "--model", "released", "--grid", "-2:2:5,-2:2:5", "-o", str(out)]) == 0
    g = pd.read_csv(out)
    assert len(g) == 25
    for a in g["alloy"]:
        am = _amounts(a)
        assert len(am) >= 5 and min(am.values()) >= 5 and max(am.values()) <= 35 and sum(am.values()) == 100, a
    np.testing.assert_allclose(g["p_single"], screen(released, list(g["alloy"])), atol=1e-6)
    allow = {"Co", "Cr", "Fe", "Ni", "Mn", "Al", "Cu", "Ti", "V"}
    assert main(["ssvae", "generate", "--model", "released", "--grid", "-2:2:5,-2:2:5", "--allow", ",".join(allow),
                 "--max-fraction", "30", "--require", "Ni", "-o", str(out)]) == 0
    for a in pd.read_csv(out)["alloy"]:
        am = _amounts(a)
        assert set(am) <= allow and "Ni" in am and len(am) >= 5 and max(am.values()) <= 30, a
    capsys.readouterr()
    assert main(["ssvae", "generate", "--model", "released", "--z", "0,0", "--allow", "Co,Cr,Fe", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "at least 5 elements" in err[0]


def test_nudge_reports_the_best_step_and_plots_the_background(tmp_path, released, capsys, monkeypatch):
    from hea_fast.ssvae import plots

    figs = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (figs.append(fig), real(fig, path))[1])
    capsys.readouterr()
    assert main(["ssvae", "nudge", "Fe14Ni16Cr22Co14Al22Cu8", "--model", "released", "--cutoff", "0.99",
                 "--max-steps", "10", "-o", str(tmp_path / "n.csv"), "--plot", str(tmp_path / "n.png")]) == 0
    t = pd.read_csv(tmp_path / "n.csv")
    best = t.iloc[int(t["p_single"].to_numpy().argmax())]
    assert t["best"].sum() == 1 and bool(t.loc[t["best"], "step"].iloc[0] == best["step"])
    line = capsys.readouterr().out
    assert f"best step {int(best['step'])}: {best['alloy']} (p_single {best['p_single']:.3f})" in line
    ax, bx = figs[0].axes[:2]
    assert "training alloys" in ax.get_title()
    n_bg = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_bg >= 800  # the 864 labelled training alloys are drawn, as the title says
    names = [a.get_text() for a in bx.texts]
    assert len(names) <= 3 and any(n.startswith("start") for n in names) and any("best" in n for n in names)


def test_bad_design_and_explain_inputs_fail_in_one_line(tmp_path, shared_data, capsys):
    """--z nan wrote an equimolar quinary unrelated to z (rc 0); a bad second start alloy of nudge was
    found only after the first trajectory ran; explain of an empty table said 'no row can be
    explained:' with no reason, and an empty formula cell came back as the alloy 'nan'."""
    out = tmp_path / "g.csv"
    capsys.readouterr()
    assert main(["ssvae", "generate", "--z", "nan,0", "-o", str(out)]) == 2
    assert not out.exists() and "non-finite coordinates" in capsys.readouterr().err
    assert main(["ssvae", "generate", "--z", "0,0", "--cost", "Co=nan", "--cost-weight", "1", "-o", str(out)]) == 2
    assert not out.exists() and "not a finite number" in capsys.readouterr().err

    assert main(["ssvae", "nudge", "CoCrFeNiMn", "U5Fe", "Xx", "-o", str(tmp_path / "n.csv")]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""  # no loop ran
    assert "2 of 3 compositions" in cap.err and "'U5Fe'" in cap.err and "'Xx'" in cap.err

    empty = tmp_path / "empty.csv"
    empty.write_text("formula\n")
    assert main(["ssvae", "explain", str(empty), "-o", str(tmp_path / "e.csv")]) == 2
    assert "has no rows" in capsys.readouterr().err
    mixed = tmp_path / "mixed.csv"
    pd.DataFrame({"formula": ["CoCrFeNiMn", None, "U5Fe"]}).to_csv(mixed, index=False)
    assert main(["ssvae", "explain", str(mixed), "--background-size", "20", "-o", str(tmp_path / "e.csv")]) == 0
    e = pd.read_csv(tmp_path / "e.csv", keep_default_na=False)
    assert list(e["alloy"]) == ["CoCrFeNiMn", "", "U5Fe"]
    assert e["error"][1] == "empty formula cell"
