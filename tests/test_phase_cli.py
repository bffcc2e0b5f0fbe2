"""`hea-fast phase predict|info` through hea_fast.cli.main: the default model's p_single / in_domain /
domain_score / reason equal `PhaseModel.predict_frame`, bad rows follow the CLI convention (1-based
lines, hints, keep / skip / raise, --errors-out), `--model` names every bundled model and a
directory, and broken models give one-line errors naming the path."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from hea_fast.cli import build_parser, main
from hea_fast.phase import load_model
from hea_fast.phase.model import default_model_dir

GOOD = ["CoCrFeMnNi", "HfNbTaTiZr", "Al2CoCrFeNi", "NbMoTaW", "Al0.5CoCrFeNi"]


@pytest.fixture(scope="module")
def model():
    return load_model("default")


@pytest.fixture()
def table(tmp_path):
    """A CSV with good rows, an Nd alloy (no Allen electronegativity for Nd), a lower-case row and
    an empty cell; the header is line 1, so 'Nd20Fe40Co40' is on line 3."""
    df = pd.DataFrame({"id": range(8), "Alloy": [GOOD[0], "Nd20Fe40Co40", GOOD[1], "cocrfeni", GOOD[2], None,
                                                 GOOD[3], GOOD[4]]})
    path = tmp_path / "alloys.csv"
    df.to_csv(path, index=False)
    return path


def test_predict_default_model_equals_the_library(model, table, tmp_path, capsys):
    out = tmp_path / "out.csv"
    errs = tmp_path / "bad.csv"
    assert main(["phase", "predict", str(table), "-o", str(out), "--errors-out", str(errs)]) == 0
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(df.columns) == ["id", "Alloy", "p_single", "in_domain", "domain_score", "reason",
                                "training_composition", "p_model", "training_records", "error"]
    good = df["Alloy"].isin(GOOD).to_numpy()
    ref = model.predict_frame(df.loc[good, "Alloy"].tolist(), memory=True)
    np.testing.assert_allclose(df.loc[good, "p_single"], ref["p_single"], rtol=0, atol=1e-12)
    # p_model is the model alone (predict_proba); the known alloys blend it with their records by n / (n + 3)
    alone = model.predict_proba(df.loc[good, "Alloy"].tolist())[:, 1]
    np.testing.assert_allclose(df.loc[good, "p_model"], alone, rtol=0, atol=1e-12)
    k, n = (np.array([int(x) for x in col]) for col in zip(*df.loc[good, "training_records"].str.split("/")))
    assert (n >= 1).all() and (k <= n).all()
    np.testing.assert_allclose(df.loc[good, "p_single"], (1 - n / (n + 3.0)) * alone + n / (n + 3.0) * k / n,
                               rtol=0, atol=1e-12)
    # --no-memory: the model alone, without the two columns
    plain = tmp_path / "plain.csv"
    assert main(["phase", "predict", str(table), "-o", str(plain), "--no-memory"]) == 0
    d2 = pd.read_csv(plain, keep_default_na=False, na_values=[""])
    assert "p_model" not in d2.columns and "training_records" not in d2.columns
    np.testing.assert_allclose(d2.loc[good, "p_single"], alone, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(df.loc[good, "in_domain"].astype(bool), ref["in_domain"])
    np.testing.assert_allclose(df.loc[good, "domain_score"], ref["domain_score"], rtol=1e-12)
    # the five well-known alloys are among the model's training compositions; unreadable rows are not
    assert df.loc[good, "training_composition"].astype(bool).all() and not df.loc[~good, "training_composition"].any()
    # the bad rows: NaN, out of domain, the reason (with the hint for lower case) and a 1-based line
    bad = df.set_index("id").loc[[1, 3, 5]]
    assert bad["p_single"].isna().all() and not bad["in_domain"].astype(bool).any()
    assert "Nd" in bad.loc[1, "reason"] and bad.loc[1, "error"] == bad.loc[1, "reason"]
    assert "case-sensitive: 'Co' not 'co'" in bad.loc[3, "reason"]
    assert bad.loc[5, "reason"] == "empty formula cell"
    listed = pd.read_csv(errs)
    assert listed["line"].tolist() == [3, 5, 7] and listed["formula"].fillna("").tolist() == ["Nd20Fe40Co40",
                                                                                               "cocrfeni", ""]
    cap = capsys.readouterr()
    assert "3 of 8 rows" in cap.err and "line 3:" in cap.err and "line 5:" in cap.err
    assert "5 training compositions of the model, 5 blended with their records in the training data" in cap.out


def test_predict_errors_skip_and_raise(table, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert main(["phase", "predict", str(table), "--formula-column", "Alloy", "--errors", "skip",
                 "-o", str(out)]) == 0
    df = pd.read_parquet(out)
    assert df["Alloy"].tolist() == GOOD and df["p_single"].notna().all()
    capsys.readouterr()
    out2 = tmp_path / "never.csv"
    assert main(["phase", "predict", str(table), "--errors", "raise", "-o", str(out2)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "3 bad row(s)" in err[0] and "line 3" in err[0]
    assert not out2.exists()


def test_predict_element_outside_the_training_alloys(model, tmp_path):
    """An element with descriptor data that no training alloy has: a probability, out of domain."""
    from hea_fast.elements import ElementTable

    known = set(model.domain.elements_)
    foreign = [e for e in ElementTable.load(model.table).symbols if e not in known
               and np.isfinite(model.predict_proba([f"Co20Cr20Fe20Ni20{e}20"], return_reasons=True)[0][0, 1])]
    assert foreign, "no element with descriptor data outside the training alloys"
    e = foreign[0]  # Hg for the bundled model
    src = tmp_path / "x.csv"
    pd.DataFrame({"formula": [f"Co20Cr20Fe20Ni20{e}20", "CoCrFeMnNi"]}).to_csv(src, index=False)
    out = tmp_path / "x_out.csv"
    assert main(["phase", "predict", str(src), "-o", str(out)]) == 0
    rows = pd.read_csv(out, keep_default_na=False, na_values=[""])
    row = rows.iloc[0]
    assert np.isfinite(row["p_single"]) and row["p_single"] == pytest.approx(
        model.predict_proba([f"Co20Cr20Fe20Ni20{e}20"])[0, 1], abs=1e-12)
    assert not row["in_domain"] and np.isinf(row["domain_score"]) and e in row["reason"]
    assert pd.isna(row["error"])  # a probability was computed: not a bad row
    assert rows.iloc[1]["in_domain"] and pd.isna(rows.iloc[1]["reason"])


def test_model_names_and_directories(model, table, tmp_path):
    out = {}
    for name in ("default", "mixture", "ssvae"):
        out[name] = tmp_path / f"{name}.csv"
        assert main(["phase", "predict", str(table), "--model", name, "-o", str(out[name])]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(default_model_dir(), copy)
    out["dir"] = tmp_path / "dir.csv"
    assert main(["phase", "predict", str(table), "--model", str(copy), "-o", str(out["dir"])]) == 0
    read = {k: pd.read_csv(v) for k, v in out.items()}
    pd.testing.assert_frame_equal(read["dir"], read["default"])
    # the mixture and SSVAE columns are those models' probabilities; their domain is not measured
    from hea_fast.commands._common import load_mixture_model
    from hea_fast.features import featurize

    mix = load_mixture_model("mixture")
    good = read["mixture"]["Alloy"].isin(GOOD).to_numpy()
    feats = featurize(read["mixture"].loc[good, "Alloy"].tolist(), list(mix.feature_names_in_), table=mix.table)
    np.testing.assert_allclose(read["mixture"].loc[good, "p_single"], mix.predict_proba(feats)[:, 1], rtol=1e-12)
    for name in ("mixture", "ssvae"):
        assert read[name]["in_domain"].isna().all() and read[name]["domain_score"].isna().all()
        assert read[name].loc[good, "p_single"].between(0, 1).all()
    assert not np.allclose(read["mixture"].loc[good, "p_single"], read["default"].loc[good, "p_single"])


def test_broken_models_give_one_line_errors_naming_the_path(table, tmp_path, capsys):
    out = tmp_path / "o.csv"
    missing = tmp_path / "nope"
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    shutil.copytree(default_model_dir(), corrupt)
    (corrupt / "model.json").write_text('{"format": "hea_fast.phase_model", "version": 1, "params": {')
    bad_domain = tmp_path / "bad_domain"
    shutil.copytree(default_model_dir(), bad_domain)
    for f in bad_domain.glob("domain.npz"):
        f.write_bytes(b"not a zip file")
    truncated = []  # the forest's nodes, the training alloys, the domain: cut short as by an interrupted copy
    for name in ("nodes.npz", "training_alloys.npz", "records.npz", "domain.npz"):
        broken = tmp_path / f"truncated_{name.split('.')[0]}"
        shutil.copytree(default_model_dir(), broken)
        data = (broken / name).read_bytes()
        (broken / name).write_bytes(data[: len(data) // 2])
        truncated.append((broken, str(broken / name)))
    for spec, needle in ((missing, f"--model {missing}: no such directory"), (empty, str(empty)),
                         (corrupt, str(corrupt)), (bad_domain, str(bad_domain)), *truncated):
        for argv in (["phase", "predict", str(table), "--model", str(spec), "-o", str(out)],
                     ["phase", "info", "--model", str(spec)],
                     ["screen", "--model", str(spec), "-o", str(tmp_path / "s.parquet"), "--no-progress"]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and needle in err[0], (argv, err)
    assert not out.exists()
    assert main(["phase", "info", "--model", "mixture"]) == 2
    assert "not a phase model" in capsys.readouterr().err


def test_info_reports_the_training_record_and_domain(model, capsys):
    assert main(["phase", "info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["domain"]["threshold"] == model.domain.threshold_
    assert info["domain"]["n_train"] == model.domain.n_train_
    assert info["domain"]["min_components"] == model.domain.min_components == 3
    assert info["domain"]["min_fraction_ratio"] == model.domain.min_fraction_ratio == 0.5
    assert info["descriptors"] == ",".join(model.descriptors) and info["elements"] == ",".join(model.elements)
    assert info["members"]["random_forest"] == (f"{model.params.n_trees} trees, fitted to the fraction of each "
                                                "source's records calling each training alloy single phase, one "
                                                "row per (source, alloy)")
    assert model.metadata["tree_labels"] == "fraction"
    assert "training" in info
    assert main(["phase", "info", "--full"]) == 0
    full = json.loads(capsys.readouterr().out)
    record = default_model_dir() / "TRAINING.json"
    if record.is_file():
        assert full["training"] == json.loads(record.read_text())


def test_phase_predict_follows_the_table_convention():
    (predict,) = [a for a in build_parser()._actions if a.dest == "command"]
    phase = predict.choices["phase"]
    sub = {a.dest: a for a in phase._actions if a.dest == "phase_command"}["phase_command"].choices["predict"]
    dests = {a.dest: a for a in sub._actions}
    assert dests["formula_column"].default is None and "auto-detect" in dests["formula_column"].help
    assert dests["errors"].default == "keep" and "errors_out" in dests
    assert dests["model"].default == "default"


@pytest.mark.parametrize("sep,encoding,suffix", [(";", "utf-8", ".csv"), ("\t", "utf-8", ".tsv"),
                                                 (",", "utf-8-sig", ".csv"), (";", "cp1252", ".csv")])
def test_predict_reads_the_tables_spreadsheets_write(model, tmp_path, capsys, sep, encoding, suffix):
    """Semicolon (European Excel) and tab separated files, a UTF-8 BOM and Windows-1252 text are read
    as the same table; a compilation's phase label after the formula is not read as elements, and a
    bad row's line number is still the file's."""
    rows = [("CoCrFeNi (FCC)", "FCC"), ("NbMoTaW (BCC)", "BCC"), ("Ti–Zr–Nb–Hf–Ta", "BCC"), ("Xx2Fe", "?"),
            ("AlCoCrFeNi (BCC+B2)", "BCC+B2")]
    text = sep.join(["Alloy", "Phase", "Note"]) + "\n" + "".join(
        sep.join([f, ph, "\"a, b\""]) + "\n" for f, ph in rows)
    path = tmp_path / f"table{suffix}"
    path.write_bytes(text.encode(encoding))
    out = tmp_path / "out.csv"
    assert main(["phase", "predict", str(path), "-o", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert df["Phase"].tolist() == [ph for _, ph in rows] and (df["Note"] == "a, b").all()
    plain = ["CoCrFeNi", "NbMoTaW", "TiZrNbHfTa", "AlCoCrFeNi"]
    ok = df["Alloy"] != "Xx2Fe"
    np.testing.assert_allclose(df.loc[ok, "p_single"], model.predict_frame(plain, memory=True)["p_single"], rtol=0,
                               atol=1e-12)
    err = capsys.readouterr().err
    assert "line 5:" in err and "Xx" in err
    assert ("not UTF-8" in err) == (encoding == "cp1252")


def test_predict_and_info_with_the_fast_model(table, tmp_path, capsys):
    """`--model fast`: the bundled distilled model's p_single / in_domain for the good rows, and its info;
    the default's info names its forest."""
    out = tmp_path / "fast.csv"
    assert main(["phase", "predict", str(table), "-o", str(out), "--model", "fast"]) == 0
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    good = df["Alloy"].isin(GOOD).to_numpy()
    ref = load_model("fast").predict_frame(df.loc[good, "Alloy"].tolist(), memory=True)
    np.testing.assert_allclose(df.loc[good, "p_single"], ref["p_single"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(df.loc[good, "in_domain"].astype(bool), ref["in_domain"])
    capsys.readouterr()
    assert main(["phase", "info", "--model", "fast"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["members"]["boosted_trees"].startswith(
        "600 trees of depth <= 4, distilled from a random forest fitted to the fraction of the records calling each "
        "training alloy single phase (")
    assert info["model_dir"].endswith("phase_fast") and "ensemble_distilled_soft" in info["training"]["model"]
    assert main(["phase", "info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["members"]["random_forest"] == ("300 trees, fitted to the fraction of each source's records calling "
                                                "each training alloy single phase, one row per (source, alloy)")
    assert info["model_dir"].endswith("phase_default") and "ensemble_forest_sources" in info["training"]["model"]


@pytest.mark.parametrize("model_name", ["default", "mixture"])
def test_predict_in_chunks_equals_one_chunk(model_name, tmp_path):
    """phase predict reads, scores and writes the table --chunk-size rows at a time (flat memory on large
    tables): chunks of 3 rows, with bad rows between them and --neighbors, give the file of one chunk, for
    every --errors mode, CSV and Parquet, and the same bad-row report."""
    rng = np.random.default_rng(4)
    alloys = [GOOD[i] for i in rng.integers(0, len(GOOD), 17)]
    alloys[4], alloys[9], alloys[13] = "Nd20Fe40Co40", "cocrfeni", ""
    alloys += ["Ti20Zr20Nb20Hf20Ta20", "Mo25Nb25Ta25W25", "Cr10Fe30Co30Ni30"]
    src = tmp_path / "in.csv"
    pd.DataFrame({"Alloy": alloys, "id": np.arange(len(alloys))}).to_csv(src, index=False)
    extra = ["--neighbors", "2"] if model_name == "default" else []
    for mode in ("keep", "skip"):
        for ext in ("csv", "parquet"):
            one, pieces = tmp_path / f"one_{mode}.{ext}", tmp_path / f"pieces_{mode}.{ext}"
            err1, err3 = tmp_path / f"e1_{mode}_{ext}.csv", tmp_path / f"e3_{mode}_{ext}.csv"
            assert main(["phase", "predict", str(src), "-o", str(one), "--model", model_name, "--errors", mode,
                         "--errors-out", str(err1), *extra]) == 0
            assert main(["phase", "predict", str(src), "-o", str(pieces), "--model", model_name, "--errors", mode,
                         "--errors-out", str(err3), "--chunk-size", "3", *extra]) == 0
            read = pd.read_csv if ext == "csv" else pd.read_parquet
            a, b = read(one), read(pieces)
            pd.testing.assert_frame_equal(a, b)
            if ext == "csv":
                assert one.read_bytes() == pieces.read_bytes()
            assert err1.read_bytes() == err3.read_bytes()
            assert len(a) == len(alloys) - (3 if mode == "skip" else 0)
            assert a["id"].tolist() == [i for i in range(len(alloys)) if mode == "keep" or i not in (4, 9, 13)]
            errs = pd.read_csv(err1)
            assert errs["line"].tolist() == [6, 11, 15]  # header = line 1, row i on line i + 2
    # raise: the first chunk holding a bad row stops the run, and no output file is left behind
    out = tmp_path / "raised.csv"
    assert main(["phase", "predict", str(src), "-o", str(out), "--model", model_name, "--errors", "raise",
                 "--chunk-size", "3"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".raised.csv.tmp*"))


def test_predict_csv_to_parquet_in_chunks_keeps_one_type_per_column(tmp_path):
    """A sparse text column is empty (float) in one chunk and text in another, an integer column gains an
    empty cell late: streamed to Parquet the output has one type per column, the types of the table read
    whole (it used to stop: "a column changes type between chunks")."""
    src = tmp_path / "in.csv"
    pd.DataFrame({"Alloy": ["CoCrFeNi", "HfNbTaTiZr", "MoNbTaW", "CoCrFeMnNi", "NbMoTaWV", "Al0.5CoCrFeNi", "CrFeCoNi"],
                  "note": [None, None, None, "as cast", None, "annealed", None],
                  "n": [1, 2, 3, 4, 5, 6, None], "ok": [True, False, True, True, False, True, True]}).to_csv(src, index=False)
    one, pieces = tmp_path / "one.parquet", tmp_path / "pieces.parquet"
    assert main(["phase", "predict", str(src), "-o", str(one)]) == 0
    assert main(["phase", "predict", str(src), "-o", str(pieces), "--chunk-size", "3"]) == 0
    a, b = pd.read_parquet(one), pd.read_parquet(pieces)
    pd.testing.assert_frame_equal(a, b)
    whole = pd.read_csv(src)
    assert [a[c].dtype for c in whole.columns] == list(whole.dtypes)
    assert a["note"].tolist()[3] == "as cast" and a["n"].dtype == np.float64 and a["ok"].dtype == bool


def test_predict_empty_table_writes_every_output_column(tmp_path, capsys):
    src = tmp_path / "empty.csv"
    src.write_text("Alloy,id\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["phase", "predict", str(src), "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) == 0
    assert list(df.columns) == ["Alloy", "id", "p_single", "in_domain", "domain_score", "reason",
                                "training_composition", "p_model", "training_records", "error"]
    assert "0 of 0 rows scored" in capsys.readouterr().out
