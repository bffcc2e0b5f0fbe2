"""`hea-fast mixture search|fit|predict|screen` end to end on small inputs.

References: the model reloaded from its directory (predict), counts by hand from the dataset frame
(named datasets), and featurize() called one alloy at a time (supported_rows)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hea_fast.cli import main
from hea_fast.mixture.model import DEFAULT_DESCRIPTORS, SparseMixtureClassifier
from hea_fast.mixture.training_data import supported_rows

FAST = ["--n-iter", "40", "--burn-in", "10", "--n-chains", "2", "--no-progress"]


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mixture", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for sub in ("search", "fit", "predict", "screen"):
        assert sub in out
        with pytest.raises(SystemExit) as exc:
            main(["mixture", sub, "--help"])
        assert exc.value.code == 0
        assert "usage: hea-fast mixture " + sub in capsys.readouterr().out
    assert main(["mixture"]) == 2  # no subcommand: help and exit status 2


def test_top_level_help_lists_every_command_and_a_broken_module_is_an_error(capsys, monkeypatch):
    from hea_fast import cli

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("featurize", "screen", "demo", "datasets", "mixture", "ssvae", "xyield"):
        assert f"\n    {cmd}" in out, cmd
    # a command module that cannot be imported is reported, not silently dropped from the CLI
    monkeypatch.setattr(cli, "_GROUPS", cli._GROUPS + [("broken", "x", ["hea_fast.commands.no_such_module"])])
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        cli.build_parser()


TINY = [("NbMoTaW", 1), ("NbMoTaWV", 1), ("HfNbTaTiZr", 1), ("CoCrFeMnNi", 1), ("CoCrFeNi", 1),
        ("CoCrNi", 1), ("AlCoCrFeNi", 0), ("Al2CoCrFeNi", 0), ("AlCoCrCuFeNi", 0), ("CoCrFeNiTi", 0),
        ("CoCrFeNiMo", 0), ("Al0.3CoCrFeNi", 1), ("MoNbTaV", 1), ("CrMoNbV", 0), ("AlCrMoTi", 0),
        ("HfNbTiZr", 1), ("NbTaTiV", 1), ("AlMoNbTi", 0), ("CuNiCoFe", 1), ("AlCuNiFeCr", 0),
        ("CrFeNiMn", 1), ("CoFeNiTi2", 0), ("Al1.5CoCrFeNi", 0), ("TiZrNbMoV", 0)]


def test_cli_fit_predict_screen(tmp_path, capsys):
    train = tmp_path / "train.csv"
    pd.DataFrame(TINY, columns=["alloy", "single"]).to_csv(train, index=False)
    mdir = tmp_path / "model"
    rc = main(["mixture", "fit", str(train), "--formula-column", "alloy", "--label-column", "single",
               "--descriptors", "VEC,delta,dH_mix", "--max-size", "1", "--n-iter", "60", "--burn-in", "20",
               "--n-chains", "2", "--n-draws", "50", "--no-progress", "-o", str(mdir)])
    assert rc == 0 and (mdir / "config.json").exists()
    out = tmp_path / "pred.csv"
    assert main(["mixture", "predict", "--model", str(mdir), str(train), "--formula-column", "alloy",
                 "-o", str(out)]) == 0
    pred = pd.read_csv(out)
    assert list(pred.columns[:2]) == ["alloy", "single"] and len(pred) == len(TINY)
    model = SparseMixtureClassifier.load(mdir)
    np.testing.assert_allclose(pred["p_single"], model.predict_proba(list(pred["alloy"]))[:, 1], rtol=1e-12)
    rk = tmp_path / "rank.csv"
    capsys.readouterr()
    assert main(["mixture", "search", str(train), "--formula-column", "alloy", "--label-column", "single",
                 "--descriptors", "VEC,delta,dH_mix", "--max-size", "2", "--n-iter", "40", "--burn-in", "10",
                 "--n-chains", "2", "--no-progress", "-o", str(rk)]) == 0
    assert "normalised over these 6 subsets only (cap: size <= 2)" in capsys.readouterr().out
    assert len(pd.read_csv(rk)) == 3 + 3
    ranking = pd.read_csv(rk)
    assert ranking["wbic"].is_monotonic_increasing and ranking["model_prob"].sum() == pytest.approx(1.0)
    passing = tmp_path / "pass.csv"
    capsys.readouterr()
    assert main(["mixture", "screen", "--model", str(mdir), str(train), "--formula-column", "alloy",
                 "--label-column", "single", "--threshold", "0.5", "--n-boot", "200", "-o", str(passing)]) == 0
    report = json.loads(capsys.readouterr().out)
    kept = pd.read_csv(passing)
    hand = pred[pred["p_single"] >= 0.5]
    assert (kept["p_single"] >= 0.5).all() and len(kept) == len(hand) == report["n_pass"]
    assert report["precision"] == pytest.approx(hand["single"].mean())
    assert report["base_rate"] == pytest.approx(pred["single"].mean())
    assert report["ci_low"] <= report["precision"] <= report["ci_high"]
    # without labels: only the counts
    assert main(["mixture", "screen", "--model", str(mdir), str(train), "--formula-column", "alloy",
                 "--threshold", "0.5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"threshold": 0.5, "n_total": len(TINY), "n_pass": len(hand)}
    assert main(["mixture", "predict", "--model", str(mdir), str(train), "--formula-column", "nope",
                 "-o", str(out)]) == 2


def _featurizes(formula, names):
    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize

    try:
        v = featurize([formula], descriptors=names, errors="raise")[names].to_numpy(dtype=float)
    except ElementDataError:
        return False
    return bool(np.isfinite(v).all())


def test_supported_rows_equals_featurize_one_by_one():
    from hea_fast.composition import CompositionBatch

    formulas = ["CoCrFeMnNi", "CrMnFeCoNiN0.1", "NbMoTaW", "AlNd", "Fe", "MoW", "Al0.5CoCrFeNi",
                "CoCrFeNiN0.2", "AlNdNi", "HfNbTaTiZr", "Nd2Al", "CoCrFeMnNi"]
    batch = CompositionBatch.from_formulas(formulas)
    for names in (list(DEFAULT_DESCRIPTORS), ["VEC", "delta", "dH_mix"], ["VEC", "Lambda"]):
        mask, reasons = supported_rows(batch, names)
        np.testing.assert_array_equal(mask, [_featurizes(f, names) for f in formulas])
    # the default descriptors: N lacks a bulk modulus, Nd an Allen electronegativity; Lambda is
    # +inf for the pure element and the equal-radius pair MoW
    mask, reasons = supported_rows(batch)
    assert list(np.flatnonzero(~mask)) == [1, 3, 4, 5, 7, 8, 10]
    # one reason per unsupported chemical system (elements in the batch's order) + the count
    assert reasons == ["2 rows with non-finite descriptors", "AlNd", "AlNiNd", "NCrFeCoNi", "NCrMnFeCoNi"]


def test_cli_named_dataset(shared_data, tmp_path, capsys):
    """`fit singh2023`: one row per composition with a consistent label, unsupported alloys
    dropped, counted independently from the loader's frame."""
    from hea_fast import datasets

    names = ["VEC", "chi_allen_mean"]
    mdir = tmp_path / "m"
    assert main(["mixture", "fit", "singh2023", "--descriptors", ",".join(names), "--max-size", "1",
                 "--n-draws", "20", *FAST, "-o", str(mdir)]) == 0
    summary = json.loads(capsys.readouterr().out)
    df = datasets.load_singh2023()
    df = df[df["parse_error"] == ""]
    n_labels = df.groupby("composition_id")["single_phase"].nunique()
    first = df.drop_duplicates("composition_id")
    first = first[first["composition_id"].map(n_labels).to_numpy() == 1]
    ok = np.array([_featurizes(f, names) for f in first["formula"]])
    assert summary["n"] == int(ok.sum()) and summary["source"] == "hea_fast.datasets.load_singh2023"
    m = SparseMixtureClassifier.load(mdir)
    assert int(m.cluster_sizes_.sum()) == int(ok.sum())
    assert m.cluster_positive_.sum() == pytest.approx(first["single_phase"].to_numpy()[ok].sum())
    # the ranking of `search` on the same data has one row per descriptor
    rk = tmp_path / "rank.csv"
    assert main(["mixture", "search", "singh2023", "--descriptors", ",".join(names), "--max-size", "1",
                 *FAST, "-o", str(rk)]) == 0
    assert sorted(pd.read_csv(rk)["subset"]) == sorted(names)


