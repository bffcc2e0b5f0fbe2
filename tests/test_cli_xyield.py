"""`hea-fast xyield simulate` on named alloys (arguments, -i tables, --element-data) and the grid
sample's column names, against hea_fast.xyield.maresca_curtin and an independent rule of mixtures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast.cli import main
from hea_fast.xyield.maresca_curtin import tau_y0_and_dEb, yield_strength, yield_strength_reference


def test_simulate_named_alloys_at_temperatures(tmp_path, capsys):
    out = tmp_path / "y.csv"
    assert main(["xyield", "simulate", "NbMoTaW", "Nb25Mo25Ta25W20V5", "--temperature", "300", "1300", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["formula", "temperature_K", "sigma_y_MPa", "tau_y0_MPa", "dEb_eV"]
    assert list(df["formula"]) == ["NbMoTaW"] * 2 + ["Nb25Mo25Ta25W20V5"] * 2
    assert list(df["temperature_K"]) == [300.0, 1300.0] * 2
    ref = yield_strength_reference(["NbMoTaW", "Nb25Mo25Ta25W20V5"], np.array([[300.0], [1300.0]]))
    np.testing.assert_allclose(df["sigma_y_MPa"].to_numpy().reshape(2, 2), ref.T, rtol=1e-12)
    tau0, deb = tau_y0_and_dEb(["NbMoTaW", "Nb25Mo25Ta25W20V5"])
    np.testing.assert_allclose(df["tau_y0_MPa"][::2], tau0, rtol=1e-12)
    np.testing.assert_allclose(df["dEb_eV"][::2], deb, rtol=1e-12)
    # without -o: a table on stdout; the single-fit model on request
    capsys.readouterr()
    assert main(["xyield", "simulate", "HfNbTaTiZr", "--temperature-model", "single-fit"]) == 0
    text = capsys.readouterr().out
    assert "sigma_y_MPa" in text and f"{yield_strength(['HfNbTaTiZr'], 300.0, model='single-fit')[0]:.1f}"[:4] in text
    # an element without inputs on the command line: one line naming it and the way out
    assert main(["xyield", "simulate", "CoCrFeNi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Co" in err[0] and "--element-data" in err[0]


def test_simulate_table_with_bad_rows(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"Alloy": ["NbMoTaW", "CoCrFeNi", "nbmotaw", "HfNbTaTiZr"], "id": [1, 2, 3, 4]}).to_csv(src, index=False)
    out = tmp_path / "o.parquet"
    assert main(["xyield", "simulate", "-i", str(src), "-T", "500", "-o", str(out)]) == 0
    df = pd.read_parquet(out)
    assert list(df.columns) == ["Alloy", "temperature_K", "id", "sigma_y_MPa", "tau_y0_MPa", "dEb_eV", "error"]
    assert list(df["id"]) == [1, 2, 3, 4] and df["sigma_y_MPa"].isna().tolist() == [False, True, True, False]
    np.testing.assert_allclose(df["sigma_y_MPa"][[0, 3]], yield_strength(["NbMoTaW", "HfNbTaTiZr"], 500.0), rtol=1e-12)
    assert "Co" in df["error"][1] and "case-sensitive" in df["error"][2]
    assert "line 3" in capsys.readouterr().err
    # streamed one alloy at a time (--chunk-size 1) and at two temperatures: the same rows; printed without -o
    for size in ("1", "3"):
        two = tmp_path / f"two{size}.parquet"
        assert main(["xyield", "simulate", "-i", str(src), "-T", "500", "900", "-o", str(two), "--chunk-size",
                     size]) == 0
        pd.testing.assert_frame_equal(pd.read_parquet(two).iloc[::2].reset_index(drop=True), df)
    capsys.readouterr()
    assert main(["xyield", "simulate", "-i", str(src), "-T", "500", "--chunk-size", "2", "--errors", "skip"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[1].split()[0] == "NbMoTaW" and printed[2].split()[0] == "HfNbTaTiZr"


def _mixture(frac, C):
    """Alloy mu and nu from per-element C11, C12, C44 (GPa) by the rule of mixtures (MC2020 eq. 3)."""
    c11, c12, c44 = frac @ C
    mu = np.sqrt(c44 * (c11 - c12) / 2)
    b = (c11 + 2 * c12) / 3
    return mu, (3 * b - 2 * mu) / (2 * (3 * b + mu))


def test_element_data_file_for_a_custom_element(tmp_path):
    """Re is not in the bundled table: --element-data gives its V and Cij; the result equals the
    reference with the alloy mu, nu computed here from the same constants, and giving a table
    element its own table values changes nothing."""
    data = tmp_path / "el.csv"
    pd.DataFrame({"element": ["Re"], "V_A3": [14.71], "C11": [616.0], "C12": [273.0], "C44": [161.0]}).to_csv(data, index=False)
    out = tmp_path / "y.csv"
    assert main(["xyield", "simulate", "Nb30Mo30Re40", "--temperature", "300", "900", "--element-data", str(data),
                 "-o", str(out)]) == 0
    got = pd.read_csv(out)["sigma_y_MPa"].to_numpy()
    frac = np.array([0.3, 0.3, 0.4])  # Nb, Mo, Re
    C = np.array([[246.5, 134.5, 28.73], [463.7, 157.8, 109.2], [616.0, 273.0, 161.0]])
    mu, nu = _mixture(frac, C)
    ref = yield_strength_reference(["Nb30Mo30Re40"], np.array([[300.0], [900.0]]), volumes={"Re": 14.71},
                                   shear_modulus=mu, poisson=nu)
    np.testing.assert_allclose(got, ref[:, 0], rtol=1e-10)
    assert np.all(got > 0)
    same = tmp_path / "nb.csv"
    pd.DataFrame({"element": ["Nb"], "V_A3": [17.975], "C11_GPa": [246.5], "C12_GPa": [134.5], "C44_GPa": [28.73]}
                 ).to_csv(same, index=False)
    assert main(["xyield", "simulate", "NbMoTaW", "--element-data", str(same), "-o", str(out)]) == 0
    np.testing.assert_allclose(pd.read_csv(out)["sigma_y_MPa"], yield_strength(["NbMoTaW"], 300.0), rtol=1e-10)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"element": ["Re"], "V_A3": [14.71], "C11": [616.0]}).to_csv(bad, index=False)
    assert main(["xyield", "simulate", "NbRe", "--element-data", str(bad)]) == 2


def test_grid_sample_uses_the_cli_column_names(tmp_path):
    from hea_fast.xyield.grid import XYieldGrid

    out = tmp_path / "s.parquet"
    assert main(["xyield", "simulate", "--elements", "Cr,Mo,Nb,Ti,W", "--temperatures", "300:2100:100", "--sample",
                 "50", "--seed", "2", "-o", str(out), "--no-progress"]) == 0
    df = pd.read_parquet(out)
    ref = XYieldGrid(elements=("Cr", "Mo", "Nb", "Ti", "W"), temperatures_K=range(300, 2100, 100)).sample(50, seed=2)
    np.testing.assert_allclose(df["sigma_y_MPa"], ref["yield_MPa"], rtol=0)
    np.testing.assert_array_equal(df["temperature_K"], ref["T_K"])
    np.testing.assert_array_equal(df["lattice_index"], ref["rank"])
    np.testing.assert_array_equal(df[["x_Cr", "x_W"]].to_numpy(), ref[["Cr", "W"]].to_numpy())
    assert df["formula"].iloc[0] and "yield_MPa" not in df.columns
    assert main(["xyield", "simulate", "--sample", "5"]) == 2  # the grid sample needs -o


@pytest.mark.parametrize("argv", [["NbMoTaW", "--temperature", "-5"], ["NbMoTaW", "--temperature", "abc"]])
def test_bad_temperatures(argv, capsys):
    assert main(["xyield", "simulate", *argv]) == 2
    assert "--temperatures" in capsys.readouterr().err


# ---- xyield predict -i ------------------------------------------------------------------------------------
def _tiny_models(tmp_path, task="regression", n=2):
    """Untrained tiny CNNs saved as `xyield pretrain` would (speed does not matter here: the test
    checks that the table path gives the --composition path's numbers)."""
    torch = pytest.importorskip("torch")
    from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
    from hea_fast.xyield.protocol import save_model

    dirs = []
    for k in range(n):
        torch.manual_seed(k)
        d = tmp_path / f"{task}{k}"
        save_model(d, XYieldCNN(CNNConfig(channels=(2, 3, 2), hidden=4, task=task)))
        dirs.append(str(d))
    return dirs


def test_predict_table_matches_composition_path_and_reports_bad_rows(tmp_path, capsys):
    models = _tiny_models(tmp_path)
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [7, 8, 9, 10], "Alloy": ["MoNbTaTi", "CoCrFeNi", "monbtati", "Nb25Mo25Ta25W25"]}).to_csv(
        src, index=False)
    ref_csv = tmp_path / "ref.csv"
    assert main(["xyield", "predict", "--model", *models, "-c", "MoNbTaTi", "Nb25Mo25Ta25W25", "-T", "300", "1500",
                 "-o", str(ref_csv)]) == 0
    ref = pd.read_csv(ref_csv)
    out = tmp_path / "o.parquet"
    errs = tmp_path / "bad.csv"
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "-T", "300", "1500", "-o", str(out),
                 "--errors-out", str(errs)]) == 0
    df = pd.read_parquet(out)
    assert list(df.columns) == ["id", "Alloy", "temperature_K", "sigma_y_MPa", "sigma_y_std_MPa", "error"]
    assert list(df["id"]) == [7, 7, 8, 8, 9, 9, 10, 10] and list(df["temperature_K"]) == [300.0, 1500.0] * 4
    good = df["error"] == ""
    assert good.tolist() == [True, True, False, False, False, False, True, True]
    np.testing.assert_allclose(df.loc[good, ["sigma_y_MPa", "sigma_y_std_MPa"]].to_numpy(),
                               ref[["sigma_y_MPa", "sigma_y_std_MPa"]].to_numpy(), rtol=1e-6)
    assert df.loc[~good, "sigma_y_MPa"].isna().all()
    assert "Co" in df["error"][2] and "case-sensitive" in df["error"][4]
    listed = pd.read_csv(errs)
    assert listed["line"].tolist() == [3, 4]  # 1-based file lines (the header is line 1)
    assert "2 of 4 rows" in capsys.readouterr().err
    # skip drops them; raise stops naming the first line
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "--errors", "skip", "-o", str(out)]) == 0
    assert list(pd.read_parquet(out)["id"]) == [7, 10]
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "--errors", "raise", "-o", str(out)]) == 2
    assert "line 3" in capsys.readouterr().err
    # exactly one of -c / -i
    assert main(["xyield", "predict", "--model", *models]) == 2
    assert main(["xyield", "predict", "--model", *models, "-c", "MoNb", "-i", str(src)]) == 2


def test_predict_table_classification_and_all_rows_bad(tmp_path):
    models = _tiny_models(tmp_path, task="classification", n=1)
    src = tmp_path / "in.csv"
    pd.DataFrame({"formula": ["MoNbTaTi", "FeNi"]}).to_csv(src, index=False)
    out = tmp_path / "o.csv"
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "-o", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    p = df[[f"p{k}" for k in range(5)]].to_numpy()
    np.testing.assert_allclose(p[0].sum(), 1.0, rtol=1e-6)
    assert df["class5"][0] == p[0].argmax() and np.isnan(p[1]).all()
    pd.DataFrame({"formula": ["FeNi", ""], "id": [1, 2]}).to_csv(src, index=False)
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df["id"]) == [1, 2] and df["p0"].isna().all() and "empty formula cell" in df["error"][1]


def test_predict_table_streams_in_chunks(tmp_path, capsys):
    """`xyield predict -i` reads --chunk-size alloys at a time: chunks of one alloy give the table of one
    chunk (Parquet and CSV on stdout alike), bad rows keep their file lines, a header-only table gives the
    columns."""
    models = _tiny_models(tmp_path)
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3, 4, 5], "formula": ["MoNbTaTi", "CoCrFeNi", "Nb25Mo25Ta25W25", "", "HfNbTaTiZr"]}
                 ).to_csv(src, index=False)
    outs, errs = [], []
    for size in ("1", "2", "20000"):
        out, err = tmp_path / f"o{size}.parquet", tmp_path / f"e{size}.csv"
        assert main(["xyield", "predict", "--model", *models, "-i", str(src), "-T", "300", "900", "1500",
                     "-o", str(out), "--chunk-size", size, "--errors-out", str(err)]) == 0
        outs.append(pd.read_parquet(out))
        errs.append(pd.read_csv(err))
    for o, e in zip(outs[1:], errs[1:]):
        pd.testing.assert_frame_equal(o, outs[0])
        pd.testing.assert_frame_equal(e, errs[0])
    assert list(outs[0]["id"]) == [i for i in range(1, 6) for _ in range(3)] and errs[0]["line"].tolist() == [3, 5]
    capsys.readouterr()
    assert main(["xyield", "predict", "--model", *models, "-i", str(src), "-T", "300", "900", "1500",
                 "--chunk-size", "2"]) == 0
    from io import StringIO

    printed = pd.read_csv(StringIO(capsys.readouterr().out), keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(printed["sigma_y_MPa"], outs[0]["sigma_y_MPa"], rtol=1e-12)
    assert printed["error"].fillna("").tolist() == outs[0]["error"].tolist()
    head = tmp_path / "head.csv"
    head.write_text("formula,id\n", encoding="utf-8")
    assert main(["xyield", "predict", "--model", *models, "-i", str(head), "-o", str(tmp_path / "h.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "h.csv").columns) == ["formula", "temperature_K", "id", "sigma_y_MPa",
                                                             "sigma_y_std_MPa", "error"]


def test_evaluate_uses_the_models_own_split_and_refuses_leaky_ones(tmp_path, capsys):
    """`xyield evaluate` scores a transferred model on the test points of the split it was trained
    on (recorded in model.json): the MSE equals one computed here on that CV fold. A split whose test
    points include the model's training points (5pct's 229 test points hold most of cv10:0's 216
    training points) is refused instead of silently reporting a score on seen data."""
    torch = pytest.importorskip("torch")
    from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
    from hea_fast.xyield.datasets import cv_folds, load_high_quality
    from hea_fast.xyield.protocol import predict, save_model

    torch.manual_seed(0)
    d = tmp_path / "cv3"
    model = XYieldCNN(CNNConfig(channels=(2, 3, 2), hidden=4))
    save_model(d, model, {"split": "cv10:3", "split_seed": 0})
    hq = load_high_quality()
    _, test = cv_folds(hq)[3]
    y = hq.targets("GPa")[test].astype(float)
    ref = float(np.mean((predict(model, torch.from_numpy(hq.images()[test])).numpy().astype(float) - y) ** 2))
    capsys.readouterr()
    assert main(["xyield", "evaluate", "--model", str(d)]) == 0
    res = __import__("json").loads(capsys.readouterr().out)
    assert res["split"] == "cv10:3" and res["n_test"] == len(test) == int((hq.fold == 3).sum())
    assert res["mse_GPa2"] == pytest.approx(ref, rel=1e-6)
    assert main(["xyield", "evaluate", "--model", str(d), "--split", "5pct"]) == 2
    assert "training points" in capsys.readouterr().err


def test_bad_formulas_on_the_command_line_name_each_and_the_cli_way_out(tmp_path, capsys):
    """Formulas typed as arguments stop the command with every bad one named and the command-line
    way to go on (-i with --errors), not the Python API's errors='skip' that the CLI cannot take."""
    assert main(["xyield", "simulate", "NbMoTaW", "NbMoXx", "NbMo-1"]) == 2
    err = capsys.readouterr().err
    assert "2 of 3 formulas" in err and "'NbMoXx'" in err and "'NbMo-1'" in err and "negative amount" in err
    assert "--errors" in err and "errors='skip'" not in err
    models = _tiny_models(tmp_path, n=1)
    assert main(["xyield", "predict", "--model", *models, "-c", "MoNbTaTi", "NbCu"]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 formulas" in err and "'NbCu'" in err and "Cu" in err and "errors='skip'" not in err


def test_element_data_with_two_rows_for_one_element_is_refused(tmp_path, capsys):
    """Two conflicting rows for Re (14.71 vs 20 Å³ change σ_y by far more than rounding) used to
    be resolved silently by the last row; now the file is refused, naming both lines."""
    data = tmp_path / "el.csv"
    pd.DataFrame({"element": ["Re", "Re"], "V_A3": [14.71, 20.0], "C11": [616.0] * 2, "C12": [273.0] * 2,
                  "C44": [161.0] * 2}).to_csv(data, index=False)
    out = tmp_path / "y.csv"
    assert main(["xyield", "simulate", "NbRe", "--element-data", str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "line 2" in err and "Re" in err and not out.exists()