def test_cli_fit_skips_and_reports_unusable_rows_and_screen_counts_them(tmp_path, capsys):
    """Training rows that cannot be used (unreadable formula, empty cell, missing label) are left out
    and reported by line; `mixture screen` scores the rest and counts the unscored rows."""
    rows = TINY + [("nbmotaw", 1), ("", 0), ("CoCrFeNi", None)]
    train = tmp_path / "train.csv"
    pd.DataFrame(rows, columns=["Alloy", "single"]).to_csv(train, index=False)
    mdir, bad = tmp_path / "model", tmp_path / "bad.csv"
    assert main(["mixture", "fit", str(train), "--label-column", "single", "--descriptors", "VEC,delta",
                 "--max-size", "1", "--n-draws", "20", *FAST, "--errors-out", str(bad), "-o", str(mdir)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == len(TINY)
    assert "3 of 27 rows" in captured.err
    b = pd.read_csv(bad, keep_default_na=False)
    assert list(b["line"]) == [26, 27, 28] and b["error"][1] == "empty formula cell" and "label" in b["error"][2]
    assert main(["mixture", "fit", str(train), "--label-column", "single", "--descriptors", "VEC", "--max-size", "1",
                 *FAST, "--errors", "raise", "-o", str(tmp_path / "m2")]) == 2
    assert "line 26" in capsys.readouterr().err and not (tmp_path / "m2").exists()
    assert main(["mixture", "screen", str(train), "--model", str(mdir), "--threshold", "0.5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_total"] == 27 and report["n_unscored"] == 2  # the lower-case and the empty formula


def test_predict_in_chunks_equals_one_chunk(tmp_path):
    """mixture predict reads, scores and writes --chunk-size rows at a time: chunks of 2 rows with bad rows
    between them (unparsable, empty, a pure element's infinite Lambda) give the file of one chunk, in every
    --errors mode and both formats, with the same bad-row list; an empty table gives every output column."""
    alloys = ["CoCrFeNi", "cocrfeni", "HfNbTaTiZr", "Fe", "", "MoNbTaW", "Al0.5CoCrFeNi", "NbMoTaWV", "Nd20Fe80"]
    inp = tmp_path / "in.csv"
    pd.DataFrame({"alloy": alloys, "k": range(len(alloys))}).to_csv(inp, index=False)
    for mode in ("keep", "skip"):
        for ext in ("csv", "parquet"):
            outs = []
            for size in ("100000", "2"):
                out, err = tmp_path / f"o{size}_{mode}.{ext}", tmp_path / f"e{size}_{mode}{ext}.csv"
                assert main(["mixture", "predict", str(inp), "--errors", mode, "--errors-out", str(err),
                             "--chunk-size", size, "-o", str(out)]) == 0
                outs.append(((pd.read_csv if ext == "csv" else pd.read_parquet)(out), err.read_bytes(), out))
            (a, ea, pa), (b, eb, pb) = outs
            pd.testing.assert_frame_equal(a, b)
            assert ea == eb and pd.read_csv(pa.with_name(f"e100000_{mode}{ext}.csv"))["line"].tolist() == [3, 5, 6, 10]
            if ext == "csv":
                assert pa.read_bytes() == pb.read_bytes()
            assert a["k"].tolist() == [k for k in range(len(alloys)) if mode == "keep" or k not in (1, 3, 4, 8)]
    assert main(["mixture", "predict", str(inp), "--errors", "raise", "--chunk-size", "2",
                 "-o", str(tmp_path / "r.csv")]) == 2
    assert not (tmp_path / "r.csv").exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("alloy,k\n", encoding="utf-8")
    assert main(["mixture", "predict", str(empty), "-o", str(tmp_path / "e.csv")]) == 0
    cols = list(pd.read_csv(tmp_path / "e.csv").columns)
    assert cols[:3] == ["alloy", "k", "p_single"] and cols[-1] == "error"


def test_screen_enrichment_leaves_unlabelled_rows_out(tmp_path, capsys):
    """A float label column with an empty cell (pandas reads 1.0/0.0/NaN): the enrichment is over
    the labelled rows, counted by hand from `mixture predict`'s p_single (it used to read every
    label as 0: base rate 0)."""
    table = pd.DataFrame(TINY, columns=["alloy", "single"])
    table["single"] = table["single"].astype(float)
    table.loc[[3, 10], "single"] = np.nan
    path, pred_path = tmp_path / "t.csv", tmp_path / "p.csv"
    table.to_csv(path, index=False)
    assert main(["mixture", "predict", str(path), "-o", str(pred_path)]) == 0
    pred = pd.read_csv(pred_path)
    capsys.readouterr()
    assert main(["mixture", "screen", str(path), "--label-column", "single", "--threshold", "0.5",
                 "--n-boot", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    lab = pred[pred["single"].notna()]
    passed = lab[lab["p_single"] >= 0.5]
    assert report["n_unlabelled"] == 2 and report["n_total"] == len(lab) == len(TINY) - 2
    assert report["n_pass"] == len(passed) and report["n_pass_positive"] == int(passed["single"].sum())
    assert report["base_rate"] == pytest.approx(lab["single"].mean())
    assert report["enrichment"] == pytest.approx(passed["single"].mean() / lab["single"].mean())


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def test_screen_report_is_strict_json(tmp_path, capsys):
    """No single-phase alloy among the labels: precision and enrichment are undefined and printed as
    null, so jq and JavaScript read the report (Python's json wrote a bare NaN)."""
    table = pd.DataFrame(TINY, columns=["alloy", "single"])
    table["single"] = 0
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    assert main(["mixture", "screen", str(path), "--label-column", "single", "--threshold", "0.5",
                 "--n-boot", "20"]) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=_no_constants)
    assert report["base_rate"] == 0 and report["enrichment"] is None


def test_n_iter_counts_iterations_after_the_burn_in(tmp_path, capsys):
    """--n-iter is the number of iterations kept after --burn-in (as in hea_fast.mixture.wbic): a
    burn-in longer than it is valid, and the ranking's n_iter column is --n-iter; --help says so."""
    train = tmp_path / "train.csv"
    pd.DataFrame(TINY, columns=["alloy", "single"]).to_csv(train, index=False)
    rk = tmp_path / "rank.csv"
    assert main(["mixture", "search", str(train), "--label-column", "single", "--descriptors", "VEC,delta",
                 "--max-size", "1", "--n-iter", "12", "--burn-in", "30", "--n-chains", "2", "--no-progress",
                 "-o", str(rk)]) == 0
    assert (pd.read_csv(rk)["n_iter"] == 12).all()
    for bad in (["--n-iter", "5"], ["--burn-in", "-1"]):
        assert main(["mixture", "search", str(train), "--label-column", "single", "--descriptors", "VEC",
                     "--max-size", "1", "--no-progress", *bad]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["mixture", "search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "incl. burn-in" not in text and "kept after the burn-in" in text
    assert "k-means" not in text and "lowest mixture WBIC" in text


def test_screen_in_chunks_equals_the_whole_table(tmp_path, capsys):
    """`mixture screen --chunk-size 3` streams the table (flat memory): the same report (counts, enrichment
    and its bootstrap interval) and the same passing rows as one chunk, with bad and unlabelled rows mixed in."""
    table = pd.DataFrame(TINY, columns=["alloy", "single"])
    table["single"] = table["single"].astype(float)
    table.loc[[2, 9], "single"] = np.nan
    table.loc[5, "alloy"] = "CoCrXx"  # an unknown element: unscored, kept with its reason
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    outs, reports = [], []
    for size in ("3", "100000"):
        out = tmp_path / f"pass_{size}.parquet"
        capsys.readouterr()
        assert main(["mixture", "screen", str(path), "--label-column", "single", "--threshold", "0.5",
                     "--n-boot", "300", "--chunk-size", size, "-o", str(out)]) == 0
        reports.append(json.loads(capsys.readouterr().out))
        outs.append(pd.read_parquet(out))
    assert reports[0] == {**reports[1], "output": reports[0]["output"]}
    assert reports[0]["n_unscored"] == 1 and reports[0]["n_unlabelled"] == 2
    pd.testing.assert_frame_equal(outs[0], outs[1])
    pred = tmp_path / "p.csv"
    assert main(["mixture", "predict", str(path), "-o", str(pred)]) == 0
    hand = pd.read_csv(pred)
    assert list(outs[0]["alloy"]) == list(hand.loc[hand["p_single"] >= 0.5, "alloy"])
    assert "error" not in outs[0].columns
    # --errors skip leaves the bad row out of n_total; raise stops before writing anything
    capsys.readouterr()
    assert main(["mixture", "screen", str(path), "--threshold", "0.5", "--chunk-size", "4", "--errors", "skip"]) == 0
    assert json.loads(capsys.readouterr().out)["n_total"] == len(TINY) - 1
    assert main(["mixture", "screen", str(path), "--threshold", "0.5", "--chunk-size", "4", "--errors", "raise",
                 "-o", str(tmp_path / "never.csv")]) == 2
    assert not (tmp_path / "never.csv").exists()
